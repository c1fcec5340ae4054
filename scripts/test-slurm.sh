#!/usr/bin/env bash
# The Slurm backend's tests against a real Slurm: starts the one-host cluster of
# scripts/slurm-local.sh, runs `ctest --preset slurm` (tests/slurm) on the dev build, and stops
# the cluster's daemons by the PIDs it recorded — also when a test fails. Needs root (the
# cluster runs as SlurmUser=root).
# Usage: scripts/test-slurm.sh [ctest arguments...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
[[ -f build/dev/CMakeCache.txt ]] || cmake --preset dev
cmake --build --preset dev --target slurm_tests taskloom

started_here=0
if ! scripts/slurm-local.sh status >/dev/null 2>&1; then started_here=1; fi
eval "$(scripts/slurm-local.sh start)"
# A cluster this script started is stopped by it; one already running (a developer's) stays.
if ((started_here)); then trap 'scripts/slurm-local.sh stop' EXIT; fi
ctest --preset slurm "$@"
