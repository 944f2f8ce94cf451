# Shared by the bench scripts: build, start a simulator, make input files.
# Loopback only. Source it; it sets $TDRECON, $SIM_URL and $WORK.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet
TDRECON=$PWD/target/release/tdrecon
WORK=$(mktemp -d)
SIM_PID=

cleanup() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_sim CALLS [sim flags…]: starts `tdrecon sim` and sets SIM_URL.
start_sim() {
  local calls=$1; shift
  "$TDRECON" sim --calls "$calls" "$@" >"$WORK/sim.out" 2>/dev/null &
  SIM_PID=$!
  for _ in $(seq 1200); do [ -s "$WORK/sim.out" ] && break; sleep 0.05; done
  SIM_URL=$(head -1 "$WORK/sim.out")
}

# set_rows N FILE: N rows setting revenue on calls 100000001… (safe to resend).
set_rows() {
  python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("call_id,revenue,buyer_converted\n")
    for i in range(n):
        f.write(f"{100000001 + i},{i % 500}.{i % 100:02d},yes\n")
PY
}

# add_rows N FILE: N rows adding an amount to calls 100000001… (never safe to resend).
add_rows() {
  python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("call_id,add_revenue,buyer_converted\n")
    for i in range(n):
        f.write(f"{100000001 + i},-{i % 50}.25,yes\n")
PY
}

# rows_per_sec SUMMARY_JSON: rows finished per second of the run.
rows_per_sec() {
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); n=sum(s["statuses"].values()); print(round(n / (s["elapsed_ms"] / 1000)))' "$1"
}

export TRACKDRIVE_PUBLIC_KEY=bench TRACKDRIVE_PRIVATE_KEY=bench
