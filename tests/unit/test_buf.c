#include <string.h>

#include "buf.h"
#include "check.h"

int main(void)
{
	struct buf b = {0};
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%04d", i);
	CHECK(b.len == 4000 && memcmp(b.data + 3996, "0999", 4) == 0);
	buf_consume(&b, 3000);
	CHECK(buf_rlen(&b) == 1000 && memcmp(buf_rptr(&b), "0750", 4) == 0);
	buf_consume(&b, 1000);
	CHECK(buf_rlen(&b) == 0 && b.off == 0);
	buf_reset(&b);
	buf_json_escape(&b, "a\"b\\c\n\x01", 7);
	CHECK(b.len == 15 && memcmp(b.data, "a\\\"b\\\\c\\n\\u0001", 15) == 0);
	buf_free(&b);
	CHECK(b.data == NULL && b.len == 0);
	return check_done();
}
