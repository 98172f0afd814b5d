/*
 * The destination side of migration: a load thread that reads the stream of
 * wire.h into guest RAM, answers on the return path, and starts the guest
 * only once the whole stream has arrived.
 */
#ifndef CORE_INCOMING_H
#define CORE_INCOMING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "multifd.h"
#include "postcopy_ram.h"
#include "qemu_file.h"
#include "ram.h"
#include "thread.h"
#include "vm.h"
#include "wire.h"

/* The yank instance of the incoming migration: one per process at a time. */
#define MIG_INCOMING_YANK_INSTANCE "migration-incoming"

/*
 * Valid transitions, all through one compare-and-swap setter:
 *
 *   none   -> active     mig_incoming_start
 *   active -> completed  the load thread, at SEC_EOF
 *   active -> failed     the load thread on an error, or start failing
 *   active -> postcopy-active     the load thread, at SEC_POSTCOPY_RUN
 *   postcopy-active -> completed  the load thread, at SEC_EOF once no
 *                                 requested page is in flight
 *   postcopy-active -> failed     the load thread on an error
 *   postcopy-active -> postcopy-paused   the load thread, when the stream
 *                                 fails (the guest runs on; vCPUs that need
 *                                 a missing page wait)
 *   postcopy-paused -> postcopy-recover  the load thread, given a new channel
 *                                 by mig_incoming_recover
 *   postcopy-recover -> postcopy-active  the load thread, after
 *                                 SEC_POSTCOPY_RESUME and its answer
 *   postcopy-recover -> postcopy-paused  the new channel failed too
 *   postcopy-paused, postcopy-recover -> failed   cancel, or an error
 *
 * completed and failed are final.
 */
enum mig_incoming_state {
	MIG_INCOMING_NONE,		/* initialized, not started */
	MIG_INCOMING_ACTIVE,		/* started: the load thread reads the stream */
	MIG_INCOMING_COMPLETED,		/* the whole stream loaded; the load thread
					 * answers RP_SHUT 0 and starts the guest */
	MIG_INCOMING_FAILED,		/* an error was recorded; the guest is not started
					 * (or, after postcopy-active, runs with what it has) */
	MIG_INCOMING_POSTCOPY_ACTIVE,	/* the guest runs here; missing pages come on
					 * demand over the postcopy channel */
	MIG_INCOMING_POSTCOPY_PAUSED,	/* the stream failed in postcopy: waiting for
					 * mig_incoming_recover; the guest runs on */
	MIG_INCOMING_POSTCOPY_RECOVER,	/* a new channel: the source resumes on it */
};

/*
 * Threads: the owner (whoever calls init, start, wait and cleanup, one thread
 * at a time), the load thread "mig/dst/main", and any thread calling
 * mig_incoming_cancel, yank_do or the accessors.
 *
 * Locks: file_lock and error_mutex are short, never held across anything
 * that blocks, and never nested (the cancel and yank paths take them from
 * other threads). The yank lock is never taken under file_lock.
 */
struct mig_incoming {
	struct vm *vm;			/* set by init, not owned; vm_start by the load
					 * thread only, after the stream completed */
	struct guest_ram *ram;		/* set by init, not owned; written by the load
					 * thread only (ram_write_page) */

	QemuMutex file_lock;		/* protects the three pointers below and
					 * cancelled, against cancel and cleanup */
	struct channel *channel;	/* file_lock to set or clear (start, cleanup),
					 * or to use from another thread (cancel); one
					 * reference held from start to cleanup */
	struct channel_listener *listener;	/* set before start; the caller's: multifd
						 * channels are accepted on it */
	struct multifd_recv *multifd;		/* written under file_lock, only by the load
						 * thread (SEC_MULTIFD_SETUP, then the end),
						 * which also reads it without the lock */
	QEMUFile *from_src_file;	/* the stream; file_lock as channel. Read
					 * only by the load thread, which uses it
					 * without the lock: set before the thread is
					 * created, cleared only after it was joined */
	QEMUFile *to_src_file;		/* the return path on the same channel; as
					 * from_src_file, and in postcopy also under
					 * rp_mutex (the faulting vCPUs write on it;
					 * a pause clears it, a recovery sets it) */
	bool cancelled;			/* file_lock: cancel came; start refuses */

	bool yank_instance;		/* owner: MIG_INCOMING_YANK_INSTANCE registered */
	bool yank_function;		/* owner: yank_channel(channel) registered */

	QemuThread thread;		/* owner: the load thread */
	bool thread_created;		/* owner (the joiner): set by start, cleared
					 * by wait when it joins */

	bool rp_open;			/* load thread only: SEC_OPEN_RETURN_PATH seen,
					 * answers go on to_src_file */

	atomic_int state;		/* enum mig_incoming_state; any thread reads,
					 * changed only by mig_incoming_set_state */

	QemuMutex error_mutex;		/* protects error */
	int error;			/* error_mutex: the first -errno, or 0 */

	_Atomic uint64_t pages_loaded;		/* load thread writes, any thread reads */
	_Atomic uint64_t iterations_acked;	/* SEC_ITER_END answered with RP_ACK,
						 * counted before the answer is sent;
						 * as pages_loaded */
	_Atomic uint64_t loaded_hash;		/* ram_hash() at SEC_EOF, before the guest
						 * started; 0 until then; as pages_loaded */
	_Atomic uint64_t bytes_loaded;		/* bytes read from the channel by the
						 * stream, after each section; as
						 * pages_loaded */

