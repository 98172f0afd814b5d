/*
 * Classic pattern: data guarded by the wrong lock. A deposit of 10 updates
 * the balance under acct_lock; a deposit of 20, written later, takes
 * audit_lock, which guards the audit counter, instead. Both log the deposit
 * under log_lock between reading and writing the balance (a nested lock: a
 * scheduling point inside the critical section). The balance is an atomic, so
 * ThreadSanitizer sees no data race; the lost update shows as a wrong total.
 * Expected: assert:atomic_load(&balance) == 30.
 * FIXED: both deposits take acct_lock.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

static pthread_mutex_t acct_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t audit_lock __attribute__((unused)) = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int balance;       /* meant to be under acct_lock */
static int nlog;                 /* under log_lock */

static void deposit(pthread_mutex_t *guard, int amount)
{
	pthread_mutex_lock(guard);
	int v = atomic_load_explicit(&balance, memory_order_relaxed);
	pthread_mutex_lock(&log_lock);
	nlog++;
	pthread_mutex_unlock(&log_lock);
	atomic_store_explicit(&balance, v + amount, memory_order_relaxed);
	pthread_mutex_unlock(guard);
}

static void *small(void *arg)
{
	(void)arg;
	deposit(&acct_lock, 10);
	return NULL;
}

static void *large(void *arg)
{
	(void)arg;
#ifdef FIXED
	deposit(&acct_lock, 20);
#else
	deposit(&audit_lock, 20);
#endif
	return NULL;
}

int main(void)
{
	pthread_t x, y;
	pthread_create(&x, NULL, small, NULL);
	pthread_create(&y, NULL, large, NULL);
	pthread_join(x, NULL);
	pthread_join(y, NULL);
	assert(atomic_load(&balance) == 30);
	printf("balance %d, %d log lines\n", atomic_load(&balance), nlog);
	return 0;
}
