#!/usr/bin/env bash
# Delivery precision of the gateways, for one-way latencies of 1, 20, 100 and 200 ms, through a
# local cluster of 2 regions × 1 host running a 64 KiB ring all-reduce many times: how late the
# ranks that waited for each message took it after the time its link says it arrives
# (`arrival_late_p99_us` of each link's final record in links.jsonl, counted by the receiving
# ranks: the emulated link as a rank sees it), and how late the gateways sent messages on
# against the time their links released them (`late_p99_us`). Under each configuration asked
# for: HOLD/THREADS/CPU_LATENCY[/WAIT], the gateways' --hold, --delivery-threads and
# --cpu-latency-us, and the workers' --arrival-wait (default receiver/1/0/approach, the gateways'
# defaults and what the workers' default, auto, chooses for a 64 KiB ring, against
# receiver/1/0/timer: the ranks woken by their timer at each arrival, and gateway/1/0: the
# gateway holds each message and sends it on when it arrives, less the trip to the rank). First, the floor under
# it: how late this machine's timer wakes a real-time thread after sleeps of 50 µs to 5 ms,
# with idle CPUs halting and polling.
# Usage: Benchmarks/gateway/run.sh [BANDWIDTHS] [ITERATIONS] [CONFIGS]
#        (default 100Mbps,1Gbps 150 receiver/1/0/approach,receiver/1/0/timer,gateway/1/0;
#        for example gateway/2/0,gateway/1/off)
set -euo pipefail
cd "$(dirname "$0")/../.."
bandwidths=${1:-100Mbps,1Gbps}
iterations=${2:-150}
configs=${3:-receiver/1/0/approach,receiver/1/0/timer,gateway/1/0}

Deploy/install-deps.sh
out=Benchmarks/.build/gateway
mkdir -p "$out"
gcc -O2 -o "$out/timer_overshoot" Benchmarks/gateway/timer_overshoot.c
"$out/timer_overshoot" 500
echo

swift build -c release >/dev/null # straits and the coordinator, gateway and worker its sweeps start
straits="$(swift build -c release --show-bin-path)/straits"
latencies=1ms,20ms,100ms,200ms
echo "# p99 lateness per link (µs), r0→r1 and r1→r0; 64 KiB ring, $iterations iterations"
echo "# taken: how late after a message arrived the rank waiting for it took it (counted by the ranks)"
echo "# sent: how late the gateway sent messages on against when its link released them"
echo "# hold: the gateways' --hold (receiver, the default: sent on at once, held by the rank; gateway: sent on when it arrives)"
echo "# threads: their --delivery-threads (2: two CPUs race to each delivery; 1, the default)"
echo "# cpu-us: their --cpu-latency-us (0, the default: idle CPUs poll while traffic is in flight; off: they halt)"
echo "# wait: the workers' --arrival-wait (approach: woken shortly before an arrival, spinning the rest, as auto, the default, does here; timer: woken at it)"
printf '%-10s %-8s %-9s %7s %7s %-8s %10s %10s %10s %10s\n' bandwidth latency hold threads cpu-us wait "taken r0→r1" "r1→r0" "sent r0→r1" "r1→r0"
IFS=, read -r -a bandwidth_list <<<"$bandwidths"
for bandwidth in "${bandwidth_list[@]}"; do
    for config in ${configs//,/ }; do
        IFS=/ read -r hold threads cpu_latency wait <<<"$config"
        wait=${wait:-approach}
        dir="$out/sweep-$bandwidth-$hold-threads$threads-cpu$cpu_latency-$wait"
        rm -rf "$dir"
        "$straits" sweep --regions 2 --hosts 1 --bandwidth "$bandwidth" --latency "$latencies" --algo ring --sizes 64K \
            -n "$iterations" -w 2 --hold "$hold" --delivery-threads "$threads" --cpu-latency-us "$cpu_latency" --arrival-wait "$wait" --out "$dir" >"$dir.log" 2>&1 \
            || { echo "the sweep for $config at $bandwidth failed; its last lines ($dir.log):" >&2; tail -n 4 "$dir.log" >&2; exit 1; }
        for latency in ${latencies//,/ }; do
            python3 - "$dir/runs/$bandwidth-$latency-ring/links.jsonl" "$bandwidth" "$latency" "$hold" "$threads" "$cpu_latency" "$wait" <<'PY'
import json, sys
finals = [r for r in map(json.loads, open(sys.argv[1])) if r.get("kind") == "final"]
sent = {f'{r["from"]}→{r["to"]}': r["late_p99_us"] for r in finals}
taken = {f'{r["from"]}→{r["to"]}': r.get("arrival_late_p99_us", "-") for r in finals}
print(f'{sys.argv[2]:<10} {sys.argv[3]:<8} {sys.argv[4]:<9} {sys.argv[5]:>7} {sys.argv[6]:>7} {sys.argv[7]:<8} '
      f'{taken.get("r0→r1", "-"):>10} {taken.get("r1→r0", "-"):>10} {sent.get("r0→r1", "-"):>10} {sent.get("r1→r0", "-"):>10}')
PY
        done
    done
done
