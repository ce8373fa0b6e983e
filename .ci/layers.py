#!/usr/bin/env python3
"""Fails on an import that goes against the crate's layers.

Reads every `crate::…` path in `src/**/*.rs` (comments, and `#[cfg(test)]`
test modules at the end of a file, left out: a test may drive the public
API from any layer), maps names the crate root re-exports (`pub use
crate::pool::Pool;` in lib.rs) to the module that defines them, and checks
1. there is no cycle among the top-level modules, and
2. every module imports only from layers below its own (LAYERS, lowest
   first; the diagram in docs/design.md shows the same order).
Prints the offending edges and exits 1, or prints the graph and exits 0.
"""
import os
import re
import sys

LAYERS = [
    ["sync"],
    ["asan", "backing", "barrier", "bitmap", "counter", "error", "fork",
     "handle", "limit", "policy", "timer", "trace", "wait_queue"],
    ["size_class"],
    ["budget", "clock", "config"],
    ["chunk", "chunk_list", "subpage"],
    ["region"],
    ["debug"],
    ["arena"],
    ["huge"],
    ["thread_cache"],
    ["heap"],
    ["local"],
    ["metrics", "release", "trim"],
    ["alloc"],
    ["builder"],
    ["buf"],
    ["wait"],
    ["pool"],
    ["codec", "prometheus"],
]
LAYER_OF = {m: i for i, layer in enumerate(LAYERS) for m in layer}

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def code_of(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    cut = re.search(r"#\[cfg\([^\]]*\btest\b[^\]]*\)\]\s*mod tests\s*\{", text)
    if cut:
        text = text[: cut.start()]
    return re.sub(r"//[^\n]*", "", text)


def names_in(code):
    names = set(re.findall(r"\bcrate::([A-Za-z_]\w*)", code))
    for group in re.findall(r"\bcrate::\{([^}]*)\}", code, re.S):
        names |= {re.split(r"[:\s{]", i.strip())[0] for i in group.split(",") if i.strip()}
    return names


lib = code_of(os.path.join(root, "lib.rs"))
reexport = {}
for module, items in re.findall(r"pub use crate::(\w+)::\{?([\w\s,]*)\}?;", lib):
    for item in items.split(","):
        if item.strip():
            reexport[item.strip()] = module

edges = {}
for d, _, files in os.walk(root):
    rel = os.path.relpath(d, root).split(os.sep)
    if rel[0] == "tests":
        continue  # the loom models drive the whole crate
    for f in files:
        if not f.endswith(".rs"):
            continue
        parts = os.path.relpath(os.path.join(d, f), root).split(os.sep)
        module = parts[0][:-3] if len(parts) == 1 else parts[0]
        if module == "lib":
            continue
        for name in names_in(code_of(os.path.join(d, f))):
            target = reexport.get(name, name)
            if target != module and (target in LAYER_OF or os.path.exists(os.path.join(root, target + ".rs"))):
                edges.setdefault(module, set()).add(target)

problems = []
for module in sorted(set(edges) | {t for ts in edges.values() for t in ts}):
    if module not in LAYER_OF:
        problems.append(f"module `{module}` is in no layer: add it to LAYERS")
for module, targets in sorted(edges.items()):
    for target in sorted(targets):
        if module in LAYER_OF and target in LAYER_OF and LAYER_OF[target] >= LAYER_OF[module]:
            problems.append(
                f"`{module}` (layer {LAYER_OF[module]}) imports `{target}` (layer {LAYER_OF[target]})"
            )


def cycle_from(start):
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in edges.get(node, ()):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


for module in sorted(edges):
    cycle = cycle_from(module)
    if cycle:
        problems.append("import cycle: " + " -> ".join(cycle))
        break

if problems:
    print("layer check failed:")
    for p in problems:
        print("  " + p)
    sys.exit(1)
for i, layer in enumerate(LAYERS):
    deps = sorted({t for m in layer for t in edges.get(m, ())})
    print(f"layer {i:2}: {' '.join(layer):60} imports {' '.join(deps) or '-'}")
print("layers ok: no cycle, every import goes down")
