/*
 * Targeted memory points: each thread first works through a buffer of its
 * own (8,192 non-stack accesses no other thread ever sees), then increments
 * a shared counter with a separate atomic load and atomic store, a lost
 * update that no pthread call separates. With --preempt mem only the
 * counter's instructions are points, so PCT's change point lands between
 * the load and the store often; with every access a point (mem-all) it is
 * one step among thousands. `rmw` (the correct twin) increments with one
 * atomic fetch-add, also a point, and never loses an update.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 4096

static atomic_int counter;
static int use_rmw;

static void *work(void *arg)
{
	int *buf = malloc(N * sizeof(*buf));
	unsigned sum = 0;
	for (int i = 0; i < N; i++)
		buf[i] = i * (int)(intptr_t)arg;
	for (int i = 0; i < N; i++)
		sum += (unsigned)buf[i];
	free(buf);
	if (use_rmw)
		atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
	else {
		int v = atomic_load_explicit(&counter, memory_order_relaxed);
		atomic_store_explicit(&counter, v + 1, memory_order_relaxed);
	}
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	pthread_t a, b;
	use_rmw = argc > 1 && strcmp(argv[1], "rmw") == 0;
	pthread_create(&a, NULL, work, (void *)1);
	pthread_create(&b, NULL, work, (void *)2);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert(atomic_load(&counter) == 2);
	printf("counter %d\n", atomic_load(&counter));
	return 0;
}
