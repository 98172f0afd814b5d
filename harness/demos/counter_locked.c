/*
 * Demo: the same counter, protected by a mutex. No schedule may produce a
 * ThreadSanitizer report: the real mutex is still taken, so TSan sees the
 * program's own happens-before edges.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>

#include <migrace/sync_point.h>

static long counter;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *incr(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	SYNC_POINT("demo:incr:done");
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	pthread_create(&a, NULL, incr, NULL);
	pthread_create(&b, NULL, incr, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert(counter == 200);
	printf("counter = %ld\n", counter);
	return 0;
}
