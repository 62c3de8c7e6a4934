#!/usr/bin/env bash
# Runs Straits' micro-benchmarks beside their C references, all built in this run:
#   - the float32 sum kernel against a C loop built with gcc -O3 -march=native;
#   - ZeroMQ PUSH/PULL throughput over tcp and ipc against a C libzmq sender and receiver.
# Usage: Benchmarks/run.sh [kernel|zmq|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")"
what=${1:-all}

../Deploy/install-deps.sh

out=.build/reference
mkdir -p "$out"
gcc -O3 -march=native -shared -fPIC -o "$out/libsum_reference.so" reference/sum_kernel.c
gcc -O3 -march=native -o "$out/zmq_throughput" reference/zmq_throughput.c -lzmq

swift build -c release --product straits-microbench >/dev/null
bench=$(swift build -c release --show-bin-path)/straits-microbench

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), libzmq $(pkg-config --modversion libzmq 2>/dev/null || echo '?')"
if [[ $what == all || $what == kernel ]]; then
    "$bench" kernel --reference "$out/libsum_reference.so"
    echo
fi
if [[ $what == all || $what == zmq ]]; then
    "$bench" zmq --reference "$out/zmq_throughput"
fi
