#!/bin/bash
# The management core (core/mgmt) under the controlled scheduler: a managed
# peer-to-peer migration between two drivers in one process, each domain's
# QEMU a fake monitor, with a concurrent query API thread ("migrate"), and
# with a destroy racing the whole migration ("destroy"), built with
# migrace-cc --tsan. Any TSan report, deadlock, hang, failed check or broken
# invariant of core/mgmt/invariants.h fails the run. A restart racing a stale
# EOF, hunted without a script on both cores.
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
# restart (a new QEMU, a new id) against a stale EOF, without the scenario's
# script: a pct:3 hunt finds the regressed worker (libvirt dd2f36d66e), and
# the same hunt of the real core finds nothing
expect "mgmt, restart: a hunt without script finds stale-event on the regressed core" 1 \
	'expected invariant:stale-event: found' \
	$M hunt stale-eof-restart --regressed --budget 2000 --jobs 2 --out "$OUTDIR/hunt-regressed"
expect "mgmt, restart: the same hunt of the real core is clean" 0 '0 failed, 0 signatures' \
	$M hunt stale-eof-restart --budget 2000 --jobs 2 --out "$OUTDIR/hunt-real"
# exitmonitor-lock-order's lock-rank comes from the race, not from the first
# out-of-order ExitMonitor: the regressed core passes the default
# non-preemptive order without the script, and fails with it
E=build/tsan/scenarios/exitmonitor-lock-order.regressed
expect "mgmt, exitmonitor-lock-order regressed: clean in the default order without its script" 0 \
	'no failure' $M exec --strategy switches --runs 1 -- $E
expect "mgmt, exitmonitor-lock-order regressed: invariant:lock-rank with its script" 1 \
	'invariant:lock-rank' $M exec --strategy script --runs 1 -- $E
expect "mgmt: a migration passes Begin, Perform, Finish and Confirm in order" 0 'no failure' \
	$M exec --trace-all --out "$OUTDIR/mgmt" -- $P
points=$(grep ' sync ' "$OUTDIR"/mgmt/*.trace | awk '{print $4}' | tr '\n' ' ')
check "  ... begin, prepare, perform, finish, confirm" \
	grep -q 'p:mig:begin:done .*p:mig:prepare:done .*p:mig:perform:done .*p:mig:finish:done .*p:mig:confirm:done' <<<"$points"

finish
