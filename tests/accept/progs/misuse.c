/*
 * pthread misuse the harness must report, not hide. argv[1]:
 *   unlock-not-owner   a thread unlocks a mutex that main holds
 *   relock-errorcheck  an errorcheck mutex locked twice by its owner
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void *unlocker(void *arg)
{
	(void)arg;
	pthread_mutex_unlock(&m);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "relock-errorcheck") == 0) {
		pthread_mutexattr_t a;
		pthread_mutex_t e;
		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
		pthread_mutex_init(&e, &a);
		pthread_mutex_lock(&e);
		int rc = pthread_mutex_lock(&e);
		assert(rc == EDEADLK);       /* the program still sees pthreads' answer */
		pthread_mutex_unlock(&e);
		return 0;
	}
	pthread_t t;
	pthread_mutex_lock(&m);
	pthread_create(&t, NULL, unlocker, NULL);
	pthread_join(t, NULL);
	return 0;
}
