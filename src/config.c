/* config.c: parse and validate configuration. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jwks.h"

struct option_def {
	const char *flag; /* --name */
	const char *env;  /* environment variable or NULL */
	const char *help;
};

static const struct option_def options[] = {
    {"--listen", "THREADSTORE_LISTEN",
     "HOST:PORT to listen on (default 0.0.0.0:8080; port 0 picks one)"},
    {"--database-url", "DATABASE_URL",
     "libpq conninfo or postgresql:// URI (default: libpq defaults)"},
    {"--pool-size", "THREADSTORE_POOL_SIZE", "PostgreSQL connections (default 4)"},
    {"--replica-url", NULL,
     "a read replica (repeatable, up to 8; or THREADSTORE_REPLICA_URLS, URIs separated by "
     "spaces): reads go to replicas, writes to DATABASE_URL"},
    {"--replica-max-lag", "THREADSTORE_REPLICA_MAX_LAG",
     "milliseconds a replica may be behind to serve reads without Threadstore-Min-LSN "
     "(default 1000)"},
    {"--pipeline-depth", "THREADSTORE_PIPELINE_DEPTH",
     "queries in flight per connection (default 64)"},
    {"--max-queue", "THREADSTORE_MAX_QUEUE",
     "queries waiting for a connection before 503 (default 4096)"},
    {"--statements", "THREADSTORE_STATEMENTS",
     "prepared (named, per connection; default) or unnamed (for PgBouncer before 1.21)"},
    {"--jwt-secret", "THREADSTORE_JWT_SECRET",
     "HS256 secret for bearer tokens (optional with a JWKS)"},
    {"--jwks-url", "THREADSTORE_JWKS_URL",
     "JWKS to fetch and refresh, e.g. https://auth.example.com/api/auth/jwks"},
    {"--jwks-file", "THREADSTORE_JWKS_FILE", "JWKS file read at start (instead of a URL)"},
    {"--jwks-refresh", "THREADSTORE_JWKS_REFRESH", "seconds between JWKS fetches (default 300)"},
    {"--jwks-cooldown", "THREADSTORE_JWKS_COOLDOWN",
     "least seconds between fetches for tokens with an unknown kid (default 5)"},
    {"--jwt-issuer", "THREADSTORE_JWT_ISSUER", "required iss claim (e.g. the auth server URL)"},
    {"--jwt-audience", "THREADSTORE_JWT_AUDIENCE", "required aud claim (string or array member)"},
    {"--jwt-leeway", "THREADSTORE_JWT_LEEWAY", "seconds of clock skew on exp/nbf (default 10)"},
    {"--jwt-algs", "THREADSTORE_JWT_ALGS",
     "accepted algs, comma-separated (default: EdDSA,ES256,ES384,ES512,RS256,PS256 with a "
     "JWKS, HS256 with a secret)"},
    {"--max-body", "THREADSTORE_MAX_BODY", "request body limit in bytes (default 67108864)"},
    {"--max-body-total", "THREADSTORE_MAX_BODY_TOTAL",
     "request-body bytes held at once, all connections, before 503 (default 268435456)"},
    {"--max-reply-total", "THREADSTORE_MAX_REPLY_TOTAL",
     "reply bytes queued to slow readers, all connections, before reads get 503 (default "
     "268435456)"},
    {"--max-header", "THREADSTORE_MAX_HEADER",
     "request line + headers limit in bytes (default 16384)"},
    {"--max-page-bytes", "THREADSTORE_MAX_PAGE_BYTES",
     "document bytes in one list page; a page always has its first row (default 8388608)"},
    {"--search-language", "THREADSTORE_SEARCH_LANGUAGE",
     "text search configuration of /v1/search, e.g. english (default simple: any language)"},
    {"--max-connections", "THREADSTORE_MAX_CONNECTIONS", "client connections (default 20000)"},
    {"--idle-timeout", "THREADSTORE_IDLE_TIMEOUT",
     "seconds an idle keep-alive connection is kept (default 60)"},
    {"--request-timeout", "THREADSTORE_REQUEST_TIMEOUT",
     "seconds for a request to arrive in full (default 30)"},
    {"--drain-delay", "THREADSTORE_DRAIN_DELAY",
     "seconds after SIGTERM with /readyz 503 but still serving, so a load balancer "
     "takes the instance out first (default 5)"},
    {"--write-timeout", "THREADSTORE_WRITE_TIMEOUT",
     "seconds a client may take no byte of its response (default 30)"},
    {"--drain-timeout", "THREADSTORE_DRAIN_TIMEOUT",
     "seconds for requests in flight after the drain delay (default 10)"},
    {"--query-timeout", "THREADSTORE_QUERY_TIMEOUT",
     "seconds a query may take before 504 and a cancel (default 10)"},
    {"--changes-retention", "THREADSTORE_CHANGES_RETENTION",
     "how long the change feed keeps changes, with a unit: 3s, 90m, 24h, 7d (default 7d; "
     "at least 1s); a cursor older than that gets 410"},
    {"--admin-token-file", "THREADSTORE_ADMIN_TOKEN_FILE",
     "file of operator tokens for /admin paths, one a line (without it /admin is 404)"},
    {"--listen-database-url", "THREADSTORE_LISTEN_DATABASE_URL",
     "conninfo of the change feed's LISTEN connection: a direct one, never through a "
     "transaction-mode pooler (default: --database-url)"},
    {"--max-subscribers", "THREADSTORE_MAX_SUBSCRIBERS",
     "change streams open at once before 503 (default 20000)"},
    {"--subscriber-buffer", "THREADSTORE_SUBSCRIBER_BUFFER",
     "bytes queued to one change stream that does not read before it is closed "
     "(default 65536)"},
    {"--changes-heartbeat", "THREADSTORE_CHANGES_HEARTBEAT",
     "seconds of silence on a change stream before a comment line keeps it open (default 15)"},
    {"--retention-days", "THREADSTORE_RETENTION_DAYS",
     "delete threads (with items and attachments) whose last activity is older (default 0: "
     "keep)"},
    {"--sweep-interval", "THREADSTORE_SWEEP_INTERVAL",
     "seconds between passes of the sweep of expired and retained threads (default 60)"},
    {"--no-migrate", NULL, "do not apply migrations at start"},
    {"--citus", NULL,
     "after the migrations, distribute the tables by user_id on a Citus coordinator "
     "(docs/SCALING.md)"},
    {"--no-access-log", NULL, "no log line per request"},
    {"--debug", NULL, "log debug lines"},
    {"--sub", NULL, "dev-token: the user id (sub claim)"},
    {"--ttl", NULL, "dev-token: seconds until exp (default 86400)"},
};

