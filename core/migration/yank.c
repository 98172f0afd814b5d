/*
 * The yank registry: instances by name, each with its yank functions, all
 * under yank_lock. yank_lock is a "fast" lock (taken by the OOB monitor):
 * nothing blocks under it, and it is never taken under qemu_file_lock.
 */
#include "yank.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "list.h"

struct yank_func {
	YankFn *fn;
	void *opaque;
	QLIST_ENTRY(yank_func) next;	/* under yank_lock */
};

struct yank_instance {
	char *name;
	QLIST_HEAD(, yank_func) yankfns;	/* under yank_lock */
	QLIST_ENTRY(yank_instance) next;	/* under yank_lock */
};

static pthread_mutex_t yank_lock = PTHREAD_MUTEX_INITIALIZER;
static QLIST_HEAD(, yank_instance) yank_instances =
	QLIST_HEAD_INITIALIZER(yank_instances);	/* under yank_lock */

static struct yank_instance *yank_find_entry_locked(const char *instance)
{
	struct yank_instance *entry;

	QLIST_FOREACH(entry, &yank_instances, next) {
		if (strcmp(entry->name, instance) == 0)
			return entry;
	}
	return NULL;
}

static void *yank_alloc(size_t size)
{
	void *p = calloc(1, size);

	assert(p);	/* out of memory in the bookkeeping: nothing sane to do */
	return p;
}

void yank_register_instance(const char *instance)
{
	struct yank_instance *entry;

	pthread_mutex_lock(&yank_lock);
	assert(!yank_find_entry_locked(instance));
	entry = yank_alloc(sizeof(*entry));
	entry->name = strdup(instance);
	assert(entry->name);
	QLIST_INIT(&entry->yankfns);
	QLIST_INSERT_HEAD(&yank_instances, entry, next);
	pthread_mutex_unlock(&yank_lock);
}

void yank_unregister_instance(const char *instance)
{
	struct yank_instance *entry;

	pthread_mutex_lock(&yank_lock);
	entry = yank_find_entry_locked(instance);
	assert(entry);
	/* every function must have been unregistered by its owner first */
	assert(QLIST_EMPTY(&entry->yankfns));
	QLIST_REMOVE(entry, next);
	pthread_mutex_unlock(&yank_lock);
	free(entry->name);
	free(entry);
}

void yank_register_function(const char *instance, YankFn *fn, void *opaque)
{
	struct yank_instance *entry;
	struct yank_func *func = yank_alloc(sizeof(*func));

	func->fn = fn;
	func->opaque = opaque;
	pthread_mutex_lock(&yank_lock);
	entry = yank_find_entry_locked(instance);
	assert(entry);
	QLIST_INSERT_HEAD(&entry->yankfns, func, next);
	pthread_mutex_unlock(&yank_lock);
}

void yank_unregister_function(const char *instance, YankFn *fn, void *opaque)
{
	struct yank_instance *entry;
	struct yank_func *func, *found = NULL;

	pthread_mutex_lock(&yank_lock);
	entry = yank_find_entry_locked(instance);
	assert(entry);
	QLIST_FOREACH(func, &entry->yankfns, next) {
		if (func->fn == fn && func->opaque == opaque) {
			found = func;
			break;
		}
	}
	assert(found);
	QLIST_REMOVE(found, next);
	pthread_mutex_unlock(&yank_lock);
	free(found);
}

int yank_do(const char *instance)
{
	struct yank_instance *entry;
	struct yank_func *func;
	int ret = 0;

	pthread_mutex_lock(&yank_lock);
	entry = yank_find_entry_locked(instance);
	if (!entry) {
		ret = -ENOENT;
	} else {
		QLIST_FOREACH(func, &entry->yankfns, next)
			func->fn(func->opaque);
	}
	pthread_mutex_unlock(&yank_lock);
	return ret;
}

int yank_function_count(const char *instance)
{
	struct yank_instance *entry;
	struct yank_func *func;
	int n = -ENOENT;

	pthread_mutex_lock(&yank_lock);
	entry = yank_find_entry_locked(instance);
	if (entry) {
		n = 0;
		QLIST_FOREACH(func, &entry->yankfns, next)
			n++;
	}
	pthread_mutex_unlock(&yank_lock);
	return n;
}

void yank_channel(void *opaque)
{
	channel_shutdown(opaque, CHANNEL_SHUTDOWN_BOTH);
}
