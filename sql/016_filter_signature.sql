-- threadstore: no-transaction
-- 016: a 64-bit signature of each thread's facets beside its activity, so a filtered list
-- by activity rejects non-matching threads with one AND of two integers.
--
-- The filtered list by activity scans thread_activity_order and used to test every entry's
-- facets with jsonb containment (@>) on the copy in the index: for a filter that 2% of a
-- big user's threads match, 1,000 containment tests a page, most of the statement's time
-- (bench/history.sh, h-filter). The signature is a Bloom filter of the thread's conditions
-- (its status and each scalar top-level metadata member, as threadstore_count_keys lists
-- them), three bits each; a filter's own signature must be all in it. False positives
-- (about 1% for three conditions) are caught by the exact containment test on the thread row,
-- which the list reads anyway; the index carries the signature instead of the facets, so it
-- is narrower too.
--
-- Runs while older instances serve. A trigger computes the signature whenever facets are
-- written, whoever writes them (an older binary, the old-binary trigger of 008), so it can
-- never be stale; rows from before the migration are filled in batches, and until then a
-- NULL signature matches every filter (the exact test decides). The old index is dropped
-- last: an older binary's filtered list then reads the heap (slower, still correct).
SET lock_timeout = '5s';
ALTER TABLE thread_activity ADD COLUMN IF NOT EXISTS sig bigint;
RESET lock_timeout;
-- The signature of facets f, or of a filter (the same shape: {"m": {...}, "s": ...}): three
-- bits of 64 for each condition (its status; each member of "m" whose value is a scalar,
-- as threadstore_count_keys lists them), from the md5 of its text (stable across
-- PostgreSQL versions, unlike hashtext); 0 for no condition. A key is written as a JSON
-- string (no ambiguity with the value after it); @> compares numbers by value (7 and 7.0
-- match), so a number is written by value. PL/pgSQL, not SQL: a SQL function that is not
-- inlined is planned again by every statement that calls it (0.7 ms a list), PL/pgSQL
-- keeps its plan for the session. About 6 us a row.
CREATE OR REPLACE FUNCTION threadstore_sig(f jsonb) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT COALESCE(bit_or((1::bigint << (h & 63)) | (1::bigint << ((h >> 6) & 63))
                                   | (1::bigint << ((h >> 12) & 63))), 0)
            FROM (SELECT ('x' || substr(md5(c), 1, 6))::bit(24)::int AS h
                  FROM (SELECT 's' || (f ->> 's') AS c WHERE f ? 's'
                        UNION ALL
                        SELECT 'm' || to_jsonb(k)::text || ':' ||
                               CASE jsonb_typeof(v) WHEN 'number'
                                    THEN trim_scale(v::text::numeric)::text ELSE v::text END
                        FROM jsonb_each(CASE WHEN jsonb_typeof(f -> 'm') = 'object'
                                             THEN f -> 'm' END) e(k, v)
                        WHERE jsonb_typeof(v) IN ('string', 'number', 'boolean', 'null')) cs
                 ) hs);
END $$;
CREATE OR REPLACE FUNCTION threadstore_activity_sig() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.sig := threadstore_sig(NEW.facets);
    RETURN NEW;
END $$;
SET lock_timeout = '5s';
-- On Citus (a table distributed before this migration) a trigger needs this; on PostgreSQL
-- it is an unused placeholder setting. The trigger writes the row it fires for only.
SET citus.enable_unsafe_triggers = on;
CREATE OR REPLACE TRIGGER thread_activity_sig BEFORE INSERT OR UPDATE OF facets
    ON thread_activity FOR EACH ROW EXECUTE FUNCTION threadstore_activity_sig();
RESET lock_timeout;
-- Batches by key range (5,000 rows, each its own transaction): a plain UPDATE with a range,
-- which Citus also runs on a table distributed before this migration (no CTE, no join).
DO $$
DECLARE
    lu text := '';
    li text := '';
    hu text;
    hi text;
BEGIN
    LOOP
        SELECT user_id, thread_id INTO hu, hi FROM thread_activity
        WHERE (user_id, thread_id) > (lu, li) ORDER BY user_id, thread_id OFFSET 4999 LIMIT 1;
        IF NOT FOUND THEN
            UPDATE thread_activity SET sig = threadstore_sig(facets)
            WHERE (user_id, thread_id) > (lu, li) AND sig IS NULL;
            EXIT;
        END IF;
        UPDATE thread_activity SET sig = threadstore_sig(facets)
        WHERE (user_id, thread_id) > (lu, li) AND (user_id, thread_id) <= (hu, hi)
          AND sig IS NULL;
        lu := hu;
        li := hi;
        COMMIT;
    END LOOP;
END $$;
DROP INDEX CONCURRENTLY IF EXISTS thread_activity_by_time;
CREATE INDEX CONCURRENTLY thread_activity_by_time ON thread_activity
    (user_id, updated_us, updated_seq) INCLUDE (sig, thread_id);
DROP INDEX CONCURRENTLY IF EXISTS thread_activity_order;
-- The backfill rewrote every row: until a vacuum sets the visibility map again, the list's
-- index-only scan reads the heap for each entry. Not in a transaction, never blocks writes.
VACUUM (ANALYZE) thread_activity;
