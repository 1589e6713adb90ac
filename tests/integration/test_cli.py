"""The command line: --help, --version, dev-token, migrate, bad flags."""

import subprocess

import pytest

from tshelpers import TIMEOUT, binary_path, database_url, psql, psql_path, thread_doc


def run(*args, env=None):
    return subprocess.run([binary_path(), *args], capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL, env=env)


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0
    out = r.stdout + r.stderr
    for flag in ("--listen", "--database-url", "--pool-size", "--jwt-secret", "--max-body"):
        assert flag in out, flag
    r = run("--version")
    assert r.returncode == 0
    assert "threadstore" in (r.stdout + r.stderr)


def test_unknown_flag_fails():
    r = run("--no-such-flag")
    assert r.returncode != 0
    assert "--no-such-flag" in r.stderr


def test_migrate_is_idempotent():
    # The session server already applied the migrations; applying again is a no-op.
    r = run("migrate", "--database-url", database_url())
    assert r.returncode == 0, r.stderr
    r = run("migrate", "--database-url", database_url())
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(psql_path() is None, reason="psql not installed")
def test_migrate_citus_needs_the_extension():
    # On plain PostgreSQL the distribution step refuses clearly and changes nothing; on a
    # Citus coordinator (test_citus.py runs this module there) it is idempotent.
    citus = psql(database_url(), "SELECT 1 FROM pg_extension WHERE extname = 'citus'")
    r = run("migrate", "--citus", "--database-url", database_url())
    if citus:
        assert r.returncode == 0, r.stderr
        return
    assert r.returncode == 1, r.stderr
    assert "no citus extension" in r.stderr, r.stderr
    r = run("migrate", "--database-url", database_url())
    assert r.returncode == 0, r.stderr


def test_dev_token_is_accepted_and_names_the_user(server, jwt_secret, make_token, user_id):
    r = run("dev-token", "--sub", user_id, "--jwt-secret", jwt_secret)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.count(".") == 2
    mine = server.client(make_token(user_id))
    dev = server.client(token)
    try:
        doc = thread_doc()
        mine.save_thread(doc)
        assert dev.get("/v1/threads/" + doc["id"]).json == doc
    finally:
        mine.close()
        dev.close()
    # Signed with another secret: rejected.
    r = run("dev-token", "--sub", user_id, "--jwt-secret", "another-secret-of-enough-length")
    assert r.returncode == 0, r.stderr
    other = server.client(r.stdout.strip())
    try:
        assert other.get("/v1/threads").status == 401
    finally:
        other.close()
