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
# JUnit: a test case per scenario, core, build and check, counted like TAP
expect "run --junit writes the checks of every named scenario" 0 ' 0 failed$' \
	$M run --runs 2 --explore-runs 5 --tap --junit "$OUTDIR/j.xml" --out "$OUTDIR/j" $table demo-lock-order
ntap=$(grep -cE '^(not )?ok ' <<<"$OUT")
check "  ... one <testcase> per TAP line ($ntap), none failed, and the document closes" \
	bash -c '[ "$(grep -c "<testcase " "$1")" -eq "$2" ] && grep -q "<testsuites tests=\"$2\" failures=\"0\"" "$1" &&
		[ "$(tail -1 "$1")" = "</testsuites>" ]' _ "$OUTDIR/j.xml" "$ntap"
check "  ... every scenario is in it, for both builds" \
	bash -c 'for n in $2; do for b in tsan asan; do grep -q "classname=\"$n\" name=\"$n \[$b\]" "$1" || exit 1; done; done' \
	_ "$OUTDIR/j.xml" "$table"
expect "run --junit into a missing directory is refused before running" 2 'cannot write the JUnit file' \
	$M run --runs 1 --explore-runs 0 --junit /nonexistent/dir/j.xml --out "$OUTDIR/j" demo-lock-order
finish
