#!/usr/bin/env bash
# How long straits simulate takes at frontier scale: Deploy/scenarios/frontier-100k.yaml
# (100,000 accelerators in 8 regions, a 100B model, 10,000 steps) under DiLoCo as the file has
# it and under DDP, and --solve bandwidth for 90% on it, each run ROUNDS times (release build); prints
# every wall time and the median of each.
#
#   Benchmarks/simulate/scale.sh [ROUNDS]      (default 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0; }
rounds="${1:-5}"
bin="$(Benchmarks/release-build.sh straits)"
work="$(mktemp -d /tmp/straits-simulate-scale.XXXXXX)"
trap 'rm -rf "$work"' EXIT
sed 's/^schedule: .*/schedule: { sync: ddp }/' Deploy/scenarios/frontier-100k.yaml >"$work/ddp.yaml"
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for case in diloco ddp solve; do
    : >"$work/$case.times"
    for _ in $(seq "$rounds"); do
        case "$case" in
            diloco) arguments=(Deploy/scenarios/frontier-100k.yaml) ;;
            ddp) arguments=("$work/ddp.yaml") ;;
            solve) arguments=(Deploy/scenarios/frontier-100k.yaml --solve bandwidth --target-utilisation 0.9) ;;
        esac
        start=$(date +%s.%N)
        "$bin/straits" simulate "${arguments[@]}" >"$work/$case.out" 2>&1 || true
        end=$(date +%s.%N)
        awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }' >>"$work/$case.times"
    done
    echo "== $case: $(head -1 "$work/$case.out")"
    grep -E 'step time|compute utilisation|least WAN|no WAN' "$work/$case.out" || true
    echo "   wall s: $(tr '\n' ' ' <"$work/$case.times")  median $(median <"$work/$case.times")"
done
