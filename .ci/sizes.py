#!/usr/bin/env python3
"""Checks that src/ keeps small rooms: no file over MAX_FILE lines and no
function over MAX_FN lines (from its `fn` line to its closing brace, tests
included). Prints each one over and exits 1, or prints the largest of each
and exits 0.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(__file__), "..", "src")
MAX_FILE, MAX_FN = 600, 80
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def code(line):
    """The line without its comment and string contents (braces in them do not count)."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return re.sub(r"//.*", "", line)


def functions(lines):
    """(name, first line, length) of every fn with a body."""
    out = []
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        depth, opened = 0, False
        for j in range(i, len(lines)):
            text = code(lines[j])
            if not opened and ";" in text and "{" not in text:
                break  # a declaration without a body
            depth += text.count("{") - text.count("}")
            opened = opened or "{" in text
            if opened and depth <= 0:
                out.append((m.group(6), i + 1, j - i + 1))
                break
    return out


def main():
    over, biggest_file, biggest_fn = [], (0, ""), (0, "")
    for root, _, files in os.walk(SRC):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, os.path.join(SRC, ".."))
            lines = open(path, encoding="utf-8").read().split("\n")
            n = len(lines) - (1 if lines and lines[-1] == "" else 0)
            biggest_file = max(biggest_file, (n, rel))
            if n > MAX_FILE:
                over.append(f"{rel}: {n} lines (most {MAX_FILE})")
            for fname, at, length in functions(lines):
                biggest_fn = max(biggest_fn, (length, f"{rel}:{at} {fname}"))
                if length > MAX_FN:
                    over.append(f"{rel}:{at}: fn {fname} is {length} lines (most {MAX_FN})")
    for line in sorted(over):
        print(line)
    if over:
        return 1
    print(f"sizes: largest file {biggest_file[1]} ({biggest_file[0]} lines), "
          f"largest function {biggest_fn[1]} ({biggest_fn[0]} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
