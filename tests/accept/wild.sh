#!/bin/bash
# Code as it is in the wild: threads and waits inside shared libraries that
# were not built with migrace-cc (GLib's thread pool, asynchronous queue,
# mutex and sleep; a plain clang library whose threads call the program
# back), a thread started by a constructor with fork handlers, time polled in
# a loop, pthread_cancel. Each program's bug is found by pct:3 within 1,000 schedules and its
# trace replays 10 times out of 10; its correct twin stays clean and the
# exploration is deterministic, in the tsan and asan builds.
. tests/accept/lib.bash

# LeakSanitizer's pass at each run's exit is most of an asan run's time and
# none of these programs is about leaks
export ASAN_OPTIONS=detect_leaks=0
# TSan sees none of the synchronisation inside uninstrumented libglib (its
# GMutex takes its fast path with atomics compiled into libglib): races on
# memory handed over through glib's locks are suppressed, as a TSan user of
# an uninstrumented glib must (docs/interception.md)
printf 'race:libglib-2.0.so\n' > "$OUTDIR/glib.supp"
GLIB_TSAN="TSAN_OPTIONS=suppressions=$OUTDIR/glib.supp"

# found BUILD DESC SIG PROG ARGS...: pct:3 finds SIG within 1,000 schedules,
# its trace replays to it 10 times out of 10
found() {
	local b=$1 desc=$2 sig=$3
	shift 3
	local out="$OUTDIR/$b-$(basename "$1")-$tap_n"
	expect "$b: $desc: pct:3 finds $sig" 1 "first failure: .*$sig" \
		env ${XENV:-} $M exec --strategy pct:3 --runs 1000 --out "$out" -- "$@"
	local t ok=0
	t=$(ls "$out"/*.trace 2>/dev/null | head -1)
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		run env ${XENV:-} $M replay "$t"
		[ "$RC" -eq 0 ] && printf '%s\n' "$OUT" | grep -Eq "replay reproduced .*$sig" && ok=$((ok + 1))
	done
	check "$b: ... its trace replays 10/10 (replayed $ok)" [ "$ok" -eq 10 ]
}
# clean BUILD DESC RUNS PROG ARGS...: pct:3 finds nothing; --check-determinism
# (a new process per schedule, each schedule run twice) finds no difference
clean() {
	local b=$1 desc=$2 n=$3
	shift 3
	expect "$b: $desc: pct:3, $n schedules: clean" 0 'no failure' \
		env ${XENV:-} $M exec --strategy pct:3 --runs "$n" -- "$@"
	expect "$b: $desc: --check-determinism, 10 schedules: deterministic" 0 'no failure' \
		env ${XENV:-} $M exec --check-determinism --strategy random --runs 10 -- "$@"
}

for b in tsan asan; do
	P=build/$b/testprogs/wild
	[ $b = tsan ] && XENV=$GLIB_TSAN || XENV=
	# GLib: GThreadPool's threads are created inside libglib, GAsyncQueue
	# and GMutex wait with raw futexes, g_usleep sleeps in virtual time
	found $b "glib pool, the sum updated in two critical sections" 'assert:sum ==' $P/glib_pool
	clean $b "glib pool, one critical section" 100 $P/glib_pool fixed
	XENV=
	# a library built with plain clang starts the threads that call back
	found $b "library threads, a transfer in two critical sections" 'assert:a \+ b == 100' \
		$P/lib_threads
	clean $b "library threads, one critical section" 100 $P/lib_threads fixed
	# a thread started by a constructor, fork handlers registered there
	P=build/$b/testprogs
	found $b "constructor's worker, a job counted done before its value is added" \
		'assert:seen == 10 \* JOBS' $P/ctor_worker
	clean $b "constructor's worker, one critical section" 100 $P/ctor_worker fixed
	expect "$b: a library's constructor's thread is refused in one line naming it" 2 \
		'^migrace: a thread was started before the runtime was set up .*start function early_tick in .*libearly.so' \
		$M exec --runs 3 -- $P/wild/early_thread
	# time polled in a loop moves on; pthread_cancel is the harness's limit
	found $b "a clock-polling deadline shorter than the work" 'assert:atomic_load\(&ready\)' $P/clock_poll
	clean $b "a clock-polling deadline longer than the work" 100 $P/clock_poll fixed
	expect "$b: pthread_cancel stops the run as the harness's limit" 1 'harness:pthread-cancel' \
		$M exec --runs 3 -- $P/cancel
done
T=$(ls "$OUTDIR"/asan-lib_threads-*/*.trace | head -1)
check "the library's threads are scheduled: created by T0, all three lock and wait in the trace" \
	bash -c "grep -q ' T0 create T1 ' $T && grep -q ' T3 lock ' $T && grep -Eq ' T[12] cond-wait ' $T"
T=$(ls "$OUTDIR"/asan-glib_pool-*/*.trace | head -1)
check "glib's threads and futexes are scheduled: pool threads created, futex waits in the trace" \
	bash -c "grep -q ' T0 create T2 ' $T && grep -Eq ' T[0-9]+ futex-(wait|wake) ' $T"
T=$(ls "$OUTDIR"/tsan-ctor_worker-*/*.trace | head -1)
check "the constructor's worker is the run's T1, created by T0 in start_worker" \
	grep -Eq ' T0 create T1 .*start_worker' "$T"
# migrace-cc -shared: a library without the runtime, caught by the program's
W=tests/accept/progs/wild
expect "migrace-cc --tsan -shared builds a library" 0 '' \
	build/bin/migrace-cc --tsan -fPIC -shared $W/libcbthreads.c -o "$OUTDIR/libcbthreads.so"
check "... without the runtime in it" bash -c "! nm '$OUTDIR/libcbthreads.so' | grep -q ' T rt_point$'"
expect "... and a program using it links" 0 '' build/bin/migrace-cc --tsan -I$W $W/lib_threads.c \
	-L"$OUTDIR" -lcbthreads -Wl,-rpath,"$OUTDIR" -o "$OUTDIR/lib_threads_mcc"
expect "... whose library threads are scheduled, with memory points in the library: the bug is found" 1 \
	'first failure: .*assert:a \+ b == 100' $M exec --preempt mem --strategy pct:3 --runs 1000 -- "$OUTDIR/lib_threads_mcc"
nm build/tsan/testprogs/wild/glib_pool > "$OUTDIR/nm.tsan"
nm build/asan/testprogs/wild/glib_pool > "$OUTDIR/nm.asan"
for f in tsan asan; do
	check "$f: the runtime's strong pthread_mutex_lock, syscall and exit are linked (not the sanitizer's weak ones)" \
		bash -c "grep -Eq '^[0-9a-f]+ T pthread_mutex_lock$' $OUTDIR/nm.$f && grep -Eq '^[0-9a-f]+ T syscall$' $OUTDIR/nm.$f && grep -Eq '^[0-9a-f]+ T exit$' $OUTDIR/nm.$f"
done
finish
