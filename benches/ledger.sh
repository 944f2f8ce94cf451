#!/usr/bin/env bash
# What the ledger costs: the same upload (limiter off, concurrency 32,
# simulator faults off) with the account's ledger, and without it (the
# baseline: the state directory made unusable, which a file that only sets
# values runs without, with a warning); and a file of adds, which always
# checks the ledger for repeats, with it. Client CPU (user+sys) per row and
# the requests each run made.
#   benches/ledger.sh [rows] [rounds]
# Each round runs the three back to back, so they share the machine's load
# of the moment; the figures are medians, the ratios medians of the rounds'.
source "$(dirname "$0")/common.sh"
rows=${1:-20000}
rounds=${2:-3}
start_sim "$rows"
set_rows "$rows" "$WORK/sets.csv"
add_rows "$rows" "$WORK/adds.csv"
echo x >"$WORK/not-a-dir"
# run NAME FILE STATE → "µs-CPU-per-row requests"
run() {
  local name=$1 file=$2 state=$3
  local dir="$WORK/$name-$RANDOM"; mkdir -p "$dir"
  [ "$state" = own ] && state="$dir/state"
  read -r user sys < <(cd "$dir" && TDRECON_STATE_DIR="$state" /usr/bin/time -f "%U %S" "$TDRECON" run "$file" \
    --base-url "$SIM_URL" --rate 0 --concurrency 32 --quiet --summary-json s.json 2>&1 >/dev/null | tail -1)
  local requests; requests=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$dir/s.json")
  python3 -c "print(f'{($user + $sys) / $rows * 1e6:.1f}', $requests)"
}
with=(); without=(); adds=(); r_with=(); r_without=(); r_adds=()
for round in $(seq "$rounds"); do
  # Alternate which goes first, so neither always meets a warmer machine.
  if (( round % 2 )); then
    read -r b rb < <(run without "$WORK/sets.csv" "$WORK/not-a-dir")
    read -r w rw < <(run with "$WORK/sets.csv" own)
  else
    read -r w rw < <(run with "$WORK/sets.csv" own)
    read -r b rb < <(run without "$WORK/sets.csv" "$WORK/not-a-dir")
  fi
  read -r a ra < <(run adds "$WORK/adds.csv" own)
  echo "round $round: sets without ledger $b µs/row ($rb requests), with $w µs/row ($rw), adds with $a µs/row ($ra)" >&2
  without+=("$b"); with+=("$w"); adds+=("$a"); r_with+=("$rw"); r_without+=("$rb"); r_adds+=("$ra")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratios() { python3 -c 'import sys, statistics; a, b = (list(map(float, x.split())) for x in sys.argv[1:]); print(f"{statistics.median(x / y for x, y in zip(a, b)):.2f}")' "$1" "$2"; }
echo "rows=$rows rounds=$rounds"
echo "sets without ledger: ${without[*]} µs CPU/row (median $(median "${without[@]}")); requests ${r_without[*]}"
echo "sets with ledger:    ${with[*]} µs CPU/row (median $(median "${with[@]}")); requests ${r_with[*]}"
echo "adds with ledger:    ${adds[*]} µs CPU/row (median $(median "${adds[@]}")); requests ${r_adds[*]}"
echo "sets with / without ledger = $(ratios "${with[*]}" "${without[*]}") (median of rounds)"
echo "adds with ledger / sets without = $(ratios "${adds[*]}" "${without[*]}") (median of rounds)"
