#!/usr/bin/env bash
# Straits' all-reduce beside Open MPI's MPI_Allreduce (ob1, btl tcp and vader) and
# torch.distributed over gloo, in one run on this machine, each measured the same way (barrier,
# then the slowest rank's time, median over iterations; the same integer pattern, checked).
#   P = 2: Straits 2 workers over tcp and over shm; MPI tcp, MPI vader, gloo with 2 processes.
#   P = 4: the same with 4 processes, and Straits as 2 workers × 2 devices over shm.
# Rounds: every tool runs once per round, in an order that rotates from round to round, so that
# the machine's noise falls on all of them alike; each figure is the median of the rounds.
# Each row gives times in µs and the ratio Straits ÷ peer (below 1: Straits is faster).
# Beside each tool: the context switches of the whole machine per all-reduce during its runs
# (/proc/stat, warm-up and barriers counted), and at the end Straits' peak RSS at 64 MiB.
# Usage: Benchmarks/peers/run.sh [--quick] [--rounds N] [--iters N]
#   --quick: one round, 64 KiB, 1 MiB and 16 MiB, 10 iterations (a check in about 2 minutes).
# torch comes from Debian (python3-torch), so the gloo peer runs under /usr/bin/python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=3; iters=20; warmup=5
min=$((64 << 10)); max=$((64 << 20)); factor=4
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) rounds=1; iters=10; warmup=3; factor=16; max=$((16 << 20)); shift ;;
        --rounds) rounds=$2; shift 2 ;;
        --iters) iters=$2; shift 2 ;;
        *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done

"$root/Deploy/install-deps.sh"
need=()
for package in python3-torch openmpi-bin libopenmpi-dev time; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || need+=("$package")
done
if [[ ${#need[@]} -gt 0 ]]; then
    echo "installing: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi

out=$(mktemp -d /tmp/straits-peers.XXXXXX)
cleanup() {
    pkill -f "straits bench-worker" 2>/dev/null || true
    pkill -f "$out/allreduce_mpi" 2>/dev/null || true
    pkill -f allreduce_gloo.py 2>/dev/null || true
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

(cd "$root" && swift build -c release --product straits >/dev/null)
straits="$root/.build/release/straits"
mpicc -O3 -march=native -o "$out/allreduce_mpi" "$here/allreduce_mpi.c"
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none --mca pml ob1)

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "sizes $((min >> 10)) KiB to $((max >> 20)) MiB ×$factor, $iters iterations after $warmup warm-up, $rounds round(s); output in $out"

sizes=0; for ((s = min; s <= max; s *= factor)); do sizes=$((sizes + 1)); done
# One tool's run: writes DAT (size time_us busbw wrong per line) and appends "tool ctxt" to CS.
run_tool() { # p tool dat
    local p=$1 tool=$2 dat=$3 before after
    before=$(awk '/^ctxt/ {print $2}' /proc/stat)
    case $tool in
        straits-tcp | straits-shm | straits-2x2)
            local transport=${tool#straits-} extra=(--ranks "$p")
            [[ $tool == straits-2x2 ]] && { transport=shm; extra=(--ranks 4 --devices-per-worker 2); }
            "$straits" bench allreduce -b $min -e $max -f $factor -n "$iters" -w $warmup -c 1 "${extra[@]}" \
                --transport "$transport" --json "$dat.jsonl" > "$dat.txt"
            python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["size_bytes"], "%.1f" % r["time_us"], "%.3f" % r["busbw_gbps"], r["wrong"], r["algo"].replace(" ", ""))
' "$dat.jsonl" > "$dat" ;;
        mpi-tcp) "${mpirun[@]}" -np "$p" --mca btl self,tcp "$out/allreduce_mpi" $min $max $factor "$iters" $warmup > "$dat" ;;
        mpi-shm) "${mpirun[@]}" -np "$p" --mca btl self,vader "$out/allreduce_mpi" $min $max $factor "$iters" $warmup > "$dat" ;;
        gloo) /usr/bin/python3 "$here/allreduce_gloo.py" "$p" $min $max $factor "$iters" $warmup $((29500 + p)) > "$dat" ;;
    esac
    after=$(awk '/^ctxt/ {print $2}' /proc/stat)
    echo "$tool $(( (after - before) / (sizes * (iters + warmup)) ))" >> "$out/cs-p$p-$tool"
}

for p in 2 4; do
    tools=(straits-tcp mpi-tcp gloo straits-shm mpi-shm)
    [[ $p == 4 ]] && tools+=(straits-2x2)
    for ((round = 0; round < rounds; round++)); do
        n=${#tools[@]}
        for ((i = 0; i < n; i++)); do
            tool=${tools[$(( (i + round * 2) % n ))]}
            run_tool $p "$tool" "$out/$tool-p$p-r$round.dat"
        done
    done
    python3 - "$out" $p $rounds "${tools[@]}" <<'PY'
import statistics, sys
out, p, rounds, tools = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
times, wrong, plans, cs = {}, {}, {}, {}
for tool in tools:
    for r in range(rounds):
        for line in open(f"{out}/{tool}-p{p}-r{r}.dat"):
            f = line.split()
            size = int(f[0])
            times.setdefault((tool, size), []).append(float(f[1]))
            wrong[size] = wrong.get(size, 0) + int(f[3])
            if len(f) > 4: plans.setdefault((tool, size), set()).add(f[4])
    cs[tool] = statistics.median(int(l.split()[1]) for l in open(f"{out}/cs-p{p}-{tool}"))
med = {k: statistics.median(v) for k, v in times.items()}
sizes = sorted({s for (_, s) in med})
pairs = [("straits-tcp", "mpi-tcp"), ("straits-tcp", "gloo"), ("straits-shm", "mpi-shm")]
if "straits-2x2" in tools: pairs.append(("straits-2x2", "mpi-shm"))
print(f"== P = {p}: median time of the slowest rank (µs), median of {rounds} round(s); ratio = Straits ÷ peer")
head = "".join(f"{t:>12}" for t in tools) + "".join(f"{a.split('-')[1] + '/' + b:>14}" for a, b in pairs)
print(f"{'size':>8}{head}  #wrong")
for size in sizes:
    label = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
    row = "".join(f"{med.get((t, size), float('nan')):12.1f}" for t in tools)
    row += "".join(f"{med[(a, size)] / med[(b, size)]:14.2f}" for a, b in pairs)
    print(f"{label:>8}{row}  {wrong[size]}")
print(f"{'cs/op':>8}" + "".join(f"{cs[t]:12d}" for t in tools) + "   (context switches, whole machine, per all-reduce)")
for tool in tools:
    if tool.startswith("straits"):
        chosen = "; ".join(f"{(s >> 20 and str(s >> 20) + 'M') or str(s >> 10) + 'K'} " + "|".join(sorted(plans[(tool, s)])) for s in sizes)
        print(f"{tool} plans per size (every round): {chosen}")
PY
done

echo "== peak RSS of a worker, 64 MiB all-reduce, P = 2 (largest process, /usr/bin/time -v)"
for transport in tcp shm; do
    /usr/bin/time -v "$straits" bench allreduce -b 64M -e 64M -n 5 -w 1 -c 1 --ranks 2 --transport $transport > /dev/null 2> "$out/rss-$transport.txt"
    rss_kib=$(grep "Maximum resident set size" "$out/rss-$transport.txt" | awk '{print $NF}')
    echo "$transport: max RSS $((rss_kib / 1024)) MiB; bound 3 × 64 MiB + 64 MiB = 256 MiB"
done
