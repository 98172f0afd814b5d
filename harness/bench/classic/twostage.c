/*
 * Classic pattern: a two-stage atomicity violation. A writer bumps a
 * generation under gen_lock, then, in a second critical section under
 * sum_lock, sets the checksum that must match it. A reader that takes both
 * locks and checks the pair between a writer's two stages sees a generation
 * without its checksum. WRITERS writers (default 1: two threads with the
 * reader; twostage100 has 99) are created before the one reader.
 * Expected: assert:sum == gen * 7.
 * FIXED: the writer keeps gen_lock across both stages.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>

#ifndef WRITERS
#define WRITERS 1
#endif

static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sum_lock = PTHREAD_MUTEX_INITIALIZER;
static int gen;                  /* under gen_lock */
static int sum;                  /* under sum_lock: gen * 7 */

static void *writer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gen_lock);
	int g = ++gen;
#ifndef FIXED
	pthread_mutex_unlock(&gen_lock);
#endif
	pthread_mutex_lock(&sum_lock);
	sum = g * 7;
	pthread_mutex_unlock(&sum_lock);
#ifdef FIXED
	pthread_mutex_unlock(&gen_lock);
#endif
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gen_lock);
	pthread_mutex_lock(&sum_lock);
	assert(sum == gen * 7);
	pthread_mutex_unlock(&sum_lock);
	pthread_mutex_unlock(&gen_lock);
	return NULL;
}

int main(void)
{
	static pthread_t t[WRITERS + 1];
	for (int i = 0; i < WRITERS; i++)
		pthread_create(&t[i], NULL, writer, NULL);
	pthread_create(&t[WRITERS], NULL, reader, NULL);
	for (int i = 0; i <= WRITERS; i++)
		pthread_join(t[i], NULL);
	printf("gen %d sum %d\n", gen, sum);
	return 0;
}
