#pragma once
// Differentiable views and layout ops: reshape, permute, transpose, expand / sum_to, squeeze,
// unsqueeze, flatten, narrow / slice / select (and their zero-padding adjoints), cat, stack, split,
// contiguous, and indexing (index_select, gather, scatter_add).
#include <numeric>
#include <vector>

#include "voxnn/autograd/var.hpp"
#include "voxnn/ops/indexing.hpp"
#include "voxnn/ops/join.hpp"
#include "voxnn/ops/reduce.hpp"

namespace voxnn {

template <Real T, Device D>
Var<T, D> reshape(const Var<T, D>& x, const Shape& shape) {
  return autograd::make_result<T, D>(x.value().reshape(shape), "reshape", {x},
                                     [](const auto& in, const auto&, const auto& g) {
                                       return std::vector{reshape(g, in[0].shape())};
                                     });
}
template <Real T, Device D>
Var<T, D> view(const Var<T, D>& x, const Shape& shape) {
  return autograd::make_result<T, D>(x.value().view(shape), "view", {x},
                                     [](const auto& in, const auto&, const auto& g) {
                                       return std::vector{reshape(g, in[0].shape())};
                                     });
}
template <Real T, Device D>
Var<T, D> flatten(const Var<T, D>& x, int64_t start = 0, int64_t end = -1) {
  return reshape(x, x.value().flatten(start, end).shape());
}
template <Real T, Device D>
Var<T, D> squeeze(const Var<T, D>& x, std::optional<int64_t> dim = std::nullopt) {
  return reshape(x, dim ? x.value().squeeze(*dim).shape() : x.value().squeeze().shape());
}
template <Real T, Device D>
Var<T, D> unsqueeze(const Var<T, D>& x, int64_t dim) {
  return reshape(x, x.value().unsqueeze(dim).shape());
}
template <Real T, Device D>
Var<T, D> contiguous(const Var<T, D>& x) {
  if (x.value().is_contiguous()) return x;
  return autograd::make_result<T, D>(x.value().contiguous(), "contiguous", {x},
                                     [](const auto&, const auto&, const auto& g) { return std::vector{g}; });
}

template <Real T, Device D>
Var<T, D> permute(const Var<T, D>& x, const std::vector<int64_t>& order) {
  std::vector<int64_t> inverse(order.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    inverse[static_cast<std::size_t>(wrap_dim(order[i], x.dim(), "permute"))] = static_cast<int64_t>(i);
  return autograd::make_result<T, D>(x.value().permute(order), "permute", {x},
                                     [inverse](const auto&, const auto&, const auto& g) {
                                       return std::vector{permute(g, inverse)};
                                     });
}
template <Real T, Device D>
Var<T, D> transpose(const Var<T, D>& x, int64_t d0, int64_t d1) {
  return autograd::make_result<T, D>(x.value().transpose(d0, d1), "transpose", {x},
                                     [d0, d1](const auto&, const auto&, const auto& g) {
                                       return std::vector{transpose(g, d0, d1)};
                                     });
}

// Sums a broadcast Var back to `shape`; the adjoint of expand.
template <Real T, Device D>
Var<T, D> sum_to(const Var<T, D>& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  return autograd::make_result<T, D>(ops::sum_to(x.value(), shape), "sum_to", {x},
                                     [](const auto& in, const auto&, const auto& g) {
                                       return std::vector{expand(g, in[0].shape())};
                                     });
}
template <Real T, Device D>
Var<T, D> expand(const Var<T, D>& x, const Shape& shape) {
  const Tensor<T, D> v = x.value().expand(shape);
  if (v.shape() == x.shape()) return x;
  return autograd::make_result<T, D>(v, "expand", {x}, [](const auto& in, const auto&, const auto& g) {
    return std::vector{sum_to(g, in[0].shape())};
  });
}

// Zeros of `shape` with x written at [start, start + step * len) along dim: the adjoint of slice.
template <Real T, Device D>
Var<T, D> slice_scatter(const Var<T, D>& x, const Shape& shape, int64_t dim, int64_t start, int64_t step = 1) {
  Tensor<T, D> out = zeros<T, D>(shape);
  const int d = wrap_dim(dim, shape.size(), "slice_scatter");
  out.slice(d, start, start + step * x.shape()[d], step).copy_(x.value());
  return autograd::make_result<T, D>(out, "slice_scatter", {x},
                                     [d, start, step](const auto& in, const auto&, const auto& g) {
                                       return std::vector{slice(g, d, start, start + step * in[0].shape()[d], step)};
                                     });
}
template <Real T, Device D>
Var<T, D> slice(const Var<T, D>& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1) {
  const Tensor<T, D> v = x.value().slice(dim, start, end, step);
  const int d = wrap_dim(dim, x.dim(), "slice");
  const int64_t n = x.shape()[d];
  const int64_t first = std::clamp<int64_t>(start < 0 ? start + n : start, 0, n);  // as Tensor::slice clamps
  return autograd::make_result<T, D>(v, "slice", {x}, [d, first, step](const auto& in, const auto&, const auto& g) {
    return std::vector{slice_scatter(g, in[0].shape(), d, first, step)};
  });
}
template <Real T, Device D>
Var<T, D> narrow(const Var<T, D>& x, int64_t dim, int64_t start, int64_t length) {
  const int d = wrap_dim(dim, x.dim(), "narrow");
  if (start < 0) start += x.shape()[d];
  x.value().narrow(d, start, length);  // validates the range with narrow's message
  return slice(x, d, start, start + length);
}
template <Real T, Device D>
Var<T, D> select(const Var<T, D>& x, int64_t dim, int64_t index) {
  const int d = wrap_dim(dim, x.dim(), "select");
  const int64_t i = index < 0 ? index + x.shape()[d] : index;
  return autograd::make_result<T, D>(x.value().select(d, index), "select", {x},
                                     [d, i](const auto& in, const auto&, const auto& g) {
                                       return std::vector{slice_scatter(unsqueeze(g, d), in[0].shape(), d, i)};
                                     });
}

template <Real T, Device D>
Var<T, D> cat(const std::vector<Var<T, D>>& parts, int64_t dim = 0) {
  std::vector<Tensor<T, D>> values;
  for (const auto& p : parts) values.push_back(p.value());
  Tensor<T, D> out = ops::cat(values, dim);
  const int d = wrap_dim(dim, out.dim(), "cat");
  return autograd::make_result<T, D>(out, "cat", parts, [d](const auto& in, const auto&, const auto& g) {
    std::vector<Var<T, D>> grads;
    int64_t at = 0;
    for (const auto& p : in) {
      grads.push_back(narrow(g, d, at, p.shape()[d]));
      at += p.shape()[d];
    }
    return grads;
  });
}
template <Real T, Device D>
Var<T, D> stack(const std::vector<Var<T, D>>& parts, int64_t dim = 0) {
  VOXNN_CHECK(!parts.empty(), "stack: expects at least one tensor");
  const int d = wrap_dim(dim, parts[0].dim() + 1, "stack");
  std::vector<Var<T, D>> expanded;
  for (const auto& p : parts) {
    VOXNN_CHECK(p.shape() == parts[0].shape(), "stack: shapes ", parts[0].shape(), " and ", p.shape(), " differ");
    expanded.push_back(unsqueeze(p, d));
  }
  return cat(expanded, d);
}
template <Real T, Device D>
std::vector<Var<T, D>> split_with_sizes(const Var<T, D>& x, const std::vector<int64_t>& sizes, int64_t dim = 0) {
  (void)ops::split_with_sizes(x.value(), sizes, dim);  // validates the sizes with split's message
  std::vector<Var<T, D>> out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(x, dim, at, s));
    at += s;
  }
  return out;
}
template <Real T, Device D>
std::vector<Var<T, D>> split(const Var<T, D>& x, int64_t size, int64_t dim = 0) {
  std::vector<int64_t> sizes;
  for (const auto& p : ops::split(x.value(), size, dim)) sizes.push_back(p.shape()[wrap_dim(dim, x.dim(), "split")]);
  return split_with_sizes(x, sizes, dim);
}
template <Real T, Device D>
std::vector<Var<T, D>> chunk(const Var<T, D>& x, int64_t chunks, int64_t dim = 0) {
  const int d = wrap_dim(dim, x.dim(), "chunk");
  VOXNN_CHECK(chunks > 0, "chunk: chunks must be positive, got ", chunks);
  return split(x, std::max<int64_t>(1, (x.shape()[d] + chunks - 1) / chunks), d);
}

