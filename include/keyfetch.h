/* keyfetch.h: the JWKS of a URL, fetched on the libuv loop without blocking it.
 *
 * libcurl's multi interface driven by the loop: one uv_poll_t per socket curl
 * asks us to watch, one uv_timer_t for curl's own timeouts (the pattern of
 * libcurl's docs/examples/multi-uv.c), and one uv_timer_t for the next fetch.
 * Name resolution runs in curl's resolver thread, never on the loop.
 *
 * When: at start; then every refresh_ms; after a failure, again after 1, 2, 4 ...
 * seconds (capped at 64 s and at refresh_ms); and when a token names a kid we
 * do not know (keyfetch_kick), at most once per cooldown_ms, so garbage tokens
 * cannot make us hammer the auth server. One transfer at a time: a kick while
 * one is in flight is already answered by it.
 *
 * What: a 200 response of at most 1 MiB that parses as a JWKS with at least one
 * usable key replaces the key set (on_keys). Anything else (network
 * error, timeout, other status, bad document) is logged and the current keys
 * stay: while the auth server is down, known keys keep working.
 *
 * Ownership: keyfetch_start allocates the fetcher; keyfetch_close stops it,
 * and it frees itself in its last handle's close callback (uv_run returns
 * after that). It calls its owner's callbacks only before keyfetch_close. */
#ifndef THREADSTORE_KEYFETCH_H
#define THREADSTORE_KEYFETCH_H

#include <stdbool.h>
#include <uv.h>

struct jwks;
struct keyfetch;

struct keyfetch_options {
	const char *url; /* http or https; kept, not copied */
	unsigned refresh_ms;
	unsigned cooldown_ms;
	unsigned timeout_ms; /* one whole transfer */
	/* The owner of the keys (auth.c), told through these, never included:
	 * on_keys takes a new key set (and its ownership); on_settled runs when a
	 * fetch ends, whatever its outcome. */
	void (*on_keys)(void *arg, struct jwks *keys);
	void (*on_settled)(void *arg);
	void *arg;
};

/* NULL after logging why. */
struct keyfetch *keyfetch_start(uv_loop_t *loop, const struct keyfetch_options *o)
    __attribute__((warn_unused_result));
/* A token named an unknown kid: fetch now, or when the cooldown ends. */
void keyfetch_kick(struct keyfetch *f);
/* How long a request whose token just failed should wait for the fetch that
 * may bring its key: 0 when none is coming; while a transfer is in flight,
 * KEY_FETCH_WAIT_MS; while a kicked fetch waits for the cooldown to end, the
 * time until it starts plus KEY_FETCH_WAIT_MS. on_settled runs when that
 * fetch ends, either way. */
#define KEY_FETCH_WAIT_MS 500
unsigned keyfetch_wait_ms(const struct keyfetch *f);
void keyfetch_close(struct keyfetch *f);

#endif
