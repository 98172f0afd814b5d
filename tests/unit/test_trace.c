/*
 * Unit tests of trace files and compact schedules (harness/rt/trace.c):
 * write/parse round trips, the exact line format, and one test per kind of
 * malformed input, each naming the offending line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model.h"
#include "trace.h"

/* struct trace holds two 4 KiB paths: keep them off the stack */
static struct trace in, out;

static const char *const sample_args[] = {
	"--plain", "two words", "new\nline", "back\\slash", "tab\there", "", "ends with \\",
	"\\n is not a newline", "  padded  ",
};
#define NARGS ((int)(sizeof(sample_args) / sizeof(sample_args[0])))

static const uint64_t hi_a[] = { 14, 0, 0, 0, 1ull << 44, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1ull << 63 };
static const uint64_t hi_b[] = { 4, 0, 0, 0, 1ull << 44 };

/* One step of every object kind, with pcs, masks and times worth keeping. */
static const struct step_rec sample_steps[] = {
	{ .chosen = 0, .cur = 0, .op = OP_START, .objk = '-', .enabled = 0x1, .pc = 0, .now = 0 },
	{ .chosen = 0, .cur = 0, .op = OP_CREATE, .objk = 'T', .obj = 1, .enabled = 0x1, .pc = 0x1234 },
	{ .chosen = 1, .cur = 0, .op = OP_LOCK, .objk = 'm', .obj = 3, .enabled = 0x3, .pc = 0xabcdef },
	{ .chosen = 1, .cur = 1, .op = OP_COND_WAIT, .objk = 'c', .obj = 4, .enabled = 0x3, .pc = 0x10 },
	{ .chosen = 0, .cur = 1, .op = OP_SEM_POST, .objk = 's', .obj = 5, .enabled = 0x1, .pc = 0x20 },
	{ .chosen = 0, .cur = 0, .op = OP_RDLOCK, .objk = 'r', .obj = 6, .enabled = 0x1, .pc = 0x30 },
	{ .chosen = 0, .cur = 0, .op = OP_ONCE, .objk = 'o', .obj = 7, .enabled = 0x1, .pc = 0x40 },
	{ .chosen = 0, .cur = 0, .op = OP_SYNC, .objk = 'p', .enabled = 0x1, .pc = 0x50,
	  .name = "rp:exit:after-clear" },
	{ .chosen = 0, .cur = 0, .op = OP_SLEEP, .objk = '-', .enabled = 0x1, .pc = 0x60,
	  .now = 1500000000 },
	{ .chosen = 63, .cur = 0, .op = OP_COND_REACQ, .objk = 'c', .obj = 2147483646,
	  .enabled = 0x8000000000000001ull, .pc = 0xffffffffffffffffull, .now = INT64_MAX },
	{ .chosen = 1, .cur = 63, .op = OP_JOIN, .objk = 'T', .obj = 63, .enabled = 0x2, .pc = 0x70,
	  .now = INT64_MAX },
	/* past 64 threads: the enabled set is one wide hex number */
	{ .chosen = 300, .cur = 1023, .op = OP_FUTEX_SLEEP, .objk = 'w', .obj = 9, .enabled = 0x2,
	  .enabled_hi = hi_a, .pc = 0x80 },
	{ .chosen = 1, .cur = 300, .op = OP_RELEASE, .objk = 'm', .obj = 3, .enabled = 0x2,
	  .enabled_hi = hi_b, .pc = 0x90 },
};
#define NSTEPS ((uint32_t)(sizeof(sample_steps) / sizeof(sample_steps[0])))

static void fill_sample(struct trace *t)
{
	memset(t, 0, sizeof(*t));
	t->version = TRACE_VERSION;
	strcpy(t->program, "/opt/my programs/counter_race");
	t->nargs = NARGS;
	for (int i = 0; i < NARGS; i++)
		t->args[i] = (char *)sample_args[i];
	strcpy(t->cwd, "/work/main");
	strcpy(t->build, "tsan");
	strcpy(t->strategy, "pct:2");
	t->seed = 18446744073709551615ull;
	t->pct_k = 345;
	strcpy(t->code_version, "fnv1a64:0123456789abcdef");
	strcpy(t->outcome, "tsan:data-race@incr");
	t->nsteps = NSTEPS;
	t->steps = (struct step_rec *)sample_steps;
}

