/* list.h: intrusive circular doubly linked list, and container_of.
 *
 * An element embeds a `struct list` and is recovered with container_of.
 * The head is a `struct list` whose next/prev point to itself when empty.
 * The list never owns its elements. */
#ifndef THREADSTORE_LIST_H
#define THREADSTORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct list {
	struct list *prev, *next;
};

static inline void list_init(struct list *h)
{
	h->prev = h->next = h;
}
static inline bool list_empty(const struct list *h)
{
	return h->next == h;
}

static inline void list_push_back(struct list *h, struct list *e)
{
	e->prev = h->prev;
	e->next = h;
	h->prev->next = e;
	h->prev = e;
}

static inline void list_push_front(struct list *h, struct list *e)
{
	e->next = h->next;
	e->prev = h;
	h->next->prev = e;
	h->next = e;
}

static inline void list_remove(struct list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}

static inline struct list *list_pop_front(struct list *h)
{
	struct list *e = h->next;
	if (e == h)
		return NULL;
	list_remove(e);
	return e;
}

#endif