// ---- indexing ---------------------------------------------------------------------------------------

// Zeros of `shape` with src's slices added at `index` along dim: the adjoint of index_select.
template <Real T, Device D>
Var<T, D> index_add(const Shape& shape, int64_t dim, const Tensor<int64_t>& index, const Var<T, D>& src) {
  Tensor<T, D> out = zeros<T, D>(shape);
  ops::index_add_(out, dim, index, src.value());
  return autograd::make_result<T, D>(out, "index_add", {src}, [dim, index](const auto&, const auto&, const auto& g) {
    return std::vector{index_select(g, dim, index)};
  });
}
template <Real T, Device D>
Var<T, D> index_select(const Var<T, D>& x, int64_t dim, const Tensor<int64_t>& index) {
  return autograd::make_result<T, D>(ops::index_select(x.value(), dim, index), "index_select", {x},
                                     [dim, index](const auto& in, const auto&, const auto& g) {
                                       return std::vector{index_add(in[0].shape(), dim, index, g)};
                                     });
}
// x with src added at index along dim; gradients flow to both x and src.
template <Real T, Device D>
Var<T, D> scatter_add(const Var<T, D>& x, int64_t dim, const Tensor<int64_t>& index, const Var<T, D>& src) {
  return autograd::make_result<T, D>(ops::scatter_add(x.value(), dim, index, src.value()), "scatter_add", {x, src},
                                     [dim, index](const auto& in, const auto&, const auto& g) {
                                       Var<T, D> gsrc = gather(g, dim, index);
                                       if (gsrc.shape() != in[1].shape())  // index smaller than src
                                         gsrc = slice_scatter_region(gsrc, in[1].shape());
                                       return std::vector{g, gsrc};
                                     });
}
template <Real T, Device D>
Var<T, D> gather(const Var<T, D>& x, int64_t dim, const Tensor<int64_t>& index) {
  return autograd::make_result<T, D>(ops::gather(x.value(), dim, index), "gather", {x},
                                     [dim, index](const auto& in, const auto&, const auto& g) {
                                       const Var<T, D> base(zeros<T, D>(in[0].shape()));
                                       return std::vector{scatter_add(base, dim, index, g)};
                                     });
}
// Zeros of `shape` with x in its leading corner (x no larger than shape in every dim).
template <Real T, Device D>
Var<T, D> slice_scatter_region(const Var<T, D>& x, const Shape& shape) {
  Var<T, D> out = x;
  for (int d = 0; d < x.dim(); ++d) {
    Shape s = out.shape();
    s[d] = shape[d];
    if (s != out.shape()) out = slice_scatter(out, s, d, 0);
  }
  return out;
}

}  // namespace voxnn
