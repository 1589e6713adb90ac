/* main.c: flags/env -> config, migrations, signals, run the loop, exit code. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

#include "auth.h"
#include "citus.h"
#include "config.h"
#include "log.h"
#include "migrate.h"
#include "server.h"

#ifndef THREADSTORE_VERSION
#define THREADSTORE_VERSION "0.0.0"
#endif

static int serve(const struct config *cfg)
{
	uv_loop_t loop;
	if (uv_loop_init(&loop) != 0)
		return 1;
	/* Large (the shared read buffer) and for the whole run: heap, not stack. */
	struct server *s = calloc(1, sizeof *s);
	if (s == NULL || server_start(s, &loop, cfg) < 0) {
		log_error("start-up failed", "%s", "");
		return 1;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	int rc = s->exit_code;
	free(s);
	if (uv_loop_close(&loop) != 0)
		log_warn("loop closed with handles open", "%s", "");
	return rc;
}

/* The migrations, then with --citus the distribution step. */
static int schema_ready(const struct config *cfg)
{
	if (migrate_run(cfg->database_url) < 0)
		return -1;
	return cfg->citus ? citus_distribute(cfg->database_url) : 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	if (config_parse(&cfg, argc, argv) < 0)
		return 2;
	switch (cfg.command) {
	case CMD_HELP: config_usage(stdout); return 0;
	case CMD_VERSION: printf("threadstore %s\n", THREADSTORE_VERSION); return 0;
	case CMD_DEV_TOKEN: {
		struct auth a;
		struct buf tok = {0};
		auth_init(&a, cfg.jwt_secret, 0);
		auth_mint(&a, cfg.token_sub, time(NULL), cfg.token_ttl, &tok);
		printf("%.*s\n", (int)tok.len, tok.data);
		buf_free(&tok);
		return 0;
	}
	case CMD_MIGRATE: return schema_ready(&cfg) < 0 ? 1 : 0;
	case CMD_SERVE: break;
	}
	if (cfg.log_debug)
		log_set_level(LOG_DEBUG);
	/* libuv writes with write(2): a peer that hung up must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	srand((unsigned)time(NULL) ^ (unsigned)uv_os_getpid());
	/* Migrations run before the loop exists, so blocking here blocks nothing. */
	if (cfg.migrate && schema_ready(&cfg) < 0)
		return 1;
	return serve(&cfg);
}
