/*
 * The end of an in-process migration on the source's side (see mig_run.h).
 */
#include "mig_run.h"

#include "main_loop.h"

void mig_accept_and_load(struct channel_listener *l, struct mig_incoming *inc, int *result)
{
	struct channel *ch;

	if (channel_accept(l, &ch))
		return;
	mig_incoming_set_listener(inc, l);
	if (mig_incoming_start(inc, ch) == 0)
		*result = mig_incoming_wait(inc);
	channel_unref(ch);
}

bool mig_status_ended(MigrationStatus st)
{
	return st == MIGRATION_STATUS_COMPLETED || st == MIGRATION_STATUS_FAILED ||
	       st == MIGRATION_STATUS_CANCELLED;
}

MigrationStatus mig_run_to_end(struct mig_info *info)
{
	do {
		main_loop_wait(10);
		qmp_query_migrate(info);
	} while (!mig_status_ended(info->status));
	while (main_loop_wait(0) > 0)
		;
	return info->status;
}

void mig_shutdown_unlock(void)
{
	migration_shutdown();
	while (main_loop_wait(0) > 0)
		;
	bql_unlock();
}
