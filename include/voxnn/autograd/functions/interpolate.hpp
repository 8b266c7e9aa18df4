#pragma once
// Differentiable resampling (torch.nn.functional.interpolate): nearest, nearest-exact, linear,
// bilinear and trilinear; options and coordinate rules in include/voxnn/ops/interpolate.hpp. The
// backward is the adjoint (interpolate_backward), a linear function whose own backward is the forward
// resampling, so both differentiate to any order.
#include <vector>

#include "voxnn/autograd/var.hpp"
#include "voxnn/ops/interpolate.hpp"

namespace voxnn {

template <Real T, Device D>
Var<T, D> interpolate_forward(const Var<T, D>& x, const ops::InterpolatePlan& plan);

// The adjoint of interpolate for a resolved plan: gradient (N, C, out...) -> (N, C, in...).
template <Real T, Device D>
Var<T, D> interpolate_backward(const Var<T, D>& grad, const ops::InterpolatePlan& plan) {
  return autograd::make_result<T, D>(ops::interpolate_backward(grad.value(), plan), "interpolate_backward", {grad},
                                     [plan](const auto&, const auto&, const auto& g) {
                                       return std::vector{interpolate_forward(g, plan)};
                                     });
}

// Resampling by a resolved plan (ops::plan_interpolate).
template <Real T, Device D>
Var<T, D> interpolate_forward(const Var<T, D>& x, const ops::InterpolatePlan& plan) {
  return autograd::make_result<T, D>(ops::interpolate_forward(x.value(), plan), "interpolate", {x},
                                     [plan](const auto&, const auto&, const auto& g) {
                                       return std::vector{interpolate_backward(g, plan)};
                                     });
}

// torch.nn.functional.interpolate, e.g.
//   interpolate(x, {.scale_factor = 2, .mode = "trilinear", .align_corners = false})
//   interpolate(x, {.size = {48, 64, 64}})
template <Real T, Device D>
Var<T, D> interpolate(const Var<T, D>& x, const InterpolateOptions& options) {
  return interpolate_forward(x, ops::plan_interpolate(x.shape(), options));
}

}  // namespace voxnn
