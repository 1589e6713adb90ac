"""Integration harness: the real threadstore binary against a real PostgreSQL.

Environment:
  THREADSTORE_BIN  path to the binary (default: build/threadstore in the repo)
  DATABASE_URL     a running PostgreSQL whose database exists; the binary
                   applies the migrations when it starts.

One server is started for the whole session (pool size 2); tests isolate
themselves by using a fresh user id (JWT `sub`) each. Tests that need other
flags start their own instance with `start_server`.
"""

import secrets
import uuid

import pytest

import tshelpers as th

_binary = th.binary_path
_database_url = th.database_url


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("logs"))


@pytest.fixture(scope="session")
def jwt_secret():
    return secrets.token_hex(32)


@pytest.fixture(scope="session")
def server(jwt_secret, log_dir):
    srv = th.ServerProcess(_binary(), _database_url(), jwt_secret,
                           extra_args=["--pool-size", "2"], log_dir=log_dir,
                           name="main")
    srv.start()
    yield srv
    srv.stop_and_check()


@pytest.fixture(scope="session")
def make_token(jwt_secret):
    """make_token(sub, ttl=3600, exp=None, no_exp=False, **extra_claims)"""
    return th.TokenFactory(jwt_secret)


@pytest.fixture
def user_id():
    return "user-" + uuid.uuid4().hex


@pytest.fixture
def client_for(server, make_token):
    """client_for(sub) -> Client authenticated as `sub` (keep-alive)."""
    made = []

    def make(sub):
        c = server.client(make_token(sub))
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def api(client_for, user_id):
    """A client for this test's own fresh user."""
    return client_for(user_id)


@pytest.fixture
def other_api(client_for):
    """A client for a second, unrelated user."""
    return client_for("user-" + uuid.uuid4().hex)


@pytest.fixture
def anon(server):
    """A client that sends no Authorization header."""
    c = server.client(None)
    yield c
    c.close()


@pytest.fixture
def raw(server):
    """A raw TCP connection to the session server."""
    conns = []

    def make():
        c = server.raw()
        conns.append(c)
        return c

    yield make
    for c in conns:
        c.close()


@pytest.fixture
def start_server(jwt_secret, log_dir):
    """start_server(extra_args, database_url=None, wait_ready=True,
    allow_error=None, env=None) -> a started ServerProcess with its own
    flags; stopped and checked (exit 0, clean log) at the end of the test."""
    started = []

    def start(extra_args=(), database_url=None, wait_ready=True, allow_error=None,
              env=None):
        # A server given another database URL (a proxy, a pooler, a dead
        # address: tests of the pool) keeps its change feed's LISTEN on the
        # real database, as deployed (docs/API.md: a direct URL for it).
        if database_url and "--listen-database-url" not in extra_args:
            extra_args = list(extra_args) + ["--listen-database-url", _database_url()]
        srv = th.ServerProcess(_binary(), database_url or _database_url(), jwt_secret,
                               extra_args=extra_args, env=env, log_dir=log_dir,
                               name="extra")
        started.append((srv, allow_error))
        srv.start(wait_ready=wait_ready)
        return srv

    yield start
    th.stop_all_and_check(started)
