/* hist.h: latency histogram with log-linear buckets (HdrHistogram's layout).
 *
 * Values are microseconds. 0..127 get a bucket each; above that every power of
 * two [2^k, 2^(k+1)) is cut into 64 equal buckets, so a bucket is at most
 * 1/64 (1.6%) of its values wide, up to 2^HIST_MAX_BITS us (about 12.7 days);
 * larger values land in the last bucket and still count in max. A percentile
 * is reported as the highest value its bucket can hold (never below the true
 * value), clamped to the exact maximum recorded. Plain data: zero-initialise,
 * record, merge; no allocation. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_LINEAR 128 /* values below this are exact */
#define HIST_SUB 64	/* buckets per power of two above HIST_LINEAR */
#define HIST_MAX_BITS 40
#define HIST_BUCKETS (HIST_LINEAR + (HIST_MAX_BITS - 7) * HIST_SUB)

struct hist {
	uint64_t counts[HIST_BUCKETS];
	uint64_t n;
	uint64_t max;
	uint64_t sum; /* for the mean; 2^64 us is far beyond any run */
};

void hist_record(struct hist *h, uint64_t us);
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at percentile pct (0 < pct <= 100); 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double pct);
double hist_mean(const struct hist *h);
/* Bucket index of a value, and the highest value a bucket holds (for tests). */
unsigned hist_bucket(uint64_t us);
uint64_t hist_bucket_high(unsigned b);

#endif