void config_usage(FILE *out)
{
	fputs("usage: threadstore [serve|migrate|dev-token] [options]\n"
	      "  serve      run the HTTP service (default)\n"
	      "  migrate    apply the schema migrations and exit\n"
	      "  dev-token  print an HS256 token for --sub signed with the configured secret\n"
	      "options (environment variable in brackets):\n",
	      out);
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
		fprintf(out, "  %-18s %s%s%s%s\n", options[i].flag, options[i].help,
			options[i].env ? " [" : "", options[i].env ? options[i].env : "",
			options[i].env ? "]" : "");
	fputs("  --help, --version\n", out);
}

static int parse_long(const char *name, const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "threadstore: %s must be an integer in %ld..%ld, got '%s'\n", name,
			min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_listen(struct config *cfg, const char *s)
{
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof cfg->listen_buf) {
		fprintf(stderr, "threadstore: --listen wants HOST:PORT, got '%s'\n", s);
		return -1;
	}
	long port;
	if (parse_long("listen port", colon + 1, 0, 65535, &port) < 0)
		return -1;
	const char *h = s;
	size_t hl = (size_t)(colon - s);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [::1]:8080 */
		h++;
		hl -= 2;
	}
	memcpy(cfg->listen_buf, h, hl);
	cfg->listen_buf[hl] = '\0';
	cfg->listen_host = cfg->listen_buf;
	cfg->listen_port = (int)port;
	return 0;
}

int config_parse_duration(const char *s, uint64_t *ms)
{
	char *end;
	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t unit = strcmp(end, "ms") == 0	? 1
			: strcmp(end, "s") == 0 ? 1000
			: strcmp(end, "m") == 0 ? 60000
			: strcmp(end, "h") == 0 ? 3600000
			: strcmp(end, "d") == 0 ? 86400000
						: 0;
	if (errno || end == s || unit == 0 || v > UINT64_MAX / unit / 1000)
		return -1;
	*ms = v * unit;
	return 0;
}

