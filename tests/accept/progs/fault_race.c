/*
 * A data race across two fault points: the writer writes x and passes a
 * point, then the reader passes a point and reads x, in that order
 * (ordering constraint). Nothing of the program orders them, so TSan must
 * report the race even with the fault points enabled: libfiu's own locks
 * (its lookup cache: the writer's wrlock, the reader's rdlock) must give no
 * happens-before edge. argv[1] "locked": the same under a mutex, clean.
 */
#define FIU_ENABLE 1
#include <fiu.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <migrace/migrace.h>
#include <migrace/sync_point.h>

static int x;
static bool locked;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *writer(void *arg)
{
	(void)arg;
	if (locked)
		pthread_mutex_lock(&mu);
	x = 1;
	if (locked)
		pthread_mutex_unlock(&mu);
	if (fiu_fail("test/writer"))
		puts("writer: fault");
	SYNC_POINT("w:writer:after-fault");
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	locked = argc > 1 && strcmp(argv[1], "locked") == 0;
	migrace_order("w:writer:after-fault", "r:main:before-fault");
	pthread_create(&t, NULL, writer, NULL);
	SYNC_POINT("r:main:before-fault");
	if (fiu_fail("test/reader"))
		puts("reader: fault");
	if (locked)
		pthread_mutex_lock(&mu);
	int v = x;
	if (locked)
		pthread_mutex_unlock(&mu);
	pthread_join(t, NULL);
	printf("x=%d\n", v);
	return 0;
}
