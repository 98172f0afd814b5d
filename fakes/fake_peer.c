/*
 * The fake remote peer: three FIFOs of expectations under one lock, a
 * record of calls, held calls waiting on a condition variable, and a sticky
 * "connection dropped". Every wait is a condition variable.
 */
#include "fake_peer.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_util.h"

#include <migrace/migrace.h>

/* Linked with the harness runtime or not: without it the symbol is NULL. */
#pragma weak migrace_invariant_failed

#ifdef MIGRACE_SYNC_POINTS
void migrace_sync_point(const char *name);
#define FPEER_SYNC_POINT(name) migrace_sync_point("" name "")
#else
#define FPEER_SYNC_POINT(name) do { } while (0)
#endif

/* An expectation with its strings copied. */
struct fpeer_slot {
	struct fpeer_expect e;
	char dom[64], uri[128], msg[128];
	bool has_dom, has_msg;
};

struct fpeer {
	pthread_mutex_t lock;		/* protects everything below but the handler */
	pthread_cond_t cond;		/* broadcast on held, releases and inside changes */

	fpeer_fail_fn fail;		/* set before any call */
	void *fail_opaque;

	struct fpeer_slot q[FPEER_NOPS][FPEER_MAX_EXPECT];	/* lock: FIFO per op */
	int head[FPEER_NOPS], tail[FPEER_NOPS];		/* lock: q[op][head..tail) pending */

	struct fpeer_call calls[FPEER_MAX_CALLS];	/* lock */
	int ncalls;					/* lock: also those not recorded */
	bool dropped;					/* lock: sticky */

	int held[FPEER_NOPS];		/* lock: calls of op blocked in hold */
	int releases[FPEER_NOPS];	/* lock: fpeer_release() not consumed yet */
	int inside;			/* lock: calls in progress */
	bool stopping;			/* lock: fpeer_free: holds end */
};

static const char *const fpeer_op_names[FPEER_NOPS] = {
	[FPEER_PREPARE] = "prepare", [FPEER_FINISH] = "finish", [FPEER_CONFIRM] = "confirm",
};

const char *fpeer_op_name(enum fpeer_op op)
{
	return (unsigned)op < FPEER_NOPS ? fpeer_op_names[op] : "?";
}

/* ---- failures -------------------------------------------------------------- */

static void fpeer_default_fail(void *opaque, const char *name, const char *msg)
{
	if (migrace_invariant_failed)
		MIGRACE_INVARIANT(name, "%s", msg);
	fprintf(stderr, "invariant %s: %s\n", name, msg);
	abort();
}

