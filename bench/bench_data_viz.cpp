// Pictures of volumes (include/voxnn/viz/montage.hpp) and the percentiles behind their windows
// (include/voxnn/ops/quantile.hpp), float:
//
//   montage_256              viz::montage of a 256^3 volume, default options (0.5 / 99.5 percentile window
//                            from 2^20 sampled voxels, three planes, annotations, a title) to a PngImage
//   nanpercentile_256        ops::nanpercentile(x, {0.5, 99.5}) over all 256^3 voxels (exact, the way
//                            ScaleIntensityRangePercentiles takes them)
//   nanpercentile_256_sampled  the same from 2^20 voxels at an odd stride (the montage's window)
//
// No PyTorch counterpart (numpy.nanpercentile is the reference for the values, not for speed).
// Protocol (docs/benchmarks.md, defaults in protocol.hpp): 0.3 s warm-up, 5 repetitions, median.
#include <benchmark/benchmark.h>

#include "voxnn/core/core.hpp"
#include "voxnn/ops/quantile.hpp"
#include "voxnn/viz/montage.hpp"

#include "protocol.hpp"

namespace {

namespace io = voxnn::io;

io::Volume<float> volume_256() {
  voxnn::Tensor<float> t({256, 256, 256});
  float* p = t.data();
  for (int64_t n = 0; n < t.numel(); ++n) {
    const int64_t i = n >> 16, j = (n >> 8) & 255, k = n & 255;
    p[n] = static_cast<float>((i * 7 + j * 3 + k) % 251);
  }
  return {t, io::Affine::identity()};
}

void BM_montage(benchmark::State& state) {
  const io::Volume<float> v = volume_256();
  for (auto _ : state) benchmark::DoNotOptimize(voxnn::viz::montage(v, voxnn::viz::MontageOptions{.title = "bench"}));
}

void BM_nanpercentile(benchmark::State& state, int64_t max_samples) {
  const io::Volume<float> v = volume_256();
  for (auto _ : state) benchmark::DoNotOptimize(voxnn::ops::nanpercentile(v.data, {0.5, 99.5}, max_samples));
  state.SetItemsProcessed(state.iterations() * v.data.numel());
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("montage_256", BM_montage)->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark("nanpercentile_256", [](benchmark::State& s) { BM_nanpercentile(s, 0); })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("nanpercentile_256_sampled", [](benchmark::State& s) { BM_nanpercentile(s, 1 << 20); })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  return voxnn::bench::run_main(argc, argv);
}
