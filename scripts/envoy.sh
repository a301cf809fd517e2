#!/usr/bin/env bash
# Runs the bench filters under load inside a real Envoy — the wrapper a cron job or CI calls:
# installs what is missing (scripts/setup.sh, scripts/setup-envoy.sh), builds filterbench,
# then runs `filterbench envoy` with the arguments given (default: the standard Envoy matrix,
# 3 interleaved rounds of 10 s runs), writing results/envoy.json and results/envoy-report/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/setup-envoy.sh"
exe=$(bash "$root/scripts/build.sh")
cd "$root"
exec "$exe" envoy "$@"
