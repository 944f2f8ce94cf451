#!/usr/bin/env bash
# A run of many rows with results written to a file, which is put back in
# the input's order at the end: peak memory and time, against a baseline
# binary (another build, e.g. an earlier commit's) on the same file in the
# same session. Loopback only.
#   benches/order.sh [ROWS] [BASELINE_BINARY]
# ROWS defaults to 1000000; without a baseline, only this build is measured.
source "$(dirname "$0")/common.sh"
ROWS=${1:-1000000}
BASELINE=${2:-}
set_rows "$ROWS" "$WORK/in.csv"
start_sim "$ROWS" --max-per-page 1000
# run BIN NAME: prints "NAME seconds peak-KiB rows-in-order"
run() {
  rm -f "$WORK"/in.results.* "$WORK/state"/* 2>/dev/null || true
  local out
  out=$(cd "$WORK" && TDRECON_STATE_DIR="$WORK/state" /usr/bin/time -f "%e %M" "$1" run in.csv --base-url "$SIM_URL" \
    --rate 0 --concurrency 32 --quiet --restart --results in.results.csv 2>&1 >/dev/null | tail -1)
  local ordered
  ordered=$(python3 -c '
import csv, sys
last, n, ok = 0, 0, True
with open(sys.argv[1], newline="") as f:
    for row in csv.DictReader(f):
        line = int(row["line"]); ok &= line > last; last = line; n += 1
print(n, "yes" if ok else "no")' "$WORK/in.results.csv")
  echo "$2 $out $ordered"
}
printf '| build | rows | seconds | peak RSS | results rows | in input order |\n|---|---|---|---|---|---|\n'
for build in this ${BASELINE:+baseline}; do
  bin=$TDRECON
  [ "$build" = baseline ] && bin=$BASELINE
  read -r name secs kib n ordered < <(run "$bin" "$build")
  printf '| %s | %s | %s s | %s MiB | %s | %s |\n' "$name" "$ROWS" "$secs" "$((kib / 1024))" "$n" "$ordered"
done
