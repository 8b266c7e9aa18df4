// grid_sample / affine_grid benchmarks (float). The 3-D cases warp a 128^3 volume by a displacement
// field, as VoxelMorph's SpatialTransformer does: grid = identity + a smooth displacement of up to 3
// voxels (sines of the coordinates, the same formula in bench/pytorch_imaging_grid.py), trilinear,
// zeros padding, align_corners = true.
//
//   grid_sample3d_fwd_c<C>_128            forward only, input (1, C, 128^3)
//   grid_sample3d_fwdbwd_c<C>_128         input and grid requiring grad, forward + backward(gy)
//   grid_sample3d_fwdbwd_gridonly_c1_128  only the grid requires grad (a fixed moving image)
//   grid_sample2d_fwd_n4_c3_256 / _fwdbwd (4, 3, 256, 256) warped the same way in 2-D, bilinear
//   affine_grid3d_fwdbwd_128              affine_grid of (1, 3, 4) to 128^3, forward + backward
//
// Counter `voxels`: output points per iteration (and a rate, Mvoxel/s as items). Backward passes use a
// fixed random output gradient; gradients are reset after every iteration, inside the timed loop.
#include <benchmark/benchmark.h>

#include <cmath>
#include <numbers>

#include "voxnn/autograd/autograd.hpp"
#include "voxnn/autograd/functions/grid_sample.hpp"
#include "voxnn/core/core.hpp"

#include "protocol.hpp"

namespace {

using voxnn::Shape;
using voxnn::Tensor;
using V = voxnn::Var<float>;

Tensor<float> random(const Shape& shape, uint64_t seed) {
  voxnn::Generator gen(seed);
  return voxnn::randn<float>(shape, gen);
}

// identity + smooth displacement (in voxels), normalised for align_corners = true
Tensor<float> displacement_grid3d(int64_t n) {
  Tensor<float> g(Shape{1, n, n, n, 3});
  float* p = g.data();
  const double s = static_cast<double>(n), two_pi = 2 * std::numbers::pi;
  for (int64_t z = 0; z < n; ++z)
    for (int64_t y = 0; y < n; ++y)
      for (int64_t x = 0; x < n; ++x) {
        const double fx = static_cast<double>(x) / s, fy = static_cast<double>(y) / s, fz = static_cast<double>(z) / s;
        const double dx = 3.0 * std::sin(two_pi * 1.3 * fz + 0.4) * std::cos(two_pi * 0.7 * fy);
        const double dy = 2.5 * std::sin(two_pi * fx + 1.1) * std::cos(two_pi * 0.9 * fz);
        const double dz = 3.0 * std::sin(two_pi * 1.1 * fy + 0.3) * std::cos(two_pi * 0.6 * fx);
        float* q = p + ((z * n + y) * n + x) * 3;
        q[0] = static_cast<float>(2.0 * (static_cast<double>(x) + dx) / (s - 1) - 1.0);
        q[1] = static_cast<float>(2.0 * (static_cast<double>(y) + dy) / (s - 1) - 1.0);
        q[2] = static_cast<float>(2.0 * (static_cast<double>(z) + dz) / (s - 1) - 1.0);
      }
  return g;
}

Tensor<float> displacement_grid2d(int64_t batch, int64_t n) {
  Tensor<float> g(Shape{batch, n, n, 2});
  float* p = g.data();
  const double s = static_cast<double>(n), two_pi = 2 * std::numbers::pi;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t y = 0; y < n; ++y)
      for (int64_t x = 0; x < n; ++x) {
        const double fx = static_cast<double>(x) / s, fy = static_cast<double>(y) / s, ph = 0.5 * static_cast<double>(b);
        const double dx = 3.0 * std::sin(two_pi * 1.3 * fy + 0.4 + ph) * std::cos(two_pi * 0.7 * fx);
        const double dy = 2.5 * std::sin(two_pi * fx + 1.1) * std::cos(two_pi * 0.9 * fy + ph);
        float* q = p + ((b * n + y) * n + x) * 2;
        q[0] = static_cast<float>(2.0 * (static_cast<double>(x) + dx) / (s - 1) - 1.0);
        q[1] = static_cast<float>(2.0 * (static_cast<double>(y) + dy) / (s - 1) - 1.0);
      }
  return g;
}

