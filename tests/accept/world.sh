#!/bin/bash
# The program's whole world is scheduled: many threads and objects, release
# points, atomic read-modify-writes, futexes, spurious wake-ups and C++. For
# each, a program with a bug that the harness finds within its budget, whose
# trace replays, and a correct twin that stays clean, in the tsan and asan builds.
. tests/accept/lib.bash

for b in tsan asan; do
	P=build/$b/testprogs
	# limits: 300 threads, a million live objects
	found $b "300 threads, a lost update" 'assert:counter == n' $P/many_threads
	clean $b "300 threads, one critical section" random 100 $P/many_threads fixed
	expect "$b: a million live semaphores" 0 'no failure' \
		$M exec --strategy random --runs 2 --timeout 120 -- $P/many_objects 1000000
	expect "$b: 1,024 threads (main and 1,023 workers) run" 0 'no failure' \
		$M exec --strategy random --runs 1 --timeout 120 -- $P/many_threads fixed 1023
	expect "$b: the 1,025th thread is refused" 1 'harness:too-many-threads' \
		$M exec --strategy random --runs 1 -- $P/many_threads fixed 1024
	# release points: preempted right after an unlock
	found $b "touch the job after unlocking while the submitter frees it" 'heap-use-after-free@worker' \
		$P/release_touch
	clean $b "the job touched before the unlock" random 1000 $P/release_touch fixed
	clean $b "the job touched before the unlock" dfs:1 1000 $P/release_touch fixed

	# atomic read-modify-writes are memory points (--preempt mem)
	clean $b "lock-free stack, sync points only" dfs:1 1000 $P/lockfree_stack
	XOPT="--preempt mem" found $b "lock-free stack: a push between the exchange and the CAS" \
		'assert:count == 4' $P/lockfree_stack
	expect "$b: ... dfs:1 finds it too" 1 'assert:count == 4' \
		$M exec --preempt mem --strategy dfs:1 --runs 1000 -- $P/lockfree_stack
	XOPT="--preempt mem" clean $b "lock-free stack, fixed" random 1000 $P/lockfree_stack fixed
	XOPT="--preempt mem" clean $b "lock-free stack, fixed" dfs:1 1000 $P/lockfree_stack fixed

	# futexes: a lost wake-up is a deadlock on the futex word
	found $b "futex event, lost wake-up" 'deadlock' $P/futex_event
	expect "$b: ... the report names the futex word" 1 'T1 sleeps on futex word w1' \
		$M exec --strategy pct:3 --runs 1000 -- $P/futex_event
	for a in fixed bitset; do
		clean $b "futex event, $a" random 1000 $P/futex_event $a
		clean $b "futex event, $a" dfs:1 1000 $P/futex_event $a
	done

	# spurious wake-ups and early timeouts (MIGRACE_SPURIOUS=1)
	for a in "" timed; do
		clean $b "\`if' around cond_wait${a:+ ($a)}, no spurious wake-ups" pct:3 1000 $P/spurious_if $a
		XOPT= MIGRACE_SPURIOUS=1 found $b "\`if' around cond_wait${a:+ ($a)}, spurious on" 'assert:ready' \
			$P/spurious_if $a
		MIGRACE_SPURIOUS=1 clean $b "\`while' around cond_wait${a:+ ($a)}, spurious on" random 1000 \
			$P/spurious_if fixed $a
		MIGRACE_SPURIOUS=1 clean $b "\`while' around cond_wait${a:+ ($a)}, spurious on" dfs:1 1000 \
			$P/spurious_if fixed $a
	done

	# exit handlers run while other threads are still scheduled
	found $b "an atexit handler frees what a detached worker still uses" \
		"$([ $b = asan ] && echo 'asan:heap-use-after-free@worker' || echo 'tsan:')" $P/exit_handler
	clean $b "the handler stops and joins the worker first" random 1000 $P/exit_handler fixed
	clean $b "the handler stops and joins the worker first" dfs:1 1000 $P/exit_handler fixed

	# C++: std::thread, std::mutex, std::condition_variable, std::atomic
	if [ $b = tsan ]; then
		found $b "C++ counter" 'tsan:data-race@Counter::bump\(\)' $P/cxx_counter
	else
		found $b "C++ counter" 'assert:counter.hits\(\) == 2' $P/cxx_counter
	fi
	clean $b "C++ counter, fixed" random 300 $P/cxx_counter fixed
	clean $b "C++ counter, fixed" dfs:1 1000 $P/cxx_counter fixed
done
T=$(ls "$OUTDIR"/asan-release_touch-*/*.trace | head -1)
check "the asan trace has the release decision after the worker's unlock" \
	grep -Eq ' T0 cond-wake .* from=T1 .*' "$T"
check "... named 'released' in the trace" grep -q ' released m1 ' "$T"
expect "--spurious (the flag) finds the \`if' around cond_wait" 1 'assert:ready' \
	$M exec --spurious --strategy pct:3 --runs 1000 -- build/tsan/testprogs/spurious_if
T=$(sed -n 's/^migrace: trace: //p' <<<"$OUT")
check "  ... its trace says spurious 1" grep -q '^spurious 1$' "$T"
expect "  ... and replays with no flag" 0 'replay reproduced assert:ready' env -u MIGRACE_SPURIOUS $M replay "$T"
expect "a bad MIGRACE_SPURIOUS is refused" 2 'MIGRACE_SPURIOUS="2": expected 0 or 1' \
	env MIGRACE_SPURIOUS=2 build/tsan/testprogs/spurious_if
T=$(ls "$OUTDIR"/tsan-cxx_counter-*/*.trace | head -1)
check "the C++ trace has std::thread's threads and std::mutex's locks" \
	bash -c "grep -q ' T0 create T2 ' $T && grep -q ' T[12] lock m' $T"
T=$(ls "$OUTDIR"/asan-exit_handler-*/*.trace | head -1)
check "the asan exit trace has the decisions around the exit handlers" grep -q ' exit-process ' "$T"
finish
