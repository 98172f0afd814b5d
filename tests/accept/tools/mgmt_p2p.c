/*
 * The management core driving two real "QEMU" processes: each domain's QEMU
 * is a `migrate-vm --monitor` process already waiting on its monitor socket;
 * the source driver migrates domain "vm" peer to peer to the destination
 * driver (the local peer, both drivers in this process): Begin, Prepare
 * (migrate-incoming on the destination process), Perform (migrate, MIGRATION
 * events), Finish (cont), Confirm (the source QEMU is killed: its monitor
 * hangs up). Used by tests/accept/migrate_vm_monitor.sh.
 *
 *     mgmt_p2p unix:SRC.sock unix:DST.sock
 *
 * Prints the outcome and both domains' states; exit 0 when the migration
 * completed and the domain runs on the destination only, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "channel.h"
#include "domain.h"
#include "error.h"
#include "migrate.h"
#include "process.h"
#include "remote_local.h"

struct qemu {
	const char *uri;              /* its monitor */
	struct channel *mon;          /* our end, for kill */
};

/* The process was started by the caller: connect to its monitor (it may not
 * listen yet: retry for 10 s). */
static int qemu_start(void *opaque, const char *dom, bool incoming, struct channel **mon)
{
	struct qemu *q = opaque;
	int ret = -ECONNREFUSED;

	for (int i = 0; i < 1000 && ret; i++) {
		ret = channel_connect(q->uri, mon);
		if (ret) {
			struct timespec ts = { 0, 10 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	if (ret == 0) {
		channel_ref(*mon);
		q->mon = *mon;
	}
	return ret;
}

/* "Kill" the process: hang up its monitor; migrate-vm then exits, printing
 * its guest's state. Never blocks. */
static void qemu_kill(void *opaque, const char *dom)
{
	struct qemu *q = opaque;

	if (q->mon)
		channel_shutdown(q->mon, SHUT_RDWR);
}

static const struct mgmt_qemu_ops ops = { .start = qemu_start, .kill = qemu_kill };

static void print_info(const char *side, struct mgmt_driver *drv)
{
	struct mgmt_domain_info info;

	if (mgmt_domain_get_info(drv, "vm", &info))
		printf("mgmt_p2p: %s: no domain\n", side);
	else
		printf("mgmt_p2p: %s: %s%s, job %d, async job %d\n", side, info.active ? "active" : "inactive",
		       info.active && info.paused ? " paused" : "", (int)info.job, (int)info.async);
}

int main(int argc, char **argv)
{
	struct qemu srcq = { 0 }, dstq = { 0 };
	struct mgmt_driver src, dst;
	struct mgmt_domain_info si, di;
	struct mgmt_remote peer;

	if (argc != 3) {
		fprintf(stderr, "usage: mgmt_p2p unix:SRC_MONITOR unix:DST_MONITOR\n");
		return 2;
	}
	srcq.uri = argv[1];
	dstq.uri = argv[2];
	if (mgmt_driver_init(&src, "src", &ops, &srcq) || mgmt_driver_init(&dst, "dst", &ops, &dstq)) {
		fprintf(stderr, "mgmt_p2p: cannot start the drivers: %s\n", mgmt_last_error());
		return 1;
	}
	mgmt_remote_local_init(&peer, &dst);
	int ret = mgmt_domain_create(&src, "vm", true);
	if (ret)
		fprintf(stderr, "mgmt_p2p: create: %s\n", mgmt_last_error());
	else if ((ret = mgmt_migrate_p2p(&src, "vm", &peer)))
		fprintf(stderr, "mgmt_p2p: migration failed: %s\n", mgmt_last_error());
	else
		printf("mgmt_p2p: migration completed\n");
	print_info("source", &src);
	print_info("destination", &dst);
	bool ok = ret == 0 && mgmt_domain_get_info(&src, "vm", &si) == 0 && !si.active &&
		  mgmt_domain_get_info(&dst, "vm", &di) == 0 && di.active && !di.paused;
	mgmt_driver_destroy(&src);
	mgmt_driver_destroy(&dst);      /* kills the destination's QEMU too */
	if (srcq.mon)
		channel_unref(srcq.mon);
	if (dstq.mon)
		channel_unref(dstq.mon);
	return ok ? 0 : 1;
}