/* Writes t (with optional locations) into a malloc'ed string. */
static char *write_to_string(const struct trace *t, const char *const *locs)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(trace_write(f, t, locs), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static int parse_string(const char *text, struct trace *t, char *err, size_t errlen)
{
	/* fmemopen refuses a zero size: give it a tmpfile then */
	FILE *f = text[0] ? fmemopen((void *)text, strlen(text), "r") : tmpfile();
	assert_non_null(f);
	int rc = trace_parse(f, t, err, errlen);
	fclose(f);
	return rc;
}

static void assert_steps_equal(const struct step_rec *a, const struct step_rec *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(a[i].chosen, b[i].chosen);
		assert_int_equal(a[i].cur, b[i].cur);
		assert_int_equal(a[i].op, b[i].op);
		assert_int_equal(a[i].objk, b[i].objk);
		if (a[i].objk != '-' && a[i].objk != 'p')
			assert_int_equal(a[i].obj, b[i].obj);
		assert_true(a[i].enabled == b[i].enabled);
		struct tset ea, eb;
		step_get_enabled(&a[i], &ea);
		step_get_enabled(&b[i], &eb);
		assert_memory_equal(&ea, &eb, sizeof(ea));
		assert_true(a[i].pc == b[i].pc);
		assert_true(a[i].now == b[i].now);
		if (a[i].objk == 'p' || a[i].objk == 'f') {
			assert_non_null(b[i].name);
			assert_string_equal(a[i].name, b[i].name);
		} else {
			assert_null(b[i].name);
		}
	}
}

static void test_roundtrip(void **state)
{
	char err[256] = "";
	fill_sample(&out);
	char *text = write_to_string(&out, NULL);

	if (parse_string(text, &in, err, sizeof(err)))
		fail_msg("parse failed: %s\n%s", err, text);
	assert_int_equal(in.version, TRACE_VERSION);
	assert_string_equal(in.program, out.program);
	assert_int_equal(in.nargs, NARGS);
	for (int i = 0; i < NARGS; i++)
		assert_string_equal(in.args[i], sample_args[i]);
	assert_string_equal(in.cwd, "/work/main");
	assert_string_equal(in.build, "tsan");
	assert_string_equal(in.strategy, "pct:2");
	assert_true(in.seed == 18446744073709551615ull);
	assert_true(in.pct_k == 345);
	assert_string_equal(in.code_version, "fnv1a64:0123456789abcdef");
	assert_string_equal(in.outcome, "tsan:data-race@incr");
	assert_int_equal(in.nsteps, NSTEPS);
	assert_non_null(in.steps);
	assert_non_null(in.names);
	assert_steps_equal(sample_steps, in.steps, NSTEPS);
	assert_null(in.names[0]);
	assert_non_null(in.names[7]);
	assert_ptr_equal(in.steps[7].name, in.names[7]);

	/* written again, the parsed trace gives the same text */
	char *again = write_to_string(&in, NULL);
	assert_string_equal(again, text);
	free(again);
	trace_free(&in);
	assert_null(in.steps);
	assert_int_equal(in.nargs, 0);
	free(text);
}

