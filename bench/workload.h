/* workload.h: the bench data set's ids and the HTTP requests the workloads send.
 *
 * The ids are the same pure functions of indexes that bench/gen.sql uses, so the
 * load generator names users, threads and items without asking the database.
 * Request builders append one complete HTTP/1.1 request to a struct buf. */
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#include <stdint.h>

#include "buf.h"

#define WL_USER_BASE 1000000u		/* user u is (WL_USER_BASE + u) as text */
#define WL_BIG_USER "9000000"		/* owner of the long thread */
#define WL_BIG_THREAD_G 2147483647u	/* the long thread's global index */
#define WL_BIG_ITEM_BASE 1073741824u	/* its item i has index base + i */
#define WL_ID_LEN 13			/* "thr_" / "msg_" + 8 hex digits */
#define WL_MAX_GLOBAL_ITEMS 1073741824u /* users * threads * items stays below */

/* The data set's shape (gen.sql's users, threads, items, big_items). */
struct wl_shape {
	unsigned users;
	unsigned threads;
	unsigned items;
	unsigned big_items;
};

/* xorshift64* generator; state must not be 0. */
uint64_t wl_rand(uint64_t *state);
/* Uniform in [0, n), n > 0. */
uint32_t wl_rand_below(uint64_t *state, uint32_t n);

/* mix(x) = (x * 2654435761) mod 2^32: a bijection on 32 bits. */
uint32_t wl_mix(uint64_t x);
/* out gets a NUL-terminated id; sizes are at least 16. */
void wl_user_id(unsigned u, char out[16]);
void wl_thread_id(const struct wl_shape *s, unsigned u, unsigned t, char out[16]);
void wl_item_id(const struct wl_shape *s, unsigned u, unsigned t, unsigned i, char out[16]);
void wl_big_thread_id(char out[16]);
void wl_big_item_id(unsigned i, char out[16]);

/* Common request head: method, target, Host, Authorization. */
struct wl_target {
	const char *host; /* Host header value, e.g. "127.0.0.1:8080" */
	const char *token;
};

/* GET /v1/threads?limit=20 */
void wl_req_list_threads(struct buf *out, const struct wl_target *tg);
/* GET /v1/threads/{tid}/items?limit=20[&after=][&order=desc] (after may be NULL) */
void wl_req_list_items(struct buf *out, const struct wl_target *tg, const char *tid,
		       const char *after, int desc);
/* POST /v1/threads/{tid}/items with a new ~300-byte user or assistant message, created now. */
void wl_req_add_item(struct buf *out, const struct wl_target *tg, const char *tid, int assistant,
		     uint64_t *rng);

/* The history user of bench/gen_history.sql: WL_HIST_THREADS threads, thread t's id
 * 'thr_' || hex8(mix(WL_HIST_THREAD_BASE + t)), metadata.project p0..p49, items with one
 * word ticket0..ticket9999 each. */
#define WL_HIST_USER "8000000"
#define WL_HIST_THREADS 100000u
#define WL_HIST_THREAD_BASE 1500000000u

/* One history request; which: 0 list by activity (first page, or after a random thread),
 * 1 a metadata filter, 2 a filtered count, 3 a count, 4 a search for a random ticket. */
void wl_req_history(struct buf *out, const struct wl_target *tg, int which, uint64_t *rng);

#endif
