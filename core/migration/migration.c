/*
 * The source side of a migration. Threads: the main thread (commands, the
 * cleanup BH, shutdown; it holds the BQL), the migration thread (setup,
 * iterative precopy, completion) and the return-path thread (reads the
 * destination's answers). See qemu-races.md §1 for the model this follows.
 */
#include "migration.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channel.h"
#include "harness_points.h"
#include "main_loop.h"
#include "wire.h"
#include "yank.h"

/*
 * Two pointers, two lifetimes (the fixed form of the 2024 series):
 * - global_migration holds the initial reference; only the main thread sets
 *   it (migration_object_init) and clears it (migration_shutdown).
 * - current_migration is valid until finalize, which clears it: the
 *   migration thread or a BH may hold the last reference after shutdown.
 * migration_mutex, never destroyed, orders the exported helpers against
 * finalize, so a helper never locks a destroyed mutex.
 */
static MigrationState *global_migration;
static MigrationState *current_migration;      /* migration_mutex */
static pthread_mutex_t migration_mutex = PTHREAD_MUTEX_INITIALIZER;

static const char *const status_names[MIGRATION_STATUS_COUNT] = {
	[MIGRATION_STATUS_NONE] = "none", [MIGRATION_STATUS_SETUP] = "setup",
	[MIGRATION_STATUS_ACTIVE] = "active", [MIGRATION_STATUS_DEVICE] = "device",
	[MIGRATION_STATUS_COMPLETED] = "completed", [MIGRATION_STATUS_FAILED] = "failed",
	[MIGRATION_STATUS_CANCELLING] = "cancelling", [MIGRATION_STATUS_CANCELLED] = "cancelled",
	[MIGRATION_STATUS_POSTCOPY_ACTIVE] = "postcopy-active",
	[MIGRATION_STATUS_POSTCOPY_PAUSED] = "postcopy-paused",
	[MIGRATION_STATUS_POSTCOPY_RECOVER] = "postcopy-recover",
};

const char *migration_status_name(MigrationStatus st)
{
	return (unsigned)st < MIGRATION_STATUS_COUNT ? status_names[st] : "?";
}

/*
 * Valid transitions:
 *   none, completed, failed, cancelled -> setup        (a new migration)
 *   setup      -> active | failed | cancelling
 *   active     -> device | failed | cancelling | postcopy-active
 *   device     -> completed | failed | cancelling
 *   cancelling -> cancelled | failed
 *   postcopy-active  -> completed | failed | postcopy-paused   (never
 *                       cancelled: the guest runs on the destination)
 *   postcopy-paused  -> postcopy-recover (migrate resume) | failed (shutdown)
 *   postcopy-recover -> postcopy-active | postcopy-paused | failed
 */
static bool transition_valid(MigrationStatus old, MigrationStatus new_state)
{
	switch (old) {
	case MIGRATION_STATUS_NONE:
	case MIGRATION_STATUS_COMPLETED:
	case MIGRATION_STATUS_FAILED:
	case MIGRATION_STATUS_CANCELLED:
		return new_state == MIGRATION_STATUS_SETUP;
	case MIGRATION_STATUS_SETUP:
		return new_state == MIGRATION_STATUS_ACTIVE || new_state == MIGRATION_STATUS_FAILED ||
		       new_state == MIGRATION_STATUS_CANCELLING;
	case MIGRATION_STATUS_ACTIVE:
		return new_state == MIGRATION_STATUS_DEVICE || new_state == MIGRATION_STATUS_FAILED ||
		       new_state == MIGRATION_STATUS_CANCELLING || new_state == MIGRATION_STATUS_POSTCOPY_ACTIVE;
	case MIGRATION_STATUS_POSTCOPY_ACTIVE:
		return new_state == MIGRATION_STATUS_COMPLETED || new_state == MIGRATION_STATUS_FAILED ||
		       new_state == MIGRATION_STATUS_POSTCOPY_PAUSED;
	case MIGRATION_STATUS_POSTCOPY_PAUSED:
		return new_state == MIGRATION_STATUS_POSTCOPY_RECOVER || new_state == MIGRATION_STATUS_FAILED;
	case MIGRATION_STATUS_POSTCOPY_RECOVER:
		return new_state == MIGRATION_STATUS_POSTCOPY_ACTIVE || new_state == MIGRATION_STATUS_POSTCOPY_PAUSED ||
		       new_state == MIGRATION_STATUS_FAILED;
	case MIGRATION_STATUS_DEVICE:
		return new_state == MIGRATION_STATUS_COMPLETED || new_state == MIGRATION_STATUS_FAILED ||
		       new_state == MIGRATION_STATUS_CANCELLING;
	case MIGRATION_STATUS_CANCELLING:
		return new_state == MIGRATION_STATUS_CANCELLED || new_state == MIGRATION_STATUS_FAILED;
	default:
		return false;
	}
}

/*
 * State-change notifiers (the monitor's MIGRATION events). With none
 * registered a change is the bare compare-and-swap; with some, the swap and
 * the calls happen under state_notifier_mutex, so they see the changes in
 * the order they were made, and a removed notifier is never running.
 */
#define MIGRATION_STATE_NOTIFIERS_MAX 4
static struct {
	MigrationStateNotifier cb;
	void *opaque;
} state_notifiers[MIGRATION_STATE_NOTIFIERS_MAX];	/* state_notifier_mutex */
static _Atomic int state_notifier_count;		/* changed under state_notifier_mutex */
static pthread_mutex_t state_notifier_mutex = PTHREAD_MUTEX_INITIALIZER;

int migration_add_state_notifier(MigrationStateNotifier cb, void *opaque)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&state_notifier_mutex);
	for (int i = 0; i < MIGRATION_STATE_NOTIFIERS_MAX && ret; i++) {
		if (!state_notifiers[i].cb) {
			state_notifiers[i].cb = cb;
			state_notifiers[i].opaque = opaque;
			atomic_fetch_add(&state_notifier_count, 1);
			ret = 0;
		}
	}
	pthread_mutex_unlock(&state_notifier_mutex);
	return ret;
}

void migration_remove_state_notifier(MigrationStateNotifier cb, void *opaque)
{
	pthread_mutex_lock(&state_notifier_mutex);
	for (int i = 0; i < MIGRATION_STATE_NOTIFIERS_MAX; i++) {
		if (state_notifiers[i].cb == cb && state_notifiers[i].opaque == opaque) {
			state_notifiers[i].cb = NULL;
			atomic_fetch_sub(&state_notifier_count, 1);
			break;
		}
	}
	pthread_mutex_unlock(&state_notifier_mutex);
}

static bool migrate_set_state_notify(MigrationState *s, MigrationStatus old, MigrationStatus new_state)
{
	int expected = old;

	pthread_mutex_lock(&state_notifier_mutex);
	bool changed = atomic_compare_exchange_strong(&s->state, &expected, (int)new_state);
	for (int i = 0; changed && i < MIGRATION_STATE_NOTIFIERS_MAX; i++)
		if (state_notifiers[i].cb)
			state_notifiers[i].cb(state_notifiers[i].opaque, old, new_state);
	pthread_mutex_unlock(&state_notifier_mutex);
	return changed;
}

