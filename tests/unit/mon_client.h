/*
 * A raw monitor client for tests of the monitor server (monserver.h): send a
 * command, read lines until its reply, keep every event seen in a log, wait
 * for an event. Header-only; used by tests/unit/test_core_monserver.c and
 * harness/core-progs/monserver_migrate.c. Failures return -errno: the
 * caller asserts.
 */
#ifndef MIGRACE_MON_CLIENT_H
#define MIGRACE_MON_CLIENT_H

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "channel.h"
#include "monproto.h"

#define MON_CLIENT_MAX_EVENTS 64

struct mon_client {
	struct channel *ch;		/* the client's end; the caller's reference */
	const char *name;		/* for messages */
	FILE *echo;			/* if set, every line read is printed there as "name: line" */
	uint64_t next_id;
	char buf[MON_LINE_MAX];
	size_t len;
	int nevents;
	char events[MON_CLIENT_MAX_EVENTS][48];	/* "NAME" or "NAME:status", in order */
};

static inline void mon_client_init(struct mon_client *c, struct channel *ch, const char *name)
{
	memset(c, 0, sizeof(*c));
	c->ch = ch;
	c->name = name;
	c->next_id = 1;
}

/* The next message. 0, -EPIPE at EOF, -EPROTO for a bad line, or -errno. */
static inline int mon_client_read(struct mon_client *c, struct mon_msg *m)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			size_t n = (size_t)(nl - c->buf) + 1;
			int ret = mon_msg_parse(c->buf, n, m, NULL);

			if (c->echo)
				fprintf(c->echo, "%s: %.*s", c->name, (int)n, c->buf);

			c->len -= n;
			memmove(c->buf, c->buf + n, c->len);
			if (ret == 0 && m->kind == MON_EVT && c->nevents < MON_CLIENT_MAX_EVENTS) {
				const char *st = mon_msg_get(m, "status");

				snprintf(c->events[c->nevents++], sizeof(c->events[0]), "%s%s%s", m->name,
					 st ? ":" : "", st ? st : "");
			}
			return ret;
		}
		if (c->len == sizeof(c->buf))
			return -EPROTO;
		ssize_t got = channel_read(c->ch, c->buf + c->len, sizeof(c->buf) - c->len);
		if (got <= 0)
			return got == 0 ? -EPIPE : (int)got;
		c->len += (size_t)got;
	}
}

/*
 * Send cmd (its id is set here) and read until its reply, into reply.
 * Returns 0 for a return, 1 for an error reply, or a -errno of the channel
 * or the protocol.
 */
static inline int mon_client_call(struct mon_client *c, struct mon_msg *cmd, struct mon_msg *reply)
{
	char line[MON_LINE_MAX];
	uint64_t id = c->next_id++;
	int ret;

	cmd->id = id;
	int n = mon_msg_format(cmd, line, sizeof(line));
	if (n < 0)
		return n;
	if ((ret = channel_write_all(c->ch, line, (size_t)n)))
		return ret;
	do {
		if ((ret = mon_client_read(c, reply)))
			return ret;
	} while (reply->kind == MON_EVT || reply->id != id);
	return reply->kind == MON_ERR ? 1 : 0;
}

/* mon_client_call of command name with key, value pairs (NULL-terminated). */
static inline int mon_client_cmd(struct mon_client *c, struct mon_msg *reply, const char *name, ...)
{
	struct mon_msg m;
	const char *k, *v;
	va_list ap;

	mon_msg_cmd(&m, 0, name);
	va_start(ap, name);
	while ((k = va_arg(ap, const char *)) && (v = va_arg(ap, const char *)))
		mon_msg_set(&m, k, "%s", v);
	va_end(ap);
	return mon_client_call(c, &m, reply);
}

/* Whether event e is one of alternatives ("A|B|C"). */
static inline bool mon_client_event_is(const char *e, const char *alternatives)
{
	size_t n = strlen(e);

	for (const char *p = alternatives;; p++) {
		if (strncmp(p, e, n) == 0 && (p[n] == '|' || p[n] == '\0'))
			return true;
		if (!(p = strchr(p, '|')))
			return false;
	}
}

/* Index of the first event in the log at or after from that is one of ev
 * ("NAME" or "NAME:status", alternatives separated by '|'), or -1. */
static inline int mon_client_find(const struct mon_client *c, const char *ev, int from)
{
	for (int i = from; i < c->nevents; i++)
		if (mon_client_event_is(c->events[i], ev))
			return i;
	return -1;
}

/* Read until an event of ev (as for mon_client_find) is in the log (it may
 * be already). Its index, or the -errno of the read (-EPIPE: EOF first). */
static inline int mon_client_wait_event(struct mon_client *c, const char *ev)
{
	struct mon_msg m;
	int i, ret;

	while ((i = mon_client_find(c, ev, 0)) < 0)
		if ((ret = mon_client_read(c, &m)) && ret != -EPROTO)
			return ret;
	return i;
}

/* Read until EOF: 0, or -EPROTO if something else than events came first. */
static inline int mon_client_wait_eof(struct mon_client *c)
{
	struct mon_msg m;
	int ret;

	while ((ret = mon_client_read(c, &m)) == 0)
		if (m.kind != MON_EVT)
			return -EPROTO;
	return ret == -EPIPE ? 0 : ret;
}

#endif
