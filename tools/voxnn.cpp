// voxnn: the command-line tool.
//   voxnn --version   the library version
//   voxnn info        how this binary was built (compiler, SIMD, OpenMP, CBLAS, CUDA)
//   voxnn info FILE   what a NIfTI or safetensors file holds (io/info.cpp)
//   voxnn slices      a PNG montage of a volume's orthogonal slices (io/slices.cpp)
//   voxnn resample    a volume resampled to a spacing or onto another volume's grid (io/resample.cpp)
//   voxnn op NAME     runs one torch.nn.functional operator on named tensors (op/op.hpp)
//   voxnn run MODEL   runs a model of the zoo on weights exported from its reference (run/run.hpp)
// New subcommands go into `commands` below.
#include <Eigen/Core>

#include <cstdio>
#include <functional>
#include <string_view>

#include <voxnn/version.hpp>

#include "io/io_commands.hpp"
#include "op/op.hpp"
#include "run/run.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef VOXNN_WITH_CUDA
#include <voxnn/backend/cuda/runtime.hpp>
#endif

namespace {

const char* compiler() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

int info(int argc, char** argv) {
  if (argc > 1) return voxnn::tools::info_file_command(argc, argv);  // voxnn info FILE [--json]
  std::printf("voxnn %s\n", voxnn::version_string);
  std::printf("build type: %s\n", VOXNN_BUILD_TYPE);
  std::printf("compiler:   %s, C++ %ld\n", compiler(), static_cast<long>(__cplusplus));
  std::printf("eigen:      %d.%d.%d, SIMD: %s\n", EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION,
              EIGEN_MINOR_VERSION, Eigen::SimdInstructionSetsInUse());
#ifdef _OPENMP
  std::printf("openmp:     on, %d threads\n", omp_get_max_threads());
#else
  std::printf("openmp:     off\n");
#endif
#ifdef VOXNN_USE_CBLAS
  std::printf("cblas:      on\n");
#else
  std::printf("cblas:      off\n");
#endif
#ifdef VOXNN_WITH_CUDA
  std::printf("cuda:       on, %d device(s)\n", voxnn::cuda::device_count());
#else
  std::printf("cuda:       off\n");
#endif
  return 0;
}

int usage(FILE* out) {
  std::fprintf(out,
               "usage: voxnn --version\n"
               "       voxnn info\n"
               "       voxnn info FILE [--json] [--header-only]\n"
               "       voxnn slices VOLUME -o OUT.png [--overlay LABEL] [--slices i,j,k] [--window lo,hi] "
               "[--compare B.nii ...]\n"
               "       voxnn resample IN OUT (--spacing sx,sy,sz | --like OTHER) [--mode trilinear|nearest] "
               "[--reorient RAS]\n"
               "       voxnn op NAME --config CONFIG.json --input IN.safetensors --output OUT.safetensors "
               "[--backward]\n"
               "       voxnn op --list\n"
               "       voxnn run MODEL --config CONFIG.json --weights W.safetensors --input IN.safetensors "
               "--output OUT.safetensors\n"
               "       voxnn run --list\n"
               "`voxnn COMMAND --help` describes a command.\n");
  return out == stdout ? 0 : 2;
}

struct Command {
  std::string_view name;
  std::function<int(int, char**)> run;
};

}  // namespace

int main(int argc, char** argv) {
  const Command commands[] = {
      {"info", info},
      {"slices", voxnn::tools::slices_command},
      {"resample", voxnn::tools::resample_command},
      {"op", voxnn::tools::op_command},
      {"run", voxnn::tools::run_command},
  };
  if (argc < 2) return usage(stderr);
  const std::string_view arg = argv[1];
  if (arg == "--version" || arg == "-V") {
    std::printf("voxnn %s\n", voxnn::version_string);
    return 0;
  }
  if (arg == "--help" || arg == "-h") return usage(stdout);
  for (const auto& command : commands)
    if (command.name == arg) return command.run(argc - 1, argv + 1);
  std::fprintf(stderr, "voxnn: unknown command '%s'\n", argv[1]);
  return usage(stderr);
}
