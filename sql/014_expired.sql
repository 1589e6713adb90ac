-- 014: threadstore_expired(expires_us), the test of save_thread's upsert: a thread past its
-- expiry stays expired when saved again (src/queries.c, EXPIRY_KEPT).
--
-- On Citus an upsert's DO UPDATE SET may call IMMUTABLE functions only ("functions used in
-- the DO UPDATE SET clause of INSERTs on distributed tables must be marked IMMUTABLE"): it is
-- shipped to the worker as it is. statement_timestamp() is STABLE, so the upsert compared
-- with it directly does not run on Citus. This function is declared IMMUTABLE although it
-- reads the statement's time: it is only ever called with a column (threads.expires_us of
-- the conflicting row), which the planner cannot fold to a constant, so it runs at execution
-- time, once per row, and its result is that of the statement's time as on PostgreSQL. An
-- IMMUTABLE SQL function whose body is not immutable is never inlined. Never call it with a
-- constant or a parameter, nor in an index. On Citus the time is the worker's statement
-- time (its clock, milliseconds after the coordinator's).
CREATE OR REPLACE FUNCTION threadstore_expired(expires_us bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT expires_us <= (extract(epoch FROM statement_timestamp()) * 1000000)::bigint
$$;