/* Applies one option value; `name` is the flag for messages. */
static int apply(struct config *cfg, const char *flag, const char *v)
{
	long n;
	if (strcmp(flag, "--listen") == 0)
		return parse_listen(cfg, v);
	if (strcmp(flag, "--database-url") == 0) {
		cfg->database_url = v;
		return 0;
	}
	if (strcmp(flag, "--changes-retention") == 0) {
		if (config_parse_duration(v, &cfg->changes_retention_ms) < 0 ||
		    cfg->changes_retention_ms < 1000 ||
		    cfg->changes_retention_ms > 3650ull * 86400000) {
			fprintf(stderr,
				"threadstore: --changes-retention takes a number and a unit (s, m, "
				"h, d) from 1s to 3650d, e.g. 24h; got '%s'\n",
				v);
			return -1;
		}
		return 0;
	}
	if (strcmp(flag, "--jwt-secret") == 0) {
		cfg->jwt_secret = v;
		return 0;
	}
	/* For these, an empty value unsets what the environment set. */
	const char **str = strcmp(flag, "--jwks-url") == 0		? &cfg->jwks_url
			   : strcmp(flag, "--jwks-file") == 0		? &cfg->jwks_file
			   : strcmp(flag, "--jwt-issuer") == 0		? &cfg->jwt_issuer
			   : strcmp(flag, "--jwt-audience") == 0	? &cfg->jwt_audience
			   : strcmp(flag, "--admin-token-file") == 0	? &cfg->admin_token_file
			   : strcmp(flag, "--listen-database-url") == 0 ? &cfg->listen_database_url
									: NULL;
	if (str != NULL) {
		*str = v[0] != '\0' ? v : NULL;
		return 0;
	}
	if (strcmp(flag, "--jwt-algs") == 0) {
		const char *bad;
		size_t bad_len;
		if (jwks_algs_parse(v, &cfg->jwt_algs, &bad, &bad_len) < 0 || cfg->jwt_algs == 0) {
			fprintf(stderr,
				"threadstore: --jwt-algs takes EdDSA, ES256, ES384, ES512, RS256, "
				"PS256, HS256; got '%s'\n",
				v);
			return -1;
		}
		return 0;
	}
	if (strcmp(flag, "--statements") == 0) {
		if (strcmp(v, "prepared") != 0 && strcmp(v, "unnamed") != 0) {
			fprintf(stderr,
				"threadstore: --statements is prepared or unnamed, got '%s'\n", v);
			return -1;
		}
		cfg->prepared = strcmp(v, "prepared") == 0;
		return 0;
	}
	if (strcmp(flag, "--search-language") == 0) {
		/* An identifier, optionally schema-qualified: it is cast to regconfig by
		 * the statements, so a name PostgreSQL does not know fails searches
		 * (500, logged) and leaves new rows unindexed, never a write. */
		size_t len = strlen(v);
		bool ok = len > 0 && len <= 63 &&
			  strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_.") == len;
		if (!ok) {
			fprintf(stderr,
				"threadstore: --search-language takes a text search configuration "
				"name such as simple or english (lower case), got '%s'\n",
				v);
			return -1;
		}
		cfg->search_language = v;
		return 0;
	}
	if (strcmp(flag, "--sub") == 0) {
		cfg->token_sub = v;
		return 0;
	}
	if (strcmp(flag, "--replica-url") == 0) {
		if (cfg->replicas_from_env) { /* flags win over the environment */
			cfg->replicas_from_env = 0;
			cfg->nreplicas = 0;
		}
		if (v[0] == '\0' || cfg->nreplicas == CONFIG_MAX_REPLICAS) {
			fprintf(stderr, "threadstore: --replica-url: %s\n",
				v[0] ? "at most 8 replicas" : "empty URL");
			return -1;
		}
		cfg->replica_urls[cfg->nreplicas++] = v;
		return 0;
	}
	if (strcmp(flag, "--pool-size") == 0) {
		if (parse_long(flag, v, 1, 256, &n) < 0)
			return -1;
		cfg->pool_size = (int)n;
	} else if (strcmp(flag, "--pipeline-depth") == 0) {
		if (parse_long(flag, v, 1, 4096, &n) < 0)
			return -1;
		cfg->pipeline_depth = (int)n;
	} else if (strcmp(flag, "--max-queue") == 0) {
		if (parse_long(flag, v, 0, 1000000, &n) < 0)
			return -1;
		cfg->max_queue = (int)n;
	} else if (strcmp(flag, "--max-body") == 0) {
		if (parse_long(flag, v, 1024, 1L << 30, &n) < 0)
			return -1;
		cfg->max_body = (size_t)n;
	} else if (strcmp(flag, "--max-body-total") == 0) {
		if (parse_long(flag, v, 1024, 1L << 40, &n) < 0)
			return -1;
		cfg->max_body_total = (size_t)n;
	} else if (strcmp(flag, "--max-reply-total") == 0) {
		if (parse_long(flag, v, 1024, 1L << 40, &n) < 0)
			return -1;
		cfg->max_reply_total = (size_t)n;
	} else if (strcmp(flag, "--max-header") == 0) {
		if (parse_long(flag, v, 1024, 1L << 20, &n) < 0)
			return -1;
		cfg->max_header = (size_t)n;
	} else if (strcmp(flag, "--max-page-bytes") == 0) {
		if (parse_long(flag, v, 1024, 1L << 30, &n) < 0)
			return -1;
		cfg->max_page_bytes = (size_t)n;
	} else if (strcmp(flag, "--changes-heartbeat") == 0) {
		if (parse_long(flag, v, 1, 3600, &n) < 0)
			return -1;
		cfg->changes_heartbeat_ms = (uint64_t)n * 1000;
	} else if (strcmp(flag, "--max-subscribers") == 0) {
		if (parse_long(flag, v, 0, 1000000, &n) < 0)
			return -1;
		cfg->max_subscribers = (int)n;
	} else if (strcmp(flag, "--subscriber-buffer") == 0) {
		if (parse_long(flag, v, 4096, 1L << 30, &n) < 0)
			return -1;
		cfg->subscriber_buffer = (size_t)n;
	} else if (strcmp(flag, "--retention-days") == 0) {
		if (parse_long(flag, v, 0, 36500, &n) < 0)
			return -1;
		cfg->retention_days = (int)n;
	} else if (strcmp(flag, "--sweep-interval") == 0) {
		if (parse_long(flag, v, 1, 86400, &n) < 0)
			return -1;
		cfg->sweep_interval_ms = (unsigned)n * 1000;
	} else if (strcmp(flag, "--max-connections") == 0) {
		if (parse_long(flag, v, 1, 1000000, &n) < 0)
			return -1;
		cfg->max_connections = (int)n;
	} else if (strcmp(flag, "--idle-timeout") == 0) {
		if (parse_long(flag, v, 1, 86400, &n) < 0)
			return -1;
		cfg->idle_timeout_ms = (unsigned)n * 1000;
	} else if (strcmp(flag, "--request-timeout") == 0) {
		if (parse_long(flag, v, 1, 3600, &n) < 0)
			return -1;
		cfg->request_timeout_ms = (unsigned)n * 1000;
	} else if (strcmp(flag, "--write-timeout") == 0) {
		if (parse_long(flag, v, 1, 3600, &n) < 0)
			return -1;
		cfg->write_timeout_ms = (unsigned)n * 1000;
	} else if (strcmp(flag, "--query-timeout") == 0) {
		if (parse_long(flag, v, 1, 3600, &n) < 0)
			return -1;
		cfg->query_timeout_ms = (unsigned)n * 1000;
	} else if (strcmp(flag, "--drain-delay") == 0) {
		if (parse_long(flag, v, 0, 3600, &n) < 0)
			return -1;
		cfg->drain_delay_ms = (unsigned)n * 1000;
	} else if (strcmp(flag, "--drain-timeout") == 0) {
		if (parse_long(flag, v, 0, 3600, &n) < 0)
			return -1;
		cfg->drain_timeout_ms = (unsigned)n * 1000;
	} else if (strcmp(flag, "--jwks-refresh") == 0) {
		if (parse_long(flag, v, 1, 86400, &n) < 0)
			return -1;
		cfg->jwks_refresh_ms = (unsigned)n * 1000;
	} else if (strcmp(flag, "--jwks-cooldown") == 0) {
		if (parse_long(flag, v, 1, 3600, &n) < 0)
			return -1;
		cfg->jwks_cooldown_ms = (unsigned)n * 1000;
	} else if (strcmp(flag, "--replica-max-lag") == 0) {
		if (parse_long(flag, v, 0, 60000, &n) < 0)
			return -1;
		cfg->replica_max_lag_ms = (unsigned)n;
	} else if (strcmp(flag, "--jwt-leeway") == 0) {
		if (parse_long(flag, v, 0, 600, &n) < 0)
			return -1;
		cfg->jwt_leeway = n;
	} else if (strcmp(flag, "--ttl") == 0) {
		if (parse_long(flag, v, 1, 10L * 365 * 86400, &n) < 0)
			return -1;
		cfg->token_ttl = n;
	} else {
		fprintf(stderr, "threadstore: unknown option %s (see --help)\n", flag);
		return -1;
	}
	return 0;
}

