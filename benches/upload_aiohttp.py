#!/usr/bin/env python3
"""What an operator would write instead of `tdrecon run`: the obvious asyncio +
aiohttp script. Read the CSV, send each row as a PUT (32 at a time), write a
results CSV. No validation, no retries, no journal. Prints rows/s and CPU
per row, for benches/run.sh to compare against.

    benches/upload_aiohttp.py FILE BASE_URL [CONCURRENCY]
"""
import asyncio
import base64
import csv
import resource
import sys
import time

import aiohttp


async def main(path, base, concurrency):
    headers = {"Authorization": "Basic " + base64.b64encode(b"bench:bench").decode()}
    sem = asyncio.Semaphore(concurrency)
    out = open("aiohttp.results.csv", "w", newline="")
    writer = csv.writer(out)
    writer.writerow(["id", "status"])

    async def send(session, row):
        body = {"revenue": row["revenue"], "buyer_converted": row["buyer_converted"]}
        async with sem:
            async with session.put(f"{base}/api/v1/calls/{row['call_id']}", json=body, headers=headers) as resp:
                await resp.read()
                writer.writerow([row["call_id"], resp.status])

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        start = time.perf_counter()
        await asyncio.gather(*(send(session, r) for r in rows))
        secs = time.perf_counter() - start
    out.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(f"{len(rows)} rows {secs:.3f} s {len(rows) / secs:.0f} rows/s {cpu / len(rows) * 1e6:.1f} us_cpu_per_row")


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 32))