static void test_written_format(void **state)
{
	fill_sample(&out);
	out.nargs = 2;
	out.nsteps = 3;
	char *text = write_to_string(&out, NULL);

	static const char want[] =
		"migrace-trace 1\n"
		"program /opt/my programs/counter_race\n"
		"arg --plain\n"
		"arg two words\n"
		"cwd /work/main\n"
		"build tsan\n"
		"strategy pct:2\n"
		"seed 18446744073709551615\n"
		"pct-k 345\n"
		"code-version fnv1a64:0123456789abcdef\n"
		"outcome tsan:data-race@incr\n"
		"steps 3\n"
		"schedule 0*2 1\n"
		"---\n"
		"0 T0 start - +0x0 from=T0 e=0x1 t=0 d=s0\n"
		"1 T0 create T1 +0x1234 from=T0 e=0x1 t=0 d=s0\n"
		"2 T1 lock m3 +0xabcdef from=T0 e=0x3 t=0 d=s0\n";
	assert_string_equal(text, want);
	free(text);

	/* escapes in arguments */
	out.nargs = 5;
	out.nsteps = 0;
	text = write_to_string(&out, NULL);
	assert_non_null(strstr(text, "arg new\\nline\n"));
	assert_non_null(strstr(text, "arg back\\\\slash\n"));
	assert_non_null(strstr(text, "arg tab\\there\n"));
	free(text);
}

static void test_locations_ignored(void **state)
{
	static const char *const locs[NSTEPS] = {
		"main.c:10 main", NULL, "counter.c:12 incr", "", "a b c.c:3 fn with spaces",
		"x.c:1 f @ g", NULL, "sync.c:7 rp_thread", NULL, "y.c:2 h", "z.c:9 j",
	};
	char err[256] = "";

	fill_sample(&out);
	char *text = write_to_string(&out, locs);
	assert_non_null(strstr(text, "from=T0 e=0x3 t=0 d=s0 @ counter.c:12 incr\n"));
	assert_non_null(strstr(text, " p:rp:exit:after-clear +0x50 from=T0 e=0x1 t=0 d=s0 @ sync.c:7 rp_thread\n"));
	/* no location, or an empty one: nothing appended */
	assert_non_null(strstr(text, "\n3 T1 cond-wait c4 +0x10 from=T1 e=0x3 t=0 d=s0\n"));

	if (parse_string(text, &in, err, sizeof(err)))
		fail_msg("parse failed: %s\n%s", err, text);
	assert_int_equal(in.nsteps, NSTEPS);
	assert_steps_equal(sample_steps, in.steps, NSTEPS);
	trace_free(&in);
	free(text);
}

static void test_empty_trace(void **state)
{
	char err[256] = "";
	fill_sample(&out);
	out.nargs = 0;
	out.nsteps = 0;
	out.cwd[0] = out.code_version[0] = out.outcome[0] = '\0';
	char *text = write_to_string(&out, NULL);

	if (parse_string(text, &in, err, sizeof(err)))
		fail_msg("parse failed: %s\n%s", err, text);
	assert_int_equal(in.nsteps, 0);
	assert_int_equal(in.nargs, 0);
	assert_string_equal(in.cwd, "");
	assert_string_equal(in.outcome, "");
	trace_free(&in);
	free(text);
}

static void test_comments_blank_lines_crlf(void **state)
{
	static const char text[] =
		"migrace-trace 1\r\n"
		"# written by hand\n"
		"\n"
		"program /bin/prog\r\n"
		"build plain\n"
		"strategy random\n"
		"seed 3\n"
		"steps 2\n"
		"schedule whatever: informational only\n"
		"---\n"
		"# a comment among the steps\n"
		"0 T0 start - +0x0 from=T0 e=0x1 t=0\r\n"
		"\n"
		"1 T0 sync p:a:b:c +0x9 from=T0 e=0x1 t=5 @ f.c:1 main\n";
	char err[256] = "";

	if (parse_string(text, &in, err, sizeof(err)))
		fail_msg("parse failed: %s", err);
	assert_string_equal(in.program, "/bin/prog");
	assert_string_equal(in.build, "plain");
	assert_true(in.seed == 3);
	assert_int_equal(in.nsteps, 2);
	assert_int_equal(in.steps[1].op, OP_SYNC);
	assert_int_equal(in.steps[1].objk, 'p');
	assert_string_equal(in.steps[1].name, "a:b:c");
	assert_true(in.steps[1].now == 5);
	trace_free(&in);
}

