/*
 * Threads that exist before main: a constructor registers fork handlers and
 * starts a worker thread (as QEMU's RCU starts its call_rcu thread), which
 * takes jobs from main. The bug: the worker counts a job done in one critical
 * section and adds its value in another, so main, woken by the previous
 * job's broadcast, can see both jobs done and only one value. "fixed": one
 * critical section. Either way main then forks once: the fork handlers run
 * for that fork of the program's own, and for no other (not for the fork
 * server's).
 */
#include <assert.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define JOBS 2

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pthread_t worker_th;
static int queued, done, sum, stop, fixed;
static volatile int prepared, in_child;

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!queued && !stop)
			pthread_cond_wait(&cond, &lock);
		if (!queued)
			break;
		queued--;
		done++;
		if (fixed) {
			sum += 10;
		} else {
			pthread_mutex_unlock(&lock);
			pthread_mutex_lock(&lock);
			sum += 10;
		}
		pthread_cond_broadcast(&cond);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void on_prepare(void) { prepared++; }
static void on_parent(void) {}
static void on_child(void) { in_child = 1; }

static void __attribute__((constructor)) start_worker(int argc, char **argv)
{
	fixed = argc > 1 && strcmp(argv[1], "fixed") == 0;
	pthread_atfork(on_prepare, on_parent, on_child);
	pthread_create(&worker_th, NULL, worker, NULL);
}

int main(void)
{
	assert(prepared == 0);          /* no fork of the program's yet */
	pthread_mutex_lock(&lock);
	for (int i = 0; i < JOBS; i++) {
		queued++;
		pthread_cond_broadcast(&cond);
	}
	while (done < JOBS)
		pthread_cond_wait(&cond, &lock);
	int seen = sum;
	stop = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(worker_th, NULL);
	assert(seen == 10 * JOBS);

	pid_t pid = fork();
	if (pid == 0)
		_exit(in_child ? 0 : 1);
	int st = 0;
	waitpid(pid, &st, 0);
	assert(prepared == 1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return 0;
}
