/*
 * A run has the threads its program made and no more. The thread main
 * starts counts the tasks of the process (/proc/self/task) and main prints
 * the count: 2 under the fork server, which keeps TSan's background thread
 * (started at a process's first pthread_create, idle with TSan's default
 * flags) out of the runs; 3 when TSAN_OPTIONS asks for what that thread does
 * (flush_memory_ms, memory_limit_mb, ...).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>

static int tasks;

static void *count(void *arg)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	while (d && (e = readdir(d)))
		tasks += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return arg;
}

int main(void)
{
	pthread_t t;

	pthread_create(&t, NULL, count, NULL);
	pthread_join(t, NULL);
	printf("tasks %d\n", tasks);
	return 0;
}
