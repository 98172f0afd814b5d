#!/bin/bash
# The management core (core/mgmt) under the controlled scheduler: a managed
# peer-to-peer migration between two drivers in one process, each domain's
# QEMU a fake monitor, with a concurrent query API thread ("migrate"), and
# with a destroy racing the whole migration ("destroy"), built with
# migrace-cc --tsan. Any TSan report, deadlock, hang, failed check or broken
# invariant of core/mgmt/invariants.h fails the run.
. tests/accept/lib.bash
P=build/tsan/core-progs/mgmt_migrate

for m in migrate destroy; do
	for s in random pct:2 pct:3; do
		expect "mgmt, $m: clean in 200 schedules of $s (TSan, invariants)" 0 'no failure' \
			$M exec --strategy $s --runs 200 --jobs 2 --timeout 20 -- $P $m
	done
done
# the same over the real adapter: each QEMU is the migration core serving its
# monitor (core/migration/monserver.c); memory checked; tsan and asan builds
for b in tsan asan; do
	for s in random pct:2 pct:3; do
		expect "mgmt over the real adapter: clean in 200 schedules of $s ($b, invariants)" 0 'no failure' \
			$M exec --strategy $s --runs 200 --jobs 2 --timeout 20 -- build/$b/core-progs/mgmt_real_migrate
	done
done
expect "mgmt: a migration passes Begin, Perform, Finish and Confirm in order" 0 'no failure' \
	$M exec --trace-all --out "$OUTDIR/mgmt" -- $P
points=$(grep ' sync ' "$OUTDIR"/mgmt/*.trace | awk '{print $4}' | tr '\n' ' ')
check "  ... begin, prepare, perform, finish, confirm" \
	grep -q 'p:mig:begin:done .*p:mig:prepare:done .*p:mig:perform:done .*p:mig:finish:done .*p:mig:confirm:done' <<<"$points"

finish
