/*
 * Locksets for memory points: two threads each fill 200 slots of a shared
 * table, every access under `lock`, then count themselves in `done` with a
 * separate atomic load and atomic store, a lost update that no pthread call
 * separates. The table is shared and written, but always under the same
 * lock: with --preempt mem its instructions are no points (the lock's own
 * scheduling points order the critical sections), so the points are the
 * counter's load and store alone, and PCT's k stays small. `rmw` (the correct
 * twin) counts with one atomic fetch-add and never loses an update.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define SLOTS 200

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int table[2 * SLOTS];     /* under lock */
static int filled;               /* under lock */
static atomic_int done;

struct job {
	int base;
	bool rmw;
};

static void *fill(void *arg)
{
	const struct job *j = arg;
	int base = j->base;
	for (int i = 0; i < SLOTS; i++) {
		pthread_mutex_lock(&lock);
		table[base + i] = table[(base + i + SLOTS) % (2 * SLOTS)] + 1;
		filled++;
		pthread_mutex_unlock(&lock);
	}
	if (j->rmw) {
		atomic_fetch_add_explicit(&done, 1, memory_order_relaxed);
	} else {
		int v = atomic_load_explicit(&done, memory_order_relaxed);
		atomic_store_explicit(&done, v + 1, memory_order_relaxed);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t a, b;
	bool rmw = argc > 1 && strcmp(argv[1], "rmw") == 0;
	struct job ja = { 0, rmw }, jb = { SLOTS, rmw };
	pthread_create(&a, NULL, fill, &ja);
	pthread_create(&b, NULL, fill, &jb);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert(filled == 2 * SLOTS);
	assert(atomic_load(&done) == 2);
	printf("filled %d, done %d\n", filled, atomic_load(&done));
	return 0;
}
