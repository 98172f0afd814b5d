/*
 * Unit tests of outcome signatures (harness/rt/classify.c) on sanitizer and
 * libc output as clang 14 and glibc print it, and of the precedence between
 * the runtime's verdict, reports, signals and exit codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <string.h>

#include "classify.h"

#define EXITED(code) ((code) << 8)          /* wait status of exit(code) */
#define KILLED(sig) (sig)                  /* wait status of a death by sig */

static const char tsan_race[] =
	"==================\n"
	"WARNING: ThreadSanitizer: data race (pid=26254)\n"
	"  Write of size 4 at 0x56204b196258 by thread T2:\n"
	"    #0 incr /work/x.c:15:10 (race+0xd0114) (BuildId: b487da553274c4ae7bdc731aff655ce3f4a7e80a)\n"
	"\n"
	"  Previous write of size 4 at 0x56204b196258 by thread T1:\n"
	"    #0 incr /work/x.c:15:10 (race+0xd0114) (BuildId: b487da553274c4ae7bdc731aff655ce3f4a7e80a)\n"
	"\n"
	"  Location is global 'counter' of size 4 at 0x56204b196258 (race+0x1476258)\n"
	"\n"
	"  Thread T2 (tid=26263, running) created by main thread at:\n"
	"    #0 pthread_create <null> (race+0x513ad) (BuildId: b487da553274c4ae7bdc731aff655ce3f4a7e80a)\n"
	"    #1 main /work/x.c:4:69 (race+0xd0185) (BuildId: b487da553274c4ae7bdc731aff655ce3f4a7e80a)\n"
	"\n"
	"SUMMARY: ThreadSanitizer: data race /work/x.c:15:10 in incr\n"
	"==================\n"
	"ThreadSanitizer: reported 1 warnings\n";

static const char tsan_lock_order[] =
	"WARNING: ThreadSanitizer: lock-order-inversion (potential deadlock) (pid=25914)\n"
	"  Cycle in lock order graph: M0 (0x55f2d9b3c0a8) => M1 (0x55f2d9b3c0d0) => M0\n"
	"\n"
	"SUMMARY: ThreadSanitizer: lock-order-inversion (potential deadlock) /x.c:3:4 in f\n";

static const char asan_uaf[] =
	"=================================================================\n"
	"==7341==ERROR: AddressSanitizer: heap-use-after-free on address 0x604000000090 at pc "
	"0x55894f31df54 bp 0x7ffcc03c2c90 sp 0x7ffcc03c2c88\n"
	"READ of size 4 at 0x604000000090 thread T0\n"
	"    #0 0x55894f31df53 in foo /x.c:12:3\n"
	"    #1 0x55894f31dfa1 in main /x.c:3:44\n"
	"\n"
	"SUMMARY: AddressSanitizer: heap-use-after-free /x.c:12:3 in foo\n"
	"Shadow bytes around the buggy address:\n"
	"==7341==ABORTING\n";

static const char asan_segv[] =
	"==8120==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000000 (pc 0x560060565f30 "
	"bp 0x7fffdbc584e0 sp 0x7fffdbc584b0 T0)\n"
	"==8120==The signal is caused by a READ memory access.\n"
	"    #0 0x560060565f30 in main /tmp/san/segv.c:1:85\n"
	"\n"
	"AddressSanitizer can not provide additional info.\n"
	"SUMMARY: AddressSanitizer: SEGV /tmp/san/segv.c:1:85 in main\n"
	"==8120==ABORTING\n";

static const char leak_short[] =
	"==1==ERROR: LeakSanitizer: detected memory leaks\n"
	"\n"
	"Direct leak of 40 byte(s) in 1 object(s) allocated from:\n"
	"    #0 0x4 in malloc (/usr/lib/x86_64-linux-gnu/libasan.so.6+0xb0807)\n"
	"    #1 0x5 in make_thing /x.c:3:1\n"
	"    #2 0x6 in main /x.c:9:5\n"
	"\n"
	"SUMMARY: AddressSanitizer: 40 byte(s) leaked in 1 allocation(s).\n";

