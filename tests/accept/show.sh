#!/bin/bash
# `migrace show TRACE` (lanes, one column per thread) and `show --json`
# (the Chrome trace-event format, checked by tools/check_trace_json.py) on
# traces of several kinds: a scripted scenario, random on a demo, memory
# points, a deadlock, fault decisions and a fault sweep; bad input; and the
# file:line that minimize's switch lists carry.
. tests/accept/lib.bash
CHECK=tests/accept/tools/check_trace_json.py

header() { sed -n "s/^$2 //p" "$1" | head -1; }
first_trace() { find "$1" -name '*.trace' | sort | head -1; }

# -- the traces ----------------------------------------------------------------
$M run rp-thread-join --regressed --build tsan --runs 1 --explore-runs 0 --out "$OUTDIR/scen" >/dev/null 2>&1
SCEN=$(first_trace "$OUTDIR/scen")
$M exec --strategy random --runs 50 --out "$OUTDIR/rand" -- build/tsan/demos/counter_race >/dev/null 2>&1
RAND=$(first_trace "$OUTDIR/rand")
$M exec --preempt mem --strategy pct:2 --runs 200 --out "$OUTDIR/mem" -- build/tsan/testprogs/lost_update \
	>/dev/null 2>&1
MEM=$(first_trace "$OUTDIR/mem")
$M exec --script harness/demos/lock_order.script --out "$OUTDIR/dl" -- build/tsan/demos/lock_order >/dev/null 2>&1
DL=$(first_trace "$OUTDIR/dl")
MIGRACE_FAULTS=random:0.3 $M exec --strategy random --runs 8 --keep-going --trace-all --out "$OUTDIR/flt" \
	-- build/tsan/core-progs/fault_migrate >/dev/null 2>&1
FLT=$(grep -l ' fault-fail ' "$OUTDIR"/flt/*.trace | head -1)
$M faults fault_migrate --points 'core/channel/read' --out "$OUTDIR/sweep" >/dev/null 2>&1
SWEEP=$(first_trace "$OUTDIR/sweep")
check "traces: a scenario's, random's, a memory-point one, a deadlock, fault decisions, a fault sweep's" \
	test -f "$SCEN" -a -f "$RAND" -a -f "$MEM" -a -f "$DL" -a -f "$FLT" -a -f "$SWEEP"
check "... the memory-point trace has mem steps" grep -q ' T[0-9]* mem - ' "$MEM"

# -- lanes ---------------------------------------------------------------------
# lanes_ok NAME TRACE: exit 0, every thread's title, each step's row (when
# nothing is folded), the outcome on the last step row, and no lane line wider
# than the default 100 columns (the output is not a terminal)
lanes_ok() {
	local name=$1 t=$2 n steps outcome
	steps=$(header "$t" steps)
	outcome=$(header "$t" outcome)
	expect "$name: show prints the lanes" 0 '^ *step +' $M show --all "$t"
	n=$(sed -n 's/^steps .*, \([0-9]*\) threads\{0,1\},.*/\1/p' <<<"$OUT")
	local title=$(grep -m1 -E '^ *step +T0' <<<"$OUT") missing=""
	for ((k = 0; k < n; k++)); do
		grep -q "T$k\\b" <<<"$title" || missing="$missing T$k"
	done
	check "$name: the title names each of its $n threads ($title)" test -n "$n" -a -z "$missing"
	local rows=$(grep -cE '^ *[0-9]+ [>*! ] ' <<<"$OUT")
	check "$name: a row per step ($rows of $steps)" test "$rows" -eq "$steps"
	if [ "$outcome" = clean ]; then
		check "$name: the last line says clean" grep -qE '^ *end +--- clean$' <<<"$OUT"
	else
		check "$name: the failure line: $outcome" grep -qxF -- "==> $outcome" <<<"$(sed -En 's/^ *end ! [ :!]*//p' <<<"$OUT")"
	fi
	local wide=$(sed -n '/^ *step /,$p' <<<"$OUT" | awk 'length($0) > 100' | wc -l)
	check "$name: no lane line wider than 100 columns ($wide)" test "$wide" -eq 0
}
lanes_ok "scenario" "$SCEN"
lanes_ok "random" "$RAND"
lanes_ok "memory points" "$MEM"
lanes_ok "deadlock" "$DL"
lanes_ok "faults" "$FLT"
lanes_ok "fault sweep" "$SWEEP"

