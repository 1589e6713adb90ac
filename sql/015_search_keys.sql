-- threadstore: no-transaction
-- 015: the search indexes keyed by user and word in one key, so that a user's rare word is one
-- short posting list. 006's indexes are GIN over (user_id, tsv) (btree_gin): a search for a
-- word that ~100 of the bench's big user's 1,000,000 items hold intersected the word's postings
-- with the user_id's posting tree of 1,000,000 entries, decoding a leaf page of it per match
-- (~40% of the backends' time; p99 65-207 ms at 32 clients, bench/README.md).
--
-- threadstore_search_keys(user_id, tsv) is tsv's lexemes, each prefixed with the user's
-- prefix (8 hex digits of md5(user_id)), without positions, plus the prefix alone (the
-- marker, which every indexed row of the user has). threadstore_search_query maps a tsquery
-- the same way; the search (src/queries.c, SEARCH) matches the index with it and keeps
-- user_id = $1 and tsv @@ q on the row: a prefix shared by two users (1 in 2^32 per pair) costs
-- rechecks, never another user's rows, and phrases are checked with tsv's positions. A query
-- that no positive word bounds (only "-word": querytree is 'T') is ANDed with the marker, so
-- it reads the user's rows, as before, never the whole index.
--
-- Bounds: PostgreSQL stores at most 1 MB of lexemes in a tsvector and 2047 bytes in one,
-- and array_to_tsvector checks neither. A lexeme of over 500 characters is keyed by its first
-- 500 (and a query word as long by the same 500, as a prefix); when the prefixed lexemes of a
-- row pass 1,000,000 bytes (a tsv near its own 1 MB bound), the row keeps the lexemes that
-- come first in the text (within the first 16,383 words, then by lexeme order) up to that size:
-- a word past it is in tsv but not searchable (docs/API.md). The index never fails a write.
--
-- Expression indexes, not columns: an older binary's writes (which know nothing of this)
-- are indexed during a rollout. Built concurrently; then 006's indexes are dropped, and an
-- older binary's search (which names user_id and tsv) reads its user's rows through the
-- primary key until it is replaced. A rerun rebuilds.
-- The user's prefix: 8 hex digits.
CREATE OR REPLACE FUNCTION threadstore_search_prefix(u text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT left(md5(u), 8) $$;

-- The keys of a row: its lexemes prefixed, and the marker (NULL without a tsv).
CREATE OR REPLACE FUNCTION threadstore_search_keys(u text, tsv tsvector) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    p text := threadstore_search_prefix(u);
    size bigint;
    longest int;
BEGIN
    IF tsv IS NULL OR p IS NULL THEN
        RETURN NULL;
    END IF;
    -- the size of the keys (lexemes, their positions and alignment), at most
    SELECT sum(octet_length(lexeme) + 11 + 2 * coalesce(cardinality(positions), 0)),
           max(length(lexeme))
    INTO size, longest FROM unnest(tsv);
    IF coalesce(size, 0) <= 1000000 AND coalesce(longest, 0) <= 500 THEN
        RETURN (regexp_replace(tsv::text, '''((?:[^'']|'''')*)''', '''' || p || '\1''', 'g')
                || ' ''' || p || '''')::tsvector;
    END IF;
    RETURN (SELECT coalesce(string_agg(k, ' '), '') || ' ''' || p || '''' FROM (
        SELECT k, sum(octet_length(k) + 3) OVER (ORDER BY first, k) AS cum
        FROM (SELECT '''' || replace(replace(p || left(lexeme, 500), '\', '\\'), '''', '''''')
                     || '''' || coalesce(':' || array_to_string(positions, ','), '') AS k,
                     positions[1] AS first
              FROM unnest(tsv)) x) y
        WHERE cum <= 1000000)::tsvector;
END $$;

-- A tsquery mapped to the keys of user u: each operand (quoted, '' and \\ escaped, in the
-- tsquery's text) prefixed, its flags (:* and weights) kept; the cast back parses the text as
-- it is (no normalisation). An empty query stays empty (no match).
CREATE OR REPLACE FUNCTION threadstore_search_query(u text, q tsquery) RETURNS tsquery
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    p text := threadstore_search_prefix(u);
    t text := q::text;
    ops text[];
    gaps text[];
    r text;
    op text;
BEGIN
    IF numnode(q) = 0 THEN
        RETURN q;
    END IF;
    ops := ARRAY(SELECT m[1] FROM regexp_matches(t, '''((?:[^'']|'''')*)''', 'g') m);
    gaps := regexp_split_to_array(t, '''(?:[^'']|'''')*''');
    r := gaps[1];
    FOR i IN 1 .. cardinality(ops) LOOP
        op := replace(replace(ops[i], '''''', ''''), '\\', '\');
        IF length(op) <= 500 THEN
            r := r || '''' || p || ops[i] || '''' || gaps[i + 1];
        ELSE
            r := r || '''' || p || replace(replace(left(op, 500), '\', '\\'), '''', '''''')
                 || ''':*' || CASE WHEN gaps[i + 1] LIKE ':%' THEN substr(gaps[i + 1], 2)
                                   ELSE gaps[i + 1] END;
        END IF;
    END LOOP;
    IF querytree(q) = 'T' THEN
        r := '''' || p || ''' & ( ' || r || ' )';
    END IF;
    RETURN r::tsquery;
END $$;

DROP INDEX CONCURRENTLY IF EXISTS items_search_keys;
CREATE INDEX CONCURRENTLY items_search_keys ON items
    USING gin (threadstore_search_keys(user_id, tsv)) WITH (gin_pending_list_limit = 256);
DROP INDEX CONCURRENTLY IF EXISTS threads_search_keys;
CREATE INDEX CONCURRENTLY threads_search_keys ON threads
    USING gin (threadstore_search_keys(user_id, tsv)) WITH (gin_pending_list_limit = 256);
DROP INDEX CONCURRENTLY IF EXISTS items_search;
DROP INDEX CONCURRENTLY IF EXISTS threads_search;
