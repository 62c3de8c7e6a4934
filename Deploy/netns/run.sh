#!/usr/bin/env bash
# Kernel cross-check of the gateways' bandwidth shaping. Puts each region's worker in its own
# network namespace, joined to the others by veth pairs on a bridge, with `tc tbf` limiting
# what leaves each region to the WAN bandwidth, and runs the all-reduce benchmark through it
# with the coordinator's --no-gateways (traffic goes straight between the namespaces). Then it
# runs the same benchmark through the gateways (shaping in user space; workers and gateways over
# Unix-domain sockets, as `straits sweep` runs them) and prints both times,
# their ratio, and the time the bytes take at the line rate, for every bandwidth and size.
# netem is not available on these machines, so latency is not part of the comparison (the
# gateway runs with 0 latency too).
#
#   sudo Deploy/netns/run.sh [--bandwidth 50Mbps,200Mbps,1Gbps] [--sizes 1M,8M] [--iters N] [--repeat N] [--chunk SIZE]
#                            [--burst BYTES] [--gateway-line] [--store-and-forward] [--gateway-transport ipc|tcp] [--out DIR]
#
# --iters N is the fewest timed iterations of a size; a size the line moves in less than 250 ms
# gets more, up to 20, so that its median spans about 250 ms (each size runs as its own job).
# --repeat N runs the pair (kernel, then gateways) N times at each bandwidth and prints medians,
# with the lowest and highest ratio: on a shared machine one run at 1-2 Gbit/s can be far off on
# either side.
# --chunk fixes the ring's chunk size in both runs (by default each run's planner picks it).
# --burst sets tbf's bucket (default: 64 KiB and one frame, or 1 ms at the rate if that is more).
# The gateways' links get the same bucket (`burst:` in the topology), so that both sides shape
# alike; --gateway-line runs them as a line instead (no bucket: never faster than the rate).
# --store-and-forward runs the gateways without their allowance for their own hops.
# --gateway-transport tcp runs the gateway side over loopback TCP instead (the sweep's --transport tcp).
# Needs root, iproute2 (ip, tc) and a release build (Deploy/local-cluster.sh makes one).
# Everything it creates (namespaces, bridge, processes) is removed on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

bandwidths="50Mbps,200Mbps,1Gbps"
sizes="1M,8M"
out="runs/netns-$(date +%Y%m%d-%H%M%S)"
iters=3
repeat=1
chunk=""
burst=""
gateway_flags=()
gateway_transport=ipc
gateway_line=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bandwidth) bandwidths="$2"; shift 2 ;;
        --sizes) sizes="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --iters) iters="$2"; shift 2 ;;
        --repeat) repeat="$2"; shift 2 ;;
        --chunk) chunk="$2"; shift 2 ;;
        --burst) burst="$2"; shift 2 ;;
        --store-and-forward) gateway_flags=(--store-and-forward); shift ;;
        --gateway-transport) gateway_transport="$2"; shift 2 ;;
        --gateway-line) gateway_line=1; shift ;;
        -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "netns/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $(id -u) -eq 0 ]] || { echo "netns/run.sh: needs root (network namespaces and tc)" >&2; exit 1; }
command -v tc >/dev/null || { echo "netns/run.sh: needs tc (iproute2)" >&2; exit 1; }
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then export PATH="/opt/swift/usr/bin:$PATH"; fi
bin="$(swift build -c release --show-bin-path)"
[[ -x "$bin/straits-coordinator" && -x "$bin/straits-gateway" ]] || swift build -c release
mkdir -p "$out"

regions=(r0 r1)
bridge=strbr0
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 0.5
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for region in "${regions[@]}"; do ip netns del "straits-$region" 2>/dev/null || true; done
    ip link del "$bridge" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Bridge in the root namespace (10.77.0.1), one namespace per region (10.77.0.10, .11, ...).
