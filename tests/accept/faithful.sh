#!/bin/bash
# Faithful on any program: the same seed gives the same run in any process
# (one address layout), a timeout is no finding until it happens twice, a hang
# says what every thread was doing, PCT's k does not depend on the machine,
# and a program started by hand behaves as the program (its output, its exit
# status, its standard input, fed to every run and to the replay).
. tests/accept/lib.bash

P=build/tsan/testprogs
steps() { sed -n '/^---$/,$p' "$1"; }

# 1. the address layout: ptrhash's work depends on heap and stack addresses
for i in $(seq 10); do
	MIGRACE_OUT="$OUTDIR/lay$i" $M exec --preempt mem --strategy pct:2 --seed 3 --runs 1 --trace-all -- \
		$P/ptrhash locked >/dev/null 2>&1
done
same=0
for i in $(seq 10); do steps "$OUTDIR"/lay$i/*.trace | cmp -s - <(steps "$OUTDIR"/lay1/*.trace) && same=$((same + 1)); done
check "ptrhash, pct:2 seed 3, --preempt mem: 10 separate processes take the same schedule ($same/10)" \
	test "$same" -eq 10
for i in $(seq 10); do
	MIGRACE_ASLR=1 MIGRACE_OUT="$OUTDIR/rnd$i" $M exec --preempt mem --strategy pct:2 --seed 3 --runs 1 \
		--trace-all -- $P/ptrhash locked >/dev/null 2>&1
done
distinct=$(for i in $(seq 10); do steps "$OUTDIR"/rnd$i/*.trace | md5sum; done | sort -u | wc -l)
check "... and with the randomised layout kept (MIGRACE_ASLR=1) they do not ($distinct schedules)" \
	test "$distinct" -gt 1
expect "--check-determinism (a new process of the program per schedule): ptrhash is deterministic" 0 \
	'no failure' $M exec --preempt mem --check-determinism --runs 20 -- $P/ptrhash locked
expect "... and with the randomised layout it is caught" 1 'nondeterministic' \
	env MIGRACE_ASLR=1 $M exec --preempt mem --check-determinism --runs 20 -- $P/ptrhash locked
check "... the report says it ran differently in a new process" \
	grep -q 'ran differently in a new process' <<<"$OUT"
for b in tsan asan plain; do
	n=100
	[ $b = plain ] && n=20
	expect "$b: ptrhash with memory points: the lost update is found" 1 'first failure' \
		$M exec --preempt mem --strategy random --runs 200 --out "$OUTDIR/ph-$b" -- build/$b/testprogs/ptrhash
	T=$(ls "$OUTDIR"/ph-$b/*.trace | head -1)
	ok=0
	for i in $(seq $n); do $M replay "$T" >/dev/null 2>&1 && ok=$((ok + 1)); done
	check "$b: ... its trace replays $n of $n times ($ok), run from another path than exec's" test "$ok" -eq $n
done
check "the trace records the step limit" grep -q '^max-steps 5000000$' "$T"

# 2. pinning and the wall clock
expect "a run is pinned to one CPU by default" 0 'thread cpus 1$' $P/cpus
expect "MIGRACE_PIN=none leaves it every CPU" 0 'thread cpus '"$(nproc)"'$' env MIGRACE_PIN=none $P/cpus
expect "MIGRACE_PIN=auto pins a run to one CPU" 0 'thread cpus 1$' env MIGRACE_PIN=auto $P/cpus
expect "MIGRACE_PIN=0 pins it to CPU 0" 0 'main cpus 1$' env MIGRACE_PIN=0 $P/cpus
expect "MIGRACE_PIN=sometimes is refused, naming it" 2 'MIGRACE_PIN="sometimes": expected none, auto or a CPU' \
	env MIGRACE_PIN=sometimes $P/cpus
expect "a run that needs 1.5 s with --timeout 1 runs again with 4 s and is no failure" 0 'no failure' \
	$M exec --timeout 1 --out "$OUTDIR/slow" -- $P/hangs slow 1500
check "... saying so" grep -q 'did not finish within 1000 ms of wall-clock time: running it again with 4000 ms' <<<"$OUT"
check "... and leaving no trace" test -z "$(ls -A "$OUTDIR/slow" 2>/dev/null)"

# 3. hangs say what every thread was doing
expect "a livelock at the step limit is a hang" 1 'first failure: .*: hang$' \
	$M exec --max-steps 1000 --out "$OUTDIR/yield" -- $P/hangs yield
L=$(ls "$OUTDIR"/yield/*.log)
check "... its report says the step limit" grep -q 'step limit: the run exceeded 1000 scheduling steps' "$L"
check "... which thread was running, and where" grep -Eq '^  T1 runs, last at: yield at hangs.c:[0-9]+ worker' "$L"
check "... and what the others wait for" grep -Eq '^  T0 waits: join T1 \(until T1 finishes\) at hangs.c:[0-9]+ main' "$L"
expect "... its trace replays to the same hang" 0 'replay reproduced hang in 1000 steps' \
	$M replay "$OUTDIR"/yield/*.trace
expect "a thread blocked where the scheduler cannot see it is a hang at the wall clock (stopped twice)" 1 \
	'first failure: .*: hang$' $M exec --timeout 1 --out "$OUTDIR/block" -- $P/hangs block
L=$(ls "$OUTDIR"/block/*.log)
check "... its report says the wall clock and both limits" \
	grep -q 'wall clock: the run did not finish within 1000 ms, nor within 4000 ms' "$L"
check "... and each thread" bash -c "grep -q '^  T1 runs: no scheduling point' $L && grep -Eq '^  T0 (waits: join T1 .*|ready: released m1) at hangs.c:[0-9]+ main' $L"
expect "the correct twin ends" 0 'no failure' $M exec --runs 20 -- $P/hangs fast

# 4. PCT's k: from a first run that ended by itself, else a fixed default
for i in 1 2 3; do
	run $M exec --preempt mem --strategy pct:2 --runs 1 --out "$OUTDIR/k$i" -- $P/ptrhash locked
	grep -Eo 'pct: k=[0-9]+ steps, estimated from a first run' <<<"$OUT"
done > "$OUTDIR/k.txt"
check "pct: k estimated from a first run is the same in 3 processes ($(sort -u "$OUTDIR/k.txt" | head -1))" \
	test "$(wc -l < "$OUTDIR/k.txt")" -eq 3 -a "$(sort -u "$OUTDIR/k.txt" | wc -l)" -eq 1
expect "a first run stopped at the step limit gives the default k, saying so" 1 \
	'pct: k=1000 steps \(the default\): the first run, under the default schedule, reached the step limit' \
	$M exec --strategy pct:2 --max-steps 500 --runs 1 --out "$OUTDIR/kd" -- $P/hangs yield
check "... and the trace says k" grep -q '^pct-k 1000$' "$OUTDIR"/kd/*.trace
run env MIGRACE_PREEMPT=mem MIGRACE_STRATEGY=pct:2 MIGRACE_RUNS=100 MIGRACE_OUT="$OUTDIR/kr" \
	build/plain/testprogs/ptrhash
k=$(sed -n 's/^pct-k //p' "$OUTDIR"/kr/*.trace)
seed=$(sed -n 's/^seed //p' "$OUTDIR"/kr/*.trace)
check "started by hand, a failing pct run prints a seed repro with --pct-k $k (seed $seed)" \
	grep -Eq "repro: .* exec --strategy pct:2 --seed $seed --pct-k $k --preempt mem --max-steps [0-9]+ --runs 1 -- .*/ptrhash$" <<<"$OUT"
