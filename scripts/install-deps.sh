#!/usr/bin/env bash
# Installs every Debian package taskloom needs to build, test, benchmark and format.
# Idempotent: when every package is already installed it does nothing (and needs no network).
# Usage: scripts/install-deps.sh
set -euo pipefail

# The one list of packages; a layer that needs a library adds it here.
PACKAGES=(
  build-essential     # g++ 12, make, libc headers
  g++
  cmake               # >= 3.25 (CMakePresets.json version 6)
  ninja-build
  pkg-config
  git                 # scripts/test.sh lists tracked files for the format check
  python3             # bench/compare
  clang-format        # format check in scripts/test.sh
  libgtest-dev        # tests
  libgmock-dev
  libbenchmark-dev    # benchmarks
  libtbb-dev          # oneTBB, the benchmarks' baseline
  nlohmann-json3-dev  # runtime: reports and traces as JSON
  libyaml-cpp-dev     # workflow files
  libsqlite3-dev      # store: the embedded SQLite database
  sqlite3             # tests inspect a run's database with the sqlite3 shell
  zsh                 # tests drive `taskloom completion zsh` in an interactive zsh
  libcli11-dev        # the taskloom command line
  libfmt-dev          # formatting in the CLI and store
  slurmctld           # Slurm backend tests: scripts/slurm-local.sh's one-host cluster
  slurmd
  slurm-client        # sbatch, squeue, scancel, sinfo: what the Slurm backend runs
  munge               # Slurm's authentication
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "install-deps: not root and no sudo; install as root: ${missing[*]}" >&2
    exit 1
  }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
