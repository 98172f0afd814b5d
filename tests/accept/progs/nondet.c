/*
 * Behaves differently from run to run for a reason outside the scheduler's
 * control (the process id): --check-determinism must say so.
 */
#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

int main(void)
{
	int n = getpid() % 3 + 1;
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&m);
		pthread_mutex_unlock(&m);
	}
	return 0;
}
