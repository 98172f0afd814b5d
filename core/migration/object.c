/*
 * A minimal QOM-like reference count (see object.h): atomic increments and
 * decrements, finalize at zero.
 */
#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>

#include "object.h"

void object_init(struct object *obj, const char *type,
		 void (*finalize)(struct object *))
{
	atomic_init(&obj->ref, 1);
	obj->finalize = finalize;
	obj->type = type;
}

struct object *object_ref(struct object *obj)
{
	int ref;

	if (!obj)
		return NULL;
	ref = atomic_fetch_add(&obj->ref, 1);
	assert(ref > 0);
	return obj;
}

void object_unref(struct object *obj)
{
	int ref;

	if (!obj)
		return;
	ref = atomic_fetch_sub(&obj->ref, 1);
	assert(ref > 0);
	if (ref == 1 && obj->finalize)
		obj->finalize(obj);
}

int object_ref_count(const struct object *obj)
{
	return atomic_load(&obj->ref);
}
