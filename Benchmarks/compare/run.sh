#!/usr/bin/env bash
# Measures this checkout against an earlier revision on this machine, interleaved: the default
# local cluster, `straits bench allreduce -b 64K -e 64M -f 4 --ranks 2`, and a quarter of the
# fidelity grid (3 regions × 2 hosts, 200 Mbit/s and 2 Gbit/s × 1 and 20 ms, ring and hier,
# 1, 8 and 64 MiB). Each round runs the two versions one after the other, alternating which
# goes first. Writes a Markdown table with the commands and both commits (default
# docs/results/before-after.md) and keeps every run's output under .build-compare/.
#
#   Benchmarks/compare/run.sh REV [--rounds N] [--bench-rounds N] [--grid-rounds N] [--out FILE]
#                                 [--skip cluster|bench|grid]...
#
# REV is built release in a git worktree at .build-compare/before (kept for the next run).
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $# -ge 1 && $1 != -* ]] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
rev="$1"; shift
rounds=2
bench_rounds=
grid_rounds=1
out=docs/results/before-after.md
skip=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --bench-rounds) bench_rounds="$2"; shift 2 ;;
        --grid-rounds) grid_rounds="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --skip) skip+=("$2"); shift 2 ;;
        *) echo "compare: unknown argument $1" >&2; exit 2 ;;
    esac
done
bench_rounds=${bench_rounds:-$rounds}
skipped() { local s; for s in "${skip[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then export PATH="/opt/swift/usr/bin:$PATH"; fi
Deploy/install-deps.sh

work=.build-compare
before="$work/before"
mkdir -p "$work"
after_commit="$(git rev-parse --short HEAD)"
if [[ -n $(git status --porcelain --untracked-files=no) ]]; then after_commit+="+changes"; fi
if [[ ! -d $before ]]; then git worktree add --detach "$before" "$rev" >/dev/null; else git -C "$before" checkout --detach -q "$rev"; fi
before_commit="$(git -C "$before" rev-parse --short HEAD)"
echo "== building $before_commit (before) and $after_commit (after), release"
(cd "$before" && swift build -c release >/dev/null)
swift build -c release >/dev/null
runs="$PWD/$work/runs-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$runs"

run_version() {  # label dir part round
    local label=$1 dir=$2 part=$3 round=$4 bin
    bin="$dir/.build/release"
    case "$part" in
        cluster) (cd "$dir" && Deploy/local-cluster.sh --run-dir "$runs/cluster-$label-$round" > "$runs/cluster-$label-$round.txt" 2>&1) ;;
        bench) "$bin/straits" bench allreduce -b 64K -e 64M -f 4 --ranks 2 > "$runs/bench-$label-$round.txt" 2>&1 ;;
        grid) "$bin/straits" sweep --regions 3 --hosts 2 --bandwidth 200Mbps,2Gbps --latency 1ms,20ms --algo ring,hier \
                --sizes 1M,8M,64M --iters 5 --warmup 1 --out "$runs/grid-$label-$round" > "$runs/grid-$label-$round.txt" 2>&1 ;;
    esac
}

for part in cluster bench grid; do
    skipped "$part" && continue
    n=$rounds
    [[ $part == bench ]] && n=$bench_rounds
    [[ $part == grid ]] && n=$grid_rounds
    for round in $(seq "$n"); do
        if (( round % 2 == 1 )); then order=(before after); else order=(after before); fi
        for label in "${order[@]}"; do
            dir="$before"
            [[ $label == after ]] && dir="$PWD"
            echo "== $part round $round: $label"
            run_version "$label" "$dir" "$part" "$round" || echo "   $part $label round $round failed: see $runs/$part-$label-$round.txt"
        done
    done
done

python3 Benchmarks/compare/summarise.py "$runs" "$before_commit" "$after_commit" "$rounds" "$bench_rounds" "$grid_rounds" \
    > "$out"
echo "== written $out (runs in ${runs#"$PWD/"})"
