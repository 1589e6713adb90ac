/* queries.c: the statement table.
 *
 * Page queries fetch limit+1 rows ($n = limit + 1) so the caller learns
 * has_more without a count, and are bounded by bytes too: CAPPED keeps the
 * first row and then rows while the documents so far total at most the byte
 * budget (the last parameter), and reports in column `n` how many rows the
 * limit+1 scan found, so a page cut short by bytes says has_more. Documents
 * past the cut are never read: octet_length of a TOASTed text reads its header,
 * and only the rows kept are sent. "after" variants look the cursor row up in
 * the same statement: no row at all means the cursor is unknown (404); one row
 * of NULLs means the cursor exists and the page is empty. */
#include "queries.h"

#include <stdint.h>
#include <stdio.h>

/* clang-format off */
/* Expiry (sql/012, issue 13): a thread whose expires_us has passed is gone for
 * every read, with everything in it, before the sweep deletes it. LIVE is the
 * thread row's own check; NOT_EXPIRED(id) the items' and attachments' (one
 * primary-key probe of their thread). */
#define NOW_US "(extract(epoch FROM statement_timestamp()) * 1000000)::bigint"
#define LIVE " AND (expires_us IS NULL OR expires_us > " NOW_US ")"
/* The user's expired threads, for a statement over many of the user's items
 * (one probe of sql/013's partial index, usually empty; a hashed NOT IN). */
#define EXPIRED_IDS "(SELECT id FROM threads WHERE user_id = $1 AND expires_us <= " NOW_US ")"
#define NOT_EXPIRED(thread)                                                                \
	" AND NOT EXISTS (SELECT 1 FROM threads x WHERE x.user_id = $1 AND x.id = " thread   \
	" AND x.expires_us <= " NOW_US ")"

#define CAPPED(cols, rows, order, budget)                                                  \
	"SELECT " cols ", n FROM (SELECT *,"                                               \
	" sum(octet_length(doc)) OVER w AS cum, row_number() OVER w AS rn,"               \
	" count(*) OVER () AS n FROM (" rows ") p"                                         \
	" WINDOW w AS (ORDER BY " order " ROWS UNBOUNDED PRECEDING)) b"                   \
	" WHERE rn = 1 OR cum <= " budget " ORDER BY " order

#define ORDER(dir) "created_us " dir ", seq " dir

/* The change feed's CAPPED: the first change and then changes while their
 * attachment documents total at most the budget; `scanned` says how many the
 * LIMIT found (more than kept: the batch was cut by bytes). */
#define CHANGES_CAPPED(rows, order, budget)                                                \
	"SELECT * FROM (SELECT *,"                                                         \
	" sum(coalesce(octet_length(attachment), 0)) OVER w AS cum,"                       \
	" row_number() OVER w AS rn, count(*) OVER () AS scanned FROM (" rows ") p"        \
	" WINDOW w AS (ORDER BY " order " ROWS UNBOUNDED PRECEDING)) b"                   \
	" WHERE rn = 1 OR cum <= " budget

/* The v1 thread list, the hottest statement (W1), is not CAPPED: the byte
 * window cost it 0.67x the throughput (bench/compare.sh), and thread
 * documents are metadata. Its third column is NULL (never cut). */
#define THREAD_PAGE(cmp, dir)                                                              \
	"SELECT t.id, t.doc, NULL FROM"                                                    \
	" (SELECT created_us, seq FROM threads WHERE user_id = $1 AND id = $2) c"          \
	" LEFT JOIN LATERAL (SELECT id, doc, created_us, seq FROM threads"                 \
	"   WHERE user_id = $1 AND (created_us, seq) " cmp " (c.created_us, c.seq)" LIVE   \
	"   ORDER BY " ORDER(dir) " LIMIT $3) t ON true"                                   \
	" ORDER BY t.created_us " dir ", t.seq " dir

#define THREAD_FIRST(dir)                                                                  \
	"SELECT id, doc, NULL FROM threads WHERE user_id = $1" LIVE " ORDER BY " ORDER(dir)    \
	" LIMIT $2"

#define ITEM_PAGE(cmp, dir)                                                                \
	"SELECT t.id, t.doc, t.n FROM"                                                     \
	" (SELECT created_us, seq FROM items"                                              \
	"   WHERE user_id = $1 AND thread_id = $2 AND id = $3" NOT_EXPIRED("$2") ") c"     \
	" LEFT JOIN LATERAL (" CAPPED("id, doc, created_us, seq",                          \
	"   SELECT id, doc, created_us, seq FROM items"                                    \
	"   WHERE user_id = $1 AND thread_id = $2 AND (created_us, seq) " cmp              \
	"   (c.created_us, c.seq) ORDER BY " ORDER(dir) " LIMIT $4", ORDER(dir), "$5")     \
	") t ON true ORDER BY t.created_us " dir ", t.seq " dir

#define ITEM_FIRST(dir)                                                                    \
	CAPPED("id, doc", "SELECT id, doc, created_us, seq FROM items"                     \
	       " WHERE user_id = $1 AND thread_id = $2" NOT_EXPIRED("$2")                  \
	       " ORDER BY " ORDER(dir) " LIMIT $3",                                         \
	       ORDER(dir), "$4")

/* Activity (sql/003, sql/008): the server's statement time in microseconds,
 * and the touch of a thread that every write in it does in its own statement
 * (so in its transaction). The touch updates the thread's narrow row in
 * thread_activity (two btrees), never the thread row (five indexes, two GIN).
 * It key-share locks the thread row first, as the item's foreign key check
 * does, and as delete_thread (the thread, then its activity by cascade) locks:
 * one lock order, no deadlock of a write in a thread with its deletion.
 * save_thread writes the row (ACTIVITY_PUT); 008 filled it for older threads.
 * The touch's tie-breaker is the thread's own seq, unique like a fresh
 * nextval (threads touched in the same microsecond order by creation): an
 * UPDATE must call no volatile function to be a router query on Citus
 * (citus.h), and a statement that touches two threads (an attachment moved)
 * must not give both the same key. */
#define SWEEP_LOCK_KEY "7283946512"
#define TOUCH(id_cond)                                                                     \
	"UPDATE thread_activity a SET updated_us = " NOW_US ", updated_seq = t.seq"            \
	" FROM (SELECT id, seq FROM threads WHERE user_id = $1 AND id " id_cond               \
	" FOR KEY SHARE) t WHERE a.user_id = $1 AND a.thread_id = t.id"
#define ACTIVITY_PUT                                                                       \
	"INSERT INTO thread_activity (user_id, thread_id, updated_us, updated_seq, facets)" \
	" SELECT $1, $2, " NOW_US ", nextval('threadstore_seq'), facets FROM t"            \
	" ON CONFLICT (user_id, thread_id) DO UPDATE SET updated_us = EXCLUDED.updated_us," \
	" updated_seq = EXCLUDED.updated_seq, facets = EXCLUDED.facets"
