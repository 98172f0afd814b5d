/*
 * The stacks a run records come back to the fork server's stack depot for
 * the runs after it. Each run, a thread allocates from 256 distinct stacks
 * (a recursion of depth 1 to 256 that allocates at its bottom), counts the
 * page faults that took (getrusage), frees it all and appends the count to
 * the file $DEPOT_CARRY_LOG. The first run adds 256 stacks to the depot, a
 * page fault or two each (its table is 4 MiB, a stack's slot anywhere in
 * it); a run after it finds them all in the server's depot, which the fork
 * shares, and takes only the faults of the memory itself.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define STACKS 256

static void *blocks[STACKS];

static __attribute__((noinline)) void *down(int depth)
{
	void *p = depth ? down(depth - 1) : malloc(16);
	__asm__ volatile("" ::: "memory");   /* no tail call: every depth is a frame */
	return p;
}

static void *work(void *arg)
{
	struct rusage a, b;
	char line[32];

	getrusage(RUSAGE_THREAD, &a);
	for (int i = 0; i < STACKS; i++)
		blocks[i] = down(i);
	getrusage(RUSAGE_THREAD, &b);
	for (int i = 0; i < STACKS; i++)
		free(blocks[i]);
	int n = snprintf(line, sizeof(line), "%ld\n", b.ru_minflt - a.ru_minflt);
	int fd = open(arg, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		return arg;
	close(fd);
	return NULL;
}

int main(void)
{
	const char *log = getenv("DEPOT_CARRY_LOG");
	pthread_t t;
	void *failed;

	if (!log) {
		fprintf(stderr, "depot_carry: DEPOT_CARRY_LOG is not set\n");
		return 2;
	}
	pthread_create(&t, NULL, work, (void *)log);
	pthread_join(t, &failed);
	return failed != NULL;
}
