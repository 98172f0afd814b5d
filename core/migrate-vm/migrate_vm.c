/*
 * migrate-vm: migrates a running guest between two processes with the core,
 * over a Unix socket, and verifies the result. The launcher forks the
 * destination, runs the source itself, and exits 0 only when the destination's
 * memory equals the source's final memory (or, with --cancel-after, when the
 * guest runs again on the source and never started on the destination; with
 * --postcopy, the pages as they arrived; with --fail-after, a pause on both
 * sides, then with --recover a recovered, complete postcopy).
 * With --monitor it is instead one "QEMU" serving its monitor (monserver.h),
 * a source or (--incoming) a destination, driven by a management layer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "cpr.h"
#include "device.h"
#include "incoming.h"
#include "main_loop.h"
#include "migration.h"
#include "monserver.h"
#include "postcopy_ram.h"
#include "ram.h"
#include "vm.h"
#include "wire.h"

struct opts {
	unsigned ram_mib, vcpus, multifd;
	long cancel_after_ms;        /* -1: no cancel */
	uint64_t bandwidth;          /* bytes/s, 0 unlimited */
	uint64_t downtime_ms;
	bool cpr, verbose;
	bool postcopy;               /* --postcopy: switch once half the first pass is out */
	long fail_after_ms;          /* --fail-after: break the channel this long into postcopy; -1 no */
	bool recover;                /* --recover: resume a paused postcopy on a new channel */
	const char *monitor;         /* --monitor URI: serve the monitor there */
	bool incoming;               /* --incoming: as an empty destination */
	bool launcher_only;          /* an option of the launcher alone was given */
};

/* What the destination reports to the launcher, one line on a pipe. */
struct dest_report {
	int completed;               /* 1: loaded and started the guest */
	int error;
	uint64_t hash;               /* of the memory as loaded, before the guest ran */
	size_t bad_pages;            /* pages failing the guest's consistency rule */
	uint64_t starts;             /* times the guest was started there */
	int owns_device;             /* cpr: the destination owns the device */
	uint64_t postcopy_pages;     /* pages that came on the postcopy channel (requested) */
	int postcopy;                /* the migration switched to postcopy */
	uint64_t paused;             /* times postcopy paused there */
	int running_when_paused;     /* the guest ran there when it first paused */
};

static const char usage[] =
	"usage: migrate-vm [--ram MIB] [--vcpus N] [--multifd N] [--mode precopy|cpr]\n"
	"                  [--cancel-after MS] [--bandwidth MIB_PER_S] [--downtime MS] [--verbose]\n"
	"                  [--postcopy [--fail-after MS [--recover]]]\n"
	"\n"
	"Starts a destination process and a source process with a running guest of\n"
	"--ram MiB (default 64) whose --vcpus vCPUs (default 2) dirty memory, migrates it\n"
	"over a Unix socket and verifies the destination's memory against the source's\n"
	"final state. With --cancel-after MS the source cancels after MS ms and must end\n"
	"cancelled with the guest running again on the source, never on the destination.\n"
	"Exit: 0 verified; 1 the migration or the verification failed; 2 bad arguments.\n"
	"--mode cpr (cpr-transfer): the guest's RAM is a memfd and it has a device; the\n"
	"source stops the guest, releases the device and hands RAM and device over a\n"
	"second socket before the stream; the destination must own the device.\n"
	"--multifd N sends the pages over N more sockets, each with its own thread on\n"
	"both sides.\n"
	"--postcopy switches to postcopy once half the first pass went out: the guest stops\n"
	"on the source and runs on the destination, whose vCPUs wait for the pages it\n"
	"does not have and request them over the return path; the source sends those on\n"
	"a postcopy socket and the rest in the background. Verified: the pages as they\n"
	"arrived equal the source's memory when it stopped, the guest started once.\n"
	"--fail-after MS (with --postcopy) breaks the main channel MS ms into postcopy\n"
	"(migrate-pause): both sides must pause, the guest running on the destination;\n"
	"without --recover that is the verified end. --recover then resumes on a new\n"
	"channel (migrate-recover on the destination, migrate resume=true on the source)\n"
	"and the postcopy migration must complete and verify as above.\n"
	"Not implemented yet: --mode cpr with --cancel-after (exit 2).\n"
	"\n"
	"       migrate-vm --monitor unix:PATH [--incoming] [--ram MIB] [--vcpus N]\n"
	"\n"
	"Is one \"QEMU\" instead: a running guest (a source) or, with --incoming, an\n"
	"empty destination waiting for migrate-incoming, serving its monitor (the line\n"
	"protocol of core/migration/monproto.h) on PATH to one client. The client\n"
	"drives everything (query-status, stop, cont, migrate, migrate_cancel,\n"
	"query-migrate, migrate-incoming, migrate-start-postcopy, migrate-pause,\n"
	"migrate-recover, qmp_capabilities, device_add, quit) and gets\n"
	"the events (STOP, RESUME,\n"
	"MIGRATION, SHUTDOWN). It exits once the client sent quit (0) or hung up (1),\n"
	"printing a line with the guest's runstate and the hash of its memory when the\n"
	"source stopped for the last pass, or as the destination loaded it.\n"
	"migrate-incoming without a uri listens on unix:PATH.mig.\n";

