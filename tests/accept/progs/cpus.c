/*
 * Prints how many CPUs its threads may run on (the affinity of a second
 * thread, then of main): whether the harness pinned the run.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

static void *worker(void *arg)
{
	cpu_set_t set;
	(void)arg;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		printf("thread cpus %d\n", CPU_COUNT(&set));
	return NULL;
}

int main(void)
{
	pthread_t t;
	cpu_set_t set;
	pthread_create(&t, NULL, worker, NULL);
	pthread_join(t, NULL);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		printf("main cpus %d\n", CPU_COUNT(&set));
	return 0;
}
