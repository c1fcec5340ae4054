#!/usr/bin/env bash
# The main job (README): installs the dependencies, builds the `taskloom` command (dev preset)
# and runs the render-shot workflow (examples/workflows/render-shot.yaml) on this machine with
# the embedded defaults: the local executor and a SQLite database. The workflow is copied to
# build/demo first, so its images, logs and database stay out of the source tree:
#   build/demo/.taskloom/taskloom.db      every run, task, attempt and state change
#   build/demo/.taskloom/logs/            stdout and stderr of every attempt
#   build/demo/render-shot/out/           the rendered frames and the encoded "movie"
#   build/demo/trace.json                 a Chrome trace of the run (ui.perfetto.dev)
# With --slurm, the same workflow runs unchanged on Slurm instead: the one-host cluster of
# scripts/slurm-local.sh (4 fake nodes) is started for it and stopped afterwards by its PIDs
# (one already running is used and left running); each attempt is one sbatch job.
# Usage: scripts/demo.sh [--slurm]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
backend=local
case "${1:-}" in
  "") ;;
  --slurm) backend=slurm ;;
  *) echo "usage: scripts/demo.sh [--slurm]" >&2; exit 2 ;;
esac

echo "== install dependencies"
scripts/install-deps.sh
echo "== build the taskloom command (dev preset)"
cmake --preset dev >/dev/null
cmake --build --preset dev --target taskloom
taskloom=$PWD/build/dev/apps/taskloom/taskloom

demo=build/demo
rm -rf "$demo"
mkdir -p "$demo"
cp -r examples/workflows/. "$demo/"

echo "== taskloom plan $demo/render-shot.yaml"
"$taskloom" plan "$demo/render-shot.yaml"
echo
if [[ $backend == slurm ]]; then
  echo "== the one-host Slurm of scripts/slurm-local.sh"
  if ! scripts/slurm-local.sh status >/dev/null 2>&1; then trap 'scripts/slurm-local.sh stop' EXIT; fi
  eval "$(scripts/slurm-local.sh start)"
  sinfo
  echo
fi
echo "== taskloom run $demo/render-shot.yaml --backend $backend"
status=0
"$taskloom" run "$demo/render-shot.yaml" --backend "$backend" --trace "$demo/trace.json" ||
  status=$?
echo
echo "== taskloom status (from the database)"
(cd "$demo" && "$taskloom" status)
echo
echo "Next, with taskloom=$taskloom, in $demo:"
echo "  \$taskloom logs 1 encode      # what an attempt printed"
echo "  \$taskloom run sim-campaign.yaml, Ctrl-C it, then \$taskloom resume 2"
exit "$status"
