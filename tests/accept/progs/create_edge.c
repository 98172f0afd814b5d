/*
 * Thread creation orders memory for memory points: main fills a table of 64
 * settings and each worker's job before pthread_create; the two workers read
 * them all (nothing written there after the creation, so nothing shared),
 * then count themselves in `done` with a separate atomic load and atomic
 * store, a lost update that no pthread call separates. With --preempt mem
 * the settings' and the jobs' instructions are no points: what main wrote
 * before creating a thread happens before all of that thread. `late` makes
 * main write the settings again after creating the workers, a real race:
 * then their instructions are points. `rmw` (the correct twin) counts with
 * one atomic fetch-add and never loses an update.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define SETTINGS 64

static int settings[SETTINGS];   /* main, before the workers (or after: late) */
static atomic_int done;

struct job {
	int scale;
	bool rmw;
	long sum;                /* the worker's own */
};

static void *work(void *arg)
{
	struct job *j = arg;
	long sum = 0;
	for (int i = 0; i < SETTINGS; i++)
		sum += (long)settings[i] * j->scale;
	j->sum = sum;
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
	static struct job jobs[2];
	pthread_t th[2];
	bool rmw = argc > 1 && strcmp(argv[1], "rmw") == 0;
	bool late = argc > 1 && strcmp(argv[1], "late") == 0;

	for (int i = 0; i < SETTINGS; i++)
		settings[i] = i + 1;
	for (int t = 0; t < 2; t++) {
		jobs[t] = (struct job){ .scale = t + 1, .rmw = rmw };
		pthread_create(&th[t], NULL, work, &jobs[t]);
	}
	if (late)
		for (int i = 0; i < SETTINGS; i++)
			settings[i] = i + 2;
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	assert(atomic_load(&done) == 2);
	printf("sums %ld %ld, done %d\n", jobs[0].sum, jobs[1].sum, atomic_load(&done));
	return 0;
}
