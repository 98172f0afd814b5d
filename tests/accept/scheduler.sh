#!/bin/bash
# The scheduler's contract: the harness adds no happens-before edge (5a/5b),
# exploration finds an atomicity violation and its trace replays, deadlocks
# are reported with their cycle.
. tests/accept/lib.bash
T=build/tsan/demos

# 5(a): the unprotected counter is reported under every strategy, every run
for s in script random pct:1 pct:2 pct:3; do
	expect "counter race reported by TSan under $s, 100 of 100 seeds" 1 \
		'signatures: tsan:data-race@incr x100$' \
		$M exec --strategy $s --runs 100 --keep-going --jobs 2 -- $T/counter_race
done
for s in dfs:0 dfs:1 dfs:2; do
	expect "counter race reported by TSan in every schedule of $s" 1 \
		'exhausted after ([0-9]+) schedules.*' \
		$M exec --strategy $s --runs 1000 --keep-going -- $T/counter_race
	n=$(printf '%s\n' "$OUT" | sed -n 's/.*exhausted after \([0-9]*\) schedules.*/\1/p')
	check "  ... all $n schedules of $s failed with the race" \
		grep -q "signatures: tsan:data-race@incr x$n\$" <<<"$OUT"
done

# 5(b): with the mutex, no report under 1,000 seeds
for s in random pct:2 pct:3; do
	expect "locked counter clean under $s, 1000 seeds" 0 'runs \(strategy .*\), no failure' \
		$M exec --strategy $s --runs 1000 --jobs 2 -- build/tsan/demos/counter_locked
done
expect "locked counter clean in the first 1000 schedules of dfs:2" 0 'no failure' \
	$M exec --strategy dfs:2 --runs 1000 -- build/tsan/demos/counter_locked

# the atomicity violation across two locked sections, three threads
expect "pct:2 finds the atomicity violation within 1000 runs" 1 \
	'first failure: .*assert:balance >= 0' \
	$M exec --strategy pct:2 --runs 1000 -- build/tsan/demos/atomicity
trace=$(printf '%s\n' "$OUT" | sed -n 's/^migrace: trace: //p' | tail -1)
check "  ... and prints its trace" test -s "$trace"
check "  ... and ends with its repro lines (replay, then the seed form)" bash -c "tail -2 <<<\"\$1\" | head -1 | grep -q 'repro: .*migrace replay ' && tail -1 <<<\"\$1\" | grep -q 'repro (seed): .*migrace exec '" _ "$OUT"
same=0
for i in $(seq 100); do
	run $M replay "$trace"
	[ $RC -eq 0 ] && grep -q 'replay reproduced assert:balance >= 0' <<<"$OUT" && same=$((same + 1))
done
check "replaying that trace gives the same signature 100 times out of 100 ($same)" test $same -eq 100
first_run=$(sed -n 's/.*-run\([0-9]*\)\.trace$/\1/p' <<<"$trace")
expect "a --jobs 2 exploration reports the same first failure (run $first_run)" 1 \
	"first failure: run $first_run \(" \
	$M exec --strategy pct:2 --runs 1000 --jobs 2 -- build/tsan/demos/atomicity
for s in random dfs:1 pct:3; do
	expect "$s finds it too" 1 'assert:balance >= 0' \
		$M exec --strategy $s --runs 1000 -- build/plain/demos/atomicity
done

# deadlocks
expect "a lock-order inversion forced by a script is a deadlock with its cycle" 1 \
	'wait-for cycle: T1 -> T2 -> T1' \
	$M exec --script harness/demos/lock_order.script -- $T/lock_order
check "  ... naming each thread's wait and where" \
	grep -Eq 'T1 waits: lock m2 \(held by T2\) at lock_order.c:[0-9]+ one' <<<"$OUT"
trace=$(printf '%s\n' "$OUT" | sed -n 's/^migrace: trace: //p' | tail -1)
expect "  ... and its trace replays to the deadlock" 0 'replay reproduced deadlock' $M replay "$trace"
expect "a normal mutex relocked by its owner is a one-thread deadlock" 1 'wait-for cycle: T0 -> T0' \
	$M exec -- build/tsan/testprogs/selfdeadlock
expect "random exploration of the inversion finds the deadlock or TSan's lock-order report" 1 \
	'first failure: .*(deadlock|tsan:lock-order-inversion@)' \
	$M exec --strategy random --runs 200 -- $T/lock_order

finish
