#!/usr/bin/env bash
# Delivery precision of the gateways: how late each message leaves a gateway against the time
# its link says it arrives (`late_p99_us` of each link's final record in links.jsonl), for
# one-way latencies of 1, 20, 100 and 200 ms, through a local cluster of 2 regions × 1 host
# running a 64 KiB ring all-reduce many times, with two delivery threads on two CPUs racing to
# each delivery and with one (the default); and, first, the floor under it: how late this
# machine's timer wakes a real-time thread after sleeps of 50 µs to 5 ms.
# Usage: Benchmarks/gateway/run.sh [BANDWIDTHS] [ITERATIONS] [DELIVERY_THREADS]
#        (default 100Mbps,1Gbps 150 2,1)
set -euo pipefail
cd "$(dirname "$0")/../.."
bandwidths=${1:-100Mbps,1Gbps}
iterations=${2:-150}
delivery_threads=${3:-2,1}

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
printf '%-10s %-8s %8s %10s %10s\n' bandwidth latency threads "r0→r1" "r1→r0"
IFS=, read -r -a bandwidth_list <<<"$bandwidths"
for bandwidth in "${bandwidth_list[@]}"; do
    for threads in ${delivery_threads//,/ }; do
        dir="$out/sweep-$bandwidth-threads$threads"
        rm -rf "$dir"
        "$straits" sweep --regions 2 --hosts 1 --bandwidth "$bandwidth" --latency "$latencies" --algo ring --sizes 64K \
            -n "$iterations" -w 2 --delivery-threads "$threads" --out "$dir" >"$dir.log"
        for latency in ${latencies//,/ }; do
            python3 - "$dir/runs/$bandwidth-$latency-ring/links.jsonl" "$bandwidth" "$latency" "$threads" <<'PY'
import json, sys
finals = [r for r in map(json.loads, open(sys.argv[1])) if r.get("kind") == "final"]
late = {f'{r["from"]}→{r["to"]}': r["late_p99_us"] for r in finals}
print(f'{sys.argv[2]:<10} {sys.argv[3]:<8} {sys.argv[4]:>8} {late.get("r0→r1", "-"):>10} {late.get("r1→r0", "-"):>10}')
PY
        done
    done
done