# what the rows say
expect "scenario: 7 threads: compact lanes, the text after them" 0 \
	'^ +[0-9]+ +[o:] .* \[rp:thread:got-shut\] migration\.c:[0-9]+ source_return_path_thread' $M show "$SCEN"
check "scenario: the failure is in T5's lane (the thread that ran last)" \
	grep -qE '^ *end ! :  :  :     :  ! +==> tsan:data-race@migration_completion' <<<"$OUT"
check "scenario: a long stretch of one thread is folded" grep -qE '^ +o +\.\.\. [0-9]+ steps of T0 \.\.\.$' <<<"$OUT"
check "scenario: ... to fewer rows than steps" \
	test "$(grep -cE '^ *[0-9]+ [>*! ] ' <<<"$OUT")" -lt "$(header "$SCEN" steps)"
check "scenario: compact lanes, a mark per thread" grep -qE '^ *step +T0 T1 T2 T3 T4 T5 T6 +op object' <<<"$OUT"
check "scenario: switches are marked" grep -qE '^ +[0-9]+ > ' <<<"$OUT"
expect "random: 3 threads get full columns, switches and preemptions marked" 0 \
	'^ +[0-9]+ \* +create T2 counter_race\.c:[0-9]+' $M show "$RAND"
check "random: the title has a column per thread with its first function" grep -qE '^ *step +T0 main +T1 +T2' <<<"$OUT"
expect "memory points: mem steps with their file:line" 0 'mem lost_update\.c:1[89]' $M show --all "$MEM"
expect "deadlock: each thread's wait in its column, and the cycle" 0 'wait-for cycle: T1 -> T2 -> T1' \
	$M show "$DL"
check "deadlock: T1's wait starts in T1's column" grep -qE '^ {30,}waits: lock m2 \(held by T2\)' <<<"$OUT"
check "deadlock: the outcome across the lanes" grep -qE '^ *end ! ==> deadlock$' <<<"$OUT"
expect "faults: a failed fault decision marked ! with its point" 0 '^ +[0-9]+ ! .*FAULT fail core/' $M show "$FLT"
check "faults: the header names the faults setting" grep -q 'faults random:0.3' <<<"$OUT"

# width: --width, COLUMNS, else 100
wide_lines() { sed -n '/^ *step /,$p' <<<"$OUT" | awk -v w="$1" 'length($0) > w' | wc -l; }
expect "--width 60" 0 '' $M show --width 60 "$SCEN"
check "... no lane line wider than 60 columns" test "$(wide_lines 60)" -eq 0
expect "COLUMNS=72" 0 '' env COLUMNS=72 $M show "$RAND"
check "... no lane line wider than 72 columns" test "$(wide_lines 72)" -eq 0
check "... and the columns are narrower than at 100" test "$(wide_lines 71)" -lt 100
expect "3 threads at --width 50: compact lanes" 0 '^ *step +T0 T1 T2 +op object file:line function$' $M show --width 50 "$RAND"

# many threads: 24 of them (a trace written here) leave no room for lanes:
# each row names its thread
python3 - "$OUTDIR/many.trace" <<'EOF'
import sys
rows, en, prev = [], 1, 0
def step(t, op, obj, frm, loc=""):
    rows.append("%d T%d %s %s +0x10 from=T%d e=0x%x t=0 d=s%d%s" % (len(rows), t, op, obj, frm, en, len(rows) + 1,
                                                                    " @ " + loc if loc else ""))
for k in range(1, 24):
    en |= 1 << k
    step(0, "create", "T%d" % k, 0, "many.c:%d main" % (10 + k))
