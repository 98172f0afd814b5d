/*
 * Unit tests of fakes/fake_peer.c, the scripted remote peer: each scripted
 * result (ok with a URI, error, hold until released, connection dropped and
 * staying dropped), the FIFO order per op, the record, and strictness both
 * ways (an unexpected call, expectations left unused), with a recording
 * handler and with the default one, which aborts outside the harness.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_peer.h"

#define TEST_LIMIT_S 10

static void watchdog_fired(int sig)
{
	static const char msg[] = "fake_peer: test still running after the time limit\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

/* A handler that records instead of failing the run. */
struct failures {
	int n;
	char name[64];
	char msg[256];
};

static void record_failure(void *opaque, const char *name, const char *msg)
{
	struct failures *fl = opaque;

	fl->n++;
	snprintf(fl->name, sizeof(fl->name), "%s", name);
	snprintf(fl->msg, sizeof(fl->msg), "%s", msg);
}

static struct fpeer *peer;
static struct mgmt_remote remote;
static struct failures fails;

static int setup(void **state)
{
	alarm(TEST_LIMIT_S);
	memset(&fails, 0, sizeof(fails));
	peer = fpeer_new();
	assert_non_null(peer);
	fpeer_set_fail_handler(peer, record_failure, &fails);
	remote = fpeer_remote(peer);
	return 0;
}

static int teardown(void **state)
{
	fpeer_free(peer);
	alarm(0);
	return 0;
}

static int prepare(const char *dom, char *uri, size_t len, char *err)
{
	return remote.ops->prepare(remote.opaque, dom, uri, len, err, 128);
}

static void expect(const struct fpeer_expect e)
{
	assert_int_equal(fpeer_expect(peer, &e), 0);
}

static void test_ok_results_and_record(void **state)
{
	char uri[128] = "", err[128] = "";
	struct fpeer_call c;

	expect((struct fpeer_expect){ .op = FPEER_PREPARE, .dom = "vm1", .uri = "mem:vm1-mig" });
	expect((struct fpeer_expect){ .op = FPEER_FINISH, .dom = "vm1", .want_ret = FPEER_RET_ZERO });
	expect((struct fpeer_expect){ .op = FPEER_CONFIRM, .want_ret = FPEER_RET_ZERO });
	assert_int_equal(prepare("vm1", uri, sizeof(uri), err), 0);
	assert_string_equal(uri, "mem:vm1-mig");
	assert_int_equal(remote.ops->finish(remote.opaque, "vm1", 0, err, sizeof(err)), 0);
	assert_int_equal(remote.ops->confirm(remote.opaque, "vm1", 0, err, sizeof(err)), 0);

	assert_int_equal(fpeer_ncalls(peer), 3);
	assert_int_equal(fpeer_call(peer, 0, &c), 0);
	assert_int_equal(c.op, FPEER_PREPARE);
	assert_string_equal(c.dom, "vm1");
	assert_string_equal(c.uri, "mem:vm1-mig");
	assert_int_equal(c.returned, 0);
	assert_true(c.expected);
	assert_int_equal(fpeer_call(peer, 2, &c), 0);
	assert_int_equal(c.op, FPEER_CONFIRM);
	assert_int_equal(c.ret_arg, 0);
	assert_int_equal(fpeer_call(peer, 3, &c), -ENOENT);
	assert_int_equal(fpeer_verify(peer), 0);
	assert_int_equal(fails.n, 0);
}

static void test_error_result(void **state)
{
	char uri[128] = "", err[128] = "";
	struct fpeer_call c;

	expect((struct fpeer_expect){ .op = FPEER_PREPARE, .result = FPEER_ERROR, .err = ENOSPC,
				      .msg = "no room for vm1" });
	expect((struct fpeer_expect){ .op = FPEER_FINISH, .want_ret = FPEER_RET_NONZERO, .result = FPEER_ERROR,
				      .err = EIO });
	assert_int_equal(prepare("vm1", uri, sizeof(uri), err), -ENOSPC);
	assert_string_equal(err, "no room for vm1");
	assert_string_equal(uri, "");
	assert_int_equal(remote.ops->finish(remote.opaque, "vm1", -ECANCELED, err, sizeof(err)), -EIO);
	assert_string_equal(err, strerror(EIO));
	assert_int_equal(fpeer_call(peer, 1, &c), 0);
	assert_int_equal(c.ret_arg, -ECANCELED);
	assert_int_equal(c.returned, -EIO);
	assert_int_equal(fails.n, 0);
}

