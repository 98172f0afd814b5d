/*
 * Time polled in a loop: main waits for a worker's flag by reading
 * clock_gettime until a deadline, with no other call in the loop. The
 * worker sleeps 5 ms before it sets the flag. The bug: a 2 ms deadline,
 * shorter than the worker's work, so main gives up and asserts. "fixed": a
 * one-second deadline. Either way the loop must end: the clock's virtual
 * time moves on while main polls.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int ready;

static void *worker(void *arg)
{
	(void)arg;
	usleep(5000);
	atomic_store(&ready, 1);
	return NULL;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long long wait_ns = argc > 1 && strcmp(argv[1], "fixed") == 0 ? 1000000000LL : 2000000LL;
	pthread_t th;
	pthread_create(&th, NULL, worker, NULL);
	long long deadline = now_ns() + wait_ns;
	while (!atomic_load(&ready) && now_ns() < deadline)
		;
	assert(atomic_load(&ready));
	pthread_join(th, NULL);
	return 0;
}
