#!/usr/bin/env bash
# Goodput against fault rate: DDP, hierarchical-local and DiLoCo across three emulated regions
# (Benchmarks/faults/three-regions.yaml: 2 hosts each, 1 Gbit/s, 20 ms), each through three
# levels of faults: none; 120 host kills and 240 link outages (3 s each) an hour; 480 kills and
# 960 outages an hour. Each schedule runs first without faults; its faults then strike at random
# times and places (seeded), as many as the rate gives over that run's length, so that every
# schedule meets the same number per minute. Kills are SIGKILLs of a worker, restarted after 1 s
# by Deploy/local-cluster.sh --restart; the job goes on down to 3 hosts in 2 regions (a region
# whose two workers are both down catches up from another region's state when they are back).
#
# Per run: the faults that struck, wall time, useful samples per second, that against the same
# schedule's run without faults (goodput), against the run's own undisturbed steps, the attempts
# given up, and the final loss.
#
# Each schedule runs long enough (about 45 s here) for its faults to count: DDP 400 steps,
# hierarchical-local 1200, DiLoCo 1400 (--steps N runs every schedule N steps).
#
#   Benchmarks/faults/goodput.sh [--steps N] [--seed S] [--schedules LIST] [--bin DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
steps=""
seed=7
schedules="ddp,hierarchical-local,diloco"
bin=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --steps) steps="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --schedules) schedules="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "goodput.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -n "$bin" ]] || bin="$(Benchmarks/release-build.sh)"
work="$(mktemp -d /tmp/straits-goodput.XXXXXX)"
trap 'rm -rf "$work"' EXIT
topology=Benchmarks/faults/three-regions.yaml

# Writes the job of one schedule at one fault level: kills and outages at random times over its
# first HORIZON seconds (the run without faults' length), as many as the rates give.
write_job() {
    python3 - "$@" <<'PY'
import random, sys
schedule, kills_per_hour, outages_per_hour, steps, seed, horizon, path = sys.argv[1:8]
kills_per_hour, outages_per_hour, steps, horizon = float(kills_per_hour), float(outages_per_hour), int(steps), float(horizon)
rng = random.Random(f"{seed}/{kills_per_hour}/{outages_per_hour}")
regions = ["us-east", "eu-west", "ap-south"]
sync = {"ddp": "{ name: ddp, sync: ddp }",
        "hierarchical-local": "{ name: hierarchical-local, sync: hierarchical-local, every: 10 }",
        "diloco": "{ name: diloco, sync: diloco, every: 20, outer_lr: 0.7, outer_momentum: 0.9 }"}[schedule]
faults = []
for _ in range(round(kills_per_hour * horizon / 3600)):
    faults.append(f"  - {{ kill: worker, region: {rng.choice(regions)}, host: {rng.randrange(2)}, at: {rng.uniform(2, horizon):.1f}s }}")
for _ in range(round(outages_per_hour * horizon / 3600)):
    a, b = rng.sample(regions, 2)
    faults.append(f"  - {{ link: [{a}, {b}], at: {rng.uniform(2, horizon):.1f}s, for: 3s, down: true }}")
with open(path, "w") as out:
    out.write(f"""name: goodput-{schedule}
kind: train
steps: {steps}
model: {{ layers: [32, 256, 128, 8] }}
data: {{ seed: 3, batch: 16, shard: 2048, teacher_hidden: 16 }}
optimizer: {{ name: adamw, lr: 0.003 }}
compute: {{ mode: synthetic, tflops: 1, mfu: 1, scale: 4000 }}
bucket: 64KiB
timeout: 30s
quorum: {{ hosts: 3, regions: 2 }}
schedules:
  - {sync}
""" + ("faults:\n" + "\n".join(faults) + "\n" if faults else ""))
PY
}

# One row from a run directory: schedule, level, faults, wall, samples/s, goodput vs calm, vs
# undisturbed steps, attempts given up, final loss.
row() {
    python3 - "$@" <<'PY'
import json, sys
run, schedule, level, calm_rate = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
summary = json.load(open(run + "/summary.json"))
g = summary.get("goodput") or {}
faults = summary.get("faults") or []
kills = sum(1 for f in faults if f["kind"] == "kill")
links = sum(1 for f in faults if f["kind"] == "link")
rate = g.get("samples_per_s") or 0
calm = float(calm_rate) if calm_rate != "-" else rate
loss = summary["training"]["schedules"][0]["final_loss"]
undisturbed = g.get("ratio")
print(f"| {schedule} | {level} | {kills} | {links} | {summary['status']} | {summary['wall_s']:.1f} | {rate:.0f} | "
      f"{rate / calm:.3f} | {undisturbed if undisturbed is None else f'{undisturbed:.3f}'} | {g.get('steps_retried', 0)} | "
      f"{g.get('seconds_lost', 0):.2f} | {loss:.4f} |")
PY
}

echo "Topology $topology; one schedule per run (steps: ${steps:-ddp 400, hierarchical-local 1200, diloco 1400}); faults seeded with $seed."
echo
echo "| schedule | faults (kills/h, outages/h) | kills | link outages | status | wall (s) | samples/s | goodput vs no faults | vs undisturbed steps | attempts given up | seconds lost | final loss |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for schedule in ${schedules//,/ }; do
    case "$schedule" in
        ddp) schedule_steps="${steps:-400}" ;;
        hierarchical-local) schedule_steps="${steps:-1200}" ;;
        *) schedule_steps="${steps:-1400}" ;;
    esac
    calm_rate="-"
    horizon=60
    for level in "0 0" "120 240" "480 960"; do
        read -r kills outages <<<"$level"
        job="$work/$schedule-$kills.yaml"
        write_job "$schedule" "$kills" "$outages" "$schedule_steps" "$seed" "$horizon" "$job"
        run="$work/run-$schedule-$kills"
        if ! Deploy/local-cluster.sh --bin "$bin" --topology "$topology" --job "$job" --run-dir "$run" --restart \
            >"$work/log-$schedule-$kills.txt" 2>&1; then
            echo "| $schedule | $kills, $outages | run failed: $(grep -m1 -o '"reason":"[^"]*' "$run/summary.json" | cut -c11- || true) |"
            continue
        fi
        row "$run" "$schedule" "$kills, $outages" "$calm_rate"
        if [[ $kills == 0 ]]; then
            read -r calm_rate horizon < <(python3 -c "import json; s = json.load(open('$run/summary.json')); print(s['goodput']['samples_per_s'], s['training']['schedules'][0]['wall_s'])")
        fi
    done
done
