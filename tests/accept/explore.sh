#!/bin/bash
# Exploration that knows what is shared (issue 15): targeted memory points
# (--preempt mem decides only at the instructions that touch memory another
# thread touches, learned from a first run; mem-all at every access), the fork
# point after setup (migrace_fork_here), and fault decisions as scheduling
# decisions (dfs branches on them, PCT places them, faults --explore).
. tests/accept/lib.bash

# -- targeted memory points --------------------------------------------------
P=build/tsan/testprogs/mem_targeted
expect "targeted: sync points only: pct:2 never loses the update (200 schedules)" 0 'no failure' \
	$M exec --strategy pct:2 --runs 200 -- $P
expect "targeted: --preempt mem learns the shared instructions and pct:2 finds the lost update" 1 \
	'assert:atomic_load\(&counter\) == 2' \
	$M exec --preempt mem --strategy pct:2 --runs 200 --out "$OUTDIR/tm" -- $P
check "targeted: exec says how many instructions it learned" grep -Eq 'mem: [0-9]+ instructions touch memory' <<<"$OUT"
k_mem=$(grep -oE 'k=[0-9]+' <<<"$OUT" | head -1 | cut -d= -f2)
run $M exec --preempt mem-all --strategy pct:2 --runs 1 --out "$OUTDIR/tm-all" -- $P
k_all=$(grep -oE 'k=[0-9]+' <<<"$OUT" | head -1 | cut -d= -f2)
check "targeted: PCT's k counts only the targeted decisions ($k_mem, every access: $k_all)" \
	test "$k_mem" -gt 0 -a $((k_mem * 20)) -lt "$k_all"
T=$(ls "$OUTDIR"/tm/*.trace | head -1)
check "targeted: the trace says which points: mem-points shared and their instructions" \
	bash -c "grep -q '^preempt mem$' $T && grep -q '^mem-points shared$' $T && grep -Eq '^mem-pcs \+0x[0-9a-f]+' $T"
expect "targeted: the trace replays to the lost update" 0 'replay reproduced assert:atomic_load' $M replay "$T"
sed -E '/^mem-pcs /d' "$T" > "$OUTDIR/nopcs.trace"
expect "targeted: without its instructions the same trace diverges (replay uses the trace's set)" 1 \
	'divergence|replay gave' $M replay "$OUTDIR/nopcs.trace"
expect "targeted: minimize keeps the lost update" 0 'replays' $M minimize "$T" --out "$OUTDIR/tm-min"
expect "targeted twin (one atomic fetch-add, itself a point): clean in 200 schedules" 0 'no failure' \
	$M exec --preempt mem --strategy pct:2 --runs 200 -- $P rmw
expect "targeted twin: random with memory points, clean" 0 'no failure' \
	$M exec --preempt mem --strategy random --runs 100 -- $P rmw
expect "a trace with a bad mem-pcs line is refused" 2 'mem-pcs: bad offset' \
	bash -c "sed 's/^mem-pcs .*/mem-pcs 0x12/' $T > $OUTDIR/badpcs.trace; $M replay $OUTDIR/badpcs.trace"

finish
