/*
 * A scripted fake remote peer (core/mgmt/remote.h): for each op a FIFO of
 * expected calls, each with a scripted result; strict about the unexpected
 * and about leftovers; every call recorded with its arguments.
 *
 *     struct fpeer *p = fpeer_new();
 *     fpeer_expect(p, &(struct fpeer_expect){ .op = FPEER_PREPARE, .dom = "vm1",
 *                                             .uri = "mem:vm1-mig" });
 *     fpeer_expect(p, &(struct fpeer_expect){ .op = FPEER_FINISH, .want_ret = FPEER_RET_ZERO,
 *                                             .result = FPEER_ERROR, .err = EIO,
 *                                             .msg = "guest crashed", .hold = true });
 *     struct mgmt_remote r = fpeer_remote(p);    (what the mgmt driver calls)
 *     ...
 *     fpeer_free(p);                             (fails "fake-peer:unused" on leftovers)
 *
 * Sync points, passed by the calling thread in every call of op (prepare,
 * finish, confirm): "fpeer:<op>:called" once the call is matched and
 * recorded, "fpeer:<op>:before-reply" just before it returns. A script
 * orders them to delay a reply behind another thread's moment
 * ("mgmt:...:x -> fpeer:finish:before-reply"); `hold` delays it in any build
 * until fpeer_release().
 */
#ifndef FAKES_FAKE_PEER_H
#define FAKES_FAKE_PEER_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/mgmt/remote.h"

enum fpeer_op {
	FPEER_PREPARE,		/* "prepare" */
	FPEER_FINISH,		/* "finish" */
	FPEER_CONFIRM,		/* "confirm" */
	FPEER_NOPS
};

enum fpeer_result {
	FPEER_OK,		/* 0; prepare writes the expectation's uri */
	FPEER_ERROR,		/* -err, with msg in the caller's err buffer */
	FPEER_DROP,		/* the connection drops: -ECONNRESET for this call and
				 * every later one, of any op, expected or not */
};

/* What finish and confirm must be called with (prepare ignores it). */
enum fpeer_want_ret {
	FPEER_ANY_RET,		/* no check */
	FPEER_RET_ZERO,		/* ret == 0: the migration succeeded so far */
	FPEER_RET_NONZERO,	/* ret != 0: it failed */
};

struct fpeer_expect {
	enum fpeer_op op;
	const char *dom;		/* the domain it must name; NULL: any */
	enum fpeer_want_ret want_ret;	/* finish, confirm */
	enum fpeer_result result;
	const char *uri;		/* FPEER_OK of prepare: written to uri (NULL: "") */
	int err;			/* FPEER_ERROR: the positive errno */
	const char *msg;		/* FPEER_ERROR: the message (NULL: strerror) */
	bool hold;			/* block after "called" until fpeer_release(op) */
};

#define FPEER_MAX_EXPECT 32		/* per op */
#define FPEER_MAX_CALLS 64		/* recorded; later calls are counted only */

/* One call, as recorded. */
struct fpeer_call {
	enum fpeer_op op;
	char dom[64];
	int ret_arg;			/* finish, confirm: the ret argument; prepare: 0 */
	int returned;			/* what the call returned */
	char uri[128];			/* prepare's uri on success */
	bool expected;			/* it matched an expectation (or came after a drop) */
};

struct fpeer;

/*
 * Called for a broken expectation: name is "fake-peer:unexpected" (a call
 * with no or another expectation at the front of its op's FIFO; the call
 * then returns -EPROTO) or "fake-peer:unused" (expectations left at
 * fpeer_verify or fpeer_free); msg says which. The default is
 * MIGRACE_INVARIANT(name, msg) in a program linked with the harness
 * runtime, and otherwise prints and aborts. Called without the fake's lock,
 * in the thread that found it.
 */
typedef void (*fpeer_fail_fn)(void *opaque, const char *name, const char *msg);

struct fpeer *fpeer_new(void);
/* Replace the failure handler (NULL: back to the default). Before any call. */
void fpeer_set_fail_handler(struct fpeer *f, fpeer_fail_fn fn, void *opaque);
/* Append e to its op's FIFO (strings are copied). 0, -EINVAL or -ENOSPC. Any thread. */
int fpeer_expect(struct fpeer *f, const struct fpeer_expect *e);
/* The remote the management layer calls; valid until fpeer_free. */
struct mgmt_remote fpeer_remote(struct fpeer *f);

/* Let one held call of op (in progress, or the next one) go on. Any thread. */
void fpeer_release(struct fpeer *f, enum fpeer_op op);
/* Until a call of op is held (0), or timeout_ms passed (-ETIMEDOUT). Any thread. */
int fpeer_wait_held(struct fpeer *f, enum fpeer_op op, int timeout_ms);

/* Calls so far (all of them, also beyond FPEER_MAX_CALLS). Any thread. */
int fpeer_ncalls(struct fpeer *f);
/* Copy of recorded call i: 0, or -ENOENT. Any thread. */
int fpeer_call(struct fpeer *f, int i, struct fpeer_call *out);
/* Expectations of op not consumed yet. Any thread. */
int fpeer_pending(struct fpeer *f, enum fpeer_op op);
/* Whether a FPEER_DROP happened. Any thread. */
bool fpeer_dropped(struct fpeer *f);

/* Every expectation used? 0, or the count left (after calling the handler
 * with "fake-peer:unused"). Any thread. */
int fpeer_verify(struct fpeer *f);
/* fpeer_verify, wake held calls and wait until no call is inside, then
 * free. NULL is a no-op. */
void fpeer_free(struct fpeer *f);

const char *fpeer_op_name(enum fpeer_op op);

#endif
