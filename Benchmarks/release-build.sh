#!/usr/bin/env bash
# Builds release executables (after installing what they need) and prints the directory they
# are in, for the benchmark scripts:
#
#   bin="$(Benchmarks/release-build.sh [PRODUCT...])"    # default: all four executables
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then export PATH="/opt/swift/usr/bin:$PATH"; fi
Deploy/install-deps.sh >&2
products=("$@")
[[ ${#products[@]} -gt 0 ]] || products=(straits straits-coordinator straits-worker straits-gateway)
for product in "${products[@]}"; do
    swift build -c release --product "$product" >/dev/null
done
swift build -c release --show-bin-path
