"""Attack: `limit` and `items` are read with strtol on the percent-decoded
value, and the check is `*end == '\0'`: a decoded NUL ends the number early,
so "limit=5%00junk" is taken as 5; strtol also skips leading white space and
takes a sign ("limit=%205", "limit=+5"). Bad input must get a clear 400, not a
guess (src/page.c page_params, src/handlers_threads.c handle_thread_get)."""

import pytest

from tshelpers import check_error, q, thread_doc


@pytest.mark.parametrize("value", ["5%00junk", "5%00", "%205", "+5", "%0A5"])
def test_limit_that_is_not_digits_is_400(api, value):
    check_error(api.get("/v1/threads?limit=" + value), 400, "bad_request")


@pytest.mark.parametrize("value", ["5%00junk", "%205", "+5"])
def test_items_that_is_not_digits_is_400(api, value):
    tid = "thr_qn000000"
    api.save_thread(thread_doc(tid))
    check_error(api.get("/v1/threads/%s?items=%s" % (q(tid), value)), 400, "bad_request")