/* Per op FIFO: expectations of one op come out in order, whatever the others do. */
static void test_fifo_per_op(void **state)
{
	char uri[128], err[128];

	expect((struct fpeer_expect){ .op = FPEER_PREPARE, .uri = "mem:one" });
	expect((struct fpeer_expect){ .op = FPEER_CONFIRM, .want_ret = FPEER_RET_NONZERO });
	expect((struct fpeer_expect){ .op = FPEER_PREPARE, .uri = "mem:two" });
	assert_int_equal(fpeer_pending(peer, FPEER_PREPARE), 2);
	assert_int_equal(prepare("a", uri, sizeof(uri), err), 0);
	assert_string_equal(uri, "mem:one");
	assert_int_equal(remote.ops->confirm(remote.opaque, "a", 1, err, sizeof(err)), 0);
	assert_int_equal(prepare("b", uri, sizeof(uri), err), 0);
	assert_string_equal(uri, "mem:two");
	assert_int_equal(fpeer_pending(peer, FPEER_PREPARE), 0);
}

struct caller {
	pthread_t thread;
	int ret;
	char err[128];
};

static void *finish_main(void *opaque)
{
	struct caller *c = opaque;

	c->ret = remote.ops->finish(remote.opaque, "vm1", 0, c->err, sizeof(c->err));
	return NULL;
}

static void test_hold_until_released(void **state)
{
	struct caller c = { .ret = 1 };

	expect((struct fpeer_expect){ .op = FPEER_FINISH, .hold = true, .result = FPEER_ERROR, .err = EIO });
	assert_int_equal(fpeer_wait_held(peer, FPEER_FINISH, 10), -ETIMEDOUT);
	assert_int_equal(pthread_create(&c.thread, NULL, finish_main, &c), 0);
	assert_int_equal(fpeer_wait_held(peer, FPEER_FINISH, 5000), 0);
	/* held: recorded, not answered */
	assert_int_equal(fpeer_ncalls(peer), 1);
	assert_int_equal(fpeer_pending(peer, FPEER_FINISH), 0);
	fpeer_release(peer, FPEER_FINISH);
	assert_int_equal(pthread_join(c.thread, NULL), 0);
	assert_int_equal(c.ret, -EIO);
}

/* A release that comes first lets the next held call through at once. */
static void test_release_before_hold(void **state)
{
	char err[128];

	expect((struct fpeer_expect){ .op = FPEER_CONFIRM, .hold = true });
	fpeer_release(peer, FPEER_CONFIRM);
	assert_int_equal(remote.ops->confirm(remote.opaque, "vm1", 0, err, sizeof(err)), 0);
}

static void test_drop_sticks(void **state)
{
	char uri[128] = "", err[128] = "";
	struct fpeer_call c;

	expect((struct fpeer_expect){ .op = FPEER_PREPARE, .uri = "mem:x" });
	expect((struct fpeer_expect){ .op = FPEER_FINISH, .result = FPEER_DROP });
	assert_int_equal(prepare("vm1", uri, sizeof(uri), err), 0);
	assert_false(fpeer_dropped(peer));
	assert_int_equal(remote.ops->finish(remote.opaque, "vm1", 0, err, sizeof(err)), -ECONNRESET);
	assert_non_null(strstr(err, "dropped"));
	assert_true(fpeer_dropped(peer));
	/* every later call, of any op and expected or not, fails the same way */
	assert_int_equal(remote.ops->confirm(remote.opaque, "vm1", 0, err, sizeof(err)), -ECONNRESET);
	assert_int_equal(prepare("vm2", uri, sizeof(uri), err), -ECONNRESET);
	assert_int_equal(remote.ops->finish(remote.opaque, "vm1", 1, err, sizeof(err)), -ECONNRESET);
	assert_int_equal(fpeer_ncalls(peer), 5);
	assert_int_equal(fpeer_call(peer, 4, &c), 0);
	assert_true(c.expected);
	assert_int_equal(c.returned, -ECONNRESET);
	assert_int_equal(fails.n, 0);
}

