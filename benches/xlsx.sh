#!/usr/bin/env bash
# A buyer report as a workbook through `validate`: peak memory and time of
# the .xlsx against the same rows as CSV, with this build and, optionally, a
# baseline binary (another build, e.g. an earlier commit's) in the same run.
#   benches/xlsx.sh [ROWS] [BASELINE_BINARY]
# ROWS defaults to 1000000. The rows are benches/gen.py's (ids, 15% UUIDs,
# money, flags, notes; UUID_SHARE=0.05 for fewer UUIDs); benches/xlsx.py writes them
# as Excel stores them (text in the shared strings).
source "$(dirname "$0")/common.sh"
ROWS=${1:-1000000}
BASELINE=${2:-}
python3 benches/gen.py "$ROWS" "$WORK/in.csv" --uuid-share "${UUID_SHARE:-0.15}"
python3 benches/xlsx.py "$WORK/in.csv" "$WORK/in.xlsx"
# measure BIN FILE: prints "seconds peak-KiB"
measure() {
  (cd "$WORK" && /usr/bin/time -f "%e %M" "$1" validate "$2" --errors /dev/null 2>&1 >/dev/null | tail -1)
}
printf 'rows: %s; in.csv %s MiB, in.xlsx %s MiB\n\n' "$ROWS" "$(( $(stat -c %s "$WORK/in.csv") >> 20 ))" "$(( $(stat -c %s "$WORK/in.xlsx") >> 20 ))"
printf '| build | input | seconds | peak RSS |\n|---|---|---|---|\n'
for build in this ${BASELINE:+baseline}; do
  bin=$TDRECON
  [ "$build" = baseline ] && bin=$BASELINE
  for file in in.csv in.xlsx; do
    read -r secs kib < <(measure "$bin" "$file")
    printf '| %s | %s | %s s | %s MiB |\n' "$build" "$file" "$secs" "$((kib / 1024))"
  done
done
