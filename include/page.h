/* page.h: replies assembled from stored rows, without parsing documents.
 *
 * Page JSON is {"data":[doc,...],"has_more":bool,"after":"<last id>"|null},
 * with `after` set only when has_more. Query results carry limit+1 rows so
 * has_more needs no count. Documents are referenced in the PGresult, which
 * the reply keeps until the bytes are written. */
#ifndef THREADSTORE_PAGE_H
#define THREADSTORE_PAGE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "response.h"
#include "router.h"

struct request;

#define PAGE_DEFAULT_LIMIT 20
#define PAGE_MAX_LIMIT 1000

/* A decimal count from 1 to max, digits only (no sign, space or decoded NUL);
 * -1 otherwise. */
int page_count(const char *s, size_t n, int max);
/* Reads limit, order and after from the query string into r->limit, *desc and
 * r->after. Returns 0, or -1 after answering 400. */
int page_params(struct request *r, bool default_desc, bool *desc)
    __attribute__((warn_unused_result));
/* Appends a page of rows [row0, row0+nrows) to rep; nrows may be limit+1.
 * n_col is the column holding how many rows the scan found before the byte
 * cut (queries.c CAPPED): more than nrows means the page was cut short. */
void page_append(struct reply *rep, PGresult *res, int row0, int nrows, int id_col, int doc_col,
		 int n_col, int limit);
/* The byte budget of one page as a query parameter (text), in `out`. */
int page_budget_param(struct request *r, char out[24]);
/* Answers a page query of (id, doc, n) rows. With a cursor, no rows at all means
 * the cursor is unknown (404), and one row of NULLs an empty page. */
void page_reply(struct request *r, PGresult *res, bool with_cursor);
/* ---- pages of the history API (order_by, filters, before=) ---- */

enum page_cursor { PAGE_FIRST, PAGE_AFTER, PAGE_BEFORE };

/* Columns of a page query's rows; act < 0: no activity time. */
struct page_cols {
	int id, doc, n, act;
};

/* The member each thread of a history list carries: its activity time. */
#define PAGE_ACTIVITY_MEMBER "threadstore_updated_at"

/* Answers a page query. PAGE_AFTER/BEFORE: no rows means the cursor is
 * unknown (404), one row of NULLs an empty page. PAGE_BEFORE rows come
 * nearest the cursor first (a reversed scan) and are sent in the requested
 * order; that page also carries "before" (its first id when has_more, else
 * null), and "after" is its last id (null when empty). With cols->act, each
 * document gets PAGE_ACTIVITY_MEMBER (ISO 8601, UTC, microseconds) spliced in
 * before its final '}'. */
void page_reply_cursor(struct request *r, PGresult *res, enum page_cursor mode,
		       const struct page_cols *cols);
/* Formats microseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
int page_format_us(long long us, char out[40]);
/* True when s[0..n) is valid UTF-8 without NUL (safe as a PostgreSQL text/jsonb value). */
bool page_text_ok(const char *s, size_t n);

/* Appends every metadata.<key>=<value> of the query string to f as the
 * member "m":{key: JSON value, ...} (nothing without filters): a value is a
 * JSON number, true, false or null when it reads as one, else a string ("..."
 * forces the string between the quotes). ORs each condition's bits
 * (page_facet_bits) into *sig. Returns NULL, or why it is a 400. */
const char *page_metadata_filters(struct span q, struct buf *f, uint64_t *sig)
    __attribute__((warn_unused_result));
/* The three bits of sql/016's 64-bit facet signature that condition text
 * cond[0..n) sets ("s" + status, "m" + key + ":" + value as threadstore_sig
 * spells them; page.c says how). */
uint64_t page_facet_bits(const char *cond, size_t n);

/* Answers a single-document query: the doc in column 0, or 404 `what`. */
void page_reply_doc(struct request *r, PGresult *res, const char *what);
/* Answers a write: `status` when a row was affected, else 404 `what` (NULL: always status). */
void page_reply_write(struct request *r, PGresult *res, int status, const char *what);

#endif
