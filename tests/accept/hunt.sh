#!/bin/bash
# migrace hunt: the search without a script. A regressed scenario gives its
# expected signature at the index exec finds too, the real core nothing; the
# summary file; --until-expected; a hunt split into two shards finds what the
# unsharded one finds (the same signatures, lowest indices and seeds); --time
# and an interrupt stop it and keep what was found; every trace it keeps
# replays; bad input exits 2.
. tests/accept/lib.bash
S=cpr-stop-order
SIG='invariant:device-busy'
P=build/tsan/testprogs/hunt_bugs
TAB=$'\t'

# sig<TAB>count<TAB>first<TAB>seed lines of a hunt.txt, sorted
rows() { grep -v '^#' "$1" | cut -f1-4 | sort; }
# the value of a header line "# KEY VALUE"
header() { sed -n "s/^# $2 //p" "$1"; }

# -- a scenario: regressed and real core -------------------------------------
run $M exec --strategy pct:3 --runs 100 --jobs 2 --keep-going --out "$OUTDIR/exec" -- build/tsan/scenarios/$S.regressed
first=$(sed -n 's/.*first failure: run \([0-9]*\) (seed \([0-9]*\)).*/\1 \2/p' <<<"$OUT")
count=$(sed -n 's/.*exec: 100 runs, \([0-9]*\) failed.*/\1/p' <<<"$OUT")
check "exec finds $SIG in 100 pct:3 schedules (the reference)" test -n "$first" -a -n "$count"
expect "hunt $S --regressed: finds the expected signature (exit 1)" 1 \
	"^\* expected $(sed 's/[()]/\\&/g' <<<"$SIG"): found, first at schedule index ${first% *} \(seed ${first#* }\)" \
	$M hunt $S --regressed --budget 100 --jobs 2 --out "$OUTDIR/regr"
H=$OUTDIR/regr/hunt.txt
check "hunt.txt: the signature, exec's count, first index and seed, a trace" \
	grep -qxF "$SIG$TAB$count$TAB${first% *}$TAB${first#* }$TAB$OUTDIR/regr/$S.regressed-pct-3-seed${first#* }-run${first% *}.trace" "$H"
check "hunt.txt: the header lines" test "$(header "$H" program)" = "$PWD/build/tsan/scenarios/$S.regressed" \
	-a "$(header "$H" strategy)" = pct:3 -a "$(header "$H" preempt)" = sync -a "$(header "$H" shard)" = 1/1 \
	-a "$(header "$H" schedules)" = 100 -a "$(header "$H" seed)" = 1 -a "$(header "$H" stopped)" = budget \
	-a "$(header "$H" expected)" = "$SIG"
check "one trace (and its report) kept for the signature, not one per failing run" \
	test "$(ls "$OUTDIR/regr" | grep -c '\.trace$')" = 1 -a "$(ls "$OUTDIR/regr" | grep -c '\.trace\.log$')" = 1
check "the summary shows the repro lines: replay and the seed form" bash -c "grep -qF -- 'replay $OUTDIR/regr/$S.regressed-pct-3' <<<\"\$1\" &&
	grep -qE -- 'exec --strategy pct:3 --seed ${first#* } --runs 1 --pct-k [0-9]+ -- $PWD/build/tsan/scenarios/$S.regressed' <<<\"\$1\"" _ "$OUT"

expect "hunt $S on the real core: nothing found (exit 0)" 0 '100 schedules in .* 0 failed, 0 signatures' \
	$M hunt $S --budget 100 --out "$OUTDIR/real"
check "real core: hunt.txt has the header and no signature" \
	test "$(grep -vc '^#' "$OUTDIR/real/hunt.txt")" = 0 -a "$(header "$OUTDIR/real/hunt.txt" schedules)" = 100

expect "--until-expected: stops at the first detection, schedules = index + 1" 1 \
	"^first expected at schedule $((${first% *} + 1))\$" $M hunt $S --regressed --until-expected --out "$OUTDIR/ue"
check "--until-expected: stopped for it, well before the default budget of 1000" \
	test "$(header "$OUTDIR/ue/hunt.txt" stopped)" = expected -a "$(header "$OUTDIR/ue/hunt.txt" schedules)" -lt 1000
expect "--until-expected --seed 2 --jobs 1: one schedule earlier (index i has seed SEED+i)" 1 \
	"^first expected at schedule ${first% *}\$" $M hunt $S --regressed --until-expected --seed 2 --jobs 1 --out "$OUTDIR/ue2"
