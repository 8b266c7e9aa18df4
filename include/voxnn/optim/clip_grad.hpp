#pragma once
// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (1.13), in place on the
// parameters' gradients. Parameters without a gradient are skipped.
#include <cmath>
#include <limits>
#include <vector>

#include "voxnn/autograd/var.hpp"
#include "voxnn/ops/elementwise.hpp"
#include "voxnn/ops/reduce.hpp"

namespace voxnn::optim {

// The norm of all gradients seen as one vector: each gradient's norm first, then the norm of those
// (the largest magnitude for norm_type = inf).
template <Real T, Device D>
T grad_norm(const std::vector<Var<T, D>>& params, double norm_type = 2.0) {
  VOXNN_CHECK(norm_type > 0 || std::isinf(norm_type), "clip_grad_norm: norm_type must be positive or inf, got ",
              norm_type);
  std::vector<T> norms;
  for (const auto& p : params)
    if (p.grad().defined()) norms.push_back(ops::norm(p.grad(), norm_type).item());
  if (norms.empty()) return T(0);
  if (norms.size() == 1) return norms[0];
  return ops::norm(from_vector(norms), norm_type).item();
}

// Scales all gradients by max_norm / (total_norm + 1e-6) when that is below 1, and returns the total
// norm from before clipping. A non-finite norm is an error with error_if_nonfinite; otherwise the
// gradients are scaled by it as PyTorch does (NaN stays NaN).
template <Real T, Device D>
T clip_grad_norm(const std::vector<Var<T, D>>& params, double max_norm, double norm_type = 2.0,
                 bool error_if_nonfinite = false) {
  const T total = grad_norm(params, norm_type);
  VOXNN_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm: the total norm of order ", norm_type,
              " of the gradients is ", total, " and cannot be clipped (pass error_if_nonfinite = false to scale by it)");
  const T coef = static_cast<T>(max_norm) / (total + static_cast<T>(1e-6));
  if (coef < T(1) || coef != coef)
    for (const auto& p : params)
      if (p.grad().defined()) ops::mul_(p.grad(), coef);
  return total;
}

// Clamps every gradient element to [-clip_value, clip_value].
template <Real T, Device D>
void clip_grad_value(const std::vector<Var<T, D>>& params, double clip_value) {
  const T c = static_cast<T>(clip_value);
  for (const auto& p : params)
    if (p.grad().defined()) ops::clamp_(p.grad(), -c, c);
}

}  // namespace voxnn::optim