static unsigned long parse_num(const char *opt, const char *v, unsigned long min, unsigned long max)
{
	char *e;
	errno = 0;
	unsigned long x = strtoul(v, &e, 10);
	if (!*v || *v == '-' || errno || *e || x < min || x > max) {
		fprintf(stderr, "migrate-vm: %s needs a number from %lu to %lu, not '%s'\n", opt, min, max, v);
		exit(2);
	}
	return x;
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "ram", 1, NULL, 'r' }, { "vcpus", 1, NULL, 'c' }, { "multifd", 1, NULL, 'm' },
		{ "mode", 1, NULL, 'M' }, { "cancel-after", 1, NULL, 'x' }, { "bandwidth", 1, NULL, 'b' },
		{ "downtime", 1, NULL, 'd' }, { "verbose", 0, NULL, 'v' }, { "help", 0, NULL, 'h' },
		{ "monitor", 1, NULL, 'o' }, { "incoming", 0, NULL, 'i' }, { "postcopy", 0, NULL, 'P' },
		{ "fail-after", 1, NULL, 'F' }, { "recover", 0, NULL, 'R' }, { 0 },
	};
	int c;

	*o = (struct opts){ .ram_mib = 64, .vcpus = 2, .cancel_after_ms = -1, .downtime_ms = 300,
			    .fail_after_ms = -1 };
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		o->launcher_only |= c == 'm' || c == 'M' || c == 'x' || c == 'b' || c == 'd' || c == 'P' || c == 'F' ||
				   c == 'R';
		switch (c) {
		case 'r': o->ram_mib = (unsigned)parse_num("--ram", optarg, 1, 16384); break;
		case 'c': o->vcpus = (unsigned)parse_num("--vcpus", optarg, 0, 16); break;
		case 'm': o->multifd = (unsigned)parse_num("--multifd", optarg, 0, MULTIFD_MAX_CHANNELS); break;
		case 'x': o->cancel_after_ms = (long)parse_num("--cancel-after", optarg, 0, 3600000); break;
		case 'b': o->bandwidth = parse_num("--bandwidth", optarg, 1, 100000) << 20; break;
		case 'd': o->downtime_ms = parse_num("--downtime", optarg, 1, 60000); break;
		case 'v': o->verbose = true; break;
		case 'o': o->monitor = optarg; break;
		case 'i': o->incoming = true; break;
		case 'P': o->postcopy = true; break;
		case 'F': o->fail_after_ms = (long)parse_num("--fail-after", optarg, 0, 3600000); break;
		case 'R': o->recover = true; break;
		case 'M':
			if (strcmp(optarg, "precopy") && strcmp(optarg, "cpr")) {
				fprintf(stderr, "migrate-vm: --mode must be precopy or cpr, not '%s'\n", optarg);
				exit(2);
			}
			o->cpr = strcmp(optarg, "cpr") == 0;
			break;
		case 'h': fputs(usage, stdout); exit(0);
		default: fputs(usage, stderr); exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "migrate-vm: unexpected argument '%s'\n", argv[optind]);
		exit(2);
	}
	if (o->incoming && !o->monitor) {
		fprintf(stderr, "migrate-vm: --incoming needs --monitor\n");
		exit(2);
	}
	if (o->monitor && o->launcher_only) {
		fprintf(stderr, "migrate-vm: with --monitor, the migration's parameters are the migrate command's\n");
		exit(2);
	}
	if (o->fail_after_ms >= 0 && !o->postcopy) {
		fprintf(stderr, "migrate-vm: --fail-after breaks a postcopy migration: it needs --postcopy\n");
		exit(2);
	}
	if (o->recover && o->fail_after_ms < 0) {
		fprintf(stderr, "migrate-vm: --recover needs --fail-after (nothing to recover from)\n");
		exit(2);
	}
	if (o->postcopy && o->cancel_after_ms >= 0) {
		fprintf(stderr, "migrate-vm: --postcopy with --cancel-after: a postcopy migration cannot be cancelled\n");
		exit(2);
	}
	if (o->postcopy && (o->cpr || o->multifd)) {
		fprintf(stderr, "migrate-vm: --postcopy goes with neither --mode cpr nor --multifd\n");
		exit(2);
	}
	if (o->cpr && o->cancel_after_ms >= 0) {
		fprintf(stderr, "migrate-vm: --mode cpr with --cancel-after is not implemented yet\n");
		exit(2);
	}
}

