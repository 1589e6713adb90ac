-- 003: activity order (updated_us, updated_seq) and the filter facets of threads.
--
-- Runs while older instances keep serving: every column is added nullable
-- without a default, so ALTER TABLE changes only the catalog (no rewrite, no
-- scan); the ACCESS EXCLUSIVE lock is held for milliseconds, and lock_timeout
-- makes the migration fail (and the instance retry at its next start) rather
-- than queue every reader behind a long transaction. Rows are never
-- backfilled: readers use COALESCE(updated_us, created_us) and
-- COALESCE(updated_seq, seq), so a thread untouched since the upgrade sorts by
-- its creation. The indexes are built by 004 (CONCURRENTLY: not in a
-- transaction).
--
-- updated_us: the server's statement_timestamp() in microseconds at the last
-- change of the thread or of anything in it; updated_seq: a value of
-- threadstore_seq taken by that change, so equal times still order (and page)
-- exactly. facets: what the filters match, {"m": <metadata>, "s": <status type>},
-- kept by save_thread (NULL before: computed from doc on the fly).
SET LOCAL lock_timeout = '5s';

ALTER TABLE threads
    ADD COLUMN IF NOT EXISTS updated_us bigint,
    ADD COLUMN IF NOT EXISTS updated_seq bigint,
    ADD COLUMN IF NOT EXISTS facets jsonb;

-- The stored text as jsonb, or NULL when PostgreSQL refuses it (documents are
-- checked by the service's JSON parser, which accepts "\u0000" and numbers
-- past numeric's range; jsonb does not): a write never fails on an index.
CREATE OR REPLACE FUNCTION threadstore_jsonb(doc text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN doc::jsonb;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END $$;

-- A thread's facets: its metadata (JSON null when absent) and its status type
-- ("active" when absent, as ChatKit's ThreadMetadata defaults it).
CREATE OR REPLACE FUNCTION threadstore_facets(doc text) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT jsonb_build_object('m', COALESCE(d -> 'metadata', 'null'::jsonb),
                              's', COALESCE(d -> 'status' ->> 'type', 'active'))
    FROM (SELECT threadstore_jsonb(doc) AS d) x
$$;