expect "a program named without a directory is found on PATH, as exec finds it" 1 'deadlock' \
	env PATH="$(dirname "$P"):$PATH" $M hunt --strategy pct:2 --budget 300 --jobs 1 --out "$OUTDIR/bare" -- "$(basename "$P")"

# -- sharding: the union of 1/2 and 2/2 is the unsharded hunt ---------------
expect "a program: unsharded, 300 pct:2 schedules, several signatures" 1 'deadlock' \
	$M hunt --strategy pct:2 --budget 300 --jobs 2 --out "$OUTDIR/all" -- $P
expect "shard 1/2 (1 job)" 1 'shard 1/2' $M hunt --strategy pct:2 --budget 300 --jobs 1 --shard 1/2 --out "$OUTDIR/s1" -- $P
expect "shard 2/2 (2 jobs)" 1 'shard 2/2' $M hunt --strategy pct:2 --budget 300 --jobs 2 --shard 2/2 --out "$OUTDIR/s2" -- $P
union=$(cat <(rows "$OUTDIR/s1/hunt.txt") <(rows "$OUTDIR/s2/hunt.txt") | sort -t"$TAB" -k1,1 -k3,3n |
	awk -F'\t' -v OFS='\t' '{ n[$1] += $2; if (!($1 in f)) { f[$1] = $3; s[$1] = $4 } }
		END { for (k in n) print k, n[k], f[k], s[k] }' | sort)
OUT="unsharded:
$(rows "$OUTDIR/all/hunt.txt")
union of the shards:
$union"
check "the shards' union: the same signatures, counts, lowest indices and seeds" \
	test "$(rows "$OUTDIR/all/hunt.txt")" = "$union" -a "$(grep -vc '^#' "$OUTDIR/all/hunt.txt")" -ge 3
check "each shard ran its half: 150 schedules, indices i % 2 == I-1" bash -c "
	test \$(sed -n 's/^# schedules //p' $OUTDIR/s1/hunt.txt) = 150 && test \$(sed -n 's/^# schedules //p' $OUTDIR/s2/hunt.txt) = 150 &&
	grep -v '^#' $OUTDIR/s1/hunt.txt | cut -f3 | awk '\$1 % 2 != 0 { exit 1 }' &&
	grep -v '^#' $OUTDIR/s2/hunt.txt | cut -f3 | awk '\$1 % 2 != 1 { exit 1 }'"
check "both shards contribute a lowest index" test "$(rows "$OUTDIR/s1/hunt.txt" | wc -l)" -ge 1 -a \
	"$(rows "$OUTDIR/s2/hunt.txt" | wc -l)" -ge 1

# -- --time, interrupts, --preempt -------------------------------------------
start=$SECONDS
expect "--time 11: stops after 11 s, nothing found on the real core" 0 'stopped: time' \
	$M hunt rp-thread-join --time 11 --out "$OUTDIR/time"
check "--time 11: in time (< 16 s)" test $((SECONDS - start)) -lt 16
check "--time: hunt.txt says time, with the schedules run" test "$(header "$OUTDIR/time/hunt.txt" stopped)" = time \
	-a "$(header "$OUTDIR/time/hunt.txt" time)" = 11 -a "$(header "$OUTDIR/time/hunt.txt" schedules)" -gt 50
check "stderr no terminal: one progress line in 11 s (at most one per 10 s)" \
	test "$(grep -c '^migrace hunt: [0-9]* schedules, [0-9]*/s, 0 failures, 0 signatures' <<<"$OUT")" = 1

# SIGINT to the CLI: it stops its workers, keeps the traces, writes the summary
interrupt() { # DIR WAIT ARGS...: a hunt interrupted after WAIT s, or once it
	# kept a trace (WAIT=trace, at most 30 s); sets OUT, RC
	local d=$1 w=$2 i
	shift 2
	$M hunt --budget 1000000 --out "$d" "$@" > "$d.out" 2>&1 &
	local pid=$!
	if [ "$w" = trace ]; then
		for ((i = 0; i < 300; i++)); do
			compgen -G "$d/*.trace" > /dev/null && break
			sleep 0.1
		done
		sleep 0.5
	else
		sleep "$w"
	fi
	kill -INT $pid
	wait $pid
	RC=$?
	OUT=$(cat "$d.out")
}
interrupt "$OUTDIR/int" trace --strategy random -- $P
check "SIGINT after finds: exit 1, the summary printed" test $RC = 1 -a -n "$(grep 'stopped: interrupted' <<<"$OUT")"
check "SIGINT: hunt.txt says interrupted, lists the signatures and their traces exist" bash -c "
	test \"\$(sed -n 's/^# stopped //p' $OUTDIR/int/hunt.txt)\" = interrupted &&
	test \$(grep -vc '^#' $OUTDIR/int/hunt.txt) -ge 2 &&
	for t in \$(grep -v '^#' $OUTDIR/int/hunt.txt | cut -f5); do test -s \$t || exit 1; done"
interrupt "$OUTDIR/int0" 2 rp-thread-join
check "SIGINT before anything was found: exit 130, summary written" test $RC = 130 -a \
	"$(header "$OUTDIR/int0/hunt.txt" stopped)" = interrupted
no_leftovers() { ! pgrep -f "$PWD/($P|build/tsan/scenarios/rp-thread-join)( |$)" > /dev/null; }
check "no worker or run left behind" no_leftovers

expect "--preempt mem: recorded in hunt.txt and in the seed repro line" 1 'exec --strategy random --seed [0-9]+ --runs 1 --preempt mem --' \
	$M hunt --preempt mem --strategy random --budget 20 --out "$OUTDIR/mem" -- $P
check "--preempt mem: the header" test "$(header "$OUTDIR/mem/hunt.txt" preempt)" = mem

# -- every kept trace replays to its signature -------------------------------
bad=""
ntr=0
for h in "$OUTDIR"/{regr,all,s1,s2,int}/hunt.txt; do
	while IFS=$TAB read -r sig n i s t; do
		ntr=$((ntr + 1))
		out=$($M replay "$t" 2>&1) && grep -qF "replay reproduced $sig" <<<"$out" || bad="$bad $t"
	done < <(grep -v '^#' "$h")
done
OUT="did not replay:$bad"
check "every trace a hunt kept replays to its signature ($ntr traces)" test -z "$bad" -a $ntr -ge 8

# -- bad input ---------------------------------------------------------------
expect "an unknown scenario" 2 "no scenario named 'nosuch'" $M hunt nosuch
expect "no scenario, no program" 2 'no scenario given' $M hunt
expect "--budget and --time together" 2 '--budget and --time exclude each other' $M hunt $S --budget 5 --time 5
for sh in 0/2 3/2 x 1/ 2/0; do
	expect "--shard $sh" 2 "--shard needs I/N .* not '$sh'" $M hunt $S --shard $sh
done
expect "a bad strategy" 2 "--strategy 'bogus'" $M hunt $S --strategy bogus
expect "the script strategy (a hunt has no script)" 2 'a hunt explores on its own' $M hunt $S --strategy script
expect "dfs with --shard" 2 'dfs has no seed space' $M hunt $S --strategy dfs:1 --shard 1/2
expect "dfs with --jobs 2: one job" 1 'using 1 job, not 2' $M hunt --strategy dfs:1 --jobs 2 --budget 20 --out "$OUTDIR/dfs" -- $P
expect "no program after --" 2 'no program after --' $M hunt --budget 3 --
expect "a missing program" 2 "cannot run '/nonexistent'" $M hunt -- /nonexistent
expect "a program not built with migrace-cc" 2 'built with migrace-cc' $M hunt --budget 2 --out "$OUTDIR/true" -- /bin/true
touch "$OUTDIR/file"
expect "an --out that is a file" 2 "--out .* is not a directory" $M hunt $S --out "$OUTDIR/file"
expect "an --out that cannot be created" 2 "cannot create the --out directory" $M hunt $S --out "$OUTDIR/file/sub"
expect "a bad --preempt (hunt)" 2 "--preempt must be sync, mem or mem-all, not 'fast'" $M hunt $S --preempt fast
expect "a bad --preempt (exec)" 2 "--preempt must be sync, mem or mem-all, not 'fast'" $M exec --preempt fast -- $P
expect "a bad --preempt (run)" 2 "--preempt must be sync, mem or mem-all, not 'fast'" $M run $S --preempt fast
expect "--until-expected with a program" 2 '--until-expected is for a scenario' $M hunt --until-expected -- $P
expect "--regressed with a program" 2 '--regressed is for a scenario' $M hunt --regressed -- $P
expect "a scenario and a program" 2 'give a SCENARIO or -- PROGRAM, not both' $M hunt $S -- $P
expect "hunt --help" 0 'shard I of N' $M hunt --help
expect "migrace help hunt" 0 'until-expected' $M help hunt
expect "migrace help lists hunt" 0 'hunt SCENARIO' $M help

finish