/* Which tokens can be verified: a secret (HS256), a JWKS (the rest), or both. */
static int check_auth(struct config *cfg)
{
	if (cfg->jwt_secret != NULL && strlen(cfg->jwt_secret) < 16) {
		fputs("threadstore: the JWT secret must be at least 16 bytes\n", stderr);
		return -1;
	}
	if (cfg->command == CMD_DEV_TOKEN) {
		if (cfg->jwt_secret != NULL)
			return 0;
		fputs("threadstore: dev-token needs --jwt-secret (or THREADSTORE_JWT_SECRET)\n",
		      stderr);
		return -1;
	}
	if (cfg->jwks_url != NULL && cfg->jwks_file != NULL) {
		fputs("threadstore: --jwks-url and --jwks-file exclude each other\n", stderr);
		return -1;
	}
	if (cfg->jwks_url != NULL && strncasecmp(cfg->jwks_url, "https://", 8) != 0 &&
	    strncasecmp(cfg->jwks_url, "http://", 7) != 0) {
		fprintf(stderr,
			"threadstore: --jwks-url must be an http:// or https:// URL, got '%s'\n",
			cfg->jwks_url);
		return -1;
	}
	bool jwks = cfg->jwks_url != NULL || cfg->jwks_file != NULL;
	if (cfg->jwt_secret == NULL && !jwks) {
		fputs("threadstore: bearer tokens need a JWKS (--jwks-url or --jwks-file) or a "
		      "JWT secret of at least 16 bytes (--jwt-secret or THREADSTORE_JWT_SECRET)\n",
		      stderr);
		return -1;
	}
	if (cfg->jwt_algs == 0) {
		cfg->jwt_algs = (jwks ? JWKS_ALGS_ASYMMETRIC : 0) |
				(cfg->jwt_secret ? JWKS_ALG_BIT(JWKS_HS256) : 0);
		return 0;
	}
	if ((cfg->jwt_algs & JWKS_ALG_BIT(JWKS_HS256)) && cfg->jwt_secret == NULL) {
		fputs("threadstore: --jwt-algs names HS256 but no JWT secret is set\n", stderr);
		return -1;
	}
	if ((cfg->jwt_algs & JWKS_ALGS_ASYMMETRIC) && !jwks) {
		fputs("threadstore: --jwt-algs names public-key algs but no JWKS is configured\n",
		      stderr);
		return -1;
	}
	return 0;
}

