/*
 * Exercises every intercepted call in a correct program: it must run clean
 * under every strategy. Recursive, errorcheck and timed mutexes, trylock,
 * rwlocks, semaphores (timed and try), pthread_once, broadcast, detach,
 * pthread_exit, sleeps of every kind and sched_yield.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t rec;
static pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static sem_t tokens, done_sem;
static int started, inits, shared;

static void init_once(void)
{
	inits++;
}

static void *worker(void *arg)
{
	long id = (long)arg;
	struct timespec ts;

	pthread_once(&once, init_once);
	pthread_mutex_lock(&rec);
	pthread_mutex_lock(&rec);            /* recursive */
	started++;
	pthread_cond_broadcast(&go);
	pthread_mutex_unlock(&rec);
	pthread_mutex_unlock(&rec);

	sem_wait(&tokens);
	pthread_rwlock_wrlock(&rw);
	shared += (int)id;
	pthread_rwlock_unlock(&rw);
	sem_post(&tokens);

	pthread_rwlock_rdlock(&rw);
	if (pthread_rwlock_tryrdlock(&rw) == 0)   /* readers share */
		pthread_rwlock_unlock(&rw);
	assert(shared >= (int)id);
	pthread_rwlock_unlock(&rw);

	usleep(1000);
	ts = (struct timespec){ 0, 2000000 };
	nanosleep(&ts, NULL);
	clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	sched_yield();
	if (pthread_mutex_trylock(&plain) == 0)
		pthread_mutex_unlock(&plain);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	if (pthread_mutex_timedlock(&plain, &ts) == 0)
		pthread_mutex_unlock(&plain);
	sem_post(&done_sem);
	if (id == 3)
		pthread_exit(NULL);
	return NULL;
}

int main(void)
{
	pthread_mutexattr_t a;
	pthread_t t[4];
	struct timespec ts;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&rec, &a);
	pthread_mutexattr_destroy(&a);
	sem_init(&tokens, 0, 2);
	sem_init(&done_sem, 0, 0);

	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	pthread_detach(t[0]);

	pthread_mutex_lock(&rec);
	while (started < 4)
		pthread_cond_wait(&go, &rec);
	pthread_mutex_unlock(&rec);

	for (int i = 0; i < 4; i++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 60;
		int rc = sem_timedwait(&done_sem, &ts);
		assert(rc == 0);
	}
	assert(sem_trywait(&done_sem) == -1 && errno == EAGAIN);
	for (int i = 1; i < 4; i++)
		pthread_join(t[i], NULL);
	pthread_rwlock_rdlock(&rw);
	assert(shared == 0 + 1 + 2 + 3);
	pthread_rwlock_unlock(&rw);
	assert(inits == 1);
	sleep(1);
	printf("ok shared=%d\n", shared);
	return 0;
}
