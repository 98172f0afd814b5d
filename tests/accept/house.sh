#!/bin/bash
# The newcomer's path: `make` builds the tools, --version, help per command,
# exec's seed repro line that reruns the same failure, absolute paths in repro
# lines, two hunts into one directory both keep their summaries, --out checked.
source "$(dirname "$0")/lib.bash"
D=build/tsan/demos/counter_race

check "make's default goal is all (make alone builds everything)" \
	bash -c "make -pq -f Makefile 2>/dev/null | grep -q '^.DEFAULT_GOAL := all\$'"
expect "migrace --version" 0 '^migrace [0-9]+\.[0-9]+\.[0-9]+ \(' $M --version
for c in list run exec hunt stress replay minimize reproduce faults show; do
	expect "help $c is that command's usage" 0 "^usage: migrace $c" $M help $c
done
expect "help of an unknown command: exit 2" 2 "no command named 'dance'" $M help dance

# exec: the seed repro line, absolute, and it reruns the same failure
cd "$OUTDIR" || exit 1
expect "exec prints a seed repro line beside the replay line" 1 'repro \(seed\): /.*/migrace exec --strategy random --seed [0-9]+ --runs 1 -- /' \
	"$OLDPWD/$M" exec --strategy random --runs 50 --out rel-out -- "$OLDPWD/$D"
seedline=$(grep -o 'repro (seed): .*' <<<"$OUT" | sed 's/^repro (seed): //')
replayline=$(grep -o 'repro: .* replay .*' <<<"$OUT" | sed 's/^repro: //')
check "  ... the trace path is absolute" grep -q ' replay /' <<<"$replayline"
cd - >/dev/null || exit 1
expect "  ... and the seed line gives the same signature from another directory" 1 'tsan:data-race@incr' \
	bash -c "cd / && $seedline"
expect "exec refuses an --out it cannot write, before any run" 2 "cannot (create|write)" \
	$M exec --out /proc/nope --runs 1 -- $D
touch "$OUTDIR/afile"
expect "exec refuses an --out that is a file" 2 "out" $M exec --out "$OUTDIR/afile/x" --runs 1 -- $D

# bad input, refused before anything runs
printf '#!/bin/sh\ntouch "%s/ran"\n' "$OUTDIR" > "$OUTDIR/plain.sh"; chmod +x "$OUTDIR/plain.sh"
expect "exec refuses a program not built with migrace-cc" 2 "not built with migrace-cc" \
	$M exec --runs 1 -- "$OUTDIR/plain.sh"
check "  ... before running it" test ! -e "$OUTDIR/ran"
expect "exec of a bare name not on PATH" 2 "not found on PATH" $M exec -- no-such-program-here
expect "replay of a directory says it is one" 2 "is a directory, not a trace" $M replay "$OUTDIR"
expect "minimize of a directory says it is one" 2 "is a directory, not a trace" $M minimize "$OUTDIR"

# an interrupted exec says what its finished runs gave and keeps their traces
$M exec --strategy random --keep-going --runs 1000000 --out "$OUTDIR/int" -- $D > "$OUTDIR/int.log" 2>&1 &
pid=$!
# a second run's log means the first run was reported (a run is announced before the next starts)
for _ in $(seq 600); do [ "$(ls "$OUTDIR"/int/*.trace.log 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.1; done
kill -INT $pid
wait $pid
rc=$?
OUT=$(cat "$OUTDIR/int.log")
check "an interrupted exec reports its runs and failures" grep -Eq 'interrupted \(Interrupt\) after [0-9]+ runs?, [1-9][0-9]* failed' "$OUTDIR/int.log"
check "  ... exits 1 for the failure it found" test "$rc" = 1
check "  ... and its first failure's trace is kept and named" test -s "$(sed -n 's/^migrace: trace: //p' "$OUTDIR/int.log")"

# two hunts into one directory: both summaries are kept
H="$OUTDIR/hunts"
run $M hunt --strategy random --budget 20 --jobs 1 --out "$H" -- $D
check "a first hunt writes DIR/hunt.txt" test -s "$H/hunt.txt"
first=$(cat "$H/hunt.txt")
expect "a second hunt into the same directory goes to DIR/hunt-2 and says so" 1 "already holds a hunt; this one goes to .*/hunt-2" \
	$M hunt --strategy random --seed 7 --budget 20 --jobs 1 --out "$H" -- $D
check "  ... the first summary is untouched" test "$(cat "$H/hunt.txt")" = "$first"
check "  ... the second has its own" grep -q '^# seed 7' "$H/hunt-2/hunt.txt"
run $M hunt --strategy random --seed 9 --budget 20 --jobs 1 --out "$H" --force -- $D
check "--force replaces the first" grep -q '^# seed 9' "$H/hunt.txt"
check "hunt's repro lines are absolute" grep -q "^  /.*/migrace exec --strategy random --seed [0-9]* --runs 1 -- /" <<<"$OUT"

finish
