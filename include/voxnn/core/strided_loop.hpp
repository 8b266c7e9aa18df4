#pragma once
// The one strided N-d loop every elementwise kernel is built on: it visits an index space in runs
// along the innermost dimension, giving each operand's offset at the run start and its stride along it,
// so that the body's inner loop is a plain (often unit-stride, vectorisable) loop.
#include <array>
#include <cstdint>

#include "voxnn/core/parallel.hpp"
#include "voxnn/core/shape.hpp"

namespace voxnn::detail {

template <std::size_t N>
struct LoopSpace {
  Shape shape;
  std::array<Shape, N> strides;
};

// Drops size-1 dims and merges dims that are contiguous with their inner neighbour in every operand.
template <std::size_t N>
LoopSpace<N> coalesce(const Shape& shape, const std::array<Shape, N>& strides) {
  LoopSpace<N> out;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!out.shape.empty()) {
      const int last = out.shape.size() - 1;
      bool mergeable = true;
      for (std::size_t k = 0; k < N; ++k)
        mergeable = mergeable && out.strides[k][last] == strides[k][d] * shape[d];
      if (mergeable) {
        out.shape[last] *= shape[d];
        for (std::size_t k = 0; k < N; ++k) out.strides[k][last] = strides[k][d];
        continue;
      }
    }
    out.shape.push_back(shape[d]);
    for (std::size_t k = 0; k < N; ++k) out.strides[k].push_back(strides[k][d]);
  }
  if (out.shape.empty()) {  // a scalar or all-ones shape: one run of length one
    out.shape.push_back(1);
    for (std::size_t k = 0; k < N; ++k) out.strides[k].push_back(0);
  }
  return out;
}

// body(const std::array<int64_t, N>& offsets, int64_t run_length, const std::array<int64_t, N>& run_strides)
template <std::size_t N, class Body>
void for_each_run(const Shape& shape, const std::array<Shape, N>& strides, Body&& body,
                  int64_t grain = kParallelGrain) {
  const LoopSpace<N> space = coalesce(shape, strides);
  const int rank = space.shape.size();
  const int64_t inner = space.shape[rank - 1];
  std::array<int64_t, N> inner_strides;
  for (std::size_t k = 0; k < N; ++k) inner_strides[k] = space.strides[k][rank - 1];

  parallel_for(0, space.shape.numel(), grain, [&](int64_t begin, int64_t end) {
    // Position of `begin` as a multi-index, then walk runs until `end`.
    std::array<int64_t, kMaxRank> index{};
    int64_t rest = begin;
    for (int d = rank - 1; d >= 0; --d) {
      index[d] = rest % space.shape[d];
      rest /= space.shape[d];
    }
    std::array<int64_t, N> offsets{};
    for (std::size_t k = 0; k < N; ++k)
      for (int d = 0; d < rank; ++d) offsets[k] += index[d] * space.strides[k][d];

    int64_t pos = begin;
    while (pos < end) {
      const int64_t run = std::min(inner - index[rank - 1], end - pos);
      body(offsets, run, inner_strides);
      pos += run;
      // advance the multi-index by `run` elements
      index[rank - 1] += run;
      for (std::size_t k = 0; k < N; ++k) offsets[k] += run * inner_strides[k];
      for (int d = rank - 1; d > 0 && index[d] == space.shape[d]; --d) {
        index[d] = 0;
        ++index[d - 1];
        for (std::size_t k = 0; k < N; ++k)
          offsets[k] += space.strides[k][d - 1] - space.shape[d] * space.strides[k][d];
      }
    }
  });
}

}  // namespace voxnn::detail
