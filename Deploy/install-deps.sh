#!/usr/bin/env bash
# Installs the system packages Straits builds and tests against, if any is missing:
# libzmq (with CURVE), libnuma, OpenBLAS, and the tools the test and benchmark scripts use.
set -euo pipefail
packages=(libzmq3-dev libnuma-dev libopenblas-dev pkg-config gcc tcpdump)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
