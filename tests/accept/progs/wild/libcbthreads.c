/*
 * A library of our own, built with plain clang (not migrace-cc): it knows
 * nothing of the harness. cbt_run starts n threads of its own, each calling
 * the program back (fn(arg, i)) once every thread has started (a start gate
 * on the library's own mutex and condition variable), then joins them.
 */
#include <pthread.h>

#include "libcbthreads.h"

#define CBT_MAX 8

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int started;
static int expected;

struct cbt_job {
	void (*fn)(void *, int);
	void *arg;
	int i;
};

static void *cbt_thread(void *p)
{
	struct cbt_job *job = p;
	pthread_mutex_lock(&gate_lock);
	if (++started == expected)
		pthread_cond_broadcast(&gate_cond);
	while (started < expected)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	job->fn(job->arg, job->i);
	return NULL;
}

int cbt_run(int n, void (*fn)(void *, int), void *arg)
{
	pthread_t th[CBT_MAX];
	struct cbt_job jobs[CBT_MAX];
	if (n < 1 || n > CBT_MAX)
		return -1;
	started = 0;
	expected = n;
	for (int i = 0; i < n; i++) {
		jobs[i] = (struct cbt_job){ fn, arg, i };
		if (pthread_create(&th[i], NULL, cbt_thread, &jobs[i]))
			return -1;
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	return 0;
}
