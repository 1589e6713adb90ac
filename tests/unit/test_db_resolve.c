/* The pool's host list is read as libpq reads it: which entries need a
 * lookup (only names), the per-host ports, and the lists libpq refuses
 * (left to libpq, which reports them before looking anything up). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "db_resolve.h"

static void parse(struct db_hosts *hs, const char *conninfo)
{
	CHECK(db_hosts_parse(hs, conninfo) == 0);
}

static bool is(const char *got, const char *want)
{
	if (got != NULL && strcmp(got, want) == 0)
		return true;
	fprintf(stderr, "  got '%s', want '%s'\n", got ? got : "(null)", want);
	return false;
}

int main(void)
{
	const char *env[] = {"PGHOST", "PGHOSTADDR", "PGPORT", "PGSERVICE", "PGSERVICEFILE"};
	for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
		unsetenv(env[i]);
	struct db_hosts hs;

	/* two names, one port for both: both looked up */
	parse(&hs, "host=a.example,b.example port=6000 dbname=x");
	CHECK(hs.n == 2 && hs.lookup);
	if (hs.n == 2) {
		CHECK(hs.h[0].lookup && hs.h[1].lookup);
		CHECK(is(hs.h[0].host, "a.example") && is(hs.h[1].host, "b.example"));
		CHECK(is(hs.h[0].port, "6000") && is(hs.h[1].port, "6000"));
	}
	db_hosts_free(&hs);

	/* the URI form, a port per host */
	parse(&hs, "postgresql://u@h1:5433,h2:5434/db?target_session_attrs=read-write");
	CHECK(hs.n == 2 && hs.lookup);
	if (hs.n == 2) {
		CHECK(is(hs.h[0].host, "h1") && is(hs.h[0].port, "5433"));
		CHECK(is(hs.h[1].host, "h2") && is(hs.h[1].port, "5434"));
	}
	db_hosts_free(&hs);

	/* a socket, an address, a name: only the name needs a lookup; an
	 * address given as host becomes its own hostaddr (no getaddrinfo) */
	parse(&hs, "host=/run/pg,10.0.0.1,db.example,::1 port=1,2,3,4");
	CHECK(hs.n == 4 && hs.lookup);
	if (hs.n == 4) {
		CHECK(!hs.h[0].lookup && is(hs.h[0].hostaddr, ""));
		CHECK(!hs.h[1].lookup && is(hs.h[1].hostaddr, "10.0.0.1"));
		CHECK(hs.h[2].lookup && is(hs.h[2].port, "3"));
		CHECK(!hs.h[3].lookup && is(hs.h[3].hostaddr, "::1"));
	}
	db_hosts_free(&hs);

	/* nothing to look up: the lists are ready once and for all */
	parse(&hs, "host=a,b hostaddr=10.0.0.1,10.0.0.2 port=7");
	CHECK(hs.n == 2 && !hs.lookup);
	CHECK(is(hs.host, "a,b") && is(hs.hostaddr, "10.0.0.1,10.0.0.2") && is(hs.port, "7,7"));
	db_hosts_free(&hs);

	/* lists libpq refuses: left to libpq */
	parse(&hs, "host=a,b hostaddr=10.0.0.1");
	CHECK(hs.n == 0 && !hs.lookup);
	db_hosts_free(&hs);
	parse(&hs, "host=a,b,c port=1,2");
	CHECK(hs.n == 0 && !hs.lookup);
	db_hosts_free(&hs);

	/* no host anywhere: libpq's default socket, no lookup */
	parse(&hs, "dbname=x");
	CHECK(hs.n == 0 && !hs.lookup && hs.host == NULL);
	db_hosts_free(&hs);

	/* the environment fills in what the URL leaves out, as for libpq */
	setenv("PGHOST", "env.example", 1);
	setenv("PGPORT", "6543", 1);
	parse(&hs, "dbname=x");
	CHECK(hs.n == 1 && hs.lookup);
	if (hs.n == 1)
		CHECK(is(hs.h[0].host, "env.example") && is(hs.h[0].port, "6543"));
	db_hosts_free(&hs);
	parse(&hs, "host=url.example dbname=x"); /* the URL wins */
	CHECK(hs.n == 1 && hs.n == 1 && is(hs.h[0].host, "url.example"));
	db_hosts_free(&hs);
	setenv("PGHOSTADDR", "10.1.1.1", 1);
	parse(&hs, "dbname=x");
	CHECK(hs.n == 1 && !hs.lookup && is(hs.hostaddr, "10.1.1.1"));
	db_hosts_free(&hs);
	unsetenv("PGHOST");
	unsetenv("PGHOSTADDR");
	unsetenv("PGPORT");

	/* PGSERVICE's service file, read by libpq's defaults as by a connect */
	char path[] = "/tmp/ts-pgservice-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd >= 0) {
		const char conf[] = "[viafile]\nhost=svc.example,svc2.example\nport=7001\n";
		CHECK(write(fd, conf, sizeof conf - 1) == (ssize_t)(sizeof conf - 1));
		close(fd);
		setenv("PGSERVICEFILE", path, 1);
		setenv("PGSERVICE", "viafile", 1);
		parse(&hs, "dbname=x");
		CHECK(hs.n == 2 && hs.lookup);
		if (hs.n == 2)
			CHECK(is(hs.h[1].host, "svc2.example") && is(hs.h[1].port, "7001"));
		db_hosts_free(&hs);
		unsetenv("PGSERVICE");
		unsetenv("PGSERVICEFILE");
		unlink(path);
	}

	/* a service named in the URL: only libpq reads its hosts */
	parse(&hs, "service=elsewhere");
	CHECK(hs.unknown && hs.n == 0);
	db_hosts_free(&hs);

	/* a conninfo libpq cannot parse: left to libpq */
	parse(&hs, "host='unterminated");
	CHECK(hs.n == 0);
	db_hosts_free(&hs);
	return check_done();
}
