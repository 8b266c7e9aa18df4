#pragma once
// Differentiable reductions: sum, mean, var, std, amax, amin, norm, logsumexp.
#include <vector>

#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/ops/reduce.hpp"

namespace voxnn {

namespace autograd {
// The shape x reduces to with keepdim, so a reduced gradient can be reshaped and expanded back.
inline Shape keepdim_shape(const Shape& shape, const std::vector<int64_t>& dims, const char* op) {
  return ops::detail::reduced_shape(shape, ops::detail::reduced_mask(shape, dims, op), true);
}
inline int64_t reduced_count(const Shape& shape, const std::vector<int64_t>& dims, const char* op) {
  const auto mask = ops::detail::reduced_mask(shape, dims, op);
  int64_t n = 1;
  for (int d = 0; d < shape.size(); ++d)
    if (mask[d]) n *= shape[d];
  return n;
}
}  // namespace autograd

template <Real T, Device D>
Var<T, D> sum(const Var<T, D>& x, const std::vector<int64_t>& dims = {}, bool keepdim = false) {
  const Shape kept = autograd::keepdim_shape(x.shape(), dims, "sum");
  return autograd::make_result<T, D>(ops::sum(x.value(), dims, keepdim), "sum", {x},
                                     [kept](const auto& in, const auto&, const auto& g) {
                                       return std::vector{expand(reshape(g, kept), in[0].shape())};
                                     });
}
template <Real T, Device D>
Var<T, D> mean(const Var<T, D>& x, const std::vector<int64_t>& dims = {}, bool keepdim = false) {
  const int64_t n = autograd::reduced_count(x.shape(), dims, "mean");
  return mul(sum(x, dims, keepdim), static_cast<T>(T(1) / static_cast<T>(n)));
}
// Variance with Bessel's correction when unbiased.
template <Real T, Device D>
Var<T, D> var(const Var<T, D>& x, const std::vector<int64_t>& dims = {}, bool unbiased = true, bool keepdim = false) {
  const int64_t n = autograd::reduced_count(x.shape(), dims, "var");
  const Var<T, D> centred = sub(x, mean(x, dims, true));
  const T denom = static_cast<T>(n - (unbiased ? 1 : 0));
  return mul(sum(mul(centred, centred), dims, keepdim), static_cast<T>(T(1) / denom));
}
namespace autograd {
// s^(1/k) for std and the p-norms, whose gradient at s = 0 is taken as 0 (PyTorch's subgradient for
// a constant slice's std and an all-zero slice's norm) instead of inf, which would turn into NaN.
template <class T, class D>
Var<T, D> root_of_sum(const Var<T, D>& s, T k) {
  Tensor<T, D> value = k == T(2) ? ops::sqrt(s.value()) : ops::pow(s.value(), T(1) / k);
  return make_result<T, D>(std::move(value), "root", {s}, [k](const auto& in, const auto& out, const auto& g) {
    const Tensor<bool> zero = ops::eq(in[0].value(), T(0));
    const Var<T, D> one(ones<T, D>(Shape{})), nil(zeros<T, D>(Shape{}));
    // d/ds s^(1/k) = s^(1/k) / (k s), and 1 / (2 sqrt(s)) for k = 2
    const Var<T, D> d = k == T(2) ? div(g, mul(where(zero, one, out), T(2)))
                                  : div(mul(g, out), mul(where(zero, one, in[0]), k));
    return std::vector{where(zero, nil, d)};
  });
}
}  // namespace autograd

template <Real T, Device D>
Var<T, D> std(const Var<T, D>& x, const std::vector<int64_t>& dims = {}, bool unbiased = true, bool keepdim = false) {
  return autograd::root_of_sum(var(x, dims, unbiased, keepdim), T(2));
}

namespace autograd {
// The gradient of an extreme value goes to the elements equal to it, split evenly among ties
// (as PyTorch's amax/amin).
template <class T, class D>
std::vector<Var<T, D>> extreme_backward(const Var<T, D>& in, const Var<T, D>& out, const Var<T, D>& g,
                                        const Shape& kept, const std::vector<int64_t>& dims) {
  const Tensor<T, D> hit = ops::cast<T>(ops::eq(in.value(), out.value().reshape(kept)));
  const Tensor<T, D> share = ops::div(hit, ops::sum(hit, dims, true));
  return {mul(expand(reshape(g, kept), in.shape()), Var<T, D>(share))};
}
}  // namespace autograd

template <Real T, Device D>
Var<T, D> amax(const Var<T, D>& x, const std::vector<int64_t>& dims = {}, bool keepdim = false) {
  const Shape kept = autograd::keepdim_shape(x.shape(), dims, "amax");
  return autograd::make_result<T, D>(ops::amax(x.value(), dims, keepdim), "amax", {x},
                                     [kept, dims](const auto& in, const auto& out, const auto& g) {
                                       return autograd::extreme_backward(in[0], out, g, kept, dims);
                                     });
}
template <Real T, Device D>
Var<T, D> amin(const Var<T, D>& x, const std::vector<int64_t>& dims = {}, bool keepdim = false) {
  const Shape kept = autograd::keepdim_shape(x.shape(), dims, "amin");
  return autograd::make_result<T, D>(ops::amin(x.value(), dims, keepdim), "amin", {x},
                                     [kept, dims](const auto& in, const auto& out, const auto& g) {
                                       return autograd::extreme_backward(in[0], out, g, kept, dims);
                                     });
}

// p-norm; p = 2 and p = 1 are composed from differentiable ops.
template <Real T, Device D>
Var<T, D> norm(const Var<T, D>& x, double p = 2.0, const std::vector<int64_t>& dims = {}, bool keepdim = false) {
  // An all-zero slice gets a zero gradient, as in PyTorch (see root_of_sum).
  if (p == 2.0) return autograd::root_of_sum(sum(mul(x, x), dims, keepdim), T(2));
  if (p == 1.0) return sum(abs(x), dims, keepdim);
  if (std::isinf(p)) return amax(abs(x), dims, keepdim);
  return autograd::root_of_sum(sum(pow(abs(x), static_cast<T>(p)), dims, keepdim), static_cast<T>(p));
}

// log(sum(exp(x))) over dims, shifted by the maximum for stability.
template <Real T, Device D>
Var<T, D> logsumexp(const Var<T, D>& x, const std::vector<int64_t>& dims, bool keepdim = false) {
  const Tensor<T, D> shift = ops::amax(x.value(), dims, true);
  // A fixed shift (its gradient cancels exactly); a non-finite maximum shifts by zero instead.
  const Var<T, D> m(ops::map<T>(shift, [](T v) { return std::isfinite(v) ? v : T(0); }, "logsumexp"));
  Var<T, D> out = add(log(sum(exp(sub(x, m)), dims, true)), m);
  return keepdim ? out : reshape(out, ops::detail::reduced_shape(x.shape(), ops::detail::reduced_mask(x.shape(), dims, "logsumexp"), false));
}

}  // namespace voxnn
