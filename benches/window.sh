#!/usr/bin/env bash
# Requests a night costs: with --reconcile, a GET per row against window
# reads in pages, on the same 2,000-row file (one day of calls, half already
# at the file's values); then a file of adds (a chargeback on every call),
# whose rows each read their call's audit log before they are written.
# Loopback only. Usage: benches/window.sh [CALLS]
source "$(dirname "$0")/common.sh"
CALLS=${1:-2000}
printf '| file | reads | requests | per row | PUTs | pages or GETs | events reads | logs checked (summary) |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for mode in per-row window adds; do
  start_sim "$CALLS"
  curl -s "$SIM_URL/__sim/state" > "$WORK/state.json"
  python3 - "$WORK/state.json" "$WORK/in.csv" "$mode" <<'PY'
import json, sys
calls = sorted(json.load(open(sys.argv[1]))["calls"], key=lambda c: c["id"])
mode = sys.argv[3]
with open(sys.argv[2], "w") as f:
    if mode == "adds":
        f.write("call_id,add_revenue\n")
        for i, c in enumerate(calls):
            f.write(f"{c['id']},-{i % 50 + 1}.25\n")
    elif mode == "window":
        f.write("call_id,call_time,revenue\n")
        for i, c in enumerate(calls):
            f.write(f"{c['id']},{c['created_at']},{'0.00' if i % 2 == 0 else '5.00'}\n")
    else:
        f.write("call_id,revenue\n")
        for i, c in enumerate(calls):
            f.write(f"{c['id']},{'0.00' if i % 2 == 0 else '5.00'}\n")
PY
  rm -f "$WORK"/in.results.* "$WORK"/s.json
  flags=(--reconcile)
  [ "$mode" = adds ] && flags=()
  (cd "$WORK" && TDRECON_STATE_DIR="$WORK/state-$mode" "$TDRECON" run in.csv --base-url "$SIM_URL" --rate 0 \
     "${flags[@]}" --quiet --summary-json s.json >/dev/null 2>&1) || true
  curl -s "$SIM_URL/__sim/state" > "$WORK/after.json"
  kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=
  python3 - "$WORK/s.json" "$WORK/after.json" "$CALLS" "$mode" <<'PY'
import json, sys
s, state = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
rows, mode = int(sys.argv[3]), sys.argv[4]
requests, events = state["stats"]["requests"], state["stats"]["event_reads"]
puts = s["statuses"]["ok"]
reads = {"per-row": "a GET per row", "window": "window, pages of 100", "adds": "none (no --reconcile)"}[mode]
file = "adds" if mode == "adds" else "sets"
other = requests - puts - events - 1
print(f"| {file} | {reads} | {requests} | {requests / rows:.2f} | {puts} | {other} | {events} | {s['never_twice']['log_checks']} |")
PY
done
