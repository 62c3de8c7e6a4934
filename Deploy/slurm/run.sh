#!/usr/bin/env bash
# Submits Deploy/slurm/straits.sbatch, follows the job until it ends, prints its output, and
# exits with the job's exit status (scontrol's ExitCode; sacct needs slurmdbd, squeue polls
# sooner than sbatch --wait). Cancels the job on Ctrl-C.
#
#   Deploy/slurm/run.sh [SBATCH OPTIONS...] [-- STRAITS.SBATCH OPTIONS...]
#   e.g. Deploy/slurm/run.sh -N 3 -- --bin .build/release --job Deploy/jobs/default.yaml
set -euo pipefail
cd "$(dirname "$0")/../.."

sbatch_options=()
while [[ $# -gt 0 && "$1" != "--" ]]; do sbatch_options+=("$1"); shift; done
[[ "${1:-}" == "--" ]] && shift

job_id="$(sbatch --parsable "${sbatch_options[@]}" Deploy/slurm/straits.sbatch "$@")"
job_id="${job_id%%;*}"
echo "== submitted job $job_id"
trap 'echo "run.sh: cancelling job $job_id" >&2; scancel "$job_id"; exit 130' INT TERM
while squeue -h -j "$job_id" -o '%T' 2>/dev/null | grep -q .; do sleep 0.5; done

info="$(scontrol show job "$job_id" 2>/dev/null || true)"
state="$(grep -o 'JobState=[A-Z_]*' <<<"$info" | cut -d= -f2 || true)"
exit_code="$(grep -o ' ExitCode=[0-9]*:[0-9]*' <<<"$info" | cut -d= -f2 || true)"
output="$(grep -o 'StdOut=[^ ]*' <<<"$info" | cut -d= -f2 || true)"
[[ -n "$output" && -f "$output" ]] && cat "$output"
echo "== job $job_id: ${state:-unknown}, exit code ${exit_code:-unknown}"
status="${exit_code%%:*}"
signal="${exit_code##*:}"
[[ -n "$status" ]] || exit 1
[[ "$signal" != "0" && "$status" == "0" ]] && exit $(( 128 + signal ))
exit "$status"
