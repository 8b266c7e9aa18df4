#pragma once
// Differentiable grid_sample and affine_grid (torch.nn.functional's, PyTorch 1.13 semantics; the
// coordinate rules are in include/voxnn/ops/grid_sample.hpp).
//
// Derivatives:
//   - grid_sample(input, grid): a plain backward computes both gradients in one fused pass.
//     Under create_graph the input gradient is grid_sample_input_grad(g, grid), the adjoint
//     (scatter), itself differentiable in g (its backward samples again) and in grid; the grid
//     gradient is grid_sample_grid_grad(g, input, grid), differentiable once more for bilinear /
//     trilinear and nearest (a third derivative through it, or a second for bicubic, throws
//     voxnn::Error).
//   - affine_grid is linear in theta; its backward is the adjoint affine_grid_backward, linear again,
//     so it differentiates to any order.
#include <span>
#include <vector>

#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/var.hpp"
#include "voxnn/ops/grid_sample.hpp"

namespace voxnn {

template <Real T, Device D>
Var<T, D> grid_sample_forward(const Var<T, D>& input, const Var<T, D>& grid, const ops::GridSamplePlan& plan);

// The gradient of <g, grid_sample(input, grid)> with respect to the grid. Differentiable once more
// (bilinear / trilinear and nearest) in g, input and grid; the derivatives of that are not provided
// (a third backward through it throws), nor any for bicubic.
template <Real T, Device D>
Var<T, D> grid_sample_grid_grad(const Var<T, D>& g, const Var<T, D>& input, const Var<T, D>& grid,
                                const ops::GridSamplePlan& plan) {
  Tensor<T, D> value = ops::grid_sample_backward(g.value(), input.value(), grid.value(), plan, false, true).second;
  return autograd::make_result<T, D>(
      std::move(value), "grid_sample_grid_grad", {g, input, grid}, [plan](const auto& in, const auto&, const auto& u) {
        VOXNN_CHECK(plan.mode != ops::GridSampleMode::bicubic, "grid_sample: double backward through the gradient "
                    "with respect to the grid is not provided for mode 'bicubic' (input ", plan.input, ", grid ",
                    plan.grid, "); detach the grid gradient or the grid");
        const bool ng = autograd::needs_grad(in, 0), ni = autograd::needs_grad(in, 1), nd = autograd::needs_grad(in, 2);
        auto parts = ops::grid_sample_grid_grad_backward(in[0].value(), in[1].value(), in[2].value(), u.value(), plan,
                                                         ng, ni, nd);
        std::vector<Var<T, D>> out(3);
        auto wrap = [&](std::size_t k, const char* name) {
          // constants under a third backward: their own derivatives are not provided
          if (!GradMode::enabled()) return constant(parts[k]);
          return autograd::make_result<T, D>(parts[k], name, {in[0], in[1], in[2], u},
                                             [plan](const auto&, const auto&, const auto&) -> std::vector<Var<T, D>> {
                                               VOXNN_CHECK(false, "grid_sample: a third derivative through the grid "
                                                           "gradient is not provided (input ", plan.input, ", grid ",
                                                           plan.grid, ")");
                                               return {};
                                             });
        };
        if (ng) out[0] = wrap(0, "grid_sample_grid_grad_backward");
        if (ni) out[1] = wrap(1, "grid_sample_grid_grad_backward");
        if (nd) out[2] = wrap(2, "grid_sample_grid_grad_backward");
        return out;
      });
}

// The adjoint of grid_sample in its input: g (N, C, out...) scattered to (N, C, in...) by the
// sampling weights at grid. Linear in g; differentiable in g and grid.
template <Real T, Device D>
Var<T, D> grid_sample_input_grad(const Var<T, D>& g, const Var<T, D>& grid, const ops::GridSamplePlan& plan) {
  Tensor<T, D> value = ops::grid_sample_backward(g.value(), Tensor<T, D>(), grid.value(), plan, true, false).first;
  return autograd::make_result<T, D>(
      std::move(value), "grid_sample_input_grad", {g, grid}, [plan](const auto& in, const auto&, const auto& gg) {
        // <gg, scatter(g, grid)> = <sample(gg, grid), g>
        std::vector<Var<T, D>> out(2);
        if (autograd::needs_grad(in, 0)) out[0] = grid_sample_forward(gg, in[1], plan);
        if (autograd::needs_grad(in, 1)) {
          if (!GradMode::enabled())
            out[1] = constant(ops::grid_sample_backward(in[0].value(), gg.value(), in[1].value(), plan, false, true).second);
          else
            out[1] = grid_sample_grid_grad(in[0], gg, in[1], plan);
        }
        return out;
      });
}

// grid_sample for a checked plan (ops::plan_grid_sample).
template <Real T, Device D>
Var<T, D> grid_sample_forward(const Var<T, D>& input, const Var<T, D>& grid, const ops::GridSamplePlan& plan) {
  return autograd::make_result<T, D>(
      ops::grid_sample_forward(input.value(), grid.value(), plan), "grid_sample", {input, grid},
      [plan](const auto& in, const auto&, const auto& g) {
        const bool need_in = autograd::needs_grad(in, 0), need_grid = autograd::needs_grad(in, 1);
        std::vector<Var<T, D>> out(2);
        if (!GradMode::enabled()) {  // a plain backward: both gradients in one pass
          auto [gi, gg] = ops::grid_sample_backward(g.value(), in[0].value(), in[1].value(), plan, need_in, need_grid);
          if (need_in) out[0] = constant(gi);
          if (need_grid) out[1] = constant(gg);
          return out;
        }
        if (need_in) out[0] = grid_sample_input_grad(g, in[1], plan);
        if (need_grid) out[1] = grid_sample_grid_grad(g, in[0], in[1], plan);
        return out;
      });
}

// torch.nn.functional.grid_sample: input (N, C, H, W) with grid (N, H_out, W_out, 2), or
// (N, C, D, H, W) with (N, D_out, H_out, W_out, 3); grid values in [-1, 1] ordered (x, y[, z]).
//   grid_sample(image, grid, {.mode = "bilinear", .padding_mode = "border", .align_corners = true})
template <Real T, Device D>
Var<T, D> grid_sample(const Var<T, D>& input, const Var<T, D>& grid, const GridSampleOptions& options = {}) {
  return grid_sample_forward(input, grid, ops::plan_grid_sample(input.shape(), grid.shape(), options));
}

template <Real T, Device D>
Var<T, D> affine_grid(const Var<T, D>& theta, std::span<const int64_t> size, bool align_corners = false);

// The adjoint of affine_grid: grid gradient -> theta gradient. Linear; its backward is affine_grid.
template <Real T, Device D>
Var<T, D> affine_grid_backward(const Var<T, D>& grad_grid, std::span<const int64_t> size, bool align_corners = false) {
  std::vector<int64_t> sz(size.begin(), size.end());
  return autograd::make_result<T, D>(ops::affine_grid_backward(grad_grid.value(), size, align_corners),
                                     "affine_grid_backward", {grad_grid},
                                     [sz, align_corners](const auto&, const auto&, const auto& g) {
                                       return std::vector{affine_grid(g, std::span<const int64_t>(sz), align_corners)};
                                     });
}

// torch.nn.functional.affine_grid: theta (N, 2, 3) and size (N, C, H, W) give a grid (N, H, W, 2);
// theta (N, 3, 4) and size (N, C, D, H, W) give (N, D, H, W, 3).
template <Real T, Device D>
Var<T, D> affine_grid(const Var<T, D>& theta, std::span<const int64_t> size, bool align_corners) {
  std::vector<int64_t> sz(size.begin(), size.end());
  return autograd::make_result<T, D>(ops::affine_grid(theta.value(), size, align_corners), "affine_grid", {theta},
                                     [sz, align_corners](const auto&, const auto&, const auto& g) {
                                       return std::vector{affine_grid_backward(g, std::span<const int64_t>(sz), align_corners)};
                                     });
}

template <Real T, Device D>
Var<T, D> affine_grid(const Var<T, D>& theta, std::initializer_list<int64_t> size, bool align_corners = false) {
  return affine_grid(theta, std::span<const int64_t>(size.begin(), size.size()), align_corners);
}

}  // namespace voxnn
