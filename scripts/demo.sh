#!/usr/bin/env bash
# The flagship demo: builds the examples and runs each in quick mode, then writes a report with one
# table (model, task, baseline, voxnn's result, training time) and the figures: scripts/demo.sh
# Env: BUILD_DIR (default ./build), VOXNN_OUT (default ./out), JOBS, CMAKE_ARGS (extra configure
# arguments), VOXNN_DEMO_EXAMPLES (a subset, e.g. "segmentation brain_age").
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/lib/deps.sh"

build=${BUILD_DIR:-$root/build}
out=${VOXNN_OUT:-$root/out}
read -ra extra <<<"${CMAKE_ARGS:-}"
read -ra examples <<<"${VOXNN_DEMO_EXAMPLES:-segmentation registration mri_reconstruction pet_reconstruction denoising brain_age}"

voxnn_phase dependencies voxnn_install_deps
voxnn_phase configure cmake -S "$root" -B "$build" "${extra[@]}"
# One example is one translation unit, and `cmake --build --target a b` builds targets one after the
# other (CMake's top Makefile is .NOTPARALLEL), so the examples build side by side instead.
build_examples() {
  printf 'voxnn_%s\n' "${examples[@]}" | xargs -P "$(voxnn_jobs)" -I{} cmake --build "$build" --target {}
}
voxnn_phase build build_examples

mkdir -p "$out"
failed=()
for e in "${examples[@]}"; do
  echo "==> example $e"
  rm -rf "${out:?}/$e"
  status=0
  "$build/examples/voxnn_$e" --quick --out "$out/$e" || status=$?
  if ((status != 0)); then failed+=("$e (exit $status)"); fi
done

# The report: each example wrote its table row and figure names to <example>/result.md.
report=$out/report.md
{
  echo "# voxnn demo report"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, quick mode (scripts/demo.sh). Each model trains on data"
  echo "the example generates and is compared with a classical baseline on the same held-out data."
  echo
  echo "| model | task | baseline | voxnn | train time |"
  echo "|---|---|---|---|---|"
  for e in "${examples[@]}"; do
    if [[ -f $out/$e/result.md ]]; then head -n 1 "$out/$e/result.md"
    else echo "| $e | (failed: no result) | | | |"; fi
  done
  echo
  for e in "${examples[@]}"; do
    [[ -f $out/$e/result.md ]] || continue
    echo "## $e"
    echo
    sed -n 's/^details: //p' "$out/$e/result.md"
    echo
    sed -n 's/^figure: //p' "$out/$e/result.md" | while read -r png; do echo "![$e]($e/$png)"; done
    echo
  done
} >"$report"
cat "$report"
echo "report: $report"
if ((${#failed[@]})); then
  echo "demo: examples that failed or did not beat their baseline: ${failed[*]}" >&2
  exit 1
fi
