/*
 * The source side of a migration: MigrationState, its lifetime, the state
 * machine, the QMP-like commands, the migration thread and the return-path
 * thread. Every race of qemu-races.md §2-§7 exists here only in its fixed form.
 */
#ifndef CORE_MIGRATION_H
#define CORE_MIGRATION_H

#include <stdbool.h>
#include <stdint.h>

#include "multifd.h"
#include "object.h"
#include "qemu_file.h"
#include "ram.h"
#include "thread.h"
#include "device.h"
#include "vm.h"

#define MIGRATION_YANK_INSTANCE "migration"

typedef enum MigrationStatus {
	MIGRATION_STATUS_NONE,       /* no migration yet */
	MIGRATION_STATUS_SETUP,      /* channel connected, threads starting */
	MIGRATION_STATUS_ACTIVE,     /* iterating over dirty RAM, guest running */
	MIGRATION_STATUS_DEVICE,     /* guest stopped, sending the rest */
	MIGRATION_STATUS_COMPLETED,  /* the destination confirmed */
	MIGRATION_STATUS_FAILED,     /* an error ended it; guest running on the source */
	MIGRATION_STATUS_CANCELLING, /* migrate_cancel asked, threads winding down */
	MIGRATION_STATUS_CANCELLED,  /* cancelled; guest running on the source */
	MIGRATION_STATUS_POSTCOPY_ACTIVE, /* the guest runs on the destination, which asks
				      * for missing pages; the rest goes in the background */
	MIGRATION_STATUS_POSTCOPY_PAUSED, /* a channel failed in postcopy: the migration
				      * thread waits for `migrate resume`; the guest
				      * still runs on the destination */
	MIGRATION_STATUS_POSTCOPY_RECOVER, /* resuming on a new channel: the new return
				      * path brings the destination's missing pages */
	MIGRATION_STATUS_COUNT
} MigrationStatus;

struct mig_params {
	bool return_path;            /* open the return path (capability "return-path") */
	int multifd_channels;        /* 0: off; else pages go over this many more channels */
	uint64_t max_bandwidth;      /* bytes per second, 0: unlimited */
	uint64_t downtime_limit_ms;  /* complete when the rest fits in this */
	unsigned max_iterations;     /* complete after this many passes anyway (0: 30) */
	const char *cpr_uri;         /* mode cpr-transfer when set: RAM and device handles
				      * go to the target over this channel first */
	bool postcopy;               /* capability postcopy-ram: migrate-start-postcopy may
				      * switch (needs the return path; not with multifd or cpr) */
	bool resume;                 /* resume a paused postcopy on uri (the other fields
				      * are the paused migration's, ignored here) */
};

struct mig_info {
	MigrationStatus status;
	uint64_t iterations, pages_sent, bytes_sent, dirty_pages, pongs, acks;
	uint64_t page_requests, requested_pages_sent, postcopy_pauses;  /* postcopy */
	int error;                   /* 0 or -errno, the first error */
	char error_desc[128];
	bool outcome_unknown;        /* failed after the end of the stream went out with no
				      * answer from the destination (the return path broke
				      * before its SHUT, or an error from another thread
				      * came while the final part was written): the guest
				      * may run there, so it stays stopped here (a
				      * management layer decides) */
};

typedef struct MigrationState {
	struct object obj;           /* refs: global_migration's, the migration thread's, one per BH */
	_Atomic int state;           /* MigrationStatus: only migrate_set_state() changes it */
	struct mig_params params;    /* set by qmp_migrate in the main thread before the threads start */
	struct vm *vm;               /* the guest; runstate changes under the BQL */
	struct guest_ram *ram;
	struct vdev *dev;            /* the device handed over in cpr-transfer, or NULL */

	QemuMutex qemu_file_lock;    /* protects the two file pointers below; nothing blocks under it */
	QEMUFile *to_dst_file;       /* qemu_file_lock; set by qmp_migrate, released by cleanup */
	struct channel *channel;     /* the channel both files share: the main thread's, but
				      * in postcopy the migration thread releases it when it
				      * pauses (before the state says paused), and a resume
				      * (main thread, in state paused) sets the new one */

	struct {
		QEMUFile *from_dst_file;  /* qemu_file_lock; only cleanup clears it */
		QemuThread rp_thread;
		bool rp_thread_created;   /* set by qmp_migrate before the migration thread exists;
					   * cleared by the joiner: the migration thread at
					   * completion, or cleanup after joining that thread */
		_Atomic bool error;       /* the rp thread saw a protocol or channel error */
		_Atomic int shut_status;  /* RP_SHUT's status, -1 before it came */
		_Atomic uint64_t pongs, acks;
	} rp_state;

	struct multifd_send *multifd; /* main thread: set by qmp_migrate before the migration
				       * thread exists, freed by cleanup after joining it */

	QemuThread thread;
	bool thread_created;         /* main thread only: set at creation, cleared at join */

	QemuMutex error_mutex;
	int error;                   /* error_mutex: first error wins */
	char error_desc[128];        /* error_mutex */

	bool cleanup_pending;        /* BQL: the cleanup BH is scheduled and has not finished;
				      * a new migration waits for it (-EBUSY) */
	RunState vm_old_state;       /* the runstate before the migration stopped the guest */
	_Atomic bool outcome_unknown; /* set by the migration thread before its finish,
				      * cleared by qmp_migrate: see mig_info */
	bool vm_stopped;             /* BQL: the migration stopped the guest and owes a resume */

	unsigned long *bitmap;       /* pages still to send: the migration thread's; in
				      * postcopy also the request handler's, under bitmap_mutex */
	QemuMutex bitmap_mutex;
	struct {
		_Atomic bool requested;          /* migrate-start-postcopy came (main thread sets) */
		char uri[256];                   /* where the postcopy channel connects; set by
						  * qmp_migrate before the migration thread exists */
		struct channel *channel;         /* the postcopy channel: set by the migration
						  * thread at the switch, released by cleanup */
		QEMUFile *_Atomic file;          /* its output: the magic by the migration
						  * thread, then the requested pages by the
						  * return-path thread, under write_lock */
		QemuMutex write_lock;            /* one writer of file at a time */
		_Atomic uint64_t requests, sent; /* RP_REQ_PAGE received; pages sent for them */
		QemuSemaphore resume_sem;        /* posted by a resume (state recover) or by
						  * shutdown (state still paused) */
		QemuSemaphore bitmap_sem;        /* posted once per recovery by the return path:
						  * the bitmap is in (RP_RESUME_ACK) or it failed */
		_Atomic bool awaiting_bitmap;    /* the migration thread waits on bitmap_sem */
		_Atomic uint64_t pauses;         /* times postcopy paused */
		_Atomic bool shut_down;          /* migration_shutdown came: a later pause
						  * fails instead of waiting for a resume */
		bool paused_without_channel;     /* a pause released the channel (the yank
						  * instance stays): the migration thread sets
						  * it before the state says paused; a resume
						  * or cleanup (main thread) clears it */
	} postcopy;
	_Atomic uint64_t iterations, pages_sent, bytes_sent, dirty_pages;
} MigrationState;

