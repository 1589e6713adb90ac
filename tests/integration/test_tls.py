"""TLS to PostgreSQL with sslmode=verify-full: a CA and a server certificate
made here, PostgreSQL with ssl=on, and the service verifying the server's
certificate and name through libpq's nonblocking handshake."""

import os
import shutil
import subprocess
import uuid

import pytest

from test_faults import Cluster, PG_BIN
from tshelpers import thread_doc, wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None or not os.path.exists(PG_BIN + "/initdb"),
    reason="openssl or PostgreSQL server not installed")


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=" + name, "-keyout", name + ".key", "-out", name + ".crt", cwd=d)


@pytest.fixture
def tls_cluster():
    c = Cluster()
    d = c.dir
    make_ca(d, "ca")
    make_ca(d, "otherca")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt", cwd=d)
    os.chmod(os.path.join(d, "server.key"), 0o600)
    if c.root:
        for n in os.listdir(d):
            if n.startswith("server."):
                shutil.chown(os.path.join(d, n), "postgres", "postgres")
    c.start("-c ssl=on -c ssl_cert_file=%s/server.crt -c ssl_key_file=%s/server.key"
            % (d, d))
    yield c
    c.destroy()


def url(c, host, ca):
    return ("postgresql://postgres@%s:%d/postgres?sslmode=verify-full&sslrootcert=%s/%s"
            % (host, c.port, c.dir, ca))


def test_verify_full_connects_and_serves(tls_cluster, start_server, make_token):
    srv = start_server(["--pool-size", "2"], database_url=url(tls_cluster, "localhost", "ca.crt"))
    c = srv.client(make_token("user-" + uuid.uuid4().hex))
    t = thread_doc()
    assert c.put("/v1/threads/" + t["id"], t).status == 204
    assert c.get("/v1/threads/" + t["id"]).status == 200
    c.close()
    # the server really saw TLS connections from us
    rows = subprocess.run(
        ["psql", url(tls_cluster, "localhost", "ca.crt"), "-Atc",
         "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
         "WHERE a.application_name = 'threadstore' AND s.ssl"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert int(rows) == 2


def test_verify_full_rejects_an_unknown_ca(tls_cluster, start_server):
    srv = start_server(["--pool-size", "1", "--no-migrate"],
                       database_url=url(tls_cluster, "localhost", "otherca.crt"),
                       wait_ready=False)
    wait_for(lambda: "certificate verify failed" in srv.log_text(), timeout=10,
             what="the certificate to be refused")
    assert srv.client(None).get("/readyz").status == 503


def test_verify_full_rejects_a_wrong_host_name(tls_cluster, start_server):
    # connect to 127.0.0.1, but expect a name the certificate does not carry
    c = tls_cluster
    conninfo = ("host=db.example.com hostaddr=127.0.0.1 port=%d user=postgres dbname=postgres "
                "sslmode=verify-full sslrootcert=%s/ca.crt" % (c.port, c.dir))
    srv = start_server(["--pool-size", "1", "--no-migrate"], database_url=conninfo,
                       wait_ready=False)
    wait_for(lambda: "does not match host name" in srv.log_text()
             or "server certificate for" in srv.log_text(), timeout=10,
             what="the host name to be refused")
    assert srv.client(None).get("/readyz").status == 503
