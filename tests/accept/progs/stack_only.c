/*
 * Threads that touch only their own stacks between pthread calls: with
 * memory-access points on, none of these accesses may become a scheduling
 * point (locals cannot race), so the trace has no `mem` step. With the
 * argument "shared", the same loop also writes a global under a mutex: with
 * every non-stack access a point (mem-all) the writes are memory points;
 * with the learned points (mem) they are not, since every access to the
 * global holds the same mutex (and there is no race: the run stays clean).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long total;

static void *work(void *arg)
{
	volatile long local[64];
	long sum = 0, n = (long)(size_t)arg;
	int shared_mode = n > 100;     /* from the argument: no global is read */
	for (int i = 0; i < 64; i++)
		local[i] = i * n;
	for (int i = 0; i < 64; i++)
		sum += local[i];
	pthread_mutex_lock(&lock);
	if (shared_mode)
		for (int i = 0; i < 4; i++)
			total += sum;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[2];
	long shared_mode = argc > 1 && strcmp(argv[1], "shared") == 0;
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, work, (void *)(i + 1 + 100 * shared_mode));
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("total %ld\n", total);
	return 0;
}
