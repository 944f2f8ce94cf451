#!/usr/bin/env bash
# Every benchmark of BENCHMARKS.md in one run, printed as one table:
#   benches/run.sh [--quick]
# Generates the inputs, starts the simulator (loopback only), runs each
# comparison against its baseline measured in this same run. Needs wrk
# (apt-get install wrk) and aiohttp (pip install aiohttp). --quick uses
# smaller inputs and shorter runs (for checking the script, not for figures).
source "$(dirname "$0")/common.sh"
quick=${1:-}
if [ "$quick" = --quick ]; then M1=100000 M5=500000 UP=5000 RATE_SECS=5; else M1=1000000 M5=5000000 UP=50000 RATE_SECS=30; fi
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 1; }
python3 -c 'import aiohttp' 2>/dev/null || { echo "needs aiohttp: pip install aiohttp" >&2; exit 1; }
cargo build --release --quiet --bench csv_baseline 2>/dev/null || true
BASELINE=$(ls -t target/release/deps/csv_baseline-* 2>/dev/null | grep -v '\.d$' | head -1)
rows=()
row() { rows+=("$(printf '| %s | %s | %s | %s |' "$1" "$2" "$3" "$4")"); }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

echo "== generating inputs" >&2
python3 benches/gen.py "$M1" "$WORK/m1.csv"
python3 benches/gen.py "$M5" "$WORK/m5.csv"

echo "== 1. validation" >&2
secs() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
read -r v1 rss1 < <(cd "$WORK" && secs "$TDRECON" validate m1.csv --errors /dev/null)
read -r v5 rss5 < <(cd "$WORK" && secs "$TDRECON" validate m5.csv --errors /dev/null)
base=$("$BASELINE" "$WORK/m1.csv" | awk '{print $6}')
py=$(python3 benches/csv_python.py "$WORK/m1.csv" | awk '{print $3}')
row "validate $M1 rows vs bare csv ByteRecord loop (speed ratio)" "$v1 s vs $base s" "$(ratio "$base" "$v1")" ">= 0.50"
row "validate vs Python csv module, parse only (speed ratio)" "$v1 s vs $py s" "$(ratio "$py" "$v1")" ">= 5"
row "validate peak RSS, $M1 rows" "$((rss1 / 1024)) MiB" "" "<= 64 MiB"
row "validate peak RSS, $M5 rows vs $M1 rows" "$((rss5 / 1024)) MiB vs $((rss1 / 1024)) MiB" "$(ratio "$rss5" "$rss1")" "<= 1.5"

echo "== 2. upload vs wrk" >&2
start_sim "$UP"
wrk_rps=$(wrk -t2 -c32 -d10s -s benches/put.lua "$SIM_URL" | awk '/Requests\/sec/ {print $2}')
set_rows "$UP" "$WORK/up.csv"
mkdir -p "$WORK/up" && cd "$WORK/up"
read -r user sys < <(/usr/bin/time -f "%U %S" "$TDRECON" run ../up.csv --base-url "$SIM_URL" --rate 0 --concurrency 32 --quiet --summary-json s.json 2>&1 >/dev/null | tail -1)
cd - >/dev/null
td_rps=$(rows_per_sec "$WORK/up/s.json")
td_cpu=$(python3 -c "print(f'{($user + $sys) / $UP * 1e6:.0f}')")
row "upload rows/s, limiter off, c=32, vs wrk same PUT" "$td_rps vs $wrk_rps" "$(ratio "$td_rps" "$wrk_rps")" ">= 0.60"
row "upload CPU per row (user+sys)" "$td_cpu µs" "" "<= 50 µs"

echo "== 4. vs Python asyncio + aiohttp" >&2
mkdir -p "$WORK/py" && cd "$WORK/py"
read -r _ _ _ _ py_rps _ py_cpu _ < <(python3 /work/main/benches/upload_aiohttp.py ../up.csv "$SIM_URL" 32 2>/dev/null)
cd - >/dev/null
row "upload throughput vs aiohttp script" "$td_rps vs $py_rps rows/s" "$(ratio "$td_rps" "$py_rps")" ">= 3"
row "upload CPU per row vs aiohttp script" "$td_cpu vs $py_cpu µs" "$(ratio "$td_cpu" "$py_cpu")" "<= 0.10"
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
