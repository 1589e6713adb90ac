"""GET /v1/search: PostgreSQL full-text search over the caller's thread titles
and the text of user and assistant messages."""

import pytest

import tshelpers as th
from tshelpers import assistant_message, q, thread_doc, user_message


def search(api, expect=200, **params):
    r = api.get("/v1/search" + th.qs(params))
    assert r.status == expect, r
    if expect == 200:
        th.check_page_shape(dict(r.json, data=[]) if not r.json["has_more"] else
                            dict(r.json, data=[{"id": r.json["after"]}]))
        for hit in r.json["data"]:
            assert set(hit) == {"thread_id", "item_id", "snippet", "rank", "created_at"}, hit
            assert isinstance(hit["rank"], (int, float)) and hit["rank"] > 0
    return r.json


def where(page):
    return [(h["thread_id"], h["item_id"]) for h in page["data"]]


def tool_call(thread_id, text):
    return {"id": th.new_id("tc"), "thread_id": thread_id, "created_at": "2025-06-01T12:00:03Z",
            "type": "client_tool_call", "status": "completed", "call_id": "c1",
            "name": "lookup", "arguments": {"city": text}, "output": {"text": text}}


def widget(thread_id, text):
    return {"id": th.new_id("w"), "thread_id": thread_id, "created_at": "2025-06-01T12:00:04Z",
            "type": "widget", "widget": {"type": "Card", "children": [{"type": "Text",
                                                                       "value": text}]}}


@pytest.fixture
def trip(api):
    t = thread_doc(title="Trip to Lisbon")
    api.save_thread(t)
    u = user_message(t["id"], text="Flights to Lisbon next week?")
    a = assistant_message(t["id"], text="Here are three options for flights, all via Madrid.")
    api.add_item(u)
    api.add_item(a)
    api.add_item(tool_call(t["id"], "Lisbon Madrid"))
    api.add_item(widget(t["id"], "Lisbon Madrid"))
    return t, u, a


def test_titles_and_message_text_only(api, trip):
    t, u, a = trip
    got = search(api, q="lisbon")
    assert sorted(where(got), key=str) == sorted([(t["id"], None), (t["id"], u["id"])], key=str)
    assert where(search(api, q="madrid")) == [(t["id"], a["id"])]  # not the tool call/widget
    hit = search(api, q="madrid")["data"][0]
    assert "<mark>Madrid</mark>" in hit["snippet"]
    assert hit["created_at"] == "2025-06-01T12:00:02.500000Z"
    title_hit = [h for h in got["data"] if h["item_id"] is None][0]
    assert title_hit["snippet"] == "Trip to <mark>Lisbon</mark>"


def test_websearch_syntax(api, trip):
    t, u, a = trip
    assert where(search(api, q='"three options"')) == [(t["id"], a["id"])]
    assert where(search(api, q='"options three"')) == []
    assert set(where(search(api, q="madrid or week"))) == {(t["id"], a["id"]), (t["id"], u["id"])}
    assert where(search(api, q="flights -madrid")) == [(t["id"], u["id"])]
    assert where(search(api, q="the")) == []  # no such word stored ('simple': no stop words)
    assert search(api, q="!!! ...")["data"] == []  # no lexemes at all: no hits, no error


def test_thread_id_limits_the_search(api, trip):
    t, u, a = trip
    t2 = thread_doc(title="Lisbon again")
    api.save_thread(t2)
    assert len(search(api, q="lisbon")["data"]) == 3
    assert where(search(api, q="lisbon", thread_id=t2["id"])) == [(t2["id"], None)]
    assert len(search(api, q="lisbon", thread_id=t["id"])["data"]) == 2
    assert search(api, q="lisbon", thread_id="nope")["data"] == []


def test_best_first_and_paging_without_skips_or_repeats(api):
    t = thread_doc(title="x")
    api.save_thread(t)
    for i in range(12):  # equal ranks for most: the cursor must still be exact
        text = "kiwi " * (1 + (i % 3)) + "filler%d" % i
        api.add_item(user_message(t["id"], text=text))
    full = search(api, q="kiwi", limit=100)["data"]
    ranks = [h["rank"] for h in full]
    assert len(full) == 12 and ranks == sorted(ranks, reverse=True) and ranks[0] > ranks[-1]
    seen, after = [], None
    for _ in range(20):
        params = {"q": "kiwi", "limit": 5}
        if after:
            params["after"] = after
        p = search(api, **params)
        seen += p["data"]
        if not p["has_more"]:
            break
        after = p["after"]
    assert [h["item_id"] for h in seen] == [h["item_id"] for h in full]


