#!/usr/bin/env bash
# Runs the benchmark: installs what is missing, builds filterbench (release), then runs
# `filterbench run` with the arguments given (e.g. --quick, --filter headers, --engine native).
# Results go to results/results.json unless --out says otherwise; the table is printed.
# `--features F` (comma-separated cargo features, e.g. wasmer-llvm,wamr-llvm) is taken out of the
# arguments and builds filterbench with them; wasmer-llvm and wamr-llvm also install LLVM 22
# (scripts/setup.sh --with-llvm).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
args=()
features="${FILTERBENCH_FEATURES:-}"
while (($#)); do
  case "$1" in
    --features) [ $# -ge 2 ] || { echo "bench: --features needs a value (e.g. wasmer-llvm)" >&2; exit 2; }
      features="${features:+$features,}$2"; shift 2 ;;
    --features=*) features="${features:+$features,}${1#--features=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
setup_args=()
[[ ",$features," == *",wasmer-llvm,"* || ",$features," == *",wamr-llvm,"* ]] && setup_args=(--with-llvm)
bash "$root/scripts/setup.sh" "${setup_args[@]}"
export FILTERBENCH_FEATURES="$features"
set -- "${args[@]}"
# Built from the repository root so its .cargo/config.toml applies (the native engine needs it).
exe=$(bash "$root/scripts/build.sh")
exec "$exe" run "$@"