bool migrate_set_state(MigrationState *s, MigrationStatus old, MigrationStatus new_state)
{
	if (!transition_valid(old, new_state)) {
		fprintf(stderr, "migration: invalid state transition %s -> %s\n", migration_status_name(old),
			migration_status_name(new_state));
		abort();
	}
	int expected = old;
	if (atomic_load(&state_notifier_count) == 0)
		return atomic_compare_exchange_strong(&s->state, &expected, (int)new_state);
	return migrate_set_state_notify(s, old, new_state);
}

static MigrationStatus migration_state(MigrationState *s)
{
	return (MigrationStatus)atomic_load(&s->state);
}

/* ---- errors ----------------------------------------------------------- */

static void migrate_set_error(MigrationState *s, int err, const char *desc)
{
	qemu_mutex_lock(&s->error_mutex);
	if (!s->error) {
		s->error = err < 0 ? err : -err;
		snprintf(s->error_desc, sizeof(s->error_desc), "%s", desc);
	}
	qemu_mutex_unlock(&s->error_mutex);
}

static bool migrate_has_error(MigrationState *s)
{
	qemu_mutex_lock(&s->error_mutex);
	bool has = s->error != 0;
	qemu_mutex_unlock(&s->error_mutex);
	return has;
}

/* ---- lifetime ------------------------------------------------------------ */

static void migration_finalize(struct object *obj)
{
	MigrationState *s = (MigrationState *)obj;

	pthread_mutex_lock(&migration_mutex);
	if (current_migration == s)
		current_migration = NULL;
	pthread_mutex_unlock(&migration_mutex);
	qemu_mutex_destroy(&s->qemu_file_lock);
	qemu_mutex_destroy(&s->error_mutex);
	qemu_mutex_destroy(&s->bitmap_mutex);
	qemu_mutex_destroy(&s->postcopy.write_lock);
	qemu_sem_destroy(&s->postcopy.resume_sem);
	qemu_sem_destroy(&s->postcopy.bitmap_sem);
	bitmap_free(s->bitmap);
	free(s);
	CORE_SYNC_POINT(MIG_FINALIZE_FREED);
}

void migration_object_init(struct vm *vm, struct guest_ram *ram)
{
	MigrationState *s = calloc(1, sizeof(*s));

	if (!s) {
		fprintf(stderr, "migration: out of memory\n");
		abort();
	}
	object_init(&s->obj, "migration", migration_finalize);
	s->vm = vm;
	s->ram = ram;
	qemu_mutex_init(&s->qemu_file_lock);
	qemu_mutex_init(&s->error_mutex);
	qemu_mutex_init(&s->bitmap_mutex);
	qemu_mutex_init(&s->postcopy.write_lock);
	qemu_sem_init(&s->postcopy.resume_sem, 0);
	qemu_sem_init(&s->postcopy.bitmap_sem, 0);
	atomic_store(&s->rp_state.shut_status, -1);
	pthread_mutex_lock(&migration_mutex);
	current_migration = s;
	pthread_mutex_unlock(&migration_mutex);
	global_migration = s;
}

MigrationState *migrate_get_current(void)
{
	pthread_mutex_lock(&migration_mutex);
	MigrationState *s = current_migration;
	pthread_mutex_unlock(&migration_mutex);
	return s;
}

struct bh_call {
	void (*cb)(void *);
	void *opaque;
	MigrationState *s;
};

static void migration_bh_dispatch(void *opaque)
{
	struct bh_call *call = opaque;

	call->cb(call->opaque);
	object_unref(&call->s->obj);
	free(call);
}

void migration_bh_schedule(void (*cb)(void *), void *opaque)
{
	MigrationState *s = migrate_get_current();
	struct bh_call *call = malloc(sizeof(*call));

	if (!s || !call) {
		fprintf(stderr, "migration: cannot schedule a BH without the migration object\n");
		abort();
	}
	*call = (struct bh_call){ cb, opaque, s };
	object_ref(&s->obj);         /* taken before the BH can run: dropped after it ran */
	aio_bh_schedule_oneshot(migration_bh_dispatch, call, "migration-bh");
}

/* ---- exported helpers: safe at any time ------------------------------------ */

bool migration_is_running(void)
{
	bool running = false;
	pthread_mutex_lock(&migration_mutex);
	if (current_migration) {
		MigrationStatus st = migration_state(current_migration);
		running = st == MIGRATION_STATUS_SETUP || st == MIGRATION_STATUS_ACTIVE ||
			  st == MIGRATION_STATUS_DEVICE || st == MIGRATION_STATUS_CANCELLING ||
			  st == MIGRATION_STATUS_POSTCOPY_ACTIVE || st == MIGRATION_STATUS_POSTCOPY_PAUSED ||
			  st == MIGRATION_STATUS_POSTCOPY_RECOVER;
	}
	pthread_mutex_unlock(&migration_mutex);
	return running;
}

bool migration_is_active(void)
{
	bool active = false;
	pthread_mutex_lock(&migration_mutex);
	if (current_migration) {
		MigrationStatus st = migration_state(current_migration);
		active = st == MIGRATION_STATUS_ACTIVE || st == MIGRATION_STATUS_DEVICE ||
			 st == MIGRATION_STATUS_POSTCOPY_ACTIVE;
	}
	pthread_mutex_unlock(&migration_mutex);
	return active;
}

void migration_file_set_error(int err)
{
	CORE_SYNC_POINT(HELPER_FILE_SET_ERROR);
	pthread_mutex_lock(&migration_mutex);
	MigrationState *s = current_migration;
	if (s) {
		WITH_QEMU_LOCK_GUARD(&s->qemu_file_lock) {
			if (s->to_dst_file)
				qemu_file_set_error(s->to_dst_file, err);
		}
	}
	pthread_mutex_unlock(&migration_mutex);
}

/* Set by the migration thread for its own lifetime: no shared state to race on. */
static __thread bool in_migration_thread;

bool migration_thread_is_self(void)
{
	return in_migration_thread;
}

/* ---- the return path ------------------------------------------------------- */

/*
 * The page-request handler (return-path thread, postcopy): page goes out on
 * the postcopy channel if it is still to send; if the main stream took it
 * already, the destination gets it there. Returns 0, or -errno when the
 * request is out of protocol or the postcopy channel failed.
 */
static int postcopy_serve_request(MigrationState *s, uint64_t page)
{
	QEMUFile *pf = atomic_load(&s->postcopy.file);
	uint8_t buf[RAM_PAGE_SIZE];
	bool send = false;

	if (!pf || page >= s->ram->npages)
		return -EPROTO;
	atomic_fetch_add(&s->postcopy.requests, 1);
	WITH_QEMU_LOCK_GUARD(&s->bitmap_mutex) {
		if (bitmap_test(s->bitmap, page)) {
			bitmap_clear(s->bitmap, page);
			send = true;
		}
	}
	if (!send)
		return 0;
	CORE_SYNC_POINT(RP_REQ_PAGE_TAKEN);
	ram_read_page(s->ram, page, buf);
	CORE_SYNC_POINT(RP_REQ_PAGE_BEFORE_SEND);
	qemu_mutex_lock(&s->postcopy.write_lock);
	qemu_put_be64(pf, page);
	qemu_put_buffer(pf, buf, sizeof(buf));
	int ret = qemu_fflush(pf);
	qemu_mutex_unlock(&s->postcopy.write_lock);
	if (ret == 0) {
		atomic_fetch_add(&s->postcopy.sent, 1);
		atomic_fetch_add(&s->pages_sent, 1);
	}
	return ret;
}

