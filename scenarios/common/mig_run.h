/*
 * Both ends of an in-process migration, as the programs that drive the
 * migration core run them (scenarios, harness/core-progs): the destination
 * thread accepts one stream and loads it; the source runs the main loop
 * until the migration is over, then shuts migration down.
 *
 *     destination thread: mig_accept_and_load(listener, &inc, &dst_result);
 *     bql_lock(); migration_object_init(...); qmp_migrate(...);
 *     mig_run_to_end(&info);         // completed, failed or cancelled
 *     mig_shutdown_unlock();         // the last bottom halves; BQL released
 */
#ifndef SCENARIOS_MIG_RUN_H
#define SCENARIOS_MIG_RUN_H

#include <stdbool.h>

#include "channel.h"
#include "incoming.h"
#include "migration.h"

/* Accepts one stream on l and loads it into inc until the end; *result gets
 * mig_incoming_wait's result, and is left as it was when nothing was
 * accepted or the load did not start. */
void mig_accept_and_load(struct channel_listener *l, struct mig_incoming *inc, int *result);
/* completed, failed or cancelled */
bool mig_status_ended(MigrationStatus st);
/* With the BQL held: runs the main loop until the migration ended and no
 * bottom half is left; info holds the last query. Returns the final status. */
MigrationStatus mig_run_to_end(struct mig_info *info);
/* migration_shutdown, the bottom halves it leaves, then the BQL released. */
void mig_shutdown_unlock(void);

#endif
