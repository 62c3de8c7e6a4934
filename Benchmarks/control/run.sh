#!/usr/bin/env bash
# The control-plane load test: builds a release straits-coordinator and straits-control-load,
# then drives the coordinator with synthetic members over real sockets at each member count
# (joins, a heartbeat from every member every 500 ms, step answers) and prints what it costs
# the coordinator: admission, planning, CPU per step and per member-step, peak memory.
#
#   Benchmarks/control/run.sh [--members 10,100,1000] [--steps 40] [--json FILE]
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then export PATH="/opt/swift/usr/bin:$PATH"; fi
Deploy/install-deps.sh
swift build -c release --product straits-coordinator >/dev/null
swift build --package-path Benchmarks -c release --product straits-control-load >/dev/null
exec Benchmarks/.build/release/straits-control-load \
    --coordinator "$(swift build -c release --show-bin-path)/straits-coordinator" "$@"
