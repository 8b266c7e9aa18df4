// One training step of a 3-D U-Net (bench/unet_bench_model.hpp: 16-32-64-128 channels, two conv3d k3 +
// BatchNorm3d + ReLU per level, max-pool down, ConvTranspose3d k2 s2 up, concatenated skips, 1x1 head to
// 2 classes) on a 1 x 1 x 64^3 input, float:
//
//   unet_train_step   optimizer.zero_grad(); loss = cross_entropy(net(x), labels); loss.backward();
//                     optimizer.step()   with Adam (lr 1e-3), the network in training mode
//
// x is a fixed random volume, labels a fixed two-class volume (a ball of radius 20 voxels); network,
// optimizer and data are created once and trained on through warm-up and all repetitions. Counters:
// `peak_rss_mib`, the process's peak resident set size (VmHWM, see peak_rss_mib()) when the repetition ends;
// the binary runs nothing but this network, so this is the peak of a few training steps, comparable with
// the fresh PyTorch process compare_pytorch.py starts for its side. The final peak is also printed to
// stderr. `parameters`: the network's parameter count.
//
// Protocol (docs/benchmarks.md, defaults in protocol.hpp): 0.3 s warm-up (at least one step), 5
// repetitions, median of wall-clock time.
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "voxnn/autograd/autograd.hpp"
#include "voxnn/core/core.hpp"
#include "voxnn/losses/classification.hpp"
#include "voxnn/optim/adam.hpp"

#include "protocol.hpp"
#include "unet_bench_model.hpp"

namespace {

using voxnn::Tensor;
using V = voxnn::Var<float>;

constexpr int64_t kSize = 64;
constexpr int64_t kClasses = 2;

// Peak resident set size of this process's address space: VmHWM from /proc/self/status. Not
// getrusage's ru_maxrss alone: on Linux that survives fork + exec, so a benchmark started by a large
// process (compare_pytorch.py has PyTorch loaded) would report its parent's RSS. ru_maxrss is the
// fallback where /proc is missing.
double ru_maxrss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // "VmHWM:   123456 kB"
  return ru_maxrss_mib();
}

// 1 inside the ball of radius 20 around the centre, 0 outside; [1, 64, 64, 64].
Tensor<int64_t> ball_labels() {
  Tensor<int64_t> labels = voxnn::zeros<int64_t>({1, kSize, kSize, kSize});
  int64_t* out = labels.data();
  const int64_t c = kSize / 2, r2 = 20 * 20;
  for (int64_t d = 0; d < kSize; ++d)
    for (int64_t h = 0; h < kSize; ++h)
      for (int64_t w = 0; w < kSize; ++w)
        out[(d * kSize + h) * kSize + w] = (d - c) * (d - c) + (h - c) * (h - c) + (w - c) * (w - c) < r2 ? 1 : 0;
  return labels;
}

// The network, optimizer and data live across repetitions, so every repetition times steady-state steps
// (Adam's moments allocated, the caching allocator warm), as PyTorch's loop does.
struct Training {
  voxnn::bench::UNet3d<float> net{1, kClasses};
  voxnn::optim::Adam<float> opt{net.parameters(), {.lr = 1e-3}};
  V x;
  Tensor<int64_t> labels = ball_labels();
  Training() {
    net.train();
    voxnn::Generator gen(2024);
    x = V(voxnn::randn<float>({1, 1, kSize, kSize, kSize}, gen));
  }
  float step() {
    opt.zero_grad();
    V loss = voxnn::losses::cross_entropy(net.forward(x), labels);
    loss.backward();
    opt.step();
    return loss.value().data()[0];
  }
  static Training& get() {
    static Training t;
    return t;
  }
};

void unet_train_step(benchmark::State& state) {
  Training& t = Training::get();
  float last = 0;
  for (auto _ : state) {
    // the loss is read, not passed to DoNotOptimize: Google Benchmark 1.7's DoNotOptimize(float&)
    // was seen to corrupt the value
    last = t.step();
  }
  state.counters["peak_rss_mib"] = peak_rss_mib();
  state.counters["ru_maxrss_mib"] = ru_maxrss_mib();
  state.counters["parameters"] = static_cast<double>(t.net.num_parameters());
  state.counters["nthreads"] = voxnn::num_threads();
  state.counters["last_loss"] = last;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("unet_train_step", unet_train_step)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::AddCustomContext("unet", "16-32-64-128, BatchNorm3d, input 1x1x64^3, 2 classes, Adam lr 1e-3");
  const int rc = voxnn::bench::run_main(argc, argv);
  std::fprintf(stderr, "voxnn_bench_unet: peak RSS %.1f MiB (VmHWM; getrusage ru_maxrss %.1f MiB)\n", peak_rss_mib(),
               ru_maxrss_mib());
  return rc;
}
