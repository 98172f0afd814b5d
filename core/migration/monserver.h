/*
 * "QEMU's monitor": serves the line protocol of monproto.h on one channel,
 * in a thread of its own, with the migration core behind it (the commands
 * run under the BQL) and its events emitted in-band as they happen.
 */
#ifndef CORE_MONSERVER_H
#define CORE_MONSERVER_H

#include <stdbool.h>

#include "channel.h"
#include "ram.h"
#include "vm.h"

/*
 * Commands (every value a string; a reply carries the command's id):
 *
 *   query-status       -> status=<runstate name> running=true|false
 *   stop               pause the guest (STOP)
 *   cont               run it (RESUME); GenericError while inmigrate,
 *                      finish-migrate or shutdown; nothing if it runs
 *   migrate            uri=URI [multifd-channels=N] [return-path=true|false]
 *                      [max-bandwidth=BYTES_PER_S] [downtime-limit=MS]
 *                      [postcopy=true|false] [resume=true|false]:
 *                      qmp_migrate; source only. resume=true: a paused
 *                      postcopy goes on over a new channel to URI
 *   migrate-start-postcopy  source: switch to postcopy (the migration was
 *                      started with postcopy=true and return-path=true)
 *   migrate-pause      either side, in postcopy-active: break the stream's
 *                      channel; both sides go postcopy-paused, the guest
 *                      runs on the destination. Runs without the BQL
 *   migrate-recover    uri=URI, destination in postcopy-paused: listen on
 *                      URI for the source's migrate resume=true
 *   migrate_cancel     source: qmp_migrate_cancel (GenericError once the
 *                      guest is stopped for the last pass); destination:
 *                      cancel the incoming migration. Nothing running: ok
 *   query-migrate      -> status=<name> and, source, iterations pages-sent
 *                      bytes-sent dirty-pages [page-requests postcopy-pauses]
 *                      [error-desc]; destination, pages-loaded bytes-loaded
 *                      (status postcopy-active, -paused, -recover in postcopy)
 *   migrate-incoming   [uri=URI], destination only, once: listen on URI
 *                      (default: the configured incoming_uri), reply with
 *                      uri=URI, then accept and load in the background
 *   qmp_capabilities   the client's handshake: ok
 *   device_add         id=ID: a named device with no hardware behind it
 *                      (a configuration change for the management layer)
 *                      -> devices=<count>
 *   quit               reply, then: cancel whatever migrates, stop the
 *                      guest (runstate shutdown) unless a migration still
 *                      settles it, SHUTDOWN, close the channel (EOF)
 *   anything else      error class CommandNotFound; a bad argument or a
 *                      refusal: GenericError with a desc
 *
 * Events: STOP status=<runstate> and RESUME (the guest stopped or started,
 * from any thread); MIGRATION status=<name> on every state change of the
 * source's migration, and on the destination active when the stream was
 * accepted and completed or failed when it ended (after the guest started:
 * RESUME comes first there); SHUTDOWN on quit.
 */

struct monserver;

struct monserver_config {
	struct vm *vm;			/* the guest; not owned, outlives the server */
	struct guest_ram *ram;		/* its RAM (where migrate-incoming loads); not owned */
	const char *incoming_uri;	/* destination: where migrate-incoming without a uri
					 * listens (not owned; outlives the server), or NULL */
	bool incoming;			/* a destination: the vm is in inmigrate, waiting for
					 * migrate-incoming. Otherwise a source: the caller did
					 * migration_object_init (one per process) */
};

/*
 * Serve on ch (the server takes its own reference) in a new thread
 * "mon/server". Registers a state notifier on the vm and, for a source, on
 * the migration core. Needs main_loop_init() done and someone running
 * main_loop_wait() (the migration's cleanup is a BH). Returns 0, -EINVAL
 * (a destination whose vm is not in inmigrate), -ENOSPC (no migration
 * notifier slot), -ENOMEM, or the -errno of the thread creation.
 */
int monserver_start(const struct monserver_config *cfg, struct channel *ch, struct monserver **out);

/*
 * Whether the server stopped serving: quit (the guest is then stopped
 * unless a migration settles it), the client hung up or the channel
 * failed. Any thread.
 */
bool monserver_finished(struct monserver *srv);
/* Whether the client sent quit (already true when the client sees the EOF
 * that follows it). Any thread. */
bool monserver_quit_requested(struct monserver *srv);

/*
 * Stop serving (the channel is shut down if the client is still there),
 * cancel and join an incoming migration, unregister the notifiers, join the
 * thread, clean the incoming migration up, close the channel and free srv.
 * The owner's thread, without the BQL; NULL is a no-op. A source migration
 * is the process's: migration_shutdown() stays the caller's.
 */
void monserver_free(struct monserver *srv);

#endif
