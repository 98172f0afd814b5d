/*
 * Runs that do not end, with threads to report. argv[1]: "yield" (T1 spins
 * on sched_yield for a flag nobody sets: the step limit), "block" (T1 blocks
 * in a raw read system call nobody answers, which the scheduler does not see:
 * the wall clock; a read() would be a deadlock naming the pipe), "slow N" (T1 takes N ms of real
 * time, a syscall the scheduler does not see: ends, if the clock allows),
 * "fast" (the correct twin: T1 sets the flag and everything ends).
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile int flag;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const char *mode = "fast";
static long slow_ms;
static int fds[2];

static void *worker(void *arg)
{
	char c;
	(void)arg;
	if (strcmp(mode, "yield") == 0)
		while (!flag)
			sched_yield();
	else if (strcmp(mode, "block") == 0)
		(void)!syscall(SYS_read, fds[0], &c, 1);
	else if (strcmp(mode, "slow") == 0) {
		struct timespec ts = { slow_ms / 1000, slow_ms % 1000 * 1000000 };
		syscall(SYS_nanosleep, &ts, NULL);
	}
	pthread_mutex_lock(&mu);
	flag = 1;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	if (argc > 1)
		mode = argv[1];
	if (argc > 2)
		slow_ms = atol(argv[2]);
	if (pipe(fds))
		return 2;
	pthread_create(&t, NULL, worker, NULL);
	pthread_mutex_lock(&mu);
	pthread_mutex_unlock(&mu);
	pthread_join(t, NULL);
	return 0;
}
