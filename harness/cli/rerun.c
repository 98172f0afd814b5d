/*
 * Running a trace again from a command: a replay by this migrace with its
 * output captured and its verdict read, and the check that a file names a
 * program built with migrace-cc before anything runs it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "opts.h"
#include "rerun.h"
#include "trace.h"

/* Reads all of fd into a NUL-terminated buffer (caller frees). */
static char *slurp_fd(int fd)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	ssize_t r;
	if (!buf)
		return NULL;
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	return buf;
}

/* The line of text starting at p, copied into out. */
static void copy_line(char *out, size_t len, const char *p)
{
	size_t n = strcspn(p, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

int replay_run(const char *trace, char *sig, size_t len, char *detail, size_t dlen)
{
	int p[2];
	if (detail && dlen)
		detail[0] = '\0';
	snprintf(sig, len, "?");
	if (pipe2(p, O_CLOEXEC)) {
		snprintf(sig, len, "cannot make a pipe: %s", strerror(errno));
		return 2;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(sig, len, "cannot fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return 2;
	}
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		unsetenv("MIGRACE_CTL_FD");
		execl(self, self, "replay", trace, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char *out = slurp_fd(p[0]);
	close(p[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	int rc = WIFEXITED(st) && WEXITSTATUS(st) <= 1 ? WEXITSTATUS(st) : 2;
	const char *ok = out ? strstr(out, "migrace: replay reproduced ") : NULL;
	const char *gave = out ? strstr(out, "migrace: replay gave ") : NULL;
	char line[1024];
	if (rc == 0 && ok) {
		copy_line(line, sizeof(line), ok + strlen("migrace: replay reproduced "));
		char *in = NULL;                          /* "SIG in N steps": the last " in " */
		for (char *q = strstr(line, " in "); q; q = strstr(q + 1, " in "))
			in = q;
		if (in)
			*in = '\0';
		snprintf(sig, len, "%s", line);
	} else if (rc == 1 && gave) {
		copy_line(line, sizeof(line), gave + strlen("migrace: replay gave "));
		char *rec = strstr(line, ", the trace recorded ");
		if (rec)
			*rec = '\0';
		snprintf(sig, len, "%s", line);
		/* the runtime's detail: the line after the run line */
		const char *run = strstr(out, " steps): ");
		const char *nl = run ? strchr(run, '\n') : NULL;
		if (nl && strncmp(nl + 1, "migrace: ", 9) == 0 && strncmp(nl + 1, "migrace: replay ", 16) && detail)
			copy_line(detail, dlen, nl + 10);
	} else {
		/* no verdict: the replay could not run; its last message says why */
		rc = 2;
		const char *last = NULL;
		for (const char *q = out; q && *q; q = strchr(q, '\n') ? strchr(q, '\n') + 1 : q + strlen(q))
			if (strncmp(q, "migrace", 7) == 0)
				last = q;
		if (last)
			copy_line(sig, len, last);
		else
			snprintf(sig, len, "migrace replay exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	/* a program rebuilt since the trace: the likely reason for what follows */
	const char *warn = out ? strstr(out, "was recorded with another build") : NULL;
	if (warn && detail) {
		char rest[600], w[400];
		while (warn > out && warn[-1] != '\n')
			warn--;
		copy_line(w, sizeof(w), strncmp(warn, "migrace: ", 9) ? warn : warn + 9);
		snprintf(rest, sizeof(rest), "%s", detail);
		snprintf(detail, dlen, "%s%s%s", w, rest[0] ? "; " : "", rest);
	}
	free(out);
	return rc;
}


/* Replays trace with this migrace: true if it reproduced its signature. */
bool replay_ok(const char *trace)
{
	char sig[400];
	return replay_run(trace, sig, sizeof(sig), NULL, 0) == 0;
}

/* Whether prog carries migrace's fork server (so that running it runs a
 * schedule under the harness, not whatever a log names). */
bool has_fork_server(const char *prog)
{
	static const char mark[] = "MIGRACE_CTL_FD";
	int fd = open(prog, O_RDONLY | O_CLOEXEC);
	struct stat st;
	bool found = false;
	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			found = memmem(m, (size_t)st.st_size, mark, sizeof(mark) - 1) != NULL;
			munmap(m, (size_t)st.st_size);
		}
	}
	close(fd);
	return found;
}

int read_trace_file(const char *path, struct trace *t, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "it is a directory, not a trace file");
		return -1;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read it: %s", strerror(errno));
		return -1;
	}
	int rc = trace_parse(f, t, err, errlen);
	fclose(f);
	return rc;
}

void check_program(const char *cmd, const char *prog, char *abs)
{
	char path[PATH_MAX];
	const char *found = prog;
	if (!strchr(prog, '/')) {            /* a bare name: where execvp would find it */
		const char *dirs = getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin";
		found = NULL;
		for (const char *d = dirs; d && !found; d = strchr(d, ':') ? strchr(d, ':') + 1 : NULL) {
			int n = (int)strcspn(d, ":");
			snprintf(path, sizeof(path), "%.*s/%s", n, n ? d : ".", prog);
			if (access(path, X_OK) == 0)
				found = path;
		}
		if (!found)
			die_usage(cmd, "cannot run '%s': not found on PATH", prog);
	}
	if (access(found, X_OK))
		die_usage(cmd, "cannot run '%s': %s", prog, strerror(errno));
	if (!has_fork_server(found))
		die_usage(cmd, "'%s' was not built with migrace-cc (it has no fork server): build it with "
			  "build/bin/migrace-cc --tsan|--asan|--plain", prog);
	if (abs && !realpath(found, abs))
		die_usage(cmd, "cannot run '%s': %s", prog, strerror(errno));
}
