/* report.c: what a run measured, for people (a table) and for scripts (RESULT and MDROW
 * lines; bench/run.sh builds its markdown from them). Latencies are printed in ms. */
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>

#include "loadgen.h"

static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static void hist_line(const char *name, const struct hist *h)
{
	if (h->n == 0)
		return;
	printf("  %-28s %9" PRIu64 " %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f\n", name, h->n,
	       ms(hist_percentile(h, 50)), ms(hist_percentile(h, 90)), ms(hist_percentile(h, 99)),
	       ms(hist_percentile(h, 99.9)), ms(h->max), hist_mean(h) / 1000.0);
}

uint64_t lg_report(const struct lg *lg)
{
	const struct lg_opts *o = &lg->o;
	const struct lg_stats *st = &lg->st;
	double secs = (double)(lg->t_end - lg->t_measure) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	char mode[48];
	if (o->rate > 0)
		snprintf(mode, sizeof mode, "open loop at %.0f ops/s", o->rate);
	else
		snprintf(mode, sizeof mode, "closed loop");
	uint64_t ops = st->ops_ok + st->ops_failed;
	uint64_t errors = st->ops_failed + st->err_connect;
	const struct hist *h = &st->op_all;

	printf("loadgen: %s, %s, %u connections, %.1f s measured after %.1f s of warm-up\n",
	       lg_workload_names[o->workload], mode, o->conns, secs, o->warmup_s);
	printf("  connections  %u up at start, %u at end, %" PRIu64 " reconnects, %" PRIu64
	       " closed while idle\n",
	       st->connected_at_start, st->connected_at_end, st->reconnects, st->closed_idle);
	printf("  operations   %" PRIu64 " (%.1f/s), requests %" PRIu64
	       " (%.1f/s), %.1f MiB of bodies\n",
	       ops, (double)ops / secs, st->requests, (double)st->requests / secs,
	       (double)st->body_bytes / 1048576.0);
	printf("  %-28s %9s %8s %8s %8s %8s %8s %8s\n", "latency (ms)", "count", "p50", "p90",
	       "p99", "p99.9", "max", "mean");
	hist_line("operations", h);
	for (int i = 0; i < LGO_COUNT; i++)
		if (st->ops[i].n != h->n)
			hist_line(lg_op_names[i], &st->ops[i]);
	for (int i = 0; i < LGK_COUNT; i++)
		if (st->kinds[i].n != h->n || o->workload == LGW_W3)
			hist_line(lg_kind_names[i], &st->kinds[i]);
	if (st->send_lag.n)
		hist_line("(send lag: due -> sent)", &st->send_lag);
	printf("  status      ");
	for (int s = 0; s < 600; s++)
		if (st->status[s])
			printf(" %d=%" PRIu64, s, st->status[s]);
	printf("\n  errors       %" PRIu64 " (status %" PRIu64 ", connect %" PRIu64
	       ", reset %" PRIu64 ", parse %" PRIu64 ", timeout %" PRIu64 ")\n",
	       errors, st->err_status, st->err_connect, st->err_reset, st->err_parse,
	       st->err_timeout);

	/* The load generator's own CPU, so a run can show who used the cores. */
	struct rusage ru;
	double cpu = 0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;

	const char *label = o->label ? o->label : lg_workload_names[o->workload];
	printf("RESULT label=%s workload=%s mode=%s conns=%u rate=%.0f duration_s=%.3f"
	       " ops=%" PRIu64 " ops_s=%.1f requests=%" PRIu64 " rps=%.1f"
	       " p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f mean_ms=%.3f"
	       " errors=%" PRIu64 " err_status=%" PRIu64 " err_connect=%" PRIu64
	       " err_reset=%" PRIu64 " err_parse=%" PRIu64 " err_timeout=%" PRIu64
	       " reconnects=%" PRIu64
	       " conns_start=%u conns_end=%u cpu_s=%.2f lag_p50_ms=%.3f lag_p99_ms=%.3f",
	       label, lg_workload_names[o->workload], o->rate > 0 ? "open" : "closed", o->conns,
	       o->rate, secs, ops, (double)ops / secs, st->requests, (double)st->requests / secs,
	       ms(hist_percentile(h, 50)), ms(hist_percentile(h, 90)), ms(hist_percentile(h, 99)),
	       ms(hist_percentile(h, 99.9)), ms(h->max), hist_mean(h) / 1000.0, errors,
	       st->err_status, st->err_connect, st->err_reset, st->err_parse, st->err_timeout,
	       st->reconnects, st->connected_at_start, st->connected_at_end, cpu,
	       ms(hist_percentile(&st->send_lag, 50)), ms(hist_percentile(&st->send_lag, 99)));
	for (int s = 0; s < 600; s++)
		if (st->status[s])
			printf(" status_%d=%" PRIu64, s, st->status[s]);
	printf("\n");

	char rate[32];
	if (o->rate > 0)
		snprintf(rate, sizeof rate, "open %.0f/s", o->rate);
	else
		snprintf(rate, sizeof rate, "closed");
	printf("MDROW | %s | %s | %s | %u | %" PRIu64
	       " | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %" PRIu64 " |\n",
	       label, lg_workload_names[o->workload], rate, o->conns, ops, (double)ops / secs,
	       ms(hist_percentile(h, 50)), ms(hist_percentile(h, 90)), ms(hist_percentile(h, 99)),
	       ms(hist_percentile(h, 99.9)), ms(h->max), errors);
	fflush(stdout);
	return errors;
}
