#!/bin/bash
# The migration core under the controlled scheduler: an in-process migration
# (source and destination over the in-memory channel fake, with a running
# guest; precopy, cancelled, multifd, multifd cancelled, cpr-transfer, and
# cpr-transfer to a missing target; and one driven through two monitors)
# built with migrace-cc --tsan, explored with several strategies. Its
# threads are scheduled one at a time; any TSan report, deadlock, hang or
# failed check in the core fails the run.
. tests/accept/lib.bash
P=build/tsan/core-progs/inproc_migrate

for m in complete cancel multifd multifd-cancel cpr cpr-fail; do
	for s in random pct:2 pct:3; do
		expect "core, $m: clean in 200 schedules of $s (TSan)" 0 'no failure' \
			$M exec --strategy $s --runs 200 --jobs 2 --timeout 20 -- $P $m
	done
	expect "core, $m: clean in 200 schedules of dfs:1 (TSan)" 0 'no failure' \
		$M exec --strategy dfs:1 --runs 200 --timeout 20 -- $P $m
done
# the same migration driven only through two monitors (monserver.c) by a client thread
Q=build/tsan/core-progs/monserver_migrate
for m in complete cancel; do
	for s in random pct:2; do
		expect "core, monitor-driven $m: clean in 200 schedules of $s (TSan)" 0 'no failure' \
			$M exec --strategy $s --runs 200 --jobs 2 --timeout 20 -- $Q $m
	done
done
# the fake remote peer: a script delays a reply behind another thread's sync
# point; the unexpected and the unused fail as invariants
F=build/tsan/core-progs/fake_peer_script
expect "fake peer: a reply held behind a sync point by the program's ordering, 100 schedules" 0 'no failure' \
	$M exec --strategy script --runs 100 --jobs 2 -- $F order
expect "fake peer: an unexpected call is invariant:fake-peer:unexpected" 1 \
	'invariant:fake-peer:unexpected.*|no confirm expected' $M exec --runs 1 -- $F unexpected
expect "fake peer: a leftover expectation is invariant:fake-peer:unused" 1 \
	'invariant:fake-peer:unused' $M exec --runs 1 -- $F unused
expect "core: every sync point of a migration is reached, in order" 0 'no failure' \
	$M exec --trace-all --out "$OUTDIR/core" -- $P
points=$(grep ' sync ' "$OUTDIR"/core/*.trace | awk '{print $4}' | tr '\n' ' ')
check "  ... setup, vm stopped, SHUT, return path closed, files released, shutdown" \
	grep -q 'p:mig:thread:setup-done .*p:mig:completion:vm-stopped .*p:rp:thread:got-shut .*p:main:cleanup:rp-closed .*p:main:cleanup:files-released .*p:main:shutdown:after-unref' <<<"$points"

finish
