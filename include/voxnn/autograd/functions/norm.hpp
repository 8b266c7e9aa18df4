#pragma once
// Differentiable normalisation: batch_norm, instance_norm, group_norm and layer_norm with
// torch.nn.functional's arguments and semantics (PyTorch 1.13).
//
// The forward runs the fused kernels of ops/norm.hpp and saves the mean and invstd. A plain backward
// runs ops::norm_backward (one pass for the reductions, one for grad_input) and wraps the result as a
// constant; under create_graph (grad mode on during backward) the same gradients are built from
// differentiable Var ops, statistics recomputed from the input, so second derivatives are exact.
//
// Absent optional tensors (PyTorch's None) are undefined: `Var<T>()` / `Tensor<T>()`, or `{}`.
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/ops/norm.hpp"

namespace voxnn {

namespace autograd::detail {

// How a norm sees its input: the kernel layout, and the 3-D views the differentiable backward uses
// (statistics over stat_dims of stat_view; weight and bias broadcast as weight_view over affine_view).
struct NormPlan {
  const char* op = "";
  ops::NormLayout layout;
  bool row_affine = false;  // layer norm: weight and bias per element of a row
  Shape stat_view;
  std::vector<int64_t> stat_dims;
  Shape affine_view, weight_view;
  std::vector<int64_t> weight_sum_dims;
};

// (N, C, *) input; groups 0: statistics per channel (batch norm), C: per (n, c) (instance norm),
// g: per (n, group) (group norm).
inline NormPlan channel_plan(const Shape& x, int64_t groups, const char* op) {
  NormPlan p;
  p.op = op;
  const int64_t N = x[0], C = x[1];
  int64_t S = 1;
  for (int d = 2; d < x.size(); ++d) S *= x[d];
  p.layout = {N, C, S, groups};
  p.stat_view = groups == 0 ? Shape{N, C, S} : Shape{N, groups, C / groups * S};
  p.stat_dims = groups == 0 ? std::vector<int64_t>{0, 2} : std::vector<int64_t>{2};
  p.affine_view = {N, C, S};
  p.weight_view = {1, C, 1};
  p.weight_sum_dims = {0, 2};
  return p;
}

inline NormPlan row_plan(int64_t rows, int64_t len, const char* op) {
  NormPlan p;
  p.op = op;
  p.layout = {rows, 1, len, 1};
  p.row_affine = true;
  p.stat_view = {rows, 1, len};
  p.stat_dims = {2};
  p.affine_view = {rows, 1, len};
  p.weight_view = {1, 1, len};
  p.weight_sum_dims = {0, 1};
  return p;
}

// The gradients of the normalisation built from differentiable ops (create_graph). Statistics come
// from the input itself unless fixed_mean is defined (running statistics, constants).
template <class T, class D>
std::vector<Var<T, D>> norm_backward_graph(const NormPlan& plan, const Var<T, D>& x, const Var<T, D>& weight,
                                           const Var<T, D>& g, const Tensor<T, D>& fixed_mean,
                                           const Tensor<T, D>& fixed_invstd, double eps, std::array<bool, 3> needs) {
  const Var<T, D> xs = reshape(x, plan.stat_view);
  Var<T, D> invstd, xhat;
  const bool from_input = !fixed_mean.defined();
  if (from_input) {
    const Var<T, D> centred = sub(xs, mean(xs, plan.stat_dims, true));
    invstd = rsqrt(add(mean(mul(centred, centred), plan.stat_dims, true), static_cast<T>(eps)));
    xhat = mul(centred, invstd);
  } else {
    const Shape kept = keepdim_shape(plan.stat_view, plan.stat_dims, plan.op);
    invstd = constant(fixed_invstd.reshape(kept));
    xhat = mul(sub(xs, constant(fixed_mean.reshape(kept))), invstd);
  }
  const Var<T, D> ga = reshape(g, plan.affine_view);
  std::vector<Var<T, D>> out(3);
  if (needs[0]) {
    const Var<T, D> gh = reshape(weight.defined() ? mul(ga, reshape(weight, plan.weight_view)) : ga, plan.stat_view);
    Var<T, D> dx;
    if (from_input) {
      const Var<T, D> m1 = mean(gh, plan.stat_dims, true), m2 = mean(mul(gh, xhat), plan.stat_dims, true);
      dx = mul(invstd, sub(sub(gh, m1), mul(xhat, m2)));
    } else {
      dx = mul(gh, invstd);
    }
    out[0] = reshape(dx, x.shape());
  }
  if (needs[1]) out[1] = reshape(sum(mul(ga, reshape(xhat, plan.affine_view)), plan.weight_sum_dims), weight.shape());
  if (needs[2]) out[2] = sum(ga, plan.weight_sum_dims);  // reshaped by the caller
  return out;
}

// The normalisation itself: statistics from the input (fixed_mean undefined) or fixed ones, optional
// weight and bias, a recorded node. The statistics used are returned in *stats.
template <class T, class D>
Var<T, D> normalize(const Var<T, D>& input, const NormPlan& plan, const Var<T, D>& weight, const Var<T, D>& bias,
                    const Tensor<T, D>& fixed_mean, const Tensor<T, D>& fixed_var, double eps,
                    ops::NormStats<T>* stats) {
  static_assert(std::is_same_v<D, Cpu>, "normalisation: only the CPU backend is implemented");
  const Tensor<T> x = input.value().contiguous();
  const bool from_input = !fixed_mean.defined();
  const Tensor<T> w = weight.defined() ? weight.value().contiguous() : Tensor<T>();
  const Tensor<T> b = bias.defined() ? bias.value().contiguous() : Tensor<T>();
  ops::NormStats<T> st;
  Tensor<T> y;
  if (plan.row_affine) {
    ops::NormOutput<T> r = ops::layer_norm_forward(x, plan.layout.outer, plan.layout.inner, eps, w, b);
    y = std::move(r.output);
    st = std::move(r.stats);
  } else if (from_input) {
    ops::NormOutput<T> r = ops::norm_forward(x, plan.layout, eps, w, b);
    y = std::move(r.output);
    st = std::move(r.stats);
  } else {
    // copies: the running statistics may change in place before this node's backward runs
    st.mean = fixed_mean.clone();
    st.var = fixed_var.clone();
    st.invstd = empty<T>({st.var.numel()});
    for (int64_t i = 0; i < st.var.numel(); ++i)
      st.invstd.data()[i] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(st.var.data()[i]) + eps));
    y = ops::norm_apply(x, plan.layout, st.mean, st.invstd, w, b);
  }
  if (stats) *stats = st;

