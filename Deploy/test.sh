#!/usr/bin/env bash
# Runs Straits' whole test suite on a fresh machine: installs the missing system packages
# (libzmq, libnuma, ...), checks the formatting, builds the package and its tests, runs them,
# checks that the benchmark package still builds, and runs each fuzzer briefly. Exits non-zero
# on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

Deploy/install-deps.sh

echo "== format (swift format lint --strict, .swift-format)"
swift format lint --strict --recursive --parallel Sources Tests Benchmarks/Sources Package.swift Benchmarks/Package.swift \
    Fuzz/Sources Fuzz/Package.swift
echo "== build"
swift build --build-tests
echo "== tests (one at a time: the end-to-end and timing suites never compete for the cores)"
swift test --skip-build --no-parallel
echo "== benchmark package builds"
swift build --package-path Benchmarks
echo "== fuzzers, 10 s each (Deploy/fuzz.sh SECONDS runs them longer)"
Deploy/fuzz.sh 10
echo "== all tests passed"
