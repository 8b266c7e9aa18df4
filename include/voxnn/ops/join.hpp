#pragma once
// cat, stack, split and chunk along any dim.
#include <vector>

#include "voxnn/core/tensor.hpp"

namespace voxnn::ops {

template <Element T>
Tensor<T> cat(const std::vector<Tensor<T>>& parts, int64_t dim = 0) {
  VOXNN_CHECK(!parts.empty(), "cat: expects at least one tensor");
  const Shape& first = parts[0].shape();
  const int d = wrap_dim(dim, first.size(), "cat");
  Shape out_shape = first;
  out_shape[d] = 0;
  for (const auto& p : parts) {
    VOXNN_CHECK(p.dim() == first.size(), "cat: tensors of ranks ", first.size(), " and ", p.dim(), " (shapes ", first,
                " and ", p.shape(), ")");
    for (int i = 0; i < first.size(); ++i)
      VOXNN_CHECK(i == d || p.shape()[i] == first[i], "cat: shape ", p.shape(), " does not match ", first,
                  " outside dim ", d);
    out_shape[d] += p.shape()[d];
  }
  Tensor<T> out(out_shape);
  int64_t at = 0;
  for (const auto& p : parts) {
    out.narrow(d, at, p.shape()[d]).copy_(p);
    at += p.shape()[d];
  }
  return out;
}

template <Element T>
Tensor<T> stack(const std::vector<Tensor<T>>& parts, int64_t dim = 0) {
  VOXNN_CHECK(!parts.empty(), "stack: expects at least one tensor");
  const int d = wrap_dim(dim, parts[0].dim() + 1, "stack");
  std::vector<Tensor<T>> expanded;
  expanded.reserve(parts.size());
  for (const auto& p : parts) {
    VOXNN_CHECK(p.shape() == parts[0].shape(), "stack: shapes ", parts[0].shape(), " and ", p.shape(), " differ");
    expanded.push_back(p.unsqueeze(d));
  }
  return cat(expanded, d);
}

// Views of consecutive pieces of the given sizes along dim.
template <Element T>
std::vector<Tensor<T>> split_with_sizes(const Tensor<T>& x, const std::vector<int64_t>& sizes, int64_t dim = 0) {
  const int d = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  VOXNN_CHECK(total == x.shape()[d], "split: sizes summing to ", total, " do not cover dim ", d, " of shape ",
              x.shape());
  std::vector<Tensor<T>> out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(d, at, s));
    at += s;
  }
  return out;
}
// Pieces of `size` along dim (the last one may be smaller), as torch.split with an int.
template <Element T>
std::vector<Tensor<T>> split(const Tensor<T>& x, int64_t size, int64_t dim = 0) {
  VOXNN_CHECK(size > 0, "split: size must be positive, got ", size);
  const int d = wrap_dim(dim, x.dim(), "split");
  std::vector<int64_t> sizes;
  for (int64_t at = 0; at < x.shape()[d]; at += size) sizes.push_back(std::min(size, x.shape()[d] - at));
  return split_with_sizes(x, sizes, d);
}
template <Element T>
std::vector<Tensor<T>> chunk(const Tensor<T>& x, int64_t chunks, int64_t dim = 0) {
  VOXNN_CHECK(chunks > 0, "chunk: chunks must be positive, got ", chunks);
  const int d = wrap_dim(dim, x.dim(), "chunk");
  return split(x, std::max<int64_t>(1, (x.shape()[d] + chunks - 1) / chunks), d);
}

}  // namespace voxnn::ops
