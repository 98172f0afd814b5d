#!/bin/bash
# Signatures name the program, not the plumbing: a report whose top frames are
# free, malloc, an interceptor or migrace's runtime is signed at the program's
# first frame; using a destroyed mutex is the program's misuse, in every build.
. tests/accept/lib.bash
T=build/tsan/testprogs
A=build/asan/testprogs

# a sig_* program's signature: the end of exec's "first failure" line
sig_of() { sed -n 's/^migrace: exec: .*first failure: run [0-9]* (seed [0-9]*): //p' <<<"$OUT"; }

# use after free, the free in the program
expect "tsan: a read racing with the program's free is signed at release" 1 \
	'first failure: .*: tsan:data-race@release$' $M exec -- $T/sig_free_race
check "  ... not at free (got '$(sig_of)')" test "$(sig_of)" = "tsan:data-race@release"
expect "tsan: a read after the free is signed at the reader" 1 \
	'first failure: .*: tsan:heap-use-after-free@reader$' $M exec -- $T/sig_free_race late
expect "asan: a read after the free is signed at the reader" 1 \
	'first failure: .*: asan:heap-use-after-free@reader$' $M exec -- $A/sig_free_race late
for b in tsan asan; do
	expect "$b: joined before the free, clean (50 seeds)" 0 'no failure' \
		$M exec --strategy random --runs 50 --jobs 2 -- build/$b/testprogs/sig_free_race joined
done
expect "a hunt over 100 schedules of the racy free" 1 '' \
	$M hunt --budget 100 --jobs 2 --out "$OUTDIR/hunt-free" -- $T/sig_free_race
sigs=$(grep -v '^#' "$OUTDIR/hunt-free/hunt.txt" | cut -f1 | sort | tr '\n' ' ')
check "  ... finds only signatures at the program's frames ($sigs)" \
	bash -c '[ -n "$1" ] && ! grep -Eq "@(free|malloc|operator|__|rt_|pthread_)" <<<"$1"' _ "$sigs"

# a leak through malloc
expect "asan: a leak through malloc is signed at the program's allocating function" 1 \
	'first failure: .*: asan:memory-leak@make_session$' $M exec -- $A/sig_leak
expect "asan: the sessions freed, clean (20 runs)" 0 'no failure' $M exec --runs 20 -- $A/sig_leak freed

# a destroyed mutex
for b in tsan asan plain; do
	expect "$b: locking a destroyed mutex is misuse:lock-destroyed" 1 \
		'first failure: .*: misuse:lock-destroyed$' $M exec -- build/$b/testprogs/sig_destroyed_mutex
	check "  ... not a harness error" bash -c '! grep -q "harness:" <<<"$1"' _ "$OUT"
	expect "$b: destroyed after the join, clean (50 seeds)" 0 'no failure' \
		$M exec --strategy random --runs 50 --jobs 2 -- build/$b/testprogs/sig_destroyed_mutex ordered
done
expect "asan: a destroyed mutex, to replay" 1 'misuse:lock-destroyed' \
	$M exec --out "$OUTDIR/mx" -- $A/sig_destroyed_mutex
trace=$(sed -n 's/^migrace: trace: //p' <<<"$OUT" | tail -1)
expect "  ... its replay gives the same misuse" 0 'replay reproduced misuse:lock-destroyed' $M replay "$trace"

# a wild jump: nothing of the program on the stack, and never migrace's rt.c
for b in tsan asan plain; do
	expect "$b: a jump through a null handler is a SEGV signed without a frame of migrace" 1 \
		'first failure: .*: (tsan|asan|ubsan):SEGV$' $M exec -- build/$b/testprogs/sig_wild_jump
	expect "$b: the handler set, clean" 0 'no failure' $M exec -- build/$b/testprogs/sig_wild_jump set
done
finish
