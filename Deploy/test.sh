#!/usr/bin/env bash
# Runs Straits' whole test suite on a fresh machine: installs the missing system packages
# (libzmq, libnuma, ...), builds the package and its tests, runs them, and checks that the
# benchmark package still builds. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

Deploy/install-deps.sh

echo "== build"
swift build --build-tests
echo "== tests"
swift test --skip-build
echo "== benchmark package builds"
swift build --package-path Benchmarks
echo "== all tests passed"
