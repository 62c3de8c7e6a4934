#!/usr/bin/env bash
# Runs a Straits cluster on this machine: installs missing system packages, builds release,
# starts the coordinator, one gateway per region and one worker process per host of the
# topology, runs the job, prints the per-region summary, and stops every process it started
# (on success, on failure and on Ctrl-C). Exits non-zero when the job fails.
#
#   Deploy/local-cluster.sh [--topology FILE] [--job FILE] [--run-dir DIR] [--netns [--lan-rate RATE]] [--bin DIR]
#                           [--restart]
#
# Defaults: Deploy/topologies/default.yaml, Deploy/jobs/default.yaml, runs/<timestamp>.
# Each process logs to RUN_DIR/logs/.
# --netns runs every process on a test host of its own: a network namespace with its own
# address, joined to the others through a bridge (Deploy/netns/hosts.sh; needs root), so that
# they talk over TCP between separate network stacks as on separate machines. --lan-rate
# shapes what leaves each such host (tc tbf, e.g. 10gbit).
# --bin runs the executables in DIR instead of building release ones.
# --restart restarts a gateway or worker that dies while the job runs, as a supervisor would
# (after 1 s, on the same test host); a job with a quorum takes it back in (docs/elastic.md).
# --keys DIR turns CURVE on for every socket with the cluster's keys in DIR (straits keys DIR
# makes them). With --netns and no --keys, fresh keys are made for the run (every process binds
# off loopback then); --insecure runs in plaintext instead.
# --clock-skew S makes each gateway's and worker's clock read as another host's would: the k-th
# of them (gateways first, from 1) runs with --clock-offset-s S×k×(−1)^k, measures its offset to
# the coordinator's clock, and converts every arrival time with it (for measuring that path).
set -euo pipefail
cd "$(dirname "$0")/.."

topology=Deploy/topologies/default.yaml
job=Deploy/jobs/default.yaml
run_dir="runs/$(date +%Y%m%d-%H%M%S)"
netns=0
lan_rate=""
clock_skew=""
skewed=0
keys=""
insecure=0
bin=""
restart=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --topology) topology="$2"; shift 2 ;;
        --job) job="$2"; shift 2 ;;
        --run-dir) run_dir="$2"; shift 2 ;;
        --netns) netns=1; shift ;;
        --lan-rate) lan_rate="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        --clock-skew) clock_skew="$2"; shift 2 ;;
        --keys) keys="$2"; shift 2 ;;
        --insecure) insecure=1; shift ;;
        --restart) restart=1; shift ;;
        -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "local-cluster.sh: unknown argument $1 (--help lists them)" >&2; exit 2 ;;
    esac
done

if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

Deploy/install-deps.sh
if [[ -z "$bin" ]]; then
    echo "== building (release)"
    swift build -c release --product straits
    swift build -c release --product straits-coordinator
    swift build -c release --product straits-worker
    swift build -c release --product straits-gateway
    bin="$(swift build -c release --show-bin-path)"
fi

# Check both files before starting anything: errors name file, line and field.
"$bin/straits" topology "$topology"
"$bin/straits" job "$job"
hosts="$("$bin/straits" topology "$topology" --hosts)"
regions="$("$bin/straits" topology "$topology" --regions)"
gateway_count=0
[[ $(wc -l <<<"$regions") -gt 1 ]] && gateway_count=$(wc -l <<<"$regions")

# Where each process runs: here (on 127.0.0.1), or with --netns on a test host of its own
# (host 1 the coordinator, then the gateways, then the workers).
if [[ $netns -eq 1 ]]; then
    source Deploy/netns/hosts.sh
