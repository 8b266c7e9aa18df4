#pragma once
// Differentiable matmul (torch.matmul's rules), bmm and linear.
#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/ops/linalg.hpp"

namespace voxnn {

template <Real T, Device D>
Var<T, D> matmul(const Var<T, D>& a, const Var<T, D>& b) {
  VOXNN_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least one dim, got shapes ", a.shape(),
              " and ", b.shape());
  // A 1-D a gains a leading dim that is removed again: at -2, or at 0 when b is 1-D too (a dot
  // product, whose [1] result becomes 0-dim).
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), b.dim() == 1 ? 0 : -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  return autograd::make_result<T, D>(
      ops::matmul(a.value(), b.value()), "matmul", {a, b}, [](const auto& in, const auto&, const auto& g) {
        std::vector<Var<T, D>> grads(2);
        if (in[0].requires_grad()) grads[0] = sum_to(matmul(g, transpose(in[1], -1, -2)), in[0].shape());
        if (in[1].requires_grad()) grads[1] = sum_to(matmul(transpose(in[0], -1, -2), g), in[1].shape());
        return grads;
      });
}
template <Real T, Device D>
Var<T, D> bmm(const Var<T, D>& a, const Var<T, D>& b) {
  VOXNN_CHECK(a.dim() == 3 && b.dim() == 3 && a.shape()[0] == b.shape()[0], "bmm: expects [B, n, m] and [B, m, p], got ",
              a.shape(), " and ", b.shape());
  return matmul(a, b);
}
// x @ weight^T + bias with weight [out, in], as torch.nn.functional.linear.
template <Real T, Device D>
Var<T, D> linear(const Var<T, D>& x, const Var<T, D>& weight, const Var<T, D>& bias = {}) {
  VOXNN_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.shape()[x.dim() - 1] == weight.shape()[1], "linear: input ",
              x.shape(), " does not match weight ", weight.shape(), " ([out_features, in_features])");
  Var<T, D> y = matmul(x, transpose(weight, 0, 1));
  return bias.defined() ? add(y, bias) : y;
}

}  // namespace voxnn
