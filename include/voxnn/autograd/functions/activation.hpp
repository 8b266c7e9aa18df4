#pragma once
// Differentiable activations, softmax / log_softmax, and dropout.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <type_traits>
#include <vector>

#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/core/diagnostics.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/ops/elementwise.hpp"

#include <Eigen/Core>

namespace voxnn {

template <Real T, Device D>
Var<T, D> relu(const Var<T, D>& x) {
  return autograd::make_result<T, D>(ops::relu(x.value()), "relu", {x}, [](const auto&, const auto& out, const auto& g) {
    if (!GradMode::enabled())  // a plain backward: one pass, no mask tensor
      return std::vector{constant(ops::zip<T>(g.value(), out.value(), [](T gv, T y) { return y > 0 ? gv : T(0); }, "relu"))};
    return std::vector{mul(g, constant(ops::map<T>(out.value(), [](T y) { return T(y > 0); }, "relu")))};
  });
}
template <Real T, Device D>
Var<T, D> leaky_relu(const Var<T, D>& x, double negative_slope = 0.01) {
  const T s = static_cast<T>(negative_slope);
  auto slope_of = [s](T v) { return v > 0 ? T(1) : s; };
  return autograd::make_result<T, D>(ops::map<T>(x.value(), [s](T v) { return v > 0 ? v : v * s; }, "leaky_relu"),
                                     "leaky_relu", {x}, [slope_of](const auto& in, const auto&, const auto& g) {
                                       return std::vector{mul(g, constant(ops::map<T>(in[0].value(), slope_of, "leaky_relu")))};
                                     });
}
// x where x > 0, weight * x elsewhere; weight has one entry, or one per channel (dim 1).
template <Real T, Device D>
Var<T, D> prelu(const Var<T, D>& x, const Var<T, D>& weight) {
  VOXNN_CHECK(weight.numel() == 1 || (x.dim() >= 2 && weight.numel() == x.shape()[1]), "prelu: weight of shape ",
              weight.shape(), " does not match the channels of input ", x.shape());
  Shape ws(std::vector<int64_t>(static_cast<std::size_t>(std::max(x.dim(), 1)), 1));
  if (weight.numel() > 1) ws[1] = weight.numel();
  const Tensor<bool> positive = ops::gt(x.value(), T(0));
  const Var<T, D> w = reshape(weight, ws);
  return where(positive, x, mul(x, w));
}
// x for x > 0, alpha * (exp(x) - 1) otherwise.
template <Real T, Device D>
Var<T, D> elu(const Var<T, D>& x, double alpha = 1.0) {
  const T a = static_cast<T>(alpha);
  return autograd::make_result<T, D>(
      ops::map<T>(x.value(), [a](T v) { return v > 0 ? v : a * std::expm1(v); }, "elu"), "elu", {x},
      [a](const auto& in, const auto& out, const auto& g) {
        // d/dx = 1 above zero, out + alpha below: written with out so it differentiates again.
        const Tensor<bool> positive = ops::gt(in[0].value(), T(0));
        return std::vector{where(positive, g, mul(g, add(out, a)))};
      });
}
// Exact GELU, x * Phi(x); approximate = "tanh" uses PyTorch's tanh formula.
template <Real T, Device D>
Var<T, D> gelu(const Var<T, D>& x, const std::string& approximate = "none") {
  if (approximate == "tanh") {
    const T k = static_cast<T>(std::sqrt(2.0 / std::numbers::pi));
    const Var<T, D> inner = mul(add(x, mul(mul(x, mul(x, x)), T(0.044715))), k);
    return mul(mul(x, T(0.5)), add(tanh(inner), T(1)));
  }
  VOXNN_CHECK(approximate == "none", "gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
  const T inv_sqrt2 = static_cast<T>(1.0 / std::numbers::sqrt2);
  return mul(mul(x, T(0.5)), add(erf(mul(x, inv_sqrt2)), T(1)));
}
template <Real T, Device D>
Var<T, D> sigmoid(const Var<T, D>& x) {
  return autograd::make_result<T, D>(ops::sigmoid(x.value()), "sigmoid", {x},
                                     [](const auto&, const auto& out, const auto& g) {
                                       return std::vector{mul(g, mul(out, rsub(out, T(1))))};
                                     });
}
template <Real T, Device D>
Var<T, D> tanh(const Var<T, D>& x) {
  return autograd::make_result<T, D>(ops::tanh(x.value()), "tanh", {x}, [](const auto&, const auto& out, const auto& g) {
    return std::vector{mul(g, rsub(mul(out, out), T(1)))};
  });
}
template <Real T, Device D>
Var<T, D> silu(const Var<T, D>& x) {
  return mul(x, sigmoid(x));
}

namespace autograd::detail {
VOXNN_EIGEN_AVX512_WARNINGS_BEGIN
// f(r, n) for each row r of n entries along the last dim of `shape`, rows split across threads;
// `passes`: roughly how many sweeps over a row f makes (sets the parallel grain).
template <class F>
void for_each_last_dim_row(const Shape& shape, int64_t passes, F f) {
  const int64_t n = shape[shape.size() - 1], rows = n == 0 ? 0 : shape.numel() / n;
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / (passes * std::max<int64_t>(n, 1))),
               [&](int64_t b, int64_t e) {
                 for (int64_t r = b; r < e; ++r) f(r, n);
               });
}
// Softmax over the last dim, in one pass per row of the contiguous rows: maximum, exp (ops::exp's,
// so exp(-inf) of a masked position is exactly 0), sum, scale. The plain backward is one pass per row
// too, y * (g - <g, y>).
template <class T>
Tensor<T> softmax_last_dim(const Tensor<T>& x) {
  using Row = Eigen::Array<T, Eigen::Dynamic, 1>;
  const Tensor<T> in = x.contiguous();
  Tensor<T> out(x.shape());
  for_each_last_dim_row(x.shape(), 8, [&](int64_t r, int64_t n) {
    const Eigen::Map<const Row> v(in.data() + r * n, n);
    Eigen::Map<Row> y(out.data() + r * n, n);
    y = v - v.maxCoeff();
    ops::detail::exp_contiguous(y.data(), y.data(), n);
    y *= T(1) / y.sum();
  });
  return out;
}
template <class T>
Tensor<T> softmax_last_dim_backward(const Tensor<T>& y, const Tensor<T>& g) {
  using Row = Eigen::Array<T, Eigen::Dynamic, 1>;
  const Tensor<T> gc = g.contiguous();
  Tensor<T> out(y.shape());
  for_each_last_dim_row(y.shape(), 4, [&](int64_t r, int64_t n) {
    const Eigen::Map<const Row> yr(y.data() + r * n, n), gr(gc.data() + r * n, n);
    const T dot = (yr * gr).sum();
    Eigen::Map<Row>(out.data() + r * n, n) = yr * (gr - dot);
  });
  return out;
}
VOXNN_EIGEN_AVX512_WARNINGS_END
}  // namespace autograd::detail