/* Thread lists: t the thread, a its activity. The creation order reads the
 * threads' index and each listed thread's activity by key; the activity
 * order reads thread_activity_by_time (sql/016) and each thread by key. OFFSET 0 keeps
 * each lookup a lookup: flattened into a join, a generic plan (estimating an
 * average user's hundred threads) reads all of a big user's threads and
 * filters the join (2.9 s instead of 0.3 ms for 100,000 threads). FROM_x
 * ends in the user's condition; ID_x is the id the cursor is looked up by. */
#define KC1 "t.created_us"
#define KC2 "t.seq"
#define KU1 "a.updated_us"
#define KU2 "a.updated_seq"
#define FROM_C                                                                             \
	" FROM threads t LEFT JOIN LATERAL (SELECT updated_us, updated_seq"                \
	" FROM thread_activity WHERE user_id = $1 AND thread_id = t.id OFFSET 0) a ON true" \
	" WHERE t.user_id = $1" LIVE
#define FROM_U                                                                             \
	" FROM thread_activity a CROSS JOIN LATERAL (SELECT id, doc, created_us,"          \
	" COALESCE(facets, threadstore_facets(doc)) AS facets"                             \
	" FROM threads WHERE user_id = $1 AND id = a.thread_id" LIVE " OFFSET 0) t"        \
	" WHERE a.user_id = $1"
#define ID_C "t.id"
#define ID_U "a.thread_id"
#define ACT "COALESCE(a.updated_us, t.created_us)"
/* The change feed (sql/010). HEAD(cond) numbers the user's next change when
 * cond holds: the upsert's row lock serialises the user's writers until
 * commit, so numbers are dense and commit in order; at_us never goes back.
 * RECORD inserts the change numbered by HEAD. No NOTIFY here: PostgreSQL
 * serialises every notifying transaction through its commit, WAL flush
 * included (PreCommit_Notify's lock), which capped all writes at one per
 * fsync (284/s on the bench machine, W3 0.46x); feed.c notifies after the
 * commit instead, batched (Q_CHANGES_NOTIFY). */
#define HEAD(cond)                                                                         \
	"head AS (INSERT INTO change_heads AS h (user_id, n, at_us) SELECT $1, 1, " NOW_US    \
	" WHERE " cond " ON CONFLICT (user_id) DO UPDATE SET n = h.n + 1,"                 \
	" at_us = GREATEST(h.at_us, EXCLUDED.at_us) RETURNING n, at_us)"
#define RECORD(kind, thread, item, att, doc)                                               \
	"INSERT INTO changes (user_id, n, kind, thread_id, item_id, attachment_id,"        \
	" attachment, at_us) SELECT $1, n, '" kind "', " thread ", " item ", " att ", "    \
	doc ", at_us FROM head"
/* Lock order in a user's writes: the thread first (delete_thread's DELETE,
 * the touch's KEY SHARE), then the head. PostgreSQL runs data-modifying CTEs
 * that nothing references after the main statement, in an order of its own
 * (the last listed first): left to it, an item write took the head and then
 * waited for the thread that a concurrent delete_thread held while waiting
 * for the head (a deadlock, test_history_storage.py). A statement whose touch
 * is a CTE makes its head read the touch's rows first (AFTER_TOUCH: always
 * true, and the touch has run to completion when it is evaluated). */
#define AFTER_TOUCH "(SELECT count(*) FROM touch) >= 0 AND "
#define CHANGE(cond, kind, thread, item, att, doc)                                         \
	HEAD(cond) ", chg AS (" RECORD(kind, thread, item, att, doc) " RETURNING *)"
/* The change CHANGE recorded, as the last columns of the write's one row
 * (all NULL when it recorded none): feed.c delivers it to the streams that
 * are at the number before it, and in the notification, with no statement.
 * In Q_CHANGES_PAGE's column order from chg_n. Referenced from the main
 * statement, the CTEs run when these are evaluated, after the main
 * statement's row: the lock order (the thread, then the head) holds. */
#define CHANGE_ROW                                                                         \
	" (SELECT n FROM chg) AS chg_n, (SELECT kind FROM chg), (SELECT thread_id FROM chg),"  \
	" (SELECT item_id FROM chg), (SELECT attachment_id FROM chg),"                      \
	" (SELECT attachment FROM chg), (SELECT at_us FROM chg)"
/* A write whose statement is an INSERT returns CHANGE_ROW from a SELECT, its
 * insert a CTE that the head reads first (AFTER_WRITE): Citus plans no
 * subquery in an INSERT's RETURNING (and runs the CTEs in the order listed,
 * the main statement last); on PostgreSQL the head waits for the write as
 * for the touch, so the lock order is the same. */
#define AFTER_WRITE(cte) "(SELECT count(*) FROM " cte ") >= 0 AND "
#define CHANGE_SELECT " SELECT" CHANGE_ROW

/* Filters: p is {"m": {key: value, ...}, "s": status} (handlers_threads.c),
 * '{}' for none; facets are NULL on rows not saved since the migration. The
 * filter is parsed once, in an InitPlan (a generic plan would cast the
 * parameter again for each row it rejects). The creation order tests each
 * thread row it reads; it has no mask. */
#define TFILTER(f, p) " AND (" p "::text = '{}' OR " f " @> (SELECT " p "::text::jsonb))"
/* The activity order rejects threads in its index-only scan by their facets'
 * signature (sql/016: a NULL one, not filled yet, passes), then tests the few
 * that pass on the thread row it reads anyway. m is the filter's mask, ~ its
 * bits of the signature (page.c computes them as threadstore_sig does; -1 for
 * no filter): one OR and one compare per index entry, no call. */
#define FACETS_U(p, m) " AND (COALESCE(a.sig, -1) | " m "::bigint) = -1" TFILTER("t.facets", p)
#define FACETS_C(p, m) TFILTER("COALESCE(t.facets, threadstore_facets(t.doc))", p)
/* Bounded by rows only, as v1's list (docs/API.md: thread documents are
 * metadata; the byte window cost the list 0.67x): column n is NULL. */
#define T2_ROWS(from, facets, k1, k2, cond, filter, mask, dir, lim)                       \
	"SELECT t.id, t.doc, " ACT " AS act, NULL AS n, " k1 " AS k1, " k2 " AS k2" from   \
	cond facets(filter, mask) " ORDER BY " k1 " " dir ", " k2 " " dir " LIMIT " lim
/* (id, doc, act, n): act is the activity time, in microseconds */
#define T2_FIRST(from, facets, k1, k2, dir)                                                \
	T2_ROWS(from, facets, k1, k2, "", "$2", "$4", dir, "$3")
/* before= runs this with the comparison and direction reversed: the rows
 * nearest the cursor first, which page.c sends in reverse. */
