/* db_resolve.c: the pool's host list, read as libpq reads it, and its
 * lookups on libuv's thread pool (see db_resolve.h for why). The rules
 * follow libpq 15's connectOptions2: a non-empty hostaddr list sets the
 * number of hosts, else the host list does; a host list given with it must
 * have as many entries; a port list has one entry (for every host) or one per
 * host; an entry with a hostaddr, a socket path or no host at all needs no
 * lookup. */
#include "db_resolve.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "list.h"

#define ADDRS_PER_HOST 8 /* libpq tries each in turn; past a few, a host is down */

/* The value of keyword in opts, or NULL when unset or empty. */
static const char *opt(const PQconninfoOption *opts, const char *keyword)
{
	for (const PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->val && o->val[0] ? o->val : NULL;
	return NULL;
}

static int count_entries(const char *list)
{
	int n = 1;
	for (const char *s = list; *s; s++)
		n += *s == ',';
	return n;
}

/* The i-th comma-separated entry of list (libpq has no escapes here), or "". */
static char *entry(const char *list, int i)
{
	if (list == NULL)
		return strdup("");
	const char *s = list;
	while (i-- > 0 && (s = strchr(s, ',')) != NULL)
		s++;
	if (s == NULL)
		return strdup("");
	size_t n = strcspn(s, ",");
	char *out = malloc(n + 1);
	if (out) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return out;
}

static bool is_address(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static void join(struct buf *b, int i, const char *s)
{
	if (i > 0)
		buf_putc(b, ',');
	buf_puts(b, s);
}

int db_hosts_parse(struct db_hosts *hs, const char *conninfo)
{
	memset(hs, 0, sizeof *hs);
	char *err = NULL;
	PQconninfoOption *given = PQconninfoParse(conninfo, &err);
	if (given == NULL) {
		PQfreemem(err);
		return 0; /* libpq reports it when connecting */
	}
	/* What the URL leaves out comes from the environment and PGSERVICE's
	 * service file (PQconndefaults reads both, as a connect would). A service
	 * named in the URL itself would come first, and only libpq reads it. */
	PQconninfoOption *dflt = PQconndefaults();
	const char *host = opt(given, "host"), *hostaddr = opt(given, "hostaddr");
	const char *port = opt(given, "port");
	if (opt(given, "service") != NULL && host == NULL && hostaddr == NULL) {
		hs->unknown = true;
		goto done;
	}
	if (host == NULL)
		host = opt(dflt, "host");
	if (hostaddr == NULL)
		hostaddr = opt(dflt, "hostaddr");
	if (port == NULL)
		port = opt(dflt, "port");
	if (host == NULL && hostaddr == NULL)
		goto done; /* libpq's default socket: nothing to look up */
	int n = hostaddr ? count_entries(hostaddr) : count_entries(host);
	int nports = port ? count_entries(port) : 1;
	if ((host && hostaddr && count_entries(host) != n) || (nports != 1 && nports != n))
		goto done; /* libpq refuses these lists before looking anything up */
	hs->h = calloc((size_t)n, sizeof *hs->h);
	if (hs->h == NULL)
		goto oom;
	hs->n = n;
	for (int i = 0; i < n; i++) {
		struct db_host *h = &hs->h[i];
		h->host = entry(host, i);
		h->hostaddr = entry(hostaddr, i);
		h->port = entry(port, nports == 1 ? 0 : i);
		if (h->host == NULL || h->hostaddr == NULL || h->port == NULL)
			goto oom;
		if (h->hostaddr[0] != '\0' || h->host[0] == '\0' || h->host[0] == '/' ||
		    h->host[0] == '@')
			continue;	   /* an address, a socket, or libpq's default socket */
		if (is_address(h->host)) { /* libpq would still call getaddrinfo on it */
			free(h->hostaddr);
			if ((h->hostaddr = strdup(h->host)) == NULL)
				goto oom;
			continue;
		}
		h->lookup = hs->lookup = true;
	}
	if (!hs->lookup) {
		struct buf b[3] = {{0}};
		for (int i = 0; i < n; i++) {
			join(&b[0], i, hs->h[i].host);
			join(&b[1], i, hs->h[i].hostaddr);
			join(&b[2], i, hs->h[i].port);
		}
		for (int i = 0; i < 3; i++)
			buf_putc(&b[i], '\0');
		hs->host = b[0].data;
		hs->hostaddr = b[1].data;
		hs->port = b[2].data;
	}
done:
	PQconninfoFree(given);
	PQconninfoFree(dflt);
	return 0;
oom:
	PQconninfoFree(given);
	PQconninfoFree(dflt);
	db_hosts_free(hs);
	return -1;
}

void db_hosts_free(struct db_hosts *hs)
{
	for (int i = 0; i < hs->n; i++) {
		free(hs->h[i].host);
		free(hs->h[i].hostaddr);
		free(hs->h[i].port);
	}
	free(hs->h);
	free(hs->host);
	free(hs->hostaddr);
	free(hs->port);
	memset(hs, 0, sizeof *hs);
}

/* ---- lookups --------------------------------------------------------------------------- */

struct one {
	uv_getaddrinfo_t req;
	struct db_lookup *l;
	struct addrinfo *ai;
	int status;
	bool started;
};

struct db_lookup {
	const struct db_hosts *hs; /* NULL once abandoned: the pool may free it */
	int n;			   /* entries in one[] */
	db_lookup_fn done;	   /* NULL once abandoned */
	void *arg;
	int pending;
	struct one one[]; /* one per entry of hs */
};

static void lookup_free(struct db_lookup *l)
{
	for (int i = 0; i < l->n; i++)
		uv_freeaddrinfo(l->one[i].ai);
	free(l);
}

/* All answers are in: the lists, in the host list's order. */
static void report(struct db_lookup *l)
{
	const struct db_hosts *hs = l->hs;
	struct buf b[3] = {{0}};
	const char *err = "no address for the database host";
	int k = 0;
	for (int i = 0; i < hs->n; i++) {
		const struct db_host *h = &hs->h[i];
		if (!h->lookup) {
			join(&b[0], k, h->host);
			join(&b[1], k, h->hostaddr);
			join(&b[2], k++, h->port);
			continue;
		}
		if (l->one[i].status != 0)
			err = uv_strerror(l->one[i].status); /* libpq would skip it, too */
		int naddrs = 0;
		for (struct addrinfo *a = l->one[i].ai; a && naddrs < ADDRS_PER_HOST;
		     a = a->ai_next) {
			char ip[64];
			if (a->ai_family == AF_INET6)
				uv_ip6_name((struct sockaddr_in6 *)(void *)a->ai_addr, ip,
					    sizeof ip);
			else if (a->ai_family == AF_INET)
				uv_ip4_name((struct sockaddr_in *)(void *)a->ai_addr, ip,
					    sizeof ip);
			else
				continue;
			naddrs++;
			join(&b[0], k, h->host);
			join(&b[1], k, ip);
			join(&b[2], k++, h->port);
		}
	}
	for (int i = 0; i < 3; i++)
		buf_putc(&b[i], '\0');
	if (k == 0)
		l->done(l->arg, NULL, NULL, NULL, err);
	else
		l->done(l->arg, b[0].data, b[1].data, b[2].data, NULL);
	for (int i = 0; i < 3; i++)
		buf_free(&b[i]);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
	struct one *o = container_of(req, struct one, req);
	struct db_lookup *l = o->l;
	o->ai = ai;
	o->status = status;
	if (--l->pending > 0)
		return;
	if (l->done != NULL) /* else: timed out or shut down meanwhile */
		report(l);
	lookup_free(l);
}

struct db_lookup *db_lookup_start(uv_loop_t *loop, const struct db_hosts *hs, db_lookup_fn done,
				  void *arg, const char **err)
{
	struct db_lookup *l = calloc(1, sizeof *l + (size_t)hs->n * sizeof l->one[0]);
	if (l == NULL) {
		*err = "out of memory";
		return NULL;
	}
	l->hs = hs;
	l->n = hs->n;
	l->done = done;
	l->arg = arg;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	/* Counted up front: a lookup that cannot start must not look finished
	 * while others are still under way. */
	l->pending = 1;
	for (int i = 0; i < hs->n; i++) {
		if (!hs->h[i].lookup)
			continue;
		l->one[i].l = l;
		int rc =
		    uv_getaddrinfo(loop, &l->one[i].req, on_resolved, hs->h[i].host, NULL, &hints);
		if (rc != 0) {
			l->one[i].status = rc;
			continue;
		}
		l->one[i].started = true;
		l->pending++;
	}
	if (l->pending == 1) { /* none started: nothing will call back */
		*err = "no lookup could start";
		for (int i = 0; i < hs->n; i++)
			if (l->one[i].status)
				*err = uv_strerror(l->one[i].status);
		free(l);
		return NULL;
	}
	l->pending--;
	return l;
}

void db_lookup_abandon(struct db_lookup *l)
{
	l->done = NULL;
	l->hs = NULL;
	for (int i = 0; i < l->n; i++)
		if (l->one[i].started)
			uv_cancel((uv_req_t *)&l->one[i].req);
}

PGconn *db_connect_start(const char *conninfo, const char *appname, bool keepalives,
			 const char *host, const char *hostaddr, const char *port)
{
	const char *keys[10], *vals[10];
	int k = 0;
	if (keepalives) { /* first: conninfo's own settings, expanded later, win */
		keys[k] = "keepalives_idle", vals[k++] = "20";
		keys[k] = "keepalives_interval", vals[k++] = "5";
		keys[k] = "keepalives_count", vals[k++] = "3";
	}
	keys[k] = "dbname", vals[k++] = conninfo;
	keys[k] = "client_encoding", vals[k++] = "UTF8";
	keys[k] = "fallback_application_name", vals[k++] = appname;
	if (host != NULL) {
		keys[k] = "host", vals[k++] = host;
		keys[k] = "hostaddr", vals[k++] = hostaddr;
		keys[k] = "port", vals[k++] = port;
	}
	keys[k] = NULL, vals[k] = NULL;
	return PQconnectStartParams(keys, vals, 1);
}
