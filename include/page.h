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

#include "response.h"

struct request;

#define PAGE_DEFAULT_LIMIT 20
#define PAGE_MAX_LIMIT 1000

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
/* Answers a single-document query: the doc in column 0, or 404 `what`. */
void page_reply_doc(struct request *r, PGresult *res, const char *what);
/* Answers a write: `status` when a row was affected, else 404 `what` (NULL: always status). */
void page_reply_write(struct request *r, PGresult *res, int status, const char *what);

#endif
