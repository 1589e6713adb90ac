"""Attack: add-item's 409 goes out with the status line "HTTP/1.1 409 Unknown":
reply_status_text (src/response.c) has no entry for 409, which add_thread_item
now returns for a different document under an existing id."""

import tshelpers as th
from tshelpers import q, raw_request, thread_doc, user_message


def test_409_has_its_reason_phrase(raw, make_token, user_id, api):
    tid = "thr_c0nf1ct0"
    api.save_thread(thread_doc(tid))
    api.add_item(user_message(tid, "msg_c0nf1ct0", text="first"))
    c = raw()
    c.send(raw_request("POST", "/v1/threads/%s/items" % q(tid), token=make_token(user_id),
                       body=user_message(tid, "msg_c0nf1ct0", text="second")))
    head = c._read_until(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 409"), status_line
    assert status_line == b"HTTP/1.1 409 Conflict", status_line
