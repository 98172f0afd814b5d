/*
 * A minimal QOM-like reference count: an object embeds struct object, and its
 * finalize function runs once, when the last reference is dropped.
 */
#ifndef CORE_OBJECT_H
#define CORE_OBJECT_H

struct object {
	_Atomic int ref;			/* references held; any thread */
	void (*finalize)(struct object *);	/* runs at 0; may be NULL */
	const char *type;			/* for messages; set once */
};

/* Sets up obj with one reference, owned by the caller. */
void object_init(struct object *obj, const char *type,
		 void (*finalize)(struct object *));

/*
 * Takes a reference and returns obj (NULL: does nothing, returns NULL). The
 * caller must already own a reference: taking one on a dead object aborts.
 */
struct object *object_ref(struct object *obj);

/*
 * Drops a reference (NULL: does nothing). The call that drops the last one
 * runs finalize, in the calling thread, with whatever locks the caller holds;
 * dropping more references than were taken aborts.
 */
void object_unref(struct object *obj);

/* The current count; a snapshot, for tests and assertions only. */
int object_ref_count(const struct object *obj);

#endif
