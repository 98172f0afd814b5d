/*
 * A fake QEMU monitor for the management core's tests and scenarios
 * (libvirt's qemumonitortestutils, libvirt-races.md §4.1 and §6.2): it serves
 * core/migration/monproto.h on the far end of a channel, with a thread of its
 * own, from a strict FIFO script:
 *   - an expected command (name, optional argument checks) and what to do:
 *     reply (with fields), error reply, close instead of replying (EOF now),
 *     or half a reply line and then close;
 *   - events, in band and ordered: before a command's reply, or as items of
 *     their own, sent as soon as the script reaches them;
 *   - a close, run when the script reaches it.
 * STRICT: a command that is not the next expected one fails the run at once
 * (`fake-monitor:unexpected`), expectations left at fmon_free() fail it too
 * (`fake-monitor:unused`), both through the invariant handler of
 * core/mgmt/invariants.h (the harness's invariant failure by default).
 * Delivery under scheduler control: before every reply the fake's thread
 * passes the sync point "fmon:<command>:before-reply" (see fmon_reply_point()),
 * before a scripted event "fmon:event:before-send", before a scripted close
 * "fmon:close:before-close", so a script can hold any of them.
 */
#ifndef FAKES_FAKE_MONITOR_H
#define FAKES_FAKE_MONITOR_H

#include <stdbool.h>

#include "channel.h"
#include "domain.h"

#define FMON_MAX_ITEMS 32
#define FMON_MAX_RECORD 64

struct fmon;

/* A new fake with an empty script, named for messages. NULL on ENOMEM. */
struct fmon *fmon_new(const char *name);

/*
 * Script items, appended in order; the script must be complete before
 * fmon_start(). `fields` are "key=value" pairs separated by ',' (NULL: none);
 * `args` checks the command's arguments the same way (only the keys given).
 * Each returns 0, or -ENOSPC past FMON_MAX_ITEMS / -EINVAL for bad fields.
 */
int fmon_expect(struct fmon *f, const char *cmd, const char *args, const char *reply);
int fmon_expect_error(struct fmon *f, const char *cmd, const char *args, const char *cls, const char *desc);
/* The command is answered by closing the connection (QEMU died). */
int fmon_expect_eof(struct fmon *f, const char *cmd, const char *args);
/* Half of the reply line is written, then the connection closes. */
int fmon_expect_half_reply(struct fmon *f, const char *cmd, const char *args, const char *reply);
/*
 * A standing answer: cmd (with no argument check) is answered with reply
 * whenever it arrives and is not the next expected command; it is never
 * "unused". For commands whose order against the script is not fixed (a
 * concurrent query). At most FMON_MAX_ALLOWED.
 */
#define FMON_MAX_ALLOWED 4
int fmon_allow(struct fmon *f, const char *cmd, const char *reply);
/* An event sent just before the reply of the last expected command. */
int fmon_event_before_reply(struct fmon *f, const char *event, const char *fields);
/* An event item: sent once every item before it was done. */
int fmon_event(struct fmon *f, const char *event, const char *fields);
/* A close item: EOF once every item before it was done. */
int fmon_close(struct fmon *f);

/* Serve the channel (the fake takes a reference) in the fake's thread. 0 or -errno. */
int fmon_start(struct fmon *f, struct channel *ch);
/* Send an event now, out of script, from any thread. 0 or -errno. */
int fmon_send_event(struct fmon *f, const char *event, const char *fields);
/* SIGKILL: shut the connection down now (never blocks); any thread. */
void fmon_kill(struct fmon *f);

/* What it received so far (any thread; copies under the fake's lock). */
int fmon_nreceived(struct fmon *f);
/* The i-th command's name into buf; false if there is none. */
bool fmon_received(struct fmon *f, int i, char *buf, size_t len);
/* Script items not done yet. */
int fmon_unused(struct fmon *f);
/* Commands that did not match the script (with a handler that returns). */
int fmon_unexpected(struct fmon *f);
/* Was it killed? */
bool fmon_killed(struct fmon *f);

/*
 * Shut the connection down, join the thread, report unused script items
 * (fake-monitor:unused, once per fake), free. NULL is a no-op.
 */
void fmon_free(struct fmon *f);

/* The sync point passed before replying to cmd (a string literal). */
const char *fmon_reply_point(const char *cmd);

/*
 * A fake "QEMU" for a driver: struct mgmt_qemu_ops whose start connects the
 * next fake registered for the domain's name (in the order of registration:
 * a restarted domain gets a new QEMU instance, a fake of its own) over an
 * in-memory channel pair, and whose kill is fmon_kill of the one started
 * last (the running instance). Register every fake before its start; a start
 * with none left fails with -EBUSY. Its fields change under the domain's lock.
 */
#define FMON_QEMU_MAX 8
struct fmon_qemu {
	int n;
	char names[FMON_QEMU_MAX][MGMT_NAME_MAX];
	struct fmon *mons[FMON_QEMU_MAX];
	bool incoming[FMON_QEMU_MAX];	/* how it was started */
	bool started[FMON_QEMU_MAX];
};
extern const struct mgmt_qemu_ops fmon_qemu_ops;
/* Register f as the next QEMU of domain name (the caller keeps f). 0 or -ENOSPC. */
int fmon_qemu_add(struct fmon_qemu *q, const char *name, struct fmon *f);

#endif
