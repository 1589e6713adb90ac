/* hist.c: log-linear latency histogram (see hist.h for the layout). */
#include "hist.h"

unsigned hist_bucket(uint64_t us)
{
	if (us < HIST_LINEAR)
		return (unsigned)us;
	unsigned msb = 63u - (unsigned)__builtin_clzll(us); /* >= 7 */
	if (msb >= HIST_MAX_BITS)
		return HIST_BUCKETS - 1;
	unsigned shift = msb - 6; /* keeps the top 7 bits: 64..127 */
	return HIST_LINEAR + (msb - 7) * HIST_SUB + (unsigned)((us >> shift) - HIST_SUB);
}

uint64_t hist_bucket_high(unsigned b)
{
	if (b < HIST_LINEAR)
		return b;
	unsigned k = (b - HIST_LINEAR) / HIST_SUB; /* msb - 7 */
	unsigned r = (b - HIST_LINEAR) % HIST_SUB;
	unsigned shift = k + 1;
	return (((uint64_t)HIST_SUB + r) << shift) + ((uint64_t)1 << shift) - 1;
}

void hist_record(struct hist *h, uint64_t us)
{
	h->counts[hist_bucket(us)]++;
	h->n++;
	h->sum += us;
	if (us > h->max)
		h->max = us;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->n += src->n;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
	if (h->n == 0)
		return 0;
	if (pct > 100.0)
		pct = 100.0;
	/* The rank of the value: ceil(pct% of n), at least 1; the epsilon keeps 99.9% of 1000
	 * at rank 999 despite binary fractions. */
	double want = pct / 100.0 * (double)h->n - 1e-9;
	uint64_t rank = (uint64_t)want;
	if ((double)rank < want)
		rank++;
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t v = hist_bucket_high(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->n ? (double)h->sum / (double)h->n : 0.0;
}
