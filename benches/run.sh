#!/usr/bin/env bash
# Every benchmark of BENCHMARKS.md in one run, printed as one table:
#   benches/run.sh [--quick]
# Generates the inputs, starts the simulator (loopback only), runs each
# comparison against its baseline measured in this same run. Needs wrk
# (apt-get install wrk) and aiohttp (pip install aiohttp). --quick uses
# smaller inputs and shorter runs (for checking the script, not for figures).
# Each comparison runs in ROUNDS rounds (default 3), tdrecon and its baseline
# back to back in each, so a pair shares the machine's load of the moment;
# the table shows medians, and the ratio is the median of the rounds' ratios.
source "$(dirname "$0")/common.sh"
quick=${1:-}
if [ "$quick" = --quick ]; then M1=100000 M5=500000 UP=5000 RATE_SECS=5 WRK_SECS=3; else M1=1000000 M5=5000000 UP=50000 RATE_SECS=30 WRK_SECS=8; fi
ROUNDS=${ROUNDS:-3}
BENCHES=$PWD/benches
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 1; }
python3 -c 'import aiohttp' 2>/dev/null || { echo "needs aiohttp: pip install aiohttp" >&2; exit 1; }
cargo build --release --quiet --bench csv_baseline 2>/dev/null || true
BASELINE=$(ls -t target/release/deps/csv_baseline-* 2>/dev/null | grep -v '\.d$' | head -1)
rows=()
row() { rows+=("$(printf '| %s | %s | %s | %s |' "$1" "$2" "$3" "$4")"); }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
# median A B C…: the median of the numbers given.
median() { python3 -c 'import statistics, sys; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.6g}")' "$@"; }
# median_ratio "A1 A2…" "B1 B2…": the median of A_i / B_i.
median_ratio() {
  python3 -c 'import statistics, sys; a, b = (list(map(float, x.split())) for x in sys.argv[1:]); print(f"{statistics.median(x / y for x, y in zip(a, b)):.2f}")' "$1" "$2"
}
# spread "A1 A2…": min–max, to show how much the rounds moved.
spread() { python3 -c 'import sys; v = list(map(float, sys.argv[1].split())); print(f"{min(v):g}–{max(v):g}")' "$1"; }

echo "== generating inputs" >&2
python3 benches/gen.py "$M1" "$WORK/m1.csv"
python3 benches/gen.py "$M5" "$WORK/m5.csv"

echo "== 1. validation ($ROUNDS rounds)" >&2
secs() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
v1s="" bases="" pys="" rss1=0
for _ in $(seq "$ROUNDS"); do
  b=$("$BASELINE" "$WORK/m1.csv" | awk '{print $6}')
  read -r v rss < <(cd "$WORK" && secs "$TDRECON" validate m1.csv --errors /dev/null)
  p=$(python3 benches/csv_python.py "$WORK/m1.csv" | awk '{print $3}')
  bases+=" $b" v1s+=" $v" pys+=" $p"
  [ "$rss" -gt "$rss1" ] && rss1=$rss
done
read -r v5 rss5 < <(cd "$WORK" && secs "$TDRECON" validate m5.csv --errors /dev/null)
row "validate $M1 rows vs bare csv ByteRecord loop (speed ratio)" "$(median $v1s) s vs $(median $bases) s (validate $(spread "$v1s") s)" "$(median_ratio "$bases" "$v1s")" ">= 0.50"
row "validate vs Python csv module, parse only (speed ratio)" "$(median $v1s) s vs $(median $pys) s" "$(median_ratio "$pys" "$v1s")" ">= 5"
row "validate peak RSS, $M1 rows (most of $ROUNDS runs)" "$((rss1 / 1024)) MiB" "" "<= 64 MiB"
row "validate peak RSS, $M5 rows vs $M1 rows" "$((rss5 / 1024)) MiB vs $((rss1 / 1024)) MiB" "$(ratio "$rss5" "$rss1")" "<= 1.5"

echo "== 2 and 4. upload vs wrk and vs Python asyncio + aiohttp ($ROUNDS rounds)" >&2
start_sim "$UP"
set_rows "$UP" "$WORK/up.csv"
wrks="" tds="" cpus="" pyr="" pyc=""
for r in $(seq "$ROUNDS"); do
  w=$(wrk -t2 -c32 -d"${WRK_SECS}s" -s benches/put.lua "$SIM_URL" | awk '/Requests\/sec/ {print $2}')
  rm -rf "$WORK/up" && mkdir -p "$WORK/up" && cd "$WORK/up"
  read -r user sys < <(/usr/bin/time -f "%U %S" "$TDRECON" run ../up.csv --base-url "$SIM_URL" --rate 0 --concurrency 32 --quiet --summary-json s.json 2>&1 >/dev/null | tail -1)
  cd - >/dev/null
  t=$(rows_per_sec "$WORK/up/s.json")
  c=$(python3 -c "print(f'{($user + $sys) / $UP * 1e6:.0f}')")
  rm -rf "$WORK/py" && mkdir -p "$WORK/py" && cd "$WORK/py"
  read -r _ _ _ _ pr _ pc _ < <(python3 "$BENCHES/upload_aiohttp.py" ../up.csv "$SIM_URL" 32 2>/dev/null)
  cd - >/dev/null
  echo "   round $r: wrk $w/s, tdrecon $t rows/s at $c µs CPU a row, aiohttp $pr rows/s at $pc µs" >&2
  wrks+=" $w" tds+=" $t" cpus+=" $c" pyr+=" $pr" pyc+=" $pc"
done
row "upload rows/s, limiter off, c=32, vs wrk same PUT" "$(median $tds) vs $(median $wrks) (tdrecon $(spread "$tds"))" "$(median_ratio "$tds" "$wrks")" ">= 0.60"
row "upload CPU per row (user+sys)" "$(median $cpus) µs ($(spread "$cpus"))" "" "<= 50 µs"
row "upload throughput vs aiohttp script" "$(median $tds) vs $(median $pyr) rows/s" "$(median_ratio "$tds" "$pyr")" ">= 3"
row "upload CPU per row vs aiohttp script" "$(median $cpus) vs $(median $pyc) µs" "$(median_ratio "$cpus" "$pyc")" "<= 0.10"
kill "$SIM_PID"; SIM_PID=

echo "== 3. rate fidelity" >&2
n=$((200 * RATE_SECS))
start_sim "$n"
set_rows "$n" "$WORK/rate.csv"
mkdir -p "$WORK/rate" && cd "$WORK/rate"
"$TDRECON" run ../rate.csv --base-url "$SIM_URL" --rate 200 --concurrency 32 --quiet >/dev/null
cd - >/dev/null
read -r achieved worst < <(curl -s "$SIM_URL/__sim/state" | python3 -c '
import json, sys
t = json.load(sys.stdin)["requests_per_100ms"]
first = next(i for i, v in enumerate(t) if v)
last = max(i for i, v in enumerate(t) if v)
span = (last - first + 1) / 10
print(f"{sum(t) / span:.1f}", max(sum(t[i:i + 10]) for i in range(len(t))))')
row "rate: --rate 200 (burst 40) for ${RATE_SECS} s, achieved" "$achieved /s" "$(ratio "$achieved" 200)" "0.99 – 1.01"
row "rate: most requests in any 1 s window (simulator's clock)" "$worst" "" "<= 240"

echo
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%F)"
echo
echo "| measure | figures | ratio | target |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
