"""Attack: the admin token file and the Authorization header disagreed on
white space. The header's token was trimmed of spaces on both sides but not of
tabs (HTTP's OWS is both: "Bearer tok<TAB>" was 403); a file line was trimmed
at its end only, so a token written "  tok" could never match anything, and a
token of the full 4096 bytes saved with CRLF line ends was refused at start as
"a token over 4096 bytes". Both sides now trim spaces and tabs around a token,
and the bound counts the token, not its line end."""

import pytest

import tshelpers as th
from tshelpers import RawConn


def admin_status(srv, authz):
    c = RawConn(srv.host, srv.port)
    try:
        c.send(("GET /admin/v1/changes?limit=1 HTTP/1.1\r\nHost: t\r\n"
                "Authorization: %s\r\n\r\n" % authz).encode())
        status, _, _, _ = c.read_response()
        return status
    finally:
        c.close()


def test_white_space_around_a_token_is_not_part_of_it(start_server, tmp_path):
    f = tmp_path / "admin-tokens"
    f.write_bytes(b"  \t lead-token \t\r\n\r\nplain-token\n")
    srv = start_server(["--pool-size", "2", "--admin-token-file", str(f)])
    assert admin_status(srv, "Bearer lead-token") == 200
    assert admin_status(srv, "Bearer plain-token\t") == 200
    assert admin_status(srv, "Bearer \tplain-token") == 200
    assert admin_status(srv, "Bearer plain-tokenx") == 403
    assert admin_status(srv, "Bearer plain token") == 403


def test_the_longest_token_with_crlf_loads(start_server, tmp_path):
    tok = "k" * 4096
    f = tmp_path / "admin-tokens"
    f.write_bytes(tok.encode() + b"\r\n")
    srv = start_server(["--pool-size", "2", "--admin-token-file", str(f)])
    assert admin_status(srv, "Bearer " + tok) == 200
    assert admin_status(srv, "Bearer " + tok[:-1]) == 403


@pytest.mark.parametrize("line", [b"k" * 4097 + b"\n", b"k" * 4097 + b"\r\n", b"k" * 5000])
def test_a_token_over_4096_bytes_is_refused_at_start(jwt_secret, log_dir, tmp_path, line):
    f = tmp_path / "admin-tokens"
    f.write_bytes(line)
    srv = th.ServerProcess(th.binary_path(), th.database_url(), jwt_secret,
                           extra_args=["--admin-token-file", str(f)], log_dir=log_dir,
                           name="admin-long")
    with pytest.raises(RuntimeError):
        srv.start()
    srv.kill()
    assert "a token over 4096 bytes" in srv.log_text()
