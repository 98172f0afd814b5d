#!/bin/bash
# `migrace minimize TRACE`: a failing trace shrunk to fewer switches (and
# preemptions, and no more steps), keeping its signature, through the
# runtime's switches strategy. Traces from random and pct:3 on three regressed
# scenarios; the switch extraction checked against the rule on traces with
# memory and fault decisions.
. tests/accept/lib.bash

# switches_of TRACE: the rule, independently of migrace: step i is a switch iff
# its chosen thread is not the default for (enabled, from): from when it is
# enabled, else the lowest enabled thread; a fault step (fault-pass/fail) never
# is. Keyed by the step's d= field, or from's count of its steps without one.
switches_of() {
	local body=0 line ch from e key def out=() cnt=()
	while read -r line; do
		[ "$line" = --- ] && { body=1; continue; }
		[ $body = 1 ] || continue
		set -- $line
		case $3 in fault-*) continue ;; esac
		ch=${2#T}; from=${6#from=T}; e=$((16#${7#e=0x}))
		cnt[$from]=$(( ${cnt[$from]:-0} + 1 ))
		if [[ $line =~ \ d=([sm][0-9]+) ]]; then key=${BASH_REMATCH[1]}; else key=s${cnt[$from]}; fi
		if (( (e >> from) & 1 )); then def=$from; else def=0; while (( !((e >> def) & 1) )); do def=$((def + 1)); done; fi
		[ "$ch" != "$def" ] && out+=("$from.$key>$ch")
	done < "$1"
	echo "${out[*]}"
}
nswitches() { local s; s=$(switches_of "$1"); set -- $s; echo $#; }
header() { sed -n "s/^$2 //p" "$1"; }

# a failing trace of scenario $1 under strategy $2 (one job: the same seed fails every time)
failing_trace() {
	local dir="$OUTDIR/t-$1-${2/:/-}"
	$M exec --strategy "$2" --runs 1000 --out "$dir" -- "build/tsan/scenarios/$1.regressed" >/dev/null 2>&1
	ls "$dir"/*.trace 2>/dev/null | head -1
}

# -- extraction: the rule, on sync, memory and fault decisions ---------------
T=$(failing_trace cancel-vs-complete random)
check "random on cancel-vs-complete.regressed fails (the input of what follows)" test -f "$T"
expect "--switches prints the list as the rule gives it (random trace)" 0 "^$(switches_of "$T")\$" \
	$M minimize --switches "$T"
sed 's/ d=[sm][0-9]*//' "$T" > "$OUTDIR/nokeys.trace"
expect "a trace without d= keys (older traces): the keys are counted, the same list" 0 \
	"^$(switches_of "$T")\$" $M minimize --switches "$OUTDIR/nokeys.trace"
MIGRACE_PREEMPT=mem $M exec --strategy random --runs 200 --out "$OUTDIR/mem" -- build/tsan/testprogs/lost_update \
	>/dev/null 2>&1
TM=$(ls "$OUTDIR"/mem/*.trace 2>/dev/null | head -1)
check "memory points: a failing trace with memory decisions" grep -q ' mem .* d=m[0-9]' "$TM"
expect "--switches on memory decisions: T.mN entries, as the rule gives them" 0 \
	"^$(switches_of "$TM")\$" $M minimize --switches "$TM"
check "... and some of them are memory entries" grep -Eq '[0-9]+\.m[0-9]+>[0-9]' <<<"$OUT"
MIGRACE_FAULTS=random:0.3 $M exec --strategy random --runs 8 --keep-going --trace-all --out "$OUTDIR/flt" \
	-- build/tsan/core-progs/fault_migrate >/dev/null 2>&1
TF=$(grep -l ' fault-fail ' "$OUTDIR"/flt/*.trace | head -1)
check "fault decisions: a trace of random with fault-fail steps" test -n "$TF"
expect "--switches: fault steps are never switches (the rule, which skips them)" 0 \
	"^$(switches_of "$TF")\$" $M minimize --switches "$TF"

# -- minimization: random and pct:3 on three scenarios -------------------------
# each: exit 0, the signature kept, no more switches (by the rule) and steps
# than the original, the result replays (3/3 by minimize, once more here)
shrunk=0
minimize_ok() { # SCENARIO STRATEGY [OPTIONS]
	local s=$1 st=$2 t new
	shift 2
	t=$(failing_trace "$s" "$st")
	new="$OUTDIR/min-$s-${st/:/-}.trace"
	expect "$s, $st: minimized, replays 3/3" 0 'replays: 3/3 ' $M minimize "$t" --out "$new" "$@"
	MIN_OUT=$OUT
	check "$s, $st: the repro line names the new trace" grep -q "^migrace: repro: .*migrace replay $new\$" <<<"$OUT"
	check "$s, $st: same signature ($(header "$t" outcome))" test "$(header "$new" outcome)" = "$(header "$t" outcome)"
	local a b sa sb
	a=$(nswitches "$t"); b=$(nswitches "$new"); sa=$(header "$t" steps); sb=$(header "$new" steps)
	check "$s, $st: switches $a -> $b, steps $sa -> $sb: none more" test "$b" -le "$a" -a "$sb" -le "$sa"
	[ "$b" -lt "$a" ] && shrunk=$((shrunk + 1))
	expect "$s, $st: the minimized trace replays strictly" 0 'replay reproduced' $M replay "$new"
}
minimize_ok cancel-vs-complete random
minimize_ok cancel-vs-complete pct:3
minimize_ok yank-ref-count pct:3
minimize_ok from-dst-file random --budget 25
check "--budget: the run stops there with the best so far" grep -q 'after 25 runs (--budget ran out' <<<"$MIN_OUT"
minimize_ok from-dst-file pct:3
check "every minimization removed switches" test "$shrunk" -eq 5

T1=$(failing_trace cancel-vs-complete random)
expect "the default output: TRACE with .trace replaced by .min.trace" 0 "trace: ${T1%.trace}.min.trace\$" \
	$M minimize "$T1" --budget 3 --runs-check 1
check "... which exists" test -f "${T1%.trace}.min.trace"

# -- threads above T63: their enabled bits are in the trace's wide mask ---------
$M exec --switches '70.s3>80' --out "$OUTDIR/wide" -- build/tsan/testprogs/many_threads 100 >/dev/null 2>&1
expect "a preemption of T70 by T80 (100 threads): one switch, one preemption, not 38" 0 \
	'1 -> 1 switches, 1 -> 1 preemptions' $M minimize "$(ls "$OUTDIR"/wide/*.trace | head -1)"

# -- what cannot be kept, and bad input ------------------------------------------
# random:1 fails both fault points of fault_race (scripted: both are reached):
# no single fault plan (POINT@N, POINT@N+) repeats that under another strategy
MIGRACE_FAULTS=random:1 $M exec --strategy script --out "$OUTDIR/f2" -- build/tsan/testprogs/fault_race >/dev/null 2>&1
TF2=$(ls "$OUTDIR"/f2/*.trace | head -1)
expect "fault decisions no plan repeats: exit 1, saying so" 1 \
	'cannot be expressed as switches: its fault decisions \(random:1\) failed hits of two points' $M minimize "$TF2"
check "... and that the original still replays" grep -q 'the original still replays' <<<"$OUT"
# a signature the schedule does not give (the outcome edited): not kept, exit 1
sed 's/^outcome .*/outcome tsan:data-race@nowhere/' "$T" > "$OUTDIR/edited.trace"
expect "a signature the switches do not give: exit 1, with what they gave" 1 \
	"cannot be expressed as switches: its [0-9]+ switches gave $(header "$T" outcome), not tsan:data-race@nowhere" \
	$M minimize "$OUTDIR/edited.trace"
check "... and that the original does not replay to it either" grep -q 'does NOT replay to it either' <<<"$OUT"
sed '16s/ e=0x[0-9a-f]*/ e=zz/' "$T" > "$OUTDIR/bad.trace"
expect "a malformed trace: exit 2, naming the line" 2 'line 16: bad field "e=zz"' $M minimize "$OUTDIR/bad.trace"
expect "a missing trace: exit 2" 2 'cannot read it' $M minimize "$OUTDIR/nope.trace"
$M exec --strategy script --trace-all --out "$OUTDIR/clean" -- build/tsan/scenarios/cancel-vs-complete >/dev/null 2>&1
expect "a clean trace: nothing to keep, exit 2" 2 'its outcome is clean' $M minimize "$(ls "$OUTDIR"/clean/*.trace)"
expect "--budget 0: exit 2" 2 '--budget needs a number' $M minimize "$T" --budget 0
expect "no trace: exit 2" 2 'no trace given' $M minimize
expect "minimize --help" 0 'delta debugging' $M minimize --help
expect "migrace help minimize" 0 'runs-check' $M help minimize

finish
