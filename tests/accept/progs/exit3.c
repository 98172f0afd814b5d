/*
 * Ends with its own exit status: 3 (argv[1] gives another), after a thread
 * ran. Started by hand it must exit 3 and leave nothing in migrace-out.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *worker(void *arg)
{
	puts("worker ran");
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	pthread_join(t, NULL);
	return argc > 1 ? atoi(argv[1]) : 3;
}
