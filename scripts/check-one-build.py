#!/usr/bin/env python3
"""Fails when the benchmark's build and the test build compile a dependency twice.

Runs `cargo build --release -p filterbench` (what scripts/bench.sh builds) and the test build
of scripts/test.sh without running it, both with JSON messages, and compares the units cargo
reports (fresh or compiled): a library of one package at one version that the two builds
compile with different features or flags (its own, or a dependency's) has two different file
names (cargo's metadata hash). A unit of the benchmark's build that the test build does not
reuse is compiled twice. Every such package is printed with the features of each build. Both builds are the
ones CI makes anyway, so on a warm target this costs only cargo's bookkeeping.
"""
import json
import subprocess
import sys

BENCH = ["cargo", "build", "--release", "-p", "filterbench"]
TESTS = ["cargo", "test", "--release", "--workspace", "--lib", "--bins", "--tests", "--no-run"]


def units(command):
    """{(package id, target name, opt-level): (features, file names)} of the libraries a build
    makes (opt-level tells a unit built for build scripts and proc macros from a normal one)."""
    out = subprocess.run(
        command + ["--message-format=json-render-diagnostics"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact":
            continue
        target = message["target"]
        if not {"lib", "rlib", "proc-macro"} & set(target["kind"]):
            continue
        key = (message["package_id"], target["name"], str(message["profile"]["opt_level"]))
        found[key] = (set(message["features"]), set(message["filenames"]))
    return found


def main():
    bench, tests = units(BENCH), units(TESTS)
    differ, rebuilt = [], []
    for key in sorted(bench.keys() & tests.keys()):
        if key[0].startswith("path+file://"):
            continue  # the workspace's own crates: rebuilt for tests by design
        (bench_features, bench_files), (test_features, test_files) = bench[key], tests[key]
        if bench_files == test_files:
            continue
        if bench_features != test_features:
            differ.append((key, sorted(test_features - bench_features), sorted(bench_features - test_features)))
        else:
            rebuilt.append(key)
    for (package, target, _), more, fewer in differ:
        print(f"{target} ({package}): the test build adds features {', '.join(more) or '-'}"
              + (f" and drops {', '.join(fewer)}" if fewer else ""))
    if rebuilt:
        print(f"rebuilt with the same features because a dependency differs: "
              f"{', '.join(sorted({target for _, target, _ in rebuilt}))}")
    if differ or rebuilt:
        print(
            f"{len(differ) + len(rebuilt)} dependencies are compiled twice: enable the features the "
            "test build adds in runners/cli/Cargo.toml (feature unification section) so the "
            "benchmark's build matches"
        )
        return 1
    print(f"one build: the test build reuses all {len(bench)} library units of the benchmark's build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
