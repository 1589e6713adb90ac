/* db_route.c: where each statement runs (primary or a replica), and the lag
 * probe that says which replicas are fresh enough. */
#include "db_route.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- the lag probe ----------------------------------------------------------------- */

/* The staleness bound of a node that has replayed up to `replay`, now: the
 * age of the newest primary sample it has reached; -1 when it has reached
 * none that is kept (then it is at least as old as the oldest kept). */
static int64_t staleness(const struct db_route *rt, uint64_t replay, uint64_t now)
{
	for (int k = 1; k <= rt->nsamples; k++) {
		int i = (rt->next_sample - k + DB_ROUTE_SAMPLES) % DB_ROUTE_SAMPLES;
		if (rt->samples[i].lsn <= replay)
			return (int64_t)(now - rt->samples[i].ms);
	}
	return -1;
}

static void on_primary_probe(void *owner, PGresult *res, enum db_status st, uint64_t lsn)
{
	(void)lsn;
	struct db_route *rt = owner;
	rt->primary_probe = NULL;
	bool is_null;
	uint64_t pos = st == DB_OK ? db_lsn_result(res, &is_null) : 0;
	if (res != NULL)
		PQclear(res);
	if (pos == 0)
		return;
	rt->samples[rt->next_sample].ms = rt->primary_probe_sent;
	rt->samples[rt->next_sample].lsn = pos;
	rt->next_sample = (rt->next_sample + 1) % DB_ROUTE_SAMPLES;
	if (rt->nsamples < DB_ROUTE_SAMPLES)
		rt->nsamples++;
}

static void on_replica_probe(void *owner, PGresult *res, enum db_status st, uint64_t lsn)
{
	(void)lsn;
	struct db_replica *n = owner;
	struct db_route *rt = n->route;
	n->probe = NULL;
	bool is_null = false;
	uint64_t pos = st == DB_OK ? db_lsn_result(res, &is_null) : 0;
	if (res != NULL)
		PQclear(res);
	if (is_null && !n->not_standby)
		log_error("replica is not in recovery: not used", "replica=%s", n->name);
	else if (!is_null && pos != 0 && n->not_standby)
		log_info("replica is in recovery again: used", "replica=%s", n->name);
	n->not_standby = is_null;
	if (pos == 0)
		return; /* the last answer ages: the node turns stale on its own */
	uint64_t now = uv_now(rt->loop);
	n->replay_lsn = pos;
	n->probed_ms = now;
	n->lag_ms = staleness(rt, pos, now);
}

static void on_probe_timer(uv_timer_t *t)
{
	struct db_route *rt = container_of(t, struct db_route, probe_timer);
	enum db_status st;
	if (rt->primary_probe == NULL && db_ready(rt->primary)) {
		rt->primary_probe_sent = uv_now(rt->loop);
		rt->primary_probe =
		    db_submit(rt->primary, Q_WAL_FLUSH, 0, NULL, NULL, on_primary_probe, rt, &st);
	}
	for (int i = 0; i < rt->nreplicas; i++) {
		struct db_replica *n = &rt->replicas[i];
		if (n->probe == NULL && db_ready(&n->pool))
			n->probe = db_submit(&n->pool, Q_REPLAY_LSN, 0, NULL, NULL,
					     on_replica_probe, n, &st);
	}
}

/* ---- routing ------------------------------------------------------------------------ */

int64_t db_route_lag_ms(const struct db_route *rt, int i)
{
	const struct db_replica *n = &rt->replicas[i];
	if (n->lag_ms < 0 || n->probed_ms == 0)
		return -1;
	return n->lag_ms + (int64_t)(uv_now(rt->loop) - n->probed_ms);
}

bool db_route_usable(const struct db_route *rt, int i, uint64_t min_lsn)
{
	const struct db_replica *n = &rt->replicas[i];
	int64_t lag = db_route_lag_ms(rt, i);
	return !rt->closing && !n->not_standby && db_ready(&n->pool) && lag >= 0 &&
	       lag <= (int64_t)rt->cfg->replica_max_lag_ms && n->replay_lsn >= min_lsn;
}

