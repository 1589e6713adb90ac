-- threadstore: no-transaction
-- 007: a GIN index of (user_id, facets) for counts and selective filters: the caller's rows
-- whose facets contain the filter are found in the index instead of by reading every
-- thread of the user. jsonb_path_ops: containment only, smaller. Built without blocking
-- writes; rows not saved since 003 are indexed through threadstore_facets(doc).
DROP INDEX CONCURRENTLY IF EXISTS threads_facets;
CREATE INDEX CONCURRENTLY threads_facets ON threads USING gin
    (user_id, (COALESCE(facets, threadstore_facets(doc))) jsonb_path_ops);
