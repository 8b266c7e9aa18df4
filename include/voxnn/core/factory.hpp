#pragma once
// Tensor factories: empty, zeros, ones, full, arange, linspace, from values, and seeded random draws.
#include <cmath>
#include <vector>

#include "voxnn/core/parallel.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn {

template <Element T, Device D = Cpu>
Tensor<T, D> empty(const Shape& shape) {
  return Tensor<T, D>(shape);
}
template <Element T, Device D = Cpu>
Tensor<T, D> full(const Shape& shape, T value) {
  Tensor<T, D> t(shape);
  t.fill_(value);
  return t;
}
template <Element T, Device D = Cpu>
Tensor<T, D> zeros(const Shape& shape) {
  return full<T, D>(shape, T(0));
}
template <Element T, Device D = Cpu>
Tensor<T, D> ones(const Shape& shape) {
  return full<T, D>(shape, T(1));
}
template <Element T, class D>
Tensor<T, D> zeros_like(const Tensor<T, D>& t) {
  return zeros<T, D>(t.shape());
}
template <Element T, class D>
Tensor<T, D> ones_like(const Tensor<T, D>& t) {
  return ones<T, D>(t.shape());
}
template <Element T, class D>
Tensor<T, D> empty_like(const Tensor<T, D>& t) {
  return empty<T, D>(t.shape());
}
// A 0-dim tensor holding one value.
template <Element T>
Tensor<T> scalar_tensor(T value) {
  return full<T>(Shape{}, value);
}

// A tensor holding `values` in row-major order with the given shape (a 1-D shape when none is given).
template <Element T>
Tensor<T> from_vector(const std::vector<T>& values, Shape shape = {}) {
  if (shape.empty() && values.size() != 1) shape = {static_cast<int64_t>(values.size())};
  VOXNN_CHECK(shape.numel() == static_cast<int64_t>(values.size()), "from_vector: ", values.size(),
              " values do not fill shape ", shape);
  Tensor<T> t(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

// Values start, start + step, ... below end (above end for a negative step), as torch.arange.
template <Element T>
Tensor<T> arange(double start, double end, double step = 1.0) {
  VOXNN_CHECK(step != 0, "arange: step must be nonzero");
  VOXNN_CHECK((end - start) / step >= 0, "arange: end ", end, " is not reachable from start ", start,
              " with step ", step);
  const auto n = static_cast<int64_t>(std::ceil((end - start) / step));
  Tensor<T> t({n});
  T* p = t.data();
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  return t;
}
template <Element T>
Tensor<T> arange(double end) {
  return arange<T>(0.0, end, 1.0);
}

// `steps` evenly spaced values from start to end inclusive, as torch.linspace (symmetric from both ends).
template <Real T>
Tensor<T> linspace(double start, double end, int64_t steps) {
  VOXNN_CHECK(steps >= 0, "linspace: steps must be non-negative, got ", steps);
  Tensor<T> t({steps});
  T* p = t.data();
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  const int64_t half = steps > 1 ? steps / 2 : 1;  // one step gives [start], as torch does
  for (int64_t i = 0; i < steps; ++i)
    p[i] = static_cast<T>(i < half ? start + step * static_cast<double>(i)
                                   : end - step * static_cast<double>(steps - 1 - i));
  return t;
}

// ---- random -------------------------------------------------------------------------------------

namespace detail {
// Fills a fresh contiguous tensor `per_block` values per generator block of four 32-bit words;
// fill(words, out, count) writes up to per_block values from one block.
template <class T, int per_block, class Fill>
Tensor<T> random_fill(const Shape& shape, Generator& gen, Fill fill) {
  Tensor<T> t(shape);
  const int64_t n = t.numel();
  const auto blocks = static_cast<uint64_t>((n + per_block - 1) / per_block);
  const uint64_t first = gen.reserve(blocks);
  T* p = t.data();
  parallel_for(0, static_cast<int64_t>(blocks), 4096, [&](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) {
      const auto words = gen.block(first + static_cast<uint64_t>(blk));
      const int64_t base = blk * per_block;
      fill(words, p + base, std::min<int64_t>(per_block, n - base));
    }
  });
  return t;
}
}  // namespace detail

// Uniform on [low, high). A float takes one 32-bit word, a double two.
template <Real T>
Tensor<T> rand(const Shape& shape, Generator& gen = default_generator(), T low = 0, T high = 1) {
  constexpr int per_block = sizeof(T) == 4 ? 4 : 2;
  return detail::random_fill<T, per_block>(shape, gen, [=](const auto& w, T* out, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      const T u = per_block == 4 ? detail::uniform_from<T>(w[i], 0) : detail::uniform_from<T>(w[2 * i], w[2 * i + 1]);
      out[i] = low + (high - low) * u;
    }
  });
}

// Normal with the given mean and standard deviation: one Box-Muller pair per block.
template <Real T>
Tensor<T> randn(const Shape& shape, Generator& gen = default_generator(), T mean = 0, T std = 1) {
  return detail::random_fill<T, 2>(shape, gen, [=](const auto& w, T* out, int64_t count) {
    const auto z = detail::normal_pair<T>(w);
    for (int64_t i = 0; i < count; ++i) out[i] = mean + std * z[i];
  });
}

// Integers uniform on [low, high), from 64 random bits each.
template <class T = int64_t>
  requires Element<T>
Tensor<T> randint(int64_t low, int64_t high, const Shape& shape, Generator& gen = default_generator()) {
  VOXNN_CHECK(high > low, "randint: empty range [", low, ", ", high, ")");
  const auto span = static_cast<uint64_t>(high - low);
  return detail::random_fill<T, 2>(shape, gen, [=](const auto& w, T* out, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      const uint64_t r = (uint64_t{w[2 * i]} << 32) | w[2 * i + 1];
      out[i] = static_cast<T>(low + static_cast<int64_t>(r % span));
    }
  });
}

}  // namespace voxnn