	uint8_t device_state[MIG_DEVICE_STATE_MAX];	/* load thread writes (the last
							 * SEC_DEVICE_STATE); readable by
							 * anyone once state is completed */
	size_t device_state_len;	/* as device_state */

	/* postcopy */
	QemuMutex rp_mutex;		/* serializes the return path's writers: the
					 * load thread and faulting vCPUs (RP_REQ_PAGE) */
	struct postcopy_ram *postcopy;	/* load thread: set at SEC_POSTCOPY_RUN; owned
					 * by the guest's RAM from then on (ram_destroy) */
	struct channel *pc_channel;	/* file_lock as channel: the postcopy channel */
	QEMUFile *pc_file;		/* as pc_channel; read by the postcopy thread only */
	QemuThread pc_thread;		/* "mig/dst/postcopy": places requested pages */
	bool pc_thread_created;		/* load thread: creates and joins it */
	bool pc_stopping;		/* file_lock: the load thread shuts the postcopy
					 * channel down (its thread's end is no failure) */
	_Atomic uint64_t pc_pages;	/* pages placed from the postcopy channel */
	QemuCond recover_cond;		/* with file_lock: a paused load thread waits
					 * for recover_ch or cancelled */
	struct channel *recover_ch;	/* file_lock: the new channel (one reference),
					 * given by mig_incoming_recover */
	struct channel_listener *recover_listener;	/* file_lock: where the new
							 * postcopy channel comes */
	_Atomic uint64_t pauses;	/* times postcopy paused here */
};

/*
 * Prepare inc to load into ram and start vm at the end. vm must be a VM on
 * ram in RUN_STATE_INMIGRATE; neither is owned. Returns 0 or -EINVAL.
 */
int mig_incoming_init(struct mig_incoming *inc, struct vm *vm, struct guest_ram *ram);

/*
 * Take a reference on ch (the caller keeps its own), register the yank
 * instance MIG_INCOMING_YANK_INSTANCE with yank_channel(ch), open the stream
 * and its return path on ch and start the load thread. Returns 0, -EBUSY if
 * already started, -ECANCELED after mig_incoming_cancel, -ENOMEM, or the
 * -errno of the thread creation; on an error the state is failed. Either
 * way mig_incoming_wait and mig_incoming_cleanup follow. Owner only.
 */
int mig_incoming_start(struct mig_incoming *inc, struct channel *ch);
/* Where the multifd channels will come from (before start; the caller keeps
 * and closes the listener after mig_incoming_wait). Without it, a stream
 * announcing multifd fails with -EINVAL. */
void mig_incoming_set_listener(struct mig_incoming *inc, struct channel_listener *l);

/*
 * Recovery of a paused postcopy: ch is the new main channel the source
 * connected (the caller accepted it on l and keeps its own reference); the
 * new postcopy channel will come on l (the caller's, open until
 * mig_incoming_wait). Returns 0, or -EINVAL unless the state is
 * postcopy-paused with no recovery pending. Any thread.
 */
int mig_incoming_recover(struct mig_incoming *inc, struct channel *ch, struct channel_listener *l);
uint64_t mig_incoming_pauses(struct mig_incoming *inc);
/* migrate-pause on the destination: in postcopy-active, shut the stream's
 * channel down as a network failure would (both sides pause). 0, or -EINVAL
 * in another state. Any thread; never blocks. */
int mig_incoming_pause(struct mig_incoming *inc);

/*
 * Join the load thread if it was created. Returns 0 if the migration
 * completed (the guest runs), else the first error (-EINVAL if it was never
 * started). Owner only; may block as long as the stream lasts.
 */
int mig_incoming_wait(struct mig_incoming *inc);

/*
 * From any thread, between init and cleanup: record -ECANCELED (unless the
 * stream already completed) and shut the channel down, which wakes a load
 * thread blocked on it. Before start it makes start fail. Never blocks.
 */
void mig_incoming_cancel(struct mig_incoming *inc);

/*
 * After mig_incoming_wait (aborts if the load thread was not joined):
 * unregister the yank function while the channel is still referenced, then
 * the yank instance, close both files (which closes the channel) outside any
 * lock, drop the channel reference and destroy the locks. Owner only.
 */
void mig_incoming_cleanup(struct mig_incoming *inc);

enum mig_incoming_state mig_incoming_get_state(struct mig_incoming *inc);
const char *mig_incoming_state_name(enum mig_incoming_state state);
/* The first error recorded, or 0. Any thread. */
int mig_incoming_get_error(struct mig_incoming *inc);
/* Counters; any thread, a snapshot while the load runs. */
uint64_t mig_incoming_pages_loaded(struct mig_incoming *inc);
uint64_t mig_incoming_iterations_acked(struct mig_incoming *inc);
uint64_t mig_incoming_bytes_loaded(struct mig_incoming *inc);
/* ram_hash() of the memory as loaded, taken before the guest started; 0 if
 * the migration did not complete. */
uint64_t mig_incoming_loaded_hash(struct mig_incoming *inc);

/*
 * The device state received, once the state is completed: returns the bytes
 * (valid until cleanup) and their count in *len. Before that, or after a
 * failure, NULL with *len = 0. Any thread.
 */
const uint8_t *mig_incoming_device_state(struct mig_incoming *inc, size_t *len);

#endif
