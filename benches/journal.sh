#!/usr/bin/env bash
# What the write-ahead journal costs: the same upload (limiter off,
# concurrency 32, simulator faults off) with the journal synced to disk, and
# with its syncs turned off (--no-journal-sync, a hidden option for this).
#   benches/journal.sh [rows] [rounds]
# Each round runs both, back to back, in alternating order, so a pair shares
# the machine's load of the moment; the figure is the median of the rounds'
# ratios (and, for reference, the ratio of the medians).
source "$(dirname "$0")/common.sh"
rows=${1:-20000}
rounds=${2:-3}
start_sim "$rows"
set_rows "$rows" "$WORK/in.csv"
run() { # run NAME [flags…] → prints rows/s
  local name=$1; shift
  local dir="$WORK/$name-$RANDOM"; mkdir -p "$dir"
  (cd "$dir" && "$TDRECON" run "$WORK/in.csv" --base-url "$SIM_URL" --rate 0 --concurrency 32 --quiet \
     --summary-json s.json "$@" >/dev/null)
  rows_per_sec "$dir/s.json"
}
synced=(); unsynced=(); ratios=()
for round in $(seq "$rounds"); do
  if (( round % 2 )); then
    u=$(run unsynced --no-journal-sync); s=$(run synced)
  else
    s=$(run synced); u=$(run unsynced --no-journal-sync)
  fi
  synced+=("$s"); unsynced+=("$u")
  ratios+=("$(python3 -c "print(f'{$s / $u:.2f}')")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
s=$(median "${synced[@]}"); u=$(median "${unsynced[@]}")
echo "rows=$rows rounds=$rounds"
echo "journal synced:   ${synced[*]} rows/s (median $s)"
echo "journal unsynced: ${unsynced[*]} rows/s (median $u)"
echo "round ratios:     ${ratios[*]}"
echo "synced / unsynced = $(median "${ratios[@]}") (median of rounds; ratio of medians $(python3 -c "print(f'{$s / $u:.2f}')"))"
