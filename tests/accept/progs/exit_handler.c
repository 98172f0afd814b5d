/*
 * Exit handlers run while other threads still run. main returns with a
 * detached worker still at work; the atexit handler frees the buffer the
 * worker writes:
 *
 *   main                             worker (detached)
 *   return 0 -> exit handlers:
 *     free(buf)
 *                                    buf[i]++   <- use after free
 *
 * Found only if the worker can be scheduled while the handlers run, as on a
 * real machine. "fixed": the handler stops the worker and joins it first.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int *buf;                     /* under lock */
static int stop;                     /* under lock */
static pthread_t worker_thread;
static int fixed;

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++) {
		pthread_mutex_lock(&lock);
		if (stop) {
			pthread_mutex_unlock(&lock);
			break;
		}
		buf[i]++;
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static void cleanup(void)
{
	if (fixed) {
		pthread_mutex_lock(&lock);
		stop = 1;
		pthread_mutex_unlock(&lock);
		pthread_join(worker_thread, NULL);
	}
	free(buf);
}

int main(int argc, char **argv)
{
	fixed = argc > 1 && strcmp(argv[1], "fixed") == 0;
	buf = calloc(3, sizeof(*buf));
	atexit(cleanup);
	pthread_create(&worker_thread, NULL, worker, NULL);
	if (!fixed)
		pthread_detach(worker_thread);
	printf("main done\n");
	return 0;
}