  std::vector<Var<T, D>> inputs{input};
  int wi = -1, bi = -1;
  if (weight.defined()) {
    wi = static_cast<int>(inputs.size());
    inputs.push_back(weight);
  }
  if (bias.defined()) {
    bi = static_cast<int>(inputs.size());
    inputs.push_back(bias);
  }
  const Tensor<T> saved_mean = st.mean, saved_invstd = st.invstd;
  return make_result<T, D>(
      std::move(y), plan.op, std::move(inputs),
      [plan, saved_mean, saved_invstd, from_input, eps, wi, bi](const auto& in, const auto&, const auto& g) {
        const std::array<bool, 3> needs{needs_grad(in, 0), wi >= 0 && needs_grad(in, static_cast<std::size_t>(wi)),
                                        bi >= 0 && needs_grad(in, static_cast<std::size_t>(bi))};
        const Var<T, D> weight_in = wi >= 0 ? in[static_cast<std::size_t>(wi)] : Var<T, D>();
        std::vector<Var<T, D>> grads(in.size());
        std::array<Var<T, D>, 3> r;
        if (!GradMode::enabled()) {
          const Tensor<T> wv = weight_in.defined() ? weight_in.value().contiguous() : Tensor<T>();
          const Tensor<T> xv = in[0].value().contiguous(), gv = g.value().contiguous();
          ops::NormGrads<T> k =
              plan.row_affine
                  ? ops::layer_norm_backward(gv, xv, plan.layout.outer, plan.layout.inner, saved_mean, saved_invstd, wv,
                                             needs)
                  : ops::norm_backward(gv, xv, plan.layout, saved_mean, saved_invstd, wv, from_input, needs);
          if (needs[0]) r[0] = constant(k.input);
          if (needs[1]) r[1] = constant(k.weight);
          if (needs[2]) r[2] = constant(k.bias);
        } else {
          const auto graph = norm_backward_graph<T, D>(plan, in[0], weight_in, g, from_input ? Tensor<T>() : saved_mean,
                                                       saved_invstd, eps, needs);
          for (int k = 0; k < 3; ++k) r[static_cast<std::size_t>(k)] = graph[static_cast<std::size_t>(k)];
        }
        if (needs[0]) grads[0] = reshape(r[0], in[0].shape());
        if (needs[1]) grads[static_cast<std::size_t>(wi)] = reshape(r[1], in[static_cast<std::size_t>(wi)].shape());
        if (needs[2]) grads[static_cast<std::size_t>(bi)] = reshape(r[2], in[static_cast<std::size_t>(bi)].shape());
        return grads;
      });
}

