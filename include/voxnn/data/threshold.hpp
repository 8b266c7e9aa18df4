#pragma once
// Otsu's threshold (Otsu 1979): the intensity that best splits a histogram into two classes, by
// maximal between-class variance. The classical baseline for foreground segmentation.
//
// The histogram and the choice follow scikit-image's threshold_otsu(image, nbins=256): nbins equal
// bins over [min, max] of the finite values, the threshold is the centre of the last bin of the
// lower class, and foreground is `image > threshold`. NaN and infinite values are ignored.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::data {

template <Real T>
double otsu_threshold(const Tensor<T>& image, int64_t nbins = 256) {
  VOXNN_CHECK(nbins >= 2, "otsu_threshold: nbins must be at least 2, got ", nbins);
  const std::vector<T> values = image.contiguous().to_vector();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (T v : values)
    if (std::isfinite(static_cast<double>(v))) {
      lo = std::min(lo, static_cast<double>(v));
      hi = std::max(hi, static_cast<double>(v));
    }
  VOXNN_CHECK(lo <= hi, "otsu_threshold: the image ", image.shape(), " has no finite value");
  if (lo == hi) return lo;  // one intensity: nothing to split

  std::vector<double> count(static_cast<std::size_t>(nbins), 0.0), centre(static_cast<std::size_t>(nbins));
  const double width = (hi - lo) / static_cast<double>(nbins);
  for (int64_t b = 0; b < nbins; ++b) centre[static_cast<std::size_t>(b)] = lo + (static_cast<double>(b) + 0.5) * width;
  for (T v : values) {
    const double x = static_cast<double>(v);
    if (!std::isfinite(x)) continue;
    // numpy's rule: bins are half-open except the last, which holds the maximum
    auto b = static_cast<int64_t>((x - lo) / width);
    b = std::min(std::max<int64_t>(b, 0), nbins - 1);
    count[static_cast<std::size_t>(b)] += 1;
  }
  // Class weights and means below and above each cut, from both ends.
  const auto n = static_cast<std::size_t>(nbins);
  std::vector<double> w_below(n), m_below(n), w_above(n), m_above(n);
  double w = 0, s = 0;
  for (std::size_t b = 0; b < n; ++b) {
    w += count[b];
    s += count[b] * centre[b];
    w_below[b] = w;
    m_below[b] = w > 0 ? s / w : 0;
  }
  w = s = 0;
  for (std::size_t b = n; b-- > 0;) {
    w += count[b];
    s += count[b] * centre[b];
    w_above[b] = w;
    m_above[b] = w > 0 ? s / w : 0;
  }
  std::size_t best = 0;
  double best_variance = -1;
  for (std::size_t b = 0; b + 1 < n; ++b) {
    const double d = m_below[b] - m_above[b + 1];
    const double variance = w_below[b] * w_above[b + 1] * d * d;
    if (variance > best_variance) {  // the first maximum, as numpy's argmax
      best_variance = variance;
      best = b;
    }
  }
  return centre[best];
}

}  // namespace voxnn::data
