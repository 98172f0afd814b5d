/*
 * Demo: a lock-order inversion. Thread 1 takes A then B, thread 2 takes B
 * then A. The script (lock_order.script) lets thread 1 go for B only once
 * thread 2 holds it, so every run deadlocks, and the report names the cycle.
 *
 *   T1                          T2
 *   lock A
 *                               lock B
 *                               lock A    (waits for T1)
 *   lock B    (waits for T2)
 */
#include <pthread.h>
#include <stdio.h>

#include <migrace/sync_point.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;

static void *one(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&a);
	SYNC_POINT("demo:one:want-b");
	pthread_mutex_lock(&b);
	pthread_mutex_unlock(&b);
	pthread_mutex_unlock(&a);
	return NULL;
}

static void *two(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&b);
	SYNC_POINT("demo:two:holds-b");
	pthread_mutex_lock(&a);
	pthread_mutex_unlock(&a);
	pthread_mutex_unlock(&b);
	return NULL;
}

int main(void)
{
	pthread_t t1, t2;

	pthread_create(&t1, NULL, one, NULL);
	pthread_create(&t2, NULL, two, NULL);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	puts("no deadlock this time");
	return 0;
}
