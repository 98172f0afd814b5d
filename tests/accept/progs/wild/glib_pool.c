/*
 * A GLib program under the harness: a GThreadPool of two threads (created by
 * glib, inside libglib), tasks handed over through it, results back through a
 * GAsyncQueue, a GMutex around a shared sum and g_usleep in the task. GMutex,
 * GCond (inside GAsyncQueue and the pool) wait with raw futex system calls.
 * The bug: a task reads the sum in one critical section and writes it in
 * another, sleeping in between, so a task running between them loses an
 * update. "fixed": one critical section.
 */
#include <assert.h>
#include <glib.h>
#include <string.h>

#define TASKS 4

static GMutex lock;
static int total;
static GAsyncQueue *done;
static gboolean fixed;

static void task(gpointer data, gpointer user)
{
	(void)user;
	int v = GPOINTER_TO_INT(data);
	g_mutex_lock(&lock);
	int t = total;
	if (fixed)
		total = t + v;
	g_mutex_unlock(&lock);
	if (!fixed) {
		g_usleep(1000);
		g_mutex_lock(&lock);
		total = t + v;
		g_mutex_unlock(&lock);
	}
	g_async_queue_push(done, data);
}

int main(int argc, char **argv)
{
	fixed = argc > 1 && strcmp(argv[1], "fixed") == 0;
	done = g_async_queue_new();
	GThreadPool *pool = g_thread_pool_new(task, NULL, 2, TRUE, NULL);
	for (int i = 1; i <= TASKS; i++)
		g_thread_pool_push(pool, GINT_TO_POINTER(i), NULL);
	for (int i = 0; i < TASKS; i++)
		g_async_queue_pop(done);
	g_thread_pool_free(pool, FALSE, TRUE);
	g_async_queue_unref(done);
	g_mutex_lock(&lock);
	int sum = total;
	g_mutex_unlock(&lock);
	assert(sum == TASKS * (TASKS + 1) / 2);
	return 0;
}
