/* keyfetch.c: libcurl multi on the libuv loop, fetching one JWKS URL.
 *
 * curl tells us which sockets to watch (on_socket) and when to call it back
 * (on_curl_timeout); the loop tells curl what happened
 * (curl_multi_socket_action). Finished transfers come out of
 * curl_multi_info_read in drain(). */
#include "keyfetch.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jwks.h"
#include "list.h"
#include "log.h"

#ifndef THREADSTORE_VERSION
#define THREADSTORE_VERSION "0.0.0"
#endif

#define MAX_BODY (1u << 20)
#define CONNECT_TIMEOUT_MS 5000u
#define MAX_BACKOFF_MS 64000u

struct sock { /* one socket curl asked us to watch */
	uv_poll_t poll;
	curl_socket_t fd;
	struct keyfetch *f;
	struct list link;
};

struct keyfetch {
	uv_loop_t *loop;
	size_t nkeys; /* in the set installed last (for the log) */
	struct keyfetch_options o;
	CURLM *multi;
	CURL *easy;	 /* the transfer in flight, or NULL */
	struct buf body; /* its response so far */
	struct buf last; /* the last document installed, to skip unchanged ones */
	bool too_big;
	char errbuf[CURL_ERROR_SIZE];
	uv_timer_t curl_timer; /* curl's timeouts */
	uv_timer_t next_timer; /* the next fetch */
	struct list socks;
	uint64_t last_start; /* uv_now() when the last transfer began */
	unsigned failures;   /* in a row, for the retry backoff */
	bool kicked;	     /* a token named an unknown kid since the last fetch began */
	int open_handles;
	bool closing;
};

static void start_fetch(struct keyfetch *f, const char *why);

/* ---- closing ----------------------------------------------------------------------------- */

static void maybe_free(struct keyfetch *f)
{
	if (!f->closing || f->open_handles > 0)
		return;
	buf_free(&f->body);
	buf_free(&f->last);
	free(f);
	curl_global_cleanup();
}

static void on_timer_closed(uv_handle_t *h)
{
	struct keyfetch *f = h->data;
	f->open_handles--;
	maybe_free(f);
}

static void on_sock_closed(uv_handle_t *h)
{
	struct sock *s = container_of((uv_poll_t *)h, struct sock, poll);
	struct keyfetch *f = s->f;
	free(s);
	f->open_handles--;
	maybe_free(f);
}

static void sock_close(struct sock *s)
{
	list_remove(&s->link);
	uv_poll_stop(&s->poll); /* before curl closes the fd: libuv must not watch a dead fd */
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void end_transfer(struct keyfetch *f)
{
	if (f->easy == NULL)
		return;
	/* Tells on_socket to forget this transfer's sockets (CURL_POLL_REMOVE). */
	curl_multi_remove_handle(f->multi, f->easy);
	curl_easy_cleanup(f->easy);
	f->easy = NULL;
	buf_free(&f->body);
	f->too_big = false;
}

void keyfetch_close(struct keyfetch *f)
{
	if (f == NULL || f->closing)
		return;
	f->closing = true;
	end_transfer(f);
	curl_multi_cleanup(f->multi);
	f->multi = NULL;
	struct list *e;
	while ((e = f->socks.next) != &f->socks) /* none left, unless curl kept one */
		sock_close(container_of(e, struct sock, link));
	uv_close((uv_handle_t *)&f->curl_timer, on_timer_closed);
	uv_close((uv_handle_t *)&f->next_timer, on_timer_closed);
}

/* ---- curl <-> loop ----------------------------------------------------------------------- */

static void finish(struct keyfetch *f, CURLcode res);

static void drain(struct keyfetch *f)
{
	CURLMsg *m;
	int left;
	while (f->multi != NULL && (m = curl_multi_info_read(f->multi, &left)) != NULL)
		if (m->msg == CURLMSG_DONE && m->easy_handle == f->easy)
			finish(f, m->data.result);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct sock *s = container_of(p, struct sock, poll);
	struct keyfetch *f = s->f;
	int flags = 0;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	int running;
	curl_multi_socket_action(f->multi, s->fd, flags, &running);
	drain(f);
}

static void on_curl_timer(uv_timer_t *t)
{
	struct keyfetch *f = container_of(t, struct keyfetch, curl_timer);
	int running;
	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain(f);
}

/* CURLMOPT_TIMERFUNCTION: arm (or disarm, -1) our single timer for curl. A 0
 * still goes through the loop: curl must not be re-entered from its callback. */
static int on_curl_timeout(CURLM *multi, long timeout_ms, void *userp)
{
	struct keyfetch *f = userp;
	if (timeout_ms < 0)
		uv_timer_stop(&f->curl_timer);
	else if (uv_timer_start(&f->curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0) != 0)
		return -1;
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl wants, or stop watching it. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct keyfetch *f = userp;
	struct sock *s = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			curl_multi_assign(f->multi, fd, NULL);
			sock_close(s);
		}
		return 0;
	}
	if (s == NULL) {
		s = calloc(1, sizeof *s);
		if (s == NULL || uv_poll_init_socket(f->loop, &s->poll, fd) != 0) {
			free(s);
			return -1; /* curl fails the transfer; finish() logs it */
		}
		s->fd = fd;
		s->f = f;
		list_push_back(&f->socks, &s->link);
		f->open_handles++;
		curl_multi_assign(f->multi, fd, s);
	}
	int events = 0;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *userp)
{
	struct keyfetch *f = userp;
	size_t n = size * nmemb;
	if (f->body.len + n > MAX_BODY) {
		f->too_big = true;
		return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
	}
	buf_append(&f->body, p, n);
	return n;
}

