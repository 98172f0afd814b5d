/*
 * Intrusive doubly linked lists in the style of QEMU's QLIST (BSD queue.h
 * LIST): a head holding the first element, an entry embedded in each element.
 * No locking: the owner of a list says which lock protects it.
 */
#ifndef CORE_LIST_H
#define CORE_LIST_H

#include <stddef.h>

#define QLIST_HEAD(name, type)						\
	struct name {							\
		struct type *lh_first;	/* first element or NULL */	\
	}

#define QLIST_HEAD_INITIALIZER(head) { NULL }

#define QLIST_ENTRY(type)						\
	struct {							\
		struct type *le_next;	/* next element or NULL */	\
		struct type **le_prev;	/* the pointer that points at us */ \
	}

#define QLIST_INIT(head) do { (head)->lh_first = NULL; } while (0)
#define QLIST_EMPTY(head) ((head)->lh_first == NULL)
#define QLIST_FIRST(head) ((head)->lh_first)
#define QLIST_NEXT(elm, field) ((elm)->field.le_next)

#define QLIST_INSERT_HEAD(head, elm, field) do {			\
		(elm)->field.le_next = (head)->lh_first;		\
		if ((elm)->field.le_next != NULL)			\
			(head)->lh_first->field.le_prev = &(elm)->field.le_next; \
		(head)->lh_first = (elm);				\
		(elm)->field.le_prev = &(head)->lh_first;		\
	} while (0)

#define QLIST_REMOVE(elm, field) do {					\
		if ((elm)->field.le_next != NULL)			\
			(elm)->field.le_next->field.le_prev = (elm)->field.le_prev; \
		*(elm)->field.le_prev = (elm)->field.le_next;		\
		(elm)->field.le_next = NULL;				\
		(elm)->field.le_prev = NULL;				\
	} while (0)

#define QLIST_FOREACH(var, head, field)					\
	for ((var) = (head)->lh_first; (var) != NULL; (var) = (var)->field.le_next)

/* Safe against removal of var inside the loop body. */
#define QLIST_FOREACH_SAFE(var, head, field, next_var)			\
	for ((var) = (head)->lh_first;					\
	     (var) != NULL && (((next_var) = (var)->field.le_next), 1);	\
	     (var) = (next_var))

#endif
