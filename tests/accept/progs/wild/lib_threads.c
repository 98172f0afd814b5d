/*
 * Threads started inside a library built without migrace-cc
 * (libcbthreads.so, plain clang) call the program back; the program's
 * callback moves money between two accounts. The bug: the withdrawal and
 * the deposit are two critical sections, and a thread between them sees
 * money missing (the audit asserts that the total is constant). "fixed":
 * one critical section.
 */
#include <assert.h>
#include <pthread.h>
#include <string.h>

#include "libcbthreads.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int a = 100, b = 0;
static int fixed;

static void transfer(void *arg, int i)
{
	(void)arg;
	(void)i;
	pthread_mutex_lock(&lock);
	a -= 10;
	if (!fixed) {
		pthread_mutex_unlock(&lock);
		pthread_mutex_lock(&lock);
	}
	b += 10;
	pthread_mutex_unlock(&lock);
	pthread_mutex_lock(&lock);
	assert(a + b == 100);
	pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv)
{
	fixed = argc > 1 && strcmp(argv[1], "fixed") == 0;
	if (cbt_run(3, transfer, NULL))
		return 1;
	assert(a == 70 && b == 30);
	return 0;
}
