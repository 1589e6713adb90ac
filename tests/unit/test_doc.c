#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "doc.h"

static int64_t t(const char *s)
{
	int64_t us = -1;
	if (doc_parse_time(s, strlen(s), &us) < 0)
		return -1;
	return us;
}

static int check(enum doc_kind k, const char *body, const char *id, struct doc_info *d,
		 struct buf *scratch, struct buf *id_out)
{
	const char *why;
	return doc_check(k, body, strlen(body), id, id ? strlen(id) : 0, id_out, d, scratch, &why);
}

int main(void)
{
	CHECK(t("1970-01-01T00:00:00") == 0);
	CHECK(t("1970-01-01T00:00:01.5") == 1500000);
	CHECK(t("2025-01-01T00:00:00") == t("2025-01-01T00:00:00+00:00"));
	CHECK(t("2025-01-01T01:00:00+01:00") == t("2025-01-01T00:00:00Z"));
	CHECK(t("2024-12-31T19:00:00-05:00") == t("2025-01-01T00:00:00z"));
	CHECK(t("2025-06-01T12:00:00.123456") - t("2025-06-01T12:00:00") == 123456);
	CHECK(t("2025-06-01 12:00:00") == t("2025-06-01T12:00:00"));
	CHECK(t("2024-02-29T00:00:00") > 0);
	CHECK(t("2025-02-29T00:00:00") == -1);
	CHECK(t("2025-13-01T00:00:00") == -1);
	CHECK(t("2025-01-01") == -1);
	CHECK(t("2025-01-01T00:00:00+") == -1);
	CHECK(t("2025-01-01T00:00:00Zjunk") == -1);
	CHECK(t("yesterday") == -1);
	CHECK(t("1900-01-01T00:00:00") < 0 && t("1900-01-01T00:00:00") != -1);

	struct doc_info d;
	struct buf scratch = {0}, id = {0};
	CHECK(check(DOC_THREAD, " {\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\"}\n", "t", &d,
		    &scratch, NULL) == 0 &&
	      d.text_len == 45 && d.text[0] == '{');
	CHECK(check(DOC_THREAD,
		    "{\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\",\"items\":{\"data\":[]}}",
		    "t", &d, &scratch, NULL) == 0 &&
	      memmem(d.text, d.text_len, "items", 5) == NULL);
	CHECK(check(DOC_THREAD, "{\"id\":\"u\",\"created_at\":\"2025-01-01T00:00:00\"}", "t", &d,
		    &scratch, NULL) < 0);
	CHECK(check(DOC_THREAD, "[1]", "t", &d, &scratch, NULL) < 0);
	CHECK(check(DOC_THREAD, "{\"id\":\"t\"", "t", &d, &scratch, NULL) < 0);
	CHECK(check(DOC_THREAD,
		    "{\"id\":\"t\",\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\"}", "t", &d,
		    &scratch, NULL) < 0);
	CHECK(check(DOC_ITEM,
		    "{\"id\":\"m\",\"thread_id\":\"t\",\"type\":\"user_message\",\"created_at\":"
		    "\"2025-01-01T00:00:00\"}",
		    NULL, &d, &scratch, &id) == 0 &&
	      id.len == 1 && id.data[0] == 'm');
	CHECK(check(DOC_ITEM,
		    "{\"id\":\"m\",\"thread_id\":\"x\",\"type\":\"user_message\",\"created_at\":"
		    "\"2025-01-01T00:00:00\"}",
		    "m", &d, &scratch, NULL) == 0); /* any thread_id: filed under the path's */
	CHECK(check(DOC_ITEM,
		    "{\"id\":\"m\",\"thread_id\":7,\"type\":\"user_message\",\"created_at\":"
		    "\"2025-01-01T00:00:00\"}",
		    "m", &d, &scratch, NULL) < 0);
	CHECK(check(DOC_ITEM,
		    "{\"id\":\"m\",\"thread_id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\"}",
		    "m", &d, &scratch, NULL) < 0);
	CHECK(check(DOC_ATTACHMENT, "{\"id\":\"a\",\"name\":\"f.png\"}", "a", &d, &scratch, NULL) ==
	      0);
	/* "items" is cut out of a full Thread wherever it stands; other bytes stay. */
	static const char *const with_items[][2] = {
	    {"{\"id\":\"t\",\"items\":{\"data\":[{\"x\":\"}\"}]},\"created_at\":\"2025-01-01T00:00:"
	     "00\"}",
	     "{\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\"}"},
	    {"{\"id\":\"t\", \"created_at\":\"2025-01-01T00:00:00\" ,\n  \"items\" : [1, [2]] }",
	     "{\"id\":\"t\", \"created_at\":\"2025-01-01T00:00:00\" }"},
	    {"{\"items\":null,\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\",\"n\":"
	     "18446744073709551615}",
	     "{\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\",\"n\":18446744073709551615}"},
	    {"{\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\",\"it\\u0065ms\":1}",
	     "{\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\"}"},
	};
	for (size_t i = 0; i < sizeof with_items / sizeof with_items[0]; i++) {
		int rc = check(DOC_THREAD, with_items[i][0], "t", &d, &scratch, NULL);
		CHECK(rc == 0 && d.text_len == strlen(with_items[i][1]) &&
		      memcmp(d.text, with_items[i][1], d.text_len) == 0);
	}
	CHECK(check(DOC_THREAD,
		    "{\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\",\"big\":"
		    "123456789012345678901234567890}",
		    "t", &d, &scratch, NULL) == 0 &&
	      d.text_len == 82);
	/* a temporary thread: metadata "threadstore:expires_at" (issue 13) */
	CHECK(check(DOC_THREAD, "{\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\"}", "t", &d,
		    &scratch, NULL) == 0 &&
	      !d.has_expiry);
	CHECK(check(DOC_THREAD,
		    "{\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\",\"metadata\":"
		    "{\"threadstore:expires_at\":\"2025-01-02T01:00:00+01:00\"}}",
		    "t", &d, &scratch, NULL) == 0 &&
	      d.has_expiry && d.expires_us == t("2025-01-02T00:00:00Z"));
	CHECK(check(DOC_THREAD,
		    "{\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\",\"metadata\":"
		    "{\"threadstore:expires_at\":null}}",
		    "t", &d, &scratch, NULL) == 0 &&
	      !d.has_expiry);
	/* only in metadata, and only a thread's */
	CHECK(check(DOC_THREAD,
		    "{\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\","
		    "\"threadstore:expires_at\":\"x\",\"metadata\":[1]}",
		    "t", &d, &scratch, NULL) == 0 &&
	      !d.has_expiry);
	CHECK(check(DOC_ATTACHMENT, "{\"id\":\"a\",\"metadata\":{\"threadstore:expires_at\":1}}",
		    "a", &d, &scratch, NULL) == 0 &&
	      !d.has_expiry);
	const char *bad_expiry[] = {"\"soon\"", "1767225600", "true", "{}",
				    "\"2025-02-30T00:00:00\""};
	for (size_t i = 0; i < sizeof bad_expiry / sizeof bad_expiry[0]; i++) {
		char body[200];
		snprintf(body, sizeof body,
			 "{\"id\":\"t\",\"created_at\":\"2025-01-01T00:00:00\",\"metadata\":"
			 "{\"threadstore:expires_at\":%s}}",
			 bad_expiry[i]);
		CHECK(check(DOC_THREAD, body, "t", &d, &scratch, NULL) < 0);
	}
	buf_free(&scratch);
	buf_free(&id);
	return check_done();
}
