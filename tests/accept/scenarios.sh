#!/bin/bash
# The scenario suite's own consistency, before the gate runs it (the gate is
# the last suite of tests/run-all): the table and the directories agree, every
# regress.patch still applies to core/ and touches only core/, and every sync
# point a scenario's order names is in a registry of the core.
. tests/accept/lib.bash

table=$(sed -n 's/^SCENARIO("\([^"]*\)".*/\1/p' scenarios/scenarios.def)
dirs=$(ls scenarios/*/scenario.c | sed 's|scenarios/\(.*\)/scenario.c|\1|')
check "every scenario directory is in scenarios.def, and every entry has one" \
	test "$(sort <<<"$table")" = "$(sort <<<"$dirs")"
registered=$(cat core/*/sync_points.def 2>/dev/null | sed -n 's/^SYNC_POINT_DEF([A-Z0-9_]*, *"\([^"]*\)").*/\1/p')
for n in $table; do
	p=scenarios/$n/regress.patch
	expect "$n: regress.patch applies to the current core/" 0 '' \
		patch --dry-run -p1 --batch --forward --silent -i "$p"
	check "$n: regress.patch changes files under core/ only" \
		bash -c '! grep -E "^\+\+\+ " "$1" | grep -vE "^\+\+\+ b/core/"' _ "$p"
	for b in tsan asan; do
		check "$n: the $b program and its regressed twin are built" \
			test -x "build/$b/scenarios/$n" -a -x "build/$b/scenarios/$n.regressed"
	done
	points=$(MIGRACE_DESCRIBE=1 "build/tsan/scenarios/$n" | sed -n 's/^order //p' | tr -s ' ' '\n' |
		grep -v -- '->' | grep -v '^before$' | sort -u)
	# the fakes' points (fdest:, fmon:, fpeer:) are named by the fakes themselves
	unknown=$(comm -23 <(printf '%s\n' $points) <(printf '%s\n' $registered | sort -u) |
		grep -vE '^(fdest|fmon|fpeer):' | grep . || true)
	OUT="not registered in core/*/sync_points.def: $unknown"
	check "$n: every sync point of its order is registered (or a fake's)" test -z "$unknown"
done
finish
