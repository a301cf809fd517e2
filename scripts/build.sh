#!/usr/bin/env bash
# Builds filterbench (release) for this checkout and prints the path of the binary. Checkouts
# that share one cargo target directory (CI clones, worktrees) leave `release/filterbench` from
# whichever was built last, and cargo does not replace it when this checkout's build is already
# up to date: the binary says which checkout it was built from, and is rebuilt when it is not
# this one.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exe="${CARGO_TARGET_DIR:-$root/target}/release/filterbench"
build() { (cd "$root" && cargo build --release --quiet --package filterbench) >&2; }
build
if [ "$("$exe" built-from 2>/dev/null || true)" != "$root" ]; then
  touch "$root/runners/cli/src/main.rs"
  build
  built=$("$exe" built-from 2>/dev/null || true)
  if [ "$built" != "$root" ]; then
    echo "build: $exe was built from '${built:-an unknown checkout}', not $root" >&2
    exit 1
  fi
fi
echo "$exe"
