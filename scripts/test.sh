#!/usr/bin/env bash
# Runs every test of the workspace against the real engines and the real bench filters.
# Release profile: the same build the benchmark uses, so the engines are compiled once.
# (No doc tests: the crates have none, and an empty doc-test run would close the output.)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh"
# Envoy, wrk and oha for the Envoy tests; without them those tests say they are skipped
# (and fail when FILTERBENCH_REQUIRE_ENVOY is set, as in CI).
bash "$root/scripts/setup-envoy.sh" || echo "test: Envoy tools could not be installed; the Envoy tests will be skipped" >&2
cd "$root"
# The CLI tests run target/release/filterbench: make sure it is this checkout's (see build.sh).
bash "$root/scripts/build.sh" >/dev/null
exec cargo test --release --workspace --lib --bins --tests "$@"
