/*
 * The worker pool every exploring command uses: starts --jobs fork servers of
 * a program built with migrace-cc, hands each its share of the run indices
 * through MIGRACE_* variables and collects every run's outcome from a pipe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <dirent.h>

#include "opts.h"
#include "pool.h"

/* ---- the worker pool ---------------------------------------------------- */


struct worker {
	pid_t pid;
	int fd;
	char buf[8192];
	size_t len;
	bool done, killed;
};


void count_signature(struct outcome *out, const char *sig)
{
	for (int i = 0; i < out->nsigs; i++)
		if (strcmp(out->sigs[i].sig, sig) == 0) {
			out->sigs[i].count++;
			return;
		}
	if (out->nsigs == 16) {
		out->other_sigs++;
		return;
	}
	snprintf(out->sigs[out->nsigs].sig, sizeof(out->sigs[0].sig), "%s", sig);
	out->sigs[out->nsigs++].count = 1;
}

static void setenv_u64(const char *name, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	setenv(name, buf, 1);
}

/* The runs of a shard (--shard I/N: shard = I-1, nshards = N) interleave
 * over its workers: worker j takes shard + j*N, then every N*J-th index, so
 * that the shards together run exactly the indices of the unsharded hunt. */
uint64_t worker_first(const struct exec_opts *o, unsigned j)
{
	return o->base + o->shard + (uint64_t)j * (o->nshards ? o->nshards : 1);
}

uint64_t worker_stride(const struct exec_opts *o)
{
	return (o->nshards ? o->nshards : 1) * o->jobs;
}

static void worker_env(const struct exec_opts *o, unsigned j, int fd)
{
	setenv_u64("MIGRACE_CTL_FD", (uint64_t)fd);
	setenv("MIGRACE_STRATEGY", o->strategy, 1);
	setenv_u64("MIGRACE_SEED", o->seed);
	setenv_u64("MIGRACE_RUNS", o->base + o->runs);
	setenv_u64("MIGRACE_RUN_FIRST", worker_first(o, j));
	setenv_u64("MIGRACE_RUN_STRIDE", worker_stride(o));
	setenv_u64("MIGRACE_TIMEOUT_MS", (uint64_t)(o->timeout * 1000));
	if (o->max_steps)      /* else the program's default, higher with memory points */
		setenv_u64("MIGRACE_MAX_STEPS", o->max_steps);
	if (o->pin)
		setenv("MIGRACE_PIN", o->pin, 1);
	if (o->pct_k)
		setenv_u64("MIGRACE_PCT_K", o->pct_k);
	if (o->stdin_file)
		setenv("MIGRACE_STDIN", o->stdin_file, 1);
	if (o->spurious)
		setenv("MIGRACE_SPURIOUS", "1", 1);
	if (o->switches)
		setenv("MIGRACE_SWITCHES", o->switches, 1);
	else
		unsetenv("MIGRACE_SWITCHES");   /* the switches strategy without a list: no preemption */
	setenv("MIGRACE_OUT", o->out, 1);
	setenv("MIGRACE_SELF", self, 1);
	if (o->name)
		setenv("MIGRACE_NAME", o->name, 1);
	if (o->script)
		setenv("MIGRACE_SCRIPT", o->script, 1);
	if (o->schedule)
		setenv("MIGRACE_SCHEDULE", o->schedule, 1);
	if (o->check_det)
		setenv("MIGRACE_CHECK_DETERMINISM", "1", 1);
	if (o->keep_going)
		setenv("MIGRACE_KEEP_GOING", "1", 1);
	if (o->trace_all)
		setenv("MIGRACE_TRACE_ALL", "1", 1);
	if (o->trace_new)
		setenv("MIGRACE_TRACE_NEW", "1", 1);
	if (o->preempt)
		setenv("MIGRACE_PREEMPT", o->preempt, 1);
	if (o->resume)
		setenv("MIGRACE_GUIDED_RESUME", "1", 1);
}

/* Strategy guided keeps its corpus and feedback map under OUT/guided: a new
 * exploration starts from nothing (a resumed one keeps them). */
static void guided_reset(const char *out)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/guided/corpus", out);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] == 'w') {
			snprintf(path, sizeof(path), "%s/guided/corpus/%s", out, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s/guided/seen", out);
	unlink(path);
}

