#!/usr/bin/env bash
# Simulator throughput: small PUT updates at concurrency 32, measured with wrk
# (Debian package `wrk`). Prints wrk's report. Loopback only.
#   benches/sim.sh [seconds]
source "$(dirname "$0")/common.sh"
secs=${1:-10}
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
start_sim 10000
wrk -t2 -c32 -d"${secs}s" -s benches/put.lua "$SIM_URL"