fi
next_host=1
launch_prefix=()
launch_address=127.0.0.1
skew_args=()
place() {
    skew_args=()
    if [[ -n "$clock_skew" && $# -gt 0 ]]; then
        skewed=$((skewed + 1))
        skew_args=("--clock-offset-s=$(awk -v s="$clock_skew" -v k="$skewed" 'BEGIN { printf "%.6f", s * k * (k % 2 ? -1 : 1) }')")
    fi
    if [[ $netns -eq 1 ]]; then
        launch_prefix=(ip netns exec "$(hosts_namespace "$next_host")")
        launch_address="$(hosts_address "$next_host")"
        next_host=$((next_host + 1))
    fi
}

mkdir -p "$run_dir/logs"
rm -f "$run_dir/coordinator.endpoint"  # a stale one from an earlier run must not be read
pids=()
stop_processes() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 30); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ $alive -eq 0 ]] && return 0
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
made_keys=""
stop_all() {
    stop_processes
    if [[ $netns -eq 1 ]]; then hosts_down; fi
    if [[ -n "$made_keys" ]]; then rm -rf "$made_keys"; fi
}
trap stop_all EXIT
trap 'echo "local-cluster.sh: interrupted; stopping the cluster" >&2; exit 130' INT TERM

# CURVE: the keys given, or on test hosts (off loopback) fresh ones for this run.
security_args=()
if [[ $insecure -eq 1 ]]; then
    security_args=(--insecure)
elif [[ -z "$keys" && $netns -eq 1 ]]; then
    keys="$(mktemp -d /tmp/straits-keys.XXXXXX)"
    made_keys="$keys"
    "$bin/straits" keys "$keys" --force >/dev/null
fi
[[ -n "$keys" ]] && security_args=(--keys "$keys")

if [[ $netns -eq 1 ]]; then
    echo "== test hosts: $((1 + gateway_count + $(wc -l <<<"$hosts"))) network namespaces${lan_rate:+, egress shaped to $lan_rate}"
    hosts_up "$((1 + gateway_count + $(wc -l <<<"$hosts")))" "$lan_rate"
fi

echo "== starting the coordinator (run directory $run_dir)"
place
coordinator_bind="tcp://127.0.0.1:*"
[[ $netns -eq 1 ]] && coordinator_bind="tcp://$launch_address:5555"
"${launch_prefix[@]}" "$bin/straits-coordinator" --topology "$topology" --job "$job" --run-dir "$run_dir" \
    --bind "$coordinator_bind" "${security_args[@]}" >"$run_dir/logs/coordinator.log" 2>&1 &
coordinator=$!
coordinator_prefix="${launch_prefix[*]}"
pids+=("$coordinator")
tail -n +1 -f --pid="$coordinator" "$run_dir/logs/coordinator.log" &
pids+=($!)

for _ in $(seq 300); do
    [[ -s "$run_dir/coordinator.endpoint" ]] && break
    kill -0 "$coordinator" 2>/dev/null || break
    sleep 0.1
done
if [[ ! -s "$run_dir/coordinator.endpoint" ]]; then
    wait "$coordinator" || true
    echo "local-cluster.sh: the coordinator did not start; see $run_dir/logs/coordinator.log" >&2
    exit 1
fi
endpoint="$(cat "$run_dir/coordinator.endpoint")"
job_id="$(cat "$run_dir/job.id")"

