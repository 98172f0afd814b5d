/*
 * Classic pattern: a reorder, with ten setter threads. Each setter publishes
 * a pair (a, b) in two steps, each under the lock: first a = 1, then b = -1.
 * A checker reads a, then b (each under the lock) and expects to see either
 * no setter's work or all of it. A checker that runs between a setter's two
 * steps, or between its own two reads while a setter runs, sees half a pair.
 * Expected: assert:(ra == 0 && rb == 0) || (ra == 1 && rb == -1).
 * FIXED: setter and checker do their two steps in one critical section.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>

#define SETTERS 10

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int a, b;                 /* under lock */

static void *setter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	a = 1;
#ifndef FIXED
	pthread_mutex_unlock(&lock);
	pthread_mutex_lock(&lock);
#endif
	b = -1;
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *checker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	int ra = a;
#ifndef FIXED
	pthread_mutex_unlock(&lock);
	pthread_mutex_lock(&lock);
#endif
	int rb = b;
	pthread_mutex_unlock(&lock);
	assert((ra == 0 && rb == 0) || (ra == 1 && rb == -1));
	return NULL;
}

int main(void)
{
	pthread_t t[SETTERS + 1];
	for (int i = 0; i < SETTERS; i++)
		pthread_create(&t[i], NULL, setter, NULL);
	pthread_create(&t[SETTERS], NULL, checker, NULL);
	for (int i = 0; i <= SETTERS; i++)
		pthread_join(t[i], NULL);
	printf("a=%d b=%d\n", a, b);
	return 0;
}