/* ---- scheduling -------------------------------------------------------------------------- */

static void on_next(uv_timer_t *t)
{
	struct keyfetch *f = container_of(t, struct keyfetch, next_timer);
	start_fetch(f, f->kicked ? "unknown kid" : f->failures ? "retry" : "refresh");
}

static void schedule(struct keyfetch *f, uint64_t delay_ms)
{
	if (uv_timer_start(&f->next_timer, on_next, delay_ms, 0) != 0)
		log_warn("jwks refresh not scheduled", "url=%s", f->o.url);
}

/* After a failure: 1, 2, 4 ... s, never longer than the refresh interval. */
static uint64_t retry_delay(const struct keyfetch *f)
{
	unsigned shift = f->failures > 7 ? 6 : f->failures - 1;
	uint64_t d = 1000u << shift;
	if (d > MAX_BACKOFF_MS)
		d = MAX_BACKOFF_MS;
	return d < f->o.refresh_ms ? d : f->o.refresh_ms;
}

/* Parses the response and installs its keys. NULL, or why it could not. */
static const char *install(struct keyfetch *f)
{
	if (f->last.len > 0 && f->last.len == f->body.len &&
	    memcmp(f->last.data, f->body.data, f->body.len) == 0) {
		log_msg(LOG_DEBUG, "jwks unchanged", "url=%s", f->o.url);
		return NULL; /* same document, same keys: keep the parsed set */
	}
	const char *why;
	struct jwks *set = jwks_parse(f->body.data, f->body.len, &why);
	if (set == NULL)
		return why;
	log_info("jwks loaded", "source=%s keys=%zu skipped=%zu", f->o.url, set->n, set->skipped);
	f->nkeys = set->n;
	f->o.on_keys(f->o.arg, set);
	buf_reset(&f->last);
	buf_append(&f->last, f->body.data, f->body.len);
	return NULL;
}

static void finish(struct keyfetch *f, CURLcode res)
{
	long status = 0;
	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	char reason[CURL_ERROR_SIZE + 32];
	const char *bad = NULL;
	if (f->too_big)
		bad = "response is over 1 MiB";
	else if (res != CURLE_OK)
		bad = f->errbuf[0] ? f->errbuf : curl_easy_strerror(res);
	else if (status != 200) {
		snprintf(reason, sizeof reason, "HTTP status %ld", status);
		bad = reason;
	} else
		bad = install(f);
	end_transfer(f);
	if (bad == NULL) {
		f->failures = 0;
		schedule(f, f->o.refresh_ms);
		f->o.on_settled(f->o.arg);
		return;
	}
	f->failures++;
	char q[CURL_ERROR_SIZE + 64];
	/* known keys keep working */
	log_warn("jwks fetch failed", "url=%s reason=%s failures=%u keys_kept=%zu", f->o.url,
		 log_quote(q, sizeof q, bad, strlen(bad)), f->failures, f->nkeys);
	schedule(f, retry_delay(f));
	f->o.on_settled(f->o.arg);
}

