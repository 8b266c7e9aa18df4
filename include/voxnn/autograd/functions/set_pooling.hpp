#pragma once
// Mean and max pooling over the set dim of a set (the slices of a volume in a 2D-slice set network),
// leaving out padded elements: key_padding_mask has the shape of x up to the set dim (as
// nn::MultiheadAttention's), true = padding. A set whose every element is padding pools to NaN
// (mean: 0 / 0) or -inf (max). The modules are in nn/set_pooling.hpp.
#include <cstdint>
#include <limits>

#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/ops/elementwise.hpp"
#include "voxnn/ops/reduce.hpp"

namespace voxnn {

namespace autograd::detail {
// The padding mask reshaped to broadcast over x (trailing dims of size 1), after checking its shape.
inline Tensor<bool> set_mask(const Tensor<bool>& mask, const Shape& x, int d, const char* op) {
  Shape lead, full;
  for (int i = 0; i <= d; ++i) lead.push_back(x[i]);
  VOXNN_CHECK(mask.shape() == lead, op, ": key_padding_mask ", mask.shape(), " must have the shape ", lead,
              " of input ", x, " up to the set dim ", d);
  full = lead;
  for (int i = d + 1; i < x.size(); ++i) full.push_back(1);
  return mask.reshape(full);
}
}  // namespace autograd::detail

// Mean over the set dim `dim` of x, leaving out elements where key_padding_mask is true.
template <Real T, Device D>
Var<T, D> set_mean_pool(const Var<T, D>& x, int64_t dim = 1, const Tensor<bool>& key_padding_mask = {},
                        bool keepdim = false) {
  const char* op = "set_mean_pool";
  const int d = wrap_dim(dim, x.dim(), op);
  if (!key_padding_mask.defined()) return mean(x, {d}, keepdim);
  const Tensor<bool> m = autograd::detail::set_mask(key_padding_mask, x.shape(), d, op);
  const Tensor<T, D> keep = ops::map<T>(m, [](bool padded) { return padded ? T(0) : T(1); }, op);
  const Tensor<T, D> count = ops::sum(keep, {d}, keepdim);
  return div(sum(mul(x, constant(keep)), {d}, keepdim), constant(count));
}

// Maximum over the set dim `dim` of x, leaving out elements where key_padding_mask is true. The
// gradient goes to the maximum (split evenly among ties).
template <Real T, Device D>
Var<T, D> set_max_pool(const Var<T, D>& x, int64_t dim = 1, const Tensor<bool>& key_padding_mask = {},
                       bool keepdim = false) {
  const char* op = "set_max_pool";
  const int d = wrap_dim(dim, x.dim(), op);
  if (!key_padding_mask.defined()) return amax(x, {d}, keepdim);
  const Tensor<bool> m = autograd::detail::set_mask(key_padding_mask, x.shape(), d, op);
  const Var<T, D> low(full<T, D>(Shape{}, -std::numeric_limits<T>::infinity()));
  return amax(where(m, low, x), {d}, keepdim);
}

}  // namespace voxnn