template <class T, class D>
void check_per_channel(const Tensor<T, D>& t, int64_t C, const char* op, const char* what, const Shape& input) {
  VOXNN_CHECK(!t.defined() || t.numel() == C, op, ": ", what, " of shape ", t.shape(), " should contain ", C,
              " elements (the channels of input ", input, ")");
}

// running = (1 - momentum) running + momentum value, element c of value at index c.
template <class T, class D, class Value>
void update_running(const Tensor<T, D>& running, double momentum, Value value, const char* op) {
  VOXNN_CHECK(running.is_contiguous(), op, ": running statistics must be contiguous");
  T* r = running.data();
  for (int64_t c = 0; c < running.numel(); ++c)
    r[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(r[c]) + momentum * value(c));
}

}  // namespace autograd::detail

// Batch normalisation over (N, C, *): statistics per channel over the batch and every spatial
// position. In training the batch's mean and biased variance normalise, and running_mean /
// running_var (when given) are updated in place with `momentum` and the unbiased variance; in
// evaluation the running statistics normalise.
template <Real T, Device D>
Var<T, D> batch_norm(const Var<T, D>& input, const Tensor<T, D>& running_mean, const Tensor<T, D>& running_var,
                     const Var<T, D>& weight = {}, const Var<T, D>& bias = {}, bool training = false,
                     double momentum = 0.1, double eps = 1e-5) {
  const Shape& s = input.shape();
  VOXNN_CHECK(s.size() >= 2, "batch_norm: input has ", s.size(), " dims ", s, "; expected (N, C, *) with at least 2");
  const int64_t C = s[1];
  VOXNN_CHECK(running_mean.defined() == running_var.defined(),
              "batch_norm: running_mean and running_var must both be given or both be absent");
  autograd::detail::check_per_channel(running_mean, C, "batch_norm", "running_mean", s);
  autograd::detail::check_per_channel(running_var, C, "batch_norm", "running_var", s);
  if (weight.defined()) autograd::detail::check_per_channel(weight.value(), C, "batch_norm", "weight", s);
  if (bias.defined()) autograd::detail::check_per_channel(bias.value(), C, "batch_norm", "bias", s);
  const auto plan = autograd::detail::channel_plan(s, 0, "batch_norm");
  if (!training) {
    VOXNN_CHECK(running_mean.defined(), "batch_norm: running_mean and running_var must be given in evaluation mode");
    return autograd::detail::normalize<T, D>(input, plan, weight, bias, running_mean, running_var, eps, nullptr);
  }
  const int64_t count = plan.layout.count();
  VOXNN_CHECK(count > 1, "batch_norm: expected more than 1 value per channel when training, got input of shape ", s);
  ops::NormStats<T> st;
  Var<T, D> out = autograd::detail::normalize<T, D>(input, plan, weight, bias, {}, {}, eps, &st);
  if (running_mean.defined()) {
    const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
    autograd::detail::update_running(running_mean, momentum, [&](int64_t c) { return static_cast<double>(st.mean.data()[c]); },
                                     "batch_norm");
    autograd::detail::update_running(
        running_var, momentum, [&](int64_t c) { return static_cast<double>(st.var.data()[c]) * unbias; }, "batch_norm");
  }
  return out;
}

