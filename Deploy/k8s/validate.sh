#!/usr/bin/env bash
# Validates Kubernetes manifests against the Kubernetes API's JSON schemas, offline, strictly
# (unknown fields are errors), with PyPI's kubernetes-validate installed into a virtual
# environment under .build/ on first use. No cluster or container engine is needed or used.
#
#   Deploy/k8s/validate.sh [--kubernetes-version 1.34.0] FILE...
set -euo pipefail
cd "$(dirname "$0")/../.."
version=1.34.0
if [[ "${1:-}" == "--kubernetes-version" ]]; then version="$2"; shift 2; fi
[[ $# -gt 0 ]] || { echo "validate.sh: give the manifest files" >&2; exit 2; }

venv=.build/kubernetes-validate
if [[ ! -x "$venv/bin/kubernetes-validate" ]]; then
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends python3-venv >/dev/null \
            || { apt-get update >/dev/null && apt-get install -y --no-install-recommends python3-venv >/dev/null; }
    fi
    mkdir -p .build
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'kubernetes-validate==1.37.0'
fi
exec "$venv/bin/kubernetes-validate" --strict --kubernetes-version "$version" "$@"
