/* workload.c: bench ids (mirrors gen.sql) and request text. */
#include "workload.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

uint64_t wl_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 2685821657736338717ull;
}

uint32_t wl_rand_below(uint64_t *state, uint32_t n)
{
	/* Multiply-shift: bias below 2^-32 per value, irrelevant here. */
	return (uint32_t)(((wl_rand(state) >> 32) * (uint64_t)n) >> 32);
}

uint32_t wl_mix(uint64_t x)
{
	return (uint32_t)((x * 2654435761u) & 0xffffffffu);
}

void wl_user_id(unsigned u, char out[16])
{
	snprintf(out, 16, "%u", WL_USER_BASE + u);
}

void wl_thread_id(const struct wl_shape *s, unsigned u, unsigned t, char out[16])
{
	uint64_t g = (uint64_t)u * s->threads + t;
	snprintf(out, 16, "thr_%08x", wl_mix(g));
}

void wl_item_id(const struct wl_shape *s, unsigned u, unsigned t, unsigned i, char out[16])
{
	uint64_t g = (uint64_t)u * s->threads + t;
	snprintf(out, 16, "msg_%08x", wl_mix(g * s->items + i));
}

void wl_big_thread_id(char out[16])
{
	snprintf(out, 16, "thr_%08x", wl_mix(WL_BIG_THREAD_G));
}

void wl_big_item_id(unsigned i, char out[16])
{
	snprintf(out, 16, "msg_%08x", wl_mix((uint64_t)WL_BIG_ITEM_BASE + i));
}

static void head(struct buf *out, const struct wl_target *tg)
{
	buf_printf(out, " HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n", tg->host,
		   tg->token);
}

void wl_req_list_threads(struct buf *out, const struct wl_target *tg)
{
	buf_puts(out, "GET /v1/threads?limit=20");
	head(out, tg);
	buf_puts(out, "\r\n");
}

void wl_req_list_items(struct buf *out, const struct wl_target *tg, const char *tid,
		       const char *after, int desc)
{
	buf_printf(out, "GET /v1/threads/%s/items?limit=20", tid);
	if (after)
		buf_printf(out, "&after=%s", after);
	if (desc)
		buf_puts(out, "&order=desc");
	head(out, tg);
	buf_puts(out, "\r\n");
}

/* Sentences for generated messages; ids and timestamps are the only other variable text. */
static const char *const user_text[] = {
    "Can you help me figure out the best way to handle this?",
    "I tried the approach from yesterday but it still fails on the second step.",
    "Here is the error message I get when I run the script with the new settings.",
    "What would be a reasonable budget if we want to keep it under three thousand?",
    "Please keep the answer short, I only need the main points for the meeting.",
    "Is there a way to do this without changing the existing database schema?",
};
static const char *const asst_text[] = {
    "Sure. The simplest option is to split the work into two steps and check each one.",
    "That error usually means the connection was closed before the response arrived.",
    "Here is a short plan: start with the essentials, then add details once they work.",
    "You can keep the schema as is and add an index that matches the query order.",
    "A bounded queue with backoff is safer: it keeps latency predictable under load.",
    "Let me know if you want me to expand any of these points into a full draft.",
};
#define WL_NTEXT (sizeof user_text / sizeof user_text[0])

/* created_at of now, UTC, with microseconds, as chatkit-python writes a naive datetime. */
static void now_iso(char out[40])
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%06ld", (long)tv.tv_usec);
}

void wl_req_add_item(struct buf *out, const struct wl_target *tg, const char *tid, int assistant,
		     uint64_t *rng)
{
	char body[1024], ts[40], text[512];
	now_iso(ts);
	size_t tl = 0;
	const char *const *pool = assistant ? asst_text : user_text;
	for (int k = 0; k < 4; k++) {
		const char *s = pool[wl_rand_below(rng, WL_NTEXT)];
		int n = snprintf(text + tl, sizeof text - tl, "%s%s", k ? " " : "", s);
		if (n < 0 || (size_t)n >= sizeof text - tl)
			break;
		tl += (size_t)n;
	}
	uint64_t r = wl_rand(rng); /* new ids each run: loadgen seeds per run (lg_init) */
	int bl;
	if (assistant)
		bl = snprintf(
		    body, sizeof body,
		    "{\"id\":\"msg_%016llx\",\"thread_id\":\"%s\",\"created_at\":\"%s\","
		    "\"type\":\"assistant_message\",\"content\":[{\"type\":\"output_text\","
		    "\"text\":\"%s\",\"annotations\":[]}]}",
		    (unsigned long long)r, tid, ts, text);
	else
		bl = snprintf(body, sizeof body,
			      "{\"id\":\"msg_%016llx\",\"thread_id\":\"%s\",\"created_at\":\"%s\","
			      "\"type\":\"user_message\",\"content\":[{\"type\":\"input_text\","
			      "\"text\":\"%s\"}],\"attachments\":[],\"quoted_text\":null,"
			      "\"inference_options\":{\"tool_choice\":null,\"model\":null}}",
			      (unsigned long long)r, tid, ts, text);
	if (bl < 0 || (size_t)bl >= sizeof body)
		bl = 0; /* cannot happen with these bounded parts; an empty body gets a 400 */
	buf_printf(out, "POST /v1/threads/%s/items", tid);
	head(out, tg);
	buf_printf(out, "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", bl);
	buf_append(out, body, (size_t)bl);
}

void wl_req_history(struct buf *out, const struct wl_target *tg, int which, uint64_t *rng)
{
	uint32_t r = wl_rand_below(rng, 1u << 30);
	switch (which) {
	case 0:
		buf_puts(out, "GET /v1/threads?order_by=updated_at&limit=20");
		if (r & 1)
			buf_printf(out, "&after=thr_%08x",
				   wl_mix((uint64_t)WL_HIST_THREAD_BASE + (r >> 1) % WL_HIST_THREADS));
		break;
	case 1:
		buf_printf(out, "GET /v1/threads?order_by=updated_at&limit=20&metadata.project=p%u",
			   r % 50);
		break;
	case 2: buf_printf(out, "GET /v1/threads/count?metadata.project=p%u", r % 50); break;
	case 3: buf_puts(out, "GET /v1/threads/count"); break;
	default: buf_printf(out, "GET /v1/search?q=ticket%u&limit=20", r % 10000); break;
	}
	head(out, tg);
	buf_puts(out, "\r\n");
}