struct db_query *db_route_submit(struct db_route *rt, enum query_id qid, uint64_t min_lsn,
				 int nparams, const char *const *values, const int *lengths,
				 db_done_fn done, void *owner, enum db_status *status)
{
	if (rt->nreplicas > 0 && qid < Q_COUNT && !queries[qid].write) {
		for (int k = 0; k < rt->nreplicas; k++) {
			int i = (int)((rt->next + (unsigned)k) % (unsigned)rt->nreplicas);
			if (!db_route_usable(rt, i, min_lsn))
				continue;
			struct db_query *q = db_submit(&rt->replicas[i].pool, qid, nparams, values,
						       lengths, done, owner, status);
			if (q == NULL && *status == DB_BAD_PARAMS)
				return NULL;
			if (q != NULL) {
				rt->next = (unsigned)i + 1;
				rt->replicas[i].reads++;
				return q;
			}
		}
		rt->reads_primary++;
		if (min_lsn != 0)
			rt->reads_min_lsn_primary++;
	}
	return db_submit(rt->primary, qid, nparams, values, lengths, done, owner, status);
}

/* The reads whose empty answer means that a row the request names (by id,
 * or as a page's cursor) is not there: a 404. A replica may simply not have
 * replayed it yet (a cursor from a page another node served, an id from a
 * fresher replica), so the primary is asked before anyone is told 404. */
static bool names_a_row(enum query_id qid)
{
	switch (qid) {
	case Q_THREAD_GET:
	case Q_THREAD_GET_WITH_ITEMS:
	case Q_ITEM_GET:
	case Q_ATTACHMENT_GET:
	case Q_THREADS_AFTER_ASC:
	case Q_THREADS_AFTER_DESC:
	case Q_ITEMS_AFTER_ASC:
	case Q_ITEMS_AFTER_DESC:
	case Q_ITEMS_BEFORE_ASC:
	case Q_ITEMS_BEFORE_DESC:
	case Q_T2_C_AFTER_ASC:
	case Q_T2_C_AFTER_DESC:
	case Q_T2_C_BEFORE_ASC:
	case Q_T2_C_BEFORE_DESC:
	case Q_T2_U_AFTER_ASC:
	case Q_T2_U_AFTER_DESC:
	case Q_T2_U_BEFORE_ASC:
	case Q_T2_U_BEFORE_DESC: return true;
	default: return false;
	}
}

/* Whether a replica's read should go to its fallback (the primary): the node
 * was lost or shut down, recovery cancelled the read (a conflict with replay,
 * 40001), its schema lags the primary's (42P01, 42703, after a migration), or
 * a row the read names is not there (yet), none of which the primary would
 * answer the same way. */
bool db_route_hand_over(const struct db_pool *p, const struct db_query *q, enum db_status st)
{
	if (p->fallback == NULL || q->owner == NULL || q->done == NULL || q->qid >= Q_COUNT ||
	    queries[q->qid].write)
		return false;
	if (st == DB_UNAVAILABLE)
		return true;
	if (st == DB_OK && q->res != NULL && PQresultStatus(q->res) == PGRES_TUPLES_OK)
		return PQntuples(q->res) == 0 && names_a_row(q->qid);
	if (st != DB_OK || q->res == NULL || PQresultStatus(q->res) != PGRES_FATAL_ERROR)
		return false;
	const char *state = PQresultErrorField(q->res, PG_DIAG_SQLSTATE);
	return state == NULL || strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
	       strncmp(state, "53", 2) == 0 || strcmp(state, "40001") == 0 ||
	       strcmp(state, "42P01") == 0 || strcmp(state, "42703") == 0;
}

/* ---- WAL positions ------------------------------------------------------------------ */

int db_lsn_parse(const char *s, size_t n, uint64_t *out)
{
	uint64_t part[2] = {0, 0};
	size_t i = 0;
	for (int k = 0; k < 2; k++) {
		size_t digits = 0;
		for (; i < n && digits < 9; i++, digits++) {
			char ch = s[i];
			int v = ch >= '0' && ch <= '9'	 ? ch - '0'
				: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
				: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
							 : -1;
			if (v < 0)
				break;
			part[k] = part[k] << 4 | (uint64_t)v;
		}
		if (digits == 0 || digits > 8)
			return -1;
		if (k == 0 && (i >= n || s[i++] != '/'))
			return -1;
	}
	if (i != n)
		return -1;
	*out = part[0] << 32 | part[1];
	return 0;
}

