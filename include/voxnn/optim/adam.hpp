#pragma once
// Adam and AdamW, with torch.optim's (1.13) update and bias correction:
//   g = grad (negated when maximizing), plus weight_decay * p for Adam (L2 penalty)
//   AdamW instead decays the parameter itself first: p = p * (1 - lr * weight_decay)
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
//   v_max = max(v_max, v) with amsgrad, used in place of v below
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#include <array>
#include <cmath>

#include "voxnn/core/diagnostics.hpp"
#include "voxnn/optim/optimizer.hpp"

VOXNN_EIGEN_AVX512_WARNINGS_BEGIN

namespace voxnn::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  bool maximize = false;
};

// AdamW's options differ from Adam's only in the default weight decay.
struct AdamWOptions {
  double lr = 1e-3;
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;
};

namespace detail {

template <class Options>
const Options& checked_adam_options(const Options& o, const char* name) {
  VOXNN_CHECK(o.lr >= 0, name, ": invalid learning rate ", o.lr);
  VOXNN_CHECK(o.eps >= 0, name, ": invalid eps ", o.eps);
  VOXNN_CHECK(o.betas[0] >= 0 && o.betas[0] < 1, name, ": invalid beta1 ", o.betas[0], " (expected [0, 1))");
  VOXNN_CHECK(o.betas[1] >= 0 && o.betas[1] < 1, name, ": invalid beta2 ", o.betas[1], " (expected [0, 1))");
  VOXNN_CHECK(o.weight_decay >= 0, name, ": invalid weight_decay ", o.weight_decay);
  return o;
}

// The shared step; decoupled selects AdamW's weight decay.
template <class T, class D, class Options, class State>
void adam_update(Tensor<T, D>& value, const Tensor<T, D>& grad, State& state, const Options& o, double lr_now,
                 bool decoupled) {
  const double beta1 = o.betas[0], beta2 = o.betas[1];
  const auto t = static_cast<double>(state.step);
  const double bias_correction1 = 1 - std::pow(beta1, t);
  const double bias_correction2_sqrt = std::sqrt(1 - std::pow(beta2, t));

  const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
  const T one_minus_b1 = static_cast<T>(1 - beta1), one_minus_b2 = static_cast<T>(1 - beta2);
  const T step_size = static_cast<T>(lr_now / bias_correction1);
  const T bc2_sqrt = static_cast<T>(bias_correction2_sqrt), eps = static_cast<T>(o.eps);
  const T sign = o.maximize ? T(-1) : T(1);
  const T l2 = decoupled ? T(0) : static_cast<T>(o.weight_decay);
  const T shrink = static_cast<T>(1 - (decoupled ? lr_now * o.weight_decay : 0.0));

  T* param = value.data();
  const T* gradient = grad.data();
  T* exp_avg = state.buffer("exp_avg", value.shape()).data();
  T* exp_avg_sq = state.buffer("exp_avg_sq", value.shape()).data();
  T* max_exp_avg_sq = o.amsgrad ? state.buffer("max_exp_avg_sq", value.shape()).data() : nullptr;
  detail::for_each_tile(value.numel(), [&](int64_t at, int64_t n) {
    ArrayMap<T> p(param + at, n), m(exp_avg + at, n), v(exp_avg_sq + at, n);
    alignas(64) T scratch[kUpdateTile];
    with_effective_grad<T>({gradient + at, n}, p, sign, l2, scratch, [&](const auto& g) {
      m = b1 * m + one_minus_b1 * g;
      v = b2 * v + one_minus_b2 * g.square();
    });
    if (shrink != T(1)) p *= shrink;
    ArrayMap<T> denom(scratch, n);  // the effective gradient is no longer needed
    if (max_exp_avg_sq) {
      ArrayMap<T> v_max(max_exp_avg_sq + at, n);
      v_max = v_max.max(v);
      denom = v_max.sqrt() / bc2_sqrt + eps;
    } else {
      denom = v.sqrt() / bc2_sqrt + eps;
    }
    p -= step_size * (m / denom);
  });
}

}  // namespace detail

template <Real T, Device D = Cpu>
class Adam : public Optimizer<T, D> {
 public:
  using typename Optimizer<T, D>::ParamState;

  explicit Adam(std::vector<Var<T, D>> params, const AdamOptions& options = {})
      : Optimizer<T, D>(std::move(params), detail::checked_adam_options(options, "Adam").lr, "Adam"),
        options_(options) {}

  const AdamOptions& options() const { return options_; }

 private:
  void update(Tensor<T, D>& value, const Tensor<T, D>& grad, ParamState& state) override {
    detail::adam_update(value, grad, state, options_, this->lr(), false);
  }
  AdamOptions options_;
};

// Adam with decoupled weight decay (Loshchilov & Hutter): the decay shrinks the parameter directly
// instead of entering the gradient moments.
template <Real T, Device D = Cpu>
class AdamW : public Optimizer<T, D> {
 public:
  using typename Optimizer<T, D>::ParamState;

  explicit AdamW(std::vector<Var<T, D>> params, const AdamWOptions& options = {})
      : Optimizer<T, D>(std::move(params), detail::checked_adam_options(options, "AdamW").lr, "AdamW"),
        options_(options) {}

  const AdamWOptions& options() const { return options_; }

 private:
  void update(Tensor<T, D>& value, const Tensor<T, D>& grad, ParamState& state) override {
    detail::adam_update(value, grad, state, options_, this->lr(), true);
  }
  AdamWOptions options_;
};

template <Real T, Device D>
Adam(std::vector<Var<T, D>>, const AdamOptions&) -> Adam<T, D>;
template <Real T, Device D>
Adam(std::vector<Var<T, D>>) -> Adam<T, D>;
template <Real T, Device D>
AdamW(std::vector<Var<T, D>>, const AdamWOptions&) -> AdamW<T, D>;
template <Real T, Device D>
AdamW(std::vector<Var<T, D>>) -> AdamW<T, D>;

}  // namespace voxnn::optim

VOXNN_EIGEN_AVX512_WARNINGS_END
