/*
 * Many threads: N workers (default 300) each add one to a shared counter.
 * The bug (no argument): a worker reads the counter in one critical section
 * and writes it back in a second one, so another worker's update in between
 * is lost. "fixed": one critical section, never a lost update.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int counter;              /* under lock */
static int fixed;

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	int v = counter;
	if (!fixed) {
		pthread_mutex_unlock(&lock);
		pthread_mutex_lock(&lock);
	}
	counter = v + 1;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = 300;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "fixed") == 0)
			fixed = 1;
		else
			n = atoi(argv[i]);
	}
	pthread_t *t = calloc((size_t)n, sizeof(*t));
	if (!t)
		return 1;
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, worker, NULL)) {
			fprintf(stderr, "pthread_create %d failed\n", i);
			return 1;
		}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	assert(counter == n);
	printf("counter %d\n", counter);
	free(t);
	return 0;
}
