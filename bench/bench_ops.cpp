// Volumetric operator benchmarks (float): 3-D convolution forward and forward+backward on six shapes,
// the FMA peak of this machine measured by this same binary, a 2x transposed convolution, batch and
// instance normalisation in training, max pooling and trilinear upsampling.
//
//   fma_peak_<bits>                 independent FMAs on register-resident Eigen packets, all threads: the
//                                   reference conv3d forward is stated against (the widest packet and the
//                                   half-width one; compare_pytorch.py takes the faster)
//   conv3d_fwd_<shape>              ops::conv_forward<3>, kernel 3, padding 1, with bias
//   conv3d_fwdbwd_<shape>           conv3d(x, w, b, {.padding = 1}) with x, w, b requiring grad, then
//                                   backward(gy): input, weight and bias gradients (PyTorch: F.conv3d +
//                                   backward with the same three tensors requiring grad)
//   conv_transpose3d_fwd / _fwdbwd  kernel 2, stride 2, 32 -> 16 channels, 32^3 -> 64^3, with bias
//   batch_norm3d_train_fwdbwd       nn::BatchNorm3d(32) in training mode on (2, 32, 64^3), forward + backward
//   instance_norm3d_train_fwdbwd    nn::InstanceNorm3d(32, affine) on (2, 32, 64^3), forward + backward
//   max_pool3d_fwd / _fwdbwd        kernel 2, stride 2 on (1, 32, 64^3)
//   upsample_trilinear_fwd / _fwdbwd  scale 2, align_corners = false, (1, 32, 32^3) -> 64^3
//
// <shape> is n<N>_c<Cin>to<Cout>_s<size>. Counters per iteration: `flops` (convolutions and the FMA loop;
// 2 * N * Cout * Cin * 27 * voxels for a conv3d forward, three times that with backward, which adds the
// input and the weight gradient), plus a GFLOPS rate for Google Benchmark's own table. Backward passes use
// a fixed random output gradient, and gradients are reset (set to none) after every iteration, inside the
// timed loop, as PyTorch's side does. bench/compare_pytorch.py times the same calls in PyTorch.
//
// Protocol (docs/benchmarks.md, defaults in protocol.hpp): 0.3 s warm-up, 5 repetitions, median of
// wall-clock time, repetitions randomly interleaved.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "voxnn/autograd/autograd.hpp"
#include "voxnn/autograd/functions/conv.hpp"
#include "voxnn/autograd/functions/interpolate.hpp"
#include "voxnn/autograd/functions/pool.hpp"
#include "voxnn/nn/norm.hpp"
#include "voxnn/core/core.hpp"
#include "voxnn/ops/conv.hpp"

#include "protocol.hpp"

