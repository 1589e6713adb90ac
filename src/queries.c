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
#define CAPPED(cols, rows, order, budget)                                                  \
	"SELECT " cols ", n FROM (SELECT *,"                                               \
	" sum(octet_length(doc)) OVER w AS cum, row_number() OVER w AS rn,"               \
	" count(*) OVER () AS n FROM (" rows ") p"                                         \
	" WINDOW w AS (ORDER BY " order " ROWS UNBOUNDED PRECEDING)) b"                   \
	" WHERE rn = 1 OR cum <= " budget " ORDER BY " order

#define ORDER(dir) "created_us " dir ", seq " dir

#define THREAD_PAGE(cmp, dir)                                                              \
	"SELECT t.id, t.doc, t.n FROM"                                                     \
	" (SELECT created_us, seq FROM threads WHERE user_id = $1 AND id = $2) c"          \
	" LEFT JOIN LATERAL (" CAPPED("id, doc, created_us, seq",                          \
	"   SELECT id, doc, created_us, seq FROM threads"                                  \
	"   WHERE user_id = $1 AND (created_us, seq) " cmp " (c.created_us, c.seq)"        \
	"   ORDER BY " ORDER(dir) " LIMIT $3", ORDER(dir), "$4") ") t ON true"              \
	" ORDER BY t.created_us " dir ", t.seq " dir

#define THREAD_FIRST(dir)                                                                  \
	CAPPED("id, doc", "SELECT id, doc, created_us, seq FROM threads WHERE user_id = $1" \
	       " ORDER BY " ORDER(dir) " LIMIT $2", ORDER(dir), "$3")

#define ITEM_PAGE(cmp, dir)                                                                \
	"SELECT t.id, t.doc, t.n FROM"                                                     \
	" (SELECT created_us, seq FROM items"                                              \
	"   WHERE user_id = $1 AND thread_id = $2 AND id = $3) c"                          \
	" LEFT JOIN LATERAL (" CAPPED("id, doc, created_us, seq",                          \
	"   SELECT id, doc, created_us, seq FROM items"                                    \
	"   WHERE user_id = $1 AND thread_id = $2 AND (created_us, seq) " cmp              \
	"   (c.created_us, c.seq) ORDER BY " ORDER(dir) " LIMIT $4", ORDER(dir), "$5")     \
	") t ON true ORDER BY t.created_us " dir ", t.seq " dir

#define ITEM_FIRST(dir)                                                                    \
	CAPPED("id, doc", "SELECT id, doc, created_us, seq FROM items"                     \
	       " WHERE user_id = $1 AND thread_id = $2 ORDER BY " ORDER(dir) " LIMIT $3",  \
	       ORDER(dir), "$4")

/* An upsert keeps the row's place (seq) unless created_at moves. */
#define KEEP_SEQ(table)                                                                    \
	" seq = CASE WHEN " table ".created_us = EXCLUDED.created_us"                      \
	" THEN " table ".seq ELSE EXCLUDED.seq END"

