/* Metrics: counters by route and status, the cumulative histogram, the
 * rejection reasons and gauges in Prometheus text. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

static const char *name(int i)
{
	return i == 0 ? "/a" : "/b";
}

static int has(const struct buf *b, const char *line)
{
	return strstr(b->data, line) != NULL;
}

int main(void)
{
	struct metrics m;
	memset(&m, 0, sizeof m);
	metrics_request(&m, 0, 200, 0.0004, 10);
	metrics_request(&m, 0, 200, 0.003, 20);
	metrics_request(&m, 1, 404, 20.0, 5); /* past the last bucket: +Inf only */
	metrics_request(&m, 2, 418, 0.1, 0); /* no route ("none"), an odd status */
	metrics_reject(&m, MR_BODY_BUDGET);
	metrics_reject(&m, MR_NO_FILES);
	metrics_reject(&m, MR_NO_FILES);
	struct metrics_gauges g = {.connections = 3, .body_bytes = 1234, .body_budget = 4096,
				   .write_timeouts = 2};
	struct buf out = {0};
	metrics_render(&m, &g, 2, name, &out);
	buf_putc(&out, '\0');
	CHECK(has(&out, "threadstore_requests_total{route=\"/a\",status=\"200\"} 2\n"));
	CHECK(has(&out, "threadstore_requests_total{route=\"/b\",status=\"404\"} 1\n"));
	CHECK(has(&out, "threadstore_requests_total{route=\"none\",status=\"other\"} 1\n"));
	CHECK(!has(&out, "route=\"/b\",status=\"200\"")); /* zero counters are left out */
	CHECK(has(&out, "threadstore_request_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
	CHECK(has(&out, "threadstore_request_duration_seconds_bucket{le=\"0.005\"} 2\n"));
	CHECK(has(&out, "threadstore_request_duration_seconds_bucket{le=\"10\"} 3\n"));
	CHECK(has(&out, "threadstore_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
	CHECK(has(&out, "threadstore_request_duration_seconds_count 4\n"));
	CHECK(has(&out, "threadstore_response_bytes_total 35\n"));
	CHECK(has(&out, "threadstore_rejected_total{reason=\"body_budget\"} 1\n"));
	CHECK(has(&out, "threadstore_rejected_total{reason=\"no_file_descriptors\"} 2\n"));
	CHECK(has(&out, "threadstore_rejected_total{reason=\"queue_full\"} 0\n"));
	CHECK(has(&out, "threadstore_connections 3\n"));
	CHECK(has(&out, "threadstore_request_body_bytes 1234\n"));
	CHECK(has(&out, "threadstore_request_body_budget_bytes 4096\n"));
	CHECK(has(&out, "threadstore_write_timeouts_total 2\n"));
	/* Every sample line has a HELP and a TYPE for its family. */
	int samples = 0, typed = 1;
	for (char *line = out.data; *line; line = strchr(line, '\n') + 1) {
		if (*line != '#') {
			char fam[128];
			sscanf(line, "%127[a-z_]", fam);
			char *t = strstr(fam, "_bucket");
			if (t == NULL)
				t = strstr(fam, "_sum");
			if (t == NULL)
				t = strstr(fam, "_count");
			if (t != NULL && strstr(fam, "duration"))
				*t = '\0';
			char want[160];
			snprintf(want, sizeof want, "# TYPE %s ", fam);
			typed &= strstr(out.data, want) != NULL;
			samples++;
		}
		if (strchr(line, '\n') == NULL)
			break;
	}
	CHECK(samples > 20 && typed);
	buf_free(&out);
	return check_done();
}
