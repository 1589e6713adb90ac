/* loadgen_main.c: command line -> struct lg_opts, file limit, run, report, exit code.
 *
 * Exit codes: 0 ran and reported; 1 usage or set-up error; 2 no operation succeeded
 * (nothing to report); 3 more errors than --max-errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "loadgen.h"

static void usage(FILE *out)
{
	fputs("usage: loadgen --port PORT [options]\n"
	      "  --host IP               loopback address of threadstore (default 127.0.0.1;\n"
	      "                          anything off this machine is refused)\n"
	      "  --port PORT             its port\n"
	      "  --workload W            w1 | w2 | w2-big-first | w2-big-start | w2-big-end | w3 | "
	      "mix\n"
	      "                          | h-list | h-filter | h-count | h-count-all | h-search\n"
	      "                          (the history user of bench/gen_history.sql)\n"
	      "                          (default w1)\n"
	      "  --connections N         concurrent connections, one user each (default 100)\n"
	      "  --rate R                open loop: R operations/s over all connections;\n"
	      "                          0 = closed loop (default 0)\n"
	      "  --duration S            measured seconds (default 10)\n"
	      "  --warmup S              seconds before measuring (default 2)\n"
	      "  --users N --threads T --items M --big-items K\n"
	      "                          the data set bench/gen.sql loaded (default 1000 100 10 "
	      "1000000)\n"
	      "  --jwt-secret S          the service's HS256 secret [THREADSTORE_JWT_SECRET]\n"
	      "  --timeout S             per request, and for the final drain (default 10)\n"
	      "  --max-errors N          exit 3 when there are more errors (default: never)\n"
	      "  --label L               name of this run in the RESULT/MDROW lines\n"
	      "  --seed N                random seed (default: new each run, so added item ids are\n"
	      "                          new; a fixed seed repeats them, and adds then get 409)\n"
	      "  --connect-concurrency N connects in progress at once (default 256)\n"
	      "  --ramp-timeout S        seconds to get every connection up (default 60)\n",
	      out);
}

static int num(const char *flag, const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "loadgen: %s: expected a number in [%g, %g], got '%s'\n", flag, min,
			max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_workload(const char *s, enum lg_workload *w)
{
	for (int i = 0; i < LGW_COUNT; i++)
		if (strcmp(s, lg_workload_names[i]) == 0) {
			*w = (enum lg_workload)i;
			return 0;
		}
	fprintf(stderr, "loadgen: unknown workload '%s'\n", s);
	return -1;
}

static int parse_args(struct lg_opts *o, int argc, char **argv)
{
	*o = (struct lg_opts){.host = "127.0.0.1",
			      .conns = 100,
			      .duration_s = 10,
			      .warmup_s = 2,
			      .workload = LGW_W1,
			      .shape = {1000, 100, 10, 1000000},
			      .secret = getenv("THREADSTORE_JWT_SECRET"),
			      .timeout_s = 10,
			      .max_errors = -1,
			      .connect_concurrency = 256,
			      .ramp_timeout_s = 60};
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i];
		if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "loadgen: %s needs a value (or is unknown)\n", f);
			return -1;
		}
		const char *v = argv[++i];
		double d = 0;
		int rc = 0;
		if (strcmp(f, "--host") == 0)
			o->host = v;
		else if (strcmp(f, "--port") == 0 && (rc = num(f, v, 1, 65535, &d)) == 0)
			o->port = (int)d;
		else if (strcmp(f, "--workload") == 0)
			rc = parse_workload(v, &o->workload);
		else if (strcmp(f, "--connections") == 0 && (rc = num(f, v, 1, 100000, &d)) == 0)
			o->conns = (unsigned)d;
		else if (strcmp(f, "--rate") == 0 && (rc = num(f, v, 0, 1e7, &d)) == 0)
			o->rate = d;
		else if (strcmp(f, "--duration") == 0 && (rc = num(f, v, 0.1, 86400, &d)) == 0)
			o->duration_s = d;
		else if (strcmp(f, "--warmup") == 0 && (rc = num(f, v, 0, 3600, &d)) == 0)
			o->warmup_s = d;
		else if (strcmp(f, "--users") == 0 && (rc = num(f, v, 1, 1e6, &d)) == 0)
			o->shape.users = (unsigned)d;
		else if (strcmp(f, "--threads") == 0 && (rc = num(f, v, 1, 1e6, &d)) == 0)
			o->shape.threads = (unsigned)d;
		else if (strcmp(f, "--items") == 0 && (rc = num(f, v, 1, 1e6, &d)) == 0)
			o->shape.items = (unsigned)d;
		else if (strcmp(f, "--big-items") == 0 && (rc = num(f, v, 0, 1e9, &d)) == 0)
			o->shape.big_items = (unsigned)d;
		else if (strcmp(f, "--jwt-secret") == 0)
			o->secret = v;
		else if (strcmp(f, "--timeout") == 0 && (rc = num(f, v, 0.1, 3600, &d)) == 0)
			o->timeout_s = d;
		else if (strcmp(f, "--max-errors") == 0 && (rc = num(f, v, -1, 1e15, &d)) == 0)
			o->max_errors = (long)d;
		else if (strcmp(f, "--label") == 0)
			o->label = v;
		else if (strcmp(f, "--seed") == 0 && (rc = num(f, v, 0, 1e15, &d)) == 0)
			o->seed = (uint64_t)d;
		else if (strcmp(f, "--connect-concurrency") == 0 &&
			 (rc = num(f, v, 1, 100000, &d)) == 0)
			o->connect_concurrency = (unsigned)d;
		else if (strcmp(f, "--ramp-timeout") == 0 && (rc = num(f, v, 1, 3600, &d)) == 0)
			o->ramp_timeout_s = d;
		else if (rc == 0) {
			fprintf(stderr, "loadgen: unknown option %s\n", f);
			return -1;
		}
		if (rc < 0)
			return -1;
	}
	if (o->port == 0 || !o->secret || !*o->secret) {
		fprintf(stderr, "loadgen: --port and --jwt-secret are required (--help)\n");
		return -1;
	}
	if ((uint64_t)o->shape.users * o->shape.threads * o->shape.items >= WL_MAX_GLOBAL_ITEMS) {
		fprintf(stderr, "loadgen: users * threads * items must stay below 2^30\n");
		return -1;
	}
	if (o->shape.big_items == 0 &&
	    (o->workload == LGW_W2_BIG_START || o->workload == LGW_W2_BIG_END ||
	     o->workload == LGW_W2_BIG_FIRST)) {
		fprintf(stderr, "loadgen: this workload needs --big-items > 0\n");
		return -1;
	}
	return 0;
}

/* Traffic goes to this machine only: 127.0.0.0/8 or ::1. */
static int resolve_loopback(const char *host, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (uv_ip4_addr(host, port, in4) == 0) {
		if ((ntohl(in4->sin_addr.s_addr) >> 24) == 127)
			return 0;
	} else if (uv_ip6_addr(host, port, in6) == 0) {
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 0;
	} else {
		fprintf(stderr, "loadgen: --host must be an IP address, got '%s'\n", host);
		return -1;
	}
	fprintf(stderr, "loadgen: %s is not a loopback address; refusing to send load there\n",
		host);
	return -1;
}

