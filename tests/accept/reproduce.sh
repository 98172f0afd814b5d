#!/bin/bash
# `migrace reproduce FILE`: finds the failure a trace, a report or a CI log
# names, reruns it and confirms or refutes its signature. The failures are
# real: random schedules of a regressed scenario and a demo's lock order
# inversion.
. tests/accept/lib.bash
P=build/tsan/scenarios/cancel-vs-complete.regressed

# a real failure, with exec's report
run $M exec --strategy random --runs 300 --out "$OUTDIR/x" -- $P
printf '%s\n' "$OUT" > "$OUTDIR/exec.log"
T=$(sed -n 's/^migrace: trace: //p' "$OUTDIR/exec.log")
SIG=$(sed -n 's/.*first failure: run [0-9]* (seed [0-9]*): //p' "$OUTDIR/exec.log")
SEED=$(sed -n 's/.*first failure: run [0-9]* (seed \([0-9]*\)).*/\1/p' "$OUTDIR/exec.log")
check "exec found a failure to work with (trace, signature, seed)" test -f "$T" -a -n "$SIG" -a -n "$SEED"

# (a) the trace itself
expect "a trace: replayed --runs times, confirmed" 0 "^confirmed: $SIG reproduced 4/4\$" \
	$M reproduce "$T" --runs 4
expect "the default is 10 reruns" 0 "^confirmed: $SIG reproduced 10/10\$" $M reproduce "$T"

# (b) a CI log: timestamps, ANSI colours, CRLF, TAP noise around exec's report
{
	printf '2024-05-01T10:00:00.1234567Z \033[32mok 1 - build\033[0m\r\n'
	printf '2024-05-01T10:00:00.2Z # some TAP comment: trace: nothing here\r\n'
	sed 's/^/2024-05-01T10:00:01.0Z \x1b[1;31m/; s/$/\x1b[0m\r/' "$OUTDIR/exec.log"
	printf '2024-05-01T10:00:02.0Z not ok 2 - races\r\n'
} > "$OUTDIR/ci.log"
expect "a CI log with the repro line in noise: confirmed" 0 "^confirmed: $SIG reproduced 3/3\$" \
	$M reproduce "$OUTDIR/ci.log" --runs 3
check "the log names the trace once (trace: and repro: lines are one failure)" \
	grep -q '^\[1/1\] trace ' <<<"$OUT"

# a relative trace path: not found as given, found next to the log
mkdir -p "$OUTDIR/ci"
cp "$T" "$OUTDIR/ci/found.trace"
printf 'migrace: exec: 9 runs, 1 failed; first failure: run 4 (seed 5): %s\nmigrace: repro: /ci/bin/migrace replay found.trace\n' \
	"$SIG" > "$OUTDIR/ci/report.txt"
expect "a relative trace path is tried relative to the file's directory" 0 "^confirmed: $SIG reproduced 2/2\$" \
	$M reproduce "$OUTDIR/ci/report.txt" --runs 2

# (c) a seed repro line, as exec/hunt print it
printf '[job 3] migrace: exec: 1 run, 1 failed; first failure: run 0 (seed %s): %s\n[job 3] migrace: repro: /ci/build/bin/migrace exec --strategy random --seed %s --runs 1 -- %s\n' \
	"$SEED" "$SIG" "$SEED" "$P" > "$OUTDIR/seed.log"
expect "a seed line: the one schedule rerun, confirmed" 0 "^confirmed: $SIG reproduced 3/3\$" \
	$M reproduce "$OUTDIR/seed.log" --runs 3
check "a seed line's rerun leaves a trace and its repro line" grep -Eq '^repro: .*migrace replay .*\.trace$' <<<"$OUT"
{ cat "$OUTDIR/exec.log"; printf 'seed: %s exec --strategy random --seed %s --runs 1 -- %s\n' "$M" "$SEED" "$P"; } \
	> "$OUTDIR/both.log"
expect "a trace and a seed line for one failure: the seed line takes the claim before it, both confirmed" 0 \
	'2 failures: 2 confirmed' $M reproduce "$OUTDIR/both.log" --runs 2

# (d) a claim edited to another signature: refuted, saying what came instead
sed 's/\(first failure: run [0-9]* (seed [0-9]*): \).*/\1tsan:data-race@nowhere/; s/\(steps)\): .*/\1: tsan:data-race@nowhere/' \
	"$OUTDIR/exec.log" > "$OUTDIR/edited.log"
expect "an edited signature is refuted, with what the reruns gave" 1 \
	"^refuted: tsan:data-race@nowhere reproduced 0/3; the reruns gave $SIG x3" \
	$M reproduce "$OUTDIR/edited.log" --runs 3
expect "an edited seed line's signature is refuted too" 1 "^refuted: assert:nothing reproduced 0/2" \
	bash -c "sed 's/): $SIG/): assert:nothing/' '$OUTDIR/seed.log' > '$OUTDIR/seed3.log'; $M reproduce '$OUTDIR/seed3.log' --runs 2"

