#!/usr/bin/env bash
# How well the model predicts local runs (release build, this machine):
#   1. the fidelity grid of bench runs (3 regions × 2 hosts, 200 Mbit/s and 2 Gbit/s × 1 and
#      20 ms, ring and hier, 1, 8 and 64 MiB), each point's run directory predicted by straits
#      simulate --from-run: each size's measured makespan against the model's;
#   2. training through local clusters over a grid of WAN bandwidth and latency
#      (Benchmarks/simulate/fidelity-job.yaml: ddp, hierarchical-local, diloco), each point's run
#      directory predicted by straits simulate --from-run: per schedule the mean step time and
#      the WAN bytes against what the run measured.
# Prints each row and how many are within ±10%.
#
#   Benchmarks/simulate/fidelity.sh [--skip bench|train] [--bandwidth LIST] [--latency LIST]
set -euo pipefail
cd "$(dirname "$0")/../.."
skip=""
bandwidth="100Mbps,1Gbps"
latency="5ms,40ms"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --skip) skip+=" $2"; shift 2 ;;
        --bandwidth) bandwidth="$2"; shift 2 ;;
        --latency) latency="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fidelity.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
bin="$(Benchmarks/release-build.sh)"
work="$(mktemp -d /tmp/straits-fidelity.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Counts, in a --from-run JSON file, the measured figures within ±10% of the predicted: "ROWS HITS".
tally() {
    python3 - "$1" <<'PY'
import json, sys
rows = hits = 0
for s in json.load(open(sys.argv[1])):
    for measured, predicted in (("measured_step_s", "predicted_step_s"), ("measured_wan_bytes", "predicted_wan_bytes"),
                                ("measured_s", "predicted_s")):
        if s.get(predicted) is None or s[predicted] <= 0:
            continue
        rows += 1
        hits += abs(s[measured] / s[predicted] - 1) <= 0.10
print(rows, hits)
PY
}
# Predicts every run directory under $1 with straits simulate --from-run; prints each and the tally.
predict_runs() {
    local total=0 within=0 rows hits
    for run in "$1"/runs/*/; do
        echo "-- $(basename "$run")"
        "$bin/straits" simulate --from-run "$run" --json "$work/point.json" | tail -n +2
        read -r rows hits < <(tally "$work/point.json")
        total=$((total + rows)); within=$((within + hits))
    done
    echo "$2: $within of $total within ±10% of the model"
}

if [[ $skip != *bench* ]]; then
    echo "== bench: straits sweep --regions 3 --hosts 2 --bandwidth 200Mbps,2Gbps --latency 1ms,20ms --algo ring,hier --sizes 1M,8M,64M --iters 5 --warmup 1, each point by straits simulate --from-run"
    "$bin/straits" sweep --regions 3 --hosts 2 --bandwidth 200Mbps,2Gbps --latency 1ms,20ms --algo ring,hier \
        --sizes 1M,8M,64M --iters 5 --warmup 1 --out "$work/bench" >/dev/null
    predict_runs "$work/bench" "bench (the makespan of each size)"
fi
if [[ $skip != *train* ]]; then
    echo "== training: straits sweep --job Benchmarks/simulate/fidelity-job.yaml --bandwidth $bandwidth --latency $latency, each point by straits simulate --from-run"
    "$bin/straits" sweep --job Benchmarks/simulate/fidelity-job.yaml --bandwidth "$bandwidth" --latency "$latency" \
        --out "$work/train" >/dev/null
    predict_runs "$work/train" "training (mean step time and WAN bytes per schedule and point)"
fi