/*
 * Regression test (trace.c put_escaped / trace_parse): the bug described here is fixed. an argument ending in '\r' is
 * written raw, and the parser strips trailing '\r' (CRLF tolerance), so the
 * argument loses it: replay then runs the program with different arguments.
 * Input: arg "x\r". Expected "x\r" after the round trip, actual "x".
 */
static void test_roundtrip_carriage_return(void **state)
{
	static char *args[] = { "x\r", "a\rb" };
	char err[256] = "", got[2][16];

	fill_sample(&out);
	out.nargs = 2;
	memcpy(out.args, args, sizeof(args));
	out.nsteps = 0;
	char *text = write_to_string(&out, NULL);
	int rc = parse_string(text, &in, err, sizeof(err));
	free(text);
	if (rc)
		fail_msg("parse failed: %s", err);
	assert_int_equal(in.nargs, 2);
	snprintf(got[0], sizeof(got[0]), "%s", in.args[0]);
	snprintf(got[1], sizeof(got[1]), "%s", in.args[1]);
	trace_free(&in);
	assert_string_equal(got[1], "a\rb");
	if (strcmp(got[0], "x\r") != 0)
		fail_msg("arg \"x\\r\" came back as %zu byte(s) \"%s\"", strlen(got[0]), got[0]);
}

/* ---- malformed traces ---------------------------------------------------- */

#define HDR "migrace-trace 1\nprogram /bin/p\nbuild tsan\nstrategy script\n"
#define STEP0 "0 T0 start - +0x0 from=T0 e=0x1 t=0\n"

static const struct bad_case {
	const char *what;
	const char *text;
	int line;
	const char *reason;
} bad_cases[] = {
	{ "empty file", "", 1, "empty" },
	{ "wrong magic", "migrace-trace\nprogram /bin/p\n", 1, "not a migrace trace" },
	{ "other file", "#!/bin/sh\necho hi\n", 1, "not a migrace trace" },
	{ "unsupported version", "migrace-trace 2\nprogram /bin/p\n", 1, "version 2" },
	{ "unknown header field", HDR "colour blue\nsteps 0\n---\n", 5, "unknown header field \"colour\"" },
	{ "field without value", HDR "steps\n---\n", 5, "<field> <value>" },
	{ "missing ---", HDR "steps 0\n", 5, "---" },
	{ "step line in the header", HDR "steps 1\n" STEP0, 6, "unknown header field \"0\"" },
	{ "missing program", "migrace-trace 1\nbuild tsan\nstrategy script\nsteps 0\n---\n", 5, "\"program\" is missing" },
	{ "missing build", "migrace-trace 1\nprogram /bin/p\nstrategy script\nsteps 0\n---\n", 5, "\"build\" is missing" },
	{ "missing strategy", "migrace-trace 1\nprogram /bin/p\nbuild tsan\nsteps 0\n---\n", 5, "\"strategy\" is missing" },
	{ "missing steps", HDR "seed 1\n---\n", 6, "\"steps\" is missing" },
	{ "bad seed", HDR "seed -1\nsteps 0\n---\n", 5, "seed" },
	{ "bad steps", HDR "steps many\n---\n", 5, "steps" },
	{ "wrong step number", HDR "steps 2\n---\n" STEP0 "2 T0 exit - +0x0 from=T0 e=0x1 t=0\n", 8, "expected step number 1" },
	{ "thread out of range", HDR "steps 1\n---\n0 T1024 start - +0x0 from=T0 e=0x1 t=0\n", 7, "bad thread \"T1024\"" },
	{ "thread without T", HDR "steps 1\n---\n0 X1 start - +0x0 from=T0 e=0x1 t=0\n", 7, "bad thread \"X1\"" },
	{ "unknown op", HDR "steps 1\n---\n0 T0 frobnicate - +0x0 from=T0 e=0x1 t=0\n", 7, "unknown operation \"frobnicate\"" },
	{ "op none", HDR "steps 1\n---\n0 T0 none - +0x0 from=T0 e=0x1 t=0\n", 7, "unknown operation" },
	{ "bad object letter", HDR "steps 1\n---\n0 T0 lock q3 +0x0 from=T0 e=0x1 t=0\n", 7, "bad object \"q3\"" },
	{ "object without id", HDR "steps 1\n---\n0 T0 lock m +0x0 from=T0 e=0x1 t=0\n", 7, "bad object" },
	{ "sync without name", HDR "steps 1\n---\n0 T0 sync p: +0x0 from=T0 e=0x1 t=0\n", 7, "bad object" },
	{ "pc without +0x", HDR "steps 1\n---\n0 T0 start - 0x10 from=T0 e=0x1 t=0\n", 7, "bad code offset" },
	{ "pc not hex", HDR "steps 1\n---\n0 T0 start - +0xzz from=T0 e=0x1 t=0\n", 7, "bad code offset" },
	{ "bad from", HDR "steps 1\n---\n0 T0 start - +0x0 by=T0 e=0x1 t=0\n", 7, "from=T" },
	{ "bad mask", HDR "steps 1\n---\n0 T0 start - +0x0 from=T0 e=1 t=0\n", 7, "e=0x" },
	{ "thread not enabled", HDR "steps 1\n---\n0 T1 start - +0x0 from=T0 e=0x1 t=0\n", 7, "not in its enabled set" },
	{ "bad time", HDR "steps 1\n---\n0 T0 start - +0x0 from=T0 e=0x1 t=-5\n", 7, "t=" },
	{ "too few fields", HDR "steps 1\n---\n0 T0 start - +0x0 from=T0 e=0x1\n", 7, "8 to 10 fields" },
	{ "unknown last field", HDR "steps 1\n---\n0 T0 start - +0x0 from=T0 e=0x1 t=0 d=s1 extra\n", 7, "expected fair" },
	{ "too many fields", HDR "steps 1\n---\n0 T0 start - +0x0 from=T0 e=0x1 t=0 d=s1 fair x\n", 7, "too many fields" },
	{ "fewer steps than header", HDR "steps 2\n---\n" STEP0, 7, "header says 2 steps, the file has 1" },
	{ "more steps than header", HDR "steps 1\n---\n" STEP0 "1 T0 exit - +0x0 from=T0 e=0x1 t=0\n", 8, "more step lines" },
};