// Softmax over `dim`. On the CPU over the last dim (attention's case) the forward is one fused pass per
// row, and so is a backward without create_graph; under create_graph the backward is built from Var ops,
// so it differentiates again.
template <Real T, Device D>
Var<T, D> softmax(const Var<T, D>& x, int64_t dim) {
  const int d = wrap_dim(dim, x.dim(), "softmax");
  if constexpr (std::is_same_v<D, Cpu>) {
    if (x.dim() >= 1 && d == x.dim() - 1)
      return autograd::make_result<T, D>(autograd::detail::softmax_last_dim(x.value()), "softmax", {x},
                                         [d](const auto&, const auto& out, const auto& g) {
                                           if (!GradMode::enabled())
                                             return std::vector{constant(
                                                 autograd::detail::softmax_last_dim_backward(out.value(), g.value()))};
                                           const Var<T, D> go = mul(g, out);
                                           return std::vector{sub(go, mul(out, sum(go, {d}, true)))};
                                         });
  }
  Tensor<T, D> e = ops::exp(ops::sub(x.value(), ops::amax(x.value(), {d}, true)));
  ops::div_(e, ops::sum(e, {d}, true));
  return autograd::make_result<T, D>(e, "softmax", {x}, [d](const auto&, const auto& out, const auto& g) {
    const Var<T, D> go = mul(g, out);
    return std::vector{sub(go, mul(out, sum(go, {d}, true)))};
  });
}
template <Real T, Device D>
Var<T, D> log_softmax(const Var<T, D>& x, int64_t dim) {
  const int d = wrap_dim(dim, x.dim(), "log_softmax");
  const Tensor<T, D> shifted = ops::sub(x.value(), ops::amax(x.value(), {d}, true));
  Tensor<T, D> out = ops::sub(shifted, ops::log(ops::sum(ops::exp(shifted), {d}, true)));
  return autograd::make_result<T, D>(out, "log_softmax", {x}, [d](const auto&, const auto& out, const auto& g) {
    return std::vector{sub(g, mul(exp(out), sum(g, {d}, true)))};
  });
}

