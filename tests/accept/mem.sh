#!/bin/bash
# Memory-access points (--preempt=mem, MIGRACE_PREEMPT=mem): programs built by
# migrace-cc call the runtime before loads and stores; with the points on, an
# access to non-stack memory while another thread could run is a scheduling
# decision that every strategy can take, the trace records and replay checks.
# tests/accept/progs/lost_update.c is a lost update with no data race and no
# pthread call between its load and store: only memory points can find it.
. tests/accept/lib.bash

for b in tsan asan plain; do
	P=build/$b/testprogs/lost_update
	expect "$b: sync points only: random finds no lost update in 200 schedules" 0 'no failure' \
		$M exec --strategy random --runs 200 -- $P
	expect "$b: sync points only: dfs:1 exhausts its space without a failure" 0 'exhausted' \
		$M exec --strategy dfs:1 --runs 1000 -- $P
	for s in random pct:2 dfs:1; do
		expect "$b: memory points: $s finds the lost update" 1 'assert:atomic_load\(&counter\) == 2' \
			env MIGRACE_PREEMPT=mem $M exec --strategy $s --runs 200 --out "$OUTDIR/$b-${s/:/-}" -- $P
	done
done
T=$(ls "$OUTDIR"/tsan-pct-2/*.trace | head -1)
check "the trace says preempt mem and has mem steps keyed d=m<n>" \
	bash -c "grep -q '^preempt mem$' $T && grep -Eq ' mem - \+0x[0-9a-f]+ .* d=m[0-9]+ @ lost_update.c:1[89] incr' $T"
expect "the mem trace replays to the lost update" 0 'replay reproduced assert:atomic_load' $M replay "$T"
ok=0
for i in $(seq 20); do $M replay "$T" >/dev/null 2>&1 && ok=$((ok + 1)); done
check "... 20 of 20 times ($ok)" test "$ok" -eq 20
# the preemption, moved to another memory access, is a divergence
sed -E '0,/ from=T([0-9]) e=0x[0-9a-f]+ t=0 d=m([0-9]+)/s// from=T\1 e=0x6 t=0 d=m9\2/' "$T" > "$OUTDIR/moved.trace"
expect "a trace whose memory decision moved diverges, naming the access" 1 'expected a decision at T[0-9].s memory access #9' \
	$M replay "$OUTDIR/moved.trace"
# the trace's switches (minimize.sh checks this extraction against an
# independent one) reproduce it under the switches strategy
sw=$($M minimize --switches "$T" | head -1)
expect "strategy switches: the trace's switches '$sw' reproduce the lost update" 1 'assert:atomic_load' \
	env MIGRACE_PREEMPT=mem MIGRACE_STRATEGY=switches MIGRACE_SWITCHES="$sw" build/tsan/testprogs/lost_update
expect "exec --switches: the same list from the command line" 1 'assert:atomic_load' \
	$M exec --preempt mem --switches "$sw" -- build/tsan/testprogs/lost_update
expect "exec --switches with another strategy is refused" 2 'needs the switches strategy' \
	$M exec --strategy pct:2 --switches "$sw" -- build/tsan/testprogs/lost_update
expect "strategy switches with no switch: the non-preemptive schedule is clean" 0 'counter 2' \
	env MIGRACE_PREEMPT=mem MIGRACE_STRATEGY=switches MIGRACE_SWITCHES= build/tsan/testprogs/lost_update

# an unmodified program: hunt with memory points, minimize what it kept, replay
expect "hunt --preempt mem -- lost_update: found, with a kept trace" 1 'assert:atomic_load' \
	$M hunt --preempt mem --strategy random --budget 200 --out "$OUTDIR/hunt" -- build/tsan/testprogs/lost_update
HT=$(grep -v '^#' "$OUTDIR/hunt/hunt.txt" | cut -f5 | head -1)
expect "minimize keeps the lost update and shrinks it to one memory switch" 0 '1 switch' \
	$M minimize "$HT" --out "$OUTDIR/hunt/min.trace"
check "... the minimized trace is a memory-point trace" grep -q '^preempt mem$' "$OUTDIR/hunt/min.trace"
expect "... and replays to the lost update" 0 'replay reproduced assert:atomic_load' $M replay "$OUTDIR/hunt/min.trace"

# stack accesses are no points; shared ones are
expect "a program touching only its stacks: no mem step with memory points on" 0 'no failure' \
	env MIGRACE_PREEMPT=mem $M exec --strategy random --runs 5 --trace-all --out "$OUTDIR/stack" -- \
	build/tsan/testprogs/stack_only
check "... (traces have no mem step)" bash -c "! grep -q ' mem - ' $OUTDIR/stack/*.trace"
expect "the same program writing a global under its mutex, every access a point: clean" 0 'no failure' \
	env MIGRACE_PREEMPT=mem-all $M exec --strategy random --runs 20 --trace-all --out "$OUTDIR/shared" -- \
	build/tsan/testprogs/stack_only shared
check "... and those writes are memory decisions" bash -c "grep -q ' mem - .*stack_only.c:2[6-9] work' $OUTDIR/shared/*.trace"
expect "... with the learned points: clean, and no instruction is a point (one mutex guards the global)" 0 \
	'mem: 0 instructions touch memory' env MIGRACE_PREEMPT=mem $M exec --strategy random --runs 20 --trace-all \
	--out "$OUTDIR/shared-mem" -- build/tsan/testprogs/stack_only shared
check "... (traces have no mem step)" bash -c "! grep -q ' mem - ' $OUTDIR/shared-mem/*.trace"

# the hooks do not make a local escape (migrace/memhooks.h): TSan leaves a
# local byte array alone, and still watches a local whose address a thread has
tsan_calls() { objdump -d --no-show-raw-insn build/tsan/testprogs/stack_escape |
	awk '/<hash>:/,/^$/' | grep -oE 'call.*<__tsan_(read|write)[0-9]+>' | sed 's/.*<//; s/>//' | tr '\n' ' '; }
calls=$(tsan_calls)
check "a local array only hooks see: TSan checks only the words hash() is given ($calls)" \
	test "$calls" = "__tsan_read8 "
expect "a local another thread writes through its address: the race is still reported" 1 \
	'tsan:data-race@bump' $M exec --strategy random --runs 20 --out "$OUTDIR/escape" -- build/tsan/testprogs/stack_escape
expect "... the twin, the same writes under one mutex: clean" 0 'no failure' \
	$M exec --strategy random --runs 20 --out "$OUTDIR/escape-ok" -- build/tsan/testprogs/stack_escape locked

# the migration core: the points are deterministic and the real core clean
expect "real core (cancel-vs-complete) with memory points: pct:3 x 30 schedules, each run twice the same" 0 \
	'no failure' env MIGRACE_PREEMPT=mem $M exec --strategy pct:3 --runs 30 --jobs 2 --check-determinism -- \
	build/tsan/scenarios/cancel-vs-complete
expect "a pct k estimated with memory points counts their decisions" 0 'pct: k=[0-9]+ steps, estimated from a first run \([0-9]+ of them at scheduling points\)' \
	env MIGRACE_PREEMPT=mem $M exec --strategy pct:3 --runs 1 -- build/tsan/scenarios/cancel-vs-complete
k_all=$(grep -oE 'k=[0-9]+' <<<"$OUT" | cut -d= -f2)
k_sched=$(grep -oE '\(([0-9]+) of them' <<<"$OUT" | grep -oE '[0-9]+')
check "... more than its scheduling decisions alone ($k_all, $k_sched)" test "${k_all:-0}" -gt "${k_sched:-0}"
expect "... and those are the k of a run without memory points ($k_sched)" 0 "pct: k=${k_sched:-none} steps, estimated" \
	$M exec --strategy pct:3 --runs 1 -- build/tsan/scenarios/cancel-vs-complete

# bad input
expect "MIGRACE_PREEMPT=often is refused, naming it" 2 'MIGRACE_PREEMPT="often": expected sync, mem or mem-all' \
	env MIGRACE_PREEMPT=often build/tsan/testprogs/lost_update
expect "MIGRACE_SWITCHES without the switches strategy is refused" 2 'needs MIGRACE_STRATEGY=switches' \
	env MIGRACE_SWITCHES='1.m2>2' build/tsan/testprogs/lost_update
expect "a malformed switch is refused, naming it" 2 'bad entry at "1.q2>2"' \
	env MIGRACE_STRATEGY=switches MIGRACE_SWITCHES='1.q2>2' build/tsan/testprogs/lost_update
finish
