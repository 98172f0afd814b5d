/*
 * The floor under the fork server's runs of bench/trivial.c: the same two
 * threads (each takes and releases one mutex five times, main joins them),
 * built with the same sanitizer but without the harness, in a fresh child
 * forked for every run, which the parent waits for. The child ends as a
 * program does, with exit(): under ASan that runs LeakSanitizer's check, as
 * every run under the harness does (a run's leaks are findings), and which
 * costs more than the rest of such a run together. What a run costs the
 * harness on top (its scheduler, output capture, classification, the
 * controller protocol) is the difference.
 *
 * With "warm", the parent takes and releases the mutex once before the
 * first fork, as the fork server does with a mutex of its own: TSan's
 * deadlock detector sets up its graph (about 2 MB) at the first lock of a
 * process, and a child that does it copies those pages on write. Without
 * it (the bare floor) every run pays that.
 *
 *     fork_floor RUNS [warm]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 5

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int counter;              /* under lock */

static void *work(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static int one_run(void)
{
	pthread_t a, b;
	if (pthread_create(&a, NULL, work, NULL) || pthread_create(&b, NULL, work, NULL))
		return 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return counter != 2 * ROUNDS;
}

int main(int argc, char **argv)
{
	long runs = argc > 1 ? atol(argv[1]) : 0;
	if (runs <= 0 || argc > 3 || (argc == 3 && strcmp(argv[2], "warm"))) {
		fprintf(stderr, "usage: fork_floor RUNS [warm]\n");
		return 2;
	}
	if (argc == 3) {
		pthread_mutex_lock(&lock);
		pthread_mutex_unlock(&lock);
	}
	for (long i = 0; i < runs; i++) {
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0)
			exit(one_run());   /* as a program ends: atexit, and with ASan the leak check */
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "fork_floor: run %ld failed\n", i);
			return 1;
		}
	}
	return 0;
}
