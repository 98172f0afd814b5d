/*
 * A worker waits on an eventfd for the result main publishes. The bug: main
 * signals the eventfd before it stores the result, so the worker can wake to
 * find nothing. "fixed": the result first, then the signal. The worker's
 * read blocks until main writes: a wait in the model, not in the kernel.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static int efd;
static atomic_int result;

static void *worker(void *arg)
{
	uint64_t v;
	(void)arg;
	assert(read(efd, &v, sizeof(v)) == sizeof(v) && v == 1);
	assert(atomic_load(&result) == 42 && "woken before the result");
	return NULL;
}

int main(int argc, char **argv)
{
	int fixed = argc > 1 && strcmp(argv[1], "fixed") == 0;
	pthread_t w;
	efd = eventfd(0, 0);
	assert(efd >= 0);
	pthread_create(&w, NULL, worker, NULL);
	if (fixed) {
		atomic_store(&result, 42);
		assert(eventfd_write(efd, 1) == 0);
	} else {
		assert(eventfd_write(efd, 1) == 0);
		atomic_store(&result, 42);
	}
	pthread_join(w, NULL);
	close(efd);
	puts("result seen");
	return 0;
}
