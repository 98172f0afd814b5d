/*
 * The fake QEMU monitor (see fake_monitor.h): one thread reads command lines
 * and runs the script; writes (its own and fmon_send_event's) are serialized
 * by a write lock. Every wait is a channel read or a pthread join.
 */
#include "fake_monitor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invariants.h"
#include "mem_channel.h"
#include "monproto.h"

#ifdef MIGRACE_SYNC_POINTS
void migrace_sync_point(const char *name);
#define FMON_SYNC_POINT(name) migrace_sync_point(name)
#else
#define FMON_SYNC_POINT(name) do { (void)(name); } while (0)
#endif

enum fmon_kind { FK_CMD, FK_EVENT, FK_CLOSE };
enum fmon_do { FD_REPLY, FD_ERROR, FD_EOF, FD_HALF };

struct fmon_item {
	enum fmon_kind kind;
	enum fmon_do action;		/* FK_CMD */
	struct mon_msg cmd;		/* FK_CMD: name and the argument checks */
	struct mon_msg msg;		/* FK_CMD: the reply/error fields; FK_EVENT: the event */
	struct mon_msg pre[2];		/* FK_CMD: events before the reply */
	int npre;
};

struct fmon {
	char name[64];			/* immutable */
	struct fmon_item items[FMON_MAX_ITEMS];	/* the script: immutable after start */
	int nitems;			/* immutable after start */
	struct mon_msg allowed[FMON_MAX_ALLOWED];	/* immutable after start: name and reply */
	int nallowed;			/* immutable after start */

	pthread_mutex_t lock;		/* the fields marked "lock" */
	int next;			/* lock: the first item not done */
	char received[FMON_MAX_RECORD][MON_KEY_MAX];	/* lock */
	int nreceived;			/* lock (may exceed FMON_MAX_RECORD) */
	int unexpected;			/* lock */
	bool killed;			/* lock */

	pthread_mutex_t wlock;		/* serializes writes on ch */
	struct channel *ch;		/* set by start; a reference */
	pthread_t thread;		/* owner */
	bool started;			/* owner */
};

/* The reply points, by command: a string literal each (traces use the address). */
static const struct { const char *cmd, *point; } reply_points[] = {
	{ "qmp_capabilities", "fmon:qmp_capabilities:before-reply" },
	{ "query-status", "fmon:query-status:before-reply" },
	{ "migrate", "fmon:migrate:before-reply" },
	{ "migrate-incoming", "fmon:migrate-incoming:before-reply" },
	{ "migrate_cancel", "fmon:migrate_cancel:before-reply" },
	{ "cont", "fmon:cont:before-reply" },
	{ "stop", "fmon:stop:before-reply" },
	{ "device_add", "fmon:device_add:before-reply" },
};

const char *fmon_reply_point(const char *cmd)
{
	for (size_t i = 0; i < sizeof(reply_points) / sizeof(reply_points[0]); i++)
		if (strcmp(reply_points[i].cmd, cmd) == 0)
			return reply_points[i].point;
	return "fmon:other:before-reply";
}

/* "k=v,k=v" into m's fields. 0 or -EINVAL. */
static int parse_fields(struct mon_msg *m, const char *fields)
{
	char buf[MON_LINE_MAX], *save = NULL;

	if (!fields)
		return 0;
	snprintf(buf, sizeof(buf), "%s", fields);
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq)
			return -EINVAL;
		*eq = '\0';
		if (mon_msg_set(m, kv, "%s", eq + 1) < 0)
			return -EINVAL;
	}
	return 0;
}

struct fmon *fmon_new(const char *name)
{
	struct fmon *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	snprintf(f->name, sizeof(f->name), "%s", name);
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_init(&f->wlock, NULL);
	return f;
}

static struct fmon_item *add_item(struct fmon *f, enum fmon_kind kind)
{
	if (f->started || f->nitems == FMON_MAX_ITEMS)
		return NULL;
	memset(&f->items[f->nitems], 0, sizeof(f->items[0]));
	f->items[f->nitems].kind = kind;
	return &f->items[f->nitems++];
}

