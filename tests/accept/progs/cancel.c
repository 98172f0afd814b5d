/*
 * pthread_cancel of a worker blocked in a condition wait: cancellation is not
 * modelled, so the harness stops the run with harness:pthread-cancel (its
 * limit, named as such), and never hangs or reports a bug of the program's.
 */
#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;)
		pthread_cond_wait(&cond, &lock);
	return NULL;
}

int main(void)
{
	pthread_t th;
	pthread_create(&th, NULL, worker, NULL);
	pthread_cancel(th);
	pthread_join(th, NULL);
	return 0;
}