/* Lifetime (main thread). init creates the object, owned by global_migration;
 * shutdown cancels a running migration and drops that reference. The object
 * lives on while a migration thread or a scheduled BH holds a reference. */
void migration_object_init(struct vm *vm, struct guest_ram *ram);
/* The device whose ownership cpr-transfer hands to the target (main thread,
 * before qmp_migrate); the source must own it. */
void migration_set_device(struct vdev *dev);
void migration_shutdown(void);
/* The object for migration-internal callers that know it is alive (they hold
 * a reference, or run before shutdown); NULL after finalize. */
MigrationState *migrate_get_current(void);

/* Every state change, as one compare-and-swap; false if the state was not
 * `old`. An invalid transition aborts. */
bool migrate_set_state(MigrationState *s, MigrationStatus old, MigrationStatus new_state);
const char *migration_status_name(MigrationStatus st);

/*
 * Called as cb(opaque, old, new_state) after each successful
 * migrate_set_state, in the thread that made the change and under the locks
 * it holds (the BQL or none), in the order of the changes: cb must not take
 * the BQL, change the state or (un)register. Register before a migration
 * starts (a notifier added meanwhile may miss changes in flight); once
 * remove returns, cb is not running and is not called again. Any thread.
 * add returns 0 or -ENOSPC (4 notifiers at most).
 */
typedef void (*MigrationStateNotifier)(void *opaque, MigrationStatus old, MigrationStatus new_state);
int migration_add_state_notifier(MigrationStateNotifier cb, void *opaque);
void migration_remove_state_notifier(MigrationStateNotifier cb, void *opaque);

/* QMP-like commands: main thread, BQL held. qmp_migrate returns -EBUSY while
 * a migration runs or its cleanup has not run yet. In cpr-transfer mode
 * (params->cpr_uri), qmp_migrate stops the guest, releases the device, sends
 * the RAM and device handles and waits until the target took them (it closes
 * the cpr channel), before it connects the main channel; on any failure the
 * guest resumes exactly once, and only if the source could take the device
 * back. migrate_cancel is refused with
 * -EBUSY once the guest is stopped for the final pass (state device): from
 * then on only the stream decides, so the guest can never end up running on
 * both sides. */
int qmp_migrate(const char *uri, const struct mig_params *params);
int qmp_migrate_cancel(void);
int qmp_query_migrate(struct mig_info *info);
int qmp_yank_migration(void);
/* Switch to postcopy at the migration thread's next page: the guest stops
 * here and runs on the destination, which requests the pages it misses.
 * -EINVAL unless a migration with params.postcopy is in setup or active. */
int qmp_migrate_start_postcopy(void);
/* migrate-pause: in postcopy-active, shut the main channel down (both ways),
 * as a network failure would: both sides pause, the guest runs on. -EINVAL
 * in any other state. Any thread (QEMU's OOB command). */
int qmp_migrate_pause(void);

/* Exported helpers: safe from any thread at any time, before, during and
 * after migration_shutdown() (they find no object and do nothing). */
bool migration_is_active(void);
bool migration_is_running(void);
void migration_file_set_error(int err);
bool migration_thread_is_self(void);

/* Runs cb(opaque) in the main loop, holding a reference on the migration
 * object until it ran (fixed form of QEMU fd392cfa8e6f). */
void migration_bh_schedule(void (*cb)(void *), void *opaque);

#endif