static int add_cmd(struct fmon *f, const char *cmd, const char *args, enum fmon_do action,
		   const char *fields)
{
	struct fmon_item *it = add_item(f, FK_CMD);

	if (!it)
		return -ENOSPC;
	it->action = action;
	mon_msg_cmd(&it->cmd, 0, cmd);
	mon_msg_ret(&it->msg, 0);
	if (parse_fields(&it->cmd, args) || parse_fields(&it->msg, fields)) {
		f->nitems--;
		return -EINVAL;
	}
	return 0;
}

int fmon_expect(struct fmon *f, const char *cmd, const char *args, const char *reply)
{
	return add_cmd(f, cmd, args, FD_REPLY, reply);
}

int fmon_expect_error(struct fmon *f, const char *cmd, const char *args, const char *cls, const char *desc)
{
	int ret = add_cmd(f, cmd, args, FD_ERROR, NULL);

	if (ret == 0)
		mon_msg_err(&f->items[f->nitems - 1].msg, 0, cls, desc);
	return ret;
}

int fmon_expect_eof(struct fmon *f, const char *cmd, const char *args)
{
	return add_cmd(f, cmd, args, FD_EOF, NULL);
}

int fmon_expect_half_reply(struct fmon *f, const char *cmd, const char *args, const char *reply)
{
	return add_cmd(f, cmd, args, FD_HALF, reply);
}

int fmon_allow(struct fmon *f, const char *cmd, const char *reply)
{
	struct mon_msg *m;

	if (f->started || f->nallowed == FMON_MAX_ALLOWED)
		return -ENOSPC;
	m = &f->allowed[f->nallowed];
	mon_msg_ret(m, 0);
	snprintf(m->name, sizeof(m->name), "%s", cmd);
	if (parse_fields(m, reply))
		return -EINVAL;
	f->nallowed++;
	return 0;
}

static const struct mon_msg *find_allowed(const struct fmon *f, const char *cmd)
{
	for (int i = 0; i < f->nallowed; i++)
		if (strcmp(f->allowed[i].name, cmd) == 0)
			return &f->allowed[i];
	return NULL;
}

int fmon_event_before_reply(struct fmon *f, const char *event, const char *fields)
{
	struct fmon_item *it = f->nitems ? &f->items[f->nitems - 1] : NULL;

	if (f->started || !it || it->kind != FK_CMD || it->npre == 2)
		return -EINVAL;
	mon_msg_evt(&it->pre[it->npre], event);
	if (parse_fields(&it->pre[it->npre], fields))
		return -EINVAL;
	it->npre++;
	return 0;
}

int fmon_event(struct fmon *f, const char *event, const char *fields)
{
	struct fmon_item *it = add_item(f, FK_EVENT);

	if (!it)
		return -ENOSPC;
	mon_msg_evt(&it->msg, event);
	if (parse_fields(&it->msg, fields)) {
		f->nitems--;
		return -EINVAL;
	}
	return 0;
}

int fmon_close(struct fmon *f)
{
	return add_item(f, FK_CLOSE) ? 0 : -ENOSPC;
}

/* ---- the fake's thread ------------------------------------------------------- */

static int send_msg(struct fmon *f, const struct mon_msg *m, bool half)
{
	char line[MON_LINE_MAX];
	int len = mon_msg_format(m, line, sizeof(line)), ret;

	if (len < 0)
		return len;
	pthread_mutex_lock(&f->wlock);
	ret = channel_write_all(f->ch, line, half ? (size_t)len / 2 : (size_t)len);
	pthread_mutex_unlock(&f->wlock);
	return ret;
}

static void hang_up(struct fmon *f)
{
	channel_shutdown(f->ch, CHANNEL_SHUTDOWN_BOTH);
}