static const char leak_clang14[] =
	"\n"
	"=================================================================\n"
	"==7584==ERROR: LeakSanitizer: detected memory leaks\n"
	"\n"
	"Direct leak of 40 byte(s) in 1 object(s) allocated from:\n"
	"    #0 0x55c067bc914e in __interceptor_malloc (/tmp/san/leak+0xa314e) (BuildId: "
	"83bfe0b5bdce32b30c021d6b3550948e06327955)\n"
	"    #1 0x55c067c03ead in make_thing /tmp/san/leak.c:2:33\n"
	"    #2 0x55c067c03ec3 in main /tmp/san/leak.c:4:22\n"
	"    #3 0x7ff23b232249 in __libc_start_call_main csu/../sysdeps/nptl/libc_start_call_main.h:58:16\n"
	"\n"
	"SUMMARY: AddressSanitizer: 40 byte(s) leaked in 1 allocation(s).\n";

static const char leak_indirect_calloc[] =
	"==9==ERROR: LeakSanitizer: detected memory leaks\n"
	"\n"
	"Indirect leak of 16 byte(s) in 1 object(s) allocated from:\n"
	"    #0 0x7 in __interceptor_calloc (/tmp/p+0xa3)\n"
	"    #1 0x8 in channel_new /work/fakes/chan.c:40:9\n"
	"\n"
	"SUMMARY: AddressSanitizer: 16 byte(s) leaked in 1 allocation(s).\n";

static const char ubsan_overflow[] =
	"ub.c:3:65: runtime error: signed integer overflow: 2147483647 + 1 cannot be represented in "
	"type 'int'\n"
	"    #0 0x558710f04f26 in main /tmp/san/ub.c:3:65\n"
	"    #1 0x7fa3d269d249 in __libc_start_call_main csu/../sysdeps/nptl/libc_start_call_main.h:58:16\n"
	"\n"
	"SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior ub.c:3:65 in \n";

static const char ubsan_brief[] =
	"x.c:5:10: runtime error: signed integer overflow: 2147483647 + 1 cannot be represented in "
	"type 'int'\n"
	"SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior x.c:5:10 in \n";

static const char ubsan_divzero[] =
	"some program output\n"
	"/work/main/core/migration/ram.c:212:17: runtime error: division by zero\n"
	"SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior /work/main/core/migration/ram.c:212:17 in \n";

static const char assert_brief[] = "prog: a.c:3: main: Assertion `x == 1' failed.\n";

static const char assert_glibc[] =
	"starting\n"
	"as: as.c:2: int main(int, char **): Assertion `s->state == MIG_ACTIVE && n > 0' failed.\n";

static const char tsan_unlock[] =
	"WARNING: ThreadSanitizer: unlock of an unlocked mutex (or by a wrong thread) (pid=1)\n"
	"SUMMARY: ThreadSanitizer: unlock of an unlocked mutex (or by a wrong thread) /p.c:7:3 in main\n";

struct ccase {
	const char *what;
	struct run_end end;
	const char *sig;
	bool failed;
};

static const struct ccase sanitizer_cases[] = {
	{ "tsan data race", { tsan_race, EXITED(66), false, "" }, "tsan:data-race@incr", true },
	{ "tsan lock-order-inversion", { tsan_lock_order, EXITED(66), false, NULL },
	  "tsan:lock-order-inversion@f", true },
	{ "tsan unsymbolized",
	  { "SUMMARY: ThreadSanitizer: data race (/tmp/race+0xd0114) (BuildId: b487da55) in incr\n",
	    EXITED(66), false, NULL },
	  "tsan:data-race@incr", true },
	{ "tsan thread leak", { "SUMMARY: ThreadSanitizer: thread leak /x.c:9:3 in main\n", EXITED(66), false, NULL },
	  "tsan:thread-leak@main", true },
	{ "tsan, no function", { "SUMMARY: ThreadSanitizer: data race /x.c:1:2\n", EXITED(66), false, NULL },
	  "tsan:data-race", true },
	{ "asan use after free", { asan_uaf, EXITED(1), false, NULL }, "asan:heap-use-after-free@foo", true },
	{ "asan SEGV", { asan_segv, EXITED(1), false, NULL }, "asan:SEGV@main", true },
	{ "asan SEGV in libc, no function",
	  { "SUMMARY: AddressSanitizer: SEGV (/lib/x86_64-linux-gnu/libc.so.6+0x18b8d5) (BuildId: 0a)\n",
	    EXITED(1), false, NULL },
	  "asan:SEGV", true },
	{ "leak, as in the brief", { leak_short, EXITED(23), false, NULL }, "asan:memory-leak@make_thing", true },
	{ "leak, clang 14", { leak_clang14, EXITED(23), false, NULL }, "asan:memory-leak@make_thing", true },
	{ "indirect leak, calloc", { leak_indirect_calloc, EXITED(23), false, NULL },
	  "asan:memory-leak@channel_new", true },
	{ "ubsan overflow, clang 14", { ubsan_overflow, EXITED(1), false, NULL },
	  "ubsan:signed-integer-overflow@ub.c:3", true },
	{ "ubsan overflow, brief", { ubsan_brief, EXITED(1), false, NULL }, "ubsan:signed-integer-overflow@x.c:5", true },
	{ "ubsan division by zero, full path", { ubsan_divzero, EXITED(1), false, NULL },
	  "ubsan:division-by-zero@ram.c:212", true },
	{ "first summary wins", { "SUMMARY: AddressSanitizer: SEGV /a.c:1:1 in a\nSUMMARY: ThreadSanitizer: data race /b.c:1:1 in b\n",
	    EXITED(1), false, NULL },
	  "asan:SEGV@a", true },
};