/* Every connection is a descriptor: raise the soft limit (and the hard one, if allowed). */
static int raise_nofile(unsigned conns)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)conns + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max < need)
		rl.rlim_max = need; /* works as root */
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fprintf(stderr, "loadgen: cannot raise the open file limit to %lu: %s\n",
			(unsigned long)need, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct lg *lg = calloc(1, sizeof *lg);
	if (!lg || parse_args(&lg->o, argc, argv) < 0 ||
	    resolve_loopback(lg->o.host, lg->o.port, &lg->addr) < 0 ||
	    raise_nofile(lg->o.conns) < 0) {
		free(lg);
		return 1;
	}
	if (lg->addr.ss_family == AF_INET6)
		snprintf(lg->hostport, sizeof lg->hostport, "[%s]:%d", lg->o.host, lg->o.port);
	else
		snprintf(lg->hostport, sizeof lg->hostport, "%s:%d", lg->o.host, lg->o.port);
	lg->loop = uv_default_loop();
	if (lg_init(lg) < 0) {
		fprintf(stderr, "loadgen: set-up failed\n");
		lg_free(lg);
		free(lg);
		return 1;
	}
	lg_run(lg);
	uint64_t errors = lg_report(lg);
	int code = 0;
	if (lg->st.ops_ok == 0) {
		fprintf(stderr, "loadgen: no operation succeeded\n");
		code = 2;
	} else if (lg->o.max_errors >= 0 && errors > (uint64_t)lg->o.max_errors) {
		fprintf(stderr, "loadgen: %llu errors (at most %ld allowed)\n",
			(unsigned long long)errors, lg->o.max_errors);
		code = 3;
	}
	(void)uv_loop_close(lg->loop);
	lg_free(lg);
	free(lg);
	return code;
}
