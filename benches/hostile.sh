#!/usr/bin/env bash
# Peak resident memory (RSS) of validate and run on hostile input and a
# hostile server, beside the same commands on an ordinary file in the same
# run (the baseline). Loopback only. Usage: benches/hostile.sh
source "$(dirname "$0")/common.sh"

rss() { /usr/bin/time -f %M "$@" >/dev/null 2>"$WORK/time.err" || true; tail -1 "$WORK/time.err"; }

set_rows 1000 "$WORK/plain.csv"
truncate -s 5G "$WORK/zeros.csv"
python3 - "$WORK" <<'PY'
import sys
work = sys.argv[1]
with open(f"{work}/cell.csv", "w") as f:
    f.write("call_id,agent_call_disposition_notes\n")
    f.write('100000001,"' + "n" * (200 << 20) + '"\n')
    for i in range(2, 1000):
        f.write(f"{100000000 + i},ok\n")
with open(f"{work}/commas.csv", "w") as f:
    f.write("call_id,revenue\n100000001," + "," * 50_000_000 + "\n100000002,1\n")
with open(f"{work}/flood.csv", "w") as f:
    f.write("call_id,revenue\n" + "".join(f"{i},1\n" for i in range(1, 9)))
PY

# A server that answers every update 200 with a 1 GiB body.
python3 - >"$WORK/flood.url" <<'PY' &
import socket, threading
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(64)
print(f"http://127.0.0.1:{srv.getsockname()[1]}", flush=True)
def serve(c):
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            data += c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (1 << 30))
        chunk = b"a" * 65536
        for _ in range((1 << 30) // 65536):
            c.sendall(chunk)
    except OSError:
        pass
    finally:
        c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
FLOOD_PID=$!
trap 'kill $FLOOD_PID 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -s "$WORK/flood.url" ] && break; sleep 0.05; done
start_sim 2000

cd "$WORK"
base_validate=$(rss "$TDRECON" validate plain.csv)
base_run=$(rss "$TDRECON" run plain.csv --base-url "$SIM_URL" --rate 0 --quiet --restart)
printf '| case | peak RSS | baseline (1,000 ordinary rows) |\n|---|---|---|\n'
printf '| validate, 5 GiB sparse file of zeros | %s KiB | %s KiB |\n' "$(rss "$TDRECON" validate zeros.csv)" "$base_validate"
printf '| validate, a 200 MiB cell | %s KiB | %s KiB |\n' "$(rss "$TDRECON" validate cell.csv)" "$base_validate"
printf '| validate, 50 million commas | %s KiB | %s KiB |\n' "$(rss "$TDRECON" validate commas.csv)" "$base_validate"
printf '| run, a 200 MiB cell | %s KiB | %s KiB |\n' "$(rss "$TDRECON" run cell.csv --base-url "$SIM_URL" --rate 0 --quiet)" "$base_run"
printf '| run, 1 GiB responses, --concurrency 8 | %s KiB | %s KiB |\n' \
  "$(rss "$TDRECON" run flood.csv --base-url "$(head -1 flood.url)" --rate 0 --quiet --concurrency 8)" "$base_run"