static const struct ccase assert_cases[] = {
	{ "assert, brief", { assert_brief, KILLED(SIGABRT), false, NULL }, "assert:x == 1", true },
	{ "assert, glibc", { assert_glibc, KILLED(SIGABRT), false, NULL }, "assert:s->state == MIG_ACTIVE && n > 0", true },
	{ "assert text split over lines", { "Assertion `x\n' failed.\n", KILLED(SIGABRT), false, NULL },
	  "signal:SIGABRT", true },
	{ "invariant without the runtime (real threads)",
	  { "migrace: invariant:guest-on-both-sides broken at s.c:9: both run\n", KILLED(SIGABRT), false, NULL },
	  "invariant:guest-on-both-sides", true },
};

/* the runtime's verdicts, and their precedence over reports and exits */
static const struct ccase verdict_cases[] = {
	{ "hang", { "", KILLED(SIGKILL), true, NULL }, "hang", true },
	{ "hang beats everything", { tsan_race, KILLED(SIGKILL), true, "deadlock" }, "hang", true },
	{ "deadlock", { "", EXITED(70), false, "deadlock" }, "deadlock", true },
	{ "deadlock beats a report", { tsan_race, EXITED(70), false, "deadlock" }, "deadlock", true },
	{ "invariant", { assert_brief, EXITED(70), false, "invariant:no-double-free" }, "invariant:no-double-free", true },
	{ "unreached", { "", EXITED(70), false, "unreached:rp:exit:after-clear" }, "unreached:rp:exit:after-clear", true },
	{ "misuse loses to tsan", { tsan_unlock, EXITED(66), false, "misuse:unlock-not-owner" },
	  "tsan:unlock-of-an-unlocked-mutex@main", true },
	{ "misuse loses to asan", { asan_uaf, EXITED(1), false, "misuse:unlock-not-owner" },
	  "asan:heap-use-after-free@foo", true },
	{ "misuse loses to an assertion", { assert_brief, KILLED(SIGABRT), false, "misuse:unlock-not-owner" },
	  "assert:x == 1", true },
	{ "misuse beats an exit code", { "bye\n", EXITED(1), false, "misuse:unlock-not-owner" },
	  "misuse:unlock-not-owner", true },
	{ "misuse beats a clean exit", { "", EXITED(0), false, "misuse:unlock-not-owner" },
	  "misuse:unlock-not-owner", true },
	{ "misuse beats a signal", { "", KILLED(SIGSEGV), false, "misuse:relock-errorcheck" },
	  "misuse:relock-errorcheck", true },
};

static const struct ccase exit_cases[] = {
	{ "SIGSEGV", { "", KILLED(SIGSEGV), false, NULL }, "signal:SIGSEGV", true },
	{ "SIGSEGV with core", { "", KILLED(SIGSEGV) | 0x80, false, "" }, "signal:SIGSEGV", true },
	{ "SIGABRT without a message", { "Aborted\n", KILLED(SIGABRT), false, NULL }, "signal:SIGABRT", true },
	{ "SIGKILL", { NULL, KILLED(SIGKILL), false, NULL }, "signal:SIGKILL", true },
	{ "exit 3", { "error: no peer\n", EXITED(3), false, NULL }, "exit:3", true },
	{ "exit 255", { "", EXITED(255), false, NULL }, "exit:255", true },
	{ "sanitizer words outside a summary",
	  { "warning: ThreadSanitizer: is not a report\nruntime error is just text\n", EXITED(4), false, NULL },
	  "exit:4", true },
};

