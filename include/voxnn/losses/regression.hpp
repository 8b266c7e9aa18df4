#pragma once
// Regression losses, as torch.nn.functional: mse_loss, l1_loss, smooth_l1_loss, huber_loss.
// Input and target must have the same shape: PyTorch broadcasts them with a warning, which nearly
// always hides a bug (a [N, 1] prediction against an [N] target gives an [N, N] loss), so here it
// is an error. Gradients flow to both input and target.
#include <type_traits>

#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/losses/reduction.hpp"

namespace voxnn::losses {

namespace detail {
template <Real T, Device D>
Var<T, D> checked_difference(const Var<T, D>& input, const Var<T, D>& target, const char* loss) {
  VOXNN_CHECK(input.defined() && target.defined(), loss, ": input and target must be defined");
  VOXNN_CHECK(input.shape() == target.shape(), loss, ": input of shape ", input.shape(), " and target of shape ",
              target.shape(), " differ (the shapes must match)");
  return sub(input, target);
}
}  // namespace detail

// (input - target)^2
template <Real T, Device D>
Var<T, D> mse_loss(const Var<T, D>& input, const std::type_identity_t<Var<T, D>>& target,
                   Reduction reduction = Reduction::mean) {
  const Var<T, D> d = detail::checked_difference(input, target, "mse_loss");
  return reduce(mul(d, d), reduction);
}

// |input - target|; the gradient at zero difference is zero, as in PyTorch.
template <Real T, Device D>
Var<T, D> l1_loss(const Var<T, D>& input, const std::type_identity_t<Var<T, D>>& target,
                  Reduction reduction = Reduction::mean) {
  return reduce(abs(detail::checked_difference(input, target, "l1_loss")), reduction);
}

struct SmoothL1Options {
  double beta = 1.0;  // where the quadratic part meets the linear part; 0 gives the L1 loss
  Reduction reduction = Reduction::mean;
};

// 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = input - target).
template <Real T, Device D>
Var<T, D> smooth_l1_loss(const Var<T, D>& input, const std::type_identity_t<Var<T, D>>& target,
                         const SmoothL1Options& options = {}) {
  VOXNN_CHECK(options.beta >= 0, "smooth_l1_loss: beta must be non-negative, got ", options.beta);
  const Var<T, D> d = detail::checked_difference(input, target, "smooth_l1_loss");
  const Var<T, D> a = abs(d);
  if (options.beta == 0) return reduce(a, options.reduction);
  const T beta = static_cast<T>(options.beta);
  const Tensor<bool> quadratic = ops::lt(a.value(), beta);
  return reduce(where(quadratic, mul(mul(d, d), static_cast<T>(0.5 / options.beta)), add(a, static_cast<T>(-0.5 * options.beta))),
                options.reduction);
}

struct HuberOptions {
  double delta = 1.0;  // where the quadratic part meets the linear part
  Reduction reduction = Reduction::mean;
};

// 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere: smooth_l1_loss scaled by delta.
template <Real T, Device D>
Var<T, D> huber_loss(const Var<T, D>& input, const std::type_identity_t<Var<T, D>>& target,
                     const HuberOptions& options = {}) {
  VOXNN_CHECK(options.delta > 0, "huber_loss: delta must be positive, got ", options.delta);
  const Var<T, D> d = detail::checked_difference(input, target, "huber_loss");
  const Var<T, D> a = abs(d);
  const T delta = static_cast<T>(options.delta);
  const Tensor<bool> quadratic = ops::lt(a.value(), delta);
  return reduce(where(quadratic, mul(mul(d, d), T(0.5)), mul(add(a, static_cast<T>(-0.5 * options.delta)), delta)), options.reduction);
}

}  // namespace voxnn::losses
