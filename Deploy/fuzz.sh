#!/usr/bin/env bash
# Fuzzes the decoders that read what peers send and what users write, with libFuzzer (it ships
# with the Swift toolchain): control messages (Fuzz/Sources/fuzz-control), data-frame headers
# (fuzz-data-frame) and topology and job files (fuzz-config). Builds them with -sanitize=fuzzer,
# runs each for SECONDS from its committed seed corpus in Fuzz/corpus/ (copied: the committed
# corpus stays as it is), prints each one's executions, and exits non-zero on a crash, keeping
# the input that caused it in runs/fuzz/.
#
#   Deploy/fuzz.sh [SECONDS] [--runs N]     # SECONDS per target (default 60); --runs stops each after N inputs instead
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
runs=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) seconds="$1"; shift ;;
    esac
done
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then export PATH="/opt/swift/usr/bin:$PATH"; fi
Deploy/install-deps.sh
targets=(fuzz-control fuzz-data-frame fuzz-config)
corpora=(control data-frame config)
for target in "${targets[@]}"; do
    swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer --product "$target" >/dev/null
done
bin="$(swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer --show-bin-path)"
work="$(mktemp -d /tmp/straits-fuzz.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p runs/fuzz
status=0
for index in "${!targets[@]}"; do
    target="${targets[$index]}"
    mkdir -p "$work/$target"
    cp Fuzz/corpus/"${corpora[$index]}"/* "$work/$target/"
    limit=(-max_total_time="$seconds")
    [[ -n "$runs" ]] && limit=(-runs="$runs")
    echo "== $target"
    if "$bin/$target" "$work/$target" "${limit[@]}" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="runs/fuzz/$target-" >"$work/$target.log" 2>&1; then
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$target.log" | sed 's/^/   /'
    else
        status=1
        tail -40 "$work/$target.log"
        echo "fuzz.sh: $target failed; the input is in runs/fuzz/" >&2
    fi
done
exit "$status"