/* Run the event and close items at the head of the script. false once closed. */
static bool run_plain_items(struct fmon *f)
{
	for (;;) {
		struct fmon_item *it;

		pthread_mutex_lock(&f->lock);
		it = f->next < f->nitems && f->items[f->next].kind != FK_CMD ? &f->items[f->next] : NULL;
		if (it)
			f->next++;
		pthread_mutex_unlock(&f->lock);
		if (!it)
			return true;
		if (it->kind == FK_CLOSE) {
			FMON_SYNC_POINT("fmon:close:before-close");
			hang_up(f);
			return false;
		}
		FMON_SYNC_POINT("fmon:event:before-send");
		send_msg(f, &it->msg, false);
	}
}

/* Does cmd match the expectation (name, and every argument it checks)? */
static bool matches(const struct fmon_item *it, const struct mon_msg *cmd)
{
	if (strcmp(it->cmd.name, cmd->name) != 0)
		return false;
	for (int i = 0; i < it->cmd.nfields; i++) {
		const char *v = mon_msg_get(cmd, it->cmd.f[i].key);

		if (!v || strcmp(v, it->cmd.f[i].val) != 0)
			return false;
	}
	return true;
}

/* Handle one command line. false once the connection was closed by the script. */
static bool handle_command(struct fmon *f, const struct mon_msg *cmd)
{
	struct fmon_item *it = NULL;
	const struct mon_msg *allowed = NULL;
	struct mon_msg reply;

	pthread_mutex_lock(&f->lock);
	if (f->nreceived < FMON_MAX_RECORD)
		snprintf(f->received[f->nreceived], MON_KEY_MAX, "%s", cmd->name);
	f->nreceived++;
	if (f->next < f->nitems && matches(&f->items[f->next], cmd))
		it = &f->items[f->next++];
	else if (!(allowed = find_allowed(f, cmd->name)))
		f->unexpected++;
	pthread_mutex_unlock(&f->lock);

	if (allowed) {
		FMON_SYNC_POINT(fmon_reply_point(cmd->name));
		reply = *allowed;
		reply.kind = MON_RET;
		reply.name[0] = '\0';
		reply.id = cmd->id;
		send_msg(f, &reply, false);
		return true;
	}

	if (!it) {
		mgmt_inv_fail("fake-monitor:unexpected", __FILE__, __LINE__,
			      "fake monitor %s: unexpected command %s", f->name, cmd->name);
		mon_msg_err(&reply, cmd->id, "CommandNotFound", "unexpected command");
		send_msg(f, &reply, false);
		return true;
	}
	FMON_SYNC_POINT(fmon_reply_point(cmd->name));
	for (int i = 0; i < it->npre; i++)
		send_msg(f, &it->pre[i], false);
	reply = it->msg;
	reply.id = cmd->id;
	switch (it->action) {
	case FD_REPLY:
	case FD_ERROR:
		send_msg(f, &reply, false);
		return true;
	case FD_HALF:
		send_msg(f, &reply, true);
		/* fall through */
	case FD_EOF:
		hang_up(f);
		return false;
	}
	return true;
}

static void *fmon_thread(void *arg)
{
	struct fmon *f = arg;
	char buf[MON_LINE_MAX];
	size_t have = 0;

	while (run_plain_items(f)) {
		char *nl = memchr(buf, '\n', have);
		struct mon_msg cmd;
		ssize_t n;

		if (!nl) {
			if (have == sizeof(buf))
				break;
			n = channel_read(f->ch, buf + have, sizeof(buf) - have);
			if (n <= 0)
				break;
			have += (size_t)n;
			continue;
		}
		size_t linelen = (size_t)(nl - buf) + 1;
		bool ok = mon_msg_parse(buf, linelen, &cmd, NULL) == 0 && cmd.kind == MON_CMD;

		memmove(buf, buf + linelen, have - linelen);
		have -= linelen;
		if (ok && !handle_command(f, &cmd))
			break;
	}
	return NULL;
}

int fmon_start(struct fmon *f, struct channel *ch)
{
	int err;

	if (f->started)
		return -EBUSY;
	channel_ref(ch);
	f->ch = ch;
	err = pthread_create(&f->thread, NULL, fmon_thread, f);
	if (err) {
		channel_unref(ch);
		f->ch = NULL;
		return -err;
	}
	f->started = true;
	return 0;
}

