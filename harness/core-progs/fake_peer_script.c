/*
 * The fake remote peer (fakes/fake_peer.c) under the controlled scheduler.
 * argv[1]: "order" (default): a thread calls prepare while main sets a flag;
 * the program orders "fpeer-demo:main:flag-set -> fpeer:prepare:before-reply",
 * so under the script strategy prepare never returns before the flag is
 * set; "unexpected": a call nobody expected, which must end the run as
 * invariant:fake-peer:unexpected; "unused": an expectation left at the end,
 * invariant:fake-peer:unused.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <migrace/migrace.h>

#include "fake_peer.h"

static struct fpeer *peer;
static atomic_bool flag;

static void *source(void *arg)
{
	struct mgmt_remote r = fpeer_remote(peer);
	char uri[64], err[64];

	assert(r.ops->prepare(r.opaque, "vm1", uri, sizeof(uri), err, sizeof(err)) == 0);
	assert(strcmp(uri, "mem:vm1") == 0);
	assert(atomic_load(&flag));	/* the script delayed the reply until main set it */
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "order";
	struct mgmt_remote r;
	char err[64];
	pthread_t t;

	peer = fpeer_new();
	r = fpeer_remote(peer);
	if (strcmp(mode, "unexpected") == 0) {
		r.ops->confirm(r.opaque, "vm1", 0, err, sizeof(err));
		puts("the unexpected call went through");
		return 0;
	}
	if (strcmp(mode, "unused") == 0) {
		fpeer_expect(peer, &(struct fpeer_expect){ .op = FPEER_FINISH });
		fpeer_free(peer);
		puts("the unused expectation went unnoticed");
		return 0;
	}
	migrace_order("fpeer-demo:main:flag-set", "fpeer:prepare:before-reply");
	fpeer_expect(peer, &(struct fpeer_expect){ .op = FPEER_PREPARE, .dom = "vm1", .uri = "mem:vm1" });
	pthread_create(&t, NULL, source, NULL);
	atomic_store(&flag, true);
	SYNC_POINT("fpeer-demo:main:flag-set");
	pthread_join(t, NULL);
	fpeer_free(peer);
	MIGRACE_CHECK_THREADS_JOINED();
	puts("order: prepare replied after the flag");
	return 0;
}
