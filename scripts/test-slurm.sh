#!/usr/bin/env bash
# The Slurm backend's tests against a real Slurm: starts the one-host cluster of
# scripts/slurm-local.sh, runs `ctest --preset slurm` (tests/slurm) on the dev build, then the
# backend's own tests built with TSan (when build/tsan is configured), and stops
# the cluster's daemons by the PIDs it recorded — also when a test fails. Needs root (the
# cluster runs as SlurmUser=root).
# Usage: scripts/test-slurm.sh [ctest arguments...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
[[ -f build/dev/CMakeCache.txt ]] || cmake --preset dev
cmake --build --preset dev --target slurm_tests slurm_backend_tests taskloom
# The backend's own threads (submitters, poller) under TSan too, when the tsan tree is there
# (scripts/test.sh's tsan stage configures it).
tsan=0
if [[ -f build/tsan/CMakeCache.txt ]]; then
  cmake --build --preset tsan --target slurm_backend_tests
  tsan=1
fi

started_here=0
if ! scripts/slurm-local.sh status >/dev/null 2>&1; then started_here=1; fi
eval "$(scripts/slurm-local.sh start)"
# A cluster this script started is stopped by it; one already running (a developer's) stays.
if ((started_here)); then trap 'scripts/slurm-local.sh stop' EXIT; fi
ctest --preset slurm "$@"
if ((tsan)); then
  echo "-- the Slurm backend under ThreadSanitizer"
  TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
    build/tsan/tests/slurm/slurm_backend_tests
fi
