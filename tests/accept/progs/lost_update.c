/*
 * A lost update that is no data race: two threads increment a counter with a
 * separate atomic load and atomic store. ThreadSanitizer is silent (every
 * access is atomic) and no pthread call lies between the load and the store,
 * so only a scheduling point at the memory access itself (--preempt=mem) can
 * put the other thread in between; then the final count is 1, not 2.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_int counter;

static void *incr(void *arg)
{
	(void)arg;
	int v = atomic_load_explicit(&counter, memory_order_relaxed);
	atomic_store_explicit(&counter, v + 1, memory_order_relaxed);
	return NULL;
}

int main(void)
{
	pthread_t a, b;
	pthread_create(&a, NULL, incr, NULL);
	pthread_create(&b, NULL, incr, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert(atomic_load(&counter) == 2);
	printf("counter %d\n", atomic_load(&counter));
	return 0;
}