namespace {

using voxnn::Shape;
using voxnn::Tensor;
using V = voxnn::Var<float>;
namespace ops = voxnn::ops;

Tensor<float> random(const Shape& shape, uint64_t seed) {
  voxnn::Generator gen(seed);
  return voxnn::randn<float>(shape, gen);
}

void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["flops"] = flops_per_iter;
  state.counters["GFLOPS"] = benchmark::Counter(flops_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["nthreads"] = voxnn::num_threads();
}

// Eigen's packet types are vector typedefs whose attributes GCC drops (and warns about) when they are
// template arguments; harmless here, as Eigen itself does it internally.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

// ---- FMA peak -------------------------------------------------------------------------------------
// kAcc independent accumulators per thread, each updated by one FMA per step: enough independent chains
// to cover FMA latency x issue width on current x86 cores (4 cycles x 2 pipes), and few enough (plus two
// constants) to stay in 16 vector registers without AVX-512. No memory traffic in the loop.
constexpr int kAcc = 12;
constexpr int64_t kFmaSteps = int64_t{1} << 22;

template <class Packet>
float fma_chains(int64_t steps, float seed) {
  namespace ei = Eigen::internal;
  Packet acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = ei::pset1<Packet>(seed + 1e-3f * static_cast<float>(k));
  const Packet a = ei::pset1<Packet>(0.999999f), b = ei::pset1<Packet>(1e-6f);
  for (int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 12
    for (int k = 0; k < kAcc; ++k) acc[k] = ei::pmadd(acc[k], a, b);
  }
  Packet sum = acc[0];
  for (int k = 1; k < kAcc; ++k) sum = ei::padd(sum, acc[k]);
  return ei::predux(sum);
}

template <class Packet>
void BM_fma_peak(benchmark::State& state) {
  constexpr int width = Eigen::internal::unpacket_traits<Packet>::size;
  const int threads = voxnn::num_threads();
  std::vector<float> sink(static_cast<std::size_t>(threads));
  for (auto _ : state) {
#pragma omp parallel num_threads(threads)
    {
      const int t = voxnn::thread_index();
      sink[static_cast<std::size_t>(t)] = fma_chains<Packet>(kFmaSteps, 1.0f + static_cast<float>(t));
    }
    benchmark::DoNotOptimize(sink.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, 2.0 * width * kAcc * static_cast<double>(kFmaSteps) * threads);
  state.counters["packet_floats"] = width;
}

using WidePacket = Eigen::internal::packet_traits<float>::type;
using HalfPacket = Eigen::internal::unpacket_traits<WidePacket>::half;
constexpr bool kHasHalfPacket = sizeof(HalfPacket) < sizeof(WidePacket);
constexpr int kWideBits = 8 * sizeof(WidePacket), kHalfBits = 8 * sizeof(HalfPacket);
void (*const BM_fma_peak_wide)(benchmark::State&) = BM_fma_peak<WidePacket>;
void (*const BM_fma_peak_half)(benchmark::State&) = BM_fma_peak<HalfPacket>;
#pragma GCC diagnostic pop

// ---- conv3d ---------------------------------------------------------------------------------------
struct ConvShape {
  int64_t n, cin, cout, size;
  std::string tag() const {  // snprintf: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string
    char buf[64];
    std::snprintf(buf, sizeof buf, "n%lld_c%lldto%lld_s%lld", static_cast<long long>(n), static_cast<long long>(cin),
                  static_cast<long long>(cout), static_cast<long long>(size));
    return buf;
  }
  double flops() const { return 2.0 * n * cout * cin * 27 * size * size * size; }
};

const std::vector<ConvShape> kConvShapes = {{1, 1, 16, 64},  {1, 16, 32, 32}, {1, 32, 64, 16},
                                            {1, 64, 64, 16}, {1, 32, 32, 64}, {2, 32, 32, 32}};

void conv3d_forward(benchmark::State& state, ConvShape s) {
  const Tensor<float> x = random({s.n, s.cin, s.size, s.size, s.size}, 1);
  const Tensor<float> w = random({s.cout, s.cin, 3, 3, 3}, 2);
  const Tensor<float> b = random({s.cout}, 3);
  ops::ConvParams<3> p;
  p.stride = {1, 1, 1};
  p.dilation = {1, 1, 1};
  p.pad_left = p.pad_right = {1, 1, 1};
  for (auto _ : state) {
    Tensor<float> y = ops::conv_forward<3>(x, w, b, p, "conv3d");
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, s.flops());
}

void conv3d_forward_backward(benchmark::State& state, ConvShape s) {
  V x(random({s.n, s.cin, s.size, s.size, s.size}, 1), true);
  V w(random({s.cout, s.cin, 3, 3, 3}, 2), true);
  V b(random({s.cout}, 3), true);
  const Tensor<float> gy = random({s.n, s.cout, s.size, s.size, s.size}, 4);
  for (auto _ : state) {
    V y = voxnn::conv3d(x, w, b, {.padding = 1});
    y.backward(gy);
    benchmark::DoNotOptimize(x.grad().data());
    benchmark::DoNotOptimize(w.grad().data());
    benchmark::DoNotOptimize(b.grad().data());
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
  }
  set_flops(state, 3 * s.flops());
}

// ---- conv_transpose3d k2 s2, 32 -> 16 channels, 32^3 -> 64^3 -----------------------------------------
constexpr int64_t kUpIn = 32, kUpOut = 16, kUpSize = 32;
constexpr double kUpFlops = 2.0 * kUpIn * kUpOut * 8 * kUpSize * kUpSize * kUpSize;

void BM_conv_transpose3d_fwd(benchmark::State& state) {
  const V x(random({1, kUpIn, kUpSize, kUpSize, kUpSize}, 5));
  const V w(random({kUpIn, kUpOut, 2, 2, 2}, 6));
  const V b(random({kUpOut}, 7));
  voxnn::NoGradGuard guard;
  for (auto _ : state) {
    V y = voxnn::conv_transpose3d(x, w, b, {.stride = 2});
    benchmark::DoNotOptimize(y.value().data());
    benchmark::ClobberMemory();
  }
  set_flops(state, kUpFlops);
}

void BM_conv_transpose3d_fwdbwd(benchmark::State& state) {
  V x(random({1, kUpIn, kUpSize, kUpSize, kUpSize}, 5), true);
  V w(random({kUpIn, kUpOut, 2, 2, 2}, 6), true);
  V b(random({kUpOut}, 7), true);
  const Tensor<float> gy = random({1, kUpOut, 2 * kUpSize, 2 * kUpSize, 2 * kUpSize}, 8);
  for (auto _ : state) {
    V y = voxnn::conv_transpose3d(x, w, b, {.stride = 2});
    y.backward(gy);
    benchmark::DoNotOptimize(x.grad().data());
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
  }
  set_flops(state, 3 * kUpFlops);
}

// ---- normalisation in training, (2, 32, 64^3) --------------------------------------------------------
const Shape kNormShape{2, 32, 64, 64, 64};

template <class Module>
void norm_train_fwdbwd(benchmark::State& state, Module& m) {
  m.train();
  V x(random(kNormShape, 9), true);
  const Tensor<float> gy = random(kNormShape, 10);
  for (auto _ : state) {
    V y = m.forward(x);
    y.backward(gy);
    benchmark::DoNotOptimize(x.grad().data());
    x.zero_grad();
    m.zero_grad();
  }
  state.counters["nthreads"] = voxnn::num_threads();
}

void BM_batch_norm3d_train_fwdbwd(benchmark::State& state) {
  voxnn::nn::BatchNorm3d<float> bn({.num_features = 32});
  norm_train_fwdbwd(state, bn);
}

void BM_instance_norm3d_train_fwdbwd(benchmark::State& state) {
  voxnn::nn::InstanceNorm3d<float> in({.num_features = 32, .affine = true});
  norm_train_fwdbwd(state, in);
}

// ---- max_pool3d k2 s2 on (1, 32, 64^3) ------------------------------------------------------------------
const Shape kPoolShape{1, 32, 64, 64, 64};

void BM_max_pool3d_fwd(benchmark::State& state) {
  const V x(random(kPoolShape, 11));
  voxnn::NoGradGuard guard;
  for (auto _ : state) {
    V y = voxnn::max_pool3d(x, 2, 2);
    benchmark::DoNotOptimize(y.value().data());
    benchmark::ClobberMemory();
  }
  state.counters["nthreads"] = voxnn::num_threads();
}

void BM_max_pool3d_fwdbwd(benchmark::State& state) {
  V x(random(kPoolShape, 11), true);
  const Tensor<float> gy = random({1, 32, 32, 32, 32}, 12);
  for (auto _ : state) {
    V y = voxnn::max_pool3d(x, 2, 2);
    y.backward(gy);
    benchmark::DoNotOptimize(x.grad().data());
    x.zero_grad();
  }
  state.counters["nthreads"] = voxnn::num_threads();
}

// ---- trilinear x2 upsampling, (1, 32, 32^3) -> 64^3 ---------------------------------------------------
const Shape kUpsampleShape{1, 32, 32, 32, 32};
const voxnn::InterpolateOptions kTrilinear{.scale_factor = 2.0, .mode = "trilinear", .align_corners = false};

void BM_upsample_trilinear_fwd(benchmark::State& state) {
  const V x(random(kUpsampleShape, 13));
  voxnn::NoGradGuard guard;
  for (auto _ : state) {
    V y = voxnn::interpolate(x, kTrilinear);
    benchmark::DoNotOptimize(y.value().data());
    benchmark::ClobberMemory();
  }
  state.counters["nthreads"] = voxnn::num_threads();
}

void BM_upsample_trilinear_fwdbwd(benchmark::State& state) {
  V x(random(kUpsampleShape, 13), true);
  const Tensor<float> gy = random({1, 32, 64, 64, 64}, 14);
  for (auto _ : state) {
    V y = voxnn::interpolate(x, kTrilinear);
    y.backward(gy);
    benchmark::DoNotOptimize(x.grad().data());
    x.zero_grad();
  }
  state.counters["nthreads"] = voxnn::num_threads();
}

// Names carry no '/', so compare_pytorch.py can key results by run name. Wall-clock time: the work is
// spread over OpenMP threads.
void register_all() {
  auto reg = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  reg("fma_peak_" + std::to_string(kWideBits), BM_fma_peak_wide);
  if constexpr (kHasHalfPacket) reg("fma_peak_" + std::to_string(kHalfBits), BM_fma_peak_half);
  for (const ConvShape& s : kConvShapes) {
    reg("conv3d_fwd_" + s.tag(), [s](benchmark::State& st) { conv3d_forward(st, s); });
    reg("conv3d_fwdbwd_" + s.tag(), [s](benchmark::State& st) { conv3d_forward_backward(st, s); });
  }
  reg("conv_transpose3d_fwd", BM_conv_transpose3d_fwd);
  reg("conv_transpose3d_fwdbwd", BM_conv_transpose3d_fwdbwd);
  reg("batch_norm3d_train_fwdbwd", BM_batch_norm3d_train_fwdbwd);
  reg("instance_norm3d_train_fwdbwd", BM_instance_norm3d_train_fwdbwd);
  reg("max_pool3d_fwd", BM_max_pool3d_fwd);
  reg("max_pool3d_fwdbwd", BM_max_pool3d_fwdbwd);
  reg("upsample_trilinear_fwd", BM_upsample_trilinear_fwd);
  reg("upsample_trilinear_fwdbwd", BM_upsample_trilinear_fwdbwd);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::AddCustomContext("fma_packets", std::to_string(kWideBits) + "-bit and " + std::to_string(kHalfBits) +
                                                 "-bit Eigen packets, " + std::to_string(kAcc) + " chains per thread");
  return voxnn::bench::run_main(argc, argv);
}
