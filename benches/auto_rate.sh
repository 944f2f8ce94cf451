#!/usr/bin/env bash
# `--rate auto` against a simulator with a limit the job is not told (a first
# run, then a second against the same server, starting from the limit the
# first remembered), beside the best a user who knows the limit can do
# (`--rate` = the limit) and no limiter at all (`--rate 0`), in the same run.
# Loopback only.
# Usage: benches/auto_rate.sh [ROWS] [LIMITS...]   (default: 3000 rows; limits 20 100 300)
source "$(dirname "$0")/common.sh"
ROWS=${1:-3000}; shift || true
LIMITS=${*:-20 100 300}
set_rows "$ROWS" "$WORK/in.csv"

printf '| limit | mode | wall time | vs ideal (rows/limit) | 429s | of requests | rate reached | exit |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for limit in $LIMITS; do
  for mode in auto remembered "$limit" 0; do
    # The remembered run goes to the server the first auto run found the limit of.
    if [ "$mode" != remembered ]; then
      start_sim "$ROWS" --rate-limit "$limit"
      rm -rf "$WORK/state"
    fi
    rm -f "$WORK"/in.results.* "$WORK/s.json"
    # --max-rate well above every limit: the limit is what it must find.
    rate=$mode extra=(); [ "$mode" = remembered ] && rate=auto
    [ "$rate" = auto ] && extra=(--max-rate 1000)
    (cd "$WORK" && TDRECON_STATE_DIR="$WORK/state" "$TDRECON" run in.csv --base-url "$SIM_URL" --rate "$rate" "${extra[@]}" --quiet --summary-json s.json >/dev/null 2>&1) && code=0 || code=$?
    if [ "$mode" != auto ]; then kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=; fi
    python3 - "$WORK/s.json" "$limit" "$mode" "$ROWS" "$code" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); limit, mode, rows, code = int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
secs = s["elapsed_ms"] / 1000; ideal = rows / limit
label = {"auto": "--rate auto (first run)", "remembered": "--rate auto (next run)", "0": "--rate 0"}.get(mode, f"--rate {mode} (the limit)")
share = s["throttled"] / max(s["requests"], 1)
reached = s.get("rate_reached")
print(f"| {limit} | {label} | {secs:.1f} s | {secs / ideal:.2f} | {s['throttled']} | {share:.1%} | {'' if reached is None else round(reached)} | {code} |", flush=True)
PY
  done
done
