/*
 * main returns while other threads still run (one blocked on a condvar that
 * is never signalled, one sleeping for an hour): the process ends cleanly,
 * as it would without the harness.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&m);
	pthread_cond_wait(&never, &m);
	pthread_mutex_unlock(&m);
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	sleep(3600);
	return NULL;
}

int main(void)
{
	pthread_t a, b;
	pthread_create(&a, NULL, waiter, NULL);
	pthread_create(&b, NULL, sleeper, NULL);
	puts("main returns");
	return 0;
}
