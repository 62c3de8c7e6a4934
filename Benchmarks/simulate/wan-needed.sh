#!/usr/bin/env bash
# What WAN do you need: for 1B, 10B and 100B models, the least bandwidth per link each schedule
# needs for 50, 80, 90, 95 and 99% compute utilisation (straits simulate --solve bandwidth over a
# sweep of schedules). Two regions of 8 replicas joined by links of 30 ms, enough TCP streams
# that windows never bind; a replica is 8, 64 or 512 H100s at 40% MFU stepping 1M, 2M or 4M
# tokens (about 1.9, 4.7 and 11.8 s of compute), with 400 Gbit/s of fabric per accelerator; hier
# and diloco synchronise every 100 steps overlapping one, streaming-diloco in 4 fragments. Prints the table; writes the charts as
# docs/results/wan-needed-{1B,10B,100B}.svg.
#
#   Benchmarks/results/record.sh wan-needed Benchmarks/simulate/wan-needed.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0; }
bin="$(Benchmarks/release-build.sh straits)"
work="$(mktemp -d /tmp/straits-wan-needed.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/all"
: >"$work/all/solve.jsonl"
for model in "1B 24 8 1M" "10B 48 64 2M" "100B 96 512 4M"; do
    read -r parameters layers devices tokens <<<"$model"
    fabric=$((devices * 400))
    cat >"$work/$parameters.yaml" <<SCENARIO
name: $parameters
model: { parameters: $parameters, layers: $layers }
step: { tokens: $tokens, device: h100, devices: $devices, mfu: 0.4 }
regions:
  - { name: east, replicas: 8 }
  - { name: west, replicas: 8 }
links:
  - { between: [east, west], bandwidth: 10Gbps, latency: 30ms, streams: 256, window: 256MiB }
fabric: { bandwidth: ${fabric}Gbps, latency: 5us }
schedule: { sync: streaming-diloco, every: 100, fragments: 4, overlap: 1 }
steps: 1000
SCENARIO
    "$bin/straits" simulate "$work/$parameters.yaml" --solve bandwidth \
        --target-utilisation 0.5,0.8,0.9,0.95,0.99 --sweep schedule=ddp,hier,diloco,streaming-diloco \
        --out "$work/$parameters" >/dev/null
    cat "$work/$parameters/solve.jsonl" >>"$work/all/solve.jsonl"
done
"$bin/straits" report "$work/all" | grep -v '^report: '
for parameters in 1B 10B 100B; do cp "$work/all/wan-needed-$parameters.svg" "docs/results/wan-needed-$parameters.svg"; done
echo "charts: docs/results/wan-needed-1B.svg, wan-needed-10B.svg, wan-needed-100B.svg"