ip link add "$bridge" type bridge
ip addr add 10.77.0.1/24 dev "$bridge"
ip link set "$bridge" up
for index in "${!regions[@]}"; do
    region=${regions[$index]}
    ns="straits-$region"
    ip netns add "$ns"
    ip link add "v-$region" type veth peer name "v-$region-br"
    ip link set "v-$region" netns "$ns"
    ip link set "v-$region-br" master "$bridge"
    ip link set "v-$region-br" up
    ip -n "$ns" addr add "10.77.0.$((10 + index))/24" dev "v-$region"
    ip -n "$ns" link set "v-$region" up
    ip -n "$ns" link set lo up
    # A ring idles between its steps; TCP must not fall back to slow start each time.
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_slow_start_after_idle=0
done

# bits/s from 50Mbps / 1Gbps.
rate_bps() {
    local value=${1%bps} scale=1
    case "$value" in
        *K) scale=1000; value=${value%K} ;;
        *M) scale=1000000; value=${value%M} ;;
        *G) scale=1000000000; value=${value%G} ;;
    esac
    python3 -c "print(int(float('$value') * $scale))"
}

run_bench() {  # $1 mode (kernel|gateway), $2 bandwidth, $3 run dir: one job per size, each in $3/SIZE
    local size
    IFS=, read -r -a size_list <<<"$sizes"
    for size in "${size_list[@]}"; do run_size "$1" "$2" "$3/$size" "$size"; done
}

# Timed iterations for a size: at least --iters, and enough for about 250 ms at the line rate, up to 20.
iterations() {  # $1 size, $2 bits/s
    python3 - "$1" "$2" "$iters" <<'PY'
import math, re, sys
size, bps, least = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", size).groups()
scale = {"": 1, "B": 1, "K": 1 << 10, "KiB": 1 << 10, "M": 1 << 20, "MiB": 1 << 20, "G": 1 << 30, "GiB": 1 << 30}[unit]
line = float(number) * scale * 1514 / 1448 * 8 / bps
print(min(max(least, 20), max(least, math.ceil(0.25 / line))))
PY
}

run_size() {  # $1 mode (kernel|gateway), $2 bandwidth, $3 run dir, $4 size
    local mode=$1 bandwidth=$2 dir=$3 size=$4
    mkdir -p "$dir/logs"
    local topology="$dir/netns-topology.yaml" job="$dir/netns-job.yaml"
    local latency=0us
    printf 'name: netns\nregions:\n  - { name: r0, hosts: 1 }\n  - { name: r1, hosts: 1 }\nlinks:\n  - { between: [r0, r1], bandwidth: %s, latency: %s, burst: %s }\n' \
        "$bandwidth" "$latency" "$gateway_bucket" >"$topology"
    printf 'name: netns\nkind: bench\nsizes: [%s]\niters: %s\nwarmup: 1\nalgo: ring\n' "$size" "$(iterations "$size" "$bps")" >"$job"
    if [[ -n $chunk ]]; then printf 'chunk: %s\n' "$chunk" >>"$job"; fi
    rm -f "$dir/coordinator.endpoint"
    local extra=("${gateway_flags[@]}") bind=tcp://127.0.0.1:*
    if [[ $mode == kernel ]]; then extra=(--no-gateways); bind="tcp://10.77.0.1:*"; fi
    "$bin/straits-coordinator" --topology "$topology" --job "$job" --run-dir "$dir" --bind "$bind" "${extra[@]}" \
        >"$dir/logs/coordinator.log" 2>&1 &
    local coordinator=$!
    pids+=("$coordinator")
    for _ in $(seq 100); do [[ -s "$dir/coordinator.endpoint" ]] && break; sleep 0.1; done
    local endpoint
    endpoint=$(cat "$dir/coordinator.endpoint")
    for index in "${!regions[@]}"; do
        local region=${regions[$index]}
        if [[ $mode == kernel ]]; then
            ip netns exec "straits-$region" "$bin/straits-worker" --coordinator "$endpoint" --region "$region" --host 0 \
                --bind-address "10.77.0.$((10 + index))" >"$dir/logs/worker-$region.log" 2>&1 &
        else
            "$bin/straits-gateway" --coordinator "$endpoint" --region "$region" --topology "$topology" --transport "$gateway_transport" \
                >"$dir/logs/gateway-$region.log" 2>&1 &
            pids+=($!)
            "$bin/straits-worker" --coordinator "$endpoint" --region "$region" --host 0 --transport "$gateway_transport" \
                >"$dir/logs/worker-$region.log" 2>&1 &
        fi
        pids+=($!)
    done
    wait "$coordinator"
}

