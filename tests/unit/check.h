/* check.h: the smallest test harness: CHECK records a failure with its line
 * and goes on; check_done prints "N passed, N failed" and gives the exit code. */
#ifndef THREADSTORE_CHECK_H
#define THREADSTORE_CHECK_H

#include <stdio.h>

static int check_pass, check_fail;

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (cond) {                                                             \
			check_pass++;                                                   \
		} else {                                                                \
			check_fail++;                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                       \
	} while (0)

static inline int check_done(void)
{
	printf("%d passed, %d failed\n", check_pass, check_fail);
	return check_fail ? 1 : 0;
}

#endif
