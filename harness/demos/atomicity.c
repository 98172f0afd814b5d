/*
 * Demo: an atomicity violation across two separately locked sections, with
 * three threads. Each withdrawal checks the balance under the lock, drops the
 * lock, and takes the money under the lock again; the check is stale by then.
 *
 *   withdraw A (60)                 withdraw B (60)
 *   lock; ok = balance >= 60; unlock
 *                                   lock; ok = balance >= 60; unlock
 *   lock; balance -= 60; unlock
 *                                   lock; balance -= 60; unlock   -> -20
 *
 * A third thread deposits 10. Found by `migrace exec --strategy pct:2`.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>

#include <migrace/sync_point.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long balance = 100;

static void *withdraw(void *arg)
{
	long amount = (long)arg;
	int ok;

	pthread_mutex_lock(&lock);
	ok = balance >= amount;
	pthread_mutex_unlock(&lock);
	SYNC_POINT("demo:withdraw:checked");
	if (!ok)
		return NULL;
	pthread_mutex_lock(&lock);
	balance -= amount;
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *deposit(void *arg)
{
	pthread_mutex_lock(&lock);
	balance += (long)arg;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	pthread_t t[3];

	pthread_create(&t[0], NULL, withdraw, (void *)60L);
	pthread_create(&t[1], NULL, withdraw, (void *)60L);
	pthread_create(&t[2], NULL, deposit, (void *)10L);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("balance = %ld\n", balance);
	assert(balance >= 0);
	return 0;
}
