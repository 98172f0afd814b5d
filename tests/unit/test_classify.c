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
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- plumbing: reports whose top frames are not the program's ---------- */

/* a free in the program races with a read: TSan's top frame is free itself */
static const char tsan_race_free[] =
	"==================\n"
	"WARNING: ThreadSanitizer: data race (pid=26441)\n"
	"  Write of size 8 at 0x7b0400000000 by main thread:\n"
	"    #0 free <null> (racefree_tsan+0x51314) (BuildId: ce817382403c12b532a3476d0b5188d43abf7c8e)\n"
	"    #1 release /tmp/sigw/racefree.c:8:38 (racefree_tsan+0xd12a6) (BuildId: ce817382403c12b532a3476d0b5188d43abf7c8e)\n"
	"    #2 main /tmp/sigw/racefree.c:14:2 (racefree_tsan+0xd12a6)\n"
	"\n"
	"  Previous read of size 4 at 0x7b0400000000 by thread T1:\n"
	"    #0 reader /tmp/sigw/racefree.c:7:52 (racefree_tsan+0xd1324) (BuildId: ce817382403c12b532a3476d0b5188d43abf7c8e)\n"
	"    #1 rt_thread_trampoline /src/migrace/harness/rt/rt.c:495:14 (racefree_tsan+0xd5fe8) (BuildId: ce817382403c12b532a3476d0b5188d43abf7c8e)\n"
	"\n"
	"  Thread T1 (tid=26447, running) created by main thread at:\n"
	"    #0 pthread_create <null> (racefree_tsan+0x524dd) (BuildId: ce817382403c12b532a3476d0b5188d43abf7c8e)\n"
	"    #1 __wrap_pthread_create /src/migrace/harness/rt/wrap.c:229:11 (racefree_tsan+0xdae1b) (BuildId: ce817382403c12b532a3476d0b5188d43abf7c8e)\n"
	"    #2 main /tmp/sigw/racefree.c:12:2 (racefree_tsan+0xd1280) (BuildId: ce817382403c12b532a3476d0b5188d43abf7c8e)\n"
	"\n"
	"SUMMARY: ThreadSanitizer: data race (/tmp/sigw/racefree_tsan+0x51314) (BuildId: ce817382403c12b532a3476d0b5188d43abf7c8e) in free\n"
	"==================\n";

/* a C++ leak through operator new[]: the name has a space and brackets */
static const char asan_leak_new[] =
	"\n"
	"=================================================================\n"
	"==5297==ERROR: LeakSanitizer: detected memory leaks\n"
	"\n"
	"Direct leak of 16 byte(s) in 1 object(s) allocated from:\n"
	"    #0 0x564125c4e02d in operator new[](unsigned long) (/tmp/sigw/leak_asan+0xdf02d) (BuildId: "
	"b473b310d47633678bf9cf4e182ca9d0493b6c11)\n"
	"    #1 0x564125c505ed in Counter::bump() /tmp/sigw/leak.cc:2:61\n"
	"    #2 0x564125c50545 in main /tmp/sigw/leak.cc:3:43\n"
	"    #3 0x7f969fd65249 in __libc_start_call_main csu/../sysdeps/nptl/libc_start_call_main.h:58:16\n"
	"\n"
	"SUMMARY: AddressSanitizer: 16 byte(s) leaked in 1 allocation(s).\n";

static const char asan_leak_new_scalar[] =
	"==61==ERROR: LeakSanitizer: detected memory leaks\n"
	"\n"
	"Direct leak of 4 byte(s) in 1 object(s) allocated from:\n"
	"    #0 0x55d0c1b2e8ad in operator new(unsigned long) (/tmp/p+0xdf8ad) (BuildId: 1a)\n"
	"    #1 0x55d0c1b30f12 in (anonymous namespace)::Pool::grow(unsigned long, bool) /tmp/p.cc:14:9\n"
	"\n"
	"SUMMARY: AddressSanitizer: 4 byte(s) leaked in 1 allocation(s).\n";