static void fpeer_fail(struct fpeer *f, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Report a broken expectation through the handler. Without the lock. */
static void fpeer_fail(struct fpeer *f, const char *name, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f->fail(f->fail_opaque, name, msg);
}

/* ---- the calls ------------------------------------------------------------------ */

static void fpeer_sync_called(enum fpeer_op op)
{
	switch (op) {
	case FPEER_PREPARE: FPEER_SYNC_POINT("fpeer:prepare:called"); break;
	case FPEER_FINISH: FPEER_SYNC_POINT("fpeer:finish:called"); break;
	case FPEER_CONFIRM: FPEER_SYNC_POINT("fpeer:confirm:called"); break;
	case FPEER_NOPS: break;
	}
}

static void fpeer_sync_before_reply(enum fpeer_op op)
{
	switch (op) {
	case FPEER_PREPARE: FPEER_SYNC_POINT("fpeer:prepare:before-reply"); break;
	case FPEER_FINISH: FPEER_SYNC_POINT("fpeer:finish:before-reply"); break;
	case FPEER_CONFIRM: FPEER_SYNC_POINT("fpeer:confirm:before-reply"); break;
	case FPEER_NOPS: break;
	}
}

/* Whether slot s expects this call; if not, why in why. */
static bool fpeer_matches(const struct fpeer_slot *s, const char *dom, int ret, char *why, size_t len)
{
	if (s->has_dom && strcmp(s->dom, dom)) {
		snprintf(why, len, "domain '%s', expected '%s'", dom, s->dom);
		return false;
	}
	if ((s->e.want_ret == FPEER_RET_ZERO && ret != 0) || (s->e.want_ret == FPEER_RET_NONZERO && ret == 0)) {
		snprintf(why, len, "ret %d, expected %s", ret, s->e.want_ret == FPEER_RET_ZERO ? "0" : "nonzero");
		return false;
	}
	return true;
}

/* FPEER_ERROR and FPEER_DROP: the message for the caller. */
static int fpeer_error(const struct fpeer_slot *s, int err, char *buf, size_t len)
{
	snprintf(buf, len, "%s", s && s->has_msg ? s->msg : strerror(err));
	return -err;
}

/* Wait for a release of op (or free). lock held. */
static void fpeer_hold_locked(struct fpeer *f, enum fpeer_op op)
{
	f->held[op]++;
	pthread_cond_broadcast(&f->cond);
	while (f->releases[op] == 0 && !f->stopping)
		pthread_cond_wait(&f->cond, &f->lock);
	if (f->releases[op] > 0)
		f->releases[op]--;
	f->held[op]--;
}

/*
 * One call of op: match it against the front of op's FIFO, record it, pass
 * the sync points (and the hold), produce the scripted result.
 */
static int fpeer_call_op(struct fpeer *f, enum fpeer_op op, const char *dom, int ret_arg, char *uri,
			 size_t urilen, char *err, size_t errlen)
{
	struct fpeer_slot s;
	char why[160] = "";
	bool have = false, dropped, expected;
	int idx, ret;

	pthread_mutex_lock(&f->lock);
	f->inside++;
	dropped = f->dropped;
	if (!dropped && f->head[op] < f->tail[op]) {
		s = f->q[op][f->head[op]];
		have = fpeer_matches(&s, dom, ret_arg, why, sizeof(why));
		if (have)
			f->head[op]++;
	} else if (!dropped) {
		snprintf(why, sizeof(why), "no %s expected", fpeer_op_name(op));
	}
	expected = dropped || have;
	if (have && s.e.result == FPEER_DROP)
		f->dropped = true;
	idx = f->ncalls++;
	if (idx < FPEER_MAX_CALLS) {
		struct fpeer_call *c = &f->calls[idx];

		memset(c, 0, sizeof(*c));
		c->op = op;
		snprintf(c->dom, sizeof(c->dom), "%s", dom);
		c->ret_arg = ret_arg;
		c->expected = expected;
	}
	pthread_mutex_unlock(&f->lock);

	if (!expected)
		fpeer_fail(f, "fake-peer:unexpected", "%s(%s, ret %d): %s", fpeer_op_name(op), dom, ret_arg, why);
	fpeer_sync_called(op);
	pthread_mutex_lock(&f->lock);
	if (have && s.e.hold)
		fpeer_hold_locked(f, op);
	pthread_mutex_unlock(&f->lock);

	if (!expected) {
		snprintf(err, errlen, "fake-peer: unexpected %s: %s", fpeer_op_name(op), why);
		ret = -EPROTO;
	} else if (dropped || s.e.result == FPEER_DROP) {
		ret = -ECONNRESET;
		snprintf(err, errlen, "fake-peer: the connection to the peer dropped");
	} else if (s.e.result == FPEER_ERROR) {
		ret = fpeer_error(&s, s.e.err, err, errlen);
	} else {
		ret = 0;
		if (op == FPEER_PREPARE)
			snprintf(uri, urilen, "%s", s.uri);
	}
	fpeer_sync_before_reply(op);

	pthread_mutex_lock(&f->lock);
	if (idx < FPEER_MAX_CALLS) {
		f->calls[idx].returned = ret;
		if (ret == 0 && op == FPEER_PREPARE)
			snprintf(f->calls[idx].uri, sizeof(f->calls[idx].uri), "%s", uri);
	}
	f->inside--;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static int fpeer_prepare(void *opaque, const char *dom, char *uri, size_t urilen, char *err, size_t errlen)
{
	return fpeer_call_op(opaque, FPEER_PREPARE, dom, 0, uri, urilen, err, errlen);
}

static int fpeer_finish(void *opaque, const char *dom, int ret, char *err, size_t errlen)
{
	return fpeer_call_op(opaque, FPEER_FINISH, dom, ret, NULL, 0, err, errlen);
}

static int fpeer_confirm(void *opaque, const char *dom, int ret, char *err, size_t errlen)
{
	return fpeer_call_op(opaque, FPEER_CONFIRM, dom, ret, NULL, 0, err, errlen);
}

static const struct mgmt_remote_ops fpeer_ops = {
	.prepare = fpeer_prepare,
	.finish = fpeer_finish,
	.confirm = fpeer_confirm,
};

/* ---- the API ---------------------------------------------------------------------- */

struct fpeer *fpeer_new(void)
{
	struct fpeer *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->fail = fpeer_default_fail;
	return f;
}

void fpeer_set_fail_handler(struct fpeer *f, fpeer_fail_fn fn, void *opaque)
{
	f->fail = fn ? fn : fpeer_default_fail;
	f->fail_opaque = fn ? opaque : NULL;
}

int fpeer_expect(struct fpeer *f, const struct fpeer_expect *e)
{
	struct fpeer_slot s = { .e = *e };

	if ((unsigned)e->op >= FPEER_NOPS || (unsigned)e->result > FPEER_DROP ||
	    (unsigned)e->want_ret > FPEER_RET_NONZERO || (e->result == FPEER_ERROR && e->err <= 0))
		return -EINVAL;
	s.has_dom = e->dom != NULL;
	s.has_msg = e->msg != NULL;
	snprintf(s.dom, sizeof(s.dom), "%s", e->dom ? e->dom : "");
	snprintf(s.uri, sizeof(s.uri), "%s", e->uri ? e->uri : "");
	snprintf(s.msg, sizeof(s.msg), "%s", e->msg ? e->msg : "");
	s.e.dom = s.e.uri = s.e.msg = NULL;	/* the copies above are used */
	pthread_mutex_lock(&f->lock);
	int ret = f->tail[e->op] == FPEER_MAX_EXPECT ? -ENOSPC : 0;
	if (ret == 0)
		f->q[e->op][f->tail[e->op]++] = s;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

struct mgmt_remote fpeer_remote(struct fpeer *f)
{
	return (struct mgmt_remote){ .ops = &fpeer_ops, .opaque = f };
}

void fpeer_release(struct fpeer *f, enum fpeer_op op)
{
	pthread_mutex_lock(&f->lock);
	f->releases[op]++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

int fpeer_wait_held(struct fpeer *f, enum fpeer_op op, int timeout_ms)
{
	struct timespec d = fake_deadline_after_ms(timeout_ms);
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	while (!f->held[op] && ret == 0)
		ret = pthread_cond_timedwait(&f->cond, &f->lock, &d);
	ret = f->held[op] ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

int fpeer_ncalls(struct fpeer *f)
{
	pthread_mutex_lock(&f->lock);
	int n = f->ncalls;
	pthread_mutex_unlock(&f->lock);
	return n;
}

int fpeer_call(struct fpeer *f, int i, struct fpeer_call *out)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&f->lock);
	if (i >= 0 && i < f->ncalls && i < FPEER_MAX_CALLS) {
		*out = f->calls[i];
		ret = 0;
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

int fpeer_pending(struct fpeer *f, enum fpeer_op op)
{
	pthread_mutex_lock(&f->lock);
	int n = f->tail[op] - f->head[op];
	pthread_mutex_unlock(&f->lock);
	return n;
}

bool fpeer_dropped(struct fpeer *f)
{
	pthread_mutex_lock(&f->lock);
	bool d = f->dropped;
	pthread_mutex_unlock(&f->lock);
	return d;
}

int fpeer_verify(struct fpeer *f)
{
	char msg[192] = "";
	int left = 0, len = 0;

	pthread_mutex_lock(&f->lock);
	for (int op = 0; op < FPEER_NOPS; op++) {
		int n = f->tail[op] - f->head[op];

		if (n > 0 && len < (int)sizeof(msg))
			len += snprintf(msg + len, sizeof(msg) - (size_t)len, "%s%d %s", left ? ", " : "", n,
					fpeer_op_names[op]);
		left += n;
	}
	pthread_mutex_unlock(&f->lock);
	if (left)
		fpeer_fail(f, "fake-peer:unused", "%s expected but never called", msg);
	return left;
}

void fpeer_free(struct fpeer *f)
{
	if (!f)
		return;
	fpeer_verify(f);
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_cond_broadcast(&f->cond);
	while (f->inside > 0)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