static const struct ccase clean_cases[] = {
	{ "clean", { "migrated 128 MiB\n", EXITED(0), false, NULL }, "clean", false },
	{ "clean, nothing at all", { NULL, 0, false, NULL }, "clean", false },
	{ "clean, empty verdict", { "", 0, false, "" }, "clean", false },
};

/* Classifies every case, reports each mismatch, fails if there was one. */
static void run_cases(const struct ccase *cases, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ccase *c = &cases[i];
		char sig[160];

		memset(sig, 'x', sizeof(sig));
		bool failed = classify(&c->end, sig, sizeof(sig));
		if (strcmp(sig, c->sig) != 0 || failed != c->failed) {
			print_error("%s: classify gave \"%s\" (%s), expected \"%s\" (%s)\n", c->what, sig,
				    failed ? "failed" : "passed", c->sig, c->failed ? "failed" : "passed");
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

#define RUN_CASES(a) run_cases(a, sizeof(a) / sizeof(a[0]))

static void test_sanitizer_reports(void **state) { RUN_CASES(sanitizer_cases); }
static void test_assertions(void **state) { RUN_CASES(assert_cases); }
static void test_runtime_verdicts(void **state) { RUN_CASES(verdict_cases); }
static void test_signals_and_exits(void **state) { RUN_CASES(exit_cases); }
static void test_clean(void **state) { RUN_CASES(clean_cases); }

/* The brief's form: UBSan signatures start with kind@file:line. */
static void test_ubsan_prefix(void **state)
{
	const struct run_end end = { ubsan_brief, EXITED(1), false, NULL };
	char sig[128];
	assert_true(classify(&end, sig, sizeof(sig)));
	assert_true(strncmp(sig, "ubsan:signed-integer-overflow@x.c:5", 35) == 0);
}

static void test_classify_truncates(void **state)
{
	const struct run_end end = { tsan_race, EXITED(66), false, NULL };
	char sig[10];

	memset(sig, 'x', sizeof(sig));
	assert_true(classify(&end, sig, sizeof(sig)));
	assert_string_equal(sig, "tsan:data");

	const struct run_end clean = { "", 0, false, NULL };
	char small[4];
	assert_false(classify(&clean, small, sizeof(small)));
	assert_string_equal(small, "cle");
}

static void test_signature_matches(void **state)
{
	static const struct {
		const char *sig, *pattern;
		bool match;
	} cases[] = {
		{ "tsan:data-race@incr", "tsan:data-race@incr", true },
		{ "tsan:data-race@incr", "tsan:data-race@incr2", false },
		{ "tsan:data-race@incr2", "tsan:data-race@incr", false },
		{ "tsan:data-race@incr", "tsan:data-race", false },
		{ "tsan:data-race@incr", "tsan:data-race@*", true },
		{ "tsan:data-race@incr", "tsan:*", true },
		{ "tsan:data-race@incr", "asan:*", false },
		{ "tsan:data-race@incr", "*", true },
		{ "", "*", true },
		{ "clean", "clean", true },
		{ "clean", "", false },
		{ "", "", true },
		{ "tsan:data-race@incr", "tsan:data-race@incr*", true },
		{ "tsan:", "tsan:data*", false },
		{ "misuse:unlock-not-owner", "misuse:*", true },
		{ "deadlock", "dead*lock", false },  /* only a trailing '*' is special */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (signature_matches(cases[i].sig, cases[i].pattern) != cases[i].match)
			fail_msg("signature_matches(\"%s\", \"%s\") should be %s", cases[i].sig, cases[i].pattern,
				 cases[i].match ? "true" : "false");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitizer_reports),
		cmocka_unit_test(test_assertions),
		cmocka_unit_test(test_runtime_verdicts),
		cmocka_unit_test(test_signals_and_exits),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_ubsan_prefix),
		cmocka_unit_test(test_classify_truncates),
		cmocka_unit_test(test_signature_matches),
	};
	return cmocka_run_group_tests_name("classify", tests, NULL, NULL);
}
