#pragma once
// Classification losses, as torch.nn.functional (1.13): binary_cross_entropy_with_logits, nll_loss
// and cross_entropy, composed of differentiable Var ops so that second derivatives work.
//
// Layouts: input [N, C, d1, d2, ...], [N, C] or unbatched [C]; the class dim is 1, or 0 for [C].
// A class-index target (Tensor<int64_t>) has the input's shape without the class dim. A probability
// target (cross_entropy only) has the input's shape.
//
// Weighted means follow PyTorch: with class weights w and reduction mean, the sum of the per-element
// losses is divided by the sum of w[target] over the elements not ignored (not by their count).
#include <cmath>
#include <type_traits>

#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/losses/reduction.hpp"

namespace voxnn::losses {

namespace detail {

// log(1 + exp(x)) without overflow; its derivative sigmoid(x) is a Var op, so it differentiates again.
template <Real T, Device D>
Var<T, D> softplus(const Var<T, D>& x) {
  const Tensor<T, D> value = ops::map<T>(
      x.value(), [](T v) { return (v > 0 ? v : T(0)) + std::log1p(std::exp(-std::abs(v))); }, "softplus");
  return autograd::make_result<T, D>(value, "softplus", {x}, [](const auto& in, const auto&, const auto& g) {
    return std::vector{mul(g, sigmoid(in[0]))};
  });
}

// Whether `s` broadcasts to `target` without enlarging it.
inline bool broadcasts_to(const Shape& s, const Shape& target) {
  if (s.size() > target.size()) return false;
  for (int i = 1; i <= s.size(); ++i)
    if (s[s.size() - i] != 1 && s[s.size() - i] != target[target.size() - i]) return false;
  return true;
}

inline int class_dim(const Shape& input) { return input.size() == 1 ? 0 : 1; }

inline void check_has_class_dim(const Shape& input, const char* loss) {
  VOXNN_CHECK(input.size() >= 1, loss, ": input of shape ", input,
              " has no class dim (expected [C], [N, C] or [N, C, d1, ...])");
  VOXNN_CHECK(input[class_dim(input)] > 0, loss, ": input of shape ", input, " has no classes");
}

// A per-class weight reshaped to broadcast along the input's class dim: [C] -> [1, C, 1, ...].
template <Real T, Device D>
Var<T, D> class_weight_view(const Var<T, D>& weight, const Shape& input) {
  Shape s(std::vector<int64_t>(static_cast<std::size_t>(input.size()), 1));
  s[class_dim(input)] = weight.numel();
  return reshape(weight, s);
}

template <Real T, Device D>
void check_class_weight(const Var<T, D>& weight, int64_t classes, const char* loss) {
  VOXNN_CHECK(!weight.defined() || (weight.dim() == 1 && weight.numel() == classes), loss, ": weight of shape ",
              weight.shape(), " does not give one value per class (expected [", classes, "])");
}

// The negative log-likelihood terms of class-index targets.
template <class T, class D>
struct PickedTargets {
  Var<T, D> loss;        // -weight[t] * log_prob[t] in the target's shape, 0 where ignored
  Var<T, D> weight;      // weight[t] (1 without class weights), 0 where ignored: the mean's divisor
  Tensor<bool> ignored;  // where the target equals ignore_index
};

template <Real T, Device D>
PickedTargets<T, D> pick_targets(const Var<T, D>& log_probs, const Tensor<int64_t>& target, const Var<T, D>& weight,
                                 int64_t ignore_index, const char* loss) {
  const Shape& in = log_probs.shape();
  check_has_class_dim(in, loss);
  const int cdim = class_dim(in);
  const int64_t classes = in[cdim];
  Shape expected = in;
  expected.erase(cdim);
  VOXNN_CHECK(target.defined() && target.shape() == expected, loss, ": target of shape ", target.shape(),
              " does not match input of shape ", in, " (class-index targets have shape ", expected,
              ", the input's without its class dim)");
  check_class_weight(weight, classes, loss);

  // Ignored positions read class 0 and get weight 0; every other target must name a class.
  // A fixed class weight is looked up here; one that requires grad is gathered as a Var below.
  const bool weight_is_fixed = weight.defined() && !weight.requires_grad();
  const Tensor<T, D> class_weight = weight.defined() ? weight.value().contiguous() : Tensor<T, D>();
  const Tensor<int64_t> t = target.contiguous();
  Tensor<int64_t> safe(expected);
  Tensor<bool> ignored(expected);
  Tensor<T, D> per_position(expected);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t c = t.data()[i];
    const bool skip = c == ignore_index;
    VOXNN_CHECK(skip || (c >= 0 && c < classes), loss, ": target ", c, " is out of bounds for ", classes,
                " classes (input of shape ", in, ", ignore_index ", ignore_index, ")");
    safe.data()[i] = skip ? 0 : c;
    ignored.data()[i] = skip;
    per_position.data()[i] = skip ? T(0) : (weight_is_fixed ? class_weight.data()[c] : T(1));
  }
  const Var<T, D> picked = reshape(gather(log_probs, cdim, safe.unsqueeze(cdim)), expected);
  Var<T, D> w = constant(per_position);
  if (weight.defined() && !weight_is_fixed) w = mul(reshape(gather(weight, 0, safe.reshape({-1})), expected), w);
  const Var<T, D> zero(zeros<T, D>(Shape{}));
  return {where(ignored, zero, neg(mul(picked, w))), w, ignored};
}

// Reduces per-element terms whose weighted mean divides by the sum of `weight`.
template <Real T, Device D>
Var<T, D> reduce_weighted(const Var<T, D>& terms, const Var<T, D>& weight, Reduction reduction) {
  switch (reduction) {
    case Reduction::none: return terms;
    case Reduction::sum: return sum(terms);
    default: return div(sum(terms), sum(weight));
  }
}

}  // namespace detail

