/*
 * Classic pattern: a work-stealing queue's take/steal race. The owner pushes
 * items at the bottom and takes them back from the bottom; a thief steals
 * from the top with a compare-and-swap. The owner's take of the last item
 * must race for it with the same compare-and-swap on top; this one just
 * stores top + 1:
 * when the thief steals the last item between the owner's lowering of bottom
 * and its read of top, both get the item. The queue's words are atomics
 * (ThreadSanitizer is silent) and no pthread call lies in the window, so only
 * memory points (--preempt mem) open it.
 * Expected: assert:got[i] == 1 (an item taken twice).
 * FIXED: the owner's take of the last item competes with a CAS on top.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define ITEMS 4

static atomic_long top, bottom;
static atomic_int buf[ITEMS];
static atomic_int got[ITEMS];    /* how many times each item was taken */

static void put(int v)
{
	long b = atomic_load(&bottom);
	atomic_store(&buf[b], v);
	atomic_store(&bottom, b + 1);
}

static int take(void)
{
	long b = atomic_load(&bottom) - 1;
	atomic_store(&bottom, b);
	long t = atomic_load(&top);
	if (t > b) {                     /* empty */
		atomic_store(&bottom, t);
		return -1;
	}
	int v = atomic_load(&buf[b]);
	if (t == b) {                    /* the last item: a thief may want it too */
#ifdef FIXED
		long want = t;
		if (!atomic_compare_exchange_strong(&top, &want, t + 1))
			v = -1;
#else
		atomic_store(&top, t + 1);   /* the bug: a store, not a CAS */
#endif
		atomic_store(&bottom, t + 1);
	}
	return v;
}

static int steal(void)
{
	long t = atomic_load(&top);
	long b = atomic_load(&bottom);
	if (t >= b)
		return -1;
	int v = atomic_load(&buf[t]);
	if (!atomic_compare_exchange_strong(&top, &t, t + 1))
		return -1;
	return v;
}

static void *owner(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITEMS; i++)
		put(i);
	int v;
	while ((v = take()) >= 0)
		atomic_fetch_add(&got[v], 1);
	return NULL;
}

static void *thief(void *arg)
{
	(void)arg;
	for (int tries = 0; tries < 3; tries++) {
		int v = steal();
		if (v >= 0)
			atomic_fetch_add(&got[v], 1);
	}
	return NULL;
}

int main(void)
{
	pthread_t o, t;
	pthread_create(&o, NULL, owner, NULL);
	pthread_create(&t, NULL, thief, NULL);
	pthread_join(o, NULL);
	pthread_join(t, NULL);
	for (int i = 0; i < ITEMS; i++)
		assert(got[i] == 1);
	printf("every item taken once\n");
	return 0;
}