unsigned keyfetch_wait_ms(const struct keyfetch *f)
{
	if (f->closing)
		return 0;
	if (f->easy != NULL)
		return KEY_FETCH_WAIT_MS;
	/* A kick during the cooldown: the fetch it asked for runs when it ends. */
	if (f->kicked && uv_is_active((const uv_handle_t *)&f->next_timer))
		return (unsigned)uv_timer_get_due_in(&f->next_timer) + KEY_FETCH_WAIT_MS;
	return 0;
}

static void start_fetch(struct keyfetch *f, const char *why)
{
	if (f->closing || f->easy != NULL)
		return;
	uv_timer_stop(&f->next_timer); /* finish() sets the next one */
	f->last_start = uv_now(f->loop);
	f->errbuf[0] = '\0';
	CURL *e = curl_easy_init();
	unsigned connect_ms =
	    f->o.timeout_ms < CONNECT_TIMEOUT_MS ? f->o.timeout_ms : CONNECT_TIMEOUT_MS;
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	if (e != NULL)
		rc = curl_easy_setopt(e, CURLOPT_URL, f->o.url) |
		     curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") |
		     curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") |
		     curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L) |
		     curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L) |
		     curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)f->o.timeout_ms) |
		     curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms) |
		     curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) |
		     /* One fetch every few minutes: an idle kept-alive socket would only
		      * need watching, and closing at shutdown, for nothing. */
		     curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) |
		     curl_easy_setopt(e, CURLOPT_USERAGENT, "threadstore/" THREADSTORE_VERSION) |
		     curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf) |
		     curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) |
		     curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	if (rc != CURLE_OK || curl_multi_add_handle(f->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		f->failures++;
		log_warn("jwks fetch failed",
			 "url=%s reason=\"cannot start a transfer\" failures=%u", f->o.url,
			 f->failures);
		schedule(f, retry_delay(f));
		return;
	}
	f->easy = e;
	if (f->kicked)
		log_info("jwks refetch", "url=%s reason=\"%s\"", f->o.url, why);
	else
		log_msg(LOG_DEBUG, "jwks fetch", "url=%s reason=%s", f->o.url, why);
	f->kicked = false;
}

void keyfetch_kick(struct keyfetch *f)
{
	if (f->closing || f->easy != NULL)
		return; /* the transfer in flight brings whatever keys there are */
	f->kicked = true;
	uint64_t since = uv_now(f->loop) - f->last_start;
	if (since >= f->o.cooldown_ms) {
		start_fetch(f, "unknown kid");
		return;
	}
	/* Too soon: make sure a fetch happens when the cooldown ends. */
	uint64_t wait = f->o.cooldown_ms - since;
	if (!uv_is_active((uv_handle_t *)&f->next_timer) ||
	    uv_timer_get_due_in(&f->next_timer) > wait)
		schedule(f, wait);
}

struct keyfetch *keyfetch_start(uv_loop_t *loop, const struct keyfetch_options *o)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot initialise libcurl", "%s", "");
		return NULL;
	}
	struct keyfetch *f = calloc(1, sizeof *f);
	if (f == NULL || (f->multi = curl_multi_init()) == NULL) {
		free(f);
		curl_global_cleanup();
		log_error("cannot initialise libcurl", "%s", "");
		return NULL;
	}
	f->loop = loop;
	f->o = *o;
	list_init(&f->socks);
	/* Timers on a live loop cannot fail to initialise. */
	uv_timer_init(loop, &f->curl_timer);
	uv_timer_init(loop, &f->next_timer);
	f->curl_timer.data = f->next_timer.data = f;
	f->open_handles = 2;
	if (curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timeout) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f) != CURLM_OK) {
		log_error("cannot initialise libcurl", "%s", "");
		keyfetch_close(f);
		return NULL;
	}
	log_info("jwks source", "url=%s refresh_s=%u cooldown_s=%u", o->url, o->refresh_ms / 1000,
		 o->cooldown_ms / 1000);
	start_fetch(f, "start");
	return f;
}