int fmon_send_event(struct fmon *f, const char *event, const char *fields)
{
	struct mon_msg m;

	mon_msg_evt(&m, event);
	if (parse_fields(&m, fields))
		return -EINVAL;
	return send_msg(f, &m, false);
}

void fmon_kill(struct fmon *f)
{
	pthread_mutex_lock(&f->lock);
	f->killed = true;
	pthread_mutex_unlock(&f->lock);
	if (f->ch)
		hang_up(f);
}

int fmon_nreceived(struct fmon *f)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = f->nreceived;
	pthread_mutex_unlock(&f->lock);
	return n;
}

bool fmon_received(struct fmon *f, int i, char *buf, size_t len)
{
	bool ok;

	pthread_mutex_lock(&f->lock);
	ok = i >= 0 && i < f->nreceived && i < FMON_MAX_RECORD;
	if (ok)
		snprintf(buf, len, "%s", f->received[i]);
	pthread_mutex_unlock(&f->lock);
	return ok;
}

int fmon_unused(struct fmon *f)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = f->nitems - f->next;
	pthread_mutex_unlock(&f->lock);
	return n;
}

int fmon_unexpected(struct fmon *f)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = f->unexpected;
	pthread_mutex_unlock(&f->lock);
	return n;
}

bool fmon_killed(struct fmon *f)
{
	bool k;

	pthread_mutex_lock(&f->lock);
	k = f->killed;
	pthread_mutex_unlock(&f->lock);
	return k;
}

void fmon_free(struct fmon *f)
{
	int unused;

	if (!f)
		return;
	if (f->started) {
		hang_up(f);
		pthread_join(f->thread, NULL);
		channel_unref(f->ch);
	}
	unused = f->nitems - f->next;
	if (unused > 0)
		mgmt_inv_fail("fake-monitor:unused", __FILE__, __LINE__,
			      "fake monitor %s: %d scripted item(s) never reached, the first a %s",
			      f->name, unused, f->items[f->next].kind == FK_CMD ? f->items[f->next].cmd.name :
			      f->items[f->next].kind == FK_EVENT ? "event" : "close");
	pthread_mutex_destroy(&f->wlock);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* ---- the fake QEMU for a driver ------------------------------------------------- */

/* The fake of dom's next QEMU (the first registered not started yet), or
 * with current its running one (the last started), or -1. */
static int fq_find(struct fmon_qemu *q, const char *name, bool current)
{
	int found = -1;

	for (int i = 0; i < q->n; i++) {
		if (strcmp(q->names[i], name) != 0)
			continue;
		if (!current && !q->started[i])
			return i;
		if (current && q->started[i])
			found = i;
	}
	return found;
}

static int fq_start(void *opaque, const char *dom, bool incoming, struct channel **mon)
{
	struct fmon_qemu *q = opaque;
	struct channel *a, *b;
	int i = fq_find(q, dom, false), ret;

	if (i < 0)
		return fq_find(q, dom, true) < 0 ? -ENOENT : -EBUSY;
	mem_channel_register();
	ret = mem_channel_pair(&a, &b);
	if (ret)
		return ret;
	ret = fmon_start(q->mons[i], b);
	channel_unref(b);
	if (ret) {
		channel_unref(a);
		return ret;
	}
	q->incoming[i] = incoming;
	q->started[i] = true;
	*mon = a;
	return 0;
}

static void fq_kill(void *opaque, const char *dom)
{
	struct fmon_qemu *q = opaque;
	int i = fq_find(q, dom, true);

	if (i >= 0)
		fmon_kill(q->mons[i]);
}

const struct mgmt_qemu_ops fmon_qemu_ops = { .start = fq_start, .kill = fq_kill };

int fmon_qemu_add(struct fmon_qemu *q, const char *name, struct fmon *f)
{
	if (q->n == FMON_QEMU_MAX)
		return -ENOSPC;
	snprintf(q->names[q->n], sizeof(q->names[0]), "%s", name);
	q->mons[q->n++] = f;
	return 0;
}
