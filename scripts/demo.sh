#!/usr/bin/env bash
# The main job (README): installs the dependencies, builds the `taskloom` command (dev preset)
# and runs the render-shot workflow (examples/workflows/render-shot.yaml) on this machine with
# the embedded defaults: the local executor and a SQLite database. The workflow is copied to
# build/demo first, so its images, logs and database stay out of the source tree:
#   build/demo/.taskloom/taskloom.db      every run, task, attempt and state change
#   build/demo/.taskloom/logs/            stdout and stderr of every attempt
#   build/demo/render-shot/out/           the rendered frames and the encoded "movie"
#   build/demo/trace.json                 a Chrome trace of the run (ui.perfetto.dev)
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

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
echo "== taskloom run $demo/render-shot.yaml"
status=0
"$taskloom" run "$demo/render-shot.yaml" --trace "$demo/trace.json" || status=$?
echo
echo "== taskloom status (from the database)"
(cd "$demo" && "$taskloom" status)
echo
echo "Next, with taskloom=$taskloom, in $demo:"
echo "  \$taskloom logs 1 encode      # what an attempt printed"
echo "  \$taskloom run sim-campaign.yaml, Ctrl-C it, then \$taskloom resume 2"
exit "$status"
