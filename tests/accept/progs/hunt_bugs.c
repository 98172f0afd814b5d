/*
 * Several signatures, each from some schedules, for `migrace hunt`: a
 * check-then-act on a shared balance (both threads see the last unit and both
 * take it: assert:balance >= 0) and a lock-order inversion (deadlock when
 * both threads hold their first lock; when they do not, TSan reports the
 * inversion: tsan:lock-order-inversion@both). Which one a schedule gives
 * depends on the schedule alone.
 */
#include <assert.h>
#include <pthread.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static int balance = 1;

static void withdraw(void)
{
	pthread_mutex_lock(&m);
	int enough = balance >= 1;
	pthread_mutex_unlock(&m);
	if (!enough)
		return;
	pthread_mutex_lock(&m);
	balance--;
	assert(balance >= 0);
	pthread_mutex_unlock(&m);
}

static void both(pthread_mutex_t *first, pthread_mutex_t *second)
{
	pthread_mutex_lock(first);
	pthread_mutex_lock(second);
	pthread_mutex_unlock(second);
	pthread_mutex_unlock(first);
}

static void *one(void *arg)
{
	(void)arg;
	withdraw();
	both(&a, &b);
	return NULL;
}

static void *two(void *arg)
{
	(void)arg;
	withdraw();
	both(&b, &a);
	return NULL;
}

int main(void)
{
	pthread_t t1, t2;
	pthread_create(&t1, NULL, one, NULL);
	pthread_create(&t2, NULL, two, NULL);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	return 0;
}
