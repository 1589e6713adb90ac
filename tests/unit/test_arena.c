/* The arena: aligned bump allocations, big asks in their own chunks, cleanups
 * run once, in reverse order, and an empty arena after release. */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "check.h"

static int order[4], norder;

static void note(void *arg)
{
	order[norder++] = (int)(intptr_t)arg;
}

int main(void)
{
	struct arena a = {0};
	char *p = arena_alloc(&a, 3);
	char *q = arena_alloc(&a, 5);
	CHECK(((uintptr_t)p & 15) == 0 && ((uintptr_t)q & 15) == 0);
	CHECK(q - p == 16); /* same chunk, bumped */
	char *s = arena_strndup(&a, "hello", 5);
	CHECK(strcmp(s, "hello") == 0);
	int *z = arena_zalloc(&a, 64 * sizeof(int));
	int zero = 1;
	for (int i = 0; i < 64; i++)
		zero &= z[i] == 0;
	CHECK(zero);
	/* A big ask gets its own chunk; the head keeps its room for small ones. */
	char *big = arena_alloc(&a, 100000);
	memset(big, 'x', 100000);
	char *after = arena_alloc(&a, 8);
	CHECK(after > s && after - s < 2048);
	/* Many small ones spill into new chunks. */
	for (int i = 0; i < 1000; i++)
		memset(arena_alloc(&a, 100), i & 0xff, 100);
	arena_defer(&a, note, (void *)1);
	arena_defer(&a, note, (void *)2);
	arena_release(&a);
	CHECK(norder == 2 && order[0] == 2 && order[1] == 1);
	CHECK(a.chunks == NULL && a.cleanups == NULL && a.used == 0);
	arena_release(&a); /* empty: nothing runs again */
	CHECK(norder == 2);
	/* Reusable after release. */
	CHECK(strcmp(arena_strndup(&a, "again", 5), "again") == 0);
	arena_release(&a);
	return check_done();
}
