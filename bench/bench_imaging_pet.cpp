// PET physics benchmarks (float) at DeepPET's scale: a batch of 8 images of 128 x 128, 180 angles
// over [0, pi) and 185 detector bins of one pixel (include/voxnn/ops/radon.hpp).
//
//   radon_fwd_n8_128_a180_b185            radon(x) (Var function, no grad)
//   back_projection_n8_128_a180_b185      back_projection(y)
//   radon_fwdbwd_n8_128_a180_b185         radon(x) with x requiring grad, then backward(gy): one
//                                         projection and one back-projection
//   fbp_n8_128_a180_b185                  data::fbp, ramp filter
//   osem_n8_128_a180_b185_it2_s10         data::osem, 2 iterations of 10 subsets, with attenuation and
//                                         background (2 projections + 2 back-projections of all angles,
//                                         plus the sensitivities: 1 back-projection)
//   poisson_n8_a180_b185                  data::poisson of the expected counts (mean ~ 40 per bin)
//
// Counter `images`: images per iteration (and a rate as items/s). bench/pytorch_imaging_pet.py times the
// same projector as a sparse matrix in PyTorch (the first three names).
#include <benchmark/benchmark.h>

#include "protocol.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/autograd/functions/radon.hpp"
#include "voxnn/core/core.hpp"
#include "voxnn/data/pet.hpp"
#include "voxnn/data/phantom.hpp"

namespace {

using voxnn::Shape;
using voxnn::Tensor;
using V = voxnn::Var<float>;
namespace ops = voxnn::ops;
namespace data = voxnn::data;

constexpr int64_t kBatch = 8, kSize = 128, kAngles = 180, kBins = 185;

const ops::RadonGeometry& geometry() {
  static const ops::RadonGeometry g = ops::radon_geometry(kSize, kSize, {.num_angles = kAngles, .num_bins = kBins});
  return g;
}

Tensor<float> random(const Shape& shape, uint64_t seed) {
  voxnn::Generator gen(seed);
  return voxnn::rand<float>(shape, gen);
}

void set_images(benchmark::State& state) {
  state.counters["images"] = static_cast<double>(kBatch);
  state.SetItemsProcessed(kBatch * state.iterations());
  state.counters["nthreads"] = voxnn::num_threads();
}

void BM_radon_fwd(benchmark::State& state) {
  const V x(random({kBatch, 1, kSize, kSize}, 1));
  for (auto _ : state) {
    V y = voxnn::radon(x, geometry());
    benchmark::DoNotOptimize(y.value().data());
  }
  set_images(state);
}

void BM_back_projection(benchmark::State& state) {
  const V y(random({kBatch, 1, kAngles, kBins}, 2));
  for (auto _ : state) {
    V x = voxnn::back_projection(y, geometry());
    benchmark::DoNotOptimize(x.value().data());
  }
  set_images(state);
}

void BM_radon_fwdbwd(benchmark::State& state) {
  V x(random({kBatch, 1, kSize, kSize}, 1), true);
  const Tensor<float> gy = random({kBatch, 1, kAngles, kBins}, 3);
  for (auto _ : state) {
    V y = voxnn::radon(x, geometry());
    y.backward(gy);
    benchmark::DoNotOptimize(x.grad().data());
    x.zero_grad();
  }
  set_images(state);
}

// Noisy PET data of a batch of brain phantoms, for the reconstructions.
struct Scan {
  Tensor<float> counts, attenuation, background;
};
const Scan& scan() {
  static const Scan s = [] {
    Tensor<float> act({kBatch, 1, kSize, kSize}), mu({kBatch, 1, kSize, kSize});
    for (int64_t b = 0; b < kBatch; ++b) {
      const auto p = data::brain_phantom<float>({.size = {kSize, kSize}, .seed = static_cast<uint64_t>(b)});
      std::copy(p.image.data(), p.image.data() + kSize * kSize, act.data() + b * kSize * kSize);
      std::copy(p.mu.data(), p.mu.data() + kSize * kSize, mu.data() + b * kSize * kSize);
    }
    voxnn::Generator gen(4);
    const auto d = data::simulate_pet(act, mu, geometry(),
                                      {.total_counts = 1e6, .background_fraction = 0.1, .pixel_size = 0.2}, gen);
    return Scan{d.counts, d.attenuation, d.background};
  }();
  return s;
}

void BM_fbp(benchmark::State& state) {
  const Tensor<float> y = scan().counts;
  for (auto _ : state) {
    Tensor<float> x = data::fbp(y, geometry());
    benchmark::DoNotOptimize(x.data());
  }
  set_images(state);
}

void BM_osem(benchmark::State& state) {
  const Scan& s = scan();
  for (auto _ : state) {
    Tensor<float> x =
        data::osem(s.counts, geometry(),
                   {.iterations = 2, .subsets = 10, .attenuation = s.attenuation, .background = s.background});
    benchmark::DoNotOptimize(x.data());
  }
  set_images(state);
}

void BM_poisson(benchmark::State& state) {
  const Tensor<float> mean = voxnn::ops::mul(random({kBatch, 1, kAngles, kBins}, 5), 80.0f);
  voxnn::Generator gen(6);
  for (auto _ : state) {
    Tensor<float> y = data::poisson(mean, gen);
    benchmark::DoNotOptimize(y.data());
  }
  set_images(state);
}

}  // namespace

BENCHMARK(BM_radon_fwd)->Name("radon_fwd_n8_128_a180_b185")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_back_projection)->Name("back_projection_n8_128_a180_b185")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_radon_fwdbwd)->Name("radon_fwdbwd_n8_128_a180_b185")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_fbp)->Name("fbp_n8_128_a180_b185")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_osem)->Name("osem_n8_128_a180_b185_it2_s10")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_poisson)->Name("poisson_n8_a180_b185")->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) { return voxnn::bench::run_main(argc, argv); }