/* THREADSTORE_REPLICA_URLS: URIs separated by white space, into cfg->replica_env. */
static int replica_env(struct config *cfg)
{
	const char *v = getenv("THREADSTORE_REPLICA_URLS");
	if (v == NULL || v[0] == '\0')
		return 0;
	size_t n = strlen(v);
	if (n >= sizeof cfg->replica_env) {
		fputs("threadstore: THREADSTORE_REPLICA_URLS is too long\n", stderr);
		return -1;
	}
	memcpy(cfg->replica_env, v, n + 1);
	for (char *save = NULL, *tok = strtok_r(cfg->replica_env, " \t\n", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		if (cfg->nreplicas == CONFIG_MAX_REPLICAS) {
			fputs("threadstore: THREADSTORE_REPLICA_URLS: at most 8 replicas\n",
			      stderr);
			return -1;
		}
		cfg->replica_urls[cfg->nreplicas++] = tok;
	}
	cfg->replicas_from_env = cfg->nreplicas > 0;
	return 0;
}

static const struct option_def *find_option(const char *flag, size_t len)
{
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
		if (strlen(options[i].flag) == len && strncmp(options[i].flag, flag, len) == 0)
			return &options[i];
	return NULL;
}

int config_parse(struct config *cfg, int argc, char **argv)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->command = CMD_SERVE;
	cfg->pool_size = 4;
	cfg->pipeline_depth = 64;
	cfg->max_queue = 4096;
	/* ChatKit streams generated images as data: URLs (1.2 MB to 10+ MB per
	 * item); 64 MiB leaves room, and --max-body-total bounds the sum. */
	cfg->max_body = 64u << 20;
	cfg->max_body_total = 256u << 20;
	cfg->max_reply_total = 256u << 20;
	cfg->max_header = 16 << 10;
	cfg->max_page_bytes = 8 << 20;
	cfg->search_language = "simple";
	cfg->max_connections = 20000;
	cfg->migrate = 1;
	cfg->access_log = 1;
	cfg->idle_timeout_ms = 60000;
	cfg->request_timeout_ms = 30000;
	/* The shipped HAProxy config (docker/haproxy.cfg) marks an instance down
	 * within inter + (fall-1) x fastinter = 1.25 s of its first 503, 2 s if
	 * fastinter were not set; 5 s covers that with room for a check that
	 * was slow or a balancer with inter 2s fall 2 (docs/DEPLOY.md). */
	cfg->drain_delay_ms = 5000;
	cfg->write_timeout_ms = 30000;
	cfg->drain_timeout_ms = 10000;
	cfg->query_timeout_ms = 10000;
	cfg->prepared = 1;
	cfg->token_ttl = 86400;
	cfg->jwt_leeway = 10;
	cfg->jwks_refresh_ms = 300000;
	cfg->jwks_cooldown_ms = 5000;
	cfg->database_url = "";
	/* Reads without Threadstore-Min-LSN come from other sessions or devices:
	 * a second behind reads as a request sent a second earlier, and is ten
	 * times a healthy streaming replica's bound here (about two probe
	 * intervals); past it the primary serves. */
	cfg->replica_max_lag_ms = 1000;
	/* A week: a laptop closed over a weekend still resumes; at least the 24 h
	 * the issue asks for. */
	cfg->changes_retention_ms = 7ull * 86400000;
	cfg->max_subscribers = 20000;
	cfg->sweep_interval_ms = 60000;
	cfg->subscriber_buffer = 64 << 10;
	cfg->changes_heartbeat_ms = 15000;
	if (parse_listen(cfg, "0.0.0.0:8080") < 0)
		return -1;
	if (replica_env(cfg) < 0)
		return -1;

	/* Environment first, so flags override it. */
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
		const char *v = options[i].env ? getenv(options[i].env) : NULL;
		if (v != NULL && v[0] != '\0' && apply(cfg, options[i].flag, v) < 0)
			return -1;
	}

	int i = 1;
	if (i < argc && argv[i][0] != '-') {
		if (strcmp(argv[i], "serve") == 0)
			cfg->command = CMD_SERVE;
		else if (strcmp(argv[i], "migrate") == 0)
			cfg->command = CMD_MIGRATE;
		else if (strcmp(argv[i], "dev-token") == 0)
			cfg->command = CMD_DEV_TOKEN;
		else {
			fprintf(stderr, "threadstore: unknown command '%s' (see --help)\n",
				argv[i]);
			return -1;
		}
		i++;
	}
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			cfg->command = CMD_HELP;
			return 0;
		}
		if (strcmp(a, "--version") == 0) {
			cfg->command = CMD_VERSION;
			return 0;
		}
		if (strcmp(a, "--no-migrate") == 0) {
			cfg->migrate = 0;
			continue;
		}
		if (strcmp(a, "--citus") == 0) {
			cfg->citus = 1;
			continue;
		}
		if (strcmp(a, "--no-access-log") == 0) {
			cfg->access_log = 0;
			continue;
		}
		if (strcmp(a, "--debug") == 0) {
			cfg->log_debug = 1;
			continue;
		}
		const char *eq = strchr(a, '=');
		size_t flen = eq ? (size_t)(eq - a) : strlen(a);
		const struct option_def *o = find_option(a, flen);
		if (o == NULL) {
			fprintf(stderr, "threadstore: unknown option %s (see --help)\n", a);
			return -1;
		}
		const char *v = eq ? eq + 1 : NULL;
		if (v == NULL) {
			if (i + 1 >= argc) {
				fprintf(stderr, "threadstore: %s needs a value\n", o->flag);
				return -1;
			}
			v = argv[++i];
		}
		if (apply(cfg, o->flag, v) < 0)
			return -1;
	}

	if ((cfg->command == CMD_SERVE || cfg->command == CMD_DEV_TOKEN) && check_auth(cfg) < 0)
		return -1;
	if (cfg->command == CMD_DEV_TOKEN &&
	    (cfg->token_sub == NULL || cfg->token_sub[0] == '\0')) {
		fputs("threadstore: dev-token needs --sub USER\n", stderr);
		return -1;
	}
	return 0;
}