static void handle_line(struct outcome *out, const struct exec_opts *o, unsigned j, char *line)
{
	const struct pool_hooks *h = o->hooks;
	if (strncmp(line, "note ", 5) == 0) {
		if (h && h->note)
			h->note(h->ctx, line + 5);
		else if (!o->quiet)
			fprintf(stderr, "migrace: %s\n", line + 5);
		return;
	}
	if (strncmp(line, "pct-k ", 6) == 0) {   /* PCT's k, for the seed repro line */
		out->pct_k = strtoull(line + 6, NULL, 10);
		return;
	}
	if (strncmp(line, "run ", 4) == 0) {
		uint64_t idx, seed;
		unsigned steps;
		int off = 0;
		if (sscanf(line + 4, "%" SCNu64 " %" SCNu64 " %u %n", &idx, &seed, &steps, &off) < 3 || !off)
			return;
		char *sig = line + 4 + off;
		char *tab = strchr(sig, '\t');
		char *trace = tab ? tab + 1 : (char *)"";
		if (tab)
			*tab = '\0';
		out->runs++;
		if (h && h->run)
			h->run(h->ctx, j, idx, seed, sig, trace);
		bool failed = strcmp(sig, "clean") != 0;
		if (!failed)
			return;
		out->failures++;
		count_signature(out, sig);
		if (!out->have_first || idx < out->first_index) {
			out->have_first = true;
			out->first_index = idx;
			out->first_seed = seed;
			snprintf(out->first_sig, sizeof(out->first_sig), "%s", sig);
			snprintf(out->first_trace, sizeof(out->first_trace), "%s", trace);
		}
	}
}

/* Starts the workers and collects their reports until all exit. */
static volatile sig_atomic_t pool_signal;

static void on_pool_signal(int sig)
{
	pool_signal = sig;
}

int pool_interrupt(void)
{
	return pool_signal;
}

static int run_workers(const struct exec_opts *o, char *const argv[], struct outcome *out);

/* With hooks->interrupts, Ctrl-C and SIGTERM are caught while the workers
 * run: each ends its current run unreported, and what ran before is kept. */
int pool_run(const struct exec_opts *o, char *const argv[], struct outcome *out)
{
	const struct pool_hooks *h = o->hooks;
	if (!h || !h->interrupts)
		return run_workers(o, argv, out);
	struct sigaction sa = { .sa_handler = on_pool_signal }, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	pool_signal = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	int rc = run_workers(o, argv, out);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	out->interrupted = pool_signal;
	return rc;
}

