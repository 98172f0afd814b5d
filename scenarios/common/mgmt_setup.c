/*
 * The management-core scenarios' shared setup (see mgmt_setup.h): a driver,
 * its fake QEMU, API calls on threads, and the teardown that joins them all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <migrace/migrace.h>

#include "mem_channel.h"
#include "mgmt_setup.h"

static void __attribute__((noreturn)) scen_mgmt_die(const char *what, int err)
{
	fprintf(stderr, "mgmt_setup: %s: %s (%s)\n", what, strerror(err < 0 ? -err : err),
		mgmt_last_error());
	abort();
}

void scen_mgmt_setup(struct scen_mgmt *m)
{
	int ret;

	memset(m, 0, sizeof(*m));
	mem_channel_register();
	m->fm = fmon_new("qemu-" SCEN_DOM);
	if (!m->fm)
		scen_mgmt_die("fmon_new", -ENOMEM);
	ret = fmon_qemu_add(&m->q, SCEN_DOM, m->fm);
	if (ret)
		scen_mgmt_die("fmon_qemu_add", ret);
	ret = fmon_expect(m->fm, "qmp_capabilities", NULL, NULL);
	if (ret)
		scen_mgmt_die("fmon_expect", ret);
	/* the fake QEMU is no part of the race: every schedule forks from here
	 * (the driver starts its threads next) */
	migrace_fork_here();
	ret = mgmt_driver_init(&m->drv, "scen", &fmon_qemu_ops, &m->q);
	if (ret)
		scen_mgmt_die("mgmt_driver_init", ret);
}

struct fmon *scen_mgmt_next_qemu(struct scen_mgmt *m)
{
	struct fmon *f;
	int ret;

	if (m->nnext == SCEN_MGMT_MAX_QEMUS)
		scen_mgmt_die("scen_mgmt_next_qemu", -ENOSPC);
	f = fmon_new("qemu-" SCEN_DOM "-restarted");
	if (!f)
		scen_mgmt_die("fmon_new", -ENOMEM);
	m->next[m->nnext++] = f;
	ret = fmon_qemu_add(&m->q, SCEN_DOM, f);
	if (ret)
		scen_mgmt_die("fmon_qemu_add", ret);
	ret = fmon_expect(f, "qmp_capabilities", NULL, NULL);
	if (ret)
		scen_mgmt_die("fmon_expect", ret);
	return f;
}

void scen_mgmt_start(struct scen_mgmt *m, bool persistent)
{
	int ret = mgmt_domain_create(&m->drv, SCEN_DOM, persistent);

	m->persistent = persistent;
	if (ret)
		scen_mgmt_die("mgmt_domain_create", ret);
}

static void *scen_mgmt_call_thread(void *arg)
{
	struct scen_mgmt_call *c = arg;
	struct mgmt_driver *drv = &c->m->drv;

	switch (c->api) {
	case SCEN_MGMT_QUERY:
		c->ret = mgmt_domain_query(drv, SCEN_DOM, c->status, sizeof(c->status));
		break;
	case SCEN_MGMT_MODIFY:
		c->ret = mgmt_domain_modify(drv, SCEN_DOM);
		break;
	case SCEN_MGMT_DESTROY:
		c->ret = mgmt_domain_destroy(drv, SCEN_DOM);
		break;
	case SCEN_MGMT_ABORT:
		c->ret = mgmt_domain_abort_job(drv, SCEN_DOM);
		break;
	case SCEN_MGMT_RESTART:
		c->ret = mgmt_domain_restart(drv, SCEN_DOM);
		break;
	}
	if (c->ret)
		mgmt_error_copy(c->err, sizeof(c->err));
	return NULL;
}

struct scen_mgmt_call *scen_mgmt_spawn(struct scen_mgmt *m, enum scen_mgmt_api api)
{
	struct scen_mgmt_call *c;
	int ret;

	if (m->ncalls == SCEN_MGMT_MAX_CALLS)
		scen_mgmt_die("scen_mgmt_spawn", -ENOSPC);
	c = &m->calls[m->ncalls++];
	*c = (struct scen_mgmt_call){ .m = m, .api = api };
	ret = pthread_create(&c->thread, NULL, scen_mgmt_call_thread, c);
	if (ret)
		scen_mgmt_die("pthread_create", ret);
	return c;
}

int scen_mgmt_join(struct scen_mgmt_call *c)
{
	if (!c->joined) {
		pthread_join(c->thread, NULL);
		c->joined = true;
	}
	return c->ret;
}

int scen_mgmt_info(struct scen_mgmt *m, struct mgmt_domain_info *info)
{
	return mgmt_domain_get_info(&m->drv, SCEN_DOM, info);
}

int scen_mgmt_wait_gone(struct scen_mgmt *m, struct mgmt_domain_info *info)
{
	for (int i = 0; i < 1000; i++) {
		int ret;

		mgmt_worker_flush(&m->drv);
		ret = scen_mgmt_info(m, info);
		if (ret || (m->persistent && !info->active))
			return ret;	/* a transient one goes from the list after its stop */
		usleep(1000);
	}
	scen_mgmt_die("the domain is still running", -ETIMEDOUT);
}

void scen_mgmt_free(struct scen_mgmt *m)
{
	for (int i = 0; i < m->ncalls; i++)
		scen_mgmt_join(&m->calls[i]);
	mgmt_worker_flush(&m->drv);
	mgmt_driver_destroy(&m->drv);	/* stops the worker, reaps the monitors' threads */
	fmon_free(m->fm);
	m->fm = NULL;
	for (int i = 0; i < m->nnext; i++)
		fmon_free(m->next[i]);
	m->nnext = 0;
	MIGRACE_CHECK_THREADS_JOINED();
}
