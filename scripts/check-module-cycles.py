#!/usr/bin/env python3
"""Fails when modules of one crate import each other in a cycle.

For every crate under runners/ (a directory with Cargo.toml and src/), each top-level module
(src/NAME.rs or src/NAME/) depends on the modules it names as `crate::NAME` outside comments
and outside its `#[cfg(test)]` part. A cycle among those dependencies is printed with the
lines that make it, and the exit status is 1. Usage: check-module-cycles.py [ROOT]
"""
import os
import re
import sys

REFERENCE = re.compile(r"\bcrate::(\w+)")


def crate_sources(root):
    for directory, _, _ in os.walk(root):
        parent = os.path.dirname(directory)
        if os.path.basename(directory) == "src" and os.path.exists(os.path.join(parent, "Cargo.toml")):
            yield directory


def module_of(src, path):
    parts = os.path.relpath(path, src)[: -len(".rs")].split(os.sep)
    if parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return parts[0] if parts else "<crate root>"


def dependencies(src):
    """{module: {dependency: [(file, line number, line)]}} of one crate."""
    found = {}
    for directory, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(directory, name)
            module = module_of(src, path)
            edges = found.setdefault(module, {})
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    if line.lstrip().startswith("#[cfg(test)]"):
                        break
                    code = line.split("//", 1)[0]
                    for target in REFERENCE.findall(code):
                        if target != module:
                            edges.setdefault(target, []).append((path, number, line.strip()))
    modules = set(found)
    return {m: {t: where for t, where in edges.items() if t in modules} for m, edges in found.items()}


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "runners")
    failed = False
    for src in sorted(crate_sources(root)):
        graph = dependencies(src)
        for component in cycles(graph):
            failed = True
            crate = os.path.relpath(os.path.dirname(src), root)
            print(f"{crate}: modules import each other in a cycle: {', '.join(component)}")
            for a in component:
                for b in component:
                    for path, number, line in graph[a].get(b, [])[:2]:
                        print(f"  {a} -> {b}: {os.path.relpath(path, root)}:{number}: {line}")
    if failed:
        print("make the imports go one way (move what both need into a module of its own)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
