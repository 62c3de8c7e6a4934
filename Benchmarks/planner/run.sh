#!/usr/bin/env bash
# The bench planner's stability and its model column: runs the same `straits bench allreduce`
# sweep several times, minutes apart as the machine's noise goes, and reports per size the plan
# each run chose (algorithm and chunk) and the model's time over the measured one.
#   P = 2 over tcp:           --ranks 2 --transport tcp
#   2 workers × 2 devices:    --ranks 4 --devices-per-worker 2 (tcp between the workers)
# Each sweep: 64 KiB to 64 MiB by 4, 10 iterations after 3 warm-up, as `straits bench` prints it.
# Usage: Benchmarks/planner/run.sh [--runs N] [--transport T]
#   --runs: sweeps per configuration (default 5), interleaved: P = 2, 2 × 2, P = 2, ...
#   --transport: between the workers for both configurations (default tcp).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=5; transport=tcp
while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --transport) transport=$2; shift 2 ;;
        *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
"$root/Deploy/install-deps.sh"
out=$(mktemp -d /tmp/straits-planner.XXXXXX)
cleanup() { pkill -f "straits bench-worker" 2>/dev/null || true; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
(cd "$root" && swift build -c release --product straits >/dev/null)
straits="$root/.build/release/straits"

configs=("p2:--ranks 2" "2x2:--ranks 4 --devices-per-worker 2")
echo "machine: $(nproc) CPUs; transport $transport; $runs sweeps per configuration; output in $out"
for ((run = 1; run <= runs; run++)); do
    for config in "${configs[@]}"; do
        name=${config%%:*}
        # shellcheck disable=SC2086
        "$straits" bench allreduce -b 64K -e 64M -f 4 -n 10 -w 3 ${config#*:} --transport "$transport" \
            > "$out/$name-$run.txt"
    done
done

python3 - "$out" "$runs" <<'PY'
import re, sys
out, runs = sys.argv[1], int(sys.argv[2])
row = re.compile(r"^\s*(\d+)\s+\d+\s+float\s+sum\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+(\d+)\s+(.*), model ([\d.]+) µs$")
total = within = 0
stable_all = True
for name, title in (("p2", "P = 2"), ("2x2", "2 workers × 2 devices")):
    sizes = {}
    for run in range(1, runs + 1):
        for line in open(f"{out}/{name}-{run}.txt"):
            m = row.match(line)
            if m:
                size, measured, wrong, plan, model = m.groups()
                plan = re.sub(r", \d+ streams?", "", plan)
                sizes.setdefault(int(size), []).append((float(measured), float(model), plan))
    print(f"== {title}: per run, the plan and model ÷ measured")
    for size in sorted(sizes):
        entries = sizes[size]
        plans = {p for _, _, p in entries}
        stable = len(plans) == 1 and len(entries) == runs
        stable_all &= stable
        ratios = [m / t for t, m, _ in entries]
        total += len(ratios)
        within += sum(1 for r in ratios if 0.75 <= r <= 1.25)
        label = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
        print(f"  {label:>7}  {'same plan' if stable else 'CHANGED  '}  " + "  ".join(f"{r:.2f}" for r in ratios)
              + "   " + " | ".join(sorted(plans)))
print(f"model within ±25% of the measured time: {within} of {total} rows ({100 * within / max(total, 1):.0f}%)")
print(f"the same plan at every size in every run: {'yes' if stable_all else 'no'}")
PY
