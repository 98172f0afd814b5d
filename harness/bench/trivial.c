/*
 * Fork-server throughput benchmark: the smallest useful run. Two threads each
 * take and release one mutex a few times, main joins them. Almost all the time
 * of a run is then the harness's own cost: fork, pinning, output capture,
 * classification and the controller protocol.
 */
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 5

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int counter;              /* under lock */

static void *work(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	if (pthread_create(&a, NULL, work, NULL) || pthread_create(&b, NULL, work, NULL)) {
		fprintf(stderr, "trivial: pthread_create failed\n");
		return 1;
	}
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	if (counter != 2 * ROUNDS) {
		fprintf(stderr, "trivial: counter is %d, expected %d\n", counter, 2 * ROUNDS);
		return 1;
	}
	return 0;
}
