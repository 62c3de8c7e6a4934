#!/usr/bin/env bash
# Straits' all-reduce beside torch.distributed (gloo) and Open MPI's MPI_Allreduce over TCP and
# over shared memory (vader), in one run on this machine, each measured the same way (barrier,
# then the slowest rank's time, median over iterations; same integer pattern, checked).
#   P = 2: every peer with 2 processes; Straits with 2 worker processes over tcp.
#   P = 4: Straits as 2 workers × 2 devices (threads sharing memory, hierarchical); the peers
#          with 4 processes.
# Prints busbw for each and the ratio Straits / peer on each row, and Straits' peak RSS at 64 MiB.
# At P = 2 also the loopback TCP limit (tcp_exchange.c: the bytes a 2-rank ring moves, each way
# at once over one connection, no maths) as busbw, and Straits' share of it.
# Usage: Benchmarks/peers/run.sh [ITERS]   (default 20 iterations, 5 warm-up)
# torch comes from Debian (python3-torch), so the gloo peer runs under /usr/bin/python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
iters=${1:-20}
warmup=5
min=$((64 << 10)); max=$((64 << 20)); factor=4

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
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    pkill -f "straits bench-worker" 2>/dev/null || true
    pkill -f allreduce_mpi 2>/dev/null || true
    pkill -f allreduce_gloo.py 2>/dev/null || true
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

(cd "$root" && swift build -c release --product straits >/dev/null)
straits="$root/.build/release/straits"
mpicc -O3 -march=native -o "$out/allreduce_mpi" "$here/allreduce_mpi.c"
gcc -O2 -o "$out/tcp_exchange" "$here/tcp_exchange.c"
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none --mca pml ob1)

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "sizes 64 KiB to 64 MiB ×4, $iters iterations after $warmup warm-up; output in $out"

run_straits() { # label, extra flags
    local label=$1; shift
    "$straits" bench allreduce -b $min -e $max -f $factor -n "$iters" -w $warmup -c 1 "$@" --json "$out/$label.jsonl" > "$out/$label.txt"
    python3 - "$out/$label.jsonl" > "$out/$label.dat" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["size_bytes"], f'{r["time_us"]:.1f}', f'{r["busbw_gbps"]:.3f}', r["wrong"])
PY
}

for p in 2 4; do
    echo "== P = $p"
    if [[ $p == 2 ]]; then run_straits straits-p2 --ranks 2 --transport tcp
    else run_straits straits-p4 --ranks 4 --devices-per-worker 2 --transport tcp; fi
    /usr/bin/python3 "$here/allreduce_gloo.py" $p $min $max $factor "$iters" $warmup $((29500 + p)) > "$out/gloo-p$p.dat"
    "${mpirun[@]}" -np $p --mca btl self,tcp "$out/allreduce_mpi" $min $max $factor "$iters" $warmup > "$out/mpi-tcp-p$p.dat"
    "${mpirun[@]}" -np $p --mca btl self,vader "$out/allreduce_mpi" $min $max $factor "$iters" $warmup > "$out/mpi-shm-p$p.dat"
    # The floor under any 2-rank all-reduce over loopback TCP: the same bytes each way, no maths.
    if [[ $p == 2 ]]; then "$out/tcp_exchange" $min $max $factor "$iters" $warmup > "$out/tcp-limit-p$p.dat"; fi
    python3 - "$out" $p <<'PY'
import sys
out, p = sys.argv[1], sys.argv[2]
def load(name):
    rows = {}
    for line in open(f"{out}/{name}-p{p}.dat"):
        size, time_us, busbw, wrong = line.split()
        rows[int(size)] = (float(time_us), float(busbw), int(wrong))
    return rows
s, g, t, m = load("straits"), load("gloo"), load("mpi-tcp"), load("mpi-shm")
limit = load("tcp-limit") if p == "2" else {}
label = "Straits 2 workers × 2 devices" if p == "4" else "Straits 2 workers"
print(f"{label}; busbw in GB/s; ratio = Straits / peer")
print(f"{'size':>10} {'Straits':>8} {'gloo':>8} {'MPI tcp':>8} {'MPI shm':>8} {'/gloo':>7} {'/tcp':>7} {'/shm':>7}   time(us) Straits gloo MPI-tcp MPI-shm   #wrong"
      + ("   TCP limit  /limit" if limit else ""))
for size in sorted(s):
    def ratio(peer): return f"{s[size][1] / peer[size][1]:7.2f}" if size in peer and peer[size][1] > 0 else "      -"
    sz = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
    wrong = s[size][2] + g.get(size, (0, 0, 0))[2] + t.get(size, (0, 0, 0))[2] + m.get(size, (0, 0, 0))[2]
    print(f"{sz:>10} {s[size][1]:8.3f} {g[size][1]:8.3f} {t[size][1]:8.3f} {m[size][1]:8.3f} {ratio(g)} {ratio(t)} {ratio(m)}   "
          f"{s[size][0]:9.1f} {g[size][0]:9.1f} {t[size][0]:9.1f} {m[size][0]:9.1f}   {wrong}"
          + (f"   {limit[size][1]:9.3f} {ratio(limit)}" if size in limit else ""))
PY
done

echo "== peak RSS, 64 MiB all-reduce, P = 2 (largest process, /usr/bin/time -v)"
/usr/bin/time -v "$straits" bench allreduce -b 64M -e 64M -n 5 -w 1 -c 1 --ranks 2 > /dev/null 2> "$out/rss.txt"
rss_kib=$(grep "Maximum resident set size" "$out/rss.txt" | awk '{print $NF}')
echo "max RSS $((rss_kib / 1024)) MiB; bound 3 × 64 MiB + 64 MiB = 256 MiB"
