"""The search index's keys (sql/015): each lexeme prefixed with 8 hex digits of
md5(user_id), and the query mapped the same way (threadstore_search_query).
The mapping is checked in SQL against the database the session server
migrated; isolation between two users whose prefixes are equal is checked
through the API with two such users (found by brute force: 32 bits)."""

import hashlib
import itertools

import pytest

import tshelpers as th
from tshelpers import thread_doc, user_message

needs_psql = pytest.mark.skipif(th.psql_path() is None, reason="psql not installed")


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def prefix(user):
    return hashlib.md5(user.encode()).hexdigest()[:8]


def sql(query):
    return th.psql(th.database_url(), query)


def mapped(user, q):
    return sql("SELECT threadstore_search_query(%s, %s::tsquery)::text" % (lit(user), lit(q)))


@needs_psql
@pytest.mark.parametrize("q, want", [
    ("'apple'", "'Papple'"),
    ("'it''s' & 'a\\\\b'", "'Pit''s' & 'Pa\\\\b'"),
    ("'foo' <-> 'bar' | 'baz':*", "'Pfoo' <-> 'Pbar' | 'Pbaz':*"),
    ("'foo' <2> 'bar' & 'x':*AB", "'Pfoo' <2> 'Pbar' & 'Px':*AB"),
    ("'foo' & !'bar'", "'Pfoo' & !'Pbar'"),
    # no positive word: the user's marker bounds it to the user's rows
    ("!'bar'", "'P' & !'Pbar'"),
    ("'foo' | !'bar'", "'P' & ( 'Pfoo' | !'Pbar' )"),
    ("!( 'a' <-> 'b' )", "'P' & !( 'Pa' <-> 'Pb' )"),
])
def test_query_mapping(api, q, want):
    """Operands prefixed ('P: the prefix), escapes, flags and operators kept."""
    user = "mapping-user"
    assert mapped(user, q) == [[want.replace("'P", "'" + prefix(user))]]


@needs_psql
def test_empty_and_stop_word_queries_stay_empty(api):
    rows = sql("SELECT threadstore_search_query('u', websearch_to_tsquery('english', 'the'))::text,"
               " numnode(threadstore_search_query('u', ''::tsquery))")
    assert rows == [["", "0"]]


@needs_psql
def test_keys_match_whenever_the_tsvector_does(api):
    """For every text and query: tsv @@ q implies keys @@ mapped q (the
    index finds every row the statement's exact test accepts), and another
    user's mapping of q never matches beyond the marker."""
    texts = ["it's a \\ back'slash", "three options for flights", "three x options",
             "apple banana", "", "!!!", "zeta " + "é" * 700, "w" * 600 + " tail"]
    queries = ["\"three options\"", "-three", "apple or -banana", "it's", "a\\", "-zzz",
               "\"options three\"", "tail -apple"]
    cases = " UNION ALL ".join(
        "SELECT %s::text AS t, websearch_to_tsquery('simple', %s) AS q" % (lit(t), lit(q))
        for t, q in itertools.product(texts, queries))
    cases += " UNION ALL SELECT 'zeta ' || repeat('é', 700), (quote_literal(repeat('é', 600))"
    cases += " || ':*')::tsquery UNION ALL SELECT repeat('w', 600), quote_literal(repeat('w', 600))::tsquery"
    rows = sql("SELECT t, q::text, tsv @@ q, threadstore_search_keys('me', tsv)"
               " @@ threadstore_search_query('me', q),"
               " threadstore_search_keys('me', tsv) @@ threadstore_search_query('other', q)"
               " FROM (SELECT t, q, to_tsvector('simple', t) AS tsv FROM (" + cases + ") c) x")
    assert len(rows) == len(texts) * len(queries) + 2
    matched = 0
    for t, q, exact, keys, other in rows:
        if exact == "t":
            matched += 1
            assert keys == "t", (t, q)
        if numnode_positive(q):
            assert other == "f", (t, q)
    assert matched > 10
    long_rows = rows[-2:]
    assert [r[2:4] for r in long_rows] == [["t", "t"], ["t", "t"]], long_rows


def numnode_positive(q):
    return q != "" and "!" not in q


@needs_psql
def test_keys_of_a_tsvector_near_its_limit(api):
    """A tsv near 1 MB (short words: the prefixes would pass PostgreSQL's
    1 MB of lexemes) keeps the keys of its first words and never fails."""
    rows = sql("SELECT length(k) > 10000, k @@ threadstore_search_query('u', '1'),"
               " k @@ threadstore_search_query('u', '120000'), length(t)"
               " FROM (SELECT t, threadstore_search_keys('u', t) AS k FROM (SELECT"
               " threadstore_tsvector('simple', string_agg(i::text, ' ' ORDER BY i)) AS t"
               " FROM generate_series(1, 400000) i) a) b")
    assert rows[0][:3] == ["t", "t", "f"], rows
    assert int(rows[0][3]) > 100000
    assert sql("SELECT threadstore_search_keys('u', NULL) IS NULL,"
               " threadstore_search_keys('u', ''::tsvector)::text") == [["t", "'%s'" % prefix("u")]]


def colliding_users():
    """Two new user ids (of this run: the database outlives it) with one prefix."""
    seen, run = {}, th.new_id("collide")
    for i in itertools.count():
        u = "%s-%d" % (run, i)
        p = prefix(u)
        if p in seen:
            return seen[p], u
        seen[p] = u


def test_users_with_one_prefix_see_only_their_rows(client_for):
    a_id, b_id = colliding_users()
    assert a_id != b_id and prefix(a_id) == prefix(b_id)
    a, b = client_for(a_id), client_for(b_id)
    ta, tb = thread_doc(title="pomelo plans"), thread_doc(title="other")
    a.save_thread(ta)
    b.save_thread(tb)
    ia = user_message(ta["id"], text="the pomelo secret of a")
    ib = user_message(tb["id"], text="a pomelo of b")
    a.add_item(ia)
    b.add_item(ib)
    for api, t, it in ((a, ta, ia), (b, tb, ib)):
        got = api.get("/v1/search?q=pomelo").json["data"]
        assert {h["thread_id"] for h in got} == {t["id"]}, got
        assert it["id"] in {h["item_id"] for h in got}
    assert b.get("/v1/search?q=secret").json["data"] == []
    assert b.get("/v1/search?q=-zzz").json["data"] != []
    assert all(h["thread_id"] == tb["id"] for h in b.get("/v1/search?q=-zzz").json["data"])