// ---- binary cross-entropy on logits ---------------------------------------------------------------

template <Real T, Device D = Cpu>
struct BceWithLogitsOptions {
  Var<T, D> weight = {};      // rescales each element; broadcast to the input's shape
  Var<T, D> pos_weight = {};  // weight of the positive term, broadcast (typically one per class, last dim)
  Reduction reduction = Reduction::mean;
};

// -w [p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] with p = pos_weight, computed stably as
// w [(1 - t) x + (1 + (p - 1) t) softplus(-x)]. Targets are probabilities of the input's shape.
template <Real T, Device D>
Var<T, D> binary_cross_entropy_with_logits(const Var<T, D>& input, const std::type_identity_t<Var<T, D>>& target,
                                           const BceWithLogitsOptions<T, D>& options = {}) {
  constexpr const char* loss = "binary_cross_entropy_with_logits";
  VOXNN_CHECK(input.defined() && target.defined(), loss, ": input and target must be defined");
  VOXNN_CHECK(target.shape() == input.shape(), loss, ": target of shape ", target.shape(),
              " must match input of shape ", input.shape());
  for (const Var<T, D>* w : {&options.weight, &options.pos_weight})
    VOXNN_CHECK(!w->defined() || detail::broadcasts_to(w->shape(), input.shape()), loss, ": ",
                w == &options.weight ? "weight" : "pos_weight", " of shape ", w->shape(),
                " does not broadcast to input of shape ", input.shape());
  const Var<T, D> positive = detail::softplus(neg(input));  // -log sigmoid(x)
  const Var<T, D> log_weight =
      options.pos_weight.defined() ? add(mul(add(options.pos_weight, T(-1)), target), T(1)) : Var<T, D>();
  Var<T, D> out = add(mul(rsub(target, T(1)), input), log_weight.defined() ? mul(log_weight, positive) : positive);
  if (options.weight.defined()) out = mul(out, options.weight);
  return reduce(out, options.reduction);
}

// ---- negative log-likelihood ------------------------------------------------------------------------

template <Real T, Device D = Cpu>
struct NllLossOptions {
  Var<T, D> weight = {};  // per class, shape [C]
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
};

