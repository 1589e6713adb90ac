/* loadgen.h: the load generator's run state, shared by loadgen.c (connections and the
 * run's timeline) and report.c (the printed results).
 *
 * One process, one libuv loop. Each connection acts as one user (its own token) and
 * has at most one request in flight. Closed loop: a connection starts its next
 * operation as soon as the previous one ends. Open loop: each connection owes one
 * operation every conns/rate seconds from a random phase; an operation's latency
 * counts from when it was due, not from when it could be sent, so a slow reply
 * delays nothing unseen (no coordinated omission).
 *
 * Timeline: connect every connection (at most connect_concurrency at once), then
 * warmup (not recorded), then duration (recorded: operations due in this window),
 * then drain (operations still owed or in flight get until timeout to finish, or
 * count as timeouts), then every handle is closed and uv_run returns. */
#ifndef BENCH_LOADGEN_H
#define BENCH_LOADGEN_H

#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "buf.h"
#include "hist.h"
#include "workload.h"

enum lg_workload {
	LGW_W1,
	LGW_W2,
	LGW_W2_BIG_FIRST,
	LGW_W2_BIG_START,
	LGW_W2_BIG_END,
	LGW_W3,
	LGW_MIX,
	/* the history user of gen_history.sql (bench/history.sh) */
	LGW_H_LIST,
	LGW_H_FILTER,
	LGW_H_COUNT,
	LGW_H_COUNT_ALL,
	LGW_H_SEARCH,
	LGW_COUNT
};

/* What one operation is: a single request, or a chat turn of three. */
enum lg_op {
	LGO_LIST_THREADS,
	LGO_OPEN_THREAD,
	LGO_BIG_FIRST,
	LGO_BIG_START,
	LGO_BIG_END,
	LGO_CHAT_TURN,
	LGO_H_LIST,
	LGO_H_FILTER,
	LGO_H_COUNT,
	LGO_H_COUNT_ALL,
	LGO_H_SEARCH,
	LGO_COUNT
};

/* Request kinds, each with its own latency histogram. */
enum lg_kind { LGK_LIST_THREADS, LGK_LIST_ITEMS, LGK_ADD_ITEM, LGK_COUNT_THREADS, LGK_SEARCH,
	       LGK_COUNT };

enum lg_phase { LGP_CONNECT, LGP_RUN, LGP_DRAIN, LGP_DONE };

enum lg_cstate { LGC_DOWN, LGC_CONNECTING, LGC_READY, LGC_BUSY, LGC_CLOSING };

struct lg_opts {
	const char *host;
	int port;
	unsigned conns;
	double duration_s;
	double warmup_s;
	double rate; /* operations per second over all connections; 0 = closed loop */
	enum lg_workload workload;
	struct wl_shape shape;
	const char *secret;
	uint64_t seed;
	double timeout_s; /* per request, and for the drain */
	long max_errors;  /* exit 3 when errors exceed it; -1 = never */
	const char *label;
	unsigned connect_concurrency;
	double ramp_timeout_s;
};

struct lg_stats {
	struct hist op_all;
	struct hist ops[LGO_COUNT];
	struct hist kinds[LGK_COUNT];
	struct hist send_lag; /* open loop: how late the client sent an operation's first request */
	uint64_t status[600]; /* replies by status code (0: out of range) */
	uint64_t requests;    /* replies to requests of operations due in the window */
	uint64_t ops_ok;
	uint64_t ops_failed;
	uint64_t err_status; /* a reply with an unexpected status */
	uint64_t err_connect;
	uint64_t err_reset; /* read/write error, or EOF, with a request in flight */
	uint64_t err_parse;
	uint64_t err_timeout; /* no reply within timeout, or owed and never sent */
	uint64_t closed_idle; /* server closed a connection with nothing in flight */
	uint64_t reconnects;
	uint64_t body_bytes;
	unsigned connected_at_start;
	unsigned connected_at_end;
};

struct lg;

struct lg_conn {
	uv_tcp_t tcp;
	uv_timer_t timer; /* open-loop schedule, or reconnect delay */
	uv_connect_t connect_req;
	uv_write_t write_req;
	llhttp_t parser;
	struct lg *lg;
	enum lg_cstate state;
	bool tcp_open;	/* tcp handle initialised and its close callback not yet run */
	bool writing;	/* write_req in flight */
	bool replied;	/* a whole reply was parsed while writing */
	bool was_up;	/* counted in lg->connected */
	unsigned user;	/* index into lg->tokens */
	struct buf out; /* the request being written */
	uint64_t rng;
	/* the current operation */
	enum lg_op op;
	enum lg_kind kind;
	int step;
	int expect;	  /* expected status of the request in flight */
	unsigned thread;  /* thread index for W2/W3 */
	uint64_t op_due;  /* ns: when the operation was due */
	uint64_t req_due; /* ns: latency of this request counts from here */
	uint64_t req_sent;
	uint64_t next_due; /* open loop: when the next operation is owed */
};

struct lg {
	uv_loop_t *loop;
	struct lg_opts o;
	struct sockaddr_storage addr;
	char hostport[80];
	struct buf *tokens; /* one per user; the big user's is last */
	unsigned ntokens;
	char big_thread[16];
	struct lg_conn *conns;
	uv_timer_t tick;
	uv_signal_t sigint;
	llhttp_settings_t settings;
	enum lg_phase phase;
	uint64_t t_start, t_measure, t_end, t_deadline, t_ramp_deadline;
	uint64_t interval_ns; /* open loop: between two operations of one connection */
	unsigned next_connect;
	unsigned connecting;
	unsigned connected;
	unsigned busy;
	uint64_t rng;
	struct lg_stats st;
	char rbuf[65536]; /* every read lands here; replies are parsed at once */
};

extern const char *const lg_workload_names[LGW_COUNT];
extern const char *const lg_op_names[LGO_COUNT];
extern const char *const lg_kind_names[LGK_COUNT];

/* Sets up tokens, connections and timers on lg->loop; 0 or -1 (message printed). */
int lg_init(struct lg *lg) __attribute__((warn_unused_result));
/* Runs the whole timeline; returns when every handle is closed. */
void lg_run(struct lg *lg);
void lg_free(struct lg *lg);

/* report.c: the human-readable report, then RESULT and MDROW lines. Returns the
 * number of errors (failed operations + connect errors). */
uint64_t lg_report(const struct lg *lg);

#endif
