#pragma once
// Intensity transforms (the image only; the label is left alone), after MONAI 1.3.2's
// ScaleIntensityRange, ScaleIntensityRangePercentiles, NormalizeIntensity and a clip:
//
//   ScaleIntensityRange{.a_min = -1000, .a_max = 1000, .b_min = 0.0, .b_max = 1.0, .clip = true}
//   ScaleIntensityRangePercentiles{.lower = 0.5, .upper = 99.5, .b_min = 0.0, .b_max = 1.0}
//   NormalizeIntensity{.nonzero = true, .channel_wise = true}          // z-score
//   ClipIntensity{.a_min = 0, .a_max = 1}
//
// Each writes a new image tensor (the sample's old one is not modified, so a cached dataset stays
// intact). Statistics accumulate in double over fixed chunks, so they do not depend on the number
// of threads. Percentiles interpolate linearly between order statistics, as numpy.percentile and
// torch.quantile do, with NaN voxels left out (numpy.nanpercentile; MONAI's percentile would give NaN
// and turn the whole image NaN, e.g. after a resample that pads with NaN).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/data/transforms/common.hpp"
#include "voxnn/ops/quantile.hpp"

namespace voxnn::data {

namespace detail {

inline constexpr int64_t kStatChunk = 1 << 16;

// sum over i in [0, n) of f(i), in double, chunked so the result is the same on any thread count.
template <class F>
double chunked_sum(int64_t n, F f) {
  const int64_t chunks = (n + kStatChunk - 1) / kStatChunk;
  std::vector<double> part(static_cast<std::size_t>(chunks), 0.0);
  parallel_for(0, chunks, 2, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t b = c * kStatChunk, e = std::min(n, b + kStatChunk);
      double s = 0;
      for (int64_t i = b; i < e; ++i) s += f(i);
      part[static_cast<std::size_t>(c)] = s;
    }
  });
  double s = 0;
  for (double p : part) s += p;
  return s;
}

// out[i] = f(in[i]) over n elements, in parallel.
template <class T, class F>
void map_values(const T* in, T* out, int64_t n, F f) {
  parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = f(in[i]);
  });
}

// The q-th percentile (0..100) of n values, NaN left out: numpy.nanpercentile (ops::nanpercentile).
template <class T>
double percentile(const T* values, int64_t n, double q) {
  return ops::nanpercentile(values, n, {q})[0];
}

// (x - a_min) / (a_max - a_min), then to [b_min, b_max] when both are given, then clipped; MONAI's
// rule for a zero input range: x - a_min (+ b_min).
template <class T>
void scale_range(const T* in, T* out, int64_t n, double a_min, double a_max, std::optional<double> b_min,
                 std::optional<double> b_max, bool clip) {
  const bool rescale = b_min.has_value() && b_max.has_value();
  if (a_max - a_min == 0.0) {
    const double shift = -a_min + (b_min ? *b_min : 0.0);
    map_values(in, out, n, [=](T x) { return static_cast<T>(static_cast<double>(x) + shift); });
    return;
  }
  const double scale = 1.0 / (a_max - a_min);
  const double lo = rescale ? *b_min : 0.0, span = rescale ? *b_max - *b_min : 1.0;
  const double cmin = clip ? std::min(*b_min, *b_max) : -std::numeric_limits<double>::infinity();
  const double cmax = clip ? std::max(*b_min, *b_max) : std::numeric_limits<double>::infinity();
  map_values(in, out, n, [=](T x) {
    double y = (static_cast<double>(x) - a_min) * scale;
    if (rescale) y = y * span + lo;
    return static_cast<T>(std::clamp(y, cmin, cmax));
  });
}

}  // namespace detail

// monai.transforms.ScaleIntensityRange: (x - a_min) / (a_max - a_min) * (b_max - b_min) + b_min, then
// clipped to [b_min, b_max] when `clip`. Without b_min and b_max the result is (x - a_min) / (a_max -
// a_min). a_min and a_max must be given.
struct ScaleIntensityRange {
  double a_min = std::numeric_limits<double>::quiet_NaN();
  double a_max = std::numeric_limits<double>::quiet_NaN();
  std::optional<double> b_min{};
  std::optional<double> b_max{};
  bool clip = false;

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    detail::spatial_shape(s, "ScaleIntensityRange");
    VOXNN_CHECK(std::isfinite(a_min) && std::isfinite(a_max), "ScaleIntensityRange: a_min (", a_min,
                ") and a_max (", a_max, ") must be set to finite values");
    VOXNN_CHECK(b_min.has_value() == b_max.has_value(), "ScaleIntensityRange: give both b_min and b_max or neither");
    VOXNN_CHECK(!clip || b_min.has_value(), "ScaleIntensityRange: clip needs b_min and b_max");
    const Tensor<T> in = s.image.contiguous();
    Tensor<T> out(in.shape());
    detail::scale_range(in.data(), out.data(), in.numel(), a_min, a_max, b_min, b_max, clip);
    s.image = out;
  }
};