#define T2_PAGE(from, id, facets, k1, k2, cmp, dir)                                        \
	"SELECT t.id, t.doc, t.act, t.n FROM"                                              \
	" (SELECT " k1 " AS c1, " k2 " AS c2" from " AND " id " = $2) c"                   \
	" LEFT JOIN LATERAL (" T2_ROWS(from, facets, k1, k2,                               \
	" AND (" k1 ", " k2 ") " cmp " (c.c1, c.c2)", "$3", "$5", dir, "$4")               \
	") t ON true ORDER BY t.k1 " dir ", t.k2 " dir

/* Search (sql/005): an item's tsvector, $6 the configuration (--search-language). */
#define ITEM_TSV "threadstore_tsvector($6, threadstore_item_text($5))"
/* Hits of $3 (websearch_to_tsquery syntax, configuration $2) in the caller's
 * thread titles and message texts, best first: (rank, seq) descending, seq
 * being unique over threads and items (one sequence), so the cursor $4,
 * "rank:seq",
 * pages without skips or repeats. Snippets: ts_headline over at most the
 * first 100,000 characters, cut to 600 (and never inside a marker). The
 * query and the cursor are computed once (OFFSET 0: flattened, a generic plan
 * parsed the query again for each match's rank and recheck: 6.3 ms instead of
 * 1.9 for the bench's big user). Items of expired threads: a hashed NOT IN
 * over the user's expired threads (sql/013's partial index; none, normally),
 * not a primary-key probe per match (0.5 ms of a search of the big user). */
#define HEADLINE_OPTS                                                                      \
	"'MaxWords=24, MinWords=8, MaxFragments=2, FragmentDelimiter=\" ... \","             \
	" StartSel=\"<mark>\", StopSel=\"</mark>\"'"
#define SEARCH(item_cond, thread_cond)                                                     \
	"SELECT h.thread_id, h.item_id, h.rank, h.seq, h.created_us,"                      \
	" regexp_replace(left(ts_headline($2::regconfig, left(CASE WHEN h.item_id IS NULL"  \
	" THEN threadstore_title(h.doc) ELSE threadstore_item_text(h.doc) END, 100000),"     \
	" s.q, " HEADLINE_OPTS "), 600), '<[^>]*$', '') AS snippet"                         \
	" FROM (SELECT websearch_to_tsquery($2::regconfig, $3) AS q OFFSET 0) s,"          \
	" (SELECT split_part($4::text, ':', 1)::real AS rank,"                              \
	"  split_part($4::text, ':', 2)::bigint AS seq OFFSET 0) c, LATERAL ("              \
	" SELECT * FROM (SELECT thread_id, id AS item_id, ts_rank(tsv, s.q) AS rank, seq,"  \
	" created_us, doc FROM items WHERE user_id = $1 AND tsv @@ s.q" item_cond            \
	" AND thread_id NOT IN " EXPIRED_IDS                                               \
	" UNION ALL SELECT id, NULL, ts_rank(tsv, s.q), seq, created_us, doc FROM threads"  \
	" WHERE user_id = $1 AND tsv @@ s.q" thread_cond LIVE ") a"                         \
	" WHERE a.rank < c.rank OR (a.rank = c.rank AND a.seq < c.seq)"                     \
	" ORDER BY a.rank DESC, a.seq DESC LIMIT $5) h ORDER BY h.rank DESC, h.seq DESC"

#define COUNT_GIN                                                                          \
	"(SELECT count(*) FROM threads WHERE threadstore_owned_facets(user_id, doc, facets)" \
	" @> jsonb_build_object('u', $1::text, 'f', $2::text::jsonb)"                      \
	" AND user_id = $1 COLLATE \"C\"" LIVE ")"
/* The counters (sql/009) hold every thread until the sweep deletes it: the
 * expired ones that match the filter are taken off (few rows: sql/013's
 * partial index of expiring threads). */
#define EXPIRED_COUNTED                                                                    \
	"(SELECT count(*) FROM threads WHERE user_id = $1 AND expires_us <= " NOW_US         \
	" AND ($2::text = '{}' OR COALESCE(facets, threadstore_facets(doc)) @> $2::text::jsonb))"
/* A thread past its expiry stays expired when saved again: it is gone, and
 * the sweep deletes it (issue 13). threadstore_expired (sql/014): the
 * statement's time in a function Citus lets an upsert's DO UPDATE call. */
#define EXPIRY_KEPT                                                                        \
	" expires_us = CASE WHEN threadstore_expired(threads.expires_us)"                  \
	" THEN threads.expires_us ELSE EXCLUDED.expires_us END"
/* The attachments whose document names the thread (sql/013 attachments_by_thread). */
#define ATTACHMENTS_OF(thread)                                                             \
	"DELETE FROM attachments WHERE user_id = $1"                                       \
	" AND threadstore_jsonb(doc) ->> 'thread_id' = " thread " RETURNING id, doc"
/* Several changes in one statement (a thread's deletion with its attachments,
 * an erase batch): the rows of CTE `cr` (k, kind, thread_id, item_id,
 * attachment_id, attachment), k = 1..count, are numbered after the user's
 * head, which moves by their count under the same row lock as CHANGE's. */
#define CHANGES_HEAD(cr)                                                                   \
	"head AS (INSERT INTO change_heads AS h (user_id, n, at_us) SELECT $1, c, " NOW_US \
	" FROM (SELECT count(*) AS c FROM " cr ") k WHERE c > 0 ON CONFLICT (user_id) DO"  \
	" UPDATE SET n = h.n + EXCLUDED.n, at_us = GREATEST(h.at_us, EXCLUDED.at_us)"      \
	" RETURNING n, at_us)"
#define CHANGES_INSERT(cr)                                                                 \
	"INSERT INTO changes (user_id, n, kind, thread_id, item_id, attachment_id,"          \
	" attachment, at_us) SELECT $1, head.n - (SELECT count(*) FROM " cr ") + c.k,"      \
	" c.kind, c.thread_id, c.item_id, c.attachment_id, c.attachment, head.at_us"         \
	" FROM head, " cr " c"
#define CHANGES(cr) CHANGES_HEAD(cr) ", chg AS (" CHANGES_INSERT(cr) ")"
/* attachment.deleted rows for CHANGES, from a CTE of deleted (id, doc) */
#define ATTACHMENTS_DELETED(a)                                                             \
	"SELECT row_number() OVER () AS k, text 'attachment.deleted' AS kind,"             \
	" threadstore_jsonb(doc) ->> 'thread_id' AS thread_id, NULL::text AS item_id,"     \
	" id AS attachment_id, doc AS attachment FROM " a