MIGRACE_PCT_K=$k MIGRACE_SEED=$seed MIGRACE_PREEMPT=mem MIGRACE_STRATEGY=pct:2 MIGRACE_OUT="$OUTDIR/kr2" \
	build/plain/testprogs/ptrhash >/dev/null 2>&1
check "... and that k with that seed gives the same schedule" cmp -s <(steps "$OUTDIR"/kr/*.trace) \
	<(steps "$OUTDIR"/kr2/*.trace)

# 5. a program started by hand behaves as the program
W=$PWD
mkdir "$OUTDIR/hand" && cd "$OUTDIR/hand" || exit 1
want=$(python3 -c '
import hashlib
print(hashlib.sha256(bytes((((i * 2654435761) & 0xffffffff) >> 13) & 0xff for i in range(8 << 20))).hexdigest())')
for b in tsan asan plain; do
	got=$("$W"/build/$b/testprogs/bigout 2>"$OUTDIR/bigout.err" | sha256sum | cut -d' ' -f1)
	check "$b: 8 MiB of binary output with NULs comes out byte for byte" test "$got" = "$want"
	check "$b: ... and its stderr too" test "$(cat "$OUTDIR/bigout.err")" = done
	expect "$b: a program exiting 3 exits 3" 3 '^worker ran$' "$W"/build/$b/testprogs/exit3
done
expect "exiting 0 exits 0" 0 '' "$W"/build/tsan/testprogs/exit3 0
check "... and nothing was written to migrace-out" test ! -e migrace-out
printf 'abc' > "$OUTDIR/abc"
expect "started by hand, it reads its standard input" 0 'stdin 3 bytes, fnv1a64 e71fa2190541574b' \
	"$W"/build/tsan/testprogs/stdin_digest < "$OUTDIR/abc"
cd "$W" || exit 1
head -c 300000 /dev/urandom > "$OUTDIR/in.bin"
d=$(python3 -c '
import sys
h = 0xcbf29ce484222325
for c in open(sys.argv[1], "rb").read():
    h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
print("%016x" % h)' "$OUTDIR/in.bin")
expect "exec --runs 5 with 300 kB on stdin: every run reads all of it" 1 '5 failed' \
	$M exec --runs 5 --keep-going --out "$OUTDIR/in" -- $P/stdin_digest fail < "$OUTDIR/in.bin"
n=$(grep -l "^stdin 300000 bytes, fnv1a64 $d$" "$OUTDIR"/in/*.log | wc -l)
check "... the same digest in each of the 5 runs ($n)" test "$n" -eq 5
T=$(ls "$OUTDIR"/in/*.trace | sed -n 3p)
check "... the trace names the input kept beside it" grep -q "^stdin $(basename "$T").stdin$" "$T"
expect "... and the replay feeds it again" 0 "stdin 300000 bytes, fnv1a64 $d" $M replay "$T" < /dev/null
expect "... the same through a pipe" 1 '5 failed' \
	bash -c "cat $OUTDIR/in.bin | $M exec --runs 5 --keep-going --out $OUTDIR/inp -- $P/stdin_digest fail"
n=$(grep -l "^stdin 300000 bytes, fnv1a64 $d$" "$OUTDIR"/inp/*.log | wc -l)
check "... (the same digest in each of the 5 runs: $n)" test "$n" -eq 5
check "a single run leaves a piped stdin it does not read to the next reader" test "$(printf 'a\nb\n' |
	{ $M replay "$OUTDIR"/yield/*.trace >/dev/null 2>&1; cat; })" = "$(printf 'a\nb')"
expect "the twin: with no input, every run reads none" 1 '5 failed' \
	$M exec --runs 5 --keep-going --out "$OUTDIR/none" -- $P/stdin_digest fail < /dev/null
check "... (5 empty digests)" test "$(grep -l '^stdin 0 bytes' "$OUTDIR"/none/*.log | wc -l)" -eq 5
finish