static const char tsan_race_cxx[] =
	"WARNING: ThreadSanitizer: data race (pid=11267)\n"
	"  Write of size 8 at 0x5576ce4a5668 by thread T1:\n"
	"    #0 Counter::bump() /tmp/sigw/race.cc:2:45 (race_tsan+0xd44b1) (BuildId: 73120e52f8a09cf6cd779def54f2f48debeafb8f)\n"
	"    #1 main::$_0::operator()() const /tmp/sigw/race.cc:4:35 (race_tsan+0xd44b1)\n"
	"    #7 <null> <null> (libstdc++.so.6+0xd44a2) (BuildId: 289ee39f8c07bd4fa48102dfeeb7e6f9c76158b4)\n"
	"\n"
	"  Previous read of size 8 at 0x5576ce4a5668 by main thread:\n"
	"    #0 Counter::get() const /tmp/sigw/race.cc:2:77 (race_tsan+0xd43e8) (BuildId: 73120e52f8a09cf6cd779def54f2f48debeafb8f)\n"
	"    #1 main /tmp/sigw/race.cc:4:58 (race_tsan+0xd43e8)\n"
	"\n"
	"SUMMARY: ThreadSanitizer: data race /tmp/sigw/race.cc:2:45 in Counter::bump()\n";

/* the same report, had the write been in memcpy called from a const member */
static const char tsan_race_memcpy_const[] =
	"WARNING: ThreadSanitizer: data race (pid=11267)\n"
	"  Write of size 8 at 0x5576ce4a5668 by thread T1:\n"
	"    #0 __tsan_memcpy <null> (race_tsan+0x5ab20) (BuildId: 73120e52f8a09cf6cd779def54f2f48debeafb8f)\n"
	"    #1 Buffer::copy_to(char*, unsigned long) const /tmp/sigw/buf.cc:9:5 (race_tsan+0xd44b1)\n"
	"    #2 main /tmp/sigw/buf.cc:20:3 (race_tsan+0xd43e8)\n"
	"\n"
	"SUMMARY: ThreadSanitizer: data race (/tmp/sigw/race_tsan+0x5ab20) (BuildId: 73120e52f8a09cf6cd779def54f2f48debeafb8f) in __tsan_memcpy\n";

static const char asan_memcpy[] =
	"=================================================================\n"
	"==7773==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000014 at pc 0x55b7bef9b52a "
	"bp 0x7ffdcd4990a0 sp 0x7ffdcd498870\n"
	"WRITE of size 12 at 0x602000000014 thread T0\n"
	"    #0 0x55b7bef9b529 in __asan_memcpy (/tmp/sigw/ub2+0xa3529) (BuildId: 791c2af3ee2613665b424970d612288045329198)\n"
	"    #1 0x55b7befd70ea in copy_name /tmp/sigw/ub2.c:8:46\n"
	"    #2 0x55b7befd70ea in main /tmp/sigw/ub2.c:16:35\n"
	"    #3 0x7fab34bf8249 in __libc_start_call_main csu/../sysdeps/nptl/libc_start_call_main.h:58:16\n"
	"\n"
	"0x602000000014 is located 0 bytes to the right of 4-byte region [0x602000000010,0x602000000014)\n"
	"allocated by thread T0 here:\n"
	"    #0 0x55b7bef9c14e in __interceptor_malloc (/tmp/sigw/ub2+0xa414e) (BuildId: 791c2af3ee2613665b424970d612288045329198)\n"
	"    #1 0x55b7befd70ca in main /tmp/sigw/ub2.c:16:24\n"
	"\n"
	"SUMMARY: AddressSanitizer: heap-buffer-overflow (/tmp/sigw/ub2+0xa3529) (BuildId: "
	"791c2af3ee2613665b424970d612288045329198) in __asan_memcpy\n";

/* a thread jumps through a null function pointer: nothing of the program
 * on its stack, the runtime's trampoline below; never "@rt_thread_trampoline" */
static const char asan_wild_jump[] =
	"AddressSanitizer:DEADLYSIGNAL\n"
	"=================================================================\n"
	"==15628==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000000 (pc 0x000000000000 bp "
	"0x7fcc92e5ede0 sp 0x7fcc92e5edd8 T1)\n"
	"==15628==Hint: pc points to the zero page.\n"
	"==15628==The signal is caused by a READ memory access.\n"
	"==15628==Hint: address points to the zero page.\n"
	"    #0 0x0  (<unknown module>)\n"
	"    #1 0x55fcdabb1ff8 in rt_thread_trampoline /src/migrace/harness/rt/rt.c:495:14\n"
	"\n"
	"AddressSanitizer can not provide additional info.\n"
	"SUMMARY: AddressSanitizer: SEGV (<unknown module>) \n"
	"Thread T1 created by T0 here:\n"
	"    #0 0x55fcdab5b8ec in pthread_create (/tmp/sigw/wild_asan+0x8e8ec) (BuildId: 679aa36f8bb31f69013b1b2d337017ffff17966f)\n"
	"    #1 0x55fcdabb6e2b in __wrap_pthread_create /src/migrace/harness/rt/wrap.c:229:11\n"
	"    #2 0x55fcdabb0a42 in main /tmp/sigw/wild.c:6:35\n"
	"\n"
	"==15628==ABORTING\n";

