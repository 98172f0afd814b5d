/*
 * A library (plain clang) whose constructor starts a thread: it runs before
 * the executable's constructors, the runtime's among them, so the harness
 * cannot start its fork server before the thread exists, and says so.
 */
#include <pthread.h>
#include <unistd.h>

static volatile int ticks;

void *early_tick(void *arg)
{
	(void)arg;
	for (;;) {
		ticks++;
		usleep(1000);
	}
	return NULL;
}

static void __attribute__((constructor)) early_start(void)
{
	pthread_t th;
	if (pthread_create(&th, NULL, early_tick, NULL) == 0)
		pthread_detach(th);
}

int early_ticks(void)
{
	return ticks;
}
