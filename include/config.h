/* config.h: command line and environment -> an immutable struct config.
 *
 * Flags win over environment variables, which win over defaults. After
 * config_parse returns 0 the struct is read-only for the life of the process;
 * its strings point into argv/environ or static storage. */
#ifndef THREADSTORE_CONFIG_H
#define THREADSTORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum config_command { CMD_SERVE, CMD_MIGRATE, CMD_DEV_TOKEN, CMD_HELP, CMD_VERSION };

struct config {
	enum config_command command;
	const char *listen_host;
	int listen_port;
	char listen_buf[256];
	const char *database_url;
	int pool_size;
	/* read replicas (db_route.h): --replica-url, repeatable, or the
	 * whitespace-separated URIs of THREADSTORE_REPLICA_URLS (split into
	 * replica_env); a flag replaces the environment's list */
#define CONFIG_MAX_REPLICAS 8
	const char *replica_urls[CONFIG_MAX_REPLICAS];
	int nreplicas;
	int replicas_from_env;
	char replica_env[2048];
	unsigned replica_max_lag_ms; /* reads without Min-LSN: staleness allowed */
	int pipeline_depth; /* queries in flight per database connection */
	int max_queue;	    /* queries waiting for a connection */
	/* bearer tokens (auth.h): a secret (HS256), a JWKS, or both */
	const char *jwt_secret;
	const char *jwks_file; /* read at start, or NULL */
	const char *jwks_url;  /* fetched and refreshed on the loop, or NULL */
	const char *jwt_issuer;
	const char *jwt_audience;
	long jwt_leeway;	   /* seconds of clock skew on exp/nbf */
	unsigned jwt_algs;	   /* allow-list: JWKS_ALG_BIT bits (jwks.h) */
	unsigned jwks_refresh_ms;  /* between fetches of the URL */
	unsigned jwks_cooldown_ms; /* least time between fetches for unknown kids */

	size_t max_body;
	size_t max_body_total;	/* request-body bytes held at once, all connections */
	size_t max_reply_total; /* reply bytes queued to slow readers, all connections */
	size_t max_header;
	size_t max_page_bytes;	     /* documents in one page or export batch (at least one row) */
	const char *search_language; /* text search configuration (regconfig name) */
	int max_connections;
	unsigned idle_timeout_ms;    /* keep-alive connection with no request */
	unsigned request_timeout_ms; /* from a request's first byte to its last */
	unsigned drain_delay_ms;     /* at shutdown: /readyz 503 but still serving */
	unsigned write_timeout_ms;   /* a reply's reader taking no byte at all */
	unsigned drain_timeout_ms;   /* at shutdown, for requests in flight */
	unsigned query_timeout_ms;   /* past it: 504, and the statement is cancelled */
	int prepared;		     /* named prepared statements (1) or unnamed (0) */
	int access_log;		     /* one log line per request */
	int migrate;		     /* apply migrations before serving */
	int citus;		     /* then distribute the tables (citus.h) */
	int log_debug;
	/* the change feed (feed.h) and the admin paths (admin.h) */
	uint64_t changes_retention_ms; /* changes older than this are removed; older cursors: 410 */
	const char *admin_token_file;  /* NULL: the /admin paths are 404 */
	const char *listen_database_url; /* the LISTEN connection's (direct, not via a pooler) */
	int max_subscribers;		 /* change streams open at once, per instance */
	size_t subscriber_buffer;	 /* bytes queued to one stream before it is closed */
	uint64_t changes_heartbeat_ms;	 /* a comment on a silent change stream */
	/* retention (sweep.h) */
	int retention_days;	    /* 0: threads are kept whatever their age */
	unsigned sweep_interval_ms; /* between the sweep's passes */
	/* dev-token */
	const char *token_sub;
	long token_ttl;
};

/* Returns 0, or -1 after printing a message to stderr. */
int config_parse(struct config *cfg, int argc, char **argv) __attribute__((warn_unused_result));
void config_usage(FILE *out);
/* "3s", "90m", "24h", "7d" (a number and a unit) -> milliseconds. Returns 0 or -1. */
int config_parse_duration(const char *s, uint64_t *ms) __attribute__((warn_unused_result));

#endif
