#!/usr/bin/env bash
# Runs the benchmark: installs what is missing, builds filterbench (release), then runs
# `filterbench run` with the arguments given (e.g. --quick, --filter headers, --engine native).
# Results go to results/results.json unless --out says otherwise; the table is printed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh"
# Built from the repository root so its .cargo/config.toml applies (the native engine needs it).
exe=$(bash "$root/scripts/build.sh")
exec "$exe" run "$@"
