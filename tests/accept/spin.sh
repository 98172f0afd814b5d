#!/bin/bash
# Spin loops (issue 17, point 3). tests/accept/progs/spin_flag.c: a waiter
# spins on an atomic flag with no call in its loop, then reads the value the
# publisher stores; the bug stores the flag first, the twin ("ok") the value
# first.
# - With sync points only the spinning thread holds the baton while the
#   publisher could run: the fork server ends the run as spin@FILE:LINE (the
#   loop's line) with advice to use --preempt mem, well before the wall clock,
#   and the trace replays to the same signature.
# - With memory points a thread that re-reads an unchanged word yields (a fair
#   step, `fair` in traces): PCT, random, dfs and the learning run of the
#   targeted points all get past the spin; pct:3 finds the bug within 1,000
#   schedules and its trace replays 10/10; the twin stays clean.
# - One thread alone spinning (progs/spin.c) is no spin of this kind: still a
#   wall-clock hang.
. tests/accept/lib.bash

LOOP='spin_flag\.c:30'          # while (!atomic_load_explicit(&ready, ...))
for b in tsan asan; do
	P=build/$b/testprogs/spin_flag
	t0=$(date +%s)
	expect "$b: sync points only: the waiter's spin is spin@spin_flag.c:30, not a hang" 1 \
		"first failure: .*: spin@$LOOP\$" $M exec --strategy script --out "$OUTDIR/$b-sync" -- $P
	secs=$(($(date +%s) - t0))
	check "... before the 10 s wall clock ($secs s), with no run again at 4x" \
		bash -c "[ $secs -lt 10 ] && ! grep -q 'did not finish within' <<< \"\$1\"" _ "$OUT"
	L=$(ls "$OUTDIR/$b-sync"/*.trace.log 2>/dev/null | head -1)
	check "... its report names the threads and advises --preempt mem" \
		grep -q 'no scheduling point while T2 could run, at spin_flag.c:30 waiter.*--preempt mem' "$L"
	expect "$b: a call into the C library in the loop: the spin is at the call, spin@spin_flag.c:32" 1 \
		'first failure: .*: spin@spin_flag\.c:32$' $M exec --strategy script -- $P call
	expect "$b: the waiter T64, the publisher T65 (63 threads joined before): still spin@spin_flag.c:30" 1 \
		"first failure: .*: spin@$LOOP\$" $M exec --strategy script --timeout 5 -- $P far
	XOPT="--preempt mem" found $b "memory points (the bug)" 'assert:v == 42' $P
	T=$(ls "$OUTDIR/$b-spin_flag-"*/*.trace | head -1)
	ok=0
	for i in $(seq 10); do $M replay "$T" > /dev/null 2>&1 && ok=$((ok + 1)); done
	check "$b: ... replays 10 of 10 times ($ok)" test "$ok" -eq 10
	XOPT="--preempt mem" clean $b "memory points (the twin)" dfs:2 1000 $P ok
done
T=$(ls "$OUTDIR/tsan-sync"/*.trace | head -1)
expect "tsan: the spin's trace replays to spin@spin_flag.c:30" 0 "replay reproduced spin@$LOOP in" $M replay "$T"
XOPT="--preempt mem" clean tsan "memory points (the twin)" random 1000 build/tsan/testprogs/spin_flag ok
XOPT="--preempt mem" clean asan "memory points (the twin)" random 200 build/asan/testprogs/spin_flag ok

# the fair steps: recorded, no preemption, replayed
expect "tsan: pct:3 with memory points, every trace kept: clean" 0 'no failure' \
	$M exec --preempt mem --strategy pct:3 --runs 30 --trace-all --out "$OUTDIR/fair" -- build/tsan/testprogs/spin_flag ok
F=$(grep -l ' d=m[0-9]* fair' "$OUTDIR"/fair/*.trace | head -1)
check "... some runs have fair steps (the spinning waiter yields: d=mN fair)" test -n "$F"
expect "... such a trace replays" 0 'replay reproduced clean' $M replay "$F"
# show's preemptions: the switches away from a thread that could go on, but
# for the fair steps
want=0
while read -r _ to _ _ _ from en rest; do
	to=${to#T} from=${from#from=T} en=${en#e=}
	[ "$to" != "$from" ] && [ $((en >> from & 1)) = 1 ] && [[ $rest != *' fair'* ]] && want=$((want + 1))
done < <(sed '1,/^---$/d; s/ @ .*//' "$F")
expect "... and show counts a yield as a switch, not a preemption ($want)" 0 "switches? \\($want preemptions?\\)" \
	$M show "$F"

# the learning run of the targeted points spins too: it yields, so the
# publisher touches the flag and its loads become points
expect "tsan: --preempt mem learns the flag's instructions despite the spin" 0 'mem: [1-9][0-9]* instructions' \
	$M exec --preempt mem --strategy random --runs 1 -- build/tsan/testprogs/spin_flag ok

# a thread alone spinning: nobody else could run, so it is a wall-clock hang
expect "one thread spinning alone is still a wall-clock hang" 1 'first failure: .*: hang$' \
	$M exec --timeout 1 -- build/tsan/testprogs/spin busy
expect "MIGRACE_SPIN_MS=0 turns the detector off: a wall-clock hang" 1 'first failure: .*: hang$' \
	env MIGRACE_SPIN_MS=0 $M exec --timeout 1 --strategy script -- build/tsan/testprogs/spin_flag
expect "MIGRACE_SPIN_MS=abc is refused, exit 2" 2 'MIGRACE_SPIN_MS="abc" is not a number' \
	env MIGRACE_SPIN_MS=abc build/tsan/testprogs/spin_flag
finish