/* RP_RECV_BITMAP (return-path thread, recovery): n words of the
 * destination's missing pages become the pages still to send. 0 or -errno. */
static int postcopy_recv_bitmap(MigrationState *s, QEMUFile *rp, size_t n)
{
	uint64_t first = qemu_get_be64(rp);
	size_t nwords = BITMAP_LONGS(s->ram->npages);

	if (qemu_file_get_error(rp) || first > nwords || n > nwords - first)
		return qemu_file_get_error(rp) ? qemu_file_get_error(rp) : -EPROTO;
	for (size_t i = 0; i < n; i++) {
		unsigned long w = (unsigned long)qemu_get_be64(rp);
		WITH_QEMU_LOCK_GUARD(&s->bitmap_mutex) {
			s->bitmap[first + i] = w;
		}
	}
	return qemu_file_get_error(rp);
}

/* The return-path thread reads from_dst_file without the lock: only cleanup
 * clears the pointer, and cleanup joins this thread first. */
static void *source_return_path_thread(void *opaque)
{
	MigrationState *s = opaque;
	QEMUFile *rp = s->rp_state.from_dst_file;

	for (;;) {
		CORE_SYNC_POINT(RP_BEFORE_READ);
		uint16_t type = qemu_get_be16(rp);
		uint16_t len = qemu_get_be16(rp);
		if (qemu_file_get_error(rp))
			break;
		if (type == RP_SHUT && len == 4) {
			uint32_t status = qemu_get_be32(rp);
			if (qemu_file_get_error(rp))
				break;
			atomic_store(&s->rp_state.shut_status, (int)status);
			CORE_SYNC_POINT(RP_GOT_SHUT);
			CORE_SYNC_POINT(RP_EXIT);
			return NULL;
		} else if (type == RP_PONG && len == 4) {
			qemu_get_be32(rp);
			atomic_fetch_add(&s->rp_state.pongs, 1);
		} else if (type == RP_ACK && len == 8) {
			qemu_get_be64(rp);
			atomic_fetch_add(&s->rp_state.acks, 1);
		} else if (type == RP_REQ_PAGE && len == 8) {
			uint64_t page = qemu_get_be64(rp);
			if (qemu_file_get_error(rp) || postcopy_serve_request(s, page))
				break;
		} else if (type == RP_RECV_BITMAP && len >= 8 && (len - 8) % 8 == 0 &&
			   (len - 8) / 8 <= RP_BITMAP_WORDS) {
			if (postcopy_recv_bitmap(s, rp, (len - 8) / 8))
				break;
		} else if (type == RP_RESUME_ACK && len == 4) {
			qemu_get_be32(rp);
			if (qemu_file_get_error(rp))
				break;
			if (atomic_exchange(&s->postcopy.awaiting_bitmap, false))
				qemu_sem_post(&s->postcopy.bitmap_sem);
		} else {
			qemu_file_set_error(rp, -EPROTO);
			break;
		}
	}
	/* the channel failed or the destination spoke nonsense */
	atomic_store(&s->rp_state.error, true);
	if (atomic_exchange(&s->postcopy.awaiting_bitmap, false))
		qemu_sem_post(&s->postcopy.bitmap_sem);   /* a recovery waits: it failed */
	migrate_set_error(s, qemu_file_get_error(rp) ? qemu_file_get_error(rp) : -EPROTO,
			  "return path failed");
	CORE_SYNC_POINT(RP_EXIT);
	return NULL;
}

static int open_return_path_on_source(MigrationState *s)
{
	WITH_QEMU_LOCK_GUARD(&s->qemu_file_lock) {
		s->rp_state.from_dst_file = qemu_file_get_return_path(s->to_dst_file);
	}
	if (!s->rp_state.from_dst_file)
		return -ENOMEM;
	int ret = qemu_thread_try_create(&s->rp_state.rp_thread, "mig/src/rp", source_return_path_thread, s,
					 QEMU_THREAD_JOINABLE);
	if (ret == 0)
		s->rp_state.rp_thread_created = true;
	return ret;
}

/*
 * Joins the return-path thread (main thread, cleanup). If the migration
 * failed, the destination may never send SHUT: shut the file down first so a
 * blocked read returns. The decision is keyed on the migration's error, not
 * on to_dst_file (fixed form of QEMU 22b04245f0d5 and 9425ef3f990a), and this
 * runs before to_dst_file is released.
 */
static void close_return_path_on_source(MigrationState *s)
{
	if (!s->rp_state.rp_thread_created)
		return;
	WITH_QEMU_LOCK_GUARD(&s->qemu_file_lock) {
		if (migrate_has_error(s) && s->rp_state.from_dst_file)
			qemu_file_shutdown(s->rp_state.from_dst_file);
	}
	qemu_thread_join(&s->rp_state.rp_thread);
	s->rp_state.rp_thread_created = false;
}

/* ---- the migration thread ------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What the precopy loops return (> 0) when migrate-start-postcopy came. */
#define MIG_SWITCH_POSTCOPY 1

/* Sends every page set in the bitmap, within the bandwidth limit. Returns 0,
 * -errno, or MIG_SWITCH_POSTCOPY (the page it stopped at is still set). */
static int send_dirty_pages(MigrationState *s, QEMUFile *f, uint8_t *page)
{
	struct guest_ram *ram = s->ram;
	const uint64_t slice_ms = 100;
	uint64_t budget = s->params.max_bandwidth ? s->params.max_bandwidth * slice_ms / 1000 : UINT64_MAX;
	uint64_t spent = 0;
	int64_t slice_start = now_ms();

	for (size_t p = bitmap_find_next(s->bitmap, ram->npages, 0); p < ram->npages;
	     p = bitmap_find_next(s->bitmap, ram->npages, p + 1)) {
		MigrationStatus st = migration_state(s);
		if (st == MIGRATION_STATUS_CANCELLING || st == MIGRATION_STATUS_FAILED)
			return -ECANCELED;
		if (st == MIGRATION_STATUS_ACTIVE && atomic_load(&s->postcopy.requested))
			return MIG_SWITCH_POSTCOPY;
		bitmap_clear(s->bitmap, p);
		if (s->multifd) {
			int ret = multifd_queue_page(s->multifd, p);
			if (ret)
				return ret;
		} else {
			ram_read_page(ram, p, page);
			qemu_put_byte(f, SEC_RAM_PAGE);
			qemu_put_be64(f, p);
			qemu_put_buffer(f, page, ram->page_size);
		}
		atomic_fetch_add(&s->pages_sent, 1);
		spent += ram->page_size + 9;
		if (spent >= budget) {
			int ret = qemu_fflush(f);
			if (ret)
				return ret;
			int64_t left = (int64_t)slice_ms - (now_ms() - slice_start);
			if (left > 0) {
				struct timespec ts = { left / 1000, (left % 1000) * 1000000L };
				nanosleep(&ts, NULL);
			}
			slice_start = now_ms();
			spent = 0;
		}
		if (qemu_file_get_error(f))
			return qemu_file_get_error(f);
	}
	return qemu_file_get_error(f);
}