printf '%-10s %-6s %14s %14s %8s %10s %15s\n' bandwidth size "kernel tbf ms" "gateway ms" "ratio" "line ms" "ratio min-max"
: >"$out/netns.csv"
echo "bandwidth_bps,size_bytes,kernel_s,gateway_s,ratio,line_s,ratio_min,ratio_max,repeats" >>"$out/netns.csv"
IFS=, read -r -a bandwidth_list <<<"$bandwidths"
for bandwidth in "${bandwidth_list[@]}"; do
    bps=$(rate_bps "$bandwidth")
    bucket=${burst:-$(python3 -c "print(max(65536 + 1514, int($bps / 8 * 0.001)))")}
    gateway_bucket=$([[ $gateway_line == 1 ]] && echo 0 || echo "$bucket")
    for run in $(seq "$repeat"); do
        suffix=$([[ $repeat -gt 1 ]] && echo "-$run" || true)
        for index in "${!regions[@]}"; do
            ip netns exec "straits-${regions[$index]}" tc qdisc replace dev "v-${regions[$index]}" root tbf rate "${bps}bit" burst "$bucket" latency 1s
        done
        run_bench kernel "$bandwidth" "$out/$bandwidth-kernel$suffix"
        for index in "${!regions[@]}"; do
            ip netns exec "straits-${regions[$index]}" tc qdisc del dev "v-${regions[$index]}" root
        done
        run_bench gateway "$bandwidth" "$out/$bandwidth-gateway$suffix"
    done
    python3 - "$out" "$bandwidth" "$bps" "$repeat" <<'PY'
import glob, json, statistics, sys
out, bandwidth, bps, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def rows(mode, run):
    suffix = f"-{run}" if repeat > 1 else ""
    found = {}
    for path in glob.glob(f"{out}/{bandwidth}-{mode}{suffix}/*/bench.jsonl"):
        found.update({r["size_bytes"]: r["time_us"] / 1e6 for r in map(json.loads, open(path))})
    return found
runs = [(rows("kernel", run), rows("gateway", run)) for run in range(1, repeat + 1)]
with open(f"{out}/netns.csv", "a") as csv:
    for size in sorted(runs[0][0]):
        kernel = statistics.median(k[size] for k, _ in runs)
        gateway = statistics.median(g[size] for _, g in runs)
        ratios = [g[size] / k[size] for k, g in runs]
        ratio = statistics.median(ratios)
        # What the link itself needs: a 2-rank ring sends `size` bytes each way, in 1448-byte
        # TCP segments with 66 bytes of headers each.
        line = size * 1514 / 1448 * 8 / bps
        spread = f"{min(ratios):.3f}-{max(ratios):.3f}" if repeat > 1 else ""
        print(f"{bandwidth:<10} {size >> 20:>4}M {kernel * 1e3:14.2f} {gateway * 1e3:14.2f} {ratio:8.3f} {line * 1e3:10.2f} {spread:>15}")
        csv.write(f"{bps},{size},{kernel},{gateway},{ratio},{line},{min(ratios)},{max(ratios)},{repeat}\n")
PY
done
echo "results: $out/netns.csv (each run's directory beside it)"