const struct query queries[Q_COUNT] = {
	[Q_THREAD_GET] = {"thread_get",
		"SELECT doc FROM threads WHERE user_id = $1 AND id = $2", 2, false},
	[Q_THREAD_GET_WITH_ITEMS] = {"thread_get_items",
		"SELECT 0, id, doc, NULL FROM threads WHERE user_id = $1 AND id = $2"
		" UNION ALL (SELECT 1, id, doc, n FROM (" ITEM_FIRST("ASC") ") i)", 4, false},
	[Q_THREAD_PUT] = {"thread_put",
		"INSERT INTO threads (user_id, id, created_us, seq, doc)"
		" VALUES ($1, $2, $3, nextval('threadstore_seq'), $4)"
		" ON CONFLICT (user_id, id) DO UPDATE SET doc = EXCLUDED.doc,"
		KEEP_SEQ("threads") ", created_us = EXCLUDED.created_us", 4, true},
	[Q_THREAD_DELETE] = {"thread_delete",
		"DELETE FROM threads WHERE user_id = $1 AND id = $2", 2, true},
	[Q_THREADS_FIRST_ASC] = {"threads_first_asc",
		THREAD_FIRST("ASC"), 3, false},
	[Q_THREADS_FIRST_DESC] = {"threads_first_desc",
		THREAD_FIRST("DESC"), 3, false},
	[Q_THREADS_AFTER_ASC] = {"threads_after_asc", THREAD_PAGE(">", "ASC"), 4, false},
	[Q_THREADS_AFTER_DESC] = {"threads_after_desc", THREAD_PAGE("<", "DESC"), 4, false},
	[Q_ITEM_GET] = {"item_get",
		"SELECT doc FROM items WHERE user_id = $1 AND thread_id = $2 AND id = $3", 3, false},
	/* save_item: an upsert. INSERT ... VALUES (a single-row insert, also on a
	 * distributed PostgreSQL): the foreign key answers a missing thread (23503:
	 * 404) and covers a thread deleted concurrently. */
	[Q_ITEM_PUT] = {"item_put",
		"INSERT INTO items (user_id, thread_id, id, created_us, seq, doc)"
		" VALUES ($1, $2, $3, $4, nextval('threadstore_seq'), $5)"
		" ON CONFLICT (user_id, thread_id, id) DO UPDATE SET doc = EXCLUDED.doc,"
		KEEP_SEQ("items") ", created_us = EXCLUDED.created_us", 5, true},
	/* add_thread_item: inserts, never overwrites. One row: (inserted, same)
	 * where `same` compares the stored document of an existing id with this
	 * one (NULL when the statement's snapshot has no such row: inserted now,
	 * or added by a transaction that committed after the snapshot). */
	[Q_ITEM_ADD] = {"item_add",
		"WITH ins AS (INSERT INTO items (user_id, thread_id, id, created_us, seq, doc)"
		" VALUES ($1, $2, $3, $4, nextval('threadstore_seq'), $5)"
		" ON CONFLICT (user_id, thread_id, id) DO NOTHING RETURNING 1)"
		" SELECT EXISTS (SELECT 1 FROM ins), (SELECT doc = $5 FROM items"
		" WHERE user_id = $1 AND thread_id = $2 AND id = $3)", 5, true},
	[Q_ITEM_DELETE] = {"item_delete",
		"DELETE FROM items WHERE user_id = $1 AND thread_id = $2 AND id = $3", 3, true},
	[Q_ITEMS_FIRST_ASC] = {"items_first_asc",
		ITEM_FIRST("ASC"), 4, false},
	[Q_ITEMS_FIRST_DESC] = {"items_first_desc",
		ITEM_FIRST("DESC"), 4, false},
	[Q_ITEMS_AFTER_ASC] = {"items_after_asc", ITEM_PAGE(">", "ASC"), 5, false},
	[Q_ITEMS_AFTER_DESC] = {"items_after_desc", ITEM_PAGE("<", "DESC"), 5, false},
	/* Keyset on (created_us, seq) itself, not on an id: an item deleted during
	 * an export cannot break the walk. */
	[Q_ITEMS_EXPORT] = {"items_export",
		CAPPED("doc, created_us, seq", "SELECT doc, created_us, seq FROM items WHERE user_id = $1"
		" AND thread_id = $2 AND (created_us, seq) > ($3, $4)"
		" ORDER BY created_us, seq LIMIT $5", ORDER("ASC"), "$6"), 6, false},
	[Q_ATTACHMENT_GET] = {"attachment_get",
		"SELECT doc FROM attachments WHERE user_id = $1 AND id = $2", 2, false},
	[Q_ATTACHMENT_PUT] = {"attachment_put",
		"INSERT INTO attachments (user_id, id, doc) VALUES ($1, $2, $3)"
		" ON CONFLICT (user_id, id) DO UPDATE SET doc = EXCLUDED.doc", 3, true},
	[Q_ATTACHMENT_DELETE] = {"attachment_delete",
		"DELETE FROM attachments WHERE user_id = $1 AND id = $2", 2, true},
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
