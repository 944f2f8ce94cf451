#!/usr/bin/env bash
# What the team's ledger on PostgreSQL costs (issue: a team's ledger on
# PostgreSQL): the same file of adds (limiter off, concurrency 32, faults
# off) through this machine's SQLite ledger, through a shared ledger on a
# PostgreSQL on loopback (as the audit log is read before each add, and
# vouching: --ledger-vouches), and, as the baseline without any ledger, a
# file that sets values with the state directory made unusable. Adds per
# second, client CPU (user+sys) per row, and requests per row.
#   benches/team_ledger.sh [rows] [rounds]
# The server is a throwaway one (.ci/postgres, Debian's postgresql-15) with
# its default durability (fsync on, synchronous_commit on). Each round runs
# the four back to back, on fresh calls, so they share the machine's load.
source "$(dirname "$0")/common.sh"
rows=${1:-20000}
rounds=${2:-3}
start_sim $((rows * 4 * rounds))
pg_dir=$(mktemp -d)   # its own: the server runs as postgres, which cannot enter $WORK
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bash .ci/postgres start "$pg_dir" "$pg_port"
trap 'bash .ci/postgres stop "$pg_dir" immediate >/dev/null 2>&1 || true; rm -rf "$pg_dir"; cleanup' EXIT
export PGPASSWORD; PGPASSWORD=$(cat "$pg_dir/password")
ledger="postgres://tdrecon@127.0.0.1:$pg_port/postgres"
echo x >"$WORK/not-a-dir"
# file KIND FIRST → a file of `rows` rows on calls from FIRST.
file() {
  python3 - "$1" "$2" "$rows" <<'PY'
import sys
kind, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print("call_id," + ("add_revenue" if kind == "adds" else "revenue"))
for i in range(n):
    print(f"{first + i},-{i % 50}.25" if kind == "adds" else f"{first + i},{i % 500}.{i % 100:02d}")
PY
}
# run NAME FILE STATE [flags…] → "rows/s µs-CPU-per-row requests-per-row"
run() {
  local name=$1 input=$2 state=$3; shift 3
  local dir="$WORK/$name-$RANDOM"; mkdir -p "$dir"
  [ "$state" = own ] && state="$dir/state"
  read -r user sys < <(cd "$dir" && TDRECON_STATE_DIR="$state" /usr/bin/time -f "%U %S" "$TDRECON" run "$input" \
    --base-url "$SIM_URL" --rate 0 --concurrency 32 --quiet --summary-json s.json "$@" 2>&1 >/dev/null | tail -1)
  python3 - "$dir/s.json" "$user" "$sys" "$rows" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); user, sys_, n = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
ok = s["statuses"].get("ok", 0)
assert ok == n, f"{ok} of {n} rows ok"
print(f'{n / (s["elapsed_ms"] / 1000):.0f} {(user + sys_) / n * 1e6:.1f} {s["requests"] / n:.2f}')
PY
}
declare -A rate cpu req
names=(none sqlite shared vouching)
next=100000001
for round in $(seq "$rounds"); do
  for name in "${names[@]}"; do
    case $name in
      none) file sets "$next" >"$WORK/in.csv"; out=$(run none "$WORK/in.csv" "$WORK/not-a-dir") ;;
      sqlite) file adds "$next" >"$WORK/in.csv"; out=$(run sqlite "$WORK/in.csv" own) ;;
      shared) file adds "$next" >"$WORK/in.csv"; out=$(run shared "$WORK/in.csv" own --ledger "$ledger") ;;
      vouching) file adds "$next" >"$WORK/in.csv"; out=$(run vouching "$WORK/in.csv" own --ledger "$ledger" --ledger-vouches) ;;
    esac
    next=$((next + rows))
    read -r r c q <<<"$out"
    rate[$name]+="$r "; cpu[$name]+="$c "; req[$name]+="$q "
    echo "round $round: $name: $r rows/s, $c µs CPU/row, $q requests/row" >&2
  done
done
median() { python3 -c 'import statistics, sys; print(f"{statistics.median(map(float, sys.argv[1:])):g}")' "$@"; }
echo "rows=$rows rounds=$rounds (medians; every round's figures above)"
for name in "${names[@]}"; do
  # shellcheck disable=SC2086
  echo "$name: $(median ${rate[$name]}) rows/s, $(median ${cpu[$name]}) µs CPU/row, $(median ${req[$name]}) requests/row"
done
