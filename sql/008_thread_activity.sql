-- threadstore: no-transaction
-- 008: a thread's activity time in a narrow side table, so an item write no longer updates
-- its thread row.
--
-- Before, every item or attachment write updated threads.updated_us/updated_seq: that
-- update cannot be HOT (threads_by_activity covers the columns), so each wrote a new thread
-- tuple into five indexes, two of them GIN (titles, facets), and W3 ran at 0.54x
-- (bench/README.md). Now the touch updates one small row of thread_activity in two btrees;
-- the threads' GIN entries are written only by save_thread.
--
-- Runs while older instances serve. The table is new (the foreign key takes a moment's
-- SHARE ROW EXCLUSIVE lock on threads; lock_timeout fails the migration, and the instance
-- retries at its next start, rather than queue readers behind a long transaction). An older
-- binary still writes threads.updated_us (its saves and touches); the trigger copies each
-- such write here, and the new binary never writes those columns (so the trigger costs it
-- only its WHEN test). The backfill then copies every thread's activity as the readers of
-- 003 saw it, COALESCE(updated_us, created_us), and its facets, in batches of 5,000 threads, each its own
-- transaction; ON CONFLICT DO NOTHING keeps a row the trigger or the new binary wrote
-- meanwhile (it is newer), and FOR KEY SHARE skips a thread deleted meanwhile. A later
-- migration, once no older binary runs, can drop the trigger, threads_by_activity and the
-- threads' activity columns.
SET lock_timeout = '5s';
CREATE TABLE IF NOT EXISTS thread_activity (
    user_id     text   NOT NULL,
    thread_id   text   NOT NULL,
    updated_us  bigint NOT NULL,
    updated_seq bigint NOT NULL,
    facets      jsonb  NOT NULL,
    PRIMARY KEY (user_id, thread_id),
    FOREIGN KEY (user_id, thread_id) REFERENCES threads (user_id, id) ON DELETE CASCADE
);
-- The list by activity: a keyset scan of this index, each thread's document by its key. A
-- copy of the thread's facets (sql/003, kept by save_thread) in the index lets a filtered
-- list reject threads in an index-only scan, without reading each one (for 21 matches of a
-- filter that 2% of a big user's threads match: 21 pages read instead of 1,031).
CREATE INDEX IF NOT EXISTS thread_activity_order ON thread_activity
    (user_id, updated_us, updated_seq) INCLUDE (thread_id, facets);
CREATE OR REPLACE FUNCTION threadstore_activity_of_old() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO thread_activity (user_id, thread_id, updated_us, updated_seq, facets)
    VALUES (NEW.user_id, NEW.id, NEW.updated_us, COALESCE(NEW.updated_seq, NEW.seq),
            COALESCE(NEW.facets, threadstore_facets(NEW.doc)))
    ON CONFLICT (user_id, thread_id) DO UPDATE
    SET updated_us = EXCLUDED.updated_us, updated_seq = EXCLUDED.updated_seq,
        facets = EXCLUDED.facets;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER threads_activity_of_old AFTER INSERT OR UPDATE OF updated_us
    ON threads FOR EACH ROW WHEN (NEW.updated_us IS NOT NULL)
    EXECUTE FUNCTION threadstore_activity_of_old();
RESET lock_timeout;
DO $$
DECLARE
    lu text := '';
    li text := '';
BEGIN
    LOOP
        WITH b AS (SELECT user_id, id, COALESCE(updated_us, created_us) AS us,
                          COALESCE(updated_seq, seq) AS sq,
                          COALESCE(facets, threadstore_facets(doc)) AS f
                   FROM threads WHERE (user_id, id) > (lu, li)
                   ORDER BY user_id, id LIMIT 5000 FOR KEY SHARE),
             i AS (INSERT INTO thread_activity (user_id, thread_id, updated_us, updated_seq,
                                                facets)
                   SELECT user_id, id, us, sq, f FROM b ON CONFLICT DO NOTHING)
        SELECT user_id, id INTO lu, li FROM b ORDER BY user_id DESC, id DESC LIMIT 1;
        EXIT WHEN NOT FOUND;
        COMMIT;
    END LOOP;
END $$;
ANALYZE thread_activity;