/* ---- issue 13: erase, export, the sweep, the operator's user list ----
 * Erase and sweep statements each delete one bounded batch, found first
 * (keyset or plain LIMIT) and deleted by ctid (a TID scan, no second index
 * walk; the attachments' keyset by key range, for Citus); each is its own transaction, and the loop that drives them lives in
 * C (handlers_me.c, sweep.c). A batch is (deleted, last key..., scanned): the
 * scan found fewer than asked at the end of the keyset. */
#define BY_CTID(table, batch)                                                              \
	"DELETE FROM " table " WHERE user_id = $1 AND ctid = ANY (ARRAY(SELECT c FROM " batch "))"
/* A thread's deletion cascades to its items through a foreign-key query planned
 * with the thread's own id: for a thread that had a million rows when last
 * analysed that is a sequential scan of the whole table (1.6 s, measured), even
 * once its items are all gone. With this for the rest of the statement's
 * transaction the cascade runs its generic plan: an index scan of items_by_time
 * over entries the item batches already marked dead. Evaluated in the
 * statement's own select list, so before the cascade (an AFTER trigger at its
 * end). Not on Citus: there the whole statement runs on the worker, whose
 * count triggers (sql/009) then query the distributed thread_counts with a
 * generic plan, which Citus cannot plan ("could not create distributed
 * plan"); the setting is left as it is where citus_version() exists. */
#define GENERIC_PLANS(local)                                                               \
	"set_config('plan_cache_mode', CASE WHEN to_regproc('citus_version') IS NULL"        \
	" THEN 'force_generic_plan' ELSE current_setting('plan_cache_mode') END, " local ")"
#define GENERIC_CASCADE GENERIC_PLANS("true")
#define GENERIC_SESSION GENERIC_PLANS("false")
/* The sweep's check of thread $2 (expired, or with retention, $3 days, 0 =
 * none, its activity older than the limit), after the thread's row is locked
 * (sw_t): no write can touch it from then on (a touch key-share locks the
 * thread first), and the activity row is read FOR SHARE, so its newest
 * version, committed by a write that held the thread while this statement
 * waited, is the one compared: a thread a concurrent write made active is
 * never swept. sw_ok has a row when the thread may go. */
#define SWEEP_CHECK                                                                        \
	"sw_t AS (SELECT created_us, expires_us FROM threads WHERE user_id = $1 AND id = $2" \
	" FOR UPDATE), sw_a AS (SELECT updated_us FROM thread_activity WHERE user_id = $1"   \
	" AND thread_id = $2 AND EXISTS (SELECT 1 FROM sw_t) FOR SHARE),"                    \
	" sw_ok AS (SELECT 1 FROM sw_t WHERE expires_us <= " NOW_US " OR ($3::int > 0 AND"  \
	" COALESCE((SELECT updated_us FROM sw_a), created_us) < " NOW_US                      \
	" - $3::bigint * 86400000000))"

/* An upsert keeps the row's place (seq) unless created_at moves. */
#define KEEP_SEQ(table)                                                                    \
	" seq = CASE WHEN " table ".created_us = EXCLUDED.created_us"                      \
	" THEN " table ".seq ELSE EXCLUDED.seq END"