def test_index_follows_writes(api, trip):
    t, u, a = trip
    api.save_item(dict(u, content=[{"type": "input_text", "text": "Trains to Porto?"}]))
    assert where(search(api, q="porto")) == [(t["id"], u["id"])]
    assert where(search(api, q="week")) == []
    api.save_thread(dict(t, title="Trip to Porto"))
    assert len(search(api, q="porto")["data"]) == 2
    assert api.delete("/v1/threads/%s/items/%s" % (q(t["id"]), q(u["id"]))).status == 204
    assert where(search(api, q="porto")) == [(t["id"], None)]
    assert api.delete("/v1/threads/" + q(t["id"])).status == 204
    assert search(api, q="porto OR madrid")["data"] == []


def test_only_the_callers_data(api, other_api, trip):
    t, u, a = trip
    assert search(other_api, q="lisbon")["data"] == []
    assert search(other_api, q="lisbon", thread_id=t["id"])["data"] == []
    other_api.save_thread(thread_doc(t["id"], title="Lisbon is mine too"))
    assert where(search(other_api, q="lisbon")) == [(t["id"], None)]
    assert len(search(api, q="lisbon")["data"]) == 2


@pytest.mark.parametrize("query", [
    "", "q=", "q=x&limit=0", "q=x&limit=101", "q=x&after=nope", "q=x&after=1:x",
    "q=x&after=nan:1", "q=%ff", "q=a%00b", "q=x&thread_id=", "q=" + "a" * 1001,
    "q=x&thread_id=" + "t" * 256,
])
def test_bad_parameters(api, query):
    th.check_error(api.get("/v1/search?" + query), 400, "bad_request")


def test_documents_jsonb_refuses_are_stored_not_indexed(api):
    t = thread_doc(title="nul \u0000 title")
    api.save_thread(t)
    it = user_message(t["id"], text="pomegranate \u0000")
    api.add_item(it)
    assert api.get("/v1/threads/%s/items/%s" % (q(t["id"]), q(it["id"]))).json == it
    assert search(api, q="pomegranate")["data"] == []


def test_snippets_are_bounded(api):
    t = thread_doc(title="long")
    api.save_thread(t)
    long_word = "z" * 5000
    api.add_item(user_message(t["id"], text="apricot " + long_word + " apricot " + "word " * 3000))
    hit = search(api, q="apricot")["data"][0]
    assert len(hit["snippet"]) <= 600 and "<mark>apricot</mark>" in hit["snippet"]


def test_a_message_over_the_tsvector_limit_is_stored(start_server, make_token):
    srv = start_server(["--max-body", str(8 << 20)])
    api = srv.client(make_token("big-" + th.new_id("u")))
    try:
        t = thread_doc(title="big")
        api.save_thread(t)
        words = " ".join("w%07d" % i for i in range(375000))  # 3 MB of distinct words
        it = user_message(t["id"], text="firstword " + words + " lastword")
        assert len(it["content"][0]["text"]) > 3_000_000
        api.add_item(it)
        assert api.get("/v1/threads/%s/items/%s" % (q(t["id"]), q(it["id"]))).json == it
        assert where(search(api, q="firstword")) == [(t["id"], it["id"])]
        assert where(search(api, q="w0001000")) == [(t["id"], it["id"])]
        # What did not fit in PostgreSQL's 1 MB tsvector is not indexed.
        assert search(api, q="lastword")["data"] == []
    finally:
        api.close()


def test_search_language(start_server, make_token):
    srv = start_server(["--search-language", "english"])
    api = srv.client(make_token("en-" + th.new_id("u")))
    try:
        t = thread_doc(title="x")
        api.save_thread(t)
        it = user_message(t["id"], text="She was running between flights")
        api.add_item(it)
        assert where(search(api, q="run flight")) == [(t["id"], it["id"])]
    finally:
        api.close()


def test_simple_is_the_default_configuration(api):
    t = thread_doc(title="x")
    api.save_thread(t)
    it = user_message(t["id"], text="She was running between flights")
    api.add_item(it)
    assert where(search(api, q="flights")) == [(t["id"], it["id"])]
    assert search(api, q="flight")["data"] == []  # no stemming: exact words, any language
    it2 = user_message(t["id"], text="Wir fliegen nächste Woche nach Lissabon")
    api.add_item(it2)
    assert where(search(api, q="nächste")) == [(t["id"], it2["id"])]


def test_bad_search_language_flag(start_server):
    import subprocess

    out = subprocess.run([th.binary_path(), "serve", "--search-language", "Eng lish"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode != 0 and "--search-language" in out.stderr
