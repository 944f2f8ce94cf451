#!/usr/bin/env bash
# Simulator throughput: small PUT updates at concurrency 32, measured with wrk
# (Debian package `wrk`). Prints wrk's report. Loopback only.
#   benches/sim.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
out=$(mktemp)
./target/release/tdrecon sim --calls 10000 >"$out" 2>/dev/null &
sim=$!
trap 'kill $sim 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
url=$(head -1 "$out")
wrk -t2 -c32 -d"${secs}s" -s benches/put.lua "$url"
