#!/bin/bash
# Exploration that knows what is shared (issue 15): targeted memory points
# (--preempt mem decides only at the instructions that touch memory another
# thread touches, learned from learning runs; mem-all at every access), the fork
# point after setup (migrace_fork_here), and fault decisions as scheduling
# decisions (dfs branches on them, PCT places them, faults --explore).
. tests/accept/lib.bash

# -- targeted memory points --------------------------------------------------
P=build/tsan/testprogs/mem_targeted
expect "targeted: sync points only: pct:2 never loses the update (200 schedules)" 0 'no failure' \
	$M exec --strategy pct:2 --runs 200 -- $P
expect "targeted: --preempt mem learns the shared instructions and pct:2 finds the lost update" 1 \
	'assert:atomic_load\(&counter\) == 2' \
	$M exec --preempt mem --strategy pct:2 --runs 1000 --out "$OUTDIR/tm" -- $P
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

# locksets: lockset.c's table and fill count are shared and written, but
# always under one lock, so their instructions are no points; the counter
# beside them (its own 4-byte word) is a lost update, and main reads every
# result after joining the threads, which shares nothing
L=build/tsan/testprogs/lockset
expect "locksets: random with memory points finds the lost update behind 400 locked updates" 1 \
	'assert:atomic_load\(&done\) == 2' \
	$M exec --preempt mem --strategy random --seed 1 --runs 1000 --out "$OUTDIR/ls" -- $L
