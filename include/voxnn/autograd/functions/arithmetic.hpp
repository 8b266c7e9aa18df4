#pragma once
// Differentiable elementwise math with broadcasting: + - * / (Var and scalar operands), pow, exp,
// log, sqrt, rsqrt, abs, neg, clamp, erf, where, maximum/minimum.
#include <cmath>
#include <numbers>

#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/ops/elementwise.hpp"

namespace voxnn {

// A Var that holds a fixed tensor (no grad), such as a mask inside a backward function.
template <Real T, Device D>
Var<T, D> constant(const Tensor<T, D>& t) {
  return Var<T, D>(t);
}

template <Real T, Device D>
Var<T, D> add(const Var<T, D>& a, const Var<T, D>& b) {
  return autograd::make_result<T, D>(ops::add(a.value(), b.value()), "add", {a, b},
                                     [](const auto& in, const auto&, const auto& g) {
                                       return std::vector{sum_to(g, in[0].shape()), sum_to(g, in[1].shape())};
                                     });
}
template <Real T, Device D>
Var<T, D> sub(const Var<T, D>& a, const Var<T, D>& b) {
  return autograd::make_result<T, D>(ops::sub(a.value(), b.value()), "sub", {a, b},
                                     [](const auto& in, const auto&, const auto& g) {
                                       return std::vector{sum_to(g, in[0].shape()), sum_to(neg(g), in[1].shape())};
                                     });
}
template <Real T, Device D>
Var<T, D> mul(const Var<T, D>& a, const Var<T, D>& b) {
  return autograd::make_result<T, D>(
      ops::mul(a.value(), b.value()), "mul", {a, b}, [](const auto& in, const auto&, const auto& g) {
        std::vector<Var<T, D>> grads(2);
        if (in[0].requires_grad()) grads[0] = sum_to(mul(g, in[1]), in[0].shape());
        if (in[1].requires_grad()) grads[1] = sum_to(mul(g, in[0]), in[1].shape());
        return grads;
      });
}
template <Real T, Device D>
Var<T, D> div(const Var<T, D>& a, const Var<T, D>& b) {
  return autograd::make_result<T, D>(
      ops::div(a.value(), b.value()), "div", {a, b}, [](const auto& in, const auto& out, const auto& g) {
        std::vector<Var<T, D>> grads(2);
        if (in[0].requires_grad()) grads[0] = sum_to(div(g, in[1]), in[0].shape());
        if (in[1].requires_grad()) grads[1] = sum_to(neg(div(mul(g, out), in[1])), in[1].shape());
        return grads;
      });
}

// ---- with a scalar ----------------------------------------------------------------------------------
template <Real T, Device D>
Var<T, D> add(const Var<T, D>& a, T s) {
  return autograd::make_result<T, D>(ops::add(a.value(), s), "add", {a},
                                     [](const auto&, const auto&, const auto& g) { return std::vector{g}; });
}
template <Real T, Device D>
Var<T, D> mul(const Var<T, D>& a, T s) {
  return autograd::make_result<T, D>(ops::mul(a.value(), s), "mul", {a},
                                     [s](const auto&, const auto&, const auto& g) { return std::vector{mul(g, s)}; });
}
// s - a
template <Real T, Device D>
Var<T, D> rsub(const Var<T, D>& a, T s) {
  return autograd::make_result<T, D>(ops::sub(s, a.value()), "rsub", {a},
                                     [](const auto&, const auto&, const auto& g) { return std::vector{neg(g)}; });
}
// s / a
template <Real T, Device D>
Var<T, D> rdiv(const Var<T, D>& a, T s) {
  return autograd::make_result<T, D>(ops::div(s, a.value()), "rdiv", {a},
                                     [](const auto& in, const auto& out, const auto& g) {
                                       return std::vector{neg(div(mul(g, out), in[0]))};
                                     });
}

template <Real T, Device D>
Var<T, D> neg(const Var<T, D>& a) {
  return autograd::make_result<T, D>(ops::neg(a.value()), "neg", {a},
                                     [](const auto&, const auto&, const auto& g) { return std::vector{neg(g)}; });
}

template <Real T, Device D>
Var<T, D> operator+(const Var<T, D>& a, const Var<T, D>& b) { return add(a, b); }
template <Real T, Device D>
Var<T, D> operator-(const Var<T, D>& a, const Var<T, D>& b) { return sub(a, b); }
template <Real T, Device D>
Var<T, D> operator*(const Var<T, D>& a, const Var<T, D>& b) { return mul(a, b); }
template <Real T, Device D>
Var<T, D> operator/(const Var<T, D>& a, const Var<T, D>& b) { return div(a, b); }
template <Real T, Device D>
Var<T, D> operator-(const Var<T, D>& a) { return neg(a); }
template <Real T, Device D>
Var<T, D> operator+(const Var<T, D>& a, std::type_identity_t<T> s) { return add(a, s); }
template <Real T, Device D>
Var<T, D> operator+(std::type_identity_t<T> s, const Var<T, D>& a) { return add(a, s); }
template <Real T, Device D>
Var<T, D> operator-(const Var<T, D>& a, std::type_identity_t<T> s) { return add(a, static_cast<T>(-s)); }
template <Real T, Device D>
Var<T, D> operator-(std::type_identity_t<T> s, const Var<T, D>& a) { return rsub(a, s); }
template <Real T, Device D>
Var<T, D> operator*(const Var<T, D>& a, std::type_identity_t<T> s) { return mul(a, s); }
template <Real T, Device D>
Var<T, D> operator*(std::type_identity_t<T> s, const Var<T, D>& a) { return mul(a, s); }
template <Real T, Device D>
Var<T, D> operator/(const Var<T, D>& a, std::type_identity_t<T> s) { return mul(a, static_cast<T>(T(1) / s)); }
template <Real T, Device D>
Var<T, D> operator/(std::type_identity_t<T> s, const Var<T, D>& a) { return rdiv(a, s); }

// ---- unary math -------------------------------------------------------------------------------------
template <Real T, Device D>
Var<T, D> exp(const Var<T, D>& a) {
  return autograd::make_result<T, D>(ops::exp(a.value()), "exp", {a},
                                     [](const auto&, const auto& out, const auto& g) { return std::vector{mul(g, out)}; });
}
template <Real T, Device D>
Var<T, D> log(const Var<T, D>& a) {
  return autograd::make_result<T, D>(ops::log(a.value()), "log", {a},
                                     [](const auto& in, const auto&, const auto& g) { return std::vector{div(g, in[0])}; });
}
template <Real T, Device D>
Var<T, D> sqrt(const Var<T, D>& a) {
  return autograd::make_result<T, D>(ops::sqrt(a.value()), "sqrt", {a},
                                     [](const auto&, const auto& out, const auto& g) {
                                       return std::vector{div(g, mul(out, T(2)))};
                                     });
}
template <Real T, Device D>
Var<T, D> rsqrt(const Var<T, D>& a) {
  return autograd::make_result<T, D>(ops::rsqrt(a.value()), "rsqrt", {a},
                                     [](const auto&, const auto& out, const auto& g) {
                                       return std::vector{mul(mul(g, mul(out, mul(out, out))), T(-0.5))};
                                     });
}
template <Real T, Device D>
Var<T, D> pow(const Var<T, D>& a, T exponent) {
  return autograd::make_result<T, D>(ops::pow(a.value(), exponent), "pow", {a},
                                     [exponent](const auto& in, const auto&, const auto& g) {
                                       if (exponent == T(0)) return std::vector{mul(g, T(0))};
                                       return std::vector{mul(mul(g, pow(in[0], static_cast<T>(exponent - 1))), exponent)};
                                     });
}
template <Real T, Device D>
Var<T, D> pow(const Var<T, D>& a, const Var<T, D>& b) {
  return autograd::make_result<T, D>(
      ops::pow(a.value(), b.value()), "pow", {a, b}, [](const auto& in, const auto& out, const auto& g) {
        std::vector<Var<T, D>> grads(2);
        if (in[0].requires_grad()) grads[0] = sum_to(mul(mul(g, in[1]), pow(in[0], sub(in[1], constant(ones_like(in[1].value()))))), in[0].shape());
        if (in[1].requires_grad()) {
          // d/db a^b = a^b log(a), taken as 0 where a == 0 and b >= 0 (PyTorch's choice) rather than 0 * -inf
          const Tensor<bool> zero_base = ops::logical_and(ops::eq(in[0].value(), T(0)), ops::ge(in[1].value(), T(0)));
          const Var<T, D> safe_base = where(zero_base, constant(ones<T, D>(Shape{})), in[0]);
          grads[1] = sum_to(mul(mul(g, out), log(safe_base)), in[1].shape());
        }
        return grads;
      });
}
template <Real T, Device D>
Var<T, D> square(const Var<T, D>& a) {
  return mul(a, a);
}
template <Real T, Device D>
Var<T, D> abs(const Var<T, D>& a) {
  return autograd::make_result<T, D>(ops::abs(a.value()), "abs", {a}, [](const auto& in, const auto&, const auto& g) {
    return std::vector{mul(g, constant(ops::sign(in[0].value())))};
  });
}
// Gradient passes where lo <= a <= hi, as in PyTorch.
template <Real T, Device D>
Var<T, D> clamp(const Var<T, D>& a, T lo = -std::numeric_limits<T>::infinity(),
                T hi = std::numeric_limits<T>::infinity()) {
  return autograd::make_result<T, D>(ops::clamp(a.value(), lo, hi), "clamp", {a},
                                     [lo, hi](const auto& in, const auto&, const auto& g) {
                                       const auto inside = ops::map<T>(
                                           in[0].value(), [lo, hi](T x) { return T(x >= lo && x <= hi); }, "clamp");
                                       return std::vector{mul(g, constant(inside))};
                                     });
}
template <Real T, Device D>
Var<T, D> erf(const Var<T, D>& a) {
  return autograd::make_result<T, D>(ops::erf(a.value()), "erf", {a}, [](const auto& in, const auto&, const auto& g) {
    const T k = static_cast<T>(2.0 / std::sqrt(std::numbers::pi));
    return std::vector{mul(mul(g, exp(neg(mul(in[0], in[0])))), k)};
  });
}

// cond ? a : b with broadcasting; cond is fixed.
template <Real T, Device D>
Var<T, D> where(const Tensor<bool>& cond, const Var<T, D>& a, const Var<T, D>& b) {
  return autograd::make_result<T, D>(ops::where(cond, a.value(), b.value()), "where", {a, b},
                                     [cond](const auto& in, const auto&, const auto& g) {
                                       const Var<T, D> zero(zeros<T, D>(Shape{}));
                                       return std::vector{sum_to(where(cond, g, zero), in[0].shape()),
                                                          sum_to(where(cond, zero, g), in[1].shape())};
                                     });
}
namespace autograd {
// maximum / minimum: the gradient goes to the operand that is selected, split evenly on ties (as
// PyTorch's); `a_wins` marks where a alone is selected. The forward propagates NaN as ops does.
template <class T, class D>
Var<T, D> select_extreme(const Var<T, D>& a, const Var<T, D>& b, Tensor<T, D> value, const Tensor<bool>& a_wins,
                         const char* name) {
  const Tensor<T, D> share = ops::add(ops::cast<T>(a_wins), ops::mul(ops::cast<T>(ops::eq(a.value(), b.value())), T(0.5)));
  return make_result<T, D>(std::move(value), name, {a, b}, [share](const auto& in, const auto&, const auto& g) {
    std::vector<Var<T, D>> grads(2);
    if (in[0].requires_grad()) grads[0] = sum_to(mul(g, constant(share)), in[0].shape());
    if (in[1].requires_grad()) grads[1] = sum_to(mul(g, constant(ops::sub(T(1), share))), in[1].shape());
    return grads;
  });
}
}  // namespace autograd

template <Real T, Device D>
Var<T, D> maximum(const Var<T, D>& a, const Var<T, D>& b) {
  return autograd::select_extreme(a, b, ops::maximum(a.value(), b.value()), ops::gt(a.value(), b.value()), "maximum");
}
template <Real T, Device D>
Var<T, D> minimum(const Var<T, D>& a, const Var<T, D>& b) {
  return autograd::select_extreme(a, b, ops::minimum(a.value(), b.value()), ops::lt(a.value(), b.value()), "minimum");
}

}  // namespace voxnn
