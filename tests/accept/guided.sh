#!/bin/bash
# Strategy guided (harness/rt/guided.c): it finds the bug of a classic
# pattern with sync and with memory points; the trace of its run replays
# with no corpus; the same seed gives the same hunt (one job); a hunt
# resumes (--resume DIR) with its corpus, findings and schedule count; two
# workers share a corpus; with memory points its feedback includes which
# store each read saw (readsfrom.c); the correct twin stays clean; bad
# options exit 2.
. tests/accept/lib.bash
C=build/tsan/bench/classic
TAB=$'\t'
rows() { grep -v '^#' "$1" | cut -f1-4 | sort; }
header() { sed -n "s/^# $2 //p" "$1"; }
corpus_sum() { cat "$1"/guided/corpus/w*.bin 2>/dev/null | md5sum | cut -d' ' -f1; }

# -- exec: a bug, its trace, its replay --------------------------------------
expect "exec --strategy guided finds the two-stage violation (exit 1)" 1 'assert:sum == gen \* 7' \
	$M exec --strategy guided --runs 300 --out "$OUTDIR/ex" -- $C/twostage
trace=$(sed -n 's/^migrace: trace: //p' <<<"$OUT" | head -1)
check "its trace says strategy guided" grep -qx 'strategy guided' "$trace"
check "no seed repro line for guided (a schedule comes from the corpus)" bash -c '! grep -q "repro (seed)" <<<"$1"' _ "$OUT"
check "the corpus is under --out/guided" test -s "$OUTDIR/ex/guided/seen" -a -n "$(ls "$OUTDIR/ex/guided/corpus")"
rm -rf "$OUTDIR/ex/guided"
expect "the trace replays without the corpus" 0 'replay reproduced assert:sum == gen \* 7' $M replay "$trace"
# the feedback map is DIR/guided/seen mapped at offset 0: an offset passed as
# an int through syscall()'s varargs took its upper half from the stack, and
# in this scenario's server the map landed past the file's end (SIGBUS at
# the first feedback)
expect "guided on stale-eof-restart's real core: 100 schedules, clean" 0 'no failure' \
	$M exec --strategy guided --runs 100 --out "$OUTDIR/seof" -- build/tsan/scenarios/stale-eof-restart
expect "... and on its regressed core it finds the stale event" 1 'invariant:stale-event' \
	$M exec --strategy guided --runs 300 --out "$OUTDIR/seof-r" -- build/asan/scenarios/stale-eof-restart.regressed
expect "memory points: guided finds the ABA of the lock-free stack" 1 'assert:owners == 1' \
	$M exec --strategy guided --preempt mem --runs 500 --out "$OUTDIR/aba" -- $C/aba_stack
trace=$(sed -n 's/^migrace: trace: //p' <<<"$OUT" | head -1)
rm -rf "$OUTDIR/aba/guided"
expect "its trace (memory decisions) replays without the corpus" 0 'replay reproduced assert:owners == 1' $M replay "$trace"

# -- its fresh runs are pct:3's: run 0 and run 2 are pct:3's runs 0 and 1 ---
for s in guided pct:3; do
	run $M exec --strategy $s --seed 40 --runs 3 --trace-all --out "$OUTDIR/fr-${s/:/}" -- $C/reorder10
