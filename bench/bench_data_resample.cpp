// Resampling benchmarks (include/voxnn/data/resample.hpp), float unless the name says f64:
//
//   resample_mni_to_1p5mm        a 197x233x189 volume at 1 mm (the MNI152 2009a grid) to 1.5 mm:
//                                data::resample_to_spacing, output 132x156x126, trilinear, padding "nan"
//   resample_mni_to_1p5mm_f64    the same in double
//   resample_mni_to_1p5mm_nearest  the same with mode "nearest" (labels)
//   resample_rigid_128           128^3 at 1 mm moved by a rigid transform (rotation euler 0.1, 0.2, 0.3
//                                about the centre, translation 3, 4, 5 mm) onto its own grid: resample_like
//   resample_rigid_128x4         the same with 4 trailing channels ([128, 128, 128, 4])
//   reorient_mni_las             reorient a 197x233x189 RAS volume to LAS (flip along i: a copy)
//
// Reference side: bench/pytorch_data_resample.py (torch affine_grid + grid_sample, align_corners=True,
// and scipy.ndimage.affine_transform(order=1 / 0) when scipy imports). Protocol (docs/benchmarks.md,
// defaults in protocol.hpp): 0.3 s warm-up, 5 repetitions, median wall-clock time.
#include <benchmark/benchmark.h>

#include <cmath>
#include <string>

#include "voxnn/core/core.hpp"
#include "voxnn/data/orientation.hpp"
#include "voxnn/data/resample.hpp"

#include "protocol.hpp"

namespace {

using voxnn::Tensor;
namespace io = voxnn::io;
namespace data = voxnn::data;

template <class T>
io::Volume<T> random_volume(const voxnn::Shape& shape, const io::Affine& affine, uint64_t seed) {
  voxnn::Generator gen(seed);
  return {voxnn::rand<T>(shape, gen), affine};
}

// Rotation z-y-x (nibabel euler2mat order) about the centre of a 128^3 1 mm grid, then a translation.
io::Affine rigid_about_centre(double n) {
  const double ax = 0.3, ay = 0.2, az = 0.1;  // euler2mat(z=0.1, y=0.2, x=0.3)
  const double cx = std::cos(ax), sx = std::sin(ax), cy = std::cos(ay), sy = std::sin(ay), cz = std::cos(az),
               sz = std::sin(az);
  const double rz[3][3] = {{cz, -sz, 0}, {sz, cz, 0}, {0, 0, 1}};
  const double ry[3][3] = {{cy, 0, sy}, {0, 1, 0}, {-sy, 0, cy}};
  const double rx[3][3] = {{1, 0, 0}, {0, cx, -sx}, {0, sx, cx}};
  io::Affine r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double s = 0;
      for (int k = 0; k < 3; ++k)
        for (int l = 0; l < 3; ++l) s += rz[i][k] * ry[k][l] * rx[l][j];
      r.m[i][j] = s;
    }
  const double c = (n - 1) / 2;
  const io::Affine to_centre = io::Affine::from_spacing({1, 1, 1}, {-c, -c, -c});
  const io::Affine back = io::Affine::from_spacing({1, 1, 1}, {c + 3, c + 4, c + 5});
  return back * r * to_centre;
}

void set_rate(benchmark::State& state, double out_voxels) {
  state.counters["Mvox/s"] = benchmark::Counter(out_voxels * 1e-6, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["nthreads"] = voxnn::num_threads();
}

template <class T>
void BM_resample_mni(benchmark::State& state, const char* mode) {
  const auto v = random_volume<T>({197, 233, 189}, io::Affine::from_spacing({1, 1, 1}, {-98, -134, -72}), 1);
  data::ResampleOptions o;
  o.mode = mode;
  int64_t n = 0;
  for (auto _ : state) {
    auto out = data::resample_to_spacing(v, {1.5, 1.5, 1.5}, o);
    n = out.data.numel();
    benchmark::DoNotOptimize(out.data.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, static_cast<double>(n));
}

void BM_resample_rigid(benchmark::State& state, int64_t channels) {
  voxnn::Shape shape{128, 128, 128};
  if (channels > 1) shape = {128, 128, 128, channels};
  const auto v = random_volume<float>(shape, rigid_about_centre(128), 2);
  for (auto _ : state) {
    auto out = data::resample_to_grid(v, {128, 128, 128}, io::Affine::identity());
    benchmark::DoNotOptimize(out.data.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, 128.0 * 128 * 128 * static_cast<double>(channels));
}

void BM_reorient(benchmark::State& state) {
  const auto v = random_volume<float>({197, 233, 189}, io::Affine::from_spacing({1, 1, 1}), 3);
  for (auto _ : state) {
    auto out = data::reorient(v, "LAS");
    benchmark::DoNotOptimize(out.data.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, 197.0 * 233 * 189);
}

void register_all() {
  auto reg = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  reg("resample_mni_to_1p5mm", [](benchmark::State& s) { BM_resample_mni<float>(s, "trilinear"); });
  reg("resample_mni_to_1p5mm_f64", [](benchmark::State& s) { BM_resample_mni<double>(s, "trilinear"); });
  reg("resample_mni_to_1p5mm_nearest", [](benchmark::State& s) { BM_resample_mni<float>(s, "nearest"); });
  reg("resample_rigid_128", [](benchmark::State& s) { BM_resample_rigid(s, 1); });
  reg("resample_rigid_128x4", [](benchmark::State& s) { BM_resample_rigid(s, 4); });
  reg("reorient_mni_las", BM_reorient);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return voxnn::bench::run_main(argc, argv);
}
