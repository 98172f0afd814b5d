/*
 * Small helpers shared by the unit tests: absolute deadlines for timed waits
 * (a broken behaviour fails instead of hanging), and running code that must
 * abort in a forked child with its stderr captured.
 */
#ifndef MIGRACE_TEST_UTIL_H
#define MIGRACE_TEST_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../fakes/fake_util.h"

/* CLOCK_REALTIME now + ms, for pthread_cond_timedwait with the default clock
 * (the fakes' helper, by a path that needs no include flag). */
static inline struct timespec deadline_after_ms(int ms)
{
	return fake_deadline_after_ms(ms);
}

/*
 * Runs fn(arg) in a forked child whose stderr goes to buf (NUL-terminated,
 * cut at size); the child is killed by SIGALRM after limit_s seconds and
 * exits 0 if fn returns. Returns the child's wait status.
 */
static inline int run_in_child(void (*fn)(void *), void *arg, char *buf, size_t size, unsigned limit_s)
{
	size_t len = 0;
	ssize_t n;
	int fds[2], status = 0;
	pid_t pid;

	if (pipe(fds))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		signal(SIGABRT, SIG_DFL);
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		alarm(limit_s);
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	while (len < size - 1 && (n = read(fds[0], buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		;
	return status;
}

/* True when fn(arg) in a child dies of SIGABRT with msg in its stderr; says
 * what happened otherwise. */
static inline bool child_aborts_with(void (*fn)(void *), void *arg, const char *msg)
{
	char buf[8192];
	int status = run_in_child(fn, arg, buf, sizeof(buf), 5);
	bool ok = status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(buf, msg);

	if (!ok)
		fprintf(stderr, "child status %#x, expected SIGABRT and \"%s\"; stderr:\n%s\n", status, msg, buf);
	return ok;
}

#endif
