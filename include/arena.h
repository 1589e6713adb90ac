/* arena.h: per-request bump allocator, released in one call (h2o's mem pool).
 *
 *   chunk -> chunk -> ...      each: [next | used bytes ...... | free]
 *   cleanups: run in reverse order of registration by arena_release
 *
 * Everything a request allocates (its struct request, decoded ids, handler
 * state) comes from the arena and is freed by arena_release at the request's
 * end; buffers that must grow on their own (a struct buf handed to code that
 * appends) are registered with arena_defer and freed there too. Allocation
 * failure aborts, as in buf.c. An empty arena holds no memory. */
#ifndef THREADSTORE_ARENA_H
#define THREADSTORE_ARENA_H

#include <stddef.h>

struct arena_chunk;
struct arena_cleanup;

struct arena {
	struct arena_chunk *chunks; /* newest first; the bump pointer is in the head */
	size_t used, cap;	    /* of the head chunk */
	struct arena_cleanup *cleanups;
};

/* n bytes, 16-byte aligned, uninitialised (arena_zalloc: zeroed). */
void *arena_alloc(struct arena *a, size_t n) __attribute__((malloc));
void *arena_zalloc(struct arena *a, size_t n) __attribute__((malloc));
/* A NUL-terminated copy of p[0..n). */
char *arena_strndup(struct arena *a, const char *p, size_t n);
/* fn(arg) runs at arena_release, after the later-registered ones. */
void arena_defer(struct arena *a, void (*fn)(void *), void *arg);
/* Runs the cleanups and frees every chunk; the arena is empty and reusable. */
void arena_release(struct arena *a);

#endif