/* With multifd: every page queued so far reaches the destination before
 * anything that follows on the main stream. */
static int multifd_sync_main(MigrationState *s, QEMUFile *f, uint64_t generation)
{
	if (!s->multifd)
		return 0;
	int ret = multifd_send_sync(s->multifd, generation);
	if (ret)
		return ret;
	qemu_put_byte(f, SEC_MULTIFD_SYNC);
	qemu_put_be64(f, generation);
	return 0;
}

/* Stops the guest, once per migration; remembers how to resume it. BQL held. */
static void migration_stop_vm_locked(MigrationState *s)
{
	if (s->vm_stopped)
		return;
	s->vm_old_state = runstate_get(s->vm);
	vm_stop(s->vm, RUN_STATE_FINISH_MIGRATE);
	s->vm_stopped = true;
}

static void migration_stop_vm(MigrationState *s)
{
	bql_lock();
	migration_stop_vm_locked(s);
	bql_unlock();
}

/* The guest runs again on the source, exactly once, if the migration stopped
 * it and the source owns its device (cpr-transfer may have handed it over:
 * then the guest stays stopped rather than run on both sides). BQL held. */
static void migration_resume_vm_locked(MigrationState *s)
{
	if (!s->vm_stopped)
		return;
	if (s->dev && !vdev_is_owner(s->dev) && vdev_set_owner(s->dev) != 0) {
		migrate_set_error(s, -EBUSY, "the target owns the device: the guest stays stopped");
		return;
	}
	s->vm_stopped = false;
	vm_resume(s->vm, s->vm_old_state);
}

static int migration_completion(MigrationState *s, QEMUFile *f, uint8_t *page)
{
	static const char device_state[] = "migrace-device-state-v1";
	int ret;

	migration_stop_vm(s);
	CORE_SYNC_POINT(MIG_COMPLETION_VM_STOPPED);
	if (!migrate_set_state(s, MIGRATION_STATUS_ACTIVE, MIGRATION_STATUS_DEVICE))
		return -ECANCELED;
	atomic_store(&s->dirty_pages, ram_dirty_sync(s->ram, s->bitmap));
	if (s->params.cpr_uri)
		bitmap_zero(s->bitmap, s->ram->npages);
	ret = send_dirty_pages(s, f, page);
	if (ret == 0)
		ret = multifd_sync_main(s, f, atomic_load(&s->iterations) + 1);
	if (ret)
		return ret;
	/* A return path that failed already cannot bring the destination's
	 * SHUT: the end of the stream stays here (the destination never starts
	 * the guest without it) and the guest resumes on the source. */
	CORE_SYNC_POINT(MIG_COMPLETION_RP_HEALTH);
	if (s->rp_state.rp_thread_created && atomic_load(&s->rp_state.error))
		return -EIO;
	qemu_put_byte(f, SEC_DEVICE_STATE);
	qemu_put_be32(f, sizeof(device_state));
	qemu_put_buffer(f, (const uint8_t *)device_state, sizeof(device_state));
	qemu_put_byte(f, SEC_EOF);
	uint64_t before = qemu_file_transferred(f);
	ret = qemu_fflush(f);
	if (ret) {
		/* the final part was written and the error came meanwhile from
		 * another thread (a device's, migration_file_set_error): the
		 * destination may run the guest, which must not resume here */
		if (qemu_file_transferred(f) > before)
			atomic_store(&s->outcome_unknown, true);
		return ret;
	}
	/* Whether a return path exists is the creator's flag, never
	 * from_dst_file, which another thread may change (QEMU 53021ea1659b). */
	CORE_SYNC_POINT(MIG_COMPLETION_CHECK_RP);
	if (s->rp_state.rp_thread_created) {
		qemu_thread_join(&s->rp_state.rp_thread);
		s->rp_state.rp_thread_created = false;
		int status = atomic_load(&s->rp_state.shut_status);
		/* No SHUT came, the end of the stream went out: the destination
		 * may have loaded it, answered SHUT 0 and started the guest. Its
		 * answer is lost, so the guest must not resume here too. */
		if (atomic_load(&s->rp_state.error) && status < 0)
			atomic_store(&s->outcome_unknown, true);
		if (atomic_load(&s->rp_state.error) || status != 0)
			return status > 0 ? -status : -EPROTO;
	}
	return 0;
}

/* The postcopy channel: connected, its magic sent. Migration thread, at the
 * switch. It has no yank function: its one writer is the return-path
 * thread, which a yank of the main channel (its reader's) ends. */
static int postcopy_connect(MigrationState *s)
{
	struct channel *ch;
	int ret = channel_connect(s->postcopy.uri, &ch);

	if (ret)
		return ret;
	QEMUFile *pf = qemu_file_new_output(ch);
	WITH_QEMU_LOCK_GUARD(&s->qemu_file_lock) {
		s->postcopy.channel = ch;
	}
	if (!pf)
		return -ENOMEM;
	/* published before the magic (at the switch the destination reads the
	 * magic before it can ask for a page, so the page-request handler finds
	 * the file), under the write lock: in a recovery the new return path
	 * may bring a request first, whose page then follows the magic */
	QEMU_LOCK_GUARD(&s->postcopy.write_lock);
	atomic_store(&s->postcopy.file, pf);
	qemu_put_be32(pf, POSTCOPY_MAGIC);
	return qemu_fflush(pf);
}

/*
 * The switch (migration thread): connect the postcopy channel, stop the
 * guest, send the device state and SEC_POSTCOPY_RUN with every page still to
 * send (the destination's missing pages). From postcopy-active on the guest
 * belongs to the destination: the source never resumes it, whatever happens.
 *
 * The postcopy channel is connected before the switch, while the migration
 * is still active (as QEMU sets its preempt channel up before the package
 * goes): a connect that fails then fails the migration and resumes the
 * guest here. Connected after the switch, its failure left the source
 * postcopy-active with neither the device state nor SEC_POSTCOPY_RUN sent;
 * postcopy_complete then sent the rest on the main stream and SEC_EOF, which
 * the destination took for the end of a precopy stream: it ran the guest
 * without the pages dirtied since the last pass (found by the migration
 * workload, pct:3: invariant:memory-migrated).
 */
static int postcopy_start(MigrationState *s, QEMUFile *f)
{
	static const char device_state[] = "migrace-device-state-v1";
	struct guest_ram *ram = s->ram;

	int ret = postcopy_connect(s);
	if (ret)
		return ret;
	migration_stop_vm(s);
	if (!migrate_set_state(s, MIGRATION_STATUS_ACTIVE, MIGRATION_STATUS_POSTCOPY_ACTIVE))
		return -ECANCELED;
	qemu_put_byte(f, SEC_DEVICE_STATE);
	qemu_put_be32(f, sizeof(device_state));
	qemu_put_buffer(f, (const uint8_t *)device_state, sizeof(device_state));
	qemu_put_byte(f, SEC_POSTCOPY_RUN);
	qemu_put_be64(f, ram->npages);
	WITH_QEMU_LOCK_GUARD(&s->bitmap_mutex) {
		atomic_store(&s->dirty_pages, ram_dirty_sync(ram, s->bitmap));
		for (size_t i = 0; i < BITMAP_LONGS(ram->npages); i++)
			qemu_put_be64(f, s->bitmap[i]);
	}
	ret = qemu_fflush(f);
	CORE_SYNC_POINT(MIG_POSTCOPY_RUN_SENT);   /* the background starts after it */
	return ret;
}

