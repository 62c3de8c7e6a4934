# Test hosts on one machine: sourced by scripts that run Straits processes each in its own
# network namespace, with its own address, joined by veth pairs through a bridge (optionally
# shaped with tc), so that every process has its own network stack as on separate hosts.
#
#   source Deploy/netns/hosts.sh
#   hosts_up COUNT [RATE]        # namespaces 1..COUNT; RATE (e.g. 10gbit) shapes each host's egress
#   hosts_address I              # host I's address
#   hosts_exec I COMMAND...      # runs COMMAND in host I's namespace
#   hosts_down                   # removes namespaces, veths and the bridge (idempotent)
#
# Names and the subnet derive from the calling shell's PID, so that two runs do not collide.
# Needs root and iproute2 (ip; tc for RATE).

hosts_tag="st$(( $$ % 100000 ))"
hosts_subnet="10.$(( 100 + $$ % 100 )).$(( $$ % 250 ))"
hosts_bridge="${hosts_tag}br"
hosts_count=0

hosts_address() { echo "$hosts_subnet.$(( 10 + $1 ))"; }
hosts_namespace() { echo "${hosts_tag}h$1"; }

hosts_up() {
    local count="$1" rate="${2:-}" i ns veth
    [[ $(id -u) -eq 0 ]] || { echo "netns hosts: need root (network namespaces)" >&2; return 1; }
    command -v ip >/dev/null || { echo "netns hosts: need ip (iproute2)" >&2; return 1; }
    (( count >= 1 && count <= 200 )) || { echo "netns hosts: 1-200 hosts, asked for $count" >&2; return 1; }
    hosts_count="$count"
    ip link add "$hosts_bridge" type bridge
    ip addr add "$hosts_subnet.1/24" dev "$hosts_bridge"
    ip link set "$hosts_bridge" up
    for (( i = 1; i <= count; i++ )); do
        ns="$(hosts_namespace "$i")"
        veth="${hosts_tag}v$i"
        ip netns add "$ns"
        ip link add "$veth" type veth peer name "${veth}p"
        ip link set "$veth" master "$hosts_bridge" up
        ip link set "${veth}p" netns "$ns"
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "${veth}p" name eth0
        ip -n "$ns" addr add "$(hosts_address "$i")/24" dev eth0
        ip -n "$ns" link set eth0 up
        if [[ -n "$rate" ]]; then
            # What leaves the host: a token bucket at RATE with 1 ms of burst (64 KiB at least).
            ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst 256kb latency 50ms
        fi
    done
}

hosts_exec() {
    local i="$1"
    shift
    ip netns exec "$(hosts_namespace "$i")" "$@"
}

hosts_down() {
    local i
    for (( i = 1; i <= hosts_count; i++ )); do
        ip link del "${hosts_tag}v$i" 2>/dev/null || true
        ip netns del "$(hosts_namespace "$i")" 2>/dev/null || true
    done
    ip link del "$hosts_bridge" 2>/dev/null || true
    hosts_count=0
}
