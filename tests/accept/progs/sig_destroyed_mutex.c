/*
 * Using a destroyed mutex: a worker locks the queue's mutex after main has
 * destroyed it (shutdown before the join). pthreads says EINVAL; migrace must
 * say misuse, in every build, and not blame itself. argv[1] "ordered": main
 * joins before it destroys, clean.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t lock;
static int items;

static void *worker(void *arg)
{
	(void)arg;
	usleep(1000);            /* main shuts down meanwhile */
	if (pthread_mutex_lock(&lock) == 0) {
		items++;
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	bool ordered = argc > 1 && strcmp(argv[1], "ordered") == 0;
	pthread_t t;

	pthread_mutex_init(&lock, NULL);
	pthread_create(&t, NULL, worker, NULL);
	if (ordered)
		pthread_join(t, NULL);
	pthread_mutex_destroy(&lock);
	if (!ordered)
		pthread_join(t, NULL);
	return 0;
}
