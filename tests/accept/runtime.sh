#!/bin/bash
# The runtime around the scheduler: virtual time, misuse, hangs, programs that
# end early, determinism, replay divergence, forced schedules, every build.
. tests/accept/lib.bash
P=build/tsan/testprogs

# every intercepted call, in a correct program, under every build and strategy
for b in tsan asan plain; do
	expect "the pthread API program is clean in the $b build under random (200 seeds)" 0 'no failure' \
		$M exec --strategy random --runs 200 --jobs 2 -- build/$b/testprogs/api
	expect "  ... and under pct:3 (200 seeds)" 0 'no failure' \
		$M exec --strategy pct:3 --runs 200 --jobs 2 -- build/$b/testprogs/api
done
expect "the pthread API program is clean in 500 schedules of dfs:1" 0 'no failure' \
	$M exec --strategy dfs:1 --runs 500 -- build/plain/testprogs/api

# virtual time
start=$(date +%s%N)
expect "timed waits and a 5 s sleep: three timeouts, 5 virtual seconds, 20 schedules" 0 'no failure' \
	$M exec --strategy random --runs 20 -- build/tsan/demos/timeouts
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "  ... in less than 5 s of real time for all 20 runs (${ms} ms)" test $ms -lt 5000

# misuse is reported, not hidden
expect "unlocking a mutex another thread holds is reported" 1 'first failure: .*misuse:unlock-not-owner' \
	$M exec -- $P/misuse unlock-not-owner
check "  ... with the call's file and line" grep -q 'at misuse.c:[0-9]* unlocker' <<<"$OUT"
expect "relocking an errorcheck mutex is reported (and returns EDEADLK)" 1 \
	'first failure: .*misuse:relock-errorcheck' $M exec -- $P/misuse relock-errorcheck

# the ends of a run
expect "main returning while threads still run ends cleanly" 0 'no failure' \
	$M exec --strategy random --runs 50 -- $P/early_exit
start=$(date +%s%N)
expect "a thread spinning with no scheduling point is a hang, killed at the timeout" 1 \
	'first failure: .*: hang$' $M exec --timeout 1 -- $P/spin busy
ms=$(( ($(date +%s%N) - start) / 1000000 ))
# (stopped at 1 s, run again once with 4 s: a hang only when stopped twice)
check "  ... within seconds (${ms} ms)" test $ms -lt 8000
expect "a sched_yield livelock is a hang at the step limit" 1 'exceeded 1000 scheduling steps' \
	$M exec --max-steps 1000 -- $P/spin yield
expect "a script naming a point no thread reaches fails with its name" 1 \
	'first failure: .*unreached:demo:nowhere' \
	$M exec --script harness/demos/unreached.script -- build/tsan/demos/counter_locked

# determinism and replay
expect "--check-determinism passes on a deterministic program (100 schedules)" 0 'no failure' \
	$M exec --check-determinism --strategy random --runs 100 -- build/tsan/testprogs/api
expect "--check-determinism catches a program that depends on random bytes" 1 'nondeterministic' \
	$M exec --check-determinism --runs 20 -- $P/nondet
for i in 1 2; do
	MIGRACE_OUT="$OUTDIR/same$i" run $M exec --strategy pct:2 --seed 7 --runs 1 --trace-all -- build/tsan/demos/atomicity
done
check "the same seed gives the identical trace" diff -q "$OUTDIR"/same1/*.trace "$OUTDIR"/same2/*.trace
expect "--out creates missing parent directories" 0 'no failure' \
	$M exec --trace-all --out "$OUTDIR/deep/er/dir" -- build/tsan/demos/counter_locked
check "  ... and the trace is there" bash -c 'ls "$1"/deep/er/dir/*.trace >/dev/null' _ "$OUTDIR"

expect "a failing pct run to replay" 1 'assert:balance' \
	$M exec --strategy pct:2 --runs 1000 -- build/plain/demos/atomicity
trace=$(sed -n 's/^migrace: trace: //p' <<<"$OUT" | tail -1)
sched=$(sed -n 's/^schedule //p' "$trace")
expect "the trace's one-line schedule, forced with --schedule, gives the same failure" 1 \
	'first failure: .*assert:balance >= 0' $M exec --schedule "$sched" -- build/plain/demos/atomicity
# change what one step does: the replay must stop there and say so
step=$(awk '/^---$/ {body=1; next} body && $3 == "lock" {print $1; exit}' "$trace")
sed "/^---\$/,\$ s/^$step \(T[0-9]*\) lock /$step \1 unlock /" "$trace" > "$OUTDIR/diverged.trace"
expect "replay stops at the first step where the program does something else" 1 \
	"step $step: the trace expected T[0-9]+ unlock m[0-9]+.*but the program is at T[0-9]+ lock" \
	$M replay "$OUTDIR/diverged.trace"
head -n $(( $(grep -n '^---$' "$trace" | cut -d: -f1) + 3 )) "$trace" |
	sed 's/^steps .*/steps 3/' > "$OUTDIR/short.trace"
expect "replay of a trace that ends early reports where the program went on" 1 \
	'step 3: the trace ended after 3 steps, but the program went on' $M replay "$OUTDIR/short.trace"

# the demos, in every build (the races' gate runs at the end of make check)
for b in tsan asan plain; do
	expect "the demos hold every expectation in the $b build" 0 ' 0 failed$' \
		$M run --build $b $(sed -n 's/^DEMO("\([^"]*\)".*/\1/p' harness/cli/demos.def)
done
expect "run --tap prints TAP 13" 0 '^TAP version 13' $M run --build tsan --tap demo-counter-race demo-lock-order
check "  ... with a plan and a result per scenario" \
	bash -c 'grep -q "^1..2$" <<<"$1" && [ $(grep -c "^ok " <<<"$1") -eq 2 ]' _ "$OUT"
expect "run --build plain refuses a race scenario" 2 'built for tsan and asan only' \
	$M run --build plain rp-thread-join
expect "run --regressed refuses a demo" 2 "is a demo, it has no regress.patch" \
	$M run --regressed demo-lock-order
expect "run --real --regressed is refused" 2 'exclude each other' $M run --real --regressed rp-thread-join

# rr: record the replay where rr can; here (no performance counters) the
# detection must say why in one sentence and exit 77
trace=$(ls "$MIGRACE_OUT"/*.trace | head -1)
run $M replay "$trace" --rr
if [ "$RC" -eq 77 ]; then
	check "replay --rr where rr cannot record: exit 77 and one sentence saying why" \
		bash -c '[ "$(wc -l <<<"$1")" -eq 1 ] && grep -qE "^migrace replay --rr: skipped: .+\.$" <<<"$1"' _ "$OUT"
else
	check "replay --rr where rr can record: the replay reproduces under rr ($RC)" test "$RC" -eq 0
fi
expect "scripts/rr-replay is the same command" "$RC" '' scripts/rr-replay "$trace"
expect "replay --rr with no trace is a usage error" 2 'expected exactly one trace file' $M replay --rr
finish
