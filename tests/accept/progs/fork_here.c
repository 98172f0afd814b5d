/*
 * The fork point: main's setup (a table built by a long loop, a line
 * appended to the file named by argv[1], when given) runs once, then
 * migrace_fork_here(); every schedule forks from there and races two
 * threads on a counter (an unlocked read-modify-write: a data race, and a
 * lost update PCT finds). `locked` (argv[2]) is the correct twin. `late`
 * calls migrace_fork_here() after the threads started: a harness error.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <migrace/migrace.h>
#include <migrace/sync_point.h>

#define N 20000

static unsigned table[N];
static int counter;
static int locked;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *incr(void *arg)
{
	(void)arg;
	if (locked)
		pthread_mutex_lock(&mu);
	int v = counter;
	SYNC_POINT("w:incr:between");
	counter = v + (int)(table[N - 1] & 1) + 1;
	if (locked)
		pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t a, b;
	const char *mode = argc > 2 ? argv[2] : "";

	/* the setup: no part of the race */
	for (unsigned i = 1; i < N; i++)
		table[i] = table[i - 1] * 1103515245u + 12345u + i;
	table[N - 1] &= ~1u;
	if (argc > 1 && argv[1][0]) {
		FILE *f = fopen(argv[1], "a");
		if (f) {
			fputs("setup\n", f);
			fclose(f);
		}
	}
	locked = strcmp(mode, "locked") == 0;
	if (strcmp(mode, "late") != 0)
		migrace_fork_here();
	pthread_create(&a, NULL, incr, NULL);
	if (strcmp(mode, "late") == 0)
		migrace_fork_here();
	pthread_create(&b, NULL, incr, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert(counter == 2);
	printf("counter %d\n", counter);
	return 0;
}
