/*
 * What the management-core scenarios share: one driver with one running
 * domain ("vm") whose QEMU is a fake monitor (fakes/fake_monitor.h) over the
 * in-memory channel, API calls run in threads of their own, and a teardown
 * that joins everything.
 *
 *     struct scen_mgmt m;
 *     scen_mgmt_setup(&m);                    // the fake expects qmp_capabilities
 *     fmon_expect_eof(m.fm, "query-status", NULL);   // the scenario's script
 *     scen_mgmt_start(&m, false);             // creates and starts "vm"
 *     struct scen_mgmt_call *q = scen_mgmt_spawn(&m, SCEN_MGMT_QUERY);
 *     int ret = scen_mgmt_join(q);            // its result; q->err its error
 *     ... checks (scen_mgmt_info) ...
 *     scen_mgmt_free(&m);                     // every thread joined, checked
 */
#ifndef SCENARIOS_MGMT_SETUP_H
#define SCENARIOS_MGMT_SETUP_H

#include <pthread.h>
#include <stdbool.h>

#include "domain.h"
#include "error.h"
#include "fake_monitor.h"
#include "process.h"

#define SCEN_DOM "vm"
#define SCEN_MGMT_MAX_CALLS 4
#define SCEN_MGMT_MAX_QEMUS 3

/* The domain APIs a scenario can run in a thread (process.h). */
enum scen_mgmt_api {
	SCEN_MGMT_QUERY,	/* mgmt_domain_query: QUERY job, query-status */
	SCEN_MGMT_MODIFY,	/* mgmt_domain_modify: MODIFY job, device_add */
	SCEN_MGMT_DESTROY,	/* mgmt_domain_destroy: kill, DESTROY job, stop */
	SCEN_MGMT_ABORT,	/* mgmt_domain_abort_job: ABORT job, migrate_cancel */
	SCEN_MGMT_RESTART,	/* mgmt_domain_restart: MODIFY job, stop, start a new QEMU */
};

/* One API call on its own thread. */
struct scen_mgmt_call {
	struct scen_mgmt *m;		/* immutable */
	enum scen_mgmt_api api;		/* immutable */
	pthread_t thread;
	bool joined;			/* the spawning thread only */
	int ret;			/* written by the call's thread, read after the join */
	char status[32];		/* QUERY: the status it read */
	char err[MGMT_ERROR_MAX];	/* the call's last error, read after the join */
};

struct scen_mgmt {
	struct mgmt_driver drv;
	struct fmon_qemu q;
	struct fmon *fm;		/* the domain's QEMU */
	struct fmon *next[SCEN_MGMT_MAX_QEMUS];	/* the QEMUs of its restarts, in order */
	int nnext;
	bool persistent;		/* how scen_mgmt_start created "vm" */
	int ncalls;
	struct scen_mgmt_call calls[SCEN_MGMT_MAX_CALLS];
};

/*
 * The driver (job waits of 30 s, virtual time under the harness) and the fake
 * QEMU of "vm", whose script starts with qmp_capabilities; the scenario
 * appends the rest of the script before scen_mgmt_start. Aborts on failure.
 */
void scen_mgmt_setup(struct scen_mgmt *m);
/*
 * The fake QEMU of the next start of "vm" (a restart: a new instance), its
 * script started with qmp_capabilities; the scenario appends the rest.
 * Freed by scen_mgmt_free. Aborts on failure.
 */
struct fmon *scen_mgmt_next_qemu(struct scen_mgmt *m);
/* Create and start "vm" (transient unless persistent) on the calling thread. */
void scen_mgmt_start(struct scen_mgmt *m, bool persistent);
/* Run api on "vm" in a new thread. */
struct scen_mgmt_call *scen_mgmt_spawn(struct scen_mgmt *m, enum scen_mgmt_api api);
/* Join the call's thread; its result (0 or -errno, the error in c->err). */
int scen_mgmt_join(struct scen_mgmt_call *c);
/* The state of "vm" (mgmt_domain_get_info): 0, or -ENOENT once it is gone. */
int scen_mgmt_info(struct scen_mgmt *m, struct mgmt_domain_info *info);
/*
 * Let the event worker run until "vm" is stopped (an EOF is queued by the
 * monitor's event thread, maybe after the API that saw it returned): 0 with
 * info of the inactive persistent domain, -ENOENT once a transient one is
 * gone; aborts if it is still running after 1000 rounds (virtual time).
 */
int scen_mgmt_wait_gone(struct scen_mgmt *m, struct mgmt_domain_info *info);
/*
 * Join the calls not joined yet, let the event worker finish what is queued,
 * destroy the driver (monitor event threads reaped), free the fake (its
 * unused script items fail the run) and check that every thread of the
 * program was joined (MIGRACE_CHECK_THREADS_JOINED).
 */
void scen_mgmt_free(struct scen_mgmt *m);

#endif
