#!/usr/bin/env bash
# Builds everything and runs the whole test suite: scripts/test.sh
# Env: BUILD_DIR (default ./build), JOBS, CMAKE_ARGS (extra configure arguments).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/lib/deps.sh"

build=${BUILD_DIR:-$root/build}
jobs=$(voxnn_jobs)
read -ra extra <<<"${CMAKE_ARGS:-}"

voxnn_phase dependencies voxnn_install_deps
voxnn_phase configure cmake -S "$root" -B "$build" "${extra[@]}"
voxnn_phase build cmake --build "$build" -j "$jobs"
voxnn_phase test ctest --test-dir "$build" --output-on-failure -j "$jobs"
