/*
 * A managed migration under the controlled scheduler: two management drivers
 * (source and destination) in one process, each domain's "QEMU" a fake
 * monitor over the in-memory channel, the destination reached through the
 * local peer; Begin, Prepare, Perform, Finish, Confirm (peer to peer) while
 * another thread queries the source domain (a QUERY job, allowed by the
 * migration's mask). argv[1]: "migrate" (default: it must complete) or
 * "destroy" (a third thread destroys the source domain at any moment: the
 * migration may fail, the end state must be consistent). Every invariant of
 * core/mgmt/invariants.h is checked on every step.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <migrace/migrace.h>

#include "domain.h"
#include "error.h"
#include "fake_monitor.h"
#include "invariants.h"
#include "mem_channel.h"
#include "migrate.h"
#include "process.h"
#include "remote_local.h"

struct side {
	struct mgmt_driver drv;
	struct fmon_qemu q;
	struct fmon *fm;
};

static struct side src, dst;

/* destroy mode: which commands arrive depends on the schedule, so the
 * scripts' leftovers are not failures; everything else still is */
static void tolerate_unused(const char *name, const char *file, int line, const char *msg)
{
	if (strcmp(name, "fake-monitor:unused") != 0)
		migrace_invariant_failed(name, file, line, "%s", msg);
}

static void *query_thread(void *arg)
{
	char status[32];

	for (int i = 0; i < 2; i++)
		mgmt_domain_query(&src.drv, "vm", status, sizeof(status));
	return NULL;
}

static void *destroy_thread(void *arg)
{
	mgmt_domain_destroy(&src.drv, "vm");
	return NULL;
}

static void setup_side(struct side *s, const char *name)
{
	s->fm = fmon_new(name);
	assert(s->fm);
	fmon_qemu_add(&s->q, "vm", s->fm);
	assert(mgmt_driver_init(&s->drv, name, &fmon_qemu_ops, &s->q) == 0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "migrate";
	bool destroy = strcmp(mode, "destroy") == 0;
	struct mgmt_domain_info si, di;
	struct mgmt_remote peer;
	pthread_t q, d;
	int ret, dret;

	if (!destroy && strcmp(mode, "migrate") != 0) {
		fprintf(stderr, "usage: mgmt_migrate [migrate|destroy]\n");
		return 2;
	}
	if (destroy)
		mgmt_inv_set_handler(tolerate_unused);
	mem_channel_register();
	setup_side(&src, "src");
	setup_side(&dst, "dst");
	fmon_expect(src.fm, "qmp_capabilities", NULL, NULL);
	fmon_allow(src.fm, "query-status", "status=running");
	fmon_expect(src.fm, "migrate", "uri=mem:mig", NULL);
	fmon_event(src.fm, "MIGRATION", "status=active");
	fmon_event(src.fm, "MIGRATION", "status=completed");
	fmon_expect(dst.fm, "qmp_capabilities", NULL, NULL);
	fmon_expect(dst.fm, "migrate-incoming", NULL, "uri=mem:mig");
	fmon_event(dst.fm, "MIGRATION", "status=completed");
	fmon_expect(dst.fm, "cont", NULL, NULL);
	mgmt_remote_local_init(&peer, &dst.drv);

	assert(mgmt_domain_create(&src.drv, "vm", true) == 0);
	pthread_create(&q, NULL, query_thread, NULL);
	if (destroy)
		pthread_create(&d, NULL, destroy_thread, NULL);
	ret = mgmt_migrate_p2p(&src.drv, "vm", &peer);
	if (ret && !destroy)
		fprintf(stderr, "mgmt_migrate: migration failed: %s\n", mgmt_last_error());
	pthread_join(q, NULL);
	if (destroy)
		pthread_join(d, NULL);

	/* the end state: no job left anywhere, the guest runs in one place at most */
	assert(mgmt_domain_get_info(&src.drv, "vm", &si) == 0);
	assert(si.async == MGMT_ASYNC_NONE && si.job == MGMT_JOB_NONE);
	dret = mgmt_domain_get_info(&dst.drv, "vm", &di);
	if (ret == 0) {
		assert(!si.active);
		assert(dret == 0 && di.active && !di.paused);
		assert(di.async == MGMT_ASYNC_NONE && di.job == MGMT_JOB_NONE);
	} else {
		assert(destroy);
		assert(dret == -ENOENT);	/* the destination dropped its domain */
	}
	if (!destroy)
		assert(fmon_nreceived(src.fm) >= 2 && fmon_killed(src.fm));

	mgmt_driver_destroy(&src.drv);
	mgmt_driver_destroy(&dst.drv);
	fmon_free(src.fm);
	fmon_free(dst.fm);
	MIGRACE_CHECK_THREADS_JOINED();
	return 0;
}