// Zeroes each element with probability p and scales the rest by 1 / (1 - p) in training.
template <Real T, Device D>
Var<T, D> dropout(const Var<T, D>& x, double p, bool training, Generator& gen = default_generator()) {
  VOXNN_CHECK(p >= 0 && p <= 1, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, T(0));
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  const Tensor<T, D> keep = ops::map<T>(rand<T>(x.shape(), gen), [p, scale](T u) { return u >= p ? scale : T(0); },
                                        "dropout");
  return mul(x, constant(keep));
}

// Channel (feature) dropout: zeroes whole channels x[n, c] with probability p and scales the kept ones
// by 1 / (1 - p), in training only (torch's feature_dropout). The input is (N, C, ...), at least 2 dims.
template <Real T, Device D>
Var<T, D> feature_dropout(const Var<T, D>& x, double p, bool training, Generator& gen = default_generator()) {
  VOXNN_CHECK(p >= 0 && p <= 1, "feature_dropout: probability must be in [0, 1], got ", p);
  VOXNN_CHECK(x.dim() >= 2, "feature_dropout: input of shape ", x.shape(), " has fewer than 2 dims (N, C, ...)");
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, T(0));
  Shape mask_shape(std::vector<int64_t>(static_cast<std::size_t>(x.dim()), 1));
  mask_shape[0] = x.shape()[0];
  mask_shape[1] = x.shape()[1];
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  const Tensor<T, D> keep = ops::map<T>(rand<T>(mask_shape, gen), [p, scale](T u) { return u >= p ? scale : T(0); },
                                        "feature_dropout");
  return mul(x, constant(keep));
}
// torch.nn.functional.dropout1d: channel dropout of (N, C, L) or unbatched (C, L).
template <Real T, Device D>
Var<T, D> dropout1d(const Var<T, D>& x, double p = 0.5, bool training = true, Generator& gen = default_generator()) {
  VOXNN_CHECK(x.dim() == 2 || x.dim() == 3, "dropout1d: input has ", x.dim(), " dims ", x.shape(),
              "; expected 3 (N, C, L) or 2 without the batch");
  if (x.dim() == 2) return squeeze(feature_dropout(unsqueeze(x, 0), p, training, gen), 0);
  return feature_dropout(x, p, training, gen);
}
// torch.nn.functional.dropout2d as PyTorch 1.13 has it: channels are dim 1 whatever the rank, so a
// 3-dim input is taken as (N, C, L), not as an unbatched (C, H, W) (PyTorch warns about this).
template <Real T, Device D>
Var<T, D> dropout2d(const Var<T, D>& x, double p = 0.5, bool training = true, Generator& gen = default_generator()) {
  return feature_dropout(x, p, training, gen);
}
// torch.nn.functional.dropout3d: channel dropout of (N, C, D, H, W); any other rank is taken as
// unbatched (a batch dim of 1 is added in front, as PyTorch 1.13 does), so (C, D, H, W) works.
template <Real T, Device D>
Var<T, D> dropout3d(const Var<T, D>& x, double p = 0.5, bool training = true, Generator& gen = default_generator()) {
  if (x.dim() != 5) return squeeze(feature_dropout(unsqueeze(x, 0), p, training, gen), 0);
  return feature_dropout(x, p, training, gen);
}

}  // namespace voxnn
