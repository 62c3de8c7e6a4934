#!/usr/bin/env bash
# The arrival-time error across hosts. Runs a sync job on test hosts (every process in its own
# network namespace, Deploy/local-cluster.sh --netns) with each gateway and worker measuring its
# clock's offset to the coordinator's, once as they are and once with skewed clocks (the k-th
# process reads S×k×(−1)^k seconds off, as another host's clock would). Namespaces share the
# machine's clock, so the true offset of every process is known exactly (the skew given), and:
#   - each process's offset error is its measured offset minus the true one;
#   - a message's arrival, stamped in cluster time by its gateway and taken by a rank on its own
#     clock, is off by the gateway's error minus the rank's (the clocks' part), on top of how late
#     the rank took it on its own clock (as on one machine);
# printed per process and per link beside the gateway's delivery precision (its deliveries'
# lateness, p99), which the clocks' part must stay within.
#
#   sudo Benchmarks/clock/run.sh [--skew S] [--rounds N] [--steps N]
set -euo pipefail
cd "$(dirname "$0")/../.."
skew=0.35
rounds=2
steps=40
while [[ $# -gt 0 ]]; do
    case "$1" in
        --skew) skew="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "clock/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $(id -u) -eq 0 ]] || { echo "clock/run.sh: needs root (network namespaces)" >&2; exit 1; }
bin="$(Benchmarks/release-build.sh)"
work="$(mktemp -d /tmp/straits-clock.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cat >"$work/job.yaml" <<JOB
name: clock
kind: sync
steps: $steps
gradient: 1MiB
compute: 5ms
algo: hier
timeout: 30s
JOB

runs=()
for round in $(seq "$rounds"); do
    for mode in shared skewed; do
        dir="$work/$mode-$round"
        args=(--netns --bin "$bin" --topology Deploy/topologies/default.yaml --job "$work/job.yaml" --run-dir "$dir")
        [[ $mode == skewed ]] && args+=(--clock-skew "$skew")
        echo "== round $round, clocks $mode"
        Deploy/local-cluster.sh "${args[@]}" >"$work/$mode-$round.log" 2>&1 \
            || { tail -20 "$work/$mode-$round.log"; exit 1; }
        runs+=("$mode:$dir")
    done
done
python3 - "$skew" "${runs[@]}" <<'PY'
import json, re, sys, glob, os
skew = float(sys.argv[1])
print()
print("Offsets: cluster (coordinator) time minus each process's clock, as measured and as true (the skew given).")
worst_offset = 0.0
rows = []
for arg in sys.argv[2:]:
    mode, directory = arg.split(":", 1)
    # The order local-cluster.sh starts them in: gateways (topology order), then workers.
    regions = re.findall(r"^\s*-\s*name:\s*(\S+)", open(directory + "/topology.yaml").read(), re.M)
    order = [f"gateway-{r}" for r in regions] + [f"worker-{r}-{h}" for r in regions for h in (0, 1)]
    errors = {}
    for k, name in enumerate(order, start=1):
        text = open(f"{directory}/logs/{name}.log").read()
        found = re.search(r"clock: (-?[0-9.]+) µs behind the coordinator's \(within ±([0-9.]+) µs", text)
        if not found:
            print(f"  {mode}: {name} logged no clock measurement"); sys.exit(1)
        measured, bound = float(found.group(1)), float(found.group(2))
        injected = skew * k * (-1 if k % 2 else 1) if mode == "skewed" else 0.0
        true = -injected * 1e6
        errors[name] = measured - true
        worst_offset = max(worst_offset, abs(measured - true))
        rows.append((mode, name, true, measured, measured - true, bound))
    links = [json.loads(l) for l in open(directory + "/links.jsonl") if '"kind":"final"' in l]
    for link in links:
        gateway = errors[f"gateway-{link['from']}"]
        receivers = [errors[f"worker-{link['to']}-{h}"] for h in (0, 1)]
        link["_error"] = max(abs(gateway - r) for r in receivers)
        link["_mode"] = mode
        link["_dir"] = os.path.basename(directory)
        rows.append(("link", link))
print(f"  {'run':<10} {'process':<24} {'true µs':>14} {'measured µs':>14} {'error µs':>9} {'bound µs':>9}")
for row in rows:
    if row[0] == "link": continue
    mode, name, true, measured, error, bound = row
    print(f"  {mode:<10} {name:<24} {true:>14.1f} {measured:>14.1f} {error:>9.1f} {bound:>9.1f}")
print(f"  largest offset error: {worst_offset:.1f} µs")
print()
print("Arrivals per link (final records): the gateway's delivery lateness p99 is its precision; the clocks'")
print("error in an arrival is |gateway's offset error − receiver's| (worst receiver); beside it, how late the")
print("receivers took arrivals on their own clocks (p99), as they do on one machine.")
print(f"  {'run':<12} {'link':<26} {'arrivals':>8} {'clock error µs':>14} {'gateway late p99 µs':>19}  within  {'taken p99 µs':>12}")
within = 0
total = 0
for row in rows:
    if row[0] != "link": continue
    link = row[1]
    total += 1
    ok = link["_error"] <= link["late_p99_us"]
    within += ok
    print(f"  {link['_dir']:<12} {link['from'] + '→' + link['to']:<26} {link.get('arrivals', 0):>8} "
          f"{link['_error']:>14.1f} {link['late_p99_us']:>19.1f}  {'yes' if ok else 'NO':<6}  {link.get('arrival_late_p99_us', 0):>12.1f}")
print(f"  {within} of {total} links within the gateway's delivery precision")
PY
