/*
 * monclient: a raw client of migrate-vm's monitor (core/migration/monserver.h)
 * for the acceptance tests. It connects to monitors by name and runs steps
 * in order, printing every line it reads as "NAME: line":
 *
 *   NAME=URI                 connect NAME (retrying for 5 s until it listens)
 *   NAME>COMMAND [K=V ...]   one argument: send, wait for the reply; an error
 *                            reply fails the run, unless COMMAND starts with '!'
 *   NAME?EVENT[|EVENT...]    wait until one of the events came (e.g.
 *                            MIGRATION:completed, as "NAME:status")
 *   NAME.eof                 wait until the monitor closes
 *
 *   monclient dst=unix:/tmp/d.sock src=unix:/tmp/s.sock \
 *       'dst>migrate-incoming uri=unix:/tmp/m.sock' 'src>migrate uri=unix:/tmp/m.sock' \
 *       'src?MIGRATION:completed' 'dst?MIGRATION:completed' 'src>quit' src.eof
 *
 * Exit: 0 every step done; 1 a step failed (says which); 2 bad arguments.
 * The whole run is limited to 60 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "monproto.h"
#include "../../unit/mon_client.h"

#define MAX_MONITORS 4

static struct mon_client mons[MAX_MONITORS];
static char names[MAX_MONITORS][32];
static int nmons;

static void timed_out(int sig)
{
	static const char msg[] = "monclient: still running after 60 s\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static int fail(const char *step, const char *fmt, const char *what)
{
	fprintf(stderr, "monclient: %s: ", step);
	fprintf(stderr, fmt, what);
	fputc('\n', stderr);
	return 1;
}

/* The monitor named by step's prefix of length n, or NULL. */
static struct mon_client *find(const char *step, size_t n)
{
	for (int i = 0; i < nmons; i++)
		if (strlen(names[i]) == n && strncmp(names[i], step, n) == 0)
			return &mons[i];
	return NULL;
}

static int connect_step(const char *step, const char *eq)
{
	struct channel *ch = NULL;
	int ret = -ENOENT;

	if (nmons == MAX_MONITORS || eq - step >= (long)sizeof(names[0]) || eq == step)
		return fail(step, "%s", "bad monitor name, or too many monitors");
	for (int i = 0; i < 250 && (ret == -ENOENT || ret == -ECONNREFUSED); i++) {
		ret = channel_connect(eq + 1, &ch);
		if (ret) {
			struct timespec ts = { 0, 20 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	if (ret)
		return fail(step, "connect: %s", strerror(-ret));
	memcpy(names[nmons], step, (size_t)(eq - step));
	mon_client_init(&mons[nmons], ch, names[nmons]);
	mons[nmons].echo = stdout;
	nmons++;
	return 0;
}

/* "COMMAND K=V K=V": one command. */
static int command_step(const char *step, struct mon_client *c, const char *text)
{
	char buf[MON_LINE_MAX], *save, *tok;
	bool may_fail = text[0] == '!';
	struct mon_msg cmd, reply;

	snprintf(buf, sizeof(buf), "%s", text + may_fail);
	tok = strtok_r(buf, " ", &save);
	if (!tok)
		return fail(step, "%s", "no command");
	mon_msg_cmd(&cmd, 0, tok);
	while ((tok = strtok_r(NULL, " ", &save))) {
		char *eq = strchr(tok, '=');
		if (!eq)
			return fail(step, "argument '%s' is not KEY=VALUE", tok);
		*eq = '\0';
		if (mon_msg_set(&cmd, tok, "%s", eq + 1))
			return fail(step, "argument '%s' does not fit", tok);
	}
	int ret = mon_client_call(c, &cmd, &reply);
	if (ret < 0)
		return fail(step, "no reply: %s", strerror(-ret));
	if (ret == 1 && !may_fail)
		return fail(step, "error reply: %s", mon_msg_get(&reply, "desc") ? mon_msg_get(&reply, "desc") : "");
	return 0;
}

static int run_step(const char *step)
{
	size_t n = strcspn(step, "=>?.");
	struct mon_client *c;

	if (step[n] == '=')
		return connect_step(step, step + n);
	if (!step[n] || !(c = find(step, n)))
		return fail(step, "%s", "not NAME=URI, NAME>COMMAND, NAME?EVENT or NAME.eof of a connected NAME");
	fflush(stdout);
	if (step[n] == '>')
		return command_step(step, c, step + n + 1);
	if (step[n] == '?') {
		int ret = mon_client_wait_event(c, step + n + 1);
		return ret < 0 ? fail(step, "the event did not come: %s", strerror(-ret)) : 0;
	}
	if (strcmp(step + n, ".eof"))
		return fail(step, "%s", "unknown step");
	return mon_client_wait_eof(c) ? fail(step, "%s", "something else than events before EOF") : 0;
}

int main(int argc, char **argv)
{
	int ret = 0;

	if (argc < 2 || !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: monclient NAME=URI... STEP...: NAME>COMMAND [K=V...] | NAME?EVENT[|EVENT...] | NAME.eof\n");
		return argc < 2 ? 2 : 0;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, timed_out);
	alarm(60);
	for (int i = 1; i < argc && ret == 0; i++)
		ret = run_step(argv[i]);
	fflush(stdout);
	for (int i = 0; i < nmons; i++) {
		channel_close(mons[i].ch);
		channel_unref(mons[i].ch);
	}
	return ret;
}
