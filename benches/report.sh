#!/usr/bin/env bash
# The sign-off page (--report) and the discrepancies on a night of many calls
# in the window (default 100,000, ten buyers, 70% converted), against a report
# of 63,000 rows that leaves 10% of the converted calls out, pays 2,000 calls of
# other buyers and 3,000 at other amounts, so every table of the page is cut
# at 1,000 rows. Each round runs `plan --discrepancies-only` without and with
# --report on the same file; the page's own time and size come from the
# summary JSON (`page`), peak memory from /usr/bin/time. Loopback only.
# Usage: benches/report.sh [CALLS] [ROUNDS]
source "$(dirname "$0")/common.sh"
CALLS=${1:-100000}
ROUNDS=${2:-3}
python3 - "$CALLS" "$WORK/calls.csv" "$WORK/report.csv" <<'PY'
import random, sys
n, calls_path, report_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rng = random.Random(7)
start = 1764201600  # 2026-11-27 00:00:00 UTC
calls = []
with open(calls_path, "w") as f:
    f.write("id,created_at,caller_number,buyer_id,buyer_converted,revenue\n")
    for i in range(n):
        at = start + i * 86399 // n
        buyer = 7 + i % 10
        converted = rng.random() < 0.7
        revenue = f"{rng.randint(20, 60)}.00" if converted else "0.00"
        t = f"2026-11-27T{at % 86400 // 3600:02d}:{at % 3600 // 60:02d}:{at % 60:02d}Z"
        f.write(f"{500000000 + i},{t},+1303{i:07d},{buyer},{'true' if converted else 'false'},{revenue}\n")
        calls.append((500000000 + i, t, buyer, converted, revenue))
converted = [c for c in calls if c[3]]
rng.shuffle(converted)
named = converted[: len(converted) * 9 // 10]
with open(report_path, "w") as f:
    f.write("Call ID,Call Time,Buyer,Revenue\n")
    for k, (id_, t, buyer, _, revenue) in enumerate(sorted(named)[:63000]):
        label = f"B-{buyer}"
        if k < 2000:
            label = f"B-{7 + (buyer - 7 + 1) % 10}"  # another buyer's call
        elif k < 5000:
            revenue = f"{float(revenue) + 5:.2f}"  # paid at another amount
        f.write(f"{id_},{t.replace('T', ' ').rstrip('Z')},{label},{revenue}\n")
PY
"$TDRECON" sim --calls-file "$WORK/calls.csv" --max-per-page 1000 >"$WORK/sim.out" 2>/dev/null &
SIM_PID=$!
for _ in $(seq 600); do [ -s "$WORK/sim.out" ] && break; sleep 0.1; done
SIM_URL=$(head -1 "$WORK/sim.out")
rows=$(($(wc -l < "$WORK/report.csv") - 1))
echo "night: $CALLS calls in the window, a report of $rows rows, $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  for mode in without with; do
    extra=()
    [ "$mode" = with ] && extra=(--report "$WORK/night.html")
    start=$(date +%s.%N)
    (cd "$WORK" && /usr/bin/time -f '%M' -o "$WORK/rss" "$TDRECON" plan report.csv --base-url "$SIM_URL" --rate 0 \
      --page-size 1000 --discrepancies-only --quiet --summary-json "$WORK/s.json" "${extra[@]}" >/dev/null 2>&1)
    end=$(date +%s.%N)
    python3 - "$WORK/s.json" "$mode" "$start" "$end" "$(cat "$WORK/rss")" >> "$WORK/rounds" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
page = s.get("page") or {}
found = s["discrepancies"]["total"]
print(sys.argv[2], float(sys.argv[4]) - float(sys.argv[3]), page.get("ms", 0), page.get("bytes", 0), int(sys.argv[5]),
      found["left_out"]["calls"], found["not_theirs"]["calls"], found["amount_differs"]["calls"])
PY
  done
done
python3 - "$WORK/rounds" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(mode, i):
    return statistics.median(float(r[i]) for r in rows if r[0] == mode)
w, wo = med("with", 1), med("without", 1)
last = [r for r in rows if r[0] == "with"][-1]
print(f"findings: {last[5]} left out, {last[6]} not theirs, {last[7]} amounts that differ")
print("| | median of rounds |")
print("|---|---|")
print(f"| plan --discrepancies-only, whole run | {wo:.2f} s |")
print(f"| the same with --report | {w:.2f} s ({w / wo:.3f}x) |")
print(f"| the page: building and writing it | {med('with', 2):.0f} ms |")
print(f"| the page's size | {med('with', 3) / 1048576:.2f} MiB |")
print(f"| peak memory, without / with the page | {med('without', 4) / 1024:.0f} / {med('with', 4) / 1024:.0f} MiB |")
PY