// monai.transforms.ScaleIntensityRangePercentiles: ScaleIntensityRange with a_min and a_max the lower
// and upper percentiles (0..100) of the image (of each channel when channel_wise). relative: b_min
// and b_max become the same percentiles of [b_min, b_max].
struct ScaleIntensityRangePercentiles {
  double lower = std::numeric_limits<double>::quiet_NaN();
  double upper = std::numeric_limits<double>::quiet_NaN();
  std::optional<double> b_min{};
  std::optional<double> b_max{};
  bool clip = false;
  bool relative = false;
  bool channel_wise = false;

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    const char* op = "ScaleIntensityRangePercentiles";
    detail::spatial_shape(s, op);
    VOXNN_CHECK(lower >= 0 && lower <= 100 && upper >= 0 && upper <= 100 && lower <= upper, op,
                ": percentiles lower ", lower, " and upper ", upper, " must satisfy 0 <= lower <= upper <= 100");
    VOXNN_CHECK(b_min.has_value() == b_max.has_value(), op, ": give both b_min and b_max or neither");
    VOXNN_CHECK(!(clip || relative) || b_min.has_value(), op, ": clip and relative need b_min and b_max");
    std::optional<double> bl = b_min, bh = b_max;
    if (relative) {
      bl = (*b_max - *b_min) * (lower / 100.0) + *b_min;
      bh = (*b_max - *b_min) * (upper / 100.0) + *b_min;
    }
    const Tensor<T> in = s.image.contiguous();
    Tensor<T> out(in.shape());
    const int64_t channels = channel_wise ? in.size(0) : 1, n = in.numel() / channels;
    for (int64_t c = 0; c < channels; ++c) {
      const T* x = in.data() + c * n;
      const std::vector<double> a = ops::nanpercentile(x, n, {lower, upper});
      detail::scale_range(x, out.data() + c * n, n, a[0], a[1], bl, bh, clip);
    }
    s.image = out;
  }
};

// monai.transforms.NormalizeIntensity: (x - subtrahend) / divisor, by default the mean and the
// population standard deviation (a zero deviation divides by 1). nonzero: statistics over the nonzero
// voxels, and only those change (an image without any is returned as it is). channel_wise: each
// channel on its own. subtrahend / divisor: empty to compute, one value, or one per channel
// (channel_wise).
struct NormalizeIntensity {
  std::vector<double> subtrahend{};
  std::vector<double> divisor{};
  bool nonzero = false;
  bool channel_wise = false;

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    const char* op = "NormalizeIntensity";
    detail::spatial_shape(s, op);
    const Tensor<T> in = s.image.contiguous();
    const int64_t channels = channel_wise ? in.size(0) : 1, n = in.numel() / channels;
    auto given = [&](const std::vector<double>& v, const char* what) {
      VOXNN_CHECK(v.size() <= 1 || (channel_wise && static_cast<int64_t>(v.size()) == channels), op, ": ", what,
                  " has ", v.size(), " values; expected 0, 1", channel_wise ? " or one per channel (" : "",
                  channel_wise ? std::to_string(channels) + ")" : std::string(), " for image ", in.shape());
    };
    given(subtrahend, "subtrahend");
    given(divisor, "divisor");
    Tensor<T> out(in.shape());
    for (int64_t c = 0; c < channels; ++c) {
      const T* x = in.data() + c * n;
      T* y = out.data() + c * n;
      const bool nz = nonzero;
      auto keep = [=](int64_t i) { return !nz || x[i] != T(0); };
      const double count = nz ? detail::chunked_sum(n, [=](int64_t i) { return x[i] != T(0) ? 1.0 : 0.0; })
                              : static_cast<double>(n);
      if (count == 0) {
        std::copy(x, x + n, y);
        continue;
      }
      double mean = 0, stdev = 1;
      if (subtrahend.empty() || divisor.empty()) {
        mean = detail::chunked_sum(n, [=](int64_t i) { return keep(i) ? static_cast<double>(x[i]) : 0.0; }) / count;
        const double m = mean;
        const double ss = detail::chunked_sum(n, [=](int64_t i) {
          const double d = static_cast<double>(x[i]) - m;
          return keep(i) ? d * d : 0.0;
        });
        stdev = std::sqrt(ss / count);
      }
      const auto pick = [&](const std::vector<double>& v) { return v.size() == 1 ? v[0] : v[static_cast<std::size_t>(c)]; };
      const double sub = subtrahend.empty() ? mean : pick(subtrahend);
      double div = divisor.empty() ? stdev : pick(divisor);
      if (div == 0.0) div = 1.0;
      const double inv = 1.0 / div;
      parallel_for(0, n, kParallelGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i)
          y[i] = keep(i) ? static_cast<T>((static_cast<double>(x[i]) - sub) * inv) : x[i];
      });
    }
    s.image = out;
  }
};

// Clamps the image to [a_min, a_max] (torch.clamp; an infinite bound leaves that side open).
struct ClipIntensity {
  double a_min = -std::numeric_limits<double>::infinity();
  double a_max = std::numeric_limits<double>::infinity();

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    detail::spatial_shape(s, "ClipIntensity");
    VOXNN_CHECK(!(a_min > a_max) && !std::isnan(a_min) && !std::isnan(a_max), "ClipIntensity: a_min ", a_min,
                " is above a_max ", a_max);
    const Tensor<T> in = s.image.contiguous();
    Tensor<T> out(in.shape());
    const double lo = a_min, hi = a_max;
    detail::map_values(in.data(), out.data(), in.numel(), [=](T x) {
      const double v = static_cast<double>(x);
      return v < lo ? static_cast<T>(lo) : v > hi ? static_cast<T>(hi) : x;
    });
    s.image = out;
  }
};

}  // namespace voxnn::data
