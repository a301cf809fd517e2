#!/usr/bin/env bash
# Builds filterbench (release) for this checkout and prints the path of the binary. Checkouts
# that share one cargo target directory (CI clones, worktrees) share its compiled workspace
# crates too (their names do not depend on the checkout's path), and cargo judges them fresh by
# the files of the checkout that built them last: a build here can link another checkout's code
# (seen: `filterbench built-from` named the CI clone after a build in the work tree). When the
# binary was not built from this checkout, every workspace source is touched so all of them are
# compiled from here.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exe="${CARGO_TARGET_DIR:-$root/target}/release/filterbench"
# Cargo features of the build, e.g. FILTERBENCH_FEATURES=wasmer-llvm (scripts/bench.sh --features).
features=()
[ -n "${FILTERBENCH_FEATURES:-}" ] && features=(--features "$FILTERBENCH_FEATURES")
build() { (cd "$root" && cargo build --release --quiet --package filterbench "${features[@]}") >&2; }
build
if [ "$("$exe" built-from 2>/dev/null || true)" != "$root" ]; then
  echo "build: the binary was built from another checkout; compiling this one's crates" >&2
  find "$root/runners" -name '*.rs' -exec touch {} +
  build
  built=$("$exe" built-from 2>/dev/null || true)
  if [ "$built" != "$root" ]; then
    echo "build: $exe was built from '${built:-an unknown checkout}', not $root" >&2
    exit 1
  fi
fi
echo "$exe"
