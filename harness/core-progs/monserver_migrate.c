/*
 * A migration driven only through two monitors, under the controlled
 * scheduler: a source "QEMU" and a destination "QEMU" in one process, each
 * with its monitor server (monserver.c) on an in-memory channel, and a
 * client thread, the management layer, that sends migrate-incoming, migrate
 * (and, with argv[1] "cancel", migrate_cancel at once) and waits for the
 * MIGRATION events. The main thread runs the main loop. Checks: the guest
 * runs on exactly one side at the end, the events agree with the states,
 * the destination's memory is the source's, quit gives EOF on both.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <migrace/migrace.h>

#include "main_loop.h"
#include "mem_channel.h"
#include "migration.h"
#include "monserver.h"
#include "../../tests/unit/mon_client.h"

#define PAGES 8

struct side {
	struct guest_ram ram;
	struct vm vm;
	struct monserver *srv;
	struct channel *client_end;
	struct mon_client cl;
};

static struct side src, dst;
static bool cancel;
static atomic_bool client_done;
static bool completed;		/* client thread, read by main after the join */

static void side_open(struct side *s, bool incoming)
{
	struct monserver_config cfg = { .vm = &s->vm, .ram = &s->ram, .incoming = incoming };
	struct channel *server_end;

	assert(ram_init(&s->ram, PAGES * RAM_PAGE_SIZE) == 0);
	/* no vCPU on the destination: its memory stays what was loaded */
	assert(vm_init(&s->vm, &s->ram, incoming ? 0 : 1, 1, incoming ? RUN_STATE_INMIGRATE : RUN_STATE_RUNNING) == 0);
	assert(mem_channel_pair(&s->client_end, &server_end) == 0);
	assert(monserver_start(&cfg, server_end, &s->srv) == 0);
	channel_unref(server_end);
	mon_client_init(&s->cl, s->client_end, incoming ? "dst" : "src");
}

static const char *field(struct side *s, const char *cmd, const char *key)
{
	static struct mon_msg r;

	assert(mon_client_cmd(&s->cl, &r, cmd, NULL) == 0);
	return mon_msg_get(&r, key);
}

static void *client(void *arg)
{
	struct mon_msg r;

	assert(mon_client_cmd(&dst.cl, &r, "migrate-incoming", "uri", "mem:migration", NULL) == 0);
	assert(mon_client_cmd(&src.cl, &r, "migrate", "uri", "mem:migration", "return-path", "true", NULL) == 0);
	if (cancel)	/* refused once the guest is stopped for the last pass: then it completes */
		assert(mon_client_cmd(&src.cl, &r, "migrate_cancel", NULL) >= 0);
	int end = mon_client_wait_event(&src.cl, "MIGRATION:completed|MIGRATION:cancelled|MIGRATION:failed");
	assert(end >= 0);
	completed = strcmp(src.cl.events[end], "MIGRATION:completed") == 0;
	assert(completed || cancel);
	assert(mon_client_wait_event(&dst.cl, completed ? "MIGRATION:completed" : "MIGRATION:failed") >= 0);
	assert(strcmp(field(&src, "query-status", "status"), completed ? "postmigrate" : "running") == 0);
	assert(strcmp(field(&dst, "query-status", "status"), completed ? "running" : "inmigrate") == 0);
	assert(strcmp(field(&dst, "query-migrate", "status"), completed ? "completed" : "failed") == 0);
	if (completed)
		assert(ram_hash(&dst.ram) == ram_hash(&src.ram));
	assert(mon_client_cmd(&dst.cl, &r, "quit", NULL) == 0);
	assert(mon_client_wait_eof(&dst.cl) == 0);
	assert(mon_client_cmd(&src.cl, &r, "quit", NULL) == 0);
	assert(mon_client_wait_eof(&src.cl) == 0);
	atomic_store(&client_done, true);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t cl;

	cancel = argc > 1 && strcmp(argv[1], "cancel") == 0;
	mem_channel_register();
	main_loop_init();
	side_open(&src, false);
	side_open(&dst, true);
	bql_lock();
	migration_object_init(&src.vm, &src.ram);
	bql_unlock();
	pthread_create(&cl, NULL, client, NULL);
	while (!atomic_load(&client_done))
		main_loop_wait(10);
	pthread_join(cl, NULL);

	bql_lock();
	migration_shutdown();
	bql_unlock();
	while (migrate_get_current())
		main_loop_wait(10);
	while (main_loop_wait(0) > 0)
		;
	assert(monserver_quit_requested(src.srv) && monserver_quit_requested(dst.srv));
	monserver_free(dst.srv);
	monserver_free(src.srv);
	assert(vm_start_count(&dst.vm) == (completed ? 1 : 0));
	assert(runstate_get(&dst.vm) == RUN_STATE_SHUTDOWN && runstate_get(&src.vm) == RUN_STATE_SHUTDOWN);
	for (struct side *s = &src; s; s = s == &src ? &dst : NULL) {
		channel_close(s->client_end);
		channel_unref(s->client_end);
		vm_destroy(&s->vm);
		ram_destroy(&s->ram);
	}
	main_loop_cleanup();
	MIGRACE_CHECK_THREADS_JOINED();
	printf("%s: %s\n", cancel ? "cancel" : "complete", completed ? "completed" : "cancelled");
	return 0;
}
