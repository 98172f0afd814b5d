#!/bin/bash
# The program's whole world is scheduled: many threads and objects, release
# points, atomic read-modify-writes, futexes, spurious wake-ups and C++. For
# each, a program with a bug that the harness finds within its budget, whose
# trace replays, and a correct twin that stays clean, in the tsan and asan builds.
. tests/accept/lib.bash

# found BUILD DESC SIG PROG ARGS...: pct:3 finds SIG within 1,000 schedules
# (extra exec options in $XOPT), the trace replays to it
found() {
	local b=$1 desc=$2 sig=$3
	shift 3
	local out="$OUTDIR/$b-$(basename "$1")-$tap_n"
	expect "$b: $desc: pct:3 finds $sig" 1 "first failure: .*$sig" \
		$M exec ${XOPT:-} --strategy pct:3 --runs 1000 --out "$out" -- "$@"
	local t
	t=$(ls "$out"/*.trace 2>/dev/null | head -1)
	expect "$b: ... and its trace replays" 0 "replay reproduced $sig" $M replay "$t"
}
# clean BUILD DESC STRATEGY RUNS PROG ARGS...: no failure (dfs: exhausted)
clean() {
	local b=$1 desc=$2 s=$3 n=$4
	shift 4
	local pat='no failure'
	[ "${s%%:*}" = dfs ] && pat='exhausted'
	expect "$b: $desc: $s, $n schedules: clean" 0 "$pat" $M exec ${XOPT:-} --strategy "$s" --runs "$n" -- "$@"
}

for b in tsan asan; do
	P=build/$b/testprogs
	# limits: 300 threads, a million live objects
	found $b "300 threads, a lost update" 'assert:counter == n' $P/many_threads
	clean $b "300 threads, one critical section" random 100 $P/many_threads fixed
	expect "$b: a million live semaphores" 0 'no failure' \
		$M exec --strategy random --runs 2 -- $P/many_objects 1000000
	expect "$b: 1,024 threads (main and 1,023 workers) run" 0 'no failure' \
		$M exec --strategy random --runs 1 -- $P/many_threads fixed 1023
	expect "$b: the 1,025th thread is refused" 1 'harness:too-many-threads' \
		$M exec --strategy random --runs 1 -- $P/many_threads fixed 1024
done
finish
