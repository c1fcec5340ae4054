#!/usr/bin/env bash
# The project's test command (README, CI). Stops at the first failure.
#   1. deps     scripts/install-deps.sh
#   2. dev      dev preset: build everything, full ctest, run every example
#   3. asan     asan preset (AddressSanitizer + UBSan): build everything, full ctest
#   4. tsan     tsan preset (ThreadSanitizer): the runtime, backends and runner tests
#   5. slurm    scripts/test-slurm.sh: the Slurm backend against a one-host Slurm it starts/stops
#   6. install  cmake --install to a temporary prefix, build and run tests/install against it
#   7. format   clang-format --dry-run --Werror on every tracked (or new, unignored) C++ file;
#               each C++ example in README.md is the examples/ file it names
# Usage: scripts/test.sh [STAGE...]    e.g. `scripts/test.sh tsan format`; default: all, in order
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

JOBS=2  # the machine has 2 cores, shared
export CTEST_PARALLEL_LEVEL=$JOBS CMAKE_BUILD_PARALLEL_LEVEL=$JOBS
# Sanitizer settings also apply at build time, when gtest_discover_tests runs the binaries.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

start_all=$SECONDS
stage_name=""
stage_start=$SECONDS
timings=()
passed_total=0
logdir=$(mktemp -d "${TMPDIR:-/tmp}/taskloom-test.XXXXXX")

on_exit() {
  local rc=$?
  rm -rf "$logdir"
  if [[ $rc -ne 0 ]]; then
    echo
    if [[ -n "$stage_name" ]]; then
      [[ ${#timings[@]} -eq 0 ]] || echo "test.sh: stages passed: ${timings[*]}"
      echo "test.sh: FAILED in stage '${stage_name}' after $((SECONDS - stage_start))s" \
        "(exit $rc; total $((SECONDS - start_all))s)"
    else
      echo "test.sh: FAILED (exit $rc)"
    fi
  fi
}
trap on_exit EXIT

stage() {
  end_stage
  stage_name=$1
  stage_start=$SECONDS
  echo
  echo "================================================================================"
  echo "== $1: $2"
  echo "================================================================================"
}
end_stage() {
  if [[ -n "$stage_name" ]]; then timings+=("$stage_name $((SECONDS - stage_start))s"); fi
  stage_name=""
}

# A command that ends in a ctest run, with its output kept so the summary can count the tests.
run_counted() {
  local log="$logdir/ctest-$stage_name.log"
  "$@" 2>&1 | tee "$log"
  local n
  n=$(sed -nE 's/^[0-9]+% tests passed, 0 tests failed out of ([0-9]+).*/\1/p' "$log" | tail -n 1)
  passed_total=$((passed_total + ${n:-0}))
}

run_ctest() {
  run_counted ctest "$@"
}

stage_deps() {
  scripts/install-deps.sh
}

stage_dev() {
  cmake --preset dev
  cmake --build --preset dev
  run_ctest --preset dev
  local example
  for example in build/dev/examples/example_*; do
    [[ -x "$example" ]] || continue
    echo "-- running $example"
    # Run from the log folder so that files the examples write (traces) stay out of the tree.
    (cd "$logdir" && timeout 120 "$root/$example" >"$logdir/example.log" 2>&1) || {
      cat "$logdir/example.log"
      echo "example $example failed"
      return 1
    }
    tail -n 3 "$logdir/example.log"
  done
}

stage_asan() {
  cmake --preset asan
  cmake --build --preset asan
  run_ctest --preset asan
}

stage_tsan() {
  cmake --preset tsan
  # The concurrent layers: the runtime, the backends' watcher thread, the runner over both.
  cmake --build --preset tsan --target runtime_tests runtime_stress_tests runtime_internal_tests \
    backends_tests runner_tests
  run_ctest --preset tsan -L "runtime|backends|runner"
}

stage_slurm() {
  run_counted scripts/test-slurm.sh
}

stage_install() {
  [[ -f build/dev/CMakeCache.txt ]] || cmake --preset dev
  tests/install/check.sh build/dev
}

stage_format() {
  local sources
  mapfile -t sources < <(git ls-files --cached --others --exclude-standard -- '*.cpp' '*.hpp' |
    sort -u | while IFS= read -r f; do if [[ -f "$f" ]]; then printf '%s\n' "$f"; fi; done)
  [[ ${#sources[@]} -gt 0 ]] || { echo "no C++ files found (is this a git checkout?)"; return 1; }
  echo "checking ${#sources[@]} files"
  clang-format --dry-run --Werror "${sources[@]}"
  # Each C++ block of the README is the example file its first line names, word for word.
  local blocks block name
  blocks=$(mktemp -d)
  awk -v dir="$blocks" '/^```cpp$/ {n++; on = 1; next} on && /^```$/ {on = 0; next}
                        on {print > (dir "/" n)}' README.md
  for block in "$blocks"/*; do
    name=$(sed -nE '1s|^// (examples/[A-Za-z0-9_]+\.cpp) .*|\1|p' "$block")
    [[ -n "$name" ]] || { echo "a C++ block of README.md does not start with // examples/<file>.cpp"; return 1; }
    diff "$block" "$name" || { echo "README.md's C++ example differs from $name"; return 1; }
  done
  rm -rf "$blocks"
}

declare -A about=(
  [deps]="install the Debian packages"
  [dev]="dev preset: build, ctest, examples"
  [asan]="asan preset (address;undefined): build, ctest"
  [tsan]="tsan preset (thread): runtime, backends and runner tests"
  [slurm]="the Slurm backend against a one-host Slurm (scripts/test-slurm.sh)"
  [install]="install to a temporary prefix and build tests/install against it"
  [format]="clang-format --dry-run --Werror; README examples == examples/*.cpp"
)
selected=("$@")
[[ ${#selected[@]} -gt 0 ]] || selected=(deps dev asan tsan slurm install format)
for name in "${selected[@]}"; do
  [[ -n "${about[$name]:-}" ]] || { echo "unknown stage '$name' (stages: ${!about[*]})"; exit 2; }
done
for name in "${selected[@]}"; do
  stage "$name" "${about[$name]}"
  "stage_$name"
done
end_stage

echo
echo "test.sh: stage times: ${timings[*]}; total $((SECONDS - start_all))s"
echo "test.sh: ${passed_total} passed, 0 failed"
