/*
 * A wild jump: a worker calls through a handler table entry that is null.
 * Nothing of the program is on the crashing stack (the call's return address
 * is not a frame the sanitizers unwind), only migrace's thread trampoline:
 * signed as the crash, never at migrace's rt.c. argv[1] "set": the entry is
 * set, clean.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef int (*handler_fn)(int);

static int echo(int x)
{
	return x;
}

static handler_fn volatile handlers[2];

static void *worker(void *arg)
{
	(void)arg;
	int r = handlers[1](7);
	printf("handler said %d\n", r);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	handlers[0] = echo;
	if (argc > 1 && strcmp(argv[1], "set") == 0)
		handlers[1] = echo;
	pthread_create(&t, NULL, worker, NULL);
	pthread_join(t, NULL);
	return 0;
}
