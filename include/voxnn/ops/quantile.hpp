#pragma once
// Quantiles of all values of a tensor (or of a plain array) with NaN left out: numpy.nanquantile and
// numpy.nanpercentile with the default method="linear", bit for bit on double input. Several quantiles
// come from one copy of the data (partial selection, no full sort). For large inputs an optional
// sample limit takes every step-th value (an odd step, so that regular patterns of even period are
// not aliased) instead of all of them.
//
//   ops::nanquantile(x, 0.5)                    // the median, NaN ignored
//   ops::nanpercentile(x, {0.5, 99.5})          // two percentiles from one copy
//   ops::nanpercentile(x, {1, 99}, 1 << 20)     // from about 2^20 values spread over x
//
// Like numpy: the result is NaN when no value is left (all NaN or empty), and an infinite value next to
// the interpolation point makes it NaN or infinite (inf - inf), as numpy's lerp does.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::ops {

namespace detail {

// The stride that takes at most about `max_samples` of n values: 1 when max_samples <= 0 or n fits,
// otherwise ceil(n / max_samples) made odd.
inline int64_t quantile_sample_step(int64_t n, int64_t max_samples) {
  if (max_samples <= 0 || n <= max_samples) return 1;
  int64_t step = (n + max_samples - 1) / max_samples;
  if (step % 2 == 0) ++step;
  return step;
}

// numpy's _lerp: a + (b - a) t, or b - (b - a)(1 - t) when t >= 0.5.
inline double numpy_lerp(double a, double b, double t) {
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

// Quantiles q (each in [0, 1]) of v (no NaN), reordering v.
template <class T>
std::vector<double> quantiles_in_place(std::vector<T>& v, const std::vector<double>& q) {
  std::vector<double> out(q.size(), std::numeric_limits<double>::quiet_NaN());
  const auto m = static_cast<int64_t>(v.size());
  if (m == 0) return out;
  std::vector<std::size_t> order(q.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return q[a] < q[b]; });
  // After nth_element at `done`, every value from `done` on is >= v[done]: a larger quantile's order
  // statistic lies in [done, m).
  int64_t done = 0;
  bool selected = false;
  for (std::size_t i : order) {
    const double virtual_index = static_cast<double>(m - 1) * q[i];
    int64_t lo = 0;
    double gamma = 0;
    bool last = false;
    if (virtual_index >= static_cast<double>(m - 1)) {  // numpy: previous = next = the largest value
      lo = m - 1;
      last = true;
      gamma = virtual_index + 1;  // numpy's gamma against its index -1; matters only for inf values
    } else {
      lo = static_cast<int64_t>(std::floor(virtual_index));
      gamma = virtual_index - static_cast<double>(lo);
    }
    if (!selected || lo != done) {
      std::nth_element(v.begin() + done, v.begin() + lo, v.end());
      done = lo;
      selected = true;
    }
    const double a = static_cast<double>(v[static_cast<std::size_t>(lo)]);
    const double b = last ? a : static_cast<double>(*std::min_element(v.begin() + lo + 1, v.end()));
    out[i] = numpy_lerp(a, b, gamma);
  }
  return out;
}

inline void check_quantiles(const std::vector<double>& q, double top, const char* op) {
  for (double x : q)
    VOXNN_CHECK(x >= 0 && x <= top, op, ": q = ", x, " is outside [0, ", top, "]");
}

}  // namespace detail

// numpy.nanquantile(values[0:n], q) for every q (each in [0, 1]), NaN values left out; with
// max_samples > 0 and n > max_samples, from every step-th value only (step = ceil(n / max_samples),
// made odd).
template <class T>
std::vector<double> nanquantile(const T* values, int64_t n, const std::vector<double>& q, int64_t max_samples = 0) {
  detail::check_quantiles(q, 1.0, "nanquantile");
  VOXNN_CHECK(n >= 0, "nanquantile: negative count ", n);
  const int64_t step = detail::quantile_sample_step(n, max_samples);
  std::vector<T> v;
  v.reserve(static_cast<std::size_t>((n + step - 1) / step));
  for (int64_t i = 0; i < n; i += step) {
    const T x = values[i];
    if (x == x) v.push_back(x);  // not NaN
  }
  return detail::quantiles_in_place(v, q);
}

// numpy.nanquantile(x, q) over all elements of x (any shape, any strides).
template <Element T>
std::vector<double> nanquantile(const Tensor<T>& x, const std::vector<double>& q, int64_t max_samples = 0) {
  const Tensor<T> c = x.contiguous();
  return nanquantile(c.data(), c.numel(), q, max_samples);
}

template <Element T>
double nanquantile(const Tensor<T>& x, double q, int64_t max_samples = 0) {
  return nanquantile(x, std::vector<double>{q}, max_samples)[0];
}

// numpy.nanpercentile: nanquantile of p / 100 for every p (each in [0, 100]).
template <class T>
std::vector<double> nanpercentile(const T* values, int64_t n, const std::vector<double>& p, int64_t max_samples = 0) {
  detail::check_quantiles(p, 100.0, "nanpercentile");
  std::vector<double> q(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) q[i] = p[i] / 100.0;  // numpy divides first, too
  return nanquantile(values, n, q, max_samples);
}

template <Element T>
std::vector<double> nanpercentile(const Tensor<T>& x, const std::vector<double>& p, int64_t max_samples = 0) {
  const Tensor<T> c = x.contiguous();
  return nanpercentile(c.data(), c.numel(), p, max_samples);
}

template <Element T>
double nanpercentile(const Tensor<T>& x, double p, int64_t max_samples = 0) {
  return nanpercentile(x, std::vector<double>{p}, max_samples)[0];
}

}  // namespace voxnn::ops