// -weight[t] * input[t] for log-probabilities `input` and class indices t.
template <Real T, Device D>
Var<T, D> nll_loss(const Var<T, D>& input, const Tensor<int64_t>& target, const NllLossOptions<T, D>& options = {}) {
  const auto picked = detail::pick_targets(input, target, options.weight, options.ignore_index, "nll_loss");
  return detail::reduce_weighted(picked.loss, picked.weight, options.reduction);
}

// ---- cross-entropy ----------------------------------------------------------------------------------

template <Real T, Device D = Cpu>
struct CrossEntropyOptions {
  Var<T, D> weight = {};  // per class, shape [C]
  int64_t ignore_index = -100;  // class-index targets only
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0.0;  // mixes the target with the uniform distribution over classes
};

namespace detail {
inline void check_label_smoothing(double s) {
  VOXNN_CHECK(s >= 0 && s <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ", s);
}
}  // namespace detail

// log_softmax over the class dim, then nll_loss; with label smoothing s the loss is
// (1 - s) * nll + s / C * (the weighted sum of -log_softmax over all classes), reduced alike.
template <Real T, Device D>
Var<T, D> cross_entropy(const Var<T, D>& input, const Tensor<int64_t>& target,
                        const CrossEntropyOptions<T, D>& options = {}) {
  constexpr const char* loss = "cross_entropy";
  detail::check_has_class_dim(input.shape(), loss);
  detail::check_label_smoothing(options.label_smoothing);
  const int cdim = detail::class_dim(input.shape());
  const Var<T, D> log_probs = log_softmax(input, cdim);
  const auto picked = detail::pick_targets(log_probs, target, options.weight, options.ignore_index, loss);
  const Var<T, D> nll = detail::reduce_weighted(picked.loss, picked.weight, options.reduction);
  if (options.label_smoothing == 0) return nll;

  const Var<T, D> weighted =
      options.weight.defined() ? mul(log_probs, detail::class_weight_view(options.weight, input.shape())) : log_probs;
  const Var<T, D> zero(zeros<T, D>(Shape{}));
  const Var<T, D> smooth = where(picked.ignored, zero, neg(sum(weighted, {cdim})));
  const Var<T, D> uniform = detail::reduce_weighted(smooth, picked.weight, options.reduction);
  const auto classes = static_cast<double>(input.shape()[cdim]);
  return add(mul(nll, static_cast<T>(1 - options.label_smoothing)),
             mul(uniform, static_cast<T>(options.label_smoothing / classes)));
}

// Cross-entropy against class probabilities of the input's shape:
// -sum_c weight[c] * target[c] * log_softmax(input)[c]; the mean divides by the number of
// positions (the input's element count over C), whatever the weights.
template <Real T, Device D>
Var<T, D> cross_entropy(const Var<T, D>& input, const std::type_identity_t<Var<T, D>>& target,
                        const CrossEntropyOptions<T, D>& options = {}) {
  constexpr const char* loss = "cross_entropy";
  detail::check_has_class_dim(input.shape(), loss);
  detail::check_label_smoothing(options.label_smoothing);
  VOXNN_CHECK(target.defined() && target.shape() == input.shape(), loss, ": probability target of shape ",
              target.shape(), " must match input of shape ", input.shape());
  VOXNN_CHECK(options.ignore_index == -100, loss, ": ignore_index (", options.ignore_index,
              ") applies to class-index targets only, not to class probabilities");
  const int cdim = detail::class_dim(input.shape());
  const int64_t classes = input.shape()[cdim];
  detail::check_class_weight(options.weight, classes, loss);

  const double s = options.label_smoothing;
  const Var<T, D> probs =
      s > 0 ? add(mul(target, static_cast<T>(1 - s)), static_cast<T>(s / static_cast<double>(classes))) : target;
  Var<T, D> terms = mul(log_softmax(input, cdim), probs);
  if (options.weight.defined()) terms = mul(terms, detail::class_weight_view(options.weight, input.shape()));
  switch (options.reduction) {
    case Reduction::none: return neg(sum(terms, {cdim}));
    case Reduction::sum: return neg(sum(terms));
    default: {
      const Var<T, D> positions(full<T, D>(Shape{}, static_cast<T>(input.numel() / classes)));
      return div(neg(sum(terms)), positions);
    }
  }
}

}  // namespace voxnn::losses
