#!/usr/bin/env bash
# Runs every test of the workspace against the real engines and the real bench filters.
# Release profile: the same build the benchmark uses, so the engines are compiled once.
# (No doc tests: the crates have none, and an empty doc-test run would close the output.)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh"
cd "$root"
exec cargo test --release --workspace --lib --bins --tests "$@"
