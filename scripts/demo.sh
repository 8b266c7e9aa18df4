#!/usr/bin/env bash
# Builds and runs the demo (examples/train_tiny.cpp): scripts/demo.sh
# Env: BUILD_DIR (default ./build), JOBS, CMAKE_ARGS (extra configure arguments).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/lib/deps.sh"

build=${BUILD_DIR:-$root/build}
read -ra extra <<<"${CMAKE_ARGS:-}"

voxnn_install_deps
cmake -S "$root" -B "$build" "${extra[@]}"
cmake --build "$build" -j "$(voxnn_jobs)" --target voxnn_demo
"$build/examples/voxnn_demo" "$@"
