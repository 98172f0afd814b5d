/*
 * The source's side of an in-process migration, as every program that drives
 * the migration core ends one (scenarios, harness/core-progs, workloads): run
 * the main loop until the migration is over, then shut migration down.
 *
 *     bql_lock(); migration_object_init(...); qmp_migrate(...);
 *     mig_run_to_end(&info);         // completed, failed or cancelled
 *     mig_shutdown_unlock();         // the last bottom halves; BQL released
 */
#ifndef SCENARIOS_MIG_RUN_H
#define SCENARIOS_MIG_RUN_H

#include <stdbool.h>

#include "migration.h"

/* completed, failed or cancelled */
bool mig_status_ended(MigrationStatus st);
/* With the BQL held: runs the main loop until the migration ended and no
 * bottom half is left; info holds the last query. Returns the final status. */
MigrationStatus mig_run_to_end(struct mig_info *info);
/* migration_shutdown, the bottom halves it leaves, then the BQL released. */
void mig_shutdown_unlock(void);

#endif
