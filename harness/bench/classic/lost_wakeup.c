/*
 * Classic pattern: a lost wake-up. The consumer looks at the ready flag
 * without the lock, and only then takes the lock to wait; the producer sets
 * the flag and signals under the lock. A producer that runs between the
 * consumer's look and its wait signals nobody, and the consumer waits for
 * ever. Expected: deadlock.
 * FIXED: the consumer checks the flag under the lock, in a loop around the
 * wait.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static atomic_int ready;

static void *consumer(void *arg)
{
	(void)arg;
#ifdef FIXED
	pthread_mutex_lock(&lock);
	while (!atomic_load(&ready))
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
#else
	if (!atomic_load(&ready)) {
		pthread_mutex_lock(&lock);
		pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
	}
#endif
	return NULL;
}

static void *producer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	atomic_store(&ready, 1);
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	pthread_t c, p;
	pthread_create(&c, NULL, consumer, NULL);
	pthread_create(&p, NULL, producer, NULL);
	pthread_join(c, NULL);
	pthread_join(p, NULL);
	printf("consumed\n");
	return 0;
}
