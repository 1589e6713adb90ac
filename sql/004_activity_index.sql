-- threadstore: no-transaction
-- 004: the keyset index of the activity order, built without blocking writes.
--
-- CREATE INDEX CONCURRENTLY cannot run in a transaction, so this file is run
-- statement by statement (migrate.c: the first line above), under a session
-- advisory lock, and recorded as applied only when every statement succeeded.
-- A build interrupted half-way leaves an INVALID index: the DROP makes a rerun
-- start over.
DROP INDEX CONCURRENTLY IF EXISTS threads_by_activity;
CREATE INDEX CONCURRENTLY threads_by_activity ON threads
    (user_id, (COALESCE(updated_us, created_us)), (COALESCE(updated_seq, seq)));