uint64_t db_lsn_result(const PGresult *res, bool *is_null)
{
	uint64_t lsn = 0;
	*is_null = false;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return 0;
	if (PQgetisnull(res, 0, 0)) {
		*is_null = true;
		return 0;
	}
	if (db_lsn_parse(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), &lsn) < 0)
		return 0;
	return lsn;
}

void db_lsn_format(uint64_t lsn, char *out)
{
	snprintf(out, DB_LSN_MAX, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

/* ---- /metrics, /readyz ---------------------------------------------------------------- */

/* One gauge or counter family over the replicas: `value` prints replica i's
 * sample (the text after the labels). */
static void replica_family(const struct db_route *rt, struct buf *out, const char *head,
			   const char *name, const char *label,
			   void (*value)(const struct db_route *rt, int i, struct buf *out))
{
	buf_puts(out, head);
	for (int i = 0; i < rt->nreplicas; i++) {
		buf_printf(out, "%s{%s=\"%s\"} ", name, label, rt->replicas[i].name);
		value(rt, i, out);
	}
}

static void up_of(const struct db_route *rt, int i, struct buf *out)
{
	buf_printf(out, "%d\n", rt->replicas[i].pool.nready);
}

static void usable_of(const struct db_route *rt, int i, struct buf *out)
{
	buf_printf(out, "%d\n", db_route_usable(rt, i, 0));
}

static void lag_of(const struct db_route *rt, int i, struct buf *out)
{
	int64_t lag = db_route_lag_ms(rt, i);
	buf_printf(out, "%.3f\n", lag < 0 ? -1.0 : (double)lag / 1e3);
}

static void reads_of(const struct db_route *rt, int i, struct buf *out)
{
	buf_printf(out, "%lu\n", rt->replicas[i].reads);
}

static void served_of(const struct db_route *rt, int i, struct buf *out)
{
	buf_printf(out, "%lu\n", rt->replicas[i].pool.served);
}

static void handoffs_of(const struct db_route *rt, int i, struct buf *out)
{
	buf_printf(out, "%lu\n", rt->replicas[i].pool.handed_off);
}

void db_route_metrics(const struct db_route *rt, struct buf *out)
{
	replica_family(rt, out,
		       "# HELP threadstore_replica_up Read replica connections ready.\n"
		       "# TYPE threadstore_replica_up gauge\n",
		       "threadstore_replica_up", "replica", up_of);
	replica_family(rt, out,
		       "# HELP threadstore_replica_usable 1 while the replica takes reads "
		       "(up, in recovery, within --replica-max-lag).\n"
		       "# TYPE threadstore_replica_usable gauge\n",
		       "threadstore_replica_usable", "replica", usable_of);
	replica_family(rt, out,
		       "# HELP threadstore_replica_lag_seconds Staleness bound from the lag "
		       "probe (-1: unknown).\n"
		       "# TYPE threadstore_replica_lag_seconds gauge\n",
		       "threadstore_replica_lag_seconds", "replica", lag_of);
	buf_printf(out,
		   "# HELP threadstore_db_reads_total Reads routed, by node (primary: no "
		   "replica fit).\n"
		   "# TYPE threadstore_db_reads_total counter\n"
		   "threadstore_db_reads_total{node=\"primary\"} %lu\n",
		   rt->reads_primary);
	replica_family(rt, out, "", "threadstore_db_reads_total", "node", reads_of);
	buf_printf(out,
		   "# HELP threadstore_db_reads_min_lsn_primary_total Reads the primary served "
		   "because no replica had replayed their Threadstore-Min-LSN.\n"
		   "# TYPE threadstore_db_reads_min_lsn_primary_total counter\n"
		   "threadstore_db_reads_min_lsn_primary_total %lu\n",
		   rt->reads_min_lsn_primary);
	buf_printf(out,
		   "# HELP threadstore_db_served_total Queries answered, by node.\n"
		   "# TYPE threadstore_db_served_total counter\n"
		   "threadstore_db_served_total{node=\"primary\"} %lu\n",
		   rt->primary->served);
	replica_family(rt, out, "", "threadstore_db_served_total", "node", served_of);
	replica_family(rt, out,
		       "# HELP threadstore_replica_handoffs_total Reads a replica could not "
		       "answer, handed to the primary.\n"
		       "# TYPE threadstore_replica_handoffs_total counter\n",
		       "threadstore_replica_handoffs_total", "replica", handoffs_of);
}

void db_route_readyz(const struct db_route *rt, struct buf *out)
{
	char item[160];
	buf_puts(out, "\"replicas\":[");
	for (int i = 0; i < rt->nreplicas; i++) {
		const struct db_replica *n = &rt->replicas[i];
		int64_t lag = db_route_lag_ms(rt, i);
		snprintf(item, sizeof item,
			 "%s{\"name\":\"%s\",\"up\":%s,\"usable\":%s,\"lag_ms\":%" PRId64 "}",
			 i ? "," : "", n->name, db_ready(&n->pool) ? "true" : "false",
			 db_route_usable(rt, i, 0) ? "true" : "false", lag);
		buf_puts(out, item);
	}
	buf_puts(out, "]");
}

/* ---- life -------------------------------------------------------------------------- */

static void route_handle_closed(struct db_route *rt)
{
	if (--rt->open_handles == 0) {
		free(rt->replicas);
		rt->replicas = NULL;
		rt->nreplicas = 0;
	}
}

static void on_replica_closed(struct db_pool *p)
{
	struct db_replica *n = container_of(p, struct db_replica, pool);
	route_handle_closed(n->route);
}

static void on_probe_timer_closed(uv_handle_t *h)
{
	route_handle_closed(container_of((uv_timer_t *)h, struct db_route, probe_timer));
}

int db_route_init(struct db_route *rt, uv_loop_t *loop, const struct config *cfg,
		  struct db_pool *primary)
{
	memset(rt, 0, sizeof *rt);
	rt->loop = loop;
	rt->cfg = cfg;
	rt->primary = primary;
	/* Eight probes per allowed lag: a healthy replica's bound (about two
	 * intervals) stays well inside it. */
	unsigned ms = cfg->replica_max_lag_ms / 8;
	rt->probe_ms = ms < 10 ? 10 : ms > 1000 ? 1000 : ms;
	if (uv_timer_init(loop, &rt->probe_timer) != 0)
		return -1;
	rt->open_handles = 1;
	if (cfg->nreplicas == 0)
		return 0;
	rt->replicas = calloc((size_t)cfg->nreplicas, sizeof *rt->replicas);
	if (rt->replicas == NULL)
		return -1;
	for (int i = 0; i < cfg->nreplicas; i++) {
		struct db_replica *n = &rt->replicas[i];
		n->route = rt;
		n->lag_ms = -1;
		snprintf(n->name, sizeof n->name, "replica%d", i + 1);
		if (db_pool_init(&n->pool, loop, cfg, cfg->replica_urls[i], n->name) < 0)
			return -1;
		n->pool.fallback = primary;
		rt->nreplicas++;
		rt->open_handles++;
	}
	return 0;
}

void db_route_start(struct db_route *rt)
{
	if (rt->nreplicas == 0)
		return;
	for (int i = 0; i < rt->nreplicas; i++)
		db_pool_start(&rt->replicas[i].pool);
	uv_timer_start(&rt->probe_timer, on_probe_timer, rt->probe_ms, rt->probe_ms);
	log_info("read replicas", "count=%d max_lag_ms=%u probe_ms=%u", rt->nreplicas,
		 rt->cfg->replica_max_lag_ms, rt->probe_ms);
}

void db_route_close(struct db_route *rt)
{
	if (rt->closing)
		return;
	rt->closing = true;
	if (rt->primary_probe != NULL)
		db_cancel(rt->primary_probe);
	rt->primary_probe = NULL;
	uv_close((uv_handle_t *)&rt->probe_timer, on_probe_timer_closed);
	for (int i = 0; i < rt->nreplicas; i++) {
		struct db_replica *n = &rt->replicas[i];
		if (n->probe != NULL)
			db_cancel(n->probe);
		n->probe = NULL;
		n->pool.fallback = NULL; /* the primary closes too */
		db_pool_close(&n->pool, on_replica_closed);
	}
}