static void test_malformed(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		char err[256] = "", want_line[32];

		memset(&in, 0x5a, sizeof(in));        /* parse must not rely on a clean struct */
		int rc = parse_string(c->text, &in, err, sizeof(err));
		if (rc != -1)
			fail_msg("%s: trace_parse returned %d, expected -1", c->what, rc);
		snprintf(want_line, sizeof(want_line), "line %d: ", c->line);
		if (strncmp(err, want_line, strlen(want_line)) != 0)
			fail_msg("%s: error \"%s\" does not start with \"%s\"", c->what, err, want_line);
		if (!strstr(err, c->reason))
			fail_msg("%s: error \"%s\" does not say \"%s\"", c->what, err, c->reason);
		/* nothing left allocated or dangling */
		assert_null(in.steps);
		assert_null(in.names);
		assert_int_equal(in.nargs, 0);
	}
}

static void test_malformed_frees_args_and_names(void **state)
{
	static const char text[] = HDR "arg a\narg b\nsteps 3\n---\n"
		"0 T0 sync p:x:y:z +0x0 from=T0 e=0x1 t=0\n"
		"1 T0 sync p:x:y:w +0x0 from=T0 e=0x1 t=0\n"
		"2 T9 sync p:x:y:v +0x0 from=T0 e=0x1 t=0\n";
	char err[256] = "";

	assert_int_equal(parse_string(text, &in, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 11: "));
	assert_non_null(strstr(err, "not in its enabled set"));
	assert_int_equal(in.nargs, 0);
	assert_null(in.names);
}

static void test_error_buffer_small(void **state)
{
	char err[12];
	memset(err, 'x', sizeof(err));
	assert_int_equal(parse_string("bogus\n", &in, err, sizeof(err)), -1);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_true(strncmp(err, "line 1: ", 8) == 0);
}

/* ---- compact schedules --------------------------------------------------- */

/* Fault decisions: the faults header and f:NAME#HIT steps survive a round trip;
 * an f: object needs a fault operation and the reverse. */
static void test_fault_steps(void **state)
{
	(void)state;
	static const char text[] =
		"migrace-trace 1\nprogram /p\nbuild tsan\nstrategy script\nfaults core/channel/read@2+\n"
		"fault-points core/*\nsteps 2\n---\n"
		"0 T0 fault-pass f:core/channel/read#1 +0x10 from=T0 e=0x1 t=0 @ channel.c:71 channel_read\n"
		"1 T0 fault-fail f:core/channel/read#2 +0x10 from=T0 e=0x1 t=0\n";
	struct trace in, again;
	char err[256], *buf = NULL;
	size_t len = 0;

	if (parse_string(text, &in, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(in.faults, "core/channel/read@2+");
	assert_string_equal(in.fault_points, "core/*");
	assert_int_equal(in.steps[0].op, OP_FAULT_PASS);
	assert_int_equal(in.steps[1].op, OP_FAULT_FAIL);
	assert_int_equal(in.steps[1].objk, 'f');
	assert_int_equal(in.steps[1].obj, 2);
	assert_string_equal(in.steps[1].name, "core/channel/read");
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(trace_write(f, &in, NULL), 0);
	fclose(f);
	assert_non_null(strstr(buf, "\nfaults core/channel/read@2+\nfault-points core/*\n"));
	assert_non_null(strstr(buf, "1 T0 fault-fail f:core/channel/read#2 +0x10 from=T0 e=0x1 t=0 d=s0\n"));
	if (parse_string(buf, &again, err, sizeof(err)))
		fail_msg("%s", err);
	assert_steps_equal(in.steps, again.steps, 2);
	trace_free(&again);
	trace_free(&in);
	free(buf);
	static const char *const bad[] = {
		"migrace-trace 1\nprogram /p\nbuild tsan\nstrategy script\nsteps 1\n---\n"
		"0 T0 lock f:core/x#1 +0x10 from=T0 e=0x1 t=0\n",
		"migrace-trace 1\nprogram /p\nbuild tsan\nstrategy script\nsteps 1\n---\n"
		"0 T0 fault-fail m1 +0x10 from=T0 e=0x1 t=0\n",
		"migrace-trace 1\nprogram /p\nbuild tsan\nstrategy script\nsteps 1\n---\n"
		"0 T0 fault-fail f:core/x#0 +0x10 from=T0 e=0x1 t=0\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_string(bad[i], &in, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "line 7: "));
	}
}

/* Memory-access decisions (--preempt=mem): the preempt header, op mem and the
 * decision keys d=sN / d=mN survive a round trip; malformed keys fail. */
static void test_mem_steps_and_keys(void **state)
{
	(void)state;
	static const char text[] =
		"migrace-trace 1\nprogram /p\nbuild plain\nstrategy pct:2\npreempt mem\nsteps 3\n---\n"
		"0 T1 mem - +0x3051e from=T1 e=0x6 t=0 d=m1 @ lost_update.c:18 incr\n"
		"1 T2 start - +0x0 from=T1 e=0x6 t=0 d=m2 fair\n"
		"2 T0 join T1 +0x30486 from=T1 e=0x1 t=0 d=s2\n";
	struct trace in, again;
	char err[256], *buf = NULL;
	size_t len = 0;

	if (parse_string(text, &in, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(in.preempt, "mem");
	assert_int_equal(in.steps[0].op, OP_MEM);
	assert_true(in.steps[0].key_mem);
	assert_int_equal(in.steps[0].key, 1);
	assert_true(in.steps[1].key_mem);
	assert_int_equal(in.steps[1].key, 2);
	assert_false(in.steps[0].fair);
	assert_true(in.steps[1].fair);             /* a spin's yield */
	assert_false(in.steps[2].key_mem);
	assert_int_equal(in.steps[2].key, 2);
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(trace_write(f, &in, NULL), 0);
	fclose(f);
	assert_non_null(strstr(buf, "\npreempt mem\n"));
	assert_non_null(strstr(buf, "\n1 T2 start - +0x0 from=T1 e=0x6 t=0 d=m2 fair\n"));
	if (parse_string(buf, &again, err, sizeof(err)))
		fail_msg("%s", err);
	assert_steps_equal(in.steps, again.steps, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(in.steps[i].key, again.steps[i].key);
		assert_int_equal(in.steps[i].key_mem, again.steps[i].key_mem);
		assert_int_equal(in.steps[i].fair, again.steps[i].fair);
	}
	trace_free(&again);
	trace_free(&in);
	free(buf);
	static const char *const bad[] = {
		"migrace-trace 1\nprogram /p\nbuild tsan\nstrategy script\nsteps 1\n---\n"
		"0 T0 lock m1 +0x10 from=T0 e=0x1 t=0 d=x1\n",
		"migrace-trace 1\nprogram /p\nbuild tsan\nstrategy script\nsteps 1\n---\n"
		"0 T0 lock m1 +0x10 from=T0 e=0x1 t=0 d=m\n",
		"migrace-trace 1\nprogram /p\nbuild tsan\nstrategy script\nsteps 1\n---\n"
		"0 T0 lock m1 +0x10 from=T0 e=0x1 t=0 d=m3\n",   /* stays on T0 at a memory access: op must be mem */
		"migrace-trace 1\nprogram /p\nbuild tsan\nstrategy script\npreempt often\nsteps 1\n---\n"
		"0 T0 lock m1 +0x10 from=T0 e=0x1 t=0\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_string(bad[i], &in, err, sizeof(err)), -1);
		assert_non_null(strstr(err, i == 3 ? "line 5: " : "line 7: "));
	}
}

static void choices(struct step_rec *steps, const uint8_t *c, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		steps[i] = (struct step_rec){ .chosen = c[i] };
}

static void test_schedule_roundtrip(void **state)
{
	static const struct {
		uint8_t c[12];
		uint32_t n;
		const char *text;
	} cases[] = {
		{ { 0 }, 0, "" },
		{ { 3 }, 1, "3" },
		{ { 0, 0, 0, 1, 1, 0, 2 }, 7, "0*3 1*2 0 2" },
		{ { 63, 63, 0, 1, 0, 1 }, 6, "63*2 0 1 0 1" },
		{ { 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5 }, 12, "5*12" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct step_rec steps[12];
		uint16_t back[16];
		uint32_t n = 99;
		char buf[64], err[128] = "";

		choices(steps, cases[i].c, cases[i].n);
		assert_int_equal(schedule_format(steps, cases[i].n, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].text);
		if (schedule_parse(buf, back, 16, &n, err, sizeof(err)))
			fail_msg("\"%s\": %s", buf, err);
		assert_int_equal(n, cases[i].n);
		for (uint32_t j = 0; j < n; j++)
			assert_int_equal(back[j], cases[i].c[j]);
	}
}

static void test_schedule_parse_forms(void **state)
{
	uint16_t c[16];
	uint32_t n;
	char err[128];
	static const uint16_t want[] = { 0, 1, 1, 2, 0 };

	assert_int_equal(schedule_parse("  0, 1*2 ,2  0 ", c, 16, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(c, want, sizeof(want));
	assert_int_equal(schedule_parse("1023 300*2", c, 16, &n, err, sizeof(err)), 0);   /* 16 bits a step */
	assert_int_equal(n, 3);
	assert_true(c[0] == 1023 && c[1] == 300 && c[2] == 300);
	assert_int_equal(schedule_parse("1*4", c, 4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
}

static void test_schedule_format_too_small(void **state)
{
	struct step_rec steps[4];
	static const uint8_t c[] = { 10, 11, 12, 13 };
	char buf[8];

	choices(steps, c, 4);
	assert_int_equal(schedule_format(steps, 4, buf, sizeof(buf)), -1);
	assert_int_equal(schedule_format(steps, 2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10 11");
}

static void test_schedule_parse_errors(void **state)
{
	static const struct {
		const char *text;
		uint32_t max;
		const char *reason;
	} cases[] = {
		{ "1024", 16, "bad thread number" }, { "x", 16, "bad thread number" },
		{ "-1", 16, "bad thread number" },  { "*3", 16, "bad thread number" },
		{ "0*0", 16, "bad repeat count" },  { "0*", 16, "bad repeat count" },
		{ "0*x", 16, "bad repeat count" },  { "0x", 16, "unexpected" },
		{ "1*2;0", 16, "unexpected" },      { "1*5", 4, "longer than 4" },
		{ "0 1 2 3 4", 4, "longer than 4" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t c[16];
		uint32_t n;
		char err[128] = "";

		if (schedule_parse(cases[i].text, c, cases[i].max, &n, err, sizeof(err)) != -1)
			fail_msg("\"%s\" was accepted", cases[i].text);
		if (!strstr(err, cases[i].reason))
			fail_msg("\"%s\": error \"%s\" does not say \"%s\"", cases[i].text, err, cases[i].reason);
	}
}

/* Runs schedule_parse(text, max) with an output buffer of `size` choices right
 * before an unmapped page, in a child; returns the child's wait status. The
 * child exits with the call's return value + 1 (0 for -1, 1 for 0), or dies
 * of SIGSEGV when it wrote past the buffer. */
static int parse_in_child(const char *text, uint32_t size, uint32_t max)
{
	long page = sysconf(_SC_PAGESIZE);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* cmocka's handlers would resume the test run in the child */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		alarm(10);
		uint8_t *mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED || mprotect(mem + page, page, PROT_NONE))
			_exit(99);
		uint32_t n;
		char err[128];
		_exit(schedule_parse(text, (uint16_t *)(mem + page) - size, max, &n, err, sizeof(err)) + 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_schedule_parse_guarded(void **state)
{
	/* the harness itself: in bounds, exactly full, refused, and a real overrun */
	int st = parse_in_child("1*16", 16, 16);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	st = parse_in_child("1*16 2", 16, 16);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = parse_in_child("0 0*99", 16, 16);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = parse_in_child("1*17", 16, 17);   /* a caller lying about the size */
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
}

/*
 * Regression test (trace.c schedule_parse): the bug described here is fixed. the repeat count is read with strtoul, which
 * accepts "-1" (and overflows to ULONG_MAX without the errno being
 * checked), and the length check `*n + count > max` wraps around once *n is
 * nonzero. "0 0*-1" then passes the check and writes ULONG_MAX bytes into a
 * 16-byte buffer (crash; `--schedule` text comes from the user). Expected
 * -1 with "bad repeat count" (or "longer than"), actual: out-of-bounds write
 * (SIGSEGV on the guard page in the child).
 */
static void test_schedule_parse_huge_count(void **state)
{
	static const char *const texts[] = { "0 0*-1", "0 0*99999999999999999999", "0*-1" };
	int bad = 0;
	for (int i = 0; i < 3; i++) {
		int st = parse_in_child(texts[i], 16, 16);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			print_error("schedule_parse(\"%s\", max 16): child %s %d, expected a clean -1\n", texts[i],
				    WIFSIGNALED(st) ? "killed by signal" : "exited with",
				    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_written_format),
		cmocka_unit_test(test_locations_ignored),
		cmocka_unit_test(test_empty_trace),
		cmocka_unit_test(test_comments_blank_lines_crlf),
		cmocka_unit_test(test_roundtrip_carriage_return),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_frees_args_and_names),
		cmocka_unit_test(test_error_buffer_small),
		cmocka_unit_test(test_fault_steps),
		cmocka_unit_test(test_mem_steps_and_keys),
		cmocka_unit_test(test_schedule_roundtrip),
		cmocka_unit_test(test_schedule_parse_forms),
		cmocka_unit_test(test_schedule_format_too_small),
		cmocka_unit_test(test_schedule_parse_errors),
		cmocka_unit_test(test_schedule_parse_guarded),
		cmocka_unit_test(test_schedule_parse_huge_count),
	};
	return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}