# One gateway per region carries the region's traffic to the others, shaped like the links.
# Each gateway and worker is started by launch, which --restart calls again for one that dies:
# its role and arguments, test host and clock offset are kept by its pid.
declare -A worker_of=() role_of=() prefix_of=() address_of=() skew_of=()
restarts=0
launch() {
    local role="$1" prefix="$2" address="$3" skew="$4"
    shift 4
    local prefix_words=() skew_words=()
    [[ -n "$prefix" ]] && read -r -a prefix_words <<<"$prefix"
    [[ -n "$skew" ]] && skew_words=("$skew")
    if [[ "$role" == gateway ]]; then
        local region="$1"
        "${prefix_words[@]}" "$bin/straits-gateway" --coordinator "$endpoint" --region "$region" \
            --topology "$topology" --bind-address "$address" --job-id "$job_id" "${skew_words[@]}" \
            "${security_args[@]}" >>"$run_dir/logs/gateway-$region.log" 2>&1 &
        worker_of[$!]="gateway $region"
    else
        local region="$1" host="$2" devices="$3"
        "${prefix_words[@]}" "$bin/straits-worker" --coordinator "$endpoint" --region "$region" --host "$host" \
            --devices "$devices" --bind-address "$address" --job-id "$job_id" "${skew_words[@]}" \
            "${security_args[@]}" >>"$run_dir/logs/worker-$region-$host.log" 2>&1 &
        worker_of[$!]="worker $region/host $host"
    fi
    pids+=($!)
    role_of[$!]="$role $*"
    prefix_of[$!]="$prefix"
    address_of[$!]="$address"
    skew_of[$!]="$skew"
}
if [[ $gateway_count -gt 0 ]]; then
    while read -r region; do
        place skewed
        launch gateway "${launch_prefix[*]}" "$launch_address" "${skew_args[*]}" "$region"
    done <<<"$regions"
fi

while read -r region host devices; do
    place skewed
    launch worker "${launch_prefix[*]}" "$launch_address" "${skew_args[*]}" "$region" "$host" "$devices"
done <<<"$hosts"

# Wait for the coordinator; a worker that fails before it is reported at once.
status=""
while kill -0 "$coordinator" 2>/dev/null; do
    for pid in "${!worker_of[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" && code=0 || code=$?
            if [[ $code -ne 0 ]]; then
                echo "local-cluster.sh: ${worker_of[$pid]} exited with status $code; see $run_dir/logs/" >&2
            fi
            unset "worker_of[$pid]"
            if [[ $restart -eq 1 && $code -ne 0 ]] && kill -0 "$coordinator" 2>/dev/null; then
                sleep 1
                restarts=$((restarts + 1))
                read -r -a again <<<"${role_of[$pid]}"
                launch "${again[0]}" "${prefix_of[$pid]}" "${address_of[$pid]}" "${skew_of[$pid]}" "${again[@]:1}"
                echo "local-cluster.sh: restarted ${again[0]} ${again[*]:1} (restart $restarts)" >&2
            fi
        fi
    done
    sleep 0.2
    # --restart: a coordinator killed mid-job is succeeded by one that takes its job over from
    # the state it wrote (elastic jobs); the members wait for it.
    if [[ $restart -eq 1 ]] && ! kill -0 "$coordinator" 2>/dev/null; then
        wait "$coordinator" && code=0 || code=$?
        if [[ $code -eq 137 && -s "$run_dir/coordinator-state.json" ]]; then
            sleep 1
            read -r -a prefix_words <<<"$coordinator_prefix"
            "${prefix_words[@]}" "$bin/straits-coordinator" --resume "$run_dir" --bind "$coordinator_bind" \
                "${security_args[@]}" >>"$run_dir/logs/coordinator.log" 2>&1 &
            coordinator=$!
            pids+=("$coordinator")
            tail -n 0 -f --pid="$coordinator" "$run_dir/logs/coordinator.log" &
            pids+=($!)
            restarts=$((restarts + 1))
            echo "local-cluster.sh: the coordinator was killed; its successor resumes the job (restart $restarts)" >&2
        else
            status=$code
        fi
    fi
done
[[ -n "$status" ]] || { wait "$coordinator" && status=0 || status=$?; }

# Workers leave once the coordinator says stop; give them a moment, then stop_all does the rest.
for _ in $(seq 50); do
    alive=0
    for pid in "${!worker_of[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 0.1
done

echo
echo "== per-region summary"
"$bin/straits" report "$run_dir" || true
echo "run directory: $run_dir (logs in $run_dir/logs/)"
if [[ $status -ne 0 ]]; then
    echo "local-cluster.sh: the job failed (coordinator exit status $status)" >&2
    exit "$status"
fi
