/*
 * Many live synchronisation objects: N semaphores (default 1,000,000) are
 * initialised, and so known to the scheduler, at once; then two threads pass
 * a token through the last ones. Every object stays live to the end.
 */
#include <assert.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

static sem_t *sems;
static int n = 1000000;

static void *taker(void *arg)
{
	(void)arg;
	for (int i = n - 10; i < n; i++)
		sem_wait(&sems[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		n = atoi(argv[1]);
	if (n < 10)
		return 2;
	sems = calloc((size_t)n, sizeof(*sems));
	if (!sems)
		return 1;
	for (int i = 0; i < n; i++)
		if (sem_init(&sems[i], 0, 0))
			return 1;
	pthread_t t;
	pthread_create(&t, NULL, taker, NULL);
	for (int i = n - 10; i < n; i++)
		sem_post(&sems[i]);
	pthread_join(t, NULL);
	for (int i = 0; i < n; i++)
		sem_destroy(&sems[i]);
	printf("objects %d\n", n);
	free(sems);
	return 0;
}
