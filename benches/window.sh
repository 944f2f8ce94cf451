#!/usr/bin/env bash
# Requests a night costs with --reconcile: a GET per row, against window
# reads in pages, on the same 2,000-row file (one day of calls, half already
# at the file's values). Loopback only. Usage: benches/window.sh [CALLS]
source "$(dirname "$0")/common.sh"
CALLS=${1:-2000}
printf '| reads | requests | per row | PUTs | pages or GETs |\n|---|---|---|---|---|\n'
for mode in per-row window; do
  start_sim "$CALLS"
  curl -s "$SIM_URL/__sim/state" > "$WORK/state.json"
  python3 - "$WORK/state.json" "$WORK/in.csv" "$mode" <<'PY'
import json, sys
calls = sorted(json.load(open(sys.argv[1]))["calls"], key=lambda c: c["id"])
with_times = sys.argv[3] == "window"
with open(sys.argv[2], "w") as f:
    f.write("call_id,call_time,revenue\n" if with_times else "call_id,revenue\n")
    for i, c in enumerate(calls):
        revenue = "0.00" if i % 2 == 0 else "5.00"
        f.write(f"{c['id']},{c['created_at']},{revenue}\n" if with_times else f"{c['id']},{revenue}\n")
PY
  rm -f "$WORK"/in.results.*
  (cd "$WORK" && "$TDRECON" run in.csv --base-url "$SIM_URL" --rate 0 --reconcile --quiet --summary-json s.json >/dev/null 2>&1) || true
  requests=$(curl -s "$SIM_URL/__sim/state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["requests"])')
  kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=
  python3 - "$WORK/s.json" "$requests" "$CALLS" "$mode" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); requests, rows, mode = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
puts = s["statuses"]["ok"]
print(f"| {mode} | {requests} | {requests / rows:.2f} | {puts} | {requests - puts - 1} |")
PY
done