n_pts=$(grep -oE 'mem: [0-9]+ instructions' <<<"$OUT" | grep -oE '[0-9]+')
check "... only the unlocked accesses are points (${n_pts:-none} instructions)" test "${n_pts:-99}" -le 6
T=$(ls "$OUTDIR"/ls/*.trace | head -1)
tl=$(grep -n 'table\[base + i\] =' tests/accept/progs/lockset.c | cut -d: -f1)
fl=$(grep -n 'filled++' tests/accept/progs/lockset.c | cut -d: -f1)
check "... the trace decides at the counter's load and store, never at the table (line $tl) or the fill count (line $fl)" \
	bash -c "grep -Eq ' mem .* @ lockset\.c:4[0-9] fill$' '$T' && ! grep -Eq ' mem .* @ lockset\.c:($tl|$fl) ' '$T'"
expect "... the trace replays" 0 'replay reproduced assert:atomic_load\(&done\)' $M replay "$T"
expect "locksets: sync points only never lose the update (300 random schedules)" 0 'no failure' \
	$M exec --strategy random --seed 1 --runs 300 -- $L
expect "locksets: the twin (one atomic fetch-add) is clean under 1000 random schedules with memory points" 0 \
	'no failure' $M exec --preempt mem --strategy random --seed 1 --runs 1000 -- $L rmw

# thread creation orders: create_edge.c's settings and jobs, written by main
# before pthread_create and only read by the workers, are no points; the
# lost update on `done` is found; `late` writes the settings again after the
# creations (a real race): then the workers' reads of them are points
C=build/tsan/testprogs/create_edge
expect "creation edge: random with memory points finds the lost update" 1 'assert:atomic_load\(&done\) == 2' \
	$M exec --preempt mem --strategy random --seed 1 --runs 1000 --out "$OUTDIR/ce" -- $C
n_pts=$(grep -oE 'mem: [0-9]+ instructions' <<<"$OUT" | grep -oE '[0-9]+')
T=$(ls "$OUTDIR"/ce/*.trace | head -1)
sl=$(grep -n 'sum += ' tests/accept/progs/create_edge.c | cut -d: -f1)
check "... its points are the counter's load and store alone (${n_pts:-none} instructions)" test "${n_pts:-99}" -eq 2
check "... the trace decides at the counter, never at the settings' read (line $sl)" \
	bash -c "grep -Eq ' mem .* @ create_edge\.c:4[12] work$' '$T' && ! grep -Eq ' mem .* @ create_edge\.c:$sl ' '$T'"
expect "... the trace replays" 0 'replay reproduced assert:atomic_load\(&done\) == 2' $M replay "$T"
expect "creation edge: writes after the creation are shared (late, asan: no report ends the learning)" 1 \
	'assert:atomic_load\(&done\) == 2' \
	$M exec --preempt mem --strategy random --seed 1 --runs 1000 --trace-all --out "$OUTDIR/ce-late" -- \
	build/asan/testprogs/create_edge late
T=$(ls "$OUTDIR"/ce-late/*.trace | head -1)
check "... the settings' read (line $sl) is a point there" grep -Eq " mem .* @ create_edge\.c:$sl work$" "$T"
expect "creation edge: the twin (one atomic fetch-add) is clean under 1000 random schedules with memory points" 0 \
	'no failure' $M exec --preempt mem --strategy random --seed 1 --runs 1000 -- $C rmw

# -- the fork point after setup -----------------------------------------------
# progs/fork_here.c appends a line to the file named by argv[1] in its setup,
# then calls migrace_fork_here(); its threads race on a counter (`locked`: the
# twin). One fork server: the setup runs in the first run (which stops at the
# call) and once in the server, whatever the number of schedules.
H=build/tsan/testprogs/fork_here
S="$OUTDIR/setup.txt"
expect "fork_here: 40 schedules of random, one job" 0 'no failure' \
	$M exec --strategy random --runs 40 --jobs 1 -- $H "$S" locked
check "fork_here: the setup ran twice, not 40 times ($(wc -l < "$S"))" test "$(wc -l < "$S")" -eq 2
rm -f "$S"
expect "fork_here: MIGRACE_FORK_HERE=0 starts every run at main" 0 'no failure' \
	env MIGRACE_FORK_HERE=0 $M exec --strategy random --runs 40 --jobs 1 -- $H "$S" locked
check "... and the setup ran 40 times ($(wc -l < "$S"))" test "$(wc -l < "$S")" -eq 40
expect "fork_here: pct:2 finds the race from the fork point" 1 'tsan:data-race@incr' \
	$M exec --strategy pct:2 --runs 100 --out "$OUTDIR/fh" -- $H
T=$(ls "$OUTDIR"/fh/*.trace | head -1)
check "fork_here: the trace says fork-here 1" grep -q '^fork-here 1$' "$T"
ok=0
for i in 1 2 3; do $M replay "$T" >/dev/null 2>&1 && ok=$((ok + 1)); done
check "fork_here: the trace replays (3 of 3: $ok)" test "$ok" -eq 3
expect "fork_here (asan): the lost update, found by pct:2" 1 'assert:counter == 2' \
	$M exec --strategy pct:2 --runs 100 --out "$OUTDIR/fha" -- build/asan/testprogs/fork_here
expect "fork_here (asan): its trace replays" 0 'replay reproduced assert:counter == 2' \
	$M replay "$(ls "$OUTDIR"/fha/*.trace | head -1)"
expect "fork_here twin (locked): pct:2 and memory points, clean" 0 'no failure' \
	$M exec --preempt mem --strategy pct:2 --runs 100 -- $H "" locked
expect "fork_here after a thread started: a harness error" 1 'harness:fork-here' \
	$M exec --strategy random --runs 5 -- $H "" late
check "... saying why" grep -q 'while 2 threads run' <<<"$OUT"
expect "MIGRACE_FORK_HERE=2 is refused" 2 'MIGRACE_FORK_HERE="2": expected 0 or 1' \
	env MIGRACE_FORK_HERE=2 $M exec --runs 1 -- $H
expect "without migrace-cc the call compiles to nothing" 0 '' \
	clang -std=gnu11 -pthread -Iharness/include tests/accept/progs/fork_here.c -o "$OUTDIR/fh-plain"
expect "... and the program runs as it would" 0 'counter 2' "$OUTDIR/fh-plain" "" locked
# progs/bss_pages.c: the fork server gives back the bss's zero pages before
# its first fork; the pages that hold data stay, and every run reads them whole
expect "bss_pages: after the fork point the zero pages are out of memory, the others in" 0 'odd 32 even 0$' \
	build/tsan/testprogs/bss_pages
expect "... and 20 random schedules read every page as the setup left it" 0 'no failure' \
	$M exec --strategy random --runs 20 -- build/tsan/testprogs/bss_pages
expect "... (asan: the zero page maps them, for LeakSanitizer's read of the globals)" 0 'odd 32 even 32$' \
	build/asan/testprogs/bss_pages

# progs/run_layout.c: the fork server maps all of TSan's trace parts for its
# own calls before its first fork, so a run's mappings do not move once the
# server has served enough runs to fill one (they did after 29 runs)
rm -f "$OUTDIR/run_layout.log"
expect "run_layout: 300 runs of a setup that nearly fills a trace part" 0 '300 runs .*no failure' \
	env RUN_LAYOUT_LOG="$OUTDIR/run_layout.log" $M exec --runs 300 --jobs 1 -- build/tsan/testprogs/run_layout
check "... each begins with the same address space and maps where the first did" \
	test "$(wc -l < "$OUTDIR/run_layout.log") $(sort -u "$OUTDIR/run_layout.log" | wc -l)" = "300 1"

# progs/depot_carry.c: the stacks a run records come back to the server's
# stack depot, so the runs after the first add none: 256 new stacks cost the
# first run a page fault or more each, and the later ones nothing
for b in tsan asan; do
	rm -f "$OUTDIR/depot_carry.log"
	expect "depot_carry ($b): 6 runs" 0 '6 runs .*no failure' \
		env DEPOT_CARRY_LOG="$OUTDIR/depot_carry.log" $M exec --runs 6 --jobs 1 -- build/$b/testprogs/depot_carry
	faults=$(tr '\n' ' ' < "$OUTDIR/depot_carry.log")
	read -r first _ _ _ _ last <<<"$faults"
	min=$([ $b = tsan ] && echo 256 || echo 16)   # ASan keeps 30 frames: fewer distinct stacks
	check "... the runs after the first take $min page faults fewer or more (faults: $faults)" \
		test "$((${first:-0} - ${last:-0}))" -ge $min
done

# progs/task_count.c: TSan's idle background thread stays out of the runs,
# unless TSAN_OPTIONS asks for what it does
expect "task_count: a run has the program's two threads, not TSan's third" 0 '^tasks 2$' \
	build/tsan/testprogs/task_count
expect "... TSAN_OPTIONS=flush_memory_ms=...: the background thread runs" 0 '^tasks 3$' \
	env TSAN_OPTIONS=flush_memory_ms=100000 build/tsan/testprogs/task_count

# -- fault decisions as scheduling decisions --------------------------------
# progs/fault_explore.c: a failed send frees a buffer main reads; harmful only
# when the sender's cleanup also runs before main's read (a fault plus an
# interleaving); `ordered` is the correct twin.
F=build/asan/testprogs/fault_explore
expect "faults: the sweep on the default schedule misses the bug" 0 '1 points, 1 hits, 2 runs, 0 failures' \
	$M faults $F --out "$OUTDIR/fs"
expect "faults --explore pct:3: the sweep finds the fault plus interleaving" 1 \
	'FAIL test/send@1\+? \((transient|persistent)\): asan:heap-use-after-free@main \(schedule [0-9]+ of pct:3\)' \
	$M faults $F --explore pct:3 --runs 50 --out "$OUTDIR/fx"
check "faults --explore: the summary names the strategy and counts the schedules" \
	grep -Eq "explore pct:3 x 50\): 1 points, 1 hits, 2 runs, [12] failures, [0-9]+ schedules" <<<"$OUT"
check "faults --explore: its trace replays" grep -q '(replays)' <<<"$OUT"
expect "faults --explore pct:3 on the twin: clean" 0 '2 runs, 0 failures, 100 schedules' \
	$M faults $F --explore pct:3 --runs 50 --out "$OUTDIR/fx-ok" -- ordered
expect "faults --explore dfs:2 (plan fixed, schedules explored) finds it" 1 'FAIL test/send@1' \
	$M faults $F --explore dfs:2 --runs 50 --out "$OUTDIR/fd"
expect "dfs branches on open fault decisions (MIGRACE_FAULTS=count): dfs:3 finds it" 1 \
	'asan:heap-use-after-free@main' env MIGRACE_FAULTS=count $M exec --strategy dfs:3 --runs 200 --out "$OUTDIR/dfsf" -- $F
expect "... and exhausts the twin's space without a failure" 0 'exhausted' \
	env MIGRACE_FAULTS=count $M exec --strategy dfs:3 --runs 200 -- $F ordered
expect "... while dfs:3 without fault decisions never fails the send" 0 'exhausted' \
	$M exec --strategy dfs:3 --runs 200 -- $F
expect "PCT places a fault at a change point (MIGRACE_FAULTS=count): pct:3 finds it" 1 \
	'asan:heap-use-after-free@main' env MIGRACE_FAULTS=count $M exec --strategy pct:3 --runs 100 --out "$OUTDIR/pctf" -- $F
T=$(ls "$OUTDIR"/pctf/*.trace | head -1)
check "... its trace has the failed hit" grep -q ' fault-fail f:test/send#1 ' "$T"
expect "... and replays" 0 'replay reproduced asan:heap-use-after-free' $M replay "$T"
expect "PCT with faults count, on the twin: clean" 0 'no failure' \
	env MIGRACE_FAULTS=count $M exec --strategy pct:3 --runs 100 -- $F ordered
expect "faults: a bad --explore" 2 "--explore 'often': unknown strategy" $M faults $F --explore often
expect "faults: --explore switches is refused" 2 "use random, pct:D, dfs:B or pos" $M faults $F --explore switches
expect "faults --explore pos: the sweep finds the fault plus interleaving" 1 \
	'FAIL test/send@1\+? \((transient|persistent)\): asan:heap-use-after-free@main \(schedule [0-9]+ of pos\)' \
	$M faults $F --explore pos --runs 50 --out "$OUTDIR/fpos"
expect "faults --explore pos on the twin: clean" 0 '2 runs, 0 failures, 100 schedules' \
	$M faults $F --explore pos --runs 50 --out "$OUTDIR/fpos-ok" -- ordered
expect "faults: a bad --runs" 2 "--runs" $M faults $F --explore random --runs 0
expect "faults: --runs without --explore" 2 "--runs needs --explore" $M faults $F --runs 5

# what a thread does only under another schedule: wsq's thief reaches the
# queue's buffer and its compare-and-swap only when the owner is preempted
# between its pushes; the learning runs that decide at every access see it
W=build/tsan/bench/classic/wsq
expect "wsq: the learning runs are the default schedule and 2 random ones" 1 \
	'learned from 3 runs \(the default schedule and 2 random ones deciding at every access\)' \
	$M exec --preempt mem --strategy random --seed 1 --runs 1000 --out "$OUTDIR/wsq" -- $W
check "... and random finds the item taken twice ($(grep -o 'first failure: run [0-9]*' <<<"$OUT"))" \
	grep -q 'assert:got\[i\] == 1' <<<"$OUT"
T=$(ls "$OUTDIR"/wsq/*.trace | head -1)
check "... the thief's compare-and-swap (wsq.c:62) is a memory point of the trace" \
	grep -Eq ' mem - .* @ wsq\.c:62 steal$' "$T"
expect "... the trace replays" 0 'replay reproduced assert:got' $M replay "$T"
expect "the twin (a CAS in the owner's take): random with memory points, 1000 schedules, clean" 0 'no failure' \
	$M exec --preempt mem --strategy random --seed 1 --runs 1000 -- $W.fixed

# pos (partial-order sampling): reorder10's checker, created after ten
# setters, must read between a setter's two critical sections; a thread that
# waits keeps the priority it lost with, so the checker's fresh one often
# overtakes the setters, and a low draw of its own stops it between its reads
R=build/tsan/bench/classic/reorder10
expect "pos finds reorder10's half-published pair within 1000 schedules" 1 \
	'first failure: run [0-9]+ \(seed [0-9]+\): assert:\(ra == 0 && rb == 0\) \|\| \(ra == 1 && rb == -1\)' \
	$M exec --strategy pos --seed 1 --runs 1000 --out "$OUTDIR/pos" -- $R
SEED=$(grep -o 'repro (seed): .*' <<<"$OUT" | grep -o -- '--seed [0-9]*' | cut -d' ' -f2)
T=$(ls "$OUTDIR"/pos/*.trace | head -1)
check "... the trace says the strategy" grep -qx 'strategy pos' "$T"
expect "... the trace replays" 0 'replay reproduced assert:\(ra == 0' $M replay "$T"
expect "... and the seed alone gives the same run again (seed ${SEED:-none})" 1 \
	'first failure: run 0 .*assert:\(ra == 0' $M exec --strategy pos --seed "${SEED:-0}" --runs 1 -- $R
expect "the twin (one critical section each): pos, 1000 schedules, clean" 0 'no failure' \
	$M exec --strategy pos --seed 1 --runs 1000 -- $R.fixed
expect "... and with memory points, 500 schedules, clean" 0 'no failure' \
	$M exec --strategy pos --preempt mem --seed 1 --runs 500 -- $R.fixed
expect "hunt --strategy pos finds a regressed core" 1 'first expected at schedule' \
	$M hunt rp-exit-hang --regressed --until-expected --strategy pos --budget 200 --jobs 2 --out "$OUTDIR/hpos"
expect "... and on the real core, 100 schedules, finds nothing" 0 '100 schedules .* 0 failed' \
	$M hunt rp-exit-hang --strategy pos --budget 100 --jobs 2 --out "$OUTDIR/hpos-ok"

finish
