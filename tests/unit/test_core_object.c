/*
 * Unit tests of the QOM-like reference count (core/migration/object.c):
 * ref and unref, finalize exactly once at zero, the count under concurrent
 * ref/unref, and the assertion on an unref too many.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "object.h"
#include "thread.h"

#define N_THREADS 4
#define N_ITER 10000

/* a type embedding the object, as MigrationState would */
struct thing {
	struct object parent;
	atomic_int finalized;
};

static void thing_finalize(struct object *obj)
{
	struct thing *t = (struct thing *)((char *)obj - offsetof(struct thing, parent));

	atomic_fetch_add(&t->finalized, 1);
}

static void thing_init(struct thing *t)
{
	memset(t, 0, sizeof(*t));
	object_init(&t->parent, "thing", thing_finalize);
}

static void test_ref_unref_finalize_once(void **state)
{
	struct thing t;

	thing_init(&t);
	assert_int_equal(object_ref_count(&t.parent), 1);
	assert_string_equal(t.parent.type, "thing");
	assert_ptr_equal(object_ref(&t.parent), &t.parent);
	assert_int_equal(object_ref_count(&t.parent), 2);
	object_unref(&t.parent);
	assert_int_equal(object_ref_count(&t.parent), 1);
	assert_int_equal(t.finalized, 0);
	object_unref(&t.parent);
	assert_int_equal(object_ref_count(&t.parent), 0);
	assert_int_equal(t.finalized, 1);
}

static void test_null(void **state)
{
	assert_null(object_ref(NULL));
	object_unref(NULL);
}

static void test_no_finalize(void **state)
{
	struct object o;

	object_init(&o, "plain", NULL);
	object_unref(&o);
	assert_int_equal(object_ref_count(&o), 0);
}

/* held closed until every thread exists, so that their loops overlap */
static QemuSemaphore start_gate;

static void open_gate(void)
{
	for (int i = 0; i < N_THREADS; i++)
		qemu_sem_post(&start_gate);
}

static void *ref_unref_fn(void *arg)
{
	struct thing *t = arg;

	qemu_sem_wait(&start_gate);
	for (int i = 0; i < N_ITER; i++) {
		object_ref(&t->parent);
		object_unref(&t->parent);
	}
	return NULL;
}

static void test_concurrent_ref_unref(void **state)
{
	QemuThread th[N_THREADS];
	struct thing t;

	thing_init(&t);
	qemu_sem_init(&start_gate, 0);
	for (int i = 0; i < N_THREADS; i++)
		qemu_thread_create(&th[i], "refs", ref_unref_fn, &t, QEMU_THREAD_JOINABLE);
	open_gate();
	for (int i = 0; i < N_THREADS; i++)
		qemu_thread_join(&th[i]);
	qemu_sem_destroy(&start_gate);
	assert_int_equal(object_ref_count(&t.parent), 1);
	assert_int_equal(t.finalized, 0);
	object_unref(&t.parent);
	assert_int_equal(t.finalized, 1);
}

/* thread 0 also drops the initial reference: the last unref may be anyone's */
struct dropper {
	struct thing *t;
	int drops;
};

static void *drop_fn(void *arg)
{
	struct dropper *d = arg;

	qemu_sem_wait(&start_gate);
	for (int i = 0; i < d->drops; i++)
		object_unref(&d->t->parent);
	return NULL;
}

static void test_concurrent_last_unref_finalizes_once(void **state)
{
	struct dropper d[N_THREADS];
	QemuThread th[N_THREADS];
	struct thing t;

	thing_init(&t);
	for (int i = 0; i < N_THREADS * N_ITER; i++)
		object_ref(&t.parent);
	assert_int_equal(object_ref_count(&t.parent), 1 + N_THREADS * N_ITER);
	qemu_sem_init(&start_gate, 0);
	for (int i = 0; i < N_THREADS; i++) {
		d[i] = (struct dropper){ &t, N_ITER + (i == 0) };
		qemu_thread_create(&th[i], "drops", drop_fn, &d[i], QEMU_THREAD_JOINABLE);
	}
	open_gate();
	for (int i = 0; i < N_THREADS; i++)
		qemu_thread_join(&th[i]);
	qemu_sem_destroy(&start_gate);
	assert_int_equal(object_ref_count(&t.parent), 0);
	assert_int_equal(t.finalized, 1);
}

static void unref_twice(void *unused)
{
	struct thing t;

	(void)unused;
	thing_init(&t);
	object_unref(&t.parent);
	object_unref(&t.parent);
}

static void test_unref_too_many_aborts(void **state)
{
	(void)state;
	assert_true(child_aborts_with(unref_twice, NULL, "Assertion `ref > 0' failed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_unref_finalize_once),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_no_finalize),
		cmocka_unit_test(test_concurrent_ref_unref),
		cmocka_unit_test(test_concurrent_last_unref_finalizes_once),
		cmocka_unit_test(test_unref_too_many_aborts),
	};

	return cmocka_run_group_tests_name("core_object", tests, NULL, NULL);
}
