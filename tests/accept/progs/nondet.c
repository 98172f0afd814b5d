/*
 * Behaves differently from run to run for a reason outside the scheduler's
 * control (the kernel's random bytes; the process id was not enough: on a
 * quiet machine a run and its check are a constant number of pids apart):
 * --check-determinism must say so.
 */
#include <pthread.h>
#include <sys/random.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

int main(void)
{
	unsigned char b = 0;
	if (getrandom(&b, 1, 0) != 1)
		return 1;
	int n = b % 3 + 1;
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&m);
		pthread_mutex_unlock(&m);
	}
	return 0;
}
