#pragma once
// Differentiable complex arithmetic on real tensors whose last dimension (size 2) holds the real and
// imaginary parts, as fastMRI stores complex data (fastmri/math.py, fastmri/coil_combine.py):
//
//   complex_mul(x, y)         x * y, broadcasting over every dim but the last
//   complex_conj(x)           (re, -im)
//   complex_abs(x)            sqrt(re^2 + im^2), the trailing 2 removed
//   complex_abs_sq(x)         re^2 + im^2
//   rss(x, dim = 0)           sqrt(sum over dim of x^2)          (root-sum-of-squares over coils)
//   rss_complex(x, dim = 0)   sqrt(sum over dim of |x|^2); dim indexes the shape without the trailing 2
//
// Gradients are the real-linear adjoints (the gradient of x in x * y is grad * conj(y)), written with
// these same functions, so every op differentiates to any order. Where PyTorch's sqrt gives an infinite
// or NaN gradient (complex_abs, rss and rss_complex at an all-zero value) the gradient here is 0, the
// subgradient torch.linalg.norm uses. The raw kernels (CPU, any strides) are in include/voxnn/ops/complex.hpp.
#include <cstdint>
#include <vector>

#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/core/device.hpp"
#include "voxnn/ops/complex.hpp"

namespace voxnn {

// x * y or, with conj_y, x * conj(y): the one differentiable product behind complex_mul and the coil
// operators. Its gradients are products of the same kind: d/dx = g * conj(y~), d/dy = g * conj(x)
// (x * conj(g) with conj_y), each summed back to the operand's broadcast shape.
template <Real T, Device D>
Var<T, D> complex_mul_conj(const Var<T, D>& x, const Var<T, D>& y, bool conj_y, const char* op = "complex_mul") {
  require_cpu<D>();
  return autograd::make_result<T, D>(
      ops::complex_mul(x.value(), y.value(), conj_y, op), op, {x, y},
      [conj_y, op](const auto& in, const auto&, const auto& g) {
        std::vector<Var<T, D>> grads(2);
        if (in[0].requires_grad()) grads[0] = sum_to(complex_mul_conj(g, in[1], !conj_y, op), in[0].shape());
        if (in[1].requires_grad())
          grads[1] = sum_to(conj_y ? complex_mul_conj(in[0], g, true, op) : complex_mul_conj(g, in[0], true, op),
                            in[1].shape());
        return grads;
      });
}

// fastmri.complex_mul: x * y with broadcasting over the leading dims.
template <Real T, Device D>
Var<T, D> complex_mul(const Var<T, D>& x, const Var<T, D>& y) {
  return complex_mul_conj(x, y, false, "complex_mul");
}

// fastmri.complex_conj.
template <Real T, Device D>
Var<T, D> complex_conj(const Var<T, D>& x) {
  require_cpu<D>();
  return autograd::make_result<T, D>(ops::complex_conj(x.value()), "complex_conj", {x},
                                     [](const auto&, const auto&, const auto& g) { return std::vector{complex_conj(g)}; });
}

// fastmri.complex_abs_sq: re^2 + im^2.
template <Real T, Device D>
Var<T, D> complex_abs_sq(const Var<T, D>& x) {
  require_cpu<D>();
  return autograd::make_result<T, D>(ops::complex_abs_sq(x.value()), "complex_abs_sq", {x},
                                     [](const auto& in, const auto&, const auto& g) {
                                       return std::vector{mul(mul(in[0], unsqueeze(g, -1)), T(2))};
                                     });
}

// fastmri.complex_abs: sqrt(re^2 + im^2); the gradient x / |x| * grad is 0 where x = 0.
template <Real T, Device D>
Var<T, D> complex_abs(const Var<T, D>& x) {
  require_cpu<D>();
  return autograd::make_result<T, D>(
      ops::complex_abs(x.value()), "complex_abs", {x}, [](const auto& in, const auto& out, const auto& g) {
        if (!GradMode::enabled()) {  // a plain backward: one pass
          const Tensor<T> scale = ops::zip<T>(g.value(), out.value(), [](T gv, T r) { return r > 0 ? gv / r : T(0); },
                                              "complex_abs");
          return std::vector{constant(ops::mul(in[0].value(), scale.unsqueeze(-1)))};
        }
        const Tensor<bool> zero = ops::eq(out.value(), T(0));
        const Var<T, D> one(ones<T, D>(Shape{})), nil(zeros<T, D>(Shape{}));
        const Var<T, D> scale = where(zero, nil, div(g, where(zero, one, out)));
        return std::vector{mul(in[0], unsqueeze(scale, -1))};
      });
}

// fastmri.rss: sqrt((x^2).sum(dim)), the root-sum-of-squares over the coil dim.
template <Real T, Device D>
Var<T, D> rss(const Var<T, D>& x, int64_t dim = 0) {
  const int d = wrap_dim(dim, x.dim(), "rss");
  return autograd::root_of_sum(sum(mul(x, x), {d}), T(2));
}

// fastmri.rss_complex: sqrt(complex_abs_sq(x).sum(dim)); dim indexes the shape without the trailing 2.
template <Real T, Device D>
Var<T, D> rss_complex(const Var<T, D>& x, int64_t dim = 0) {
  ops::check_complex(x.shape(), "rss_complex", "input");
  const int d = wrap_dim(dim, x.dim() - 1, "rss_complex");
  return autograd::root_of_sum(sum(complex_abs_sq(x), {d}), T(2));
}

}  // namespace voxnn
