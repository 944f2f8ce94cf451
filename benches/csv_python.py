#!/usr/bin/env python3
"""What a user might write instead of `tdrecon validate`: Python's csv module
parsing the file and nothing else (a lower bound for any Python validator).

    benches/csv_python.py FILE
"""
import csv
import sys
import time

start = time.perf_counter()
n = 0
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    for _ in csv.reader(f):
        n += 1
secs = time.perf_counter() - start
print(f"{n - 1} records, {secs:.3f} s, {(n - 1) / secs:.0f} records/s")
