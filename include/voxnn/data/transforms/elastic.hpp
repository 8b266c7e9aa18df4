#pragma once
// Elastic deformation after monai.transforms.Rand3DElastic (1.3.2):
//
//   Rand3DElastic{.sigma_range = {5, 8}, .magnitude_range = {100, 200}, .prob = 0.5}
//
// With probability prob: sigma ~ uniform(sigma_range), magnitude ~ uniform(magnitude_range), a field
// of offsets uniform in [-1, 1) per voxel and axis [3, X, Y, Z], smoothed by a Gaussian of that sigma
// (in voxels; MONAI's GaussianFilter with truncated = 3: erf-integrated taps out to
// round(3 sigma), zero padding) and scaled by magnitude, is added to each output voxel's centred
// position before the random affine of RandAffine (same ranges and draws): s = A (p - c + d(p)) + c.
// The image is resampled with mode, the label with nearest, both with padding_mode; the grid (and
// so the affine) stays.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/data/transforms/common.hpp"
#include "voxnn/data/transforms/random_affine.hpp"
#include "voxnn/data/transforms/resample.hpp"

namespace voxnn::data {

namespace detail {

// MONAI's gaussian_1d(sigma, truncated, approx="erf"): taps -tail..tail of the integrated Gaussian.
inline std::vector<double> gaussian_taps(double sigma, double truncated = 3.0) {
  const auto tail = static_cast<int64_t>(std::max(sigma * truncated, 0.5) + 0.5);
  std::vector<double> w(static_cast<std::size_t>(2 * tail + 1));
  const double t = 0.70710678 / std::abs(sigma);
  for (int64_t x = -tail; x <= tail; ++x)
    w[static_cast<std::size_t>(x + tail)] =
        std::max(0.0, 0.5 * (std::erf(t * (static_cast<double>(x) + 0.5)) - std::erf(t * (static_cast<double>(x) - 0.5))));
  return w;
}

// out[a, i, b] = sum_t w[t] in[a, i + t - tail, b] (zero outside), for an [A, N, B] layout.
template <class T>
void smooth_axis(const T* in, T* out, int64_t A, int64_t N, int64_t B, const std::vector<T>& w) {
  const auto taps = static_cast<int64_t>(w.size()), tail = taps / 2;
  if (B == 1) {  // along the contiguous axis: each row through a zero-padded copy
    parallel_for(0, A, 1 + 4096 / std::max<int64_t>(1, N), [&](int64_t ab, int64_t ae) {
      std::vector<T> buf(static_cast<std::size_t>(N + 2 * tail), T(0));
      for (int64_t a = ab; a < ae; ++a) {
        std::copy(in + a * N, in + (a + 1) * N, buf.begin() + tail);
        T* o = out + a * N;
        std::fill(o, o + N, T(0));
        for (int64_t t = 0; t < taps; ++t) {
          const T wt = w[static_cast<std::size_t>(t)];
          const T* b = buf.data() + t;
          for (int64_t i = 0; i < N; ++i) o[i] += wt * b[i];
        }
      }
    });
    return;
  }
  parallel_for(0, A * N, 1 + 4096 / std::max<int64_t>(1, B), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const int64_t a = r / N, i = r % N;
      T* o = out + r * B;
      std::fill(o, o + B, T(0));
      const int64_t t0 = std::max<int64_t>(0, tail - i), t1 = std::min(taps, N - i + tail);
      for (int64_t t = t0; t < t1; ++t) {
        const T wt = w[static_cast<std::size_t>(t)];
        const T* src = in + (a * N + i + t - tail) * B;
        for (int64_t b = 0; b < B; ++b) o[b] += wt * src[b];
      }
    }
  });
}

}  // namespace detail

// The displacement field of Rand3DElastic for a grid of `size`: uniform [-1, 1) offsets [3, X, Y, Z]
// from `gen`, smoothed by the Gaussian of sigma (voxels) and multiplied by magnitude.
template <Real T>
Tensor<T> elastic_displacement(const std::array<int64_t, 3>& size, double sigma, double magnitude, Generator& gen) {
  VOXNN_CHECK(sigma > 0 && std::isfinite(sigma), "elastic_displacement: sigma ", sigma, " is not positive");
  VOXNN_CHECK(std::isfinite(magnitude), "elastic_displacement: magnitude ", magnitude, " is not finite");
  const int64_t X = size[0], Y = size[1], Z = size[2];
  Tensor<T> a = rand<T>({3, X, Y, Z}, gen, T(-1), T(1));
  Tensor<T> b({3, X, Y, Z});
  const std::vector<double> taps = detail::gaussian_taps(sigma);
  std::vector<T> w(taps.begin(), taps.end()), wm(taps.size());
  for (std::size_t i = 0; i < taps.size(); ++i) wm[i] = static_cast<T>(taps[i] * magnitude);
  detail::smooth_axis(a.data(), b.data(), 3 * X * Y, Z, 1, w);   // along Z
  detail::smooth_axis(b.data(), a.data(), 3 * X, Y, Z, w);       // along Y
  detail::smooth_axis(a.data(), b.data(), 3, X, Y * Z, wm);      // along X, times magnitude
  return b;
}

struct Rand3DElastic {
  std::array<double, 2> sigma_range{std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
  std::array<double, 2> magnitude_range{std::numeric_limits<double>::quiet_NaN(),
                                        std::numeric_limits<double>::quiet_NaN()};
  double prob = 0.1;
  std::array<double, 3> rotate_range{0, 0, 0};
  std::array<double, 6> shear_range{0, 0, 0, 0, 0, 0};
  std::array<double, 3> translate_range{0, 0, 0};
  std::array<double, 3> scale_range{0, 0, 0};
  std::string mode = "bilinear";
  std::string padding_mode = "reflection";

  template <Real T>
  void operator()(Sample<T>& s, Generator& gen) const {
    const char* op = "Rand3DElastic";
    const auto sp = detail::spatial_shape(s, op);
    detail::check_prob(prob, op);
    VOXNN_CHECK(sigma_range[0] > 0 && sigma_range[1] >= sigma_range[0] && std::isfinite(sigma_range[1]), op,
                ": sigma_range (", sigma_range[0], ", ", sigma_range[1], ") must be set, positive and increasing");
    VOXNN_CHECK(std::isfinite(magnitude_range[0]) && std::isfinite(magnitude_range[1]) &&
                    magnitude_range[1] >= magnitude_range[0],
                op, ": magnitude_range (", magnitude_range[0], ", ", magnitude_range[1], ") must be set and increasing");
    detail::parse_warp_mode(mode, op);
    detail::parse_warp_padding(padding_mode, op);
    detail::check_affine_ranges(rotate_range, shear_range, translate_range, scale_range, op);
    if (!detail::draws(gen).bernoulli(prob)) return;
    const double sigma = detail::draws(gen).uniform(sigma_range[0], sigma_range[1]);
    const double magnitude = detail::draws(gen).uniform(magnitude_range[0], magnitude_range[1]);
    Tensor<T> disp;
    if (magnitude != 0) disp = elastic_displacement<T>(sp, sigma, magnitude, gen);
    const io::Affine a = detail::random_affine(gen, rotate_range, shear_range, translate_range, scale_range);
    detail::resample_sample(s, detail::centred_index_map(a, sp), disp, mode, padding_mode, op);
  }
};

}  // namespace voxnn::data
