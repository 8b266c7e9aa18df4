# Sourced by scripts/test.sh and scripts/demo.sh: installs the Debian 12 packages voxnn needs,
# only those missing, so a prepared machine makes no network calls. CUDA is not a Debian package;
# it is used when present under /usr/local/cuda.
VOXNN_DEBIAN_PACKAGES=(build-essential cmake git ca-certificates libeigen3-dev catch2 zlib1g-dev
  nlohmann-json3-dev libopenblas-dev libopenblas-openmp-dev libbenchmark-dev)

# Only the test command (scripts/test.sh) needs these: clang-14 with its libFuzzer and sanitizer
# runtimes builds the io.fuzz_* targets (tests/fuzz). The demo does not install them.
VOXNN_TEST_PACKAGES=(clang-14 libclang-rt-14-dev)

voxnn_install_deps() {
  local missing=() pkg wanted=("${VOXNN_DEBIAN_PACKAGES[@]}")
  if [[ ${0##*/} == test.sh ]]; then wanted+=("${VOXNN_TEST_PACKAGES[@]}"); fi
  command -v dpkg >/dev/null || { echo "deps: not a Debian system; install: ${wanted[*]}" >&2; return 0; }
  for pkg in "${wanted[@]}"; do
    dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  echo "deps: installing ${missing[*]}"
  local sudo=()
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || { echo "deps: run as root or install: ${missing[*]}" >&2; return 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Parallel jobs: every core, but no more than one per 3 GiB of free memory (template-heavy test
# files take 1-2 GiB each to compile). JOBS overrides.
voxnn_jobs() {
  if [[ -n ${JOBS:-} ]]; then echo "$JOBS"; return; fi
  local cores mem_gib
  cores=$(nproc)
  mem_gib=$(awk '/^MemAvailable:/ {print int($2 / 1048576)}' /proc/meminfo 2>/dev/null || echo 0)
  local by_mem=$((mem_gib / 3))
  ((by_mem < 1)) && by_mem=1
  echo $((cores < by_mem ? cores : by_mem))
}

# voxnn_phase NAME COMMAND...: runs COMMAND and prints how long it took.
voxnn_phase() {
  local name=$1 start=$SECONDS
  shift
  echo "==> $name"
  "$@"
  echo "==> $name: $((SECONDS - start)) s"
}