/* The source's final state: its memory when the migration stopped the guest
 * (in cpr mode the memory is shared, and the destination's guest changes it
 * afterwards). A state-change notifier runs once the vCPUs are quiet. */
static uint64_t src_stop_hash, src_stop_digest;
static bool src_stopped;
static bool src_paused;           /* the source's postcopy paused (--fail-after) */

static void on_source_state(void *opaque, bool running, RunState state)
{
	if (!running && state == RUN_STATE_FINISH_MIGRATE) {
		src_stop_hash = ram_hash(opaque);
		src_stop_digest = ram_pages_digest(opaque);
		src_stopped = true;
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char recover_uri[128];     /* where a recovery connects (--fail-after) */

/*
 * The destination's wait (--fail-after): each time postcopy pauses, note
 * whether the guest still runs, then accept the source's new channel on rl
 * and recover (--recover), or give up (cancel: the guest keeps what it has).
 */
static int dest_wait_postcopy(const struct opts *o, struct mig_incoming *inc, struct vm *vm,
			      struct channel_listener *rl, struct dest_report *rep)
{
	const struct timespec tick = { 0, 2 * 1000000L }, settle = { 0, 100 * 1000000L };
	bool was_paused = false;

	for (;;) {
		enum mig_incoming_state st = mig_incoming_get_state(inc);
		if (st == MIG_INCOMING_COMPLETED || st == MIG_INCOMING_FAILED)
			break;
		bool paused = st == MIG_INCOMING_POSTCOPY_PAUSED;
		if (paused && !was_paused) {
			if (rep->paused++ == 0)
				rep->running_when_paused = runstate_is_running(vm);
			struct channel *ch;
			if (!o->recover) {
				nanosleep(&settle, NULL);
				mig_incoming_cancel(inc);
			} else if (channel_accept(rl, &ch) == 0) {
				if (mig_incoming_recover(inc, ch, rl))
					mig_incoming_cancel(inc);
				channel_unref(ch);
			}
		}
		was_paused = paused;
		nanosleep(&tick, NULL);
	}
	return mig_incoming_wait(inc);
}

/* The destination process: accept, load, report, let the guest run a bit. */
static int destination(const struct opts *o, const char *uri, const char *cpr_uri, int ready_fd, int report_fd)
{
	struct channel_listener *l, *cl = NULL;
	struct guest_ram ram;
	struct vm vm;
	struct vdev dev;
	struct mig_incoming inc;
	struct channel *ch;
	struct dest_report rep = { 0 };
	size_t bytes = (size_t)o->ram_mib << 20;

	struct channel_listener *rl = NULL;
	int ret = channel_listen(uri, &l);
	if (ret == 0 && o->cpr)
		ret = channel_listen(cpr_uri, &cl);
	if (ret == 0 && o->fail_after_ms >= 0)
		ret = channel_listen(recover_uri, &rl);
	char ready = ret ? 'E' : 'R';
	if (write(ready_fd, &ready, 1) != 1 || ret) {
		fprintf(stderr, "migrate-vm: destination: listen: %s\n", strerror(-ret));
		return 1;
	}
	close(ready_fd);
	if (o->cpr) {
		/* the RAM and the device come from the source, before anything else */
		ret = cpr_transfer_load(cl, bytes, &ram, &dev);
		channel_listener_close(cl);
		if (ret) {
			fprintf(stderr, "migrate-vm: destination: cpr-transfer: %s\n", strerror(-ret));
			rep.error = ret;
			return write(report_fd, &rep, sizeof(rep)) == sizeof(rep) ? 0 : 1;
		}
	} else if (ram_init(&ram, bytes)) {
		return 1;
	}
	if (vm_init(&vm, &ram, (int)o->vcpus, 2, RUN_STATE_INMIGRATE) || mig_incoming_init(&inc, &vm, &ram))
		return 1;
	ret = channel_accept(l, &ch);
	if (ret == 0) {
		mig_incoming_set_listener(&inc, l);      /* the multifd channels come there */
		ret = mig_incoming_start(&inc, ch);
		channel_unref(ch);
	}
	if (ret == 0)
		ret = rl ? dest_wait_postcopy(o, &inc, &vm, rl, &rep) : mig_incoming_wait(&inc);
	channel_listener_close(l);
	if (rl)
		channel_listener_close(rl);
	rep.completed = ret == 0;
	rep.error = ret;
	rep.hash = mig_incoming_loaded_hash(&inc);
	rep.bad_pages = ram_check(&ram, NULL);
	rep.starts = vm_start_count(&vm);
	rep.owns_device = o->cpr && vdev_is_owner(&dev);
	rep.postcopy_pages = atomic_load(&inc.pc_pages);
	rep.postcopy = inc.postcopy != NULL;
	rep.paused = mig_incoming_pauses(&inc);
	if (write(report_fd, &rep, sizeof(rep)) != sizeof(rep))
		return 1;
	if (rep.completed) {
		struct timespec ts = { 0, 50 * 1000000L };   /* the guest runs here now */
		nanosleep(&ts, NULL);
	}
	mig_incoming_cleanup(&inc);
	vm_destroy(&vm);
	ram_destroy(&ram);
	if (o->cpr) {
		vdev_reset_owner(&dev);
		vdev_close(&dev);
	}
	return 0;
}

static MigrationStatus run_source(const struct opts *o, const char *uri, const char *cpr_uri, struct vm *vm,
				  struct mig_info *info)
{
	struct mig_params params = { .return_path = true, .max_bandwidth = o->bandwidth,
				     .downtime_limit_ms = o->downtime_ms, .cpr_uri = o->cpr ? cpr_uri : NULL,
				     .multifd_channels = (int)o->multifd, .postcopy = o->postcopy };
	bool cancelled = false, switched = false, broke = false, resuming = false;
	int64_t postcopy_at = -1;
	int64_t start = now_ms();

	bql_lock();
	int ret = qmp_migrate(uri, &params);
	if (ret) {
		fprintf(stderr, "migrate-vm: migrate: %s\n", strerror(-ret));
		bql_unlock();
		return MIGRATION_STATUS_FAILED;
	}
	for (;;) {
		qmp_query_migrate(info);
		if (o->postcopy && !switched && info->status == MIGRATION_STATUS_ACTIVE &&
		    info->pages_sent >= ((size_t)o->ram_mib << 20) / RAM_PAGE_SIZE / 2) {
			ret = qmp_migrate_start_postcopy();
			switched = true;
			if (o->verbose)
				fprintf(stderr, "migrate-vm: postcopy at %" PRId64 " ms: %s\n", now_ms() - start,
					ret ? strerror(-ret) : "ok");
		}
		if (info->status == MIGRATION_STATUS_POSTCOPY_ACTIVE && postcopy_at < 0)
			postcopy_at = now_ms();
		if (o->fail_after_ms >= 0 && !broke && postcopy_at >= 0 &&
		    info->status == MIGRATION_STATUS_POSTCOPY_ACTIVE && now_ms() - postcopy_at >= o->fail_after_ms) {
			ret = qmp_migrate_pause();   /* the network fails */
			broke = ret == 0;
			if (o->verbose)
				fprintf(stderr, "migrate-vm: channel broken at %" PRId64 " ms into postcopy: %s\n",
					now_ms() - postcopy_at, ret ? strerror(-ret) : "ok");
		}
		if (info->status == MIGRATION_STATUS_POSTCOPY_PAUSED) {
			src_paused = true;
			if (!o->recover)
				break;             /* the verified end: paused on both sides */
			if (!resuming) {
				struct mig_params rp = { .resume = true };
				ret = qmp_migrate(recover_uri, &rp);
				resuming = ret == 0;
				if (o->verbose || ret)
					fprintf(stderr, "migrate-vm: migrate resume=true: %s\n", ret ? strerror(-ret) : "ok");
			}
		} else if (info->status == MIGRATION_STATUS_POSTCOPY_ACTIVE) {
			resuming = false;
		}
		if (o->cancel_after_ms >= 0 && !cancelled && now_ms() - start >= o->cancel_after_ms) {
			ret = qmp_migrate_cancel();
			cancelled = true;
			if (o->verbose)
				fprintf(stderr, "migrate-vm: cancel at %" PRId64 " ms in state %s: %s\n", now_ms() - start,
					migration_status_name(info->status), ret ? strerror(-ret) : "ok");
		}
		if (info->status == MIGRATION_STATUS_COMPLETED || info->status == MIGRATION_STATUS_FAILED ||
		    info->status == MIGRATION_STATUS_CANCELLED)
			break;
		main_loop_wait((o->cancel_after_ms >= 0 && !cancelled) || (o->postcopy && !switched) ? 1 : 20);
	}
	/* the cleanup BH has run (cancelled is set there) or is pending: flush it */
	while (main_loop_wait(0) > 0)
		;
	migration_shutdown();
	/* until the object is gone: a paused postcopy fails, then its cleanup runs */
	while (migrate_get_current() || main_loop_wait(0) > 0)
		main_loop_wait(10);
	bql_unlock();
	(void)vm;
	return info->status;
}

/* The destination's loaded memory: hashed when the guest first starts there
 * (the notifiers run before the vCPUs do). */
static uint64_t dst_start_hash;
static bool dst_started;

static void on_destination_state(void *opaque, bool running, RunState state)
{
	if (running && !dst_started) {
		dst_start_hash = ram_hash(opaque);
		dst_started = true;
	}
}

/* The source's guest, created running, with its migration object. */
static void monitor_source_init(struct vm *vm, struct guest_ram *ram)
{
	vm_state_add_notifier(vm, on_source_state, ram);
	bql_lock();
	migration_object_init(vm, ram);
	bql_unlock();
}

/* --monitor: serve one client on o->monitor until it quits or hangs up. */
static int monitor_main(const struct opts *o)
{
	struct monserver_config cfg = { .incoming = o->incoming };
	char incoming_uri[PATH_MAX + 16];
	struct channel_listener *l;
	struct monserver *srv;
	struct guest_ram ram;
	struct channel *ch;
	struct vm vm;

	if (ram_init(&ram, (size_t)o->ram_mib << 20) ||
	    vm_init(&vm, &ram, (int)o->vcpus, o->incoming ? 2 : 1, o->incoming ? RUN_STATE_INMIGRATE : RUN_STATE_RUNNING)) {
		fprintf(stderr, "migrate-vm: cannot create the guest\n");
		return 1;
	}
	cfg.vm = &vm;
	cfg.ram = &ram;
	/* migrate-incoming without a uri: next to the monitor's socket */
	snprintf(incoming_uri, sizeof(incoming_uri), "%s.mig", o->monitor);
	cfg.incoming_uri = incoming_uri;
	main_loop_init();
	if (o->incoming)
		vm_state_add_notifier(&vm, on_destination_state, &ram);
	else
		monitor_source_init(&vm, &ram);
	int ret = channel_listen(o->monitor, &l);
	if (ret) {
		fprintf(stderr, "migrate-vm: monitor: listen on %s: %s\n", o->monitor, strerror(-ret));
		return 1;
	}
	printf("migrate-vm: %s, monitor on %s\n", o->incoming ? "destination" : "source", o->monitor);
	fflush(stdout);
	ret = channel_accept(l, &ch);
	if (ret == 0) {
		ret = monserver_start(&cfg, ch, &srv);
		channel_unref(ch);
	}
	channel_listener_close(l);
	if (strncmp(o->monitor, "unix:", 5) == 0)
		unlink(o->monitor + 5);
	if (ret) {
		fprintf(stderr, "migrate-vm: monitor: %s\n", strerror(-ret));
		return 1;
	}
	while (!monserver_finished(srv))
		main_loop_wait(20);
	bool quit = monserver_quit_requested(srv);
	if (!o->incoming) {
		bql_lock();
		migration_shutdown();
		while (migrate_get_current() || main_loop_wait(0) > 0)
			main_loop_wait(10);
		bql_unlock();
	}
	monserver_free(srv);
	bool stopped = o->incoming ? dst_started : src_stopped;
	uint64_t hash = o->incoming ? dst_start_hash : src_stop_hash;
	printf("migrate-vm: %s %s: runstate %s, %" PRIu64 " starts, %zu bad pages, memory %s %016" PRIx64 "\n",
	       o->incoming ? "destination" : "source", quit ? "quit" : "lost its client", runstate_name(runstate_get(&vm)),
	       vm_start_count(&vm), ram_check(&ram, NULL), !stopped ? "(never migrated)" : o->incoming ? "loaded" : "sent",
	       hash);
	vm_destroy(&vm);
	ram_destroy(&ram);
	main_loop_cleanup();
	return quit ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct opts o;
	char dir[] = "/tmp/migrate-vm.XXXXXX", uri[128], cpr_uri[128];
	int pfd[2], rfd[2];
	char ready = 0;

	parse(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	if (o.monitor)
		return monitor_main(&o);
	if (!mkdtemp(dir) || pipe(pfd) || pipe(rfd)) {
		perror("migrate-vm");
		return 1;
	}
	snprintf(uri, sizeof(uri), "unix:%s/migration.sock", dir);
	snprintf(cpr_uri, sizeof(cpr_uri), "unix:%s/cpr.sock", dir);
	snprintf(recover_uri, sizeof(recover_uri), "unix:%s/recover.sock", dir);
	fflush(NULL);
	pid_t dest = fork();
	if (dest == 0) {
		close(pfd[0]);
		close(rfd[0]);
		_exit(destination(&o, uri, cpr_uri, rfd[1], pfd[1]));
	}
	close(pfd[1]);
	close(rfd[1]);
	if (read(rfd[0], &ready, 1) != 1 || ready != 'R') {
		fprintf(stderr, "migrate-vm: the destination did not start\n");
		kill(dest, SIGKILL);
		waitpid(dest, NULL, 0);
		return 1;
	}
	close(rfd[0]);

	struct guest_ram ram;
	struct vm vm;
	struct vdev dev;
	struct mig_info info;
	size_t bytes = (size_t)o.ram_mib << 20;
	if ((o.cpr ? ram_init_memfd(&ram, bytes) : ram_init(&ram, bytes)) ||
	    vm_init(&vm, &ram, (int)o.vcpus, 1, RUN_STATE_RUNNING) ||
	    (o.cpr && (vdev_create(&dev, NULL) || vdev_set_owner(&dev)))) {
		fprintf(stderr, "migrate-vm: cannot create the source guest\n");
		return 1;
	}
	vm_state_add_notifier(&vm, on_source_state, &ram);
	main_loop_init();
	migration_object_init(&vm, &ram);
	if (o.cpr)
		migration_set_device(&dev);
	struct timespec warmup = { 0, 50 * 1000000L };   /* the guest runs before it migrates */
	nanosleep(&warmup, NULL);
	int64_t t0 = now_ms();
	MigrationStatus st = run_source(&o, uri, cpr_uri, &vm, &info);
	int64_t took = now_ms() - t0;
	if (st == MIGRATION_STATUS_FAILED && info.pages_sent == 0)
		kill(dest, SIGTERM);       /* it may still wait for a connection */

	struct dest_report rep;
	bool have_rep = read(pfd[0], &rep, sizeof(rep)) == sizeof(rep);
	int status = 0;
	waitpid(dest, &status, 0);
	unlink(uri + 5);
	unlink(cpr_uri + 5);
	unlink(recover_uri + 5);
	rmdir(dir);

	bool ok;
	const char *why = "";
	if (o.cancel_after_ms >= 0 && st != MIGRATION_STATUS_CANCELLED) {
		ok = false;
		why = st == MIGRATION_STATUS_COMPLETED
			? "the cancel came too late: the migration was already completing (try a smaller --cancel-after)"
			: "the migration did not end cancelled";
	} else if (o.cancel_after_ms >= 0) {
		ok = runstate_is_running(&vm) && have_rep && rep.starts == 0;
		why = !runstate_is_running(&vm) ? "the guest does not run on the source"
		      : !have_rep ? "no report from the destination"
		      : rep.starts ? "the guest started on the destination too" : "";
	} else if (o.fail_after_ms >= 0 && !o.recover) {
		ok = src_paused && have_rep && rep.paused >= 1 && rep.running_when_paused && rep.starts == 1 &&
		     !runstate_is_running(&vm);
		why = !src_paused ? "the source did not pause"
		      : !have_rep ? "no report from the destination"
		      : rep.paused < 1 ? "the destination did not pause"
		      : !rep.running_when_paused ? "the guest did not run on the destination while paused"
		      : rep.starts != 1 ? "the guest did not start exactly once on the destination"
		      : runstate_is_running(&vm) ? "the guest runs on the source too" : "";
	} else if (st == MIGRATION_STATUS_COMPLETED) {
		uint64_t src_hash = o.postcopy ? src_stop_digest : src_stop_hash;
		ok = src_stopped && have_rep && rep.completed && rep.hash == src_hash && rep.bad_pages == 0 && rep.starts == 1 &&
		     runstate_get(&vm) == RUN_STATE_POSTMIGRATE &&
		     (!o.cpr || (rep.owns_device && !vdev_is_owner(&dev)));
		ok = ok && (!o.postcopy || rep.postcopy) &&
		     (!o.recover || (info.postcopy_pauses >= 1 && rep.paused >= 1 && rep.running_when_paused));
		why = !src_stopped ? "the source guest was never stopped"
		      : o.postcopy && have_rep && !rep.postcopy ? "the migration completed before the switch to postcopy"
		      : o.recover && (info.postcopy_pauses < 1 || rep.paused < 1) ? "postcopy did not pause on both sides"
		      : o.recover && !rep.running_when_paused ? "the guest did not run on the destination while paused"
		      : !have_rep || !rep.completed ? "the destination did not complete"
		      : o.cpr && !rep.owns_device ? "the destination does not own the device"
		      : o.cpr && vdev_is_owner(&dev) ? "the source still owns the device"
		      : rep.hash != src_hash ? "the destination's memory differs from the source's"
		      : rep.bad_pages ? "inconsistent pages on the destination"
		      : rep.starts != 1 ? "the guest did not start exactly once on the destination"
		      : runstate_get(&vm) != RUN_STATE_POSTMIGRATE ? "the source is not in postmigrate" : "";
	} else {
		ok = false;
		why = info.error_desc[0] ? info.error_desc : "the migration failed";
	}
	if (o.postcopy && have_rep)
		printf("migrate-vm: postcopy: %" PRIu64 " page requests, %" PRIu64 " pages sent for them, %" PRIu64
		       " placed from the postcopy channel; paused %" PRIu64 " times on the source, %" PRIu64
		       " on the destination%s\n", info.page_requests, info.requested_pages_sent, rep.postcopy_pages,
		       info.postcopy_pauses, rep.paused,
		       rep.paused ? (rep.running_when_paused ? ", the guest running there" : ", the guest NOT running there") : "");
	printf("migrate-vm: %s%s, %u MiB, %u vCPUs, %u multifd channels, %" PRIu64 " iterations, %" PRIu64 " pages sent, %" PRId64
	       " ms, guest writes %" PRIu64 ": %s%s%s\n",
	       o.cpr ? "cpr-transfer " : "", migration_status_name(st), o.ram_mib, o.vcpus, o.multifd, info.iterations, info.pages_sent, took,
	       vm_guest_writes(&vm), ok ? "verified" : "FAILED", ok ? "" : ": ", why);
	vm_destroy(&vm);
	ram_destroy(&ram);
	if (o.cpr)
		vdev_close(&dev);
	main_loop_cleanup();
	return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
