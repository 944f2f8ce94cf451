#!/usr/bin/env python3
"""Checks that the modules of src/ import each other without a cycle.

Every `crate::…` and `super::…` path in a file (in `use` trees, braces
expanded, and inline) is resolved to the module that holds it. A module's
edges to its own descendants (the `mod` and `pub use` that declare and
re-export them) are structure, not imports, and are left out. Two graphs are
checked: the files (src/send/row.rs is `send::row`), and the top-level
stages (`send`, `records`, ...). And the stages must point one way, down
`LAYERS` (a stage imports only stages of lower layers, and leaves): each
import that points up or sideways is printed. Exits 1 on any of these, or
prints how many modules and edges it checked and exits 0.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(__file__), "..", "src")

# The rooms, top to bottom: each may import only the rooms below it (and the
# leaves). Rooms on one line are siblings: neither imports the other.
LAYERS = [
    ["cli"],
    ["profile"],
    ["commands"],
    ["job"],
    ["send"],
    ["reports"],
    ["compare", "records"],
    ["outcome"],
    ["sim"],
    ["trackdrive"],
    ["resolve"],
    ["input"],
]
LEAVES = {"exit", "console", "contain", "files", "signals", "splitmix", "text"}


def module_of(path):
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


def strip(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    # Tests may import anything; they are not the module's dependencies.
    cut = text.find("#[cfg(test)]")
    return text if cut < 0 else text[:cut]


def expand(tree):
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    tree = tree.strip()
    depth, start = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                prefix, inner, rest = tree[:start], tree[start + 1 : i], tree[i + 1 :]
                parts, d, last = [], 0, 0
                for j, c in enumerate(inner):
                    if c == "{":
                        d += 1
                    elif c == "}":
                        d -= 1
                    elif c == "," and d == 0:
                        parts.append(inner[last:j])
                        last = j + 1
                parts.append(inner[last:])
                out = []
                for p in parts:
                    if p.strip():
                        out.extend(expand(prefix + p.strip() + rest))
                return out
    return [re.sub(r"\s+as\s+\w+$", "", tree)]


def paths(text):
    found = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        found.extend(expand(m.group(1)))
    found.extend(re.findall(r"\b(?:crate|super)(?:::\w+)+", text))
    return found


def resolve(path, here, modules, is_mod_file):
    parts = [p for p in re.split(r"\s*::\s*", path) if p]
    if not parts:
        return None
    if parts[0] == "crate":
        base, rest = (), parts[1:]
    elif parts[0] == "super":
        # In a mod.rs file, `super` is the module's parent; elsewhere too.
        base = here[:-1]
        rest = parts[1:]
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    else:
        return None
    best = base
    for i in range(1, len(rest) + 1):
        if base + tuple(rest[:i]) in modules:
            best = base + tuple(rest[:i])
    return best


def cycles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    files = {}
    for root, _, names in os.walk(SRC):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(root, name)
                files[module_of(path)] = path
    modules = set(files)
    graph, stages = {}, {}
    for here, path in files.items():
        text = strip(open(path, encoding="utf-8").read())
        for p in paths(text):
            there = resolve(p, here, modules, path.endswith("mod.rs"))
            if there is None or there == here or there[: len(here)] == here:
                continue
            graph.setdefault(here, set()).add(there)
            if here and there and here[0] != there[0]:
                stages.setdefault(here[0], set()).add(there[0])
    name = lambda m: "::".join(m) or "crate"
    bad = False
    layer = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}
    for here, path in sorted(files.items()):
        if not here or here[0] not in layer:
            continue
        text = strip(open(path, encoding="utf-8").read())
        for there in sorted({resolve(p, here, modules, False) for p in paths(text)} - {None}):
            if not there or there[0] == here[0] or there[0] in LEAVES:
                continue
            if there[0] not in layer or layer[there[0]] <= layer[here[0]]:
                bad = True
                print(f"{name(here)} imports {name(there)}: up or sideways (.ci/import_cycles.py LAYERS)")
    for comp in cycles(graph):
        bad = True
        print("cycle between modules: " + ", ".join(sorted(name(m) for m in comp)))
    for comp in cycles(stages):
        bad = True
        print("cycle between stages: " + ", ".join(sorted(comp)))
    if bad:
        return 1
    edges = sum(len(v) for v in graph.values())
    print(f"no import cycle, every import points down: {len(modules)} modules, {edges} edges, {len(stages)} stages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
