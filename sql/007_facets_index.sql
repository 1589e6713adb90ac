-- threadstore: no-transaction
-- 007: a GIN index for counts with filters: the caller's threads whose facets contain the
-- filter are found in the index instead of by reading every thread of the user.
--
-- The key is {"u": user_id, "f": facets} (jsonb_path_ops: one hash per path and value), and
-- the count asks for {"u": $1, "f": <filter>}: the user is part of the indexed value, so the
-- only index the statement can use is this one. With a separate user_id = $1 the planner's
-- generic plan (prepared statements) estimates an average user's hundred threads, picks the
-- primary key and reads all 100,000 threads of a big user (80 ms instead of a few). Built
-- without blocking writes; rows not saved since 003 are indexed through threadstore_facets(doc).
-- Immutable parts only (jsonb_build_object is stable), so the function is inlined: the
-- index's recheck evaluates an expression, not a SQL function call per row.
CREATE OR REPLACE FUNCTION threadstore_owned_facets(user_id text, doc text, facets jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_set(jsonb_object(ARRAY['u', user_id]), '{f}',
                     COALESCE(facets, threadstore_facets(doc)))
$$;
DROP INDEX CONCURRENTLY IF EXISTS threads_facets;
CREATE INDEX CONCURRENTLY threads_facets ON threads USING gin
    (threadstore_owned_facets(user_id, doc, facets) jsonb_path_ops);