static const char asan_wild_jump_caller[] =
	"==15628==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000010 (pc 0x000000000010 bp "
	"0x7fcc92e5ede0 sp 0x7fcc92e5edd8 T1)\n"
	"    #0 0x10  (<unknown module>)\n"
	"    #1 0x55fcdabb1e21 in dispatch /tmp/sigw/table.c:31:9\n"
	"    #2 0x55fcdabb1ff8 in rt_thread_trampoline /src/migrace/harness/rt/rt.c:495:14\n"
	"\n"
	"SUMMARY: AddressSanitizer: SEGV (<unknown module>) \n";

static const char tsan_wild_jump[] =
	"ThreadSanitizer:DEADLYSIGNAL\n"
	"==18368==ERROR: ThreadSanitizer: SEGV on unknown address 0x000000000000 (pc 0x000000000000 bp "
	"0x000000000001 sp 0x7fb74865c5d8 T18375)\n"
	"==18368==Hint: pc points to the zero page.\n"
	"    #0 <null> <null> (0x000000000000)\n"
	"    #1 __sanitizer::BufferedStackTrace::UnwindImpl(unsigned long, unsigned long, void*, bool, unsigned int) "
	"<null> (wild_tsan+0xcc8d1) (BuildId: 0a5b679da076c9fc8c65c2892fb210a0b084d5f1)\n"
	"    #2 __sanitizer::ReportDeadlySignal(__sanitizer::SignalContext const&, unsigned int, void "
	"(*)(__sanitizer::SignalContext const&, void const*, __sanitizer::BufferedStackTrace*), void const*) <null> "
	"(wild_tsan+0x46616) (BuildId: 0a5b679da076c9fc8c65c2892fb210a0b084d5f1)\n"
	"    #4 <null> <null> (libc.so.6+0x3c04f) (BuildId: 93ac61ec5a8eb1396f9fbd350e3169a558528a40)\n"
	"\n"
	"ThreadSanitizer can not provide additional info.\n"
	"SUMMARY: ThreadSanitizer: SEGV (<unknown module>) \n"
	"==18368==ABORTING\n";

static const char ubsan_wild_jump[] =
	"UndefinedBehaviorSanitizer:DEADLYSIGNAL\n"
	"==24672==ERROR: UndefinedBehaviorSanitizer: SEGV on unknown address 0x000000000000 (pc 0x000000000000 "
	"bp 0x000000000001 sp 0x7fa27285ee18 T24673)\n"
	"    #0 0x0  (<unknown module>)\n"
	"    #1 0x561287bc3592 in ubsan_GetStackTrace(__sanitizer::BufferedStackTrace*, unsigned long, unsigned long, "
	"unsigned long, void*, bool) (/tmp/sigw/wild2_plain+0x2a592) (BuildId: 8975b3c580296819692aa7f0afcede83d9fbb186)\n"
	"\n"
	"UndefinedBehaviorSanitizer can not provide additional info.\n"
	"SUMMARY: UndefinedBehaviorSanitizer: SEGV (<unknown module>) \n"
	"==24672==ABORTING\n";

