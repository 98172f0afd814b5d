/*
 * Demo: two threads increment a shared counter with no lock. ThreadSanitizer
 * must report the data race under every schedule: the harness adds no
 * happens-before edge of its own between the threads.
 */
#include <pthread.h>
#include <stdio.h>

static long counter;

static void *incr(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		counter++;
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	pthread_create(&a, NULL, incr, NULL);
	pthread_create(&b, NULL, incr, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("counter = %ld\n", counter);
	return 0;
}
