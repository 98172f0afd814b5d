/*
 * Classic pattern: check-then-act on a flag. Each worker registers the
 * shared service if the `registered` flag says nobody did yet: it reads the
 * flag, then takes the registry lock to add the service, then sets the flag.
 * Two workers that both read the flag before either set it register twice.
 * Expected: assert:registrations == 1.
 * FIXED: the flag is checked and set under the registry lock.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define WORKERS 3

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int registered;
static int registrations;        /* under registry_lock */

static void *worker(void *arg)
{
	(void)arg;
#ifdef FIXED
	pthread_mutex_lock(&registry_lock);
	if (!atomic_load(&registered)) {
		registrations++;
		atomic_store(&registered, 1);
	}
	pthread_mutex_unlock(&registry_lock);
#else
	if (!atomic_load(&registered)) {
		pthread_mutex_lock(&registry_lock);
		registrations++;
		pthread_mutex_unlock(&registry_lock);
		atomic_store(&registered, 1);
	}
#endif
	return NULL;
}

int main(void)
{
	pthread_t t[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	assert(registrations == 1);
	printf("registered once\n");
	return 0;
}
