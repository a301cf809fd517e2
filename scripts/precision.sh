#!/usr/bin/env bash
# The suite's precision benchmark: runs the benchmark twice back to back, each run in its own
# process, then prints how well the two agree — per-cell change of the ratio to native (median,
# p90, max), the share of cells whose intervals overlap, the A/A outcomes, WebAssembly cells
# below native, and the host floor and native noop times — each against its target.
# Arguments go to both runs (default: the whole default matrix), e.g. --quick or --filter noop.
# Results and the two tables go to results/precision/ (or $PRECISION_DIR).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${PRECISION_DIR:-$root/results/precision}
mkdir -p "$dir"
for run in a b; do
  echo "precision: run $run of 2 (table in $dir/$run.txt)" >&2
  start=$(date +%s)
  "$root/scripts/bench.sh" --no-report --out "$dir/$run.json" "$@" >"$dir/$run.txt"
  echo "precision: run $run took $(($(date +%s) - start)) s" >&2
done
exec "$(bash "$root/scripts/build.sh")" precision \
  "$dir/a.json" "$dir/b.json" --json "$dir/precision.json"