done
sched() { sed -n 's/^schedule //p' "$OUTDIR/fr-$1"/*-seed$2-run$3.trace 2>/dev/null; }
check "guided's runs 0 and 2 are pct:3's runs 0 and 1 (the same seeds, the same schedules)" \
	test -n "$(sched pct3 40 0)" -a "$(sched guided 40 0)" = "$(sched pct3 40 0)" -a "$(sched guided 41 2)" = "$(sched pct3 41 1)"

# -- the same seed, the same hunt (one job) ----------------------------------
for d in s1 s2; do
	run $M hunt --strategy guided --seed 8 --budget 200 --jobs 1 --out "$OUTDIR/$d" -- $C/twostage
done
check "same seed, one job: the same findings (signature, count, first index, seed)" \
	test -n "$(rows "$OUTDIR/s1/hunt.txt")" -a "$(rows "$OUTDIR/s1/hunt.txt")" = "$(rows "$OUTDIR/s2/hunt.txt")"
check "same seed, one job: the same corpus" test "$(corpus_sum "$OUTDIR/s1")" = "$(corpus_sum "$OUTDIR/s2")"
run $M hunt --strategy guided --seed 9 --budget 200 --jobs 1 --out "$OUTDIR/s3" -- $C/twostage
check "another seed: another corpus" test "$(corpus_sum "$OUTDIR/s1")" != "$(corpus_sum "$OUTDIR/s3")"

# -- resume ------------------------------------------------------------------
n0=$(ls "$OUTDIR/s1/guided/corpus" | wc -l)
expect "hunt --resume DIR: goes on with the corpus it had" 1 "guided: resumed with $n0 corpus entries" \
	$M hunt --resume "$OUTDIR/s1" --budget 40
H=$OUTDIR/s1/hunt.txt
check "resumed: the schedule count goes on (200 + 40), the target and strategy kept" \
	test "$(header "$H" schedules)" = 240 -a "$(header "$H" strategy)" = guided \
	-a "$(header "$H" program)" = "$PWD/$C/twostage"
check "resumed: the findings before are kept (same first index)" \
	test "$(rows "$H" | cut -f1,3)" = "$(rows "$OUTDIR/s2/hunt.txt" | cut -f1,3)"
check "resumed: the corpus grew or stayed, never restarted" test "$(ls "$OUTDIR/s1/guided/corpus" | wc -l)" -ge "$n0"

# -- two workers share the corpus --------------------------------------------
expect "--jobs 2: guided finds the work-stealing race (memory points, all of them: the learned set misses its words)" 1 'assert:got\[i\] == 1' \
	$M hunt --strategy guided --preempt mem-all --budget 400 --jobs 2 --out "$OUTDIR/j2" -- $C/wsq
check "--jobs 2: both workers wrote corpus entries into one corpus" \
	test -n "$(ls "$OUTDIR/j2/guided/corpus" | grep '^w0-')" -a -n "$(ls "$OUTDIR/j2/guided/corpus" | grep '^w1-')"

# -- the correct twin --------------------------------------------------------
expect "the fixed two-stage stays clean under guided" 0 '0 failed, 0 signatures' \
	$M hunt --strategy guided --budget 150 --jobs 2 --out "$OUTDIR/fixed" -- $C/twostage.fixed
expect "the fixed lock-free stack stays clean under guided with memory points" 0 '0 failed, 0 signatures' \
	$M hunt --strategy guided --preempt mem --budget 150 --jobs 2 --out "$OUTDIR/fixed2" -- $C/aba_stack.fixed

# -- reads-from feedback (memory points) ----------------------------------------
P=build/tsan/testprogs
expect "memory points: guided finds the read that sees the sixth of eight stores" 1 'assert:v != 6' \
	$M exec --strategy guided --preempt mem --seed 1 --runs 500 --out "$OUTDIR/rf" -- $P/readsfrom
for rf in 1 0; do
	expect "its twin stays clean (reads-from feedback $rf)" 0 'reads-from pairs' \
		env MIGRACE_GUIDED_RF=$rf $M exec --strategy guided --preempt mem --seed 7 --runs 200 --out "$OUTDIR/rf$rf" \
		-- $P/readsfrom_ok
	rfout[$rf]=$OUT
done
check "the read saw each of the 8 stores and the value from before them: 9 reads-from pairs" \
	grep -q ' 9 reads-from pairs' <<<"${rfout[1]}"
check "the feedback is used: a run joined the corpus for its reads-from pairs alone (seed 7)" \
	grep -Eq 'new by those alone: [1-9][0-9]*\)' <<<"${rfout[1]}"
check "MIGRACE_GUIDED_RF=0: no reads-from pairs, and another corpus" \
	test -n "$(grep ' 0 reads-from pairs' <<<"${rfout[0]}")" -a "$(corpus_sum "$OUTDIR/rf1")" != "$(corpus_sum "$OUTDIR/rf0")"
expect "sync points: no reads-from pairs (no memory hook runs)" 0 ' 0 reads-from pairs' \
	$M exec --strategy guided --seed 3 --runs 20 --out "$OUTDIR/rfs" -- $P/readsfrom_ok
expect "MIGRACE_GUIDED_RF=2: exit 2" 2 'MIGRACE_GUIDED_RF="2" is not a number from 0 to 1' \
	env MIGRACE_GUIDED_RF=2 $M exec --strategy guided --runs 2 --out "$OUTDIR/rfbad" -- $P/readsfrom_ok

# -- bad input ---------------------------------------------------------------
expect "--shard with guided: exit 2" 2 'shard does not apply to guided' \
	$M hunt --strategy guided --shard 1/2 --budget 10 --out "$OUTDIR/bad1" -- $C/twostage
expect "--resume of a directory without a guided hunt: exit 2" 2 'no guided hunt there' \
	$M hunt --resume "$OUTDIR/nothing" --budget 10
expect "--resume with a program after --: exit 2" 2 'no program after --' \
	$M hunt --resume "$OUTDIR/s1" -- $C/twostage
expect "exec --strategy guided with --switches: exit 2" 2 'switches needs the switches strategy' \
	$M exec --strategy guided --switches '0.s1>1' -- $C/twostage
expect "an unknown strategy names guided among the choices: exit 2" 2 'guided' \
	$M exec --strategy guide -- $C/twostage
expect "help hunt describes guided and --resume" 0 'resume DIR' $M help hunt
check "help exec describes guided" bash -c "$M help exec | grep -q 'guided: greybox search'"
finish
