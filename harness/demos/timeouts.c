/*
 * Demo: virtual time. A waiter polls with 1.5 s timed waits while another
 * thread sleeps 5 s and then signals. Under the harness no real time passes:
 * time jumps to the next deadline whenever no thread can run, so the waiter
 * sees exactly three timeouts (1.5 s, 3 s, 4.5 s) and the run takes
 * milliseconds.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int ready;

static void *sleeper(void *arg)
{
	(void)arg;
	sleep(5);
	pthread_mutex_lock(&lock);
	ready = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	pthread_t t;
	struct timespec start, end, deadline;
	int timeouts = 0;

	clock_gettime(CLOCK_REALTIME, &start);
	pthread_create(&t, NULL, sleeper, NULL);
	pthread_mutex_lock(&lock);
	deadline = start;
	while (!ready) {
		deadline.tv_nsec += 500000000;
		deadline.tv_sec += 1 + deadline.tv_nsec / 1000000000;
		deadline.tv_nsec %= 1000000000;
		if (pthread_cond_timedwait(&cond, &lock, &deadline) != 0)
			timeouts++;
	}
	pthread_mutex_unlock(&lock);
	pthread_join(t, NULL);
	clock_gettime(CLOCK_REALTIME, &end);
	printf("timeouts = %d, elapsed = %ld s\n", timeouts, (long)(end.tv_sec - start.tv_sec));
	assert(timeouts == 3);
	assert(end.tv_sec - start.tv_sec == 5);
	return 0;
}
