#!/usr/bin/env bash
# The main job (README): installs the dependencies, builds the dev preset and runs the
# render-shot demo (examples/01_render_shot.cpp), which prints its run report and writes a
# Chrome trace to build/dev/render_shot_trace.json (open it in ui.perfetto.dev).
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== install dependencies"
scripts/install-deps.sh
echo "== build (dev preset)"
cmake --preset dev >/dev/null
cmake --build --preset dev --target example_01_render_shot
echo "== run examples/01_render_shot.cpp (in build/dev)"
cd build/dev
exec ./examples/example_01_render_shot
