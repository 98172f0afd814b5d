#!/bin/bash
# Bad input gets a clear error naming the problem and exit code 2, never a
# crash or a hang; every command has a --help that exits 0.
. tests/accept/lib.bash
D=build/tsan/demos/counter_locked

for c in "" exec run replay list; do
	expect "migrace ${c:-} --help exits 0 with a usage line" 0 '^usage: migrace' $M $c --help
done
expect "no command: usage on stderr, exit 2" 2 'usage: migrace COMMAND' $M
expect "an unknown command is named" 2 "unknown command 'frobnicate'" $M frobnicate
expect "exec without a program" 2 'no program given' $M exec
expect "exec --runs 0" 2 "\-\-runs needs a number from 1" $M exec --runs 0 -- $D
expect "exec --runs abc" 2 "\-\-runs needs a number .* not 'abc'" $M exec --runs abc -- $D
expect "exec --seed -1" 2 "\-\-seed needs a number" $M exec --seed -1 -- $D
expect "exec --jobs 0" 2 "\-\-jobs needs a number from 1 to 64" $M exec --jobs 0 -- $D
expect "exec --timeout 0" 2 "\-\-timeout needs seconds" $M exec --timeout 0 -- $D
expect "exec --strategy pct:0" 2 "pct needs a depth from 1 to 16" $M exec --strategy pct:0 -- $D
expect "exec --strategy dfs" 2 "dfs needs a preemption bound" $M exec --strategy dfs -- $D
expect "exec --strategy bogus" 2 "unknown strategy" $M exec --strategy bogus -- $D
expect "exec --bogus-option" 2 "unknown or incomplete option" $M exec --bogus-option -- $D
expect "exec of a program that does not exist" 2 "cannot run '/nonexistent'" $M exec -- /nonexistent
expect "exec of a program not built with migrace-cc" 2 'not built with migrace-cc' $M exec -- /bin/true
expect "exec --script that does not exist" 2 "cannot read script" $M exec --script /nonexistent -- $D
printf 'a -> b\nthis is not a constraint\n' > "$OUTDIR/bad.script"
expect "a malformed script names its line" 2 'bad.script:2: expected "<point> -> <point>"' \
	$M exec --script "$OUTDIR/bad.script" -- $D
expect "a malformed --schedule is named" 2 'schedule: bad thread number' $M exec --schedule "0 x" -- $D
expect "a --schedule with a negative count" 2 'schedule: bad repeat count' $M exec --schedule "0*-1" -- $D
expect "a bad MIGRACE_ variable in a direct run" 2 'MIGRACE_RUNS="many" is not a number' \
	env MIGRACE_RUNS=many $D
expect "run without a scenario" 2 'no scenario given' $M run
expect "run of an unknown scenario" 2 "no scenario named 'nope'" $M run nope
expect "run --build bogus" 2 '\-\-build must be tsan, asan or plain' $M run --all --build bogus
expect "run with names and --all" 2 'not both' $M run --all demo-lock-order
expect "list takes no arguments" 2 'takes no arguments' $M list extra
expect "list names every demo" 0 'demo-atomicity' $M list

# malformed traces: exit 2, naming the line and the reason
good=$(mktemp -p "$OUTDIR")
MIGRACE_OUT="$OUTDIR/g" run $M exec --trace-all -- $D
cp "$OUTDIR"/g/*.trace "$good"
bad() { # bad DESC PATTERN SED-SCRIPT
	sed "$3" "$good" > "$OUTDIR/bad.trace"
	expect "replay rejects $1" 2 "$2" $M replay "$OUTDIR/bad.trace"
}
: > "$OUTDIR/empty.trace"
expect "replay rejects an empty file" 2 'line 1: the file is empty' $M replay "$OUTDIR/empty.trace"
expect "replay of a missing file" 2 'cannot read' $M replay /nonexistent.trace
bad "a file that is not a trace" 'line 1: not a migrace trace' '1s/.*/hello/'
bad "an unsupported version" 'line 1: trace version 9 is not supported' '1s/.*/migrace-trace 9/'
bad "an unknown header field" 'line 3: unknown header field "colour"' '3i colour blue'
bad "a missing program" 'header field "program" is missing' '/^program /d'
bad "a missing steps section" 'no "---" line' '/^---$/,$d'
bad "a wrong step number" 'line [0-9]+: expected step number 0' '/^---$/{n;s/^0 /5 /}'
bad "a bad thread" 'bad thread "T9999"' '/^---$/{n;s/^0 T0 /0 T9999 /}'
bad "a thread outside the enabled set" 'thread T99 is not in its enabled set' '/^---$/{n;s/^0 T0 /0 T99 /}'
bad "an unknown operation" 'unknown operation "dance"' '/^---$/{n;s/^0 T0 [a-z-]* /0 T0 dance /}'
bad "a bad object" 'bad object "q7"' '/^---$/{n;s/^\(0 T0 [a-z-]*\) [^ ]* /\1 q7 /}'
bad "a thread outside its enabled set" 'is not in its enabled set' '/^---$/{n;s/ e=0x[0-9a-f]* / e=0x0 /}'
bad "fewer steps than announced" 'the header says [0-9]+ steps, the file has' '$d'
bad "a program that is gone" 'cannot be run' 's|^program .*|program /nonexistent/prog|'

# a program run by hand runs once and, when it fails, says how to replay it
expect "a program run directly reports its failure and a repro line" 1 'repro: .*/migrace replay ' \
	build/tsan/demos/counter_race
check "  ... naming the race" grep -q 'tsan:data-race@incr' <<<"$OUT"

finish
