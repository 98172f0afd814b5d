/*
 * A bug that needs a fault and an interleaving: a sender thread fails to send
 * (fault point test/send) and cleans up, freeing the buffer main reads under
 * the lock, in one critical section, and says so only in the next. main checks the flag
 * under the lock and reads the buffer when the send did not fail. The fault
 * alone is harmless on the default schedule (main, which keeps running after
 * pthread_create, has read the buffer before the sender starts); the
 * interleaving alone is harmless without the fault (nothing is freed). Only
 * both give a use after free (asan and tsan). `ordered` (the correct twin)
 * says it failed in the critical section that frees.
 */
#define FIU_ENABLE 1
#include <fiu.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static bool failed;              /* under mu */
static char *buf;                /* the sender's: freed by it when the send fails */
static bool ordered;

static void *sender(void *arg)
{
	(void)arg;
	if (!fiu_fail("test/send"))
		return NULL;
	pthread_mutex_lock(&mu);
	if (ordered)
		failed = true;
	free(buf);               /* the bug: main may read it next, not knowing */
	pthread_mutex_unlock(&mu);
	pthread_mutex_lock(&mu);
	failed = true;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	int sum = 0;

	ordered = argc > 1 && strcmp(argv[1], "ordered") == 0;
	buf = malloc(64);
	memset(buf, 7, 64);
	pthread_create(&t, NULL, sender, NULL);
	pthread_mutex_lock(&mu);
	if (!failed)
		for (int i = 0; i < 64; i++)
			sum += buf[i];
	pthread_mutex_unlock(&mu);
	pthread_join(t, NULL);
	if (!failed)
		free(buf);
	printf("sum %d\n", sum);
	return 0;
}