static void test_unexpected_call(void **state)
{
	char uri[128], err[128];
	struct fpeer_call c;

	/* nothing expected */
	assert_int_equal(remote.ops->confirm(remote.opaque, "vm1", 0, err, sizeof(err)), -EPROTO);
	assert_int_equal(fails.n, 1);
	assert_string_equal(fails.name, "fake-peer:unexpected");
	assert_non_null(strstr(fails.msg, "no confirm expected"));
	assert_int_equal(fpeer_call(peer, 0, &c), 0);
	assert_false(c.expected);

	/* the wrong domain, then the wrong ret: the expectation stays */
	expect((struct fpeer_expect){ .op = FPEER_PREPARE, .dom = "vm1", .uri = "mem:a" });
	expect((struct fpeer_expect){ .op = FPEER_FINISH, .want_ret = FPEER_RET_ZERO });
	assert_int_equal(prepare("vm2", uri, sizeof(uri), err), -EPROTO);
	assert_non_null(strstr(fails.msg, "domain 'vm2', expected 'vm1'"));
	assert_int_equal(remote.ops->finish(remote.opaque, "vm1", -EIO, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(fails.msg, "expected 0"));
	assert_int_equal(fails.n, 3);
	assert_int_equal(prepare("vm1", uri, sizeof(uri), err), 0);
	assert_int_equal(remote.ops->finish(remote.opaque, "vm1", 0, err, sizeof(err)), 0);
	assert_int_equal(fails.n, 3);
}

static void test_unused_expectations(void **state)
{
	expect((struct fpeer_expect){ .op = FPEER_FINISH });
	expect((struct fpeer_expect){ .op = FPEER_CONFIRM });
	expect((struct fpeer_expect){ .op = FPEER_CONFIRM });
	assert_int_equal(fpeer_verify(peer), 3);
	assert_string_equal(fails.name, "fake-peer:unused");
	assert_non_null(strstr(fails.msg, "1 finish, 2 confirm"));
	/* teardown's fpeer_free reports them again: the handler records it */
}

static void test_bad_expectations(void **state)
{
	struct fpeer_expect e = { .op = FPEER_NOPS };

	assert_int_equal(fpeer_expect(peer, &e), -EINVAL);
	e = (struct fpeer_expect){ .op = FPEER_PREPARE, .result = FPEER_ERROR };
	assert_int_equal(fpeer_expect(peer, &e), -EINVAL);	/* an error needs err > 0 */
	e = (struct fpeer_expect){ .op = FPEER_FINISH };
	for (int i = 0; i < FPEER_MAX_EXPECT; i++)
		assert_int_equal(fpeer_expect(peer, &e), 0);
	assert_int_equal(fpeer_expect(peer, &e), -ENOSPC);
	fpeer_set_fail_handler(peer, NULL, NULL);	/* back to the default... */
	fpeer_set_fail_handler(peer, record_failure, &fails);	/* ...but teardown has leftovers */
	assert_int_equal(fpeer_pending(peer, FPEER_FINISH), FPEER_MAX_EXPECT);
}

/* Outside the harness the default handler prints and aborts. */
static void unexpected_with_default_handler(void *arg)
{
	struct fpeer *p = fpeer_new();
	struct mgmt_remote r = fpeer_remote(p);
	char err[64];

	r.ops->finish(r.opaque, "vm1", 0, err, sizeof(err));
}

static void unused_with_default_handler(void *arg)
{
	struct fpeer *p = fpeer_new();

	fpeer_expect(p, &(struct fpeer_expect){ .op = FPEER_CONFIRM });
	fpeer_free(p);
}

static void test_default_handler_aborts(void **state)
{
	assert_true(child_aborts_with(unexpected_with_default_handler, NULL, "fake-peer:unexpected"));
	assert_true(child_aborts_with(unused_with_default_handler, NULL, "fake-peer:unused"));
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ok_results_and_record),
		T(test_error_result),
		T(test_fifo_per_op),
		T(test_hold_until_released),
		T(test_release_before_hold),
		T(test_drop_sticks),
		T(test_unexpected_call),
		T(test_unused_expectations),
		T(test_bad_expectations),
		T(test_default_handler_aborts),
	};

	signal(SIGALRM, watchdog_fired);
	return cmocka_run_group_tests_name("fake_peer", tests, NULL, NULL);
}
