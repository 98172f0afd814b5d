/*
 * A release point bug: the worker marks the job done and unlocks, then writes
 * the job's result; the submitter, woken by the done flag, frees the job.
 *
 *   worker                          submitter (main)
 *   lock; job->done = 1; signal
 *   unlock
 *                                   wakes, sees done; unlock; free(job)
 *   job->result = 42   <- use after free
 *
 * Only a preemption right after the unlock puts the free in between: with
 * scheduling points before calls only, the worker runs on to its exit. No
 * argument: the bug; "fixed": the result is written before the unlock.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
	int done;                    /* under lock */
	int result;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int fixed;

static void *worker(void *arg)
{
	struct job *job = arg;
	pthread_mutex_lock(&lock);
	job->done = 1;
	if (fixed)
		job->result = 42;
	pthread_cond_signal(&done_cv);
	pthread_mutex_unlock(&lock);
	if (!fixed)
		job->result = 42;
	return NULL;
}

int main(int argc, char **argv)
{
	fixed = argc > 1 && strcmp(argv[1], "fixed") == 0;
	struct job *job = calloc(1, sizeof(*job));
	pthread_t t;
	pthread_create(&t, NULL, worker, job);
	pthread_mutex_lock(&lock);
	while (!job->done)
		pthread_cond_wait(&done_cv, &lock);
	pthread_mutex_unlock(&lock);
	free(job);
	pthread_join(t, NULL);
	printf("job done\n");
	return 0;
}
