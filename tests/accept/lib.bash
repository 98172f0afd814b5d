# Helpers for the acceptance tests: TAP output, quiet on success, and on
# failure everything needed to see why (the command and its output).
# Sourced by tests/accept/*.sh, run from the top of the tree.
set -u
M=build/bin/migrace
OUTDIR=$(mktemp -d /tmp/migrace-accept.XXXXXX)
export MIGRACE_OUT="$OUTDIR/traces"
trap 'rm -rf "$OUTDIR"' EXIT
tap_n=0
tap_failed=0
OUT=""
RC=0

pass() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
fail() {
	tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $*"
	printf '%s\n' "$OUT" | tail -n 40 | sed 's/^/#   /'
}
# run CMD...: runs it, keeps its combined output in $OUT and its status in $RC
run() { OUT=$("$@" 2>&1); RC=$?; }
# expect DESC RC PATTERN CMD...: CMD exits RC and its output matches the
# extended regex PATTERN (empty: no check)
expect() {
	local desc=$1 want=$2 pat=$3
	shift 3
	run "$@"
	if [ "$RC" -ne "$want" ]; then
		OUT="command: $*
exit code $RC, expected $want
$OUT"
		fail "$desc"
	elif [ -n "$pat" ] && ! printf '%s\n' "$OUT" | grep -Eq -- "$pat"; then
		OUT="command: $*
output does not match /$pat/
$OUT"
		fail "$desc"
	else
		pass "$desc"
	fi
}
# check DESC CONDITION-COMMAND...: a plain assertion
check() { local desc=$1; shift; if "$@"; then pass "$desc"; else fail "$desc"; fi; }
# todo DESC REASON CONDITION-COMMAND...: a known defect, in TAP's TODO form:
# it is checked and shown ("not ok ... # TODO reason" while it fails), and
# tests/run-all counts it apart from the failures, until it is fixed
todo() {
	local desc=$1 why=$2; shift 2
	tap_n=$((tap_n + 1))
	if "$@"; then echo "ok $tap_n - $desc # TODO $why"; else echo "not ok $tap_n - $desc # TODO $why"; fi
}
finish() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; }

# For the suites of scheduling decisions (world.sh, fds.sh):
# found BUILD DESC SIG PROG ARGS...: pct:3 finds SIG within 1,000 schedules
# (extra exec options in $XOPT), the trace replays to it
found() {
	local b=$1 desc=$2 sig=$3
	shift 3
	local out="$OUTDIR/$b-$(basename "$1")-$tap_n"
	expect "$b: $desc: pct:3 finds $sig" 1 "first failure: .*$sig" \
		$M exec ${XOPT:-} --strategy pct:3 --runs 1000 --out "$out" -- "$@"
	local t
	t=$(ls "$out"/*.trace 2>/dev/null | head -1)
	expect "$b: ... and its trace replays" 0 "replay reproduced .*$sig" $M replay "$t"
}
# clean BUILD DESC STRATEGY RUNS PROG ARGS...: no failure (dfs: exhausted)
clean() {
	local b=$1 desc=$2 s=$3 n=$4
	shift 4
	local pat='no failure'
	[ "${s%%:*}" = dfs ] && pat='exhausted'
	expect "$b: $desc: $s, $n schedules: clean" 0 "$pat" $M exec ${XOPT:-} --strategy "$s" --runs "$n" -- "$@"
}
