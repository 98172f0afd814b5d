/*
 * A condition variable waited for with `if`, not `while`: correct only as
 * long as pthread_cond_wait never returns without a signal. POSIX allows
 * spurious wake-ups (and a timed wait's timeout can race the signal), so the
 * consumer may take an item that is not there:
 *
 *   consumer                         producer
 *   lock; if (!ready) cond_wait
 *     wakes spuriously
 *   assert(ready) fails
 *                                    lock; ready = 1; signal
 *
 * Found only with spurious wake-ups as decisions (MIGRACE_SPURIOUS=1).
 * "fixed": `while`. "timed": the wait is a timed one that may time out
 * first; its fixed form retries on the timeout.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready;                    /* under lock */
static int fixed, timed;

static void wait_once(void)
{
	if (!timed) {
		pthread_cond_wait(&cv, &lock);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_cond_timedwait(&cv, &lock, &ts);
}

static void *consumer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	if (fixed) {
		while (!ready)
			wait_once();
	} else if (!ready) {
		wait_once();
	}
	assert(ready);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *producer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	ready = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		fixed |= strcmp(argv[i], "fixed") == 0;
		timed |= strcmp(argv[i], "timed") == 0;
	}
	pthread_t c, p;
	pthread_create(&c, NULL, consumer, NULL);
	pthread_create(&p, NULL, producer, NULL);
	pthread_join(c, NULL);
	pthread_join(p, NULL);
	printf("consumed\n");
	return 0;
}