/* TSan's lock-order inversion ends in the interceptor, below it migrace's wrapper */
static const char tsan_lock_order_wrapped[] =
	"WARNING: ThreadSanitizer: lock-order-inversion (potential deadlock) (pid=13926)\n"
	"  Cycle in lock order graph: M0 (0x55621eb8d300) => M1 (0x55621eb8d2d8) => M0\n"
	"\n"
	"  Mutex M1 acquired here while holding mutex M0 in thread T2:\n"
	"    #0 pthread_mutex_lock <null> (lock_order+0x7006a) (BuildId: 73d46cccaf9caa36b999107e74517aa5489a8824)\n"
	"    #1 real_lock /src/migrace/harness/rt/wrap.c:354:51 (lock_order+0xdb65d) (BuildId: 73d46cccaf9caa36b999107e74517aa5489a8824)\n"
	"    #2 mutex_acquire /src/migrace/harness/rt/wrap.c:369:9 (lock_order+0xdb65d)\n"
	"    #3 two /src/migrace/harness/demos/lock_order.c:36:2 (lock_order+0xd1363) (BuildId: 73d46cccaf9caa36b999107e74517aa5489a8824)\n"
	"    #4 rt_thread_trampoline /src/migrace/harness/rt/rt.c:495:14 (lock_order+0xd6038) (BuildId: 73d46cccaf9caa36b999107e74517aa5489a8824)\n"
	"\n"
	"  Mutex M0 created at:\n"
	"    #0 pthread_mutex_init <null> (lock_order+0x70100)\n"
	"    #1 setup /src/migrace/harness/demos/lock_order.c:12:2 (lock_order+0xd1200)\n"
	"\n"
	"SUMMARY: ThreadSanitizer: lock-order-inversion (potential deadlock) (/src/migrace/build/tsan/demos/lock_order+0x7006a) "
	"(BuildId: 73d46cccaf9caa36b999107e74517aa5489a8824) in __interceptor_pthread_mutex_lock\n";

static const struct ccase plumbing_cases[] = {
	{ "tsan race at free: the program's caller of free", { tsan_race_free, EXITED(66), false, NULL },
	  "tsan:data-race@release", true },
	{ "asan leak through operator new[]: the whole demangled caller", { asan_leak_new, EXITED(23), false, NULL },
	  "asan:memory-leak@Counter::bump()", true },
	{ "asan leak through operator new, anonymous namespace",
	  { asan_leak_new_scalar, EXITED(23), false, NULL },
	  "asan:memory-leak@(anonymous namespace)::Pool::grow(unsigned long, bool)", true },
	{ "tsan race, C++ name in the summary", { tsan_race_cxx, EXITED(66), false, NULL },
	  "tsan:data-race@Counter::bump()", true },
	{ "tsan race in __tsan_memcpy, const member below", { tsan_race_memcpy_const, EXITED(66), false, NULL },
	  "tsan:data-race@Buffer::copy_to(char*, unsigned long) const", true },
	{ "asan overflow in __asan_memcpy", { asan_memcpy, EXITED(1), false, NULL },
	  "asan:heap-buffer-overflow@copy_name", true },
	{ "asan wild jump, nothing of the program", { asan_wild_jump, EXITED(1), false, NULL }, "asan:SEGV", true },
	{ "asan wild jump from a program function", { asan_wild_jump_caller, EXITED(1), false, NULL },
	  "asan:SEGV@dispatch", true },
	{ "tsan wild jump: sanitizer frames only", { tsan_wild_jump, EXITED(66), false, NULL }, "tsan:SEGV", true },
	{ "ubsan wild jump (plain build)", { ubsan_wild_jump, EXITED(1), false, NULL }, "ubsan:SEGV", true },
	{ "tsan lock order in the interceptor and migrace's wrapper", { tsan_lock_order_wrapped, EXITED(66), false, NULL },
	  "tsan:lock-order-inversion@two", true },
};

