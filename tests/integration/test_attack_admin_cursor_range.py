"""Attack: an admin feed cursor whose decimal fields are past their columns'
range (xid8: unsigned 64 bits; n: bigint) passed the cursor check (up to 20
digits) and reached PostgreSQL, which refused the cast: 500 "the database
rejected the request" for bad client input. Such a cursor is not one of ours:
400 bad_request, and the database is never asked."""

import json

import pytest

from tshelpers import RawConn

ADMIN = "adm-range-token"


@pytest.mark.parametrize("cursor", [
    "99999999999999999999.1.",          # xid past 2^64 - 1
    "18446744073709551616.1.",          # xid = 2^64
    "1.9223372036854775808.",           # n = 2^63, past bigint
    "1.99999999999999999999.75",        # n past everything, with a user
])
def test_admin_cursor_out_of_range_is_400(start_server, tmp_path, cursor):
    f = tmp_path / "admin-tokens"
    f.write_text(ADMIN + "\n")
    srv = start_server(["--pool-size", "2", "--admin-token-file", str(f)])
    c = RawConn(srv.host, srv.port)
    try:
        c.send(("GET /admin/v1/changes?after=%s HTTP/1.1\r\nHost: t\r\n"
                "Authorization: Bearer %s\r\n\r\n" % (cursor, ADMIN)).encode())
        status, _, _, body = c.read_response()
        assert status == 400, (status, body)
        assert json.loads(body)["error"]["code"] == "bad_request"
        # the largest values in range are still ours (and answered)
        c.send(("GET /admin/v1/changes?after=18446744073709551615.9223372036854775807. "
                "HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n\r\n" % ADMIN).encode())
        status, _, _, body = c.read_response()
        assert status == 200, (status, body)
    finally:
        c.close()
