-- 002: tell the planner that thread_id determines user_id.
--
-- Without it PostgreSQL multiplies the selectivities of user_id = $1 and
-- thread_id = $2, estimates well under one row for a thread, and a generic
-- plan for an id lookup (item get/delete, the `after` cursor) can tie the
-- primary key with items_by_time, pick the latter and filter every row of the
-- thread: 0.4 s per lookup on a 1,000,000-item thread (bench/README.md). With
-- the dependency the primary key wins (0.06 ms).
CREATE STATISTICS items_user_thread (dependencies) ON user_id, thread_id FROM items;
ANALYZE items;
