#pragma once
// Focal loss (Lin et al. 2017) as MONAI defines it (Project-MONAI/MONAI@d388d1c
// monai/losses/focal_loss.py: FocalLoss, unchanged since 1.3.2): sigmoid focal loss per channel by
// default, softmax focal loss over the channels with use_softmax. The input is logits
// [N, C, spatial...]; the target is a Var of the input's shape (one-hot or probabilities, or
// [N, 1, spatial...] labels with to_onehot_y) or a Tensor<int64_t> of class indices, [N, 1, spatial...]
// or [N, spatial...], always one-hot encoded (a 0/1 mask for one channel).
//
// Deliberate differences: MONAI casts input and target to float32; voxnn computes in T. With
// use_softmax and include_background = false MONAI drops alpha for good (it resets its attribute);
// here it is ignored for that call only. Warnings are silent.
#include <optional>

#include "voxnn/losses/dice.hpp"

namespace voxnn::losses {

template <Real T, Device D = Cpu>
struct FocalLossOptions {
  bool include_background = true;   // false: channel 0 is left out before the activation
  bool to_onehot_y = false;
  double gamma = 2.0;               // focusing exponent
  std::optional<double> alpha = {};  // alpha-balancing in [0, 1]
  Var<T, D> weight = {};            // per class ([C] after excluding the background) or one 0-dim value
  Reduction reduction = Reduction::mean;  // sum: the spatial mean summed over samples and classes
  bool use_softmax = false;         // false: sigmoid focal loss (MONAI's default)
};

namespace seg_detail {

// -log sigmoid(x) = softplus(-x)
template <Real T, Device D>
Var<T, D> sigmoid_focal(const Var<T, D>& x, const Var<T, D>& t, double gamma, std::optional<double> alpha) {
  // x - x t - log sigmoid(x), scaled by sigmoid(-x (2t - 1))^gamma
  Var<T, D> loss = add(sub(x, mul(x, t)), detail::softplus(neg(x)));
  const Var<T, D> invprobs = neg(detail::softplus(mul(x, add(mul(t, T(2)), T(-1)))));
  loss = mul(exp(mul(invprobs, static_cast<T>(gamma))), loss);
  if (alpha) {
    const T a = static_cast<T>(*alpha);
    loss = mul(add(mul(t, a), mul(rsub(t, T(1)), static_cast<T>(1 - *alpha))), loss);
  }
  return loss;
}

template <Real T, Device D>
Var<T, D> softmax_focal(const Var<T, D>& x, const Var<T, D>& t, double gamma, std::optional<double> alpha) {
  const Var<T, D> ls = log_softmax(x, 1);
  Var<T, D> loss = neg(mul(ls, t));
  if (gamma != 0) loss = mul(pow(rsub(exp(ls), T(1)), static_cast<T>(gamma)), loss);
  if (alpha) {
    const int64_t classes = x.shape()[1];
    std::vector<T> factors(static_cast<std::size_t>(classes), static_cast<T>(*alpha));
    factors[0] = static_cast<T>(1 - *alpha);
    Shape s(std::vector<int64_t>(static_cast<std::size_t>(x.dim() - 1), 1));
    s[0] = classes;
    Var<T, D> fac;
    {
      std::vector<Var<T, D>> parts;
      for (const T f : factors) parts.emplace_back(full<T, D>(Shape{1}, f));
      fac = reshape(cat(parts, 0), s);
    }
    loss = mul(fac, loss);
  }
  return loss;
}

template <Real T, Device D>
Var<T, D> focal_on_target(Var<T, D> input, Var<T, D> target, const FocalLossOptions<T, D>& o, bool encode,
                          const char* loss) {
  VOXNN_CHECK(!o.alpha || (*o.alpha >= 0 && *o.alpha <= 1), loss, ": alpha must be in [0, 1], got ", *o.alpha);
  const int64_t channels = input.shape()[1];
  if (encode && channels > 1) target = one_hot_float_labels(target, channels, loss);
  drop_background(input, target, o.include_background, loss);
  const bool background_dropped = !o.include_background && channels > 1;
  Var<T, D> f = o.use_softmax ? softmax_focal(input, target, o.gamma, background_dropped ? std::nullopt : o.alpha)
                              : sigmoid_focal(input, target, o.gamma, o.alpha);
  const int64_t classes = target.shape()[1];
  if (o.weight.defined() && classes != 1) {
    Shape s(std::vector<int64_t>(static_cast<std::size_t>(input.dim() - 1), 1));
    s[0] = classes;
    f = mul(reshape(class_weight(o.weight, classes, loss), s), f);
  }
  switch (o.reduction) {
    case Reduction::sum: {
      const std::vector<int64_t> axes = spatial_axes(input.dim(), false);
      return sum(mean(f, axes));
    }
    case Reduction::mean: return mean(f);
    default: return f;
  }
}

}  // namespace seg_detail

// Sigmoid: (x - x t + softplus(-x)) * sigmoid(-x (2t - 1))^gamma [* (alpha t + (1 - alpha)(1 - t))].
// Softmax: -(1 - p)^gamma log(p) t with p = softmax(x) [* (1 - alpha for class 0, alpha for the others)].
template <Real T, Device D>
Var<T, D> focal_loss(const Var<T, D>& input, const std::type_identity_t<Var<T, D>>& target,
                     const FocalLossOptions<T, D>& options = {}) {
  constexpr const char* loss = "focal_loss";
  VOXNN_CHECK(input.defined() && target.defined(), loss, ": input and target must be defined");
  seg_detail::check_segmentation_input(input.shape(), loss);
  return seg_detail::focal_on_target(input, target, options, options.to_onehot_y, loss);
}

template <Real T, Device D>
Var<T, D> focal_loss(const Var<T, D>& input, const Tensor<int64_t>& target, const FocalLossOptions<T, D>& options = {}) {
  constexpr const char* loss = "focal_loss";
  VOXNN_CHECK(input.defined(), loss, ": input must be defined");
  seg_detail::check_segmentation_input(input.shape(), loss);
  return seg_detail::focal_on_target(input, seg_detail::encode_index_target<T, D>(target, input.shape(), loss), options,
                                     false, loss);
}

}  // namespace voxnn::losses
