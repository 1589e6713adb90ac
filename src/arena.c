/* arena.c: chunked bump allocator. The first chunk is sized for a typical
 * request (its struct request, ids, the user id, a few cleanups) so most
 * requests cost one malloc and one free; larger asks get a chunk of their own. */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 2048
#define ARENA_ALIGN 16

struct arena_chunk {
	struct arena_chunk *next;
	size_t cap;
	_Alignas(ARENA_ALIGN) char mem[];
};

struct arena_cleanup {
	struct arena_cleanup *next;
	void (*fn)(void *);
	void *arg;
};

static struct arena_chunk *new_chunk(size_t cap)
{
	struct arena_chunk *c = malloc(sizeof *c + cap);
	if (c == NULL) {
		fputs("threadstore: out of memory\n", stderr); /* see buf.c */
		abort();
	}
	c->cap = cap;
	return c;
}

void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (a->chunks != NULL && a->cap - a->used >= n) {
		void *p = a->chunks->mem + a->used;
		a->used += n;
		return p;
	}
	if (n > ARENA_CHUNK / 2 && a->chunks != NULL) {
		/* A big ask gets its own chunk behind the head: the head keeps its room. */
		struct arena_chunk *c = new_chunk(n);
		c->next = a->chunks->next;
		a->chunks->next = c;
		return c->mem;
	}
	struct arena_chunk *c = new_chunk(n > ARENA_CHUNK ? n : ARENA_CHUNK);
	c->next = a->chunks;
	a->chunks = c;
	a->cap = c->cap;
	a->used = n;
	return c->mem;
}

void *arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *p, size_t n)
{
	char *s = arena_alloc(a, n + 1);
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

void arena_defer(struct arena *a, void (*fn)(void *), void *arg)
{
	struct arena_cleanup *c = arena_alloc(a, sizeof *c);
	c->fn = fn;
	c->arg = arg;
	c->next = a->cleanups;
	a->cleanups = c;
}

void arena_release(struct arena *a)
{
	/* Cleanups live in the chunks: run them all before freeing any. */
	for (struct arena_cleanup *c = a->cleanups; c != NULL; c = c->next)
		c->fn(c->arg);
	struct arena_chunk *c = a->chunks;
	while (c != NULL) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	memset(a, 0, sizeof *a);
}
