// MRI coil-operator benchmarks at fastMRI's multi-coil knee size, float, (1, 8, 320, 320, 2) k-space:
//
//   complex_mul_320x320x8       complex_mul of an image (1, 1, 320, 320, 2) by maps (1, 8, 320, 320, 2)
//   rss_complex_320x320x8       rss_complex over the coil dim of (1, 8, 320, 320, 2)
//   sens_expand_320x320x8       sens_expand (fft2c(x * S)) of (1, 1, 320, 320, 2) by (1, 8, 320, 320, 2)
//   sens_reduce_320x320x8       sens_reduce (sum over coils of ifft2c(k) * conj(S)), the adjoint
//   sens_expand_fwdbwd_320x320x8  sens_expand on Vars requiring grad (x and S), then backward
//   varnet_dc_fwdbwd_320x320x8  VarNetBlock's data-consistency step k - where(mask, k - k0, 0) * w and
//                               sens_expand(sens_reduce(k)) subtracted (the identity as model), + backward
//
// PyTorch's side: bench/pytorch_imaging_mri.py (fastMRI 0.3.0's functions and VarNetBlock's methods,
// written out when fastmri is not importable). Protocol (docs/benchmarks.md, defaults in protocol.hpp).
#include <benchmark/benchmark.h>

#include <string>

#include "voxnn/autograd/autograd.hpp"
#include "voxnn/autograd/functions/coil.hpp"
#include "voxnn/autograd/functions/complex.hpp"
#include "voxnn/core/core.hpp"

#include "protocol.hpp"

namespace {

using voxnn::Shape;
using voxnn::Tensor;
using voxnn::Var;

Tensor<float> random(const Shape& shape, uint64_t seed) {
  voxnn::Generator gen(seed);
  return voxnn::randn<float>(shape, gen);
}

const Shape kImage{1, 1, 320, 320, 2};
const Shape kCoils{1, 8, 320, 320, 2};

template <class F>
void forward_case(benchmark::State& state, F f) {
  const Var<float> x(random(kImage, 1)), s(random(kCoils, 2)), k(random(kCoils, 3));
  voxnn::NoGradGuard no_grad;
  for (auto _ : state) {
    Var<float> y = f(x, s, k);
    benchmark::DoNotOptimize(y.value().data());
    benchmark::ClobberMemory();
  }
  state.counters["nthreads"] = voxnn::num_threads();
}

void BM_sens_expand_fwdbwd(benchmark::State& state) {
  Var<float> x(random(kImage, 1), true), s(random(kCoils, 2), true);
  const Tensor<float> gy = random(kCoils, 4);
  for (auto _ : state) {
    Var<float> y = voxnn::sens_expand(x, s);
    y.backward(gy);
    benchmark::DoNotOptimize(x.grad().data());
    x.zero_grad();
    s.zero_grad();
  }
  state.counters["nthreads"] = voxnn::num_threads();
}

void BM_varnet_dc_fwdbwd(benchmark::State& state) {
  Var<float> k(random(kCoils, 3), true), s(random(kCoils, 2), true), w(voxnn::ones<float>({1}), true);
  const Var<float> k0(random(kCoils, 5));
  Tensor<bool> mask(Shape{1, 1, 1, 320, 1});
  for (int64_t i = 0; i < 320; ++i) mask.data()[i] = i % 4 == 0 || (i >= 147 && i < 173);
  const Tensor<float> gy = random(kCoils, 6);
  for (auto _ : state) {
    Var<float> y = voxnn::sub(voxnn::sub(k, voxnn::soft_data_consistency(k, k0, mask, w)),
                              voxnn::sens_expand(voxnn::sens_reduce(k, s), s));
    y.backward(gy);
    benchmark::DoNotOptimize(k.grad().data());
    k.zero_grad();
    s.zero_grad();
    w.zero_grad();
  }
  state.counters["nthreads"] = voxnn::num_threads();
}

void register_all() {
  auto reg = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  reg("complex_mul_320x320x8", [](benchmark::State& st) {
    forward_case(st, [](const auto& x, const auto& s, const auto&) { return voxnn::complex_mul(x, s); });
  });
  reg("rss_complex_320x320x8", [](benchmark::State& st) {
    forward_case(st, [](const auto&, const auto&, const auto& k) { return voxnn::rss_complex(k, 1); });
  });
  reg("sens_expand_320x320x8", [](benchmark::State& st) {
    forward_case(st, [](const auto& x, const auto& s, const auto&) { return voxnn::sens_expand(x, s); });
  });
  reg("sens_reduce_320x320x8", [](benchmark::State& st) {
    forward_case(st, [](const auto&, const auto& s, const auto& k) { return voxnn::sens_reduce(k, s); });
  });
  reg("sens_expand_fwdbwd_320x320x8", BM_sens_expand_fwdbwd);
  reg("varnet_dc_fwdbwd_320x320x8", BM_varnet_dc_fwdbwd);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return voxnn::bench::run_main(argc, argv);
}
