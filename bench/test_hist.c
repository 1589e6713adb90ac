/* test_hist.c: the bench histogram's buckets and percentiles, and the id formulas
 * loadgen shares with gen.sql. Prints "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h" /* tests/unit: the project's CHECK harness */
#include "hist.h"
#include "workload.h"


static void test_buckets(void)
{
	/* Every value is in a bucket whose high end is >= it and at most 1/64 above it, and
	 * bucket indexes never go down as values go up. */
	unsigned prev = 0;
	int bad_high = 0, bad_order = 0;
	for (uint64_t v = 0; v < 5000000; v += 1 + v / 1000) {
		unsigned b = hist_bucket(v);
		uint64_t hi = hist_bucket_high(b);
		if (hi < v || (double)(hi - v) > (double)v / 64.0 + 1.0)
			bad_high++;
		if (b < prev)
			bad_order++;
		prev = b;
	}
	CHECK(bad_high == 0);
	CHECK(bad_order == 0);
	CHECK(hist_bucket(127) == 127);
	CHECK(hist_bucket(128) == 128);
	CHECK(hist_bucket_high(128) == 129);
	CHECK(hist_bucket(~0ull) == HIST_BUCKETS - 1);
	CHECK(hist_bucket((1ull << 40) - 1) == HIST_BUCKETS - 1);
}

static void test_percentiles(void)
{
	static struct hist h, g;
	CHECK(hist_percentile(&h, 50) == 0);
	for (uint64_t v = 1; v <= 100000; v++)
		hist_record(&h, v);
	uint64_t p50 = hist_percentile(&h, 50), p99 = hist_percentile(&h, 99);
	uint64_t p999 = hist_percentile(&h, 99.9), p100 = hist_percentile(&h, 100);
	CHECK(p50 >= 50000 && p50 <= 50000 + 50000 / 64 + 1);
	CHECK(p99 >= 99000 && p99 <= 99000 + 99000 / 64 + 1);
	CHECK(p999 >= 99900 && p999 <= 100000);
	CHECK(p100 == 100000);
	CHECK(h.max == 100000 && h.n == 100000);
	CHECK(hist_mean(&h) > 50000.0 && hist_mean(&h) < 50001.0);
	/* One slow outlier among fast values shows at p99.9 only when it is >= 0.1%. */
	for (int i = 0; i < 999; i++)
		hist_record(&g, 100);
	hist_record(&g, 2000000);
	CHECK(hist_percentile(&g, 99.9) == 100);
	CHECK(hist_percentile(&g, 100) == 2000000);
	hist_merge(&g, &h);
	CHECK(g.n == 101000 && g.max == 2000000);
}

/* Values gen.sql produces for the same indexes (checked against PostgreSQL). */
static void test_ids(void)
{
	struct wl_shape s = {1000, 100, 10, 1000000};
	char id[16];
	CHECK(wl_mix(1) == 2654435761u);
	CHECK(wl_mix(0x100000000ull) == 0);
	wl_user_id(0, id);
	CHECK(strcmp(id, "1000000") == 0);
	wl_thread_id(&s, 0, 1, id);
	CHECK(strcmp(id, "thr_9e3779b1") == 0);
	wl_item_id(&s, 0, 0, 1, id);
	CHECK(strcmp(id, "msg_9e3779b1") == 0);
	wl_big_thread_id(id);
	CHECK(strlen(id) == 12 && strncmp(id, "thr_", 4) == 0);
	uint64_t rng = 42;
	int in_range = 1;
	for (int i = 0; i < 10000; i++)
		if (wl_rand_below(&rng, 7) >= 7)
			in_range = 0;
	CHECK(in_range);
}

int main(void)
{
	test_buckets();
	test_percentiles();
	test_ids();
	return check_done();
}
