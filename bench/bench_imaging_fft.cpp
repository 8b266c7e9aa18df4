// FFT benchmarks (include/voxnn/backend/cpu/fft.hpp through ops/fft.hpp and the Var functions), float
// unless the name says f64:
//
//   fft2_320x320x8_fwd        ops::fftn over the last two complex dims of (1, 8, 320, 320, 2)
//   fft2_320x320x8_inv        ops::ifftn, same shape
//   fft2_320x320x8_fwd_f64    ops::fftn in double
//   fft3_128_fwd              ops::fftn over all three complex dims of (128, 128, 128, 2)
//   fft2c_320x320x8_fwd       ops::fft2c (fastMRI's centred orthonormal FFT) of (1, 8, 320, 320, 2)
//   fft2c_fwdbwd_320x320x8    fft2c on a Var requiring grad, then backward with a fixed gradient
//                             (PyTorch: fastmri's fft2c form on view_as_complex + backward)
//   fft1_97x2560_fwd          a Bluestein length: ops::fftn over the last dim of (2560, 97, 2)
//
// PyTorch's side: bench/pytorch_imaging_fft.py (torch.fft.fftn / ifftn on complex tensors). Protocol
// (docs/benchmarks.md, defaults in protocol.hpp): 0.3 s warm-up, 5 repetitions, median wall-clock time.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "voxnn/autograd/autograd.hpp"
#include "voxnn/autograd/functions/fft.hpp"
#include "voxnn/core/core.hpp"
#include "voxnn/ops/fft.hpp"

#include "protocol.hpp"

namespace {

using voxnn::Shape;
using voxnn::Tensor;
namespace ops = voxnn::ops;

template <class T>
Tensor<T> random(const Shape& shape, uint64_t seed) {
  voxnn::Generator gen(seed);
  return voxnn::randn<T>(shape, gen);
}

// 5 n log2 n flops per complex transform of length n, the usual FFT rate convention.
void set_rate(benchmark::State& state, double points, double log2n) {
  state.counters["GFLOPS"] =
      benchmark::Counter(5 * points * log2n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["nthreads"] = voxnn::num_threads();
}

template <class T>
void fftn_case(benchmark::State& state, Shape shape, std::vector<int64_t> dims, bool inverse) {
  const Tensor<T> x = random<T>(shape, 1);
  for (auto _ : state) {
    Tensor<T> y = inverse ? ops::ifftn(x, dims) : ops::fftn(x, dims);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  double log2n = 0;
  for (int64_t d : dims) log2n += std::log2(static_cast<double>(shape[d < 0 ? d + shape.size() - 1 : d]));
  set_rate(state, static_cast<double>(shape.numel() / 2), log2n);
}

void BM_fft2c_fwd(benchmark::State& state) {
  const Tensor<float> x = random<float>({1, 8, 320, 320, 2}, 2);
  for (auto _ : state) {
    Tensor<float> y = ops::fft2c(x);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, 8.0 * 320 * 320, 2 * std::log2(320.0));
}

void BM_fft2c_fwdbwd(benchmark::State& state) {
  voxnn::Var<float> x(random<float>({1, 8, 320, 320, 2}, 3), true);
  const Tensor<float> gy = random<float>({1, 8, 320, 320, 2}, 4);
  for (auto _ : state) {
    voxnn::Var<float> y = voxnn::fft2c(x);
    y.backward(gy);
    benchmark::DoNotOptimize(x.grad().data());
    x.zero_grad();
  }
  set_rate(state, 2 * 8.0 * 320 * 320, 2 * std::log2(320.0));
}

void register_all() {
  auto reg = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  reg("fft2_320x320x8_fwd", [](benchmark::State& s) { fftn_case<float>(s, {1, 8, 320, 320, 2}, {-2, -1}, false); });
  reg("fft2_320x320x8_inv", [](benchmark::State& s) { fftn_case<float>(s, {1, 8, 320, 320, 2}, {-2, -1}, true); });
  reg("fft2_320x320x8_fwd_f64",
      [](benchmark::State& s) { fftn_case<double>(s, {1, 8, 320, 320, 2}, {-2, -1}, false); });
  reg("fft3_128_fwd", [](benchmark::State& s) { fftn_case<float>(s, {128, 128, 128, 2}, {0, 1, 2}, false); });
  reg("fft2c_320x320x8_fwd", BM_fft2c_fwd);
  reg("fft2c_fwdbwd_320x320x8", BM_fft2c_fwdbwd);
  reg("fft1_97x2560_fwd", [](benchmark::State& s) { fftn_case<float>(s, {2560, 97, 2}, {-1}, false); });
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return voxnn::bench::run_main(argc, argv);
}
