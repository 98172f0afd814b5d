#!/usr/bin/env python3
# Checks a file in the Chrome trace-event format (JSON object form) as
# `migrace show --json` writes it: the fields the format requires of every
# event and of each phase used, one track per thread, no overlapping slices.
# usage: check_trace_json.py FILE [--steps N] [--threads N] [--instants N]
# Prints "ok: ..." and exits 0, or prints every problem and exits 1.
import json
import sys

PHASES = {"X", "i", "I", "M", "B", "E", "C"}
METADATA = {"process_name", "process_labels", "process_sort_index", "thread_name", "thread_sort_index"}


def check_event(n, e, problems):
    where = "event %d" % n
    if not isinstance(e, dict):
        problems.append("%s: not an object" % where)
        return
    for field, kind in (("name", str), ("ph", str), ("pid", int), ("tid", int)):
        if field not in e:
            problems.append("%s: no %s" % (where, field))
        elif not isinstance(e[field], kind) or isinstance(e[field], bool):
            problems.append("%s: %s is not a %s" % (where, field, kind.__name__))
    ts = e.get("ts")
    if not isinstance(ts, (int, float)) or isinstance(ts, bool) or ts < 0:
        problems.append("%s: ts missing or not a non-negative number" % where)
    ph = e.get("ph")
    if ph not in PHASES:
        problems.append("%s: unknown phase %r" % (where, ph))
    if ph == "X":
        dur = e.get("dur")
        if not isinstance(dur, (int, float)) or isinstance(dur, bool) or dur < 0:
            problems.append("%s: a complete event (X) needs dur >= 0" % where)
    if ph in ("i", "I") and e.get("s") not in ("g", "p", "t"):
        problems.append("%s: an instant event needs s (scope) g, p or t, found %r" % (where, e.get("s")))
    if ph == "M":
        if e.get("name") not in METADATA:
            problems.append("%s: unknown metadata event %r" % (where, e.get("name")))
        if not isinstance(e.get("args"), dict):
            problems.append("%s: a metadata event needs args" % where)
    if "args" in e and not isinstance(e["args"], dict):
        problems.append("%s: args is not an object" % where)


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__ or "usage: check_trace_json.py FILE [--steps N] [--threads N] [--instants N]")
        return 2
    path, want = args[0], {}
    for i in range(1, len(args) - 1, 2):
        want[args[i].lstrip("-")] = int(args[i + 1])
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as err:
        print("%s: not JSON: %s" % (path, err))
        return 1
    problems = []
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        print("%s: not an object with a traceEvents array" % path)
        return 1
    if doc.get("displayTimeUnit") not in ("ms", "ns"):
        problems.append("displayTimeUnit is %r, not ms or ns" % doc.get("displayTimeUnit"))
    events = doc["traceEvents"]
    for n, e in enumerate(events):
        check_event(n, e, problems)
    if problems:
        print("\n".join(problems[:40]))
        return 1
    named = {e["tid"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    slices = [e for e in events if e["ph"] == "X"]
    instants = [e for e in events if e["ph"] in ("i", "I")]
    for e in slices + instants:
        if e["tid"] not in named:
            problems.append("%s at ts %s: its tid %d has no thread_name" % (e["name"], e["ts"], e["tid"]))
    end = {}
    for e in sorted(slices, key=lambda e: (e["tid"], e["ts"])):
        if e["ts"] < end.get(e["tid"], 0):
            problems.append("slice %s at ts %s overlaps the one before it on tid %d" % (e["name"], e["ts"], e["tid"]))
        end[e["tid"]] = e["ts"] + e["dur"]
    got = {"steps": len(slices), "threads": len(named), "instants": len(instants)}
    for k, v in want.items():
        if got.get(k) != v:
            problems.append("%s: expected %d, found %s" % (k, v, got.get(k)))
    if problems:
        print("\n".join(problems[:40]))
        return 1
    print("ok: %d events, %d slices, %d instants, %d threads" % (len(events), len(slices), len(instants), len(named)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
