#pragma once
// Indexing by index tensors: index_select, gather, scatter_add (and its in-place form), one_hot.
#include <algorithm>
#include <vector>

#include "voxnn/core/factory.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/ops/elementwise.hpp"

namespace voxnn::ops {

namespace detail {
inline int64_t checked_index(int64_t i, int64_t size, const char* op, int dim, const Shape& shape) {
  VOXNN_CHECK(i >= -size && i < size, op, ": index ", i, " out of range for dim ", dim, " of shape ", shape);
  return i < 0 ? i + size : i;
}
}  // namespace detail

// Entries of x at `index` (1-D) along dim. x is seen as [outer, size, inner]: each selected slice is
// `outer` contiguous runs of `inner` elements, copied in parallel.
template <Element T>
Tensor<T> index_select(const Tensor<T>& x, int64_t dim, const Tensor<int64_t>& index) {
  VOXNN_CHECK(index.dim() <= 1, "index_select: index must be 1-D, got shape ", index.shape());
  const int d = wrap_dim(dim, x.dim(), "index_select");
  const Tensor<int64_t> idx = index.reshape({-1}).contiguous();
  const int64_t n = idx.numel();
  const Shape& shape = x.shape();
  const int64_t size = x.dim() > 0 ? shape[d] : 1;
  VOXNN_CHECK(x.dim() > 0 || n == 1, "index_select: a 0-dim input takes one index, got ", n);
  std::vector<int64_t> rows(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[i] = detail::checked_index(idx.data()[i], size, "index_select", d, shape);

  Shape out_shape = shape;
  if (x.dim() > 0) out_shape[d] = n;
  Tensor<T> out(out_shape);
  int64_t outer = 1, inner = 1;
  for (int k = 0; k < d; ++k) outer *= shape[k];
  for (int k = d + 1; k < x.dim(); ++k) inner *= shape[k];
  const Tensor<T> src = x.contiguous();
  const T* from = src.data();
  T* to = out.data();
  parallel_for(0, outer * n, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(inner, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t k = begin; k < end; ++k)
                   std::copy_n(from + ((k / n) * size + rows[k % n]) * inner, inner, to + k * inner);
               });
  return out;
}

// x.select(dim, index[i]) += src.select(dim, i) for every i, in place on x (torch's index_add_).
template <Element T>
const Tensor<T>& index_add_(const Tensor<T>& x, int64_t dim, const Tensor<int64_t>& index, const Tensor<T>& src) {
  VOXNN_CHECK(index.dim() <= 1, "index_add: index must be 1-D, got shape ", index.shape());
  const int d = wrap_dim(dim, x.dim(), "index_add");
  const Tensor<int64_t> idx = index.reshape({-1});
  VOXNN_CHECK(src.dim() == x.dim() && src.shape()[d] == idx.numel(), "index_add: source of shape ", src.shape(),
              " does not match ", idx.numel(), " indices into shape ", x.shape(), " along dim ", d);
  for (int64_t i = 0; i < idx.numel(); ++i) {
    const int64_t j = detail::checked_index(idx.at({i}), x.shape()[d], "index_add", d, x.shape());
    const Tensor<T> row = x.select(d, j);
    ops::add_(row, src.select(d, i));
  }
  return x;
}

namespace detail {
// Visits every multi-index of index_shape in row-major order.
template <class Body>
void for_each_index_position(const Shape& index_shape, Body body) {
  const int64_t n = index_shape.numel();
  std::array<int64_t, kMaxRank> pos{};
  for (int64_t flat = 0; flat < n; ++flat) {
    body(pos);
    for (int k = index_shape.size() - 1; k >= 0; --k) {
      if (++pos[k] < index_shape[k]) break;
      pos[k] = 0;
    }
  }
}
inline void check_gather_shapes(const Shape& x, const Shape& index, int d, const char* op) {
  VOXNN_CHECK(x.size() == index.size(), op, ": index of shape ", index, " must have the rank of the input ", x);
  for (int k = 0; k < x.size(); ++k)
    VOXNN_CHECK(k == d || index[k] <= x[k], op, ": index of shape ", index, " exceeds input ", x, " in dim ", k);
}
}  // namespace detail

// out[i][j][k] = x[index[i][j][k]][j][k] for dim 0, and so on.
template <Element T>
Tensor<T> gather(const Tensor<T>& x, int64_t dim, const Tensor<int64_t>& index) {
  const int d = wrap_dim(dim, x.dim(), "gather");
  detail::check_gather_shapes(x.shape(), index.shape(), d, "gather");
  Tensor<T> out(index.shape());
  const T* px = x.data();
  const int64_t* pi = index.data();
  T* po = out.data();
  const Shape& xs = x.strides();
  const Shape& is = index.strides();
  const Shape& os = out.strides();
  detail::for_each_index_position(index.shape(), [&](const auto& pos) {
    int64_t xo = 0, io = 0, oo = 0;
    for (int k = 0; k < index.dim(); ++k) {
      io += pos[k] * is[k];
      oo += pos[k] * os[k];
      if (k != d) xo += pos[k] * xs[k];
    }
    const int64_t j = detail::checked_index(pi[io], x.shape()[d], "gather", d, x.shape());
    po[oo] = px[xo + j * xs[d]];
  });
  return out;
}

// x[index[i][j][k]][j][k] += src[i][j][k] (dim 0), in place on x.
template <Element T>
const Tensor<T>& scatter_add_(const Tensor<T>& x, int64_t dim, const Tensor<int64_t>& index, const Tensor<T>& src) {
  const int d = wrap_dim(dim, x.dim(), "scatter_add");
  detail::check_gather_shapes(x.shape(), index.shape(), d, "scatter_add");
  VOXNN_CHECK(src.dim() == index.dim(), "scatter_add: src of shape ", src.shape(), " and index of shape ",
              index.shape(), " differ in rank");
  for (int k = 0; k < index.dim(); ++k)
    VOXNN_CHECK(index.shape()[k] <= src.shape()[k], "scatter_add: index of shape ", index.shape(),
                " exceeds src of shape ", src.shape());
  T* px = x.data();
  const int64_t* pi = index.data();
  const T* ps = src.data();
  detail::for_each_index_position(index.shape(), [&](const auto& pos) {
    int64_t xo = 0, io = 0, so = 0;
    for (int k = 0; k < index.dim(); ++k) {
      io += pos[k] * index.strides()[k];
      so += pos[k] * src.strides()[k];
      if (k != d) xo += pos[k] * x.strides()[k];
    }
    const int64_t j = detail::checked_index(pi[io], x.shape()[d], "scatter_add", d, x.shape());
    px[xo + j * x.strides()[d]] += ps[so];
  });
  return x;
}
template <Element T>
Tensor<T> scatter_add(const Tensor<T>& x, int64_t dim, const Tensor<int64_t>& index, const Tensor<T>& src) {
  Tensor<T> out = x.clone();
  scatter_add_(out, dim, index, src);
  return out;
}

// A trailing class dim of size num_classes (inferred as max + 1 when negative), as F.one_hot.
template <Element T = int64_t>
Tensor<T> one_hot(const Tensor<int64_t>& labels, int64_t num_classes = -1) {
  const Tensor<int64_t> flat = labels.reshape({-1});
  const int64_t* p = flat.data();
  if (num_classes < 0) {
    num_classes = 0;
    for (int64_t i = 0; i < flat.numel(); ++i) num_classes = std::max(num_classes, p[i] + 1);
  }
  Shape out_shape = labels.shape();
  out_shape.push_back(num_classes);
  Tensor<T> out = zeros<T>(out_shape);
  T* o = out.data();
  for (int64_t i = 0; i < flat.numel(); ++i) {
    VOXNN_CHECK(p[i] >= 0 && p[i] < num_classes, "one_hot: class ", p[i], " outside [0, ", num_classes,
                ") for labels of shape ", labels.shape());
    o[i * num_classes + p[i]] = T(1);
  }
  return out;
}

}  // namespace voxnn::ops
