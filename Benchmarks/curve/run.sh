#!/usr/bin/env bash
# What CurveZMQ costs, beside plaintext in the same run, interleaved and repeated (medians):
#   1. straits bench allreduce, 2 ranks over loopback TCP, at 1 MiB and 16 MiB;
#   2. a two-region cluster (one worker each, through the gateways) stepping a 4 MiB all-reduce
#      over a WAN link of 100 Mbit/s, 1 Gbit/s and 2 Gbit/s (1 ms): the mean step time.
#
#   Benchmarks/curve/run.sh [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=3
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "curve/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
bin="$(Benchmarks/release-build.sh)"
work="$(mktemp -d /tmp/straits-curve.XXXXXX)"
trap 'rm -rf "$work"' EXIT
"$bin/straits" keys "$work/keys" >/dev/null
cat >"$work/job.yaml" <<JOB
name: curve
kind: sync
steps: 12
gradient: 4MiB
compute: 1ms
algo: ring
timeout: 60s
JOB

results="$work/results.txt"
: >"$results"
for round in $(seq "$rounds"); do
    for mode in plaintext curve; do
        keys=()
        [[ $mode == curve ]] && keys=(--keys "$work/keys")
        echo "== round $round: bench allreduce, $mode"
        "$bin/straits" bench allreduce -b 1M -e 16M -f 16 --ranks 2 --transport zmq -n 20 -w 3 \
            --json "$work/bench.jsonl" "${keys[@]}" >/dev/null
        python3 - "$work/bench.jsonl" "$mode" >>"$results" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    row = json.loads(line)
    print(f"bench {sys.argv[2]} {row['size_bytes']} {row['time_us']}")
PY
    done
    for rate in 100Mbps 1Gbps 2Gbps; do
        cat >"$work/topology.yaml" <<TOPOLOGY
name: curve-$rate
regions:
  - { name: a, hosts: 1, devices_per_host: 1 }
  - { name: b, hosts: 1, devices_per_host: 1 }
links:
  - { between: [a, b], bandwidth: $rate, latency: 1ms }
TOPOLOGY
        for mode in plaintext curve; do
            # On loopback plaintext needs no flag; CURVE is asked for with the keys.
            security=()
            [[ $mode == curve ]] && security=(--keys "$work/keys")
            dir="$work/run-$round-$rate-$mode"
            echo "== round $round: WAN $rate, $mode"
            Deploy/local-cluster.sh --bin "$bin" --topology "$work/topology.yaml" --job "$work/job.yaml" \
                --run-dir "$dir" "${security[@]}" >"$dir.log" 2>&1 || { tail -20 "$dir.log"; exit 1; }
            python3 - "$dir/steps.jsonl" "$rate" "$mode" >>"$results" <<'PY'
import json, sys, statistics
walls = {}
for line in open(sys.argv[1]):
    row = json.loads(line)
    walls.setdefault(row["step"], []).append(row.get("comm_s", 0))
# Per step the slowest rank's all-reduce time; the first step warms up.
times = [max(v) for k, v in sorted(walls.items())][1:]
print(f"wan {sys.argv[3]} {sys.argv[2]} {statistics.median(times) * 1e6:.0f}")
PY
        done
    done
done

python3 - "$results" "$rounds" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kind, mode, point, value = line.split()
    rows[(kind, point, mode)].append(float(value))
print()
print(f"Medians of {sys.argv[2]} interleaved rounds; CURVE ÷ plaintext is the cost (1.00: none).")
print(f"  {'what':<44} {'plaintext µs':>13} {'CURVE µs':>10} {'CURVE ÷ plain':>14}")
def size(n):
    n = int(n)
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"
for (kind, point) in sorted({(k, p) for k, p, _ in rows}, key=lambda x: (x[0], x[1])):
    plain = statistics.median(rows[(kind, point, "plaintext")])
    curve = statistics.median(rows[(kind, point, "curve")])
    what = (f"bench allreduce, 2 ranks, tcp, {size(point)}" if kind == "bench"
            else f"cluster step, 4 MiB all-reduce over WAN {point}")
    print(f"  {what:<44} {plain:>13.0f} {curve:>10.0f} {curve / plain:>14.2f}")
PY
