-- threadstore: no-transaction
-- 013: the indexes of thread deletion, expiry and the sweep, built without blocking writes.
--
-- attachments_by_thread: a thread's deletion also deletes the attachments whose document
-- names it ("thread_id"); an expression index, so rows written by an older binary during
-- a rollout are covered too (a column would be NULL on them).
-- threads_expiry: the sweep finds expired threads of all users by time;
-- threads_user_expiry: a user's count leaves the expired ones out without reading every
-- thread (count of all, index-only, minus the expired, from this small partial index).
DROP INDEX CONCURRENTLY IF EXISTS attachments_by_thread;
CREATE INDEX CONCURRENTLY attachments_by_thread ON attachments
    (user_id, (threadstore_jsonb(doc) ->> 'thread_id'));
DROP INDEX CONCURRENTLY IF EXISTS threads_expiry;
CREATE INDEX CONCURRENTLY threads_expiry ON threads (expires_us) WHERE expires_us IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS threads_user_expiry;
CREATE INDEX CONCURRENTLY threads_user_expiry ON threads (user_id, expires_us)
    WHERE expires_us IS NOT NULL;
