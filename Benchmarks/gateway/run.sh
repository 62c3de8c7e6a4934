#!/usr/bin/env bash
# Delivery precision of the gateways: how late each message leaves a gateway against the time
# its link says it arrives (`late_p99_us` of each link's final record in links.jsonl), for
# one-way latencies of 1, 20, 100 and 200 ms, through a local cluster of 2 regions × 1 host
# running a 64 KiB ring all-reduce many times, under each gateway configuration asked for:
# THREADS/CPU_LATENCY, the gateways' --delivery-threads and --cpu-latency-us (default 1/0, the
# gateways' defaults: one delivery thread, idle CPUs polling while traffic is in flight, against
# 1/off: CPUs free to halt); and, first, the floor under it: how late this machine's timer wakes
# a real-time thread after sleeps of 50 µs to 5 ms, with idle CPUs halting and polling.
# Usage: Benchmarks/gateway/run.sh [BANDWIDTHS] [ITERATIONS] [CONFIGS]
#        (default 100Mbps,1Gbps 150 1/0,1/off; for example 1/0,2/0,1/off)
set -euo pipefail
cd "$(dirname "$0")/../.."
bandwidths=${1:-100Mbps,1Gbps}
iterations=${2:-150}
configs=${3:-1/0,1/off}

Deploy/install-deps.sh
out=Benchmarks/.build/gateway
mkdir -p "$out"
gcc -O2 -o "$out/timer_overshoot" Benchmarks/gateway/timer_overshoot.c
"$out/timer_overshoot" 500
echo

swift build -c release --product straits >/dev/null
straits="$(swift build -c release --show-bin-path)/straits"
latencies=1ms,20ms,100ms,200ms
echo "# p99 lateness of deliveries per link (µs), r0→r1 and r1→r0; 64 KiB ring, $iterations iterations;"
echo "# threads: the gateways' --delivery-threads (2: two CPUs race to each delivery; 1, the default)"
echo "# cpu-us: their --cpu-latency-us (0, the default: idle CPUs poll while traffic is in flight; off: they halt)"
printf '%-10s %-8s %8s %7s %10s %10s\n' bandwidth latency threads cpu-us "r0→r1" "r1→r0"
IFS=, read -r -a bandwidth_list <<<"$bandwidths"
for bandwidth in "${bandwidth_list[@]}"; do
    for config in ${configs//,/ }; do
        threads=${config%/*} cpu_latency=${config#*/}
        dir="$out/sweep-$bandwidth-threads$threads-cpu$cpu_latency"
        rm -rf "$dir"
        "$straits" sweep --regions 2 --hosts 1 --bandwidth "$bandwidth" --latency "$latencies" --algo ring --sizes 64K \
            -n "$iterations" -w 2 --delivery-threads "$threads" --cpu-latency-us "$cpu_latency" --out "$dir" >"$dir.log"
        for latency in ${latencies//,/ }; do
            python3 - "$dir/runs/$bandwidth-$latency-ring/links.jsonl" "$bandwidth" "$latency" "$threads" "$cpu_latency" <<'PY'
import json, sys
finals = [r for r in map(json.loads, open(sys.argv[1])) if r.get("kind") == "final"]
late = {f'{r["from"]}→{r["to"]}': r["late_p99_us"] for r in finals}
print(f'{sys.argv[2]:<10} {sys.argv[3]:<8} {sys.argv[4]:>8} {sys.argv[5]:>7} {late.get("r0→r1", "-"):>10} {late.get("r1→r0", "-"):>10}')
PY
        done
    done
done