const struct query queries[Q_ALL] = {
	[Q_THREAD_GET] = {"thread_get",
		"SELECT doc FROM threads WHERE user_id = $1 AND id = $2" LIVE, 2, false, false},
	[Q_THREAD_GET_WITH_ITEMS] = {"thread_get_items",
		"SELECT 0, id, doc, NULL FROM threads WHERE user_id = $1 AND id = $2" LIVE
		" UNION ALL (SELECT 1, id, doc, n FROM (" ITEM_FIRST("ASC") ") i)", 4, false, false},
	/* The thread and its activity row (ACTIVITY_PUT): the threads' columns
	 * updated_us/updated_seq are an older binary's (sql/008). The thread in
	 * a CTE, then its activity from the thread's facets, then the change
	 * (CHANGE_SELECT): Citus plans no subquery in an INSERT's VALUES, and runs
	 * each CTE as its own statement on the worker, in the order listed, before
	 * the main one (an activity row before its thread would fail the foreign
	 * key there). Lock order as every write: the thread, then its activity,
	 * then the head. */
	[Q_THREAD_PUT] = {"thread_put",
		"WITH t AS (INSERT INTO threads (user_id, id, created_us, seq, doc, facets, tsv,"
		" expires_us) VALUES ($1, $2, $3, nextval('threadstore_seq'), $4,"
		" threadstore_facets($4), threadstore_tsvector($5, threadstore_title($4)),"
		" NULLIF($6, '')::bigint)"
		" ON CONFLICT (user_id, id) DO UPDATE SET doc = EXCLUDED.doc,"
		KEEP_SEQ("threads") ", created_us = EXCLUDED.created_us,"
		" facets = EXCLUDED.facets, tsv = EXCLUDED.tsv," EXPIRY_KEPT " RETURNING facets),"
		" a AS (" ACTIVITY_PUT " RETURNING 1), "
		CHANGE(AFTER_WRITE("a") "true", "thread.saved", "$2", "NULL", "NULL", "NULL")
		CHANGE_SELECT, 6, true, false},
	/* The thread's attachments go with it (sql/013 attachments_by_thread),
	 * after the thread (d): the lock order of every write, the thread first. */
	[Q_THREAD_DELETE] = {"thread_delete",
		"WITH d AS (DELETE FROM threads WHERE user_id = $1 AND id = $2 RETURNING id),"
		" a AS (" ATTACHMENTS_OF("$2 AND (SELECT count(*) FROM d) >= 0") "),"
		" cr AS (" ATTACHMENTS_DELETED("a") " UNION ALL SELECT (SELECT count(*) FROM a) + 1,"
		" 'thread.deleted', $2, NULL, NULL, NULL FROM d), " CHANGES_HEAD("cr") " "
		CHANGES_INSERT("cr"), 2, true, false},
	[Q_THREADS_FIRST_ASC] = {"threads_first_asc",
		THREAD_FIRST("ASC"), 2, false, false},
	[Q_THREADS_FIRST_DESC] = {"threads_first_desc",
		THREAD_FIRST("DESC"), 2, false, false},
	[Q_THREADS_AFTER_ASC] = {"threads_after_asc", THREAD_PAGE(">", "ASC"), 3, false, false},
	[Q_THREADS_AFTER_DESC] = {"threads_after_desc", THREAD_PAGE("<", "DESC"), 3, false, false},
	[Q_ITEM_GET] = {"item_get",
		"SELECT doc FROM items WHERE user_id = $1 AND thread_id = $2 AND id = $3"
		NOT_EXPIRED("$2"), 3, false, false},
	/* save_item: an upsert. INSERT ... VALUES (a single-row insert, also on a
	 * distributed PostgreSQL): the foreign key answers a missing thread (23503:
	 * 404) and covers a thread deleted concurrently. */
	[Q_ITEM_PUT] = {"item_put",
		"WITH touch AS (" TOUCH("= $2") " RETURNING 1),"
		" up AS (INSERT INTO items (user_id, thread_id, id, created_us, seq, doc,"
		" tsv) VALUES ($1, $2, $3, $4, nextval('threadstore_seq'), $5, " ITEM_TSV ")"
		" ON CONFLICT (user_id, thread_id, id) DO UPDATE SET doc = EXCLUDED.doc,"
		KEEP_SEQ("items") ", created_us = EXCLUDED.created_us, tsv = EXCLUDED.tsv"
		" RETURNING 1), "
		CHANGE(AFTER_TOUCH AFTER_WRITE("up") "true", "item.saved", "$2", "$3", "NULL", "NULL")
		CHANGE_SELECT, 6, true, false},
	/* add_thread_item: inserts, never overwrites. One row: (inserted, same)
	 * where `same` compares the stored document of an existing id with this
	 * one (NULL when the statement's snapshot has no such row: inserted now,
	 * or added by a transaction that committed after the snapshot). */
	[Q_ITEM_ADD] = {"item_add",
		"WITH ins AS (INSERT INTO items (user_id, thread_id, id, created_us, seq, doc, tsv)"
		" VALUES ($1, $2, $3, $4, nextval('threadstore_seq'), $5, " ITEM_TSV ")"
		" ON CONFLICT (user_id, thread_id, id) DO NOTHING RETURNING 1),"
		" touch AS (" TOUCH("= $2") " AND EXISTS (SELECT 1 FROM ins) RETURNING 1), "
		CHANGE(AFTER_TOUCH "EXISTS (SELECT 1 FROM ins)", "item.added", "$2", "$3", "NULL", "NULL")
		" SELECT EXISTS (SELECT 1 FROM ins), (SELECT doc = $5 FROM items"
		" WHERE user_id = $1 AND thread_id = $2 AND id = $3)," CHANGE_ROW, 6, true, false},
	[Q_ITEM_DELETE] = {"item_delete",
		"WITH d AS (DELETE FROM items WHERE user_id = $1 AND thread_id = $2 AND id = $3"
		" RETURNING 1), " CHANGE("EXISTS (SELECT 1 FROM d)", "item.deleted", "$2", "$3",
		"NULL", "NULL") " " TOUCH("= $2") " AND EXISTS (SELECT 1 FROM d) RETURNING" CHANGE_ROW,
		3, true, false},
	[Q_ITEMS_FIRST_ASC] = {"items_first_asc",
		ITEM_FIRST("ASC"), 4, false, false},
	[Q_ITEMS_FIRST_DESC] = {"items_first_desc",
		ITEM_FIRST("DESC"), 4, false, false},
	[Q_ITEMS_AFTER_ASC] = {"items_after_asc", ITEM_PAGE(">", "ASC"), 5, false, false},
	[Q_ITEMS_AFTER_DESC] = {"items_after_desc", ITEM_PAGE("<", "DESC"), 5, false, false},
	/* Keyset on (created_us, seq) itself, not on an id: an item deleted during
	 * an export cannot break the walk. */
	[Q_ITEMS_EXPORT] = {"items_export",
		CAPPED("doc, created_us, seq", "SELECT doc, created_us, seq FROM items WHERE user_id = $1"
		" AND thread_id = $2 AND (created_us, seq) > ($3, $4)" NOT_EXPIRED("$2")
		" ORDER BY created_us, seq LIMIT $5", ORDER("ASC"), "$6"), 6, false, false},
	[Q_ATTACHMENT_GET] = {"attachment_get",
		"SELECT doc FROM attachments a WHERE user_id = $1 AND id = $2"
		NOT_EXPIRED("threadstore_jsonb(a.doc) ->> 'thread_id'"), 2, false, false},
	[Q_ATTACHMENT_PUT] = {"attachment_put",
		"WITH old AS (SELECT doc FROM attachments WHERE user_id = $1 AND id = $2),"
		" touch AS (" TOUCH("IN (SELECT threadstore_jsonb($3::text) ->> 'thread_id'"
		" UNION ALL SELECT threadstore_jsonb(doc) ->> 'thread_id' FROM old)") " RETURNING 1), "
		" up AS (INSERT INTO attachments (user_id, id, doc) VALUES ($1, $2, $3)"
		" ON CONFLICT (user_id, id) DO UPDATE SET doc = EXCLUDED.doc RETURNING 1), "
		CHANGE(AFTER_TOUCH AFTER_WRITE("up") "true", "attachment.saved",
		"threadstore_jsonb($3::text) ->> 'thread_id'",
		"NULL", "$2", "NULL")
		CHANGE_SELECT, 3, true, false},
	[Q_ATTACHMENT_DELETE] = {"attachment_delete",
		"WITH d AS (DELETE FROM attachments WHERE user_id = $1 AND id = $2 RETURNING doc), "
		CHANGE("EXISTS (SELECT 1 FROM d)", "attachment.deleted",
		"(SELECT threadstore_jsonb(doc) ->> 'thread_id' FROM d)", "NULL", "$2",
		"(SELECT doc FROM d)") " " TOUCH("= (SELECT threadstore_jsonb(doc) ->> 'thread_id' FROM d)"), 2, true, false},
	/* Thread lists with order_by, filters or before= (T2_*): the order is
	 * creation (C) or activity (U); FIRST, AFTER, and BEFORE (reversed scan). */
	[Q_T2_C_FIRST_ASC] = {"t2_c_first_asc", T2_FIRST(FROM_C, FACETS_C, KC1, KC2, "ASC"), 3, false, false},
	[Q_T2_C_FIRST_DESC] = {"t2_c_first_desc", T2_FIRST(FROM_C, FACETS_C, KC1, KC2, "DESC"), 3, false, false},
	[Q_T2_C_AFTER_ASC] = {"t2_c_after_asc", T2_PAGE(FROM_C, ID_C, FACETS_C, KC1, KC2, ">", "ASC"), 4, false, false},
	[Q_T2_C_AFTER_DESC] = {"t2_c_after_desc", T2_PAGE(FROM_C, ID_C, FACETS_C, KC1, KC2, "<", "DESC"), 4, false, false},
	[Q_T2_C_BEFORE_ASC] = {"t2_c_before_asc", T2_PAGE(FROM_C, ID_C, FACETS_C, KC1, KC2, "<", "DESC"), 4, false, false},
	[Q_T2_C_BEFORE_DESC] = {"t2_c_before_desc", T2_PAGE(FROM_C, ID_C, FACETS_C, KC1, KC2, ">", "ASC"), 4, false, false},
	[Q_T2_U_FIRST_ASC] = {"t2_u_first_asc", T2_FIRST(FROM_U, FACETS_U, KU1, KU2, "ASC"), 4, false, false},
	[Q_T2_U_FIRST_DESC] = {"t2_u_first_desc", T2_FIRST(FROM_U, FACETS_U, KU1, KU2, "DESC"), 4, false, false},
	[Q_T2_U_AFTER_ASC] = {"t2_u_after_asc", T2_PAGE(FROM_U, ID_U, FACETS_U, KU1, KU2, ">", "ASC"), 5, false, false},
	[Q_T2_U_AFTER_DESC] = {"t2_u_after_desc", T2_PAGE(FROM_U, ID_U, FACETS_U, KU1, KU2, "<", "DESC"), 5, false, false},
	[Q_T2_U_BEFORE_ASC] = {"t2_u_before_asc", T2_PAGE(FROM_U, ID_U, FACETS_U, KU1, KU2, "<", "DESC"), 5, false, false},
	[Q_T2_U_BEFORE_DESC] = {"t2_u_before_desc", T2_PAGE(FROM_U, ID_U, FACETS_U, KU1, KU2, ">", "ASC"), 5, false, false},
	/* Counts, $2 the filter ('{}' for none): the maintained row of the user's
	 * total or of the one condition (sql/009), 0 when no thread matches it; with
	 * two conditions or more, or for a user not counted yet, through the
	 * indexes: COUNT_GIN, the threads_facets index only (sql/007: the user is in
	 * its key; the user check compares under the "C" collation: the same equality,
	 * but no btree on user_id can serve it, and Citus still routes on it). Each subquery is an InitPlan, run only if its branch is taken. */
	[Q_THREADS_COUNT] = {"threads_count",
		"SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM thread_counts"
		"  WHERE user_id = $1 AND facet = '{}')"
		" THEN CASE WHEN $2::text = '{}'"
		"  THEN (SELECT count(*) FROM threads WHERE user_id = $1" LIVE ") ELSE " COUNT_GIN " END"
		" WHEN (SELECT count(*) FROM jsonb_object_keys(COALESCE($2::text::jsonb -> 'm',"
		"  '{}'))) + ($2::text::jsonb ? 's')::int <= 1"
		" THEN COALESCE((SELECT n FROM thread_counts WHERE user_id = $1"
		"  AND facet = $2::text::jsonb), 0) - " EXPIRED_COUNTED
		" ELSE " COUNT_GIN " END", 2, false, false},
	/* before= on items: the reversed scan, sent in reverse (page.c) */
	[Q_ITEMS_BEFORE_ASC] = {"items_before_asc", ITEM_PAGE("<", "DESC"), 5, false, false},
	[Q_ITEMS_BEFORE_DESC] = {"items_before_desc", ITEM_PAGE(">", "ASC"), 5, false, false},
	[Q_SEARCH] = {"search", SEARCH("", ""), 5, false, false},
	[Q_SEARCH_THREAD] = {"search_thread",
		SEARCH(" AND thread_id = $6", " AND id = $6"), 6, false, false},
	/* The caller's changes after number $2, $3 at most, with the user's head
	 * and oldest retained number (feed.c decides 400/410 from them): always
	 * one row at least, of NULL change columns when none follows. */
	[Q_CHANGES_PAGE] = {"changes_page",
		"SELECT h.n, (SELECT min(n) FROM changes WHERE user_id = $1), c.n, c.kind,"
		" c.thread_id, c.item_id, c.attachment_id, c.attachment, c.at_us, c.scanned"
		" FROM (SELECT 1) x LEFT JOIN change_heads h ON h.user_id = $1"
		" LEFT JOIN LATERAL (" CHANGES_CAPPED("SELECT * FROM changes WHERE user_id = $1"
		" AND n > $2 ORDER BY n LIMIT $3", "n", "$4") ") c ON true ORDER BY c.n",
		4, false, false},
	/* Every user's changes after the key ($1 xid, $2 user, $3 n), in key order,
	 * only those whose transaction's xid is below the snapshot's xmin: every
	 * transaction that could still commit a smaller key has ended, so a reader
	 * never passes a change that commits later (a long transaction delays the
	 * feed, never breaks it). First column: the sweep's mark (410 below it).
	 * The xmin is read through change_sweeps: on Citus that table stays on
	 * the coordinator (citus.c), so the xmin is the coordinator's, whose xids
	 * the changes' default holds (Citus evaluates it there: the record is an
	 * INSERT ... SELECT pulled to the coordinator); pg_current_snapshot()
	 * beside the distributed table would run on each worker, in another xid
	 * space. */
	[Q_ADMIN_CHANGES] = {"admin_changes",
		"SELECT (SELECT xid FROM change_sweeps), c.xid, c.user_id, c.n, c.kind,"
		" c.thread_id, c.item_id, c.attachment_id, c.attachment, c.at_us, c.scanned"
		" FROM (SELECT 1) x LEFT JOIN LATERAL (" CHANGES_CAPPED("SELECT * FROM changes"
		" WHERE xid < (SELECT pg_snapshot_xmin(pg_current_snapshot()) FROM change_sweeps)"
		" AND (xid, user_id COLLATE \"C\", n) > ($1::text::xid8, $2::text COLLATE \"C\", $3)"
		" ORDER BY xid, user_id COLLATE \"C\", n LIMIT $4",
		"xid, user_id COLLATE \"C\", n", "$5") ") c ON true"
		" ORDER BY c.xid, c.user_id COLLATE \"C\", c.n", 5, false, true},
	/* The users who wrote and their changes ($1: feed_notify.h's batch, payloads
	 * separated by 0x1f, one notification each, in order; or "*"), to every
	 * instance's LISTEN: one short transaction for a batch of writes, which
	 * need not wait for its WAL flush (nothing of it must survive a crash:
	 * the changes are in the table, and a LISTEN that comes back catches up). */
	[Q_CHANGES_NOTIFY] = {"changes_notify",
		"SELECT set_config('synchronous_commit', 'off', true), (SELECT count(pg_notify('"
		CHANGES_CHANNEL "', p)) FROM unnest(string_to_array($1, chr(31))) p)", 1, true, true},
	/* Retention: up to $2 changes older than $1 µs, oldest first; per user
	 * that is a prefix of its numbers (at_us never goes back). One instance at
	 * a time (a transaction's advisory lock: fine behind a pooler); the others'
	 * sweeps remove nothing. Returns how many went; the mark keeps the largest
	 * xid removed. */
	[Q_CHANGES_SWEEP] = {"changes_sweep",
		"WITH l AS (SELECT pg_try_advisory_xact_lock(" SWEEP_LOCK_KEY ") AS ok),"
		" d AS (DELETE FROM changes c USING (SELECT user_id, n FROM changes"
		" WHERE at_us < " NOW_US " - $1 AND (SELECT ok FROM l)"
		" ORDER BY at_us, user_id, n LIMIT $2) o"
		" WHERE c.user_id = o.user_id AND c.n = o.n RETURNING c.xid),"
		" m AS (UPDATE change_sweeps SET xid = GREATEST(xid, (SELECT max(xid) FROM d))"
		" WHERE EXISTS (SELECT 1 FROM d))"
		" SELECT count(*) FROM d", 2, true, true},
	/* The pool's own. A write's position is read after its commit, in the
	 * next batch on the same connection: the insert position read inside the
	 * write's transaction is before its commit record, and a standby that
	 * replayed that far may still lack the commit (recovery_min_apply_delay
	 * holds exactly the commit records back). The insert position is past
	 * the commit record whatever synchronous_commit says (the flush position
	 * is not, with synchronous_commit = off). NULL on a standby. */
	/* Every statement here is written for its generic plan (the plans in
	 * bench/README.md are generic ones). Left to plan_cache_mode = auto,
	 * PostgreSQL picks per statement and may flip to planning each execution
	 * after an ANALYZE changes its estimates: threads_count did on the bench
	 * data, 1.4 ms a count instead of 0.14 (p99 19 ms instead of 6 at 32
	 * clients). Session-wide, sent first on each new connection under
	 * --statements prepared (unnamed ones are planned at each execution
	 * anyway, with their parameters' values); not on
	 * Citus (GENERIC_CASCADE says why). Behind a transaction-mode pooler the
	 * setting stays on the server connection it ran on: harmless to other
	 * clients, and a server connection without it plans as before. */
	[Q_SESSION] = {"session", "SELECT " GENERIC_SESSION, 0, false, false},
	[Q_WAL_LSN] = {"wal_lsn", "SELECT pg_current_wal_insert_lsn()::text", 0, false, false},
	/* The lag probe's reference: a standby can only replay flushed WAL, and
	 * its replay position ends where a record ends, as the flush position does. */
	[Q_WAL_FLUSH] = {"wal_flush", "SELECT pg_current_wal_flush_lsn()::text", 0, false, false},
	/* NULL when the node is not in recovery (not, or no longer, a standby). */
	[Q_REPLAY_LSN] = {"replay_lsn", "SELECT pg_last_wal_replay_lsn()::text", 0, false, false},
	/* ---- issue 13 (see above the table) ---- */
	/* Items in items_by_time order from the key $2, a JSON [thread_id,
	 * created_us, seq], $3 rows. The thread's deletion cascades to its items
	 * through a foreign-key query that scans items_by_time or the primary key
	 * for the thread: over a million deleted rows still in the indexes that
	 * is 1.7 s (measured) in one statement, stalling what is pipelined behind
	 * it. So each batch also walks over the entries of the one before it
	 * (deleted, and by now dead to every snapshot), which marks them dead in
	 * the index (LP_DEAD) and later scans skip them: in items_by_time, the
	 * caller passes the start of the previous batch as $2; in the primary key,
	 * $4 is the previous batch's [[thread_id, id], ...], probed one by one (a
	 * subquery per key: as a join the planner reads the user's whole key range).
	 * (deleted, last key, scanned, this batch's keys, probed) */
	[Q_ERASE_ITEMS] = {"erase_items",
		"WITH k AS (SELECT sum((SELECT count(*) FROM items i WHERE i.user_id = $1"
		" AND i.thread_id = x ->> 0 AND i.id = x ->> 1)) AS n"
		" FROM jsonb_array_elements($4::jsonb) x),"
		" b AS (SELECT ctid AS c, thread_id, id, created_us, seq FROM items WHERE user_id = $1"
		" AND (thread_id, created_us, seq) > ($2::jsonb ->> 0, ($2::jsonb ->> 1)::bigint,"
		" ($2::jsonb ->> 2)::bigint) ORDER BY thread_id, created_us, seq LIMIT $3),"
		" d AS (" BY_CTID("items", "b") " RETURNING 1)"
		" SELECT (SELECT count(*) FROM d), (SELECT jsonb_build_array(thread_id, created_us, seq)"
		" FROM b ORDER BY thread_id DESC, created_us DESC, seq DESC LIMIT 1),"
		" (SELECT count(*) FROM b), (SELECT jsonb_agg(jsonb_build_array(thread_id, id)) FROM b),"
		" (SELECT n FROM k)", 4, true, false},
	/* A thread's remaining items (written behind the item phase) go by cascade. */
	[Q_ERASE_THREADS] = {"erase_threads",
		"WITH b AS (SELECT ctid AS c, id FROM threads WHERE user_id = $1 AND id > $2"
		" ORDER BY id LIMIT $3), d AS (" BY_CTID("threads", "b") " RETURNING 1)"
		" SELECT (SELECT count(*) FROM d), (SELECT max(id) FROM b), (SELECT count(*) FROM b), "
		GENERIC_CASCADE, 3, true, false},
	/* By key range, not ctid: the batch's bound (and size) found first, then
	 * the range (id > $2 AND id <= bound) deleted at the same snapshot. Citus
	 * routes that to the user's shard; a delete by ctid or by id from a batch
	 * CTE that the change records also read, it plans recursively and refuses.
	 * (deleted, last key, scanned) */
	[Q_ERASE_ATTACHMENTS] = {"erase_attachments",
		"WITH b AS (SELECT max(id) AS last, count(*) AS n FROM (SELECT id FROM attachments"
		" WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3) s),"
		" d AS (DELETE FROM attachments WHERE user_id = $1 AND id > $2"
		" AND id <= (SELECT last FROM b) RETURNING id, doc),"
		" cr AS (" ATTACHMENTS_DELETED("d") "), " CHANGES("cr")
		" SELECT (SELECT count(*) FROM d), (SELECT last FROM b), (SELECT n FROM b)",
		3, true, false},
	/* The end of an erase: whatever the user wrote behind the keyset walks, in
	 * one statement, until one finds nothing: then, at that statement's
	 * snapshot, the user had no thread (hence no item) and no attachment. */
	[Q_ERASE_FINAL] = {"erase_final",
		"WITH bt AS (SELECT ctid AS c FROM threads WHERE user_id = $1 LIMIT $2),"
		" ba AS (SELECT ctid AS c FROM attachments WHERE user_id = $1 LIMIT $2),"
		" t AS (" BY_CTID("threads", "bt") " RETURNING 1),"
		" a AS (" BY_CTID("attachments", "ba") " RETURNING id, doc),"
		" cr AS (" ATTACHMENTS_DELETED("a") " UNION ALL SELECT 1, 'user.erased', NULL, NULL,"
		" NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM t) AND NOT EXISTS (SELECT 1 FROM a)), "
		CHANGES("cr") " SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM a), "
		GENERIC_CASCADE, 2, true, false},
	/* GET /v1/me/export: the next live thread in creation order (one at a
	 * time: its items follow it), (id, doc, created_us, seq) */
	[Q_EXPORT_THREADS] = {"export_threads",
		"SELECT id, doc, created_us, seq FROM threads WHERE user_id = $1"
		" AND (created_us, seq) > ($2, $3)" LIVE " ORDER BY created_us, seq LIMIT 1", 3, false, false},
	[Q_EXPORT_ATTACHMENTS] = {"export_attachments",
		CAPPED("id, doc", "SELECT id, doc FROM attachments a WHERE user_id = $1 AND id > $2"
		NOT_EXPIRED("threadstore_jsonb(a.doc) ->> 'thread_id'") " ORDER BY id LIMIT $3",
		"id", "$4"), 4, false, false},
	/* The sweep: its lease ($1 the instance, $2 the lease in ms; global). */
	[Q_SWEEP_LEASE] = {"sweep_lease",
		"UPDATE threadstore_sweep SET owner = $1, until_us = " NOW_US " + $2::bigint * 1000"
		" WHERE id = 1 AND (owner = $1 OR until_us < " NOW_US ") RETURNING 1", 2, true, true},
	/* Expired threads of all users, oldest expiry first (sql/013 threads_expiry). */
	[Q_SWEEP_EXPIRED] = {"sweep_expired",
		"SELECT user_id, id FROM threads WHERE expires_us <= " NOW_US
		" ORDER BY expires_us LIMIT $1", 1, false, true},
	/* Retention: a walk of all threads in key order from ($1, $2), $3 days,
	 * $4 rows; (user_id, id, old). */
	[Q_SWEEP_RETAINED] = {"sweep_retained",
		"SELECT t.user_id, t.id, COALESCE(a.updated_us, t.created_us) < " NOW_US
		" - $3::bigint * 86400000000 FROM threads t LEFT JOIN thread_activity a"
		" ON a.user_id = t.user_id AND a.thread_id = t.id WHERE (t.user_id, t.id) > ($1, $2)"
		" ORDER BY t.user_id, t.id LIMIT $4", 4, false, true},
	/* One batch of a swept thread's items ($2 the thread, $4 rows), while the
	 * thread is still sweepable: its row is locked, so an item written
	 * meanwhile (its touch waits) makes the next batch find it active. As the
	 * erase's batches (Q_ERASE_ITEMS), each walks over the entries of the one
	 * before, for the thread's cascade: in items_by_time from the thread's
	 * start, and in the primary key by probing $5, the previous batch's ids.
	 * (deleted, this batch's ids as JSON) */
	[Q_SWEEP_ITEMS] = {"sweep_items",
		"WITH " SWEEP_CHECK ", k AS (SELECT sum((SELECT count(*) FROM items i WHERE i.user_id = $1"
		" AND i.thread_id = $2 AND i.id = x)) AS n FROM jsonb_array_elements_text($5::jsonb) x),"
		" b AS (SELECT ctid AS c, id FROM items WHERE user_id = $1 AND thread_id = $2"
		" AND EXISTS (SELECT 1 FROM sw_ok) ORDER BY created_us, seq LIMIT $4),"
		" d AS (" BY_CTID("items", "b") " RETURNING 1) SELECT (SELECT count(*) FROM d),"
		" (SELECT jsonb_agg(id) FROM b), (SELECT n FROM k)", 5, true, false},
	/* The swept thread itself, if still sweepable, with its attachments: (threads, attachments) */
	[Q_SWEEP_THREAD] = {"sweep_thread",
		"WITH " SWEEP_CHECK ", t AS (DELETE FROM threads WHERE user_id = $1 AND id = $2"
		" AND EXISTS (SELECT 1 FROM sw_ok) RETURNING id), a AS (DELETE FROM attachments WHERE user_id = $1"
		" AND threadstore_jsonb(doc) ->> 'thread_id' = $2 AND EXISTS (SELECT 1 FROM t)"
		" RETURNING id, doc), cr AS (" ATTACHMENTS_DELETED("a") " UNION ALL SELECT"
		" (SELECT count(*) FROM a) + 1, 'thread.deleted', $2, NULL, NULL, NULL FROM t), "
		CHANGES("cr") " SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM a), "
		GENERIC_CASCADE, 3, true, false},
	/* GET /admin/v1/users: users after $1 in id order, $2 = limit + 1; the
	 * first $2 user ids of each table grouped (Citus pushes the GROUP BY on
	 * the distribution column down to every shard and merges the ORDER BY and
	 * LIMIT), then each count grouped over the page's id range (one pass per
	 * table, no per-user subquery: Citus plans each as its own fan-out).
	 * (user_id, threads, items, attachments, activity us). Counts are of what
	 * is stored. */
#define USERS_IN_PAGE(table) " FROM " table " WHERE user_id > $1 AND user_id <= (SELECT last FROM r)"
	[Q_ADMIN_USERS] = {"admin_users",
		"WITH u AS (SELECT id FROM (SELECT user_id AS id FROM threads WHERE user_id > $1"
		" GROUP BY user_id ORDER BY user_id LIMIT $2) t UNION SELECT id FROM (SELECT user_id"
		" AS id FROM attachments WHERE user_id > $1 GROUP BY user_id ORDER BY user_id LIMIT $2) a"
		" ORDER BY id LIMIT $2), r AS (SELECT max(id) AS last FROM u),"
		" t AS (SELECT user_id, count(*) AS n, max(created_us) AS c" USERS_IN_PAGE("threads")
		" GROUP BY user_id), i AS (SELECT user_id, count(*) AS n" USERS_IN_PAGE("items")
		" GROUP BY user_id), a AS (SELECT user_id, count(*) AS n" USERS_IN_PAGE("attachments")
		" GROUP BY user_id), ac AS (SELECT user_id, max(updated_us) AS m"
		USERS_IN_PAGE("thread_activity") " GROUP BY user_id)"
		" SELECT u.id, coalesce(t.n, 0), coalesce(i.n, 0), coalesce(a.n, 0), GREATEST(ac.m, t.c)"
		" FROM u LEFT JOIN t ON t.user_id = u.id LEFT JOIN i ON i.user_id = u.id"
		" LEFT JOIN a ON a.user_id = u.id LEFT JOIN ac ON ac.user_id = u.id ORDER BY u.id",
		2, false, true},
#undef USERS_IN_PAGE
};
/* clang-format on */

void queries_stmt_name(const struct query *q, char out[QUERY_NAME_MAX])
{
	/* FNV-1a over the text and the parameter count: a name, not a security
	 * boundary (both versions' texts are ours), so 32 bits folded from 64 do. */
	uint64_t h = 14695981039346656037ull;
	for (const unsigned char *s = (const unsigned char *)q->sql; *s; s++)
		h = (h ^ *s) * 1099511628211ull;
	h = (h ^ (uint64_t)q->nparams) * 1099511628211ull;
	snprintf(out, QUERY_NAME_MAX, "%.30s_%08x", q->name, (unsigned)(h ^ (h >> 32)));
}