/* UBSan's messages carry values of the run; the kind must not */
static const struct ccase ubsan_kind_cases[] = {
	{ "index past the end",
	  { "ub2.c:5:25: runtime error: index 5 out of bounds for type 'int[4]'\n"
	    "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior ub2.c:5:25 in \n", EXITED(1), false, NULL },
	  "ubsan:index@ub2.c:5", true },
	{ "negative index",
	  { "ub2.c:5:25: runtime error: index -2 out of bounds for type 'int[4]'\n"
	    "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior ub2.c:5:25 in \n", EXITED(1), false, NULL },
	  "ubsan:index@ub2.c:5", true },
	{ "negative shift exponent",
	  { "ub2.c:6:34: runtime error: shift exponent -2 is negative\n"
	    "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior ub2.c:6:34 in \n", EXITED(1), false, NULL },
	  "ubsan:shift-exponent@ub2.c:6", true },
	{ "shift exponent too large",
	  { "ub2.c:6:34: runtime error: shift exponent 40 is too large for 32-bit type 'int'\n"
	    "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior ub2.c:6:34 in \n", EXITED(1), false, NULL },
	  "ubsan:shift-exponent@ub2.c:6", true },
	{ "float to int out of range, a value first",
	  { "ub2.c:7:29: runtime error: 2e+10 is outside the range of representable values of type 'int'\n"
	    "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior ub2.c:7:29 in \n", EXITED(1), false, NULL },
	  "ubsan:is-outside-the-range-of-representable-values-of-type@ub2.c:7", true },
	{ "float to int out of range, -inf",
	  { "ub2.c:7:29: runtime error: -inf is outside the range of representable values of type 'int'\n"
	    "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior ub2.c:7:29 in \n", EXITED(1), false, NULL },
	  "ubsan:is-outside-the-range-of-representable-values-of-type@ub2.c:7", true },
	{ "negation of INT_MIN",
	  { "n.c:2:10: runtime error: negation of -2147483648 cannot be represented in type 'int'; cast to an "
	    "unsigned type to negate this value to itself\n"
	    "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior n.c:2:10 in \n", EXITED(1), false, NULL },
	  "ubsan:negation-of@n.c:2", true },
	{ "load of a bad bool",
	  { "b.c:4:9: runtime error: load of value 5, which is not a valid value for type 'bool'\n"
	    "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior b.c:4:9 in \n", EXITED(1), false, NULL },
	  "ubsan:load-of-value@b.c:4", true },
	{ "misaligned load",
	  { "m.c:3:12: runtime error: load of misaligned address 0x55f1c2a1e2a1 for type 'int', which requires 4 byte "
	    "alignment\n"
	    "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior m.c:3:12 in \n", EXITED(1), false, NULL },
	  "ubsan:load-of-misaligned-address@m.c:3", true },
};

/* Classifies every case, reports each mismatch, fails if there was one. */
static void run_cases(const struct ccase *cases, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ccase *c = &cases[i];
		char sig[200];

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
static void test_plumbing_frames(void **state) { RUN_CASES(plumbing_cases); }
static void test_ubsan_kinds(void **state) { RUN_CASES(ubsan_kind_cases); }

/* The brief's form: UBSan signatures start with kind@file:line. */
static void test_ubsan_prefix(void **state)
{
	const struct run_end end = { ubsan_brief, EXITED(1), false, NULL };
	char sig[128];
	assert_true(classify(&end, sig, sizeof(sig)));
	assert_true(strncmp(sig, "ubsan:signed-integer-overflow@x.c:5", 35) == 0);
}

/* A report of many megabytes (a run's whole output is kept): classified in
 * one pass, not a scan of the rest of the output for every line. */
static void test_huge_report_is_linear(void **state)
{
	static const char head[] = "WARNING: ThreadSanitizer: data race (pid=1)\n";
	static const char noise[] = "  progress: 12 pages sent, 3 dirty\n";
	static const char frame[] = "    #0 free <null> (libc.so.6+0x9a1f3) (BuildId: 0a)\n";
	static const char tail[] = "    #1 worker /x.c:3:1 (p+0x1)\n\n"
				   "SUMMARY: ThreadSanitizer: data race (/tmp/p+0x51314) in free\n";
	size_t n = 40000, len = sizeof(head) + n * (sizeof(noise) + sizeof(frame)) + sizeof(tail);
	char *out = malloc(len), *o = out;
	assert_non_null(out);
	o = stpcpy(o, head);
	for (size_t i = 0; i < n; i++) {
		o = stpcpy(o, noise);
		o = stpcpy(o, frame);
	}
	strcpy(o, tail);

	const struct run_end end = { out, EXITED(66), false, NULL };
	char sig[160];
	clock_t t0 = clock();
	assert_true(classify(&end, sig, sizeof(sig)));
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	assert_string_equal(sig, "tsan:data-race@worker");
	if (secs > 0.5)             /* one pass takes ~0.01 s; a scan per line, seconds */
		fail_msg("classifying a %zu-byte report took %.1f s", strlen(out), secs);
	free(out);
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
		cmocka_unit_test(test_plumbing_frames),
		cmocka_unit_test(test_ubsan_kinds),
		cmocka_unit_test(test_ubsan_prefix),
		cmocka_unit_test(test_huge_report_is_linear),
		cmocka_unit_test(test_classify_truncates),
		cmocka_unit_test(test_signature_matches),
	};
	return cmocka_run_group_tests_name("classify", tests, NULL, NULL);
}
