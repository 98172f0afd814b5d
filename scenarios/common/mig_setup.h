/*
 * What the migration-core scenarios share: a source and a destination in one
 * process over the in-memory channel fake ("mem:migration"), each with a
 * running or incoming guest, and the main loop of the source (BQL held by the
 * scenario's main thread between setup and teardown).
 *
 *     struct scen_mig m;
 *     scen_mig_setup(&m, &(struct scen_mig_opts){ .return_path = true });
 *     assert(qmp_migrate("mem:migration", &m.params) == 0);
 *     scen_mig_wait_end(&m);                 // runs the main loop (BHs)
 *     scen_mig_shutdown(&m);                 // shutdown, the destination joined
 *     ... checks on both guests ...
 *     scen_mig_free(&m);                     // frees, every thread joined
 */
#ifndef SCENARIOS_MIG_SETUP_H
#define SCENARIOS_MIG_SETUP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "channel.h"
#include "incoming.h"
#include "main_loop.h"
#include "migration.h"
#include "ram.h"
#include "vm.h"

#define SCEN_URI "mem:migration"

struct scen_mig_opts {
	unsigned pages;            /* guest RAM in pages (default 8) */
	bool return_path;          /* capability return-path */
	int multifd_channels;
	bool no_destination;       /* nobody accepts: the scenario plays the peer itself */
	bool postcopy;             /* capability postcopy-ram (needs return_path) */
	bool dst_no_vcpu;          /* the destination's guest has no vCPU: the scenario
				    * touches its memory itself */
};

struct scen_mig {
	struct guest_ram ram, dst_ram;
	struct vm vm, dst_vm;
	struct mig_incoming inc;
	struct channel_listener *listener;
	struct mig_params params;  /* what scen_mig_setup chose from the options */
	pthread_t dst;
	bool dst_started;
	int dst_result;            /* mig_incoming_wait's result, 1 before the end */
	struct mig_info info;      /* the last qmp_query_migrate */

	/* the join watchdog (scen_mig_watch_rp_join) */
	pthread_t watchdog;
	bool watching;             /* main thread */
	pthread_mutex_t watch_lock;
	pthread_cond_t watch_cond;
	bool watch_done;           /* watch_lock: the scenario went past the end */
	unsigned watch_s;          /* immutable once the watchdog runs */
	atomic_bool in_main_loop;  /* main is inside scen_mig_wait_end */
};

/* Source guest running, destination guest incoming, the listener open, the
 * migration object created, the destination's accept-and-load thread started
 * (unless no_destination); returns with the BQL held. Aborts on failure. */
void scen_mig_setup(struct scen_mig *m, const struct scen_mig_opts *o);
/* Runs the main loop until the migration ended (completed, failed or
 * cancelled) and no bottom half is left; returns the final status. */
MigrationStatus scen_mig_wait_end(struct scen_mig *m);
/* migration_shutdown, the last bottom halves, BQL released, the destination
 * thread joined (dst_result final). */
void scen_mig_shutdown(struct scen_mig *m);
/* The end of a cancelled migration, checked around scen_mig_shutdown: the
 * state is cancelled with -ECANCELED; the guest runs on the source, resumed
 * as often as it was stopped (completion may have stopped it before it saw
 * the cancel); the destination saw the stream cut and never started it. */
void scen_mig_shutdown_cancelled(struct scen_mig *m);
/*
 * A watchdog for a cleanup that never ends: if the scenario is still inside
 * scen_mig_wait_end after `seconds` (virtual time under the harness: it comes
 * as soon as nothing else can run), the migration is over (it no longer
 * runs, so its cleanup BH is what the main loop is running) and the
 * return-path thread "mig/src/rp" is blocked in a read of its channel, the
 * run stops with invariant:rp-join-blocked-in-read: the cleanup is joining
 * a return-path thread that nothing will wake. Otherwise it does nothing.
 * scen_mig_unwatch (after scen_mig_wait_end) stops and joins it.
 */
void scen_mig_watch_rp_join(struct scen_mig *m, unsigned seconds);
void scen_mig_unwatch(struct scen_mig *m);
/* Frees both guests, the listener and the incoming state; then
 * MIGRACE_CHECK_THREADS_JOINED. */
void scen_mig_free(struct scen_mig *m);

#endif
