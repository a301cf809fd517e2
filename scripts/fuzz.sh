#!/usr/bin/env bash
# Fuzzes the hostcall layer for SECONDS (default 60) with cargo-fuzz / libFuzzer against a real
# wasmi instance (fuzz/fuzz_targets/hostcalls.rs). Installs what is missing: the nightly
# toolchain (cargo-fuzz needs it for the sanitizer flags) and cargo-fuzz. Findings land in
# fuzz/artifacts/hostcalls/ and the script fails.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds="${1:-60}"
cache="${FILTERBENCH_CACHE:-$HOME/.cache/filterbench}"
say() { printf 'fuzz: %s\n' "$*" >&2; }
command -v rustup >/dev/null 2>&1 || { say "rustup is needed to install the nightly toolchain"; exit 1; }
if ! rustup run nightly cargo --version >/dev/null 2>&1; then
  say "installing the nightly toolchain (rustup toolchain install nightly --profile minimal)"
  rustup toolchain install nightly --profile minimal >/dev/null ||
    { say "could not install nightly: run 'rustup toolchain install nightly' by hand"; exit 1; }
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  CARGO_TARGET_DIR="$cache/cargo-fuzz-build" cargo install --quiet --locked cargo-fuzz ||
    { say "cargo install cargo-fuzz failed: run it by hand to see why"; exit 1; }
fi
cd "$root/fuzz"
# The corpus lives in the cache, so each run (CI's 60 s included) starts where the last one ended.
corpus="$cache/fuzz-corpus/hostcalls"
mkdir -p "$corpus"
export CARGO_TARGET_DIR="$cache/fuzz-target"
say "fuzzing the hostcalls for ${seconds}s (corpus: $corpus)"
exec cargo +nightly fuzz run hostcalls "$corpus" -- -max_total_time="$seconds" -max_len=4096 -print_final_stats=1
