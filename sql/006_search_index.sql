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
    r record;
BEGIN
    LOOP
        WITH b AS (SELECT user_id, thread_id, id FROM items
                   WHERE (user_id, thread_id, id) > (lu, lt, li)
                   ORDER BY user_id, thread_id, id LIMIT 5000),
             x AS (SELECT i.user_id, i.thread_id, i.id, threadstore_item_text(i.doc) AS t
                   FROM b JOIN items i USING (user_id, thread_id, id) WHERE i.tsv IS NULL),
             u AS (UPDATE items i SET tsv = threadstore_tsvector('simple', x.t) FROM x
                   WHERE i.user_id = x.user_id AND i.thread_id = x.thread_id AND i.id = x.id
                     AND x.t IS NOT NULL)
        SELECT user_id, thread_id, id INTO lu, lt, li FROM b
        ORDER BY user_id DESC, thread_id DESC, id DESC LIMIT 1;
        EXIT WHEN NOT FOUND;
        COMMIT;
    END LOOP;
    lu := '';
    li := '';
    LOOP
        WITH b AS (SELECT user_id, id FROM threads WHERE (user_id, id) > (lu, li)
                   ORDER BY user_id, id LIMIT 5000),
             x AS (SELECT t.user_id, t.id, threadstore_title(t.doc) AS title
                   FROM b JOIN threads t USING (user_id, id) WHERE t.tsv IS NULL),
             u AS (UPDATE threads t SET tsv = threadstore_tsvector('simple', x.title) FROM x
                   WHERE t.user_id = x.user_id AND t.id = x.id AND x.title IS NOT NULL)
        SELECT user_id, id INTO lu, li FROM b ORDER BY user_id DESC, id DESC LIMIT 1;
        EXIT WHEN NOT FOUND;
        COMMIT;
    END LOOP;
END $$;
DROP INDEX CONCURRENTLY IF EXISTS items_search;
CREATE INDEX CONCURRENTLY items_search ON items USING gin (user_id, tsv);
DROP INDEX CONCURRENTLY IF EXISTS threads_search;
CREATE INDEX CONCURRENTLY threads_search ON threads USING gin (user_id, tsv);