/* The next page still to send at or after *from, taken out of the bitmap
 * (bitmap_mutex: the request handler takes pages too), or npages. */
static size_t postcopy_take_page(MigrationState *s, size_t *from)
{
	QEMU_LOCK_GUARD(&s->bitmap_mutex);
	size_t p = bitmap_find_next(s->bitmap, s->ram->npages, *from);
	if (p < s->ram->npages)
		bitmap_clear(s->bitmap, p);
	*from = p + 1;
	return p;
}

static void migration_release_dst_files(MigrationState *s);
static void postcopy_release_channel(MigrationState *s);

/* The background's bandwidth limit (max_bandwidth, 100 ms slices), as in
 * precopy; requested pages are never held back. */
struct postcopy_slice {
	int64_t start;
	uint64_t spent;
};

static void postcopy_throttle(MigrationState *s, QEMUFile *f, struct postcopy_slice *sl)
{
	const int64_t slice_ms = 100;

	if (!s->params.max_bandwidth)
		return;
	sl->spent += s->ram->page_size + 9;
	if (sl->spent < s->params.max_bandwidth * slice_ms / 1000)
		return;
	qemu_fflush(f);
	int64_t left = slice_ms - (now_ms() - sl->start);
	if (left > 0) {
		struct timespec ts = { left / 1000, (left % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	sl->start = now_ms();
	sl->spent = 0;
}

/*
 * Postcopy's background (migration thread): every page left, in order, on
 * the main stream, then SEC_EOF and the destination's SHUT. The guest is
 * stopped here, so nothing is dirtied again and one pass is enough. Returns
 * 0, or -errno with *broken set when a channel failed (the stream or the
 * return path), which pauses rather than fails.
 */
static int postcopy_send_rest(MigrationState *s, QEMUFile *f, uint8_t *page, bool *broken)
{
	struct postcopy_slice slice = { now_ms(), 0 };
	size_t from = 0;
	int ret;

	*broken = true;
	for (size_t p; (p = postcopy_take_page(s, &from)) < s->ram->npages;) {
		ram_read_page(s->ram, p, page);
		qemu_put_byte(f, SEC_RAM_PAGE);
		qemu_put_be64(f, p);
		qemu_put_buffer(f, page, s->ram->page_size);
		atomic_fetch_add(&s->pages_sent, 1);
		if ((ret = qemu_file_get_error(f)))
			return ret;
		if (atomic_load(&s->rp_state.error))
			return -EIO;
		int shut = atomic_load(&s->rp_state.shut_status);
		if (shut >= 0) {		/* the destination ended early: it failed */
			*broken = false;
			return shut ? -shut : -EPROTO;
		}
		postcopy_throttle(s, f, &slice);
	}
	qemu_put_byte(f, SEC_EOF);
	if ((ret = qemu_fflush(f)))
		return ret;
	CORE_SYNC_POINT(MIG_POSTCOPY_EOF_SENT);
	qemu_thread_join(&s->rp_state.rp_thread);
	s->rp_state.rp_thread_created = false;
	int status = atomic_load(&s->rp_state.shut_status);
	if (atomic_load(&s->rp_state.error))
		return -EIO;
	*broken = false;
	return status == 0 ? 0 : status > 0 ? -status : -EPROTO;
}

/* The migration thread's file: only a resume (main thread, while this
 * thread waits in pause) replaces it. */
static QEMUFile *postcopy_stream(MigrationState *s)
{
	QEMU_LOCK_GUARD(&s->qemu_file_lock);
	return s->to_dst_file;
}

/*
 * Recovery (migration thread, state postcopy-recover; the main thread set
 * the new channel and to_dst_file): a new return-path thread, the new
 * stream's header and SEC_POSTCOPY_RESUME, a new postcopy channel, then the
 * destination's missing pages as the pages to send. Each return-path thread
 * posts bitmap_sem once while awaiting_bitmap: at RP_RESUME_ACK or when it
 * fails. 0, or -errno (a channel failed again: pause again).
 */
static int postcopy_resume(MigrationState *s)
{
	atomic_store(&s->rp_state.error, false);
	atomic_store(&s->rp_state.shut_status, -1);
	atomic_store(&s->postcopy.awaiting_bitmap, true);
	int ret = open_return_path_on_source(s);
	if (ret) {
		atomic_store(&s->postcopy.awaiting_bitmap, false);
		return ret;
	}
	QEMUFile *f = postcopy_stream(s);
	qemu_put_be32(f, MIG_MAGIC);
	qemu_put_be32(f, MIG_VERSION);
	qemu_put_byte(f, SEC_POSTCOPY_RESUME);
	ret = qemu_fflush(f);
	if (ret == 0)
		ret = postcopy_connect(s);
	if (ret) {
		WITH_QEMU_LOCK_GUARD(&s->qemu_file_lock) {
			qemu_file_shutdown(s->rp_state.from_dst_file);   /* its post comes now */
		}
	}
	qemu_sem_wait(&s->postcopy.bitmap_sem);
	if (ret)
		return ret;
	if (atomic_load(&s->rp_state.error))
		return -EIO;
	if (!migrate_set_state(s, MIGRATION_STATUS_POSTCOPY_RECOVER, MIGRATION_STATUS_POSTCOPY_ACTIVE))
		return -ECANCELED;
	CORE_SYNC_POINT(MIG_POSTCOPY_RECOVERED);
	return 0;
}

/*
 * A channel failed in postcopy (migration thread): the return path is shut
 * down and joined, the files and channels released (the yank function
 * first), the state postcopy-paused; then wait for `migrate resume`
 * (postcopy-recover: recover, 0 or -errno) or for shutdown (-ECANCELED).
 * The guest keeps running on the destination all along.
 */
static int postcopy_pause(MigrationState *s)
{
	struct channel *ch = s->channel;

	WITH_QEMU_LOCK_GUARD(&s->qemu_file_lock) {
		if (s->rp_state.from_dst_file)
			qemu_file_shutdown(s->rp_state.from_dst_file);
	}
	if (s->rp_state.rp_thread_created) {
		qemu_thread_join(&s->rp_state.rp_thread);
		s->rp_state.rp_thread_created = false;
	}
	if (ch)
		yank_unregister_function(MIGRATION_YANK_INSTANCE, yank_channel, ch);
	migration_release_dst_files(s);
	s->channel = NULL;
	s->postcopy.paused_without_channel = true;
	if (ch)
		channel_unref(ch);
	postcopy_release_channel(s);
	atomic_fetch_add(&s->postcopy.pauses, 1);
	if (!migrate_set_state(s, migration_state(s), MIGRATION_STATUS_POSTCOPY_PAUSED))
		return -ECANCELED;
	CORE_SYNC_POINT(MIG_POSTCOPY_PAUSED);
	/* a shutdown that came before the pause found nothing to wake: nobody
	 * can resume it any more (shutdown posts the semaphore only if it sees
	 * the state paused; one of the two sees the other) */
	if (atomic_load(&s->postcopy.shut_down))
		return -ECANCELED;
	qemu_sem_wait(&s->postcopy.resume_sem);
	if (migration_state(s) != MIGRATION_STATUS_POSTCOPY_RECOVER)
		return -ECANCELED;
	return postcopy_resume(s);
}

/* Postcopy to its end: send the rest; on a channel failure pause, and once
 * recovered send what the destination still misses. */
static int postcopy_complete(MigrationState *s, uint8_t *page)
{
	for (;;) {
		bool broken;
		int ret = postcopy_send_rest(s, postcopy_stream(s), page, &broken);
		if (ret == 0 || !broken)
			return ret;
		do {
			ret = postcopy_pause(s);
		} while (ret && ret != -ECANCELED && migration_state(s) == MIGRATION_STATUS_POSTCOPY_RECOVER);
		if (ret)
			return ret;
	}
}

static int migration_setup(MigrationState *s, QEMUFile *f)
{
	struct guest_ram *ram = s->ram;

	s->bitmap = bitmap_new(ram->npages);
	if (!s->bitmap)
		return -ENOMEM;
	ram_dirty_sync(ram, s->bitmap);      /* start the dirty log afresh */
	if (s->params.cpr_uri)
		bitmap_zero(s->bitmap, ram->npages);  /* the target maps the same memory */
	else
		bitmap_fill(s->bitmap, ram->npages);
	qemu_put_be32(f, MIG_MAGIC);
	qemu_put_be32(f, MIG_VERSION);
	qemu_put_byte(f, SEC_RAM_SETUP);
	qemu_put_be64(f, ram->size);
	qemu_put_be32(f, (uint32_t)ram->page_size);
	if (s->multifd) {
		qemu_put_byte(f, SEC_MULTIFD_SETUP);
		qemu_put_be32(f, (uint32_t)s->params.multifd_channels);
	}
	if (s->params.return_path) {
		qemu_put_byte(f, SEC_OPEN_RETURN_PATH);
		qemu_put_byte(f, SEC_PING);       /* the return path works: PONG comes back */
		qemu_put_be32(f, 1);
	}
	return qemu_fflush(f);
}

/* Iterates until the rest fits in the downtime limit (0), or until
 * migrate-start-postcopy (MIG_SWITCH_POSTCOPY). */
static int migration_iterate(MigrationState *s, QEMUFile *f, uint8_t *page)
{
	unsigned max_iter = s->params.max_iterations ? s->params.max_iterations : 30;
	uint64_t limit_ms = s->params.downtime_limit_ms ? s->params.downtime_limit_ms : 300;

	for (unsigned iter = 1;; iter++) {
		int64_t start = now_ms();
		uint64_t before = qemu_file_transferred(f);
		int ret = send_dirty_pages(s, f, page);
		if (ret == 0)
			ret = multifd_sync_main(s, f, iter);
		if (ret)
			return ret;
		if (atomic_load(&s->postcopy.requested))
			return MIG_SWITCH_POSTCOPY;
		qemu_put_byte(f, SEC_ITER_END);
		qemu_put_be64(f, iter);
		ret = qemu_fflush(f);
		if (ret)
			return ret;
		atomic_store(&s->iterations, iter);
		CORE_SYNC_POINT(MIG_ITERATION_END);
		size_t dirty = ram_dirty_sync(s->ram, s->bitmap);
		atomic_store(&s->dirty_pages, dirty);
		/* bytes per ms of this pass; the rest must fit in the downtime */
		int64_t took = now_ms() - start;
		uint64_t rate = (qemu_file_transferred(f) - before) / (uint64_t)(took > 0 ? took : 1);
		uint64_t rest_ms = rate ? dirty * s->ram->page_size / rate : 0;
		if (rest_ms <= limit_ms || iter >= max_iter)
			return 0;
	}
}

static void migration_cleanup(void *opaque);

/* After the thread's work: the guest's fate, and the cleanup BH. */
static void migration_iteration_finish(MigrationState *s, int ret)
{
	bql_lock();
	MigrationStatus cur = migration_state(s);
	bool postcopy = cur == MIGRATION_STATUS_POSTCOPY_ACTIVE || cur == MIGRATION_STATUS_POSTCOPY_PAUSED ||
			cur == MIGRATION_STATUS_POSTCOPY_RECOVER;
	MigrationStatus done_from = postcopy ? MIGRATION_STATUS_POSTCOPY_ACTIVE : MIGRATION_STATUS_DEVICE;
	if (ret == 0 && migrate_set_state(s, done_from, MIGRATION_STATUS_COMPLETED)) {
		runstate_set(s->vm, RUN_STATE_POSTMIGRATE);
		s->vm_stopped = false;               /* it runs on the destination now */
	} else if (postcopy) {
		/* the destination runs the guest (with what it got): never here too */
		migrate_set_error(s, ret ? ret : -EIO, "postcopy failed");
		migrate_set_state(s, cur, MIGRATION_STATUS_FAILED);
		runstate_set(s->vm, RUN_STATE_POSTMIGRATE);
		s->vm_stopped = false;
	} else {
		if (ret == 0)
			ret = -ECANCELED;
		migrate_set_error(s, ret, ret == -ECANCELED ? "cancelled" : "migration failed");
		MigrationStatus st = migration_state(s);
		bool cancelled = st == MIGRATION_STATUS_CANCELLING || st == MIGRATION_STATUS_CANCELLED;
		if (!cancelled)
			migrate_set_state(s, st, MIGRATION_STATUS_FAILED);
		/* a failure whose outcome is unknown keeps the guest stopped; a
		 * cancel resumes it as asked (none is accepted once the end of the
		 * stream may be out: qmp_migrate_cancel refuses in state device) */
		if (cancelled || !atomic_load(&s->outcome_unknown))
			migration_resume_vm_locked(s);
	}
	s->cleanup_pending = true;
	migration_bh_schedule(migration_cleanup, s);
	CORE_SYNC_POINT(MIG_FINISH_SCHEDULED);
	bql_unlock();
}

static void *migration_thread(void *opaque)
{
	MigrationState *s = opaque;      /* holds the reference qmp_migrate took for it */
	QEMUFile *f = s->to_dst_file;    /* only cleanup, after joining us, releases it */

	in_migration_thread = true;
	uint8_t *page = malloc(s->ram->page_size);
	int ret = page ? migration_setup(s, f) : -ENOMEM;

	CORE_SYNC_POINT(MIG_SETUP_DONE);
	if (ret == 0 && !migrate_set_state(s, MIGRATION_STATUS_SETUP, MIGRATION_STATUS_ACTIVE))
		ret = -ECANCELED;
	if (ret == 0 && !s->params.cpr_uri)
		ret = migration_iterate(s, f, page);
	if (ret == MIG_SWITCH_POSTCOPY) {
		ret = postcopy_start(s, f);
		/* in postcopy-active a broken channel pauses, even during the switch
		 * (if SEC_POSTCOPY_RUN never arrived, the destination failed instead:
		 * as in QEMU, the guest is then lost) */
		if (ret == 0 || migration_state(s) == MIGRATION_STATUS_POSTCOPY_ACTIVE)
			ret = postcopy_complete(s, page);
	} else if (ret == 0) {
		ret = migration_completion(s, f, page);
	}
	free(page);
	migration_iteration_finish(s, ret);
	CORE_SYNC_POINT(MIG_THREAD_BEFORE_UNREF);
	in_migration_thread = false;
	object_unref(&s->obj);
	return NULL;
}

/* ---- commands ---------------------------------------------------------------- */

static void migration_release_dst_files(MigrationState *s)
{
	QEMUFile *to, *from;

	WITH_QEMU_LOCK_GUARD(&s->qemu_file_lock) {
		to = s->to_dst_file;
		from = s->rp_state.from_dst_file;
		s->to_dst_file = NULL;
		s->rp_state.from_dst_file = NULL;
	}
	/* outside the lock: closing may block */
	if (from)
		qemu_fclose(from);
	if (to)
		qemu_fclose(to);
}

/* Cleanup, after the return-path thread (its only writer) was joined: the
 * postcopy channel goes last. */
static void postcopy_release_channel(MigrationState *s)
{
	QEMUFile *pf = atomic_exchange(&s->postcopy.file, NULL);
	struct channel *ch;

	WITH_QEMU_LOCK_GUARD(&s->qemu_file_lock) {
		ch = s->postcopy.channel;
		s->postcopy.channel = NULL;
	}
	if (!ch)
		return;
	if (pf)
		qemu_fclose(pf);
	channel_unref(ch);
}

/* The cleanup BH (main thread, BQL held). */
static void migration_cleanup(void *opaque)
{
	MigrationState *s = opaque;

	CORE_SYNC_POINT(MAIN_CLEANUP_START);
	if (s->thread_created) {
		bql_unlock();
		qemu_thread_join(&s->thread);
		bql_lock();
		s->thread_created = false;
	}
	/* the return path is shut down and joined before to_dst_file goes */
	close_return_path_on_source(s);
	CORE_SYNC_POINT(MAIN_CLEANUP_RP_CLOSED);
	multifd_send_cleanup(s->multifd, migrate_has_error(s));
	s->multifd = NULL;
	if (s->channel) {
		/* explicitly, once, before the channel can go (QEMU 39675ffffb33) */
		yank_unregister_function(MIGRATION_YANK_INSTANCE, yank_channel, s->channel);
	}
	migration_release_dst_files(s);
	CORE_SYNC_POINT(MAIN_CLEANUP_FILES_RELEASED);
	if (s->channel) {
		channel_unref(s->channel);
		s->channel = NULL;
		yank_unregister_instance(MIGRATION_YANK_INSTANCE);
	}
	if (s->postcopy.paused_without_channel) {
		/* a pause released the channel and nobody resumed: the instance is left */
		s->postcopy.paused_without_channel = false;
		yank_unregister_instance(MIGRATION_YANK_INSTANCE);
	}
	postcopy_release_channel(s);
	migrate_set_state(s, MIGRATION_STATUS_CANCELLING, MIGRATION_STATUS_CANCELLED);
	s->cleanup_pending = false;
}

static void migrate_fail_setup(MigrationState *s, int err)
{
	migrate_set_error(s, err, "setup failed");
	migrate_set_state(s, migration_state(s), MIGRATION_STATUS_FAILED);
	migration_cleanup(s);
}

/*
 * cpr-transfer, source side (main thread, BQL held): the fixed order of
 * "migration: stop vm earlier for cpr". 1. stop the guest; 2. the setup
 * notifiers: the device releases its ownership; 3. send the RAM and device
 * handles (the cut-over); 4. wait until the target took them (it closes the
 * channel). Steps 1-2 come before 3, or the target's set_owner fails with
 * -EBUSY while the source still drives the device.
 */
static int cpr_transfer_save(MigrationState *s, const char *cpr_uri)
{
	struct channel *ch;
	int fds[2], nfds = 0;
	char byte;

	migration_stop_vm_locked(s);
	CORE_SYNC_POINT(CPR_VM_STOPPED);
	if (s->dev) {
		int ret = vdev_reset_owner(s->dev);
		if (ret)
			return ret;
	}
	CORE_SYNC_POINT(CPR_DEVICE_RELEASED);
	int ret = channel_connect(cpr_uri, &ch);
	if (ret)
		return ret;
	fds[nfds++] = ram_fd(s->ram);
	if (s->dev)
		fds[nfds++] = vdev_fd(s->dev);
	ret = fds[0] < 0 ? -EINVAL : channel_send_fds(ch, fds, nfds);
	CORE_SYNC_POINT(CPR_FDS_SENT);
	if (ret == 0) {
		ssize_t r = channel_read(ch, &byte, 1);   /* the target's HUP */
		ret = r == 0 ? 0 : r < 0 ? (int)r : -EPROTO;
	}
	channel_close(ch);
	channel_unref(ch);
	return ret;
}

void migration_set_device(struct vdev *dev)
{
	if (global_migration)
		global_migration->dev = dev;
}

/*
 * migrate resume=true (main thread, BQL held): a paused postcopy goes on over
 * a new channel to uri. The migration thread, waiting in postcopy_pause,
 * takes it from here: new return path, new postcopy channel, the bitmap.
 */
static int migrate_resume(MigrationState *s, const char *uri)
{
	struct channel *ch;

	if (migration_state(s) != MIGRATION_STATUS_POSTCOPY_PAUSED)
		return -EINVAL;
	if (strlen(uri) >= sizeof(s->postcopy.uri))
		return -EINVAL;
	int ret = channel_connect(uri, &ch);
	if (ret)
		return ret;
	snprintf(s->postcopy.uri, sizeof(s->postcopy.uri), "%s", uri);
	s->channel = ch;
	s->postcopy.paused_without_channel = false;
	yank_register_function(MIGRATION_YANK_INSTANCE, yank_channel, ch);
	WITH_QEMU_LOCK_GUARD(&s->qemu_file_lock) {
		s->to_dst_file = qemu_file_new_output(ch);
	}
	qemu_mutex_lock(&s->error_mutex);
	s->error = 0;                /* the failure that paused it is history */
	s->error_desc[0] = '\0';
	qemu_mutex_unlock(&s->error_mutex);
	migrate_set_state(s, MIGRATION_STATUS_POSTCOPY_PAUSED, MIGRATION_STATUS_POSTCOPY_RECOVER);
	qemu_sem_post(&s->postcopy.resume_sem);
	return 0;
}

int qmp_migrate(const char *uri, const struct mig_params *params)
{
	MigrationState *s = global_migration;
	struct channel *ch;
	int ret;

	if (!s)
		return -ESHUTDOWN;
	if (params->resume)
		return migrate_resume(s, uri);
	MigrationStatus st = migration_state(s);
	if (!transition_valid(st, MIGRATION_STATUS_SETUP) || s->cleanup_pending || s->thread_created)
		return -EBUSY;
	if (params->postcopy && (!params->return_path || params->multifd_channels || params->cpr_uri ||
				 strlen(uri) >= sizeof(s->postcopy.uri)))
		return -EINVAL;
	if (params->cpr_uri) {
		s->vm_stopped = false;
		ret = cpr_transfer_save(s, params->cpr_uri);
		if (ret) {
			migrate_set_error(s, ret, "cpr-transfer failed");
			migration_resume_vm_locked(s);
			return ret;
		}
	}
	ret = channel_connect(uri, &ch);
	if (ret) {
		migration_resume_vm_locked(s);
		return ret;
	}
	if (!migrate_set_state(s, st, MIGRATION_STATUS_SETUP)) {
		channel_unref(ch);
		migration_resume_vm_locked(s);
		return -EBUSY;
	}
	s->params = *params;
	atomic_store(&s->outcome_unknown, false);
	qemu_mutex_lock(&s->error_mutex);
	s->error = 0;
	s->error_desc[0] = '\0';
	qemu_mutex_unlock(&s->error_mutex);
	atomic_store(&s->rp_state.shut_status, -1);
	atomic_store(&s->rp_state.error, false);
	atomic_store(&s->iterations, 0);
	atomic_store(&s->pages_sent, 0);
	atomic_store(&s->dirty_pages, 0);
	atomic_store(&s->rp_state.pongs, 0);
	atomic_store(&s->rp_state.acks, 0);
	atomic_store(&s->postcopy.requested, false);
	atomic_store(&s->postcopy.requests, 0);
	atomic_store(&s->postcopy.sent, 0);
	atomic_store(&s->postcopy.pauses, 0);
	snprintf(s->postcopy.uri, sizeof(s->postcopy.uri), "%s", uri);
	bitmap_free(s->bitmap);
	s->bitmap = NULL;

	s->channel = ch;
	yank_register_instance(MIGRATION_YANK_INSTANCE);
	yank_register_function(MIGRATION_YANK_INSTANCE, yank_channel, ch);
	WITH_QEMU_LOCK_GUARD(&s->qemu_file_lock) {
		s->to_dst_file = qemu_file_new_output(ch);
	}
	if (params->return_path) {
		ret = open_return_path_on_source(s);
		if (ret) {
			migrate_fail_setup(s, ret);
			return ret;
		}
	}
	if (params->multifd_channels > 0) {
		ret = multifd_send_setup(&s->multifd, uri, params->multifd_channels, s->ram,
					 MIGRATION_YANK_INSTANCE);
		if (ret) {
			migrate_fail_setup(s, ret);
			return ret;
		}
	}
	object_ref(&s->obj);         /* the migration thread's, taken before it exists */
	ret = qemu_thread_try_create(&s->thread, "mig/src/main", migration_thread, s, QEMU_THREAD_JOINABLE);
	if (ret) {
		object_unref(&s->obj);
		migrate_fail_setup(s, ret);
		return ret;
	}
	s->thread_created = true;
	return 0;
}

int qmp_migrate_cancel(void)
{
	MigrationState *s = global_migration;

	if (!s)
		return -ESHUTDOWN;
	/* postcopy: the guest runs on the destination, there is nothing to go
	 * back to (a switch after this test makes the loop below see a state it
	 * does not cancel: -EINVAL) */
	if (migration_state(s) == MIGRATION_STATUS_POSTCOPY_ACTIVE)
		return -EBUSY;
	CORE_SYNC_POINT(MAIN_CANCEL_CHECK_STATE);
	for (;;) {
		MigrationStatus st = migration_state(s);
		if (st == MIGRATION_STATUS_DEVICE)
			return -EBUSY;
		if (st != MIGRATION_STATUS_SETUP && st != MIGRATION_STATUS_ACTIVE)
			return st == MIGRATION_STATUS_CANCELLING ? 0 : -EINVAL;
		if (migrate_set_state(s, st, MIGRATION_STATUS_CANCELLING))
			break;
	}
	migrate_set_error(s, -ECANCELED, "cancelled");
	CORE_SYNC_POINT(MAIN_CANCEL_BEFORE_SHUTDOWN);
	/* check and use under the lock (fixed form of QEMU 43044ac0ee57) */
	WITH_QEMU_LOCK_GUARD(&s->qemu_file_lock) {
		if (s->to_dst_file)
			qemu_file_shutdown(s->to_dst_file);
		/* one load for the check and the use, as compiled code does: the
		 * sync point between them must not add a second one */
		QEMUFile *rp = s->rp_state.from_dst_file;
		if (rp) {
			CORE_SYNC_POINT(MAIN_CANCEL_RP_CHECKED);
			qemu_file_shutdown(rp);
		}
	}
	multifd_send_shutdown(s->multifd);   /* main thread owns the pointer */
	return 0;
}

int qmp_query_migrate(struct mig_info *info)
{
	MigrationState *s = global_migration;

	memset(info, 0, sizeof(*info));
	if (!s)
		return -ESHUTDOWN;
	info->status = migration_state(s);
	info->iterations = atomic_load(&s->iterations);
	info->pages_sent = atomic_load(&s->pages_sent);
	info->bytes_sent = info->pages_sent * s->ram->page_size;
	info->dirty_pages = atomic_load(&s->dirty_pages);
	info->pongs = atomic_load(&s->rp_state.pongs);
	info->acks = atomic_load(&s->rp_state.acks);
	info->page_requests = atomic_load(&s->postcopy.requests);
	info->requested_pages_sent = atomic_load(&s->postcopy.sent);
	info->postcopy_pauses = atomic_load(&s->postcopy.pauses);
	info->outcome_unknown = atomic_load(&s->outcome_unknown);
	qemu_mutex_lock(&s->error_mutex);
	info->error = s->error;
	snprintf(info->error_desc, sizeof(info->error_desc), "%s", s->error_desc);
	qemu_mutex_unlock(&s->error_mutex);
	return 0;
}

int qmp_migrate_start_postcopy(void)
{
	MigrationState *s = global_migration;

	if (!s)
		return -ESHUTDOWN;
	MigrationStatus st = migration_state(s);
	if (!s->params.postcopy || (st != MIGRATION_STATUS_SETUP && st != MIGRATION_STATUS_ACTIVE))
		return -EINVAL;
	atomic_store(&s->postcopy.requested, true);
	return 0;
}

int qmp_migrate_pause(void)
{
	int ret = -EINVAL;

	pthread_mutex_lock(&migration_mutex);
	MigrationState *s = current_migration;
	if (s && migration_state(s) == MIGRATION_STATUS_POSTCOPY_ACTIVE) {
		WITH_QEMU_LOCK_GUARD(&s->qemu_file_lock) {
			if (s->to_dst_file) {
				qemu_file_shutdown(s->to_dst_file);   /* the channel, both ways */
				ret = 0;
			}
		}
	}
	pthread_mutex_unlock(&migration_mutex);
	return ret;
}

int qmp_yank_migration(void)
{
	return yank_do(MIGRATION_YANK_INSTANCE);
}

/* At exit (main thread, BQL held): cancel, then drop the initial reference.
 * A migration thread or a pending BH keeps the object alive with its own. */
void migration_shutdown(void)
{
	MigrationState *s = global_migration;

	if (!s)
		return;
	qmp_migrate_cancel();
	atomic_store(&s->postcopy.shut_down, true);   /* a pause from now on fails at once */
	if (migration_state(s) == MIGRATION_STATUS_POSTCOPY_PAUSED)
		qemu_sem_post(&s->postcopy.resume_sem);   /* nobody will resume it: it fails */
	global_migration = NULL;
	object_unref(&s->obj);
	CORE_SYNC_POINT(MAIN_SHUTDOWN_AFTER_UNREF);
}
