// Sample transforms on training-sized volumes (bench/pytorch_data_transforms.py runs MONAI 1.3.2's
// same transforms on the same shapes):
//   pipeline_160x192x160   NormalizeIntensity, RandSpatialCrop to 96^3, RandFlip, RandRotate90 (prob 0.5),
//                          RandAffine (prob 1: rotations 0.26 rad, scale 0.1, bilinear / nearest label,
//                          reflection), RandGaussianNoise (prob 1), image [1, 160, 192, 160] + label
//   rand_affine_128        RandAffine (prob 1, as above) of image + label [1, 128, 128, 128]
//   elastic_128            Rand3DElastic (sigma 5..8, magnitude 100..200, prob 1) of image + label 128^3
//   normalize_160x192x160  NormalizeIntensity (z-score) of the image
//   gaussian_noise_96      RandGaussianNoise (prob 1) of [1, 96, 96, 96]
// Each iteration draws from the next seed, so random branches vary as in training.
#include <benchmark/benchmark.h>

#include "protocol.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/data/transforms.hpp"

using namespace voxnn;

namespace {

data::Sample<float> make_sample(int64_t X, int64_t Y, int64_t Z) {
  Generator g(1);
  data::Sample<float> s;
  s.image = randn<float>({1, X, Y, Z}, g);
  s.label = Tensor<float>({1, X, Y, Z});
  const float* x = s.image.data();
  float* l = s.label->data();
  for (int64_t i = 0; i < s.image.numel(); ++i) l[i] = x[i] > 1.0f ? 1.0f : 0.0f;
  return s;
}

template <class Make>
void run(benchmark::State& state, const data::Sample<float>& base, Make make) {
  const data::Compose<float> t = make();
  uint64_t seed = 0;
  for (auto _ : state) {
    Generator g(++seed);
    auto s = t.apply(base, g);
    benchmark::DoNotOptimize(s.image.data());
  }
}

const data::RandAffine kAffine{.prob = 1.0, .rotate_range = {0.26, 0.26, 0.26}, .scale_range = {0.1, 0.1, 0.1}};

void BM_pipeline_160x192x160(benchmark::State& state) {
  static const auto base = make_sample(160, 192, 160);
  run(state, base, [] {
    return data::Compose<float>{data::NormalizeIntensity{}, data::RandSpatialCrop{.roi_size = {96, 96, 96}},
                                data::RandFlip{.prob = 0.5}, data::RandRotate90{.prob = 0.5}, kAffine,
                                data::RandGaussianNoise{.prob = 1.0}};
  });
}
void BM_rand_affine_128(benchmark::State& state) {
  static const auto base = make_sample(128, 128, 128);
  run(state, base, [] { return data::Compose<float>{kAffine}; });
}
void BM_elastic_128(benchmark::State& state) {
  static const auto base = make_sample(128, 128, 128);
  run(state, base, [] {
    return data::Compose<float>{data::Rand3DElastic{.sigma_range = {5, 8}, .magnitude_range = {100, 200}, .prob = 1.0}};
  });
}
void BM_normalize_160x192x160(benchmark::State& state) {
  static const auto base = make_sample(160, 192, 160);
  run(state, base, [] { return data::Compose<float>{data::NormalizeIntensity{}}; });
}
void BM_gaussian_noise_96(benchmark::State& state) {
  static const auto base = make_sample(96, 96, 96);
  run(state, base, [] { return data::Compose<float>{data::RandGaussianNoise{.prob = 1.0}}; });
}

}  // namespace

BENCHMARK(BM_pipeline_160x192x160)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_rand_affine_128)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_elastic_128)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_normalize_160x192x160)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_gaussian_noise_96)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) { return voxnn::bench::run_main(argc, argv); }
