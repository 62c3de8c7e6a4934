#!/usr/bin/env bash
# A real, throw-away Slurm on this machine, for tests: munge, slurmctld and NODES slurmd, each
# slurmd on a test host of its own (a network namespace with its own address and hostname,
# Deploy/netns/hosts.sh), all configured in a temporary directory. Runs COMMAND with SLURM_CONF
# pointing at that configuration, so that sbatch, srun, squeue and scontrol in it use this
# cluster, then stops every daemon it started and removes the namespaces, also on failure or
# Ctrl-C. Exits with COMMAND's status.
#
#   Deploy/slurm/throwaway.sh [--nodes N] [--cpus C] -- COMMAND [ARGS...]
#
# Installs munge and Slurm (slurmctld, slurmd, slurm-client) if missing. Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."

nodes=3
cpus="$(nproc)"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --nodes) nodes="$2"; shift 2 ;;
        --cpus) cpus="$2"; shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "throwaway.sh: unknown argument $1 (--help lists them)" >&2; exit 2 ;;
    esac
done
[[ $# -gt 0 ]] || { echo "throwaway.sh: give a command after --" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "throwaway.sh: needs root (slurmd, munge, network namespaces)" >&2; exit 1; }

missing=()
for package in munge slurmctld slurmd slurm-client iproute2; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "throwaway.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

source Deploy/netns/hosts.sh
dir="$(mktemp -d /tmp/straits-slurm.XXXXXX)"
chmod 755 "$dir"
daemons=()
munged_pid=""
cleanup() {
    local pid
    for pid in "${daemons[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do
        local alive=0
        for pid in "${daemons[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ $alive -eq 0 ]] && break
        sleep 0.1
    done
    for pid in "${daemons[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    if [[ -n "$munged_pid" ]]; then
        # A process started with SIGTERM blocked (as a test harness may start this script) keeps
        # it blocked: KILL follows when TERM was not enough.
        kill -TERM "$munged_pid" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$munged_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$munged_pid" 2>/dev/null || true
    fi
    hosts_down
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# munge: one daemon for the machine (a running one is shared), with the package's key.
if ! pgrep -x munged >/dev/null; then
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
    runuser -u munge -- /usr/sbin/munged
    munged_pid="$(pgrep -nx munged)"
fi

hosts_up "$nodes"
names=()
for (( i = 1; i <= nodes; i++ )); do names+=("$(hosts_namespace "$i")"); done
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / nodes / 2 ))
{
    echo "ClusterName=straits-throwaway"
    echo "SlurmctldHost=localhost($hosts_subnet.1)"
    echo "SlurmctldPort=$(( 20000 + $$ % 10000 ))"
    echo "SlurmdPort=$(( 30000 + $$ % 10000 ))"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "AuthType=auth/munge"
    echo "StateSaveLocation=$dir/state"
    echo "SlurmdSpoolDir=$dir/spool/%n"
    echo "SlurmctldPidFile=$dir/slurmctld.pid"
    echo "SlurmdPidFile=$dir/slurmd-%n.pid"
    echo "SlurmctldLogFile=$dir/slurmctld.log"
    echo "SlurmdLogFile=$dir/slurmd-%n.log"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "MpiDefault=none"
    echo "ReturnToService=2"
    echo "MailProg=/bin/true"
    echo "SlurmctldTimeout=30"
    echo "SlurmdTimeout=30"
    echo "InactiveLimit=0"
    echo "KillWait=5"
    echo "SchedulerType=sched/backfill"
    for (( i = 1; i <= nodes; i++ )); do
        echo "NodeName=${names[$((i - 1))]} NodeAddr=$(hosts_address "$i") CPUs=$cpus RealMemory=$memory State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES"
} >"$dir/slurm.conf"
mkdir -p "$dir/state"
for name in "${names[@]}"; do mkdir -p "$dir/spool/$name"; done
export SLURM_CONF="$dir/slurm.conf"

slurmctld -D -i -f "$SLURM_CONF" >"$dir/slurmctld.out" 2>&1 &
daemons+=($!)
# slurmd with its namespace's network and a UTS namespace of its own for its hostname (not
# `ip netns exec`: it remounts /sys, and slurmd dies without /sys/fs/cgroup).
for name in "${names[@]}"; do
    nsenter --net="/run/netns/$name" unshare --uts sh -c "hostname $name; exec slurmd -D -N $name -f $SLURM_CONF" \
        >"$dir/slurmd-$name.out" 2>&1 &
    daemons+=($!)
done

# Until every node is idle (slurmctld needs a moment to hear from each slurmd).
for _ in $(seq 150); do
    idle=$(sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l || true)
    [[ $idle -ge $nodes ]] && break
    sleep 0.2
done
if [[ ${idle:-0} -lt $nodes ]]; then
    echo "throwaway.sh: only ${idle:-0} of $nodes nodes came up; slurmctld says:" >&2
    tail -n 20 "$dir/slurmctld.log" "$dir"/slurmd-*.log >&2 2>/dev/null || true
    exit 1
fi
echo "== throw-away Slurm: $nodes nodes idle (${names[*]}), SLURM_CONF=$SLURM_CONF"
status=0
"$@" || status=$?
exit "$status"
