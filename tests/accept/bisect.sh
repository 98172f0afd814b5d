#!/bin/bash
# scripts/bisect under `git bisect run`: a throwaway history of core/ in a
# temporary directory, harmless commits around one that reverts the fix of
# rp-thread-join (its regress.patch) and, after it, one whose core does not
# compile; bisect must name the planted commit, skipping the broken one.
. tests/accept/lib.bash
command -v git > /dev/null || { echo "1..0 # SKIP git is not installed"; exit 0; }

root=$PWD
hist=$OUTDIR/hist
export GIT_AUTHOR_NAME=migrace GIT_AUTHOR_EMAIL=migrace@localhost
export GIT_COMMITTER_NAME=migrace GIT_COMMITTER_EMAIL=migrace@localhost
export GIT_CONFIG_NOSYSTEM=1 HOME=$OUTDIR
mkdir -p "$hist"
cp -r core "$hist/core"
g() { git -C "$hist" "$@" > /dev/null 2>&1; }
# note FILE MSG: a harmless commit (a comment at the end of FILE)
note() { printf '/* %s */\n' "$2" >> "$hist/core/$1" && g add -A && g commit -q -m "$2"; }
g init -q -b history && g add -A && g commit -q -m "core: import"
first=$(git -C "$hist" rev-parse HEAD)
note migration/ram.c "ram: a comment"
patch -d "$hist" -p1 --batch --forward --silent --no-backup-if-mismatch < scenarios/rp-thread-join/regress.patch &&
	g commit -q -a -m "migration: join the return path when from_dst_file is set"
planted=$(git -C "$hist" rev-parse HEAD)
note migration/yank.c "yank: a comment"
echo "this is not C" >> "$hist/core/migration/vm.c" && g commit -q -a -m "vm: does not compile"
broken=$(git -C "$hist" rev-parse HEAD)
sed -i '$d' "$hist/core/migration/vm.c" && g commit -q -a -m "vm: compiles again"
note migration/channel.c "channel: a comment"
note migration/multifd.c "multifd: a comment"
note migration/object.c "object: a comment"
check "the throwaway history has 9 commits, the planted one 3rd, the broken one 5th" \
	test "$(git -C "$hist" rev-list --count HEAD)" = 9 -a "$(git -C "$hist" rev-list --count "$planted")" = 3

# the three outcomes at single commits, as git bisect run sees them
expect "bad arguments: no scenario (exit 2)" 2 'no scenario' scripts/bisect
expect "bad arguments: an unknown scenario (exit 2)" 2 "unknown scenario 'no-such'" \
	scripts/bisect no-such --core "$hist/core"
expect "bad arguments: a missing --core directory (exit 2)" 2 'no such directory' \
	scripts/bisect rp-thread-join --core "$hist/nonexistent"
g checkout -q "$broken"
expect "a core that does not compile is skipped (exit 125), saying why" 125 'does not build.*\(125\)' \
	scripts/bisect rp-thread-join --core "$hist/core" --build tsan
g checkout -q "$first"
expect "the core before the planted commit is clean (exit 0)" 0 'clean at this commit' \
	scripts/bisect rp-thread-join --core "$hist/core" --build tsan --explore-runs 20
g checkout -q "$planted"
expect "the planted commit reproduces (exit 1) with signature, trace and repro line" 1 \
	'reproduced at this commit \[tsan, script\]: tsan:data-race@migration_completion' \
	scripts/bisect rp-thread-join --core "$hist/core" --build tsan
check "  ... and prints the trace and the repro line" \
	bash -c 'grep -q "^migrace: trace: " <<<"$1" && grep -q "^migrace: repro: .* replay " <<<"$1"' _ "$OUT"
g checkout -q history

# the bisection itself, from the throwaway repository with this tree's script
# (bad commit first, then the good one); the broken commit halves the range,
# so bisect tests it first and must skip it
run bash -c 'cd "$1" && git bisect start HEAD "$2" > /dev/null && git bisect run "$3/scripts/bisect" rp-thread-join --core "$1/core"
	rc=$?; git bisect log; git bisect reset > /dev/null 2>&1; exit $rc' _ "$hist" "$first" "$root"
check "git bisect run names exactly the planted commit" \
	grep -q "^$planted is the first bad commit" <<<"$OUT"
check "  ... having skipped the commit whose core does not compile" \
	grep -q "^git bisect skip $broken" <<<"$OUT"
finish
