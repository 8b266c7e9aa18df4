// Metric and SSIM-loss benchmarks, float:
//
//   hd95_128cubed          metrics::hd95 of two overlapping random-ellipsoid blobs, (1, 2, 128, 128, 128)
//                          one-hot (background + 1 class), spacing (1.2, 0.9, 0.9)
//   ssim_16x320x320        metrics::ssim (fastMRI's evaluation SSIM) of a (16, 320, 320) volume and a noisy copy
//   ssim_loss_fwdbwd_8x1x320x320  losses::ssim_loss of (8, 1, 320, 320) inputs, forward + backward to the
//                          prediction (fastMRI's VarNet training loss at knee size, batch 8)
//
// PyTorch's side: bench/pytorch_metrics.py (MONAI's compute_hausdorff_distance, scikit-image's
// structural_similarity as fastmri.evaluate.ssim calls it, fastmri's SSIMLoss; each when importable).
// Protocol (docs/benchmarks.md, defaults in protocol.hpp).
#include <benchmark/benchmark.h>

#include <cmath>
#include <string>

#include "voxnn/autograd/autograd.hpp"
#include "voxnn/core/core.hpp"
#include "voxnn/losses/ssim.hpp"
#include "voxnn/metrics/metrics.hpp"

#include "protocol.hpp"

namespace {

using voxnn::Shape;
using voxnn::Tensor;
using voxnn::Var;

// One-hot (1, 2, 128, 128, 128): channel 1 the union of two ellipsoids (the same as pytorch_metrics.py's),
// channel 0 the rest. which = 0: the prediction, 1: the target.
Tensor<float> blobs(int which) {
  struct Ellipsoid {
    double c[3], a[3];
  };
  const Ellipsoid e[2][2] = {{{{60, 64, 62}, {30, 26, 34}}, {{80, 50, 70}, {18, 22, 16}}},
                             {{{63, 66, 60}, {28, 27, 31}}, {{40, 90, 50}, {14, 16, 12}}}};
  const int64_t n = 128, plane = n * n * n;
  Tensor<float> t = voxnn::zeros<float>({1, 2, n, n, n});
  float* p = t.data();
  for (int64_t z = 0; z < n; ++z)
    for (int64_t y = 0; y < n; ++y)
      for (int64_t x = 0; x < n; ++x) {
        bool inside = false;
        for (const auto& s : e[which]) {
          const double dz = (static_cast<double>(z) - s.c[0]) / s.a[0], dy = (static_cast<double>(y) - s.c[1]) / s.a[1],
                       dx = (static_cast<double>(x) - s.c[2]) / s.a[2];
          inside = inside || dz * dz + dy * dy + dx * dx <= 1;
        }
        p[(inside ? plane : 0) + (z * n + y) * n + x] = 1;
      }
  return t;
}

void BM_hd95(benchmark::State& state) {
  const Tensor<float> p = blobs(0), t = blobs(1);
  for (auto _ : state) {
    Tensor<double> h = voxnn::metrics::hd95(p, t, {.spacing = {1.2, 0.9, 0.9}});
    benchmark::DoNotOptimize(h.data());
  }
  state.counters["hd95"] = voxnn::metrics::hd95(p, t, {.spacing = {1.2, 0.9, 0.9}}).item();
  state.counters["nthreads"] = voxnn::num_threads();
}

void BM_ssim(benchmark::State& state) {
  voxnn::Generator gen(1);
  const Tensor<float> gt = voxnn::rand<float>({16, 320, 320}, gen);
  Tensor<float> pred = voxnn::randn<float>({16, 320, 320}, gen);
  for (int64_t i = 0; i < pred.numel(); ++i) pred.data()[i] = gt.data()[i] + 0.1f * pred.data()[i];
  for (auto _ : state) {
    double s = voxnn::metrics::ssim(gt, pred);
    benchmark::DoNotOptimize(s);
  }
  state.counters["nthreads"] = voxnn::num_threads();
}

void BM_ssim_loss_fwdbwd(benchmark::State& state) {
  voxnn::Generator gen(2);
  Var<float> x(voxnn::rand<float>({8, 1, 320, 320}, gen), true);
  const Var<float> y(voxnn::rand<float>({8, 1, 320, 320}, gen));
  const Tensor<float> range = voxnn::ones<float>({8});
  for (auto _ : state) {
    Var<float> loss = voxnn::losses::ssim_loss(x, y, range);
    loss.backward();
    benchmark::DoNotOptimize(x.grad().data());
    x.zero_grad();
  }
  state.counters["nthreads"] = voxnn::num_threads();
}

void register_all() {
  auto reg = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  reg("hd95_128cubed", BM_hd95);
  reg("ssim_16x320x320", BM_ssim);
  reg("ssim_loss_fwdbwd_8x1x320x320", BM_ssim_loss_fwdbwd);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return voxnn::bench::run_main(argc, argv);
}
