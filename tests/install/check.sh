#!/usr/bin/env bash
# Installs taskloom from an already-configured build tree into a temporary prefix, then
# configures, builds and runs the consumer project in this folder against that prefix only.
# Usage: tests/install/check.sh [BUILD_DIR]    (default: build/dev)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-"$root/build/dev"}
[[ -f "$build/CMakeCache.txt" ]] || { echo "check.sh: $build is not a configured build tree" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/taskloom-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

cmake --build "$build" --target taskloom_core taskloom_graph taskloom_runtime taskloom_cluster \
  taskloom_store taskloom_backends taskloom_workflow taskloom_runner
cmake --install "$build" --prefix "$work/prefix"
cmake -S "$root/tests/install" -B "$work/consumer" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
cmake --build "$work/consumer"
"$work/consumer/consumer"
