-- threadstore: no-transaction
-- 006: index the rows written before 005, then build the search indexes, without blocking
-- writes. Rows are filled in batches of 5,000 in primary-key order, each batch its own
-- transaction (COMMIT inside DO: this file runs outside a transaction block), so no lock is
-- held for long and a rerun resumes where the tsv are still NULL. Rows written by the old
-- binary while this runs may stay unindexed until their next save. The backfill uses
-- the 'simple' configuration (the default of --search-language).
DO $$
DECLARE
    lu text := '';
    lt text := '';
    li text := '';
BEGIN
    -- A batch is read in primary-key order (the rows themselves, with their ctid) and
    -- updated by ctid: no per-row lookup through an index that could pick items_by_time
    -- and scan a whole long thread (see 002). A row updated concurrently has a new ctid
    -- and is skipped: the writer indexed it (or it is the old binary's, see above).
    LOOP
        WITH b AS (SELECT ctid AS c, user_id, thread_id, id, doc, tsv IS NULL AS todo
                   FROM items WHERE (user_id, thread_id, id) > (lu, lt, li)
                   ORDER BY user_id, thread_id, id LIMIT 5000),
             x AS MATERIALIZED (SELECT c, threadstore_item_text(doc) AS t FROM b WHERE todo),
             u AS (UPDATE items i SET tsv = threadstore_tsvector('simple', x.t) FROM x
                   WHERE i.ctid = x.c AND x.t IS NOT NULL AND i.tsv IS NULL)
        SELECT user_id, thread_id, id INTO lu, lt, li FROM b
        ORDER BY user_id DESC, thread_id DESC, id DESC LIMIT 1;
        EXIT WHEN NOT FOUND;
        COMMIT;
    END LOOP;
    lu := '';
    li := '';
    LOOP
        WITH b AS (SELECT ctid AS c, user_id, id, doc, tsv IS NULL AS todo FROM threads
                   WHERE (user_id, id) > (lu, li) ORDER BY user_id, id LIMIT 5000),
             x AS MATERIALIZED (SELECT c, threadstore_title(doc) AS title FROM b WHERE todo),
             u AS (UPDATE threads t SET tsv = threadstore_tsvector('simple', x.title) FROM x
                   WHERE t.ctid = x.c AND x.title IS NOT NULL AND t.tsv IS NULL)
        SELECT user_id, id INTO lu, li FROM b ORDER BY user_id DESC, id DESC LIMIT 1;
        EXIT WHEN NOT FOUND;
        COMMIT;
    END LOOP;
END $$;
DROP INDEX CONCURRENTLY IF EXISTS items_search;
CREATE INDEX CONCURRENTLY items_search ON items USING gin (user_id, tsv);
DROP INDEX CONCURRENTLY IF EXISTS threads_search;
CREATE INDEX CONCURRENTLY threads_search ON threads USING gin (user_id, tsv);