// Instance normalisation over (N, C, *): statistics per sample and channel over the spatial positions
// (use_input_stats), or the running statistics. With use_input_stats and running statistics given,
// these are updated with the batch average of the per-instance mean and unbiased variance.
template <Real T, Device D>
Var<T, D> instance_norm(const Var<T, D>& input, const Tensor<T, D>& running_mean = {},
                        const Tensor<T, D>& running_var = {}, const Var<T, D>& weight = {}, const Var<T, D>& bias = {},
                        bool use_input_stats = true, double momentum = 0.1, double eps = 1e-5) {
  const Shape& s = input.shape();
  VOXNN_CHECK(s.size() >= 2, "instance_norm: input has ", s.size(), " dims ", s,
              "; expected (N, C, *) with at least 2");
  const int64_t C = s[1];
  VOXNN_CHECK(running_mean.defined() == running_var.defined(),
              "instance_norm: running_mean and running_var must both be given or both be absent");
  autograd::detail::check_per_channel(running_mean, C, "instance_norm", "running_mean", s);
  autograd::detail::check_per_channel(running_var, C, "instance_norm", "running_var", s);
  if (weight.defined()) autograd::detail::check_per_channel(weight.value(), C, "instance_norm", "weight", s);
  if (bias.defined()) autograd::detail::check_per_channel(bias.value(), C, "instance_norm", "bias", s);
  if (!use_input_stats) {
    VOXNN_CHECK(running_mean.defined(),
                "instance_norm: running_mean and running_var must be given when use_input_stats is false");
    return autograd::detail::normalize<T, D>(input, autograd::detail::channel_plan(s, 0, "instance_norm"), weight,
                                             bias, running_mean, running_var, eps, nullptr);
  }
  const auto plan = autograd::detail::channel_plan(s, C, "instance_norm");
  const int64_t spatial = plan.layout.inner, N = plan.layout.outer;
  VOXNN_CHECK(spatial > 1, "instance_norm: expected more than 1 spatial element when training, got input of shape ", s);
  ops::NormStats<T> st;
  Var<T, D> out = autograd::detail::normalize<T, D>(input, plan, weight, bias, {}, {}, eps, &st);
  if (running_mean.defined() && N > 0) {
    const double unbias = static_cast<double>(spatial) / static_cast<double>(spatial - 1);
    auto batch_mean = [&](const Tensor<T>& t, double scale) {
      return [&t, scale, N, C](int64_t c) {
        double acc = 0;
        for (int64_t n = 0; n < N; ++n) acc += static_cast<double>(t.data()[n * C + c]);
        return acc * scale / static_cast<double>(N);
      };
    };
    autograd::detail::update_running(running_mean, momentum, batch_mean(st.mean, 1.0), "instance_norm");
    autograd::detail::update_running(running_var, momentum, batch_mean(st.var, unbias), "instance_norm");
  }
  return out;
}

// Group normalisation over (N, C, *): statistics per sample and group of C / num_groups consecutive
// channels; weight and bias per channel.
template <Real T, Device D>
Var<T, D> group_norm(const Var<T, D>& input, int64_t num_groups, const Var<T, D>& weight = {},
                     const Var<T, D>& bias = {}, double eps = 1e-5) {
  const Shape& s = input.shape();
  VOXNN_CHECK(s.size() >= 2, "group_norm: input has ", s.size(), " dims ", s, "; expected (N, C, *) with at least 2");
  const int64_t C = s[1];
  VOXNN_CHECK(num_groups > 0 && C % num_groups == 0, "group_norm: the ", C, " channels of input ", s,
              " are not divisible into num_groups = ", num_groups);
  if (weight.defined()) autograd::detail::check_per_channel(weight.value(), C, "group_norm", "weight", s);
  if (bias.defined()) autograd::detail::check_per_channel(bias.value(), C, "group_norm", "bias", s);
  return autograd::detail::normalize<T, D>(input, autograd::detail::channel_plan(s, num_groups, "group_norm"), weight,
                                           bias, {}, {}, eps, nullptr);
}

// Layer normalisation over the trailing dims given by normalized_shape; weight and bias (when
// given) have shape normalized_shape.
template <Real T, Device D>
Var<T, D> layer_norm(const Var<T, D>& input, const std::vector<int64_t>& normalized_shape, const Var<T, D>& weight = {},
                     const Var<T, D>& bias = {}, double eps = 1e-5) {
  const Shape& s = input.shape();
  const Shape ns(normalized_shape);
  const int k = ns.size();
  bool match = k >= 1 && k <= s.size();
  for (int i = 0; match && i < k; ++i) match = s[s.size() - k + i] == ns[i];
  VOXNN_CHECK(match, "layer_norm: normalized_shape ", ns, " does not match the trailing dims of input ", s);
  VOXNN_CHECK(!weight.defined() || weight.shape() == ns, "layer_norm: weight of shape ", weight.defined() ? weight.shape() : Shape{},
              " should have normalized_shape ", ns);
  VOXNN_CHECK(!bias.defined() || bias.shape() == ns, "layer_norm: bias of shape ", bias.defined() ? bias.shape() : Shape{},
              " should have normalized_shape ", ns);
  int64_t rows = 1, len = 1;
  for (int d = 0; d < s.size() - k; ++d) rows *= s[d];
  for (int i = 0; i < k; ++i) len *= ns[i];
  return autograd::detail::normalize<T, D>(input, autograd::detail::row_plan(rows, len, "layer_norm"), weight, bias, {},
                                           {}, eps, nullptr);
}

}  // namespace voxnn