# JUnit and TAP from migrace run: a real mismatch (the lock order demo under
# random gives TSan's lock-order inversion, not the scripted deadlock)
run $M run demo-lock-order --build tsan --strategy random --runs 20 --tap --junit "$OUTDIR/j.xml" --out "$OUTDIR/run"
printf '%s\n' "$OUT" > "$OUTDIR/tap.log"
check "migrace run failed with a trace (the input of the next two checks)" grep -q '#   trace: ' "$OUTDIR/tap.log"
expect "run --tap output: the failure in its TAP comments, confirmed" 0 \
	'^confirmed: tsan:lock-order-inversion@two reproduced 2/2$' $M reproduce "$OUTDIR/tap.log" --runs 2
expect "run --junit XML: the failure's message, trace and repro, confirmed" 0 \
	'^confirmed: tsan:lock-order-inversion@two reproduced 2/2$' $M reproduce "$OUTDIR/j.xml" --runs 2

# hunt: its repro lines (a replay and a seed line per signature) and its hunt.txt
run $M hunt rp-thread-join --regressed --budget 20 --jobs 2 --out "$OUTDIR/hunt"
printf '%s\n' "$OUT" > "$OUTDIR/hunt.log"
nsig=$(grep -c '^repro ' "$OUTDIR/hunt.log")
check "hunt found failures (the input of the next checks)" test "$nsig" -ge 1
expect "hunt's output: every signature's replay and seed line, each confirmed with its signature" 0 \
	"$((2 * nsig)) failures: $((2 * nsig)) confirmed, 0 refuted" $M reproduce "$OUTDIR/hunt.log" --runs 2 --out "$OUTDIR/ro"
check "... the seed lines took the claim of their 'repro SIG (index N):' line" \
	bash -c "! grep -q 'states no signature' <<<\"\$0\"" "$OUT"
expect "hunt.txt: each signature's trace replayed, confirmed" 0 "$nsig confirmed, 0 refuted|^confirmed: .* 2/2\$" \
	$M reproduce "$OUTDIR/hunt/hunt.txt" --runs 2
sed 's|\t[^\t]*\.trace$|\t-|' "$OUTDIR/hunt/hunt.txt" > "$OUTDIR/hunt-notrace.txt"
expect "hunt.txt rows without a trace: the seed rerun from its '# program' and '# strategy' lines" 0 \
	'^\[1/[0-9]+\] seed 1 of .*rp-thread-join.regressed, strategy pct:3' \
	$M reproduce "$OUTDIR/hunt-notrace.txt" --runs 2 --out "$OUTDIR/ro"
check "... and confirmed" bash -c "! grep -q '^refuted' <<<\"\$0\" && grep -q '^confirmed' <<<\"\$0\"" "$OUT"

# several failures: each rerun and reported, --max caps them
cat "$OUTDIR/tap.log" "$OUTDIR/edited.log" > "$OUTDIR/two.log"
expect "two failures: each reported; one refuted makes exit 1" 1 \
	'2 failures: 1 confirmed, 1 refuted' $M reproduce "$OUTDIR/two.log" --runs 2
expect "--max 1 takes the first only" 0 'not rerun: --max 1' $M reproduce "$OUTDIR/two.log" --runs 2 --max 1

# nothing to rerun, a missing trace, a program that is no migrace program
printf 'ok 1 - all good\nmigrace: exec: 100 runs (strategy random), no failure, 1.00 s\n' > "$OUTDIR/clean.log"
expect "a log with nothing rerunnable: exit 2, saying what it looked for" 2 \
	'nothing to rerun. Looked for: a trace' $M reproduce "$OUTDIR/clean.log"
printf '+ %s exec --strategy pct:3 --runs 300 -- %s\n' "$M" "$P" > "$OUTDIR/cmd.log"
expect "an exploration command line is no seed line (not one run): exit 2" 2 'not one run of one seed' \
	$M reproduce "$OUTDIR/cmd.log"
printf 'migrace: trace: %s/gone/x.trace\n' "$OUTDIR" > "$OUTDIR/missing.log"
expect "a trace that does not exist: exit 2, naming it" 2 "the trace $OUTDIR/gone/x.trace does not exist" \
	$M reproduce "$OUTDIR/missing.log"
printf 'migrace: repro: migrace exec --strategy random --seed 1 --runs 1 -- /usr/bin/touch %s/pwned\n' "$OUTDIR" \
	> "$OUTDIR/evil.log"
expect "a seed line naming a program not built with migrace-cc: not run, exit 2" 2 'not a program built with migrace-cc' \
	$M reproduce "$OUTDIR/evil.log"
check "... and it really did not run" test ! -e "$OUTDIR/pwned"
expect "a file that does not exist: exit 2" 2 'cannot read' $M reproduce "$OUTDIR/no-such-file"
expect "no file: exit 2" 2 'no file given' $M reproduce
expect "--runs 0: exit 2" 2 '--runs needs a number' $M reproduce "$T" --runs 0
expect "reproduce --help" 0 'confirmed: SIG reproduced N/N' $M reproduce --help
expect "migrace help reproduce" 0 'seed line' $M help reproduce

finish