for k in range(1, 24):
    step(k, "start", "-", prev)
    step(k, "lock", "m1", k, "many.c:40 worker")
    step(k, "unlock", "m1", k, "many.c:42 worker")
    step(k, "exit", "-", k)
    en &= ~(1 << k)
    prev = k
head = ["migrace-trace 1", "program /nowhere/many", "cwd /nowhere", "build tsan", "strategy random", "seed 3",
        "pct-k 0", "code-version none", "outcome tsan:data-race@worker", "steps %d" % len(rows), "---"]
open(sys.argv[1], "w").write("\n".join(head + rows) + "\n")
EOF
expect "24 threads: each row names its thread" 0 '^ +[0-9]+ +T17 lock m1 many\.c:40 worker$' $M show "$OUTDIR/many.trace"
check "... the failure names the thread that ran last" grep -qE '^ *end ! T23 ==> tsan:data-race@worker$' <<<"$OUT"
check "... no lane line wider than 100 columns" test "$(wide_lines 100)" -eq 0
expect "24 threads: --json, a track per thread" 0 '^ok: .* 24 threads' \
	bash -c "$M show --json '$OUTDIR/many.trace' > '$OUTDIR/many.json' && python3 $CHECK '$OUTDIR/many.json' --steps 115"

# on a terminal: its width (ioctl) and colours, none with NO_COLOR
if command -v script >/dev/null; then
	expect "a terminal of 70 columns: lanes that fit, colours" 0 $'\033\\[1;31m==> tsan:data-race@incr' \
		script -qec "stty cols 70; $M show $RAND" /dev/null
	OUT=$(tr -d '\r' <<<"$OUT" | sed 's/\x1b\[[0-9;]*m//g')
	check "... no lane line wider than 70 columns" test "$(wide_lines 70)" -eq 0
	t1=$(grep -m1 '^step ' <<<"$OUT" | awk '{ print index($0, "T1") }')
	check "... three columns of 21 characters after the gutter: T1's at 29 ($t1)" test "$t1" = 29
	expect "NO_COLOR: no colours on a terminal" 0 '' script -qec "NO_COLOR=1 $M show $RAND" /dev/null
	check "... none" test -z "$(grep -F $'\033[' <<<"$OUT")"
fi

# -- the Chrome trace-event format ---------------------------------------------
json_ok() {
	local name=$1 t=$2 j="$OUTDIR/$1.json"
	expect "$name: show --json" 0 '' $M show --json --out "$j" "$t"
	local n=$($M show "$t" | sed -n 's/^steps .*, \([0-9]*\) threads\{0,1\},.*/\1/p')
	expect "$name: the JSON has every required field, a slice per step, a track per thread" 0 '^ok: ' \
		python3 $CHECK "$j" --steps "$(header "$t" steps)" --threads "$n"
	if [ "$(header "$t" outcome)" != clean ]; then
		check "$name: the failure is an instant event" grep -qF "\"cat\": \"failure\", \"args\": {\"outcome\": \"$(header "$t" outcome)\"" "$j"
	fi
}
json_ok scenario "$SCEN"
json_ok random "$RAND"
json_ok memory "$MEM"
json_ok deadlock "$DL"
json_ok faults "$FLT"
json_ok sweep "$SWEEP"
check "scenario: sync points are instant events with a thread scope" \
	grep -qE '"name": "sync point rp:thread:got-shut", "ph": "i", .*"s": "t"' "$OUTDIR/scenario.json"
check "faults: fault decisions are instant events" grep -qE '"name": "fault FAILED core/[^"]*", "ph": "i"' \
	"$OUTDIR/faults.json"
check "deadlock: the outcome is a global instant" grep -qE '"name": "deadlock", "ph": "i", .*"s": "g"' \
	"$OUTDIR/deadlock.json"
expect "show --json to the standard output is the same JSON" 0 '' \
	cmp <($M show --json "$SCEN") "$OUTDIR/scenario.json"
