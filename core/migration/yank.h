/*
 * Yank: named instances, each with a list of functions that force the
 * instance's connections down (shutdown, never close) when the QMP "yank"
 * command arrives. Everything runs under one global yank lock.
 */
#ifndef CORE_YANK_H
#define CORE_YANK_H

typedef void YankFn(void *opaque);

/* Add an instance; asserts that it does not exist yet. */
void yank_register_instance(const char *instance);
/*
 * Remove an instance; asserts that it exists and that every function was
 * unregistered first (assert(QLIST_EMPTY(&entry->yankfns))).
 */
void yank_unregister_instance(const char *instance);
/* Add fn(opaque) to an existing instance (asserted). fn must not block. */
void yank_register_function(const char *instance, YankFn *fn, void *opaque);
/* Remove fn(opaque) from the instance; asserts that it was registered. */
void yank_unregister_function(const char *instance, YankFn *fn, void *opaque);
/*
 * The QMP yank: call every function of the instance, under the yank lock
 * (so none can be unregistered, and its opaque freed, meanwhile).
 * -ENOENT if there is no such instance, else 0.
 */
int yank_do(const char *instance);
/* How many functions the instance has, or -ENOENT. For assertions and tests. */
int yank_function_count(const char *instance);
/* The standard yank function for a channel: channel_shutdown(opaque, BOTH). */
void yank_channel(void *opaque);

#endif