const voxnn::GridSampleOptions kOpts{.mode = "bilinear", .padding_mode = "zeros", .align_corners = true};

void set_voxels(benchmark::State& state, double voxels) {
  state.counters["voxels"] = voxels;
  state.SetItemsProcessed(static_cast<int64_t>(voxels) * state.iterations());
  state.counters["nthreads"] = voxnn::num_threads();
}

void BM_grid_sample3d_fwd(benchmark::State& state) {
  const int64_t C = state.range(0), n = 128;
  const V x(random({1, C, n, n, n}, 1));
  const V g(displacement_grid3d(n));
  for (auto _ : state) {
    V y = voxnn::grid_sample(x, g, kOpts);
    benchmark::DoNotOptimize(y.value().data());
  }
  set_voxels(state, static_cast<double>(n * n * n));
}

void BM_grid_sample3d_fwdbwd(benchmark::State& state) {
  const int64_t C = state.range(0), n = 128;
  const bool input_grad = state.range(1) != 0;
  V x(random({1, C, n, n, n}, 1), input_grad);
  V g(displacement_grid3d(n), true);
  const Tensor<float> gy = random({1, C, n, n, n}, 2);
  for (auto _ : state) {
    V y = voxnn::grid_sample(x, g, kOpts);
    y.backward(gy);
    benchmark::DoNotOptimize(g.grad().data());
    x.zero_grad();
    g.zero_grad();
  }
  set_voxels(state, static_cast<double>(n * n * n));
}

void BM_grid_sample2d_fwd(benchmark::State& state) {
  const V x(random({4, 3, 256, 256}, 3));
  const V g(displacement_grid2d(4, 256));
  for (auto _ : state) {
    V y = voxnn::grid_sample(x, g, kOpts);
    benchmark::DoNotOptimize(y.value().data());
  }
  set_voxels(state, 4.0 * 256 * 256);
}

void BM_grid_sample2d_fwdbwd(benchmark::State& state) {
  V x(random({4, 3, 256, 256}, 3), true);
  V g(displacement_grid2d(4, 256), true);
  const Tensor<float> gy = random({4, 3, 256, 256}, 4);
  for (auto _ : state) {
    V y = voxnn::grid_sample(x, g, kOpts);
    y.backward(gy);
    benchmark::DoNotOptimize(g.grad().data());
    x.zero_grad();
    g.zero_grad();
  }
  set_voxels(state, 4.0 * 256 * 256);
}

void BM_affine_grid3d_fwdbwd(benchmark::State& state) {
  Tensor<float> t = voxnn::zeros<float>({1, 3, 4});
  for (int64_t i = 0; i < 3; ++i) t.at({0, i, i}) = 1.0f;
  t.at({0, 0, 1}) = 0.1f;
  t.at({0, 2, 3}) = 0.05f;
  V theta(t, true);
  const std::vector<int64_t> size{1, 1, 128, 128, 128};
  const Tensor<float> gy = random({1, 128, 128, 128, 3}, 5);
  for (auto _ : state) {
    V y = voxnn::affine_grid(theta, size, false);
    y.backward(gy);
    benchmark::DoNotOptimize(theta.grad().data());
    theta.zero_grad();
  }
  set_voxels(state, 128.0 * 128 * 128);
}

}  // namespace

BENCHMARK(BM_grid_sample3d_fwd)->Name("grid_sample3d_fwd_c1_128")->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_grid_sample3d_fwd)->Name("grid_sample3d_fwd_c3_128")->Arg(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_grid_sample3d_fwdbwd)->Name("grid_sample3d_fwdbwd_c1_128")->Args({1, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_grid_sample3d_fwdbwd)->Name("grid_sample3d_fwdbwd_c3_128")->Args({3, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_grid_sample3d_fwdbwd)->Name("grid_sample3d_fwdbwd_gridonly_c1_128")->Args({1, 0})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_grid_sample2d_fwd)->Name("grid_sample2d_fwd_n4_c3_256")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_grid_sample2d_fwdbwd)->Name("grid_sample2d_fwdbwd_n4_c3_256")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_affine_grid3d_fwdbwd)->Name("affine_grid3d_fwdbwd_128")->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) { return voxnn::bench::run_main(argc, argv); }