# the checker fails what lacks a required field
sed '0,/"ph": "X", "ts": [0-9]*, /s//"ph": "X", /' "$OUTDIR/random.json" > "$OUTDIR/nots.json"
expect "the checker refuses a slice without ts" 1 'ts missing' python3 $CHECK "$OUTDIR/nots.json"
sed 's/"dur": 1, //' "$OUTDIR/random.json" > "$OUTDIR/nodur.json"
expect "the checker refuses a complete event without dur" 1 'needs dur' python3 $CHECK "$OUTDIR/nodur.json"
sed 's/"s": "t", //' "$OUTDIR/random.json" > "$OUTDIR/nos.json"
expect "the checker refuses an instant without its scope" 1 'needs s \(scope\)' python3 $CHECK "$OUTDIR/nos.json"

# -- minimize: switches with file:line -----------------------------------------
expect "minimize --switches: the list, then each switch with its step and file:line" 0 \
	'^    [0-9]+\.s[0-9]+>[0-9]+ +step [0-9]+ +T[0-9]+ (preempted at|stops after) create T[12] @ counter_race\.c:[0-9]+ main -> T[0-9]' \
	$M minimize --switches "$RAND"
check "... the first line is still the bare list" \
	grep -qE '^[0-9]+\.s[0-9]+>[0-9]+( [0-9]+\.s[0-9]+>[0-9]+)*$' <<<"$(head -1 <<<"$OUT")"
expect "minimize --switches on memory decisions: mem entries at lost_update.c" 0 \
	'^    [0-9]+\.m[0-9]+>[0-9]+ +step [0-9]+ +T[0-9]+ preempted at mem @ lost_update\.c:1[89] incr' \
	$M minimize --switches "$MEM"
expect "minimize: the minimized trace's switches with file:line" 0 \
	'^    [0-9]+\.[sm][0-9]+>[0-9]+ +step [0-9]+ +T[0-9]+ .* @ lost_update\.c:[0-9]+' \
	$M minimize "$MEM" --out "$OUTDIR/mem.min.trace" --runs-check 1

# -- bad input -----------------------------------------------------------------
expect "no trace: exit 2" 2 'no trace given' $M show
expect "two traces: exit 2" 2 'one trace at a time' $M show "$SCEN" "$RAND"
expect "a missing file: exit 2" 2 'nope.trace: cannot read it: No such file' $M show "$OUTDIR/nope.trace"
expect "a directory: exit 2" 2 'is a directory, not a trace' $M show "$OUTDIR"
expect "not a trace (its log): exit 2" 2 'line 1: not a migrace trace' $M show "$DL.log"
: > "$OUTDIR/empty.trace"
expect "an empty file: exit 2" 2 'the file is empty' $M show "$OUTDIR/empty.trace"
head -n 40 "$SCEN" > "$OUTDIR/cut.trace"
expect "a truncated trace: exit 2, naming the missing steps" 2 'the header says [0-9]+ steps, the file has' \
	$M show "$OUTDIR/cut.trace"
expect "... and with --json: exit 2" 2 'the header says' $M show --json "$OUTDIR/cut.trace"
sed '20s/ from=T/ from=X/' "$SCEN" > "$OUTDIR/bad.trace"
expect "a malformed step: exit 2, naming the line" 2 'line 20: bad field "from=X' $M show "$OUTDIR/bad.trace"
expect "an unknown option: exit 2" 2 'unknown or incomplete option' $M show --bogus "$SCEN"
expect "--width out of range: exit 2" 2 '--width 5: expected a number' $M show --width 5 "$SCEN"
expect "--out in a missing directory: exit 2" 2 'cannot write' $M show --json --out "$OUTDIR/no/such/x.json" "$SCEN"
cp "$RAND" "$OUTDIR/keep.trace"
expect "--out the trace itself: exit 2, the trace kept" 2 'is the trace itself' \
	$M show --json --out "$OUTDIR/keep.trace" "$OUTDIR/keep.trace"
check "... intact" cmp -s "$RAND" "$OUTDIR/keep.trace"
expect "--help tells the options" 0 '--json .*Chrome trace-event' $M show --help
check "... and --width, --out, --all" grep -q -- '--width N' <<<"$OUT"
finish