static int run_workers(const struct exec_opts *o, char *const argv[], struct outcome *out)
{
	struct worker ws[MAX_JOBS];
	unsigned nw = o->jobs;

	memset(out, 0, sizeof(*out));
	memset(ws, 0, sizeof(ws));
	if (strcmp(o->strategy, "guided") == 0 && !o->resume)
		guided_reset(o->out);
	fflush(NULL);
	for (unsigned j = 0; j < nw; j++) {
		int p[2];
		if (pipe2(p, O_CLOEXEC)) {
			perror("migrace: pipe");
			return -1;
		}
		pid_t pid = fork();
		if (pid < 0) {
			perror("migrace: fork");
			return -1;
		}
		if (pid == 0) {
			close(p[0]);
			int fd = dup(p[1]);      /* without O_CLOEXEC */
			worker_env(o, j, fd);
			execvp(argv[0], argv);
			fprintf(stderr, "migrace: cannot run %s: %s\n", argv[0], strerror(errno));
			_exit(127);
		}
		close(p[1]);
		ws[j] = (struct worker){ .pid = pid, .fd = p[0] };
	}

	unsigned open_fds = nw;
	const struct pool_hooks *h = o->hooks;
	bool stopping = false;
	while (open_fds) {
		struct pollfd pfd[MAX_JOBS];
		unsigned map[MAX_JOBS], n = 0;
		for (unsigned j = 0; j < nw; j++)
			if (ws[j].fd >= 0) {
				pfd[n] = (struct pollfd){ .fd = ws[j].fd, .events = POLLIN };
				map[n++] = j;
			}
		int ready = poll(pfd, n, h && (h->tick || h->interrupts) ? (h->tick_ms ? h->tick_ms : 250) : -1);
		if (ready < 0 && errno != EINTR)
			break;
		for (unsigned i = 0; ready > 0 && i < n; i++) {
			struct worker *w = &ws[map[i]];
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = read(w->fd, w->buf + w->len, sizeof(w->buf) - 1 - w->len);
			if (r <= 0) {
				close(w->fd);
				w->fd = -1;
				open_fds--;
				continue;
			}
			w->len += (size_t)r;
			w->buf[w->len] = '\0';
			char *line = w->buf, *nl;
			while ((nl = strchr(line, '\n'))) {
				*nl = '\0';
				if (strncmp(line, "done ", 5) == 0)
					w->done = true;
				else
					handle_line(out, o, map[i], line);
				/* stop workers whose runs are all past the first failure */
				uint64_t idx;
				if (!o->keep_going && out->have_first && sscanf(line, "run %" SCNu64, &idx) == 1 &&
				    idx > out->first_index && !w->killed) {
					kill(w->pid, SIGTERM);
					w->killed = true;
				}
				line = nl + 1;
			}
			w->len = strlen(line);
			memmove(w->buf, line, w->len + 1);
		}
		/* the caller's stop (a time budget, an interrupt): SIGTERM ends a
		 * fork server's current run unreported, then it says "done" */
		bool stop = h && ((h->tick && h->tick(h->ctx)) || (h->interrupts && pool_signal));
		if (stop && !stopping) {
			stopping = true;
			for (unsigned j = 0; j < nw; j++)
				if (ws[j].fd >= 0 && !ws[j].killed) {
					kill(ws[j].pid, SIGTERM);
					ws[j].killed = true;
				}
		}
	}
	for (unsigned j = 0; j < nw; j++) {
		int st = 0;
		while (waitpid(ws[j].pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
			out->config_error = true;
		else if (!ws[j].done && !ws[j].killed) {
			out->lost_worker = true;
			if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
				out->config_error = true;
			else if (WIFSIGNALED(st))
				fprintf(stderr, "migrace: worker %u (pid %d) died of signal %d\n", j, ws[j].pid, WTERMSIG(st));
			else
				fprintf(stderr, "migrace: worker %u (pid %d) exited with %d without finishing; "
					"was the program built with migrace-cc?\n", j, ws[j].pid, WEXITSTATUS(st));
		}
	}
	return 0;
}

/* ---- repro lines ------------------------------------------------------- */

static void put_quoted(FILE *f, const char *a)
{
	if (*a && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+,-") == strlen(a)) {
		fputs(a, f);
		return;
	}
	fputc('\'', f);
	for (; *a; a++)
		*a == '\'' ? fputs("'\\''", f) : fputc(*a, f);
	fputc('\'', f);
}

void pool_put_command(FILE *f, char *const *argv)
{
	for (int i = 0; argv[i]; i++) {
		if (i)
			fputc(' ', f);
		put_quoted(f, argv[i]);
	}
}

void pool_seed_repro(FILE *f, const struct exec_opts *o, uint64_t seed, uint64_t pct_k, char *const argv[])
{
	char prog[PATH_MAX];
	fprintf(f, "%s exec --strategy %s --seed %" PRIu64 " --runs 1 ", self, o->strategy, seed);
	if (pct_k && strncmp(o->strategy, "pct:", 4) == 0)
		fprintf(f, "--pct-k %" PRIu64 " ", pct_k);
	if (o->preempt && strcmp(o->preempt, "sync"))
		fprintf(f, "--preempt %s ", o->preempt);
	if (o->max_steps)
		fprintf(f, "--max-steps %" PRIu64 " ", o->max_steps);
	if (o->spurious)
		fputs("--spurious ", f);
	if (o->script) {
		fputs("--script ", f);
		put_quoted(f, realpath(o->script, prog) ? prog : o->script);
		fputc(' ', f);
	}
	if (o->schedule) {
		fputs("--schedule ", f);
		put_quoted(f, o->schedule);
		fputc(' ', f);
	}
	if (strcmp(o->strategy, "switches") == 0 && o->switches) {
		fputs("--switches ", f);
		put_quoted(f, o->switches);
		fputc(' ', f);
	}
	fputs("-- ", f);
	put_quoted(f, realpath(argv[0], prog) ? prog : argv[0]);
	if (argv[1])
		fputc(' ', f);
	pool_put_command(f, argv + 1);
	fputc('\n', f);
}
