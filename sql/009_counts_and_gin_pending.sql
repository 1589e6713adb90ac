-- threadstore: no-transaction
-- 009: thread counts kept up to date, so GET /v1/threads/count with no filter or one
-- condition (one metadata.<key>=, or status=) reads one row instead of every matching thread
-- (18 ms for the bench's user of 100,000 threads, 13 ms for 2,000 matches of a filter: at 32
-- clients on 4 connections, p99 of 370-390 ms; bench/README.md).
--
-- thread_counts holds, per user, n for each condition a thread can match alone: '{}' (every
-- thread: the user's total), {"s": <status type>}, and {"m": {<key>: <value>}} for each
-- top-level metadata key whose value is a string, number, boolean or null (the filters'
-- values are such scalars; jsonb containment matches a scalar only in place, never inside an
-- array or object). The key is the filter exactly as the service builds it, as jsonb, so
-- equality is jsonb's (7 and 7.0 are one number, as for the @> of the filter).
--
-- Kept by statement triggers on threads, in the write's transaction: an insert adds the
-- threads' conditions, a delete subtracts them, an update whose facets change does both. Each
-- change of a user's counts takes a transaction-scoped advisory lock on the user first: a
-- user's thread writes that change counts are serialized (they were already, on the user's
-- total row). A user without a total row is not counted yet: the first trigger (or the
-- backfill below) counts the user's threads under that lock; a writer whose rows are not yet
-- committed is blocked on the lock and adds its own change afterwards, so the count is exact.
-- TRUNCATE fires no trigger: truncate thread_counts with threads. Readers fall back to counting through the indexes while a user has no row, and
-- for filters of two conditions or more (the threads_facets GIN index, sql/007).
--
-- Runs while older instances serve: a new table, functions, and triggers (CREATE TRIGGER
-- takes a moment's SHARE ROW EXCLUSIVE lock on threads; lock_timeout 5 s). The backfill
-- counts one user per transaction.
SET lock_timeout = '5s';
-- A function with an EXCEPTION block starts a subtransaction, which a parallel worker cannot:
-- 003 and 005 marked these PARALLEL SAFE, and a parallel plan over them fails ("cannot start
-- subtransactions during a parallel operation"; met counting all users' facets). RESTRICTED:
-- they run in the leader, as do the functions that call them.
ALTER FUNCTION threadstore_jsonb(text) PARALLEL RESTRICTED;
ALTER FUNCTION threadstore_tsvector(text, text) PARALLEL RESTRICTED;
ALTER FUNCTION threadstore_item_text(text) PARALLEL RESTRICTED;
ALTER FUNCTION threadstore_facets(text) PARALLEL RESTRICTED;
ALTER FUNCTION threadstore_title(text) PARALLEL RESTRICTED;
ALTER FUNCTION threadstore_owned_facets(text, text, jsonb) PARALLEL RESTRICTED;
CREATE TABLE IF NOT EXISTS thread_counts (
    user_id text   NOT NULL,
    facet   jsonb  NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (user_id, facet)
);
-- The conditions a thread of facets f matches alone ({"m": ..., "s": ...}, sql/003).
CREATE OR REPLACE FUNCTION threadstore_count_keys(f jsonb) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT '{}'::jsonb
    UNION ALL SELECT jsonb_build_object('s', f -> 's') WHERE f ? 's'
    UNION ALL SELECT jsonb_build_object('m', jsonb_build_object(e.k, e.v))
    FROM jsonb_each(CASE WHEN jsonb_typeof(f -> 'm') = 'object' THEN f -> 'm' END) e(k, v)
    WHERE jsonb_typeof(e.v) IN ('string', 'number', 'boolean', 'null')
$$;
-- Counts a user's threads, unless they are counted already. Call under the user's lock.
CREATE OR REPLACE FUNCTION threadstore_count_init(u text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM thread_counts WHERE user_id = u AND facet = '{}') THEN
        RETURN;
    END IF;
    INSERT INTO thread_counts (user_id, facet, n)
    SELECT u, k, count(*) FROM threads t,
        threadstore_count_keys(COALESCE(t.facets, threadstore_facets(t.doc))) k
    WHERE t.user_id = u GROUP BY k;
    INSERT INTO thread_counts (user_id, facet, n) VALUES (u, '{}', 0)
    ON CONFLICT (user_id, facet) DO NOTHING;
END $$;
CREATE OR REPLACE FUNCTION threadstore_count_lock(u text) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtextextended('threadstore_counts:' || u, 0))
$$;
-- Applies a statement's changes of the counts, d: [{"u": user, "k": condition, "d": delta}],
-- user by user in one order (advisory locks: no deadlock between two statements). A user not
-- counted yet is counted now, as the statement left the user's threads.
CREATE OR REPLACE FUNCTION threadstore_count_apply(d jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    u text;
BEGIN
    FOR u IN SELECT DISTINCT e ->> 'u' FROM jsonb_array_elements(d) e ORDER BY 1 LOOP
        PERFORM threadstore_count_lock(u);
        IF NOT EXISTS (SELECT 1 FROM thread_counts WHERE user_id = u AND facet = '{}') THEN
            PERFORM threadstore_count_init(u);
            CONTINUE;
        END IF;
        INSERT INTO thread_counts AS c (user_id, facet, n)
        SELECT u, e -> 'k', sum((e ->> 'd')::bigint) FROM jsonb_array_elements(d) e
        WHERE e ->> 'u' = u GROUP BY e -> 'k'
        ON CONFLICT (user_id, facet) DO UPDATE SET n = c.n + EXCLUDED.n;
        -- no rows of values no thread has any more (metadata of unique ids)
        DELETE FROM thread_counts WHERE user_id = u AND n = 0 AND facet <> '{}'
            AND facet IN (SELECT e -> 'k' FROM jsonb_array_elements(d) e
                          WHERE e ->> 'u' = u AND (e ->> 'd')::bigint < 0);
    END LOOP;
END $$;
-- Statement triggers (the rows changed in transition tables): a row trigger cannot count a
-- user for the first time inside a statement of several rows, since every row of the
-- statement is visible to each row's AFTER trigger.
CREATE OR REPLACE FUNCTION threadstore_count_threads() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT jsonb_agg(jsonb_build_object('u', user_id, 'k', k, 'd', n)) INTO d
        FROM (SELECT t.user_id, k, count(*) AS n FROM came t,
              threadstore_count_keys(COALESCE(t.facets, threadstore_facets(t.doc))) k
              GROUP BY 1, 2) x;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT jsonb_agg(jsonb_build_object('u', user_id, 'k', k, 'd', -n)) INTO d
        FROM (SELECT t.user_id, k, count(*) AS n FROM gone t,
              threadstore_count_keys(COALESCE(t.facets, threadstore_facets(t.doc))) k
              GROUP BY 1, 2) x;
    ELSE
        SELECT jsonb_agg(jsonb_build_object('u', user_id, 'k', k, 'd', n)) INTO d
        FROM (SELECT user_id, k, sum(s) AS n FROM (
                SELECT t.user_id, k, 1 AS s FROM came t,
                    threadstore_count_keys(COALESCE(t.facets, threadstore_facets(t.doc))) k
                UNION ALL
                SELECT t.user_id, k, -1 FROM gone t,
                    threadstore_count_keys(COALESCE(t.facets, threadstore_facets(t.doc))) k) y
              GROUP BY 1, 2 HAVING sum(s) <> 0) x;
    END IF;
    IF d IS NOT NULL THEN
        PERFORM threadstore_count_apply(d);
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER threads_count_insert AFTER INSERT ON threads
    REFERENCING NEW TABLE AS came
    FOR EACH STATEMENT EXECUTE FUNCTION threadstore_count_threads();
CREATE OR REPLACE TRIGGER threads_count_update AFTER UPDATE ON threads
    REFERENCING OLD TABLE AS gone NEW TABLE AS came
    FOR EACH STATEMENT EXECUTE FUNCTION threadstore_count_threads();
CREATE OR REPLACE TRIGGER threads_count_delete AFTER DELETE ON threads
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION threadstore_count_threads();
RESET lock_timeout;
DO $$
DECLARE
    u text := '';
BEGIN
    LOOP
        SELECT min(user_id) INTO u FROM threads WHERE user_id > u;
        EXIT WHEN u IS NULL;
        PERFORM threadstore_count_lock(u);
        PERFORM threadstore_count_init(u);
        COMMIT;
    END LOOP;
END $$;
ANALYZE thread_counts;
-- The search and facets indexes keep at most 256 kB of pending entries (GIN's fast update),
-- not PostgreSQL's default 4 MB: every search reads the whole pending list of its index, all
-- users' entries, and under writes (W3) that was 466 pages, 20-50 ms of each search of the
-- bench (bench/README.md). A writer that finds the list full merges it into the index; with
-- 256 kB that is a short pause, more often. A moment's lock per index (lock_timeout 5 s).
SET lock_timeout = '5s';
ALTER INDEX items_search SET (gin_pending_list_limit = 256);
ALTER INDEX threads_search SET (gin_pending_list_limit = 256);
ALTER INDEX threads_facets SET (gin_pending_list_limit = 256);
RESET lock_timeout;
