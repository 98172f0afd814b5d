/*
 * The monitor client (libvirt's qemuMonitor): one connection to a domain's
 * "QEMU" speaking core/migration/monproto.h over a struct channel. A mutex,
 * an atomic reference count, a condition variable and ONE message in
 * flight. An event thread per monitor (libvirt's per-VM event thread) reads
 * the lines: a reply completes the message in flight and wakes its sender;
 * an event goes to the owner's callbacks with the monitor lock dropped
 * (ref, unlock, call, lock, unref). After EOF every command fails at once.
 */
#ifndef CORE_MGMT_MONITOR_H
#define CORE_MGMT_MONITOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "channel.h"
#include "monproto.h"
#include "thread.h"

struct mgmt_monitor;

/*
 * The owner's callbacks, called on the event thread without the monitor
 * lock (the event thread holds a reference across the call).
 *   eof:     the connection ended (EOF or a read error); called once, last.
 *   event:   any other event (SHUTDOWN, STOP, RESUME, MIGRATION, ...).
 *   release: the monitor is being freed; drop what opaque holds (may be NULL).
 */
struct mgmt_monitor_cb {
	void (*eof)(struct mgmt_monitor *mon, void *opaque);
	void (*event)(struct mgmt_monitor *mon, const struct mon_msg *evt, void *opaque);
	void (*release)(void *opaque);
};

/*
 * Open a monitor on ch (it takes its own reference) and start its event
 * thread, which holds a monitor reference until it exits. Returns the
 * monitor with one reference for the caller, or NULL with the error in the
 * thread's last error (fault point core/mgmt/thread-create).
 */
struct mgmt_monitor *mgmt_monitor_open(struct channel *ch, const char *name,
				       const struct mgmt_monitor_cb *cb, void *opaque);

void mgmt_monitor_lock(struct mgmt_monitor *mon);
void mgmt_monitor_unlock(struct mgmt_monitor *mon);
void mgmt_monitor_ref(struct mgmt_monitor *mon);
/*
 * Drop a reference. The last one frees the monitor (and calls the release
 * callback); it never blocks: the event thread holds its own reference until
 * it stops touching the monitor, and is joined later by mgmt_monitor_reap().
 */
void mgmt_monitor_unref(struct mgmt_monitor *mon);
int mgmt_monitor_ref_count(struct mgmt_monitor *mon);
/* Join the event threads of every monitor closed or freed so far (process-wide). No
 * lock held (checked: blocking-under-lock). mgmt_driver_destroy() calls it. */
void mgmt_monitor_reap(void);
/* The transit counter the invariant checker uses for this monitor. */
atomic_int *mgmt_monitor_transit(struct mgmt_monitor *mon);

/*
 * Send cmd (its id is assigned here) and wait for its reply; monitor lock
 * held (it is released while waiting). 0 with the reply in *reply (may be
 * NULL); -EIO if QEMU answered with an error (desc in the last error);
 * -ECONNRESET "domain is no longer running" if the monitor saw EOF, was
 * closed, or sees it while waiting; -EBUSY if another message is in flight
 * (a caller without the job discipline).
 */
int mgmt_monitor_send_locked(struct mgmt_monitor *mon, struct mon_msg *cmd, struct mon_msg *reply);

/*
 * Stop watching the connection (libvirt's qemuMonitorUnregister): later
 * lines are read and dropped, no more callbacks. Monitor lock held.
 */
void mgmt_monitor_unregister_locked(struct mgmt_monitor *mon);
/*
 * Close (process stop): mark closed, fail the message in flight, shut the
 * channel down so the event thread ends. Never blocks on I/O; takes the
 * monitor lock (rank monitor: the domain lock may be held).
 */
void mgmt_monitor_close(struct mgmt_monitor *mon);

/* State, for tests and the EOF path. Monitor lock held. */
bool mgmt_monitor_eof_locked(const struct mgmt_monitor *mon);
const char *mgmt_monitor_last_error_locked(const struct mgmt_monitor *mon);

#endif
