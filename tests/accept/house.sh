#!/bin/bash
# The newcomer's path: `make` builds the tools, --version, help per command,
# exec's seed repro line that reruns the same failure, absolute paths in repro
# lines, two hunts into one directory both keep their summaries, --out checked.
source "$(dirname "$0")/lib.bash"
D=build/tsan/demos/counter_race

check "make's default goal is all (make alone builds everything)" \
	bash -c "make -pq -f Makefile 2>/dev/null | grep -q '^.DEFAULT_GOAL := all\$'"
expect "migrace --version" 0 '^migrace [0-9]+\.[0-9]+\.[0-9]+ \(' $M --version
for c in list run exec hunt stress replay minimize reproduce faults; do
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
