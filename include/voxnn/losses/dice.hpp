#pragma once
// Soft Dice losses for segmentation, as MONAI defines them (Project-MONAI/MONAI@d388d1c
// monai/losses/dice.py: DiceLoss, GeneralizedDiceLoss, DiceCELoss; monai/losses/utils.py:
// compute_tp_fp_fn). With soft_label = false (the default) the values equal MONAI 1.3.2's.
//
// Layouts: input [N, C, spatial...] (1 to 3 spatial dims, or more), logits or probabilities: logits
// with .sigmoid, .softmax or .other_act, probabilities with none of them. The target is either a Var
// of the input's shape (one-hot or class probabilities; or [N, 1, spatial...] labels with
// to_onehot_y, truncated to integers as MONAI's one_hot does), or a Tensor<int64_t> of class
// indices, [N, 1, spatial...] or [N, spatial...], which is always one-hot encoded (to_onehot_y is
// implied); with a single-channel input class indices are a binary mask (0 or 1).
//
// Every loss is composed of differentiable Var functions, so gradients reach the input and a float
// target, and second derivatives work. Deliberate differences from MONAI: computations run in T
// (MONAI computes GeneralizedDiceLoss's class weights in float32 even for float64 inputs);
// MONAI's warnings (softmax, to_onehot_y or include_background ignored for one channel) are silent;
// errors are voxnn::Error with the shapes instead of AssertionError/ValueError.
#include <cmath>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/losses/classification.hpp"
#include "voxnn/losses/reduction.hpp"

namespace voxnn::losses {

namespace seg_detail {

// One-hot encodes integer labels [N, 1, spatial...] into [N, classes, spatial...].
template <Real T, Device D>
Tensor<T, D> one_hot_channels(const Tensor<int64_t>& labels, int64_t classes, const char* loss) {
  require_cpu<D>();
  VOXNN_CHECK(labels.dim() >= 2 && labels.shape()[1] == 1, loss, ": labels of shape ", labels.shape(),
              " must have a channel dim of size 1 ([N, 1, spatial...]) to be one-hot encoded");
  Shape out_shape = labels.shape();
  out_shape[1] = classes;
  Tensor<T, D> out = zeros<T, D>(out_shape);
  const Tensor<int64_t> l = labels.contiguous();
  const int64_t batch = out_shape[0];
  const int64_t plane = labels.numel() / std::max<int64_t>(batch, 1);
  const int64_t* p = l.data();
  T* o = out.data();
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t i = 0; i < plane; ++i) {
      const int64_t c = p[n * plane + i];
      VOXNN_CHECK(c >= 0 && c < classes, loss, ": class index ", c, " is outside [0, ", classes,
                  ") for an input with ", classes, " channels (labels of shape ", labels.shape(), ")");
      o[(n * classes + c) * plane + i] = T(1);
    }
  return out;
}

// Class indices [N, 1, spatial...] or [N, spatial...] for an input of shape `input`, as [N, 1, spatial...].
inline Tensor<int64_t> index_target_with_channel(const Tensor<int64_t>& target, const Shape& input, const char* loss) {
  VOXNN_CHECK(target.defined(), loss, ": target is undefined");
  Tensor<int64_t> t = target.dim() == input.size() - 1 ? target.unsqueeze(1) : target;
  Shape expected = input;
  expected[1] = 1;
  VOXNN_CHECK(t.shape() == expected, loss, ": class-index target of shape ", target.shape(),
              " does not match input of shape ", input, " (expected ", expected, " or that without dim 1)");
  return t;
}

// A class-index target as a float Var matching an input with `classes` channels: one-hot for several
// channels, the 0/1 mask itself for one channel.
template <Real T, Device D>
Var<T, D> encode_index_target(const Tensor<int64_t>& target, const Shape& input, const char* loss) {
  const Tensor<int64_t> t = index_target_with_channel(target, input, loss);
  const int64_t classes = input[1];
  if (classes > 1) return Var<T, D>(one_hot_channels<T, D>(t, classes, loss));
  const Tensor<int64_t> c = t.contiguous();
  for (int64_t i = 0; i < c.numel(); ++i)
    VOXNN_CHECK(c.data()[i] == 0 || c.data()[i] == 1, loss, ": with a single-channel input the class indices are ",
                "a binary mask (0 or 1), got ", c.data()[i]);
  return Var<T, D>(ops::cast<T>(c));
}

// MONAI's one_hot for a float label target [N, 1, spatial...]: values truncated to integers.
template <Real T, Device D>
Var<T, D> one_hot_float_labels(const Var<T, D>& target, int64_t classes, const char* loss) {
  require_cpu<D>();
  const Tensor<T, D> t = target.value().contiguous();
  for (int64_t i = 0; i < t.numel(); ++i)  // before the cast: casting NaN or a huge value is undefined
    VOXNN_CHECK(t.data()[i] > T(-1) && t.data()[i] < static_cast<T>(classes), loss, ": label ", t.data()[i],
                " is not a class index in [0, ", classes, ") for an input with ", classes, " channels");
  return Var<T, D>(one_hot_channels<T, D>(ops::cast<int64_t>(t), classes, loss));
}

inline void check_segmentation_input(const Shape& input, const char* loss) {
  VOXNN_CHECK(input.size() >= 3, loss, ": input of shape ", input, " must be [N, C, spatial...] with at least one ",
              "spatial dim");
  VOXNN_CHECK(input[1] > 0, loss, ": input of shape ", input, " has no channels");
}

// The activations of MONAI's Dice losses: at most one of sigmoid, softmax and other_act.
template <Real T, Device D>
Var<T, D> activate(const Var<T, D>& input, bool use_sigmoid, bool use_softmax,
                   const std::function<Var<T, D>(const Var<T, D>&)>& other_act, const char* loss) {
  VOXNN_CHECK(int(use_sigmoid) + int(use_softmax) + int(bool(other_act)) <= 1, loss,
              ": more than one of sigmoid, softmax and other_act is set");
  Var<T, D> x = input;
  if (use_sigmoid) x = sigmoid(x);
  if (use_softmax && x.shape()[1] > 1) x = softmax(x, 1);  // one channel: ignored, as MONAI
  if (other_act) x = other_act(x);
  return x;
}

// Drops channel 0 of both (several channels only) and checks that the shapes then agree.
template <Real T, Device D>
void drop_background(Var<T, D>& input, Var<T, D>& target, bool include_background, const char* loss) {
  if (!include_background && input.shape()[1] > 1) {
    VOXNN_CHECK(target.dim() >= 2 && target.shape()[1] > 1, loss, ": target of shape ", target.shape(),
                " has no background channel to exclude (input of shape ", input.shape(), ")");
    input = slice(input, 1, 1, input.shape()[1]);
    target = slice(target, 1, 1, target.shape()[1]);
  }
  VOXNN_CHECK(target.shape() == input.shape(), loss, ": ground truth has different shape ", target.shape(),
              " from input ", input.shape(),
              include_background ? "" : " (after excluding the background channel)");
}

// A class weight of C values (or one 0-dim value for every class), non-negative, as a Var of shape [C].
template <Real T, Device D>
Var<T, D> class_weight(const Var<T, D>& weight, int64_t classes, const char* loss) {
  VOXNN_CHECK(weight.dim() == 0 || (weight.dim() == 1 && weight.numel() == classes), loss, ": weight of shape ",
              weight.shape(), " does not give one value per class: expected [", classes,
              "] (without include_background, the background class 0 is not counted) or a single value");
  for (const T v : weight.value().to_vector())
    VOXNN_CHECK(v >= 0, loss, ": class weights must be non-negative, got ", v);
  return weight.dim() == 0 ? expand(reshape(weight, Shape{1}), Shape{classes}) : weight;
}

inline std::vector<int64_t> spatial_axes(int rank, bool batch) {
  std::vector<int64_t> axes;
  if (batch) axes.push_back(0);
  for (int d = 2; d < rank; ++d) axes.push_back(d);
  return axes;
}

// MONAI's reduction of per-(sample, class) values f; none keeps f's first two dims and appends one
// dim of size 1 per spatial dim of the input.
template <Real T, Device D>
Var<T, D> reduce_per_class(const Var<T, D>& f, Reduction reduction, int input_rank) {
  switch (reduction) {
    case Reduction::mean: return mean(f);
    case Reduction::sum: return sum(f);
    default: {
      Shape s;
      for (int i = 0; i < std::min(2, f.dim()); ++i) s.push_back(f.shape()[i]);
      for (int i = 2; i < input_rank; ++i) s.push_back(1);
      return reshape(f, s);
    }
  }
}

// compute_tp_fp_fn: true positives, false positives and false negatives summed over `axes`.
template <class T, class D>
struct Overlap {
  Var<T, D> tp, fp, fn;
};

template <Real T, Device D>
Overlap<T, D> overlap(const Var<T, D>& input, const Var<T, D>& target, const std::vector<int64_t>& axes, int ord,
                      bool soft_label) {
  if (ord == 1 && !soft_label) {
    const Var<T, D> tp = sum(mul(input, target), axes);
    return {tp, sub(sum(input, axes), tp), sub(sum(target, axes), tp)};
  }
  // |p|, |t| and |p - t| as ord-norms (to the power ord): exact for soft labels, equal to the above
  // for hard ones.
  const auto norm_pow = [&](const Var<T, D>& x) { return ord == 1 ? sum(abs(x), axes) : sum(mul(x, x), axes); };
  const Var<T, D> pred_o = norm_pow(input), ground_o = norm_pow(target);
  const Var<T, D> tp = mul(sub(add(pred_o, ground_o), norm_pow(sub(input, target))), T(0.5));
  return {tp, sub(pred_o, tp), sub(ground_o, tp)};
}

}  // namespace seg_detail

// ---- Dice ---------------------------------------------------------------------------------------

template <Real T, Device D = Cpu>
struct DiceLossOptions {
  bool include_background = true;  // false: channel 0 is left out (several channels only)
  bool to_onehot_y = false;        // a Var target [N, 1, spatial...] of labels is one-hot encoded
  bool sigmoid = false;            // input logits -> sigmoid
  bool softmax = false;            // input logits -> softmax over the channels (several channels only)
  std::function<Var<T, D>(const Var<T, D>&)> other_act = {};  // another activation (e.g. tanh)
  bool squared_pred = false;       // squares in the denominator
  bool jaccard = false;            // soft IoU instead of Dice
  Reduction reduction = Reduction::mean;  // none: [N, C, 1, ...] ([C, 1, ...] with batch)
  double smooth_nr = 1e-5;
  double smooth_dr = 1e-5;
  bool batch = false;              // sum the overlaps over the batch before dividing
  Var<T, D> weight = {};           // per class ([C], after excluding the background) or one 0-dim value
  bool soft_label = false;         // MONAI@d388d1c: exact formulation for soft (non-binary) targets
};

namespace seg_detail {
// The Dice loss of an activated input (probabilities) against a float target.
template <Real T, Device D>
Var<T, D> dice_of_probabilities(Var<T, D> input, Var<T, D> target, const DiceLossOptions<T, D>& o, bool encode,
                                const char* loss) {
  const int64_t channels = input.shape()[1];
  if (encode && channels > 1) target = one_hot_float_labels(target, channels, loss);
  drop_background(input, target, o.include_background, loss);

  const std::vector<int64_t> axes = spatial_axes(input.dim(), o.batch);
  Overlap<T, D> v = overlap(input, target, axes, o.squared_pred ? 2 : 1, o.soft_label);
  if (!o.jaccard) {
    v.fp = mul(v.fp, T(0.5));
    v.fn = mul(v.fn, T(0.5));
  }
  const Var<T, D> numerator = add(mul(v.tp, T(2)), static_cast<T>(o.smooth_nr));
  const Var<T, D> denominator = add(mul(add(add(v.tp, v.fp), v.fn), T(2)), static_cast<T>(o.smooth_dr));
  Var<T, D> f = rsub(div(numerator, denominator), T(1));
  const int64_t classes = target.shape()[1];
  if (o.weight.defined() && classes != 1) f = mul(f, class_weight(o.weight, classes, loss));
  return reduce_per_class(f, o.reduction, input.dim());
}

template <Real T, Device D>
Var<T, D> dice_on_target(const Var<T, D>& raw_input, const Var<T, D>& target, const DiceLossOptions<T, D>& o,
                         bool encode, const char* loss) {
  return dice_of_probabilities(activate(raw_input, o.sigmoid, o.softmax, o.other_act, loss), target, o, encode, loss);
}
}  // namespace seg_detail

// 1 - (2 tp + smooth_nr) / (2 tp + fp + fn + smooth_dr) per sample and class (Jaccard: fp and fn
// not halved), reduced over samples and classes.
template <Real T, Device D>
Var<T, D> dice_loss(const Var<T, D>& input, const std::type_identity_t<Var<T, D>>& target,
                    const DiceLossOptions<T, D>& options = {}) {
  constexpr const char* loss = "dice_loss";
  VOXNN_CHECK(input.defined() && target.defined(), loss, ": input and target must be defined");
  seg_detail::check_segmentation_input(input.shape(), loss);
  return seg_detail::dice_on_target(input, target, options, options.to_onehot_y, loss);
}

// Class indices [N, 1, spatial...] or [N, spatial...], one-hot encoded over the input's channels.
template <Real T, Device D>
Var<T, D> dice_loss(const Var<T, D>& input, const Tensor<int64_t>& target, const DiceLossOptions<T, D>& options = {}) {
  constexpr const char* loss = "dice_loss";
  VOXNN_CHECK(input.defined(), loss, ": input must be defined");
  seg_detail::check_segmentation_input(input.shape(), loss);
  return seg_detail::dice_on_target(input, seg_detail::encode_index_target<T, D>(target, input.shape(), loss), options,
                                    false, loss);
}

// ---- generalised Dice (Sudre et al. 2017) --------------------------------------------------------

enum class DiceWeight { square, simple, uniform };

inline DiceWeight dice_weight_from_string(const std::string& name) {
  if (name == "square") return DiceWeight::square;
  if (name == "simple") return DiceWeight::simple;
  VOXNN_CHECK(name == "uniform", "generalized_dice_loss: w_type '", name, "' is not one of 'square', 'simple', 'uniform'");
  return DiceWeight::uniform;
}

template <Real T, Device D = Cpu>
struct GeneralizedDiceLossOptions {
  bool include_background = true;
  bool to_onehot_y = false;
  bool sigmoid = false;
  bool softmax = false;
  std::function<Var<T, D>(const Var<T, D>&)> other_act = {};
  DiceWeight w_type = DiceWeight::square;  // class weight from the target volume g: 1/g^2, 1/g or 1
  Reduction reduction = Reduction::mean;   // none: [N, 1, 1, ...] ([1, 1, ...] with batch)
  double smooth_nr = 1e-5;
  double smooth_dr = 1e-5;
  bool batch = false;
  bool soft_label = false;  // MONAI@d388d1c
};

namespace seg_detail {
template <Real T, Device D>
Var<T, D> generalized_dice_on_target(const Var<T, D>& raw_input, Var<T, D> target,
                                     const GeneralizedDiceLossOptions<T, D>& o, bool encode, const char* loss) {
  Var<T, D> input = activate(raw_input, o.sigmoid, o.softmax, o.other_act, loss);
  const int64_t channels = input.shape()[1];
  if (encode && channels > 1) target = one_hot_float_labels(target, channels, loss);
  drop_background(input, target, o.include_background, loss);

  const std::vector<int64_t> axes = spatial_axes(input.dim(), o.batch);
  const Overlap<T, D> v = overlap(input, target, axes, 1, o.soft_label);
  const Var<T, D> denominator = add(add(mul(v.tp, T(2)), v.fp), v.fn);  // 2 (tp + fp/2 + fn/2)
  const Var<T, D> ground_o = sum(target, axes);
  Var<T, D> w;
  switch (o.w_type) {
    case DiceWeight::simple: w = rdiv(ground_o, T(1)); break;
    case DiceWeight::square: w = rdiv(mul(ground_o, ground_o), T(1)); break;
    default: w = Var<T, D>(ones_like(ground_o.value()));
  }
  // Classes absent from the target (infinite weight) take the largest finite weight instead: over
  // everything with batch, over the classes of each sample otherwise.
  const Tensor<bool> infs = ops::map<bool>(w.value(), [](T x) { return std::isinf(x); }, "isinf");
  const Var<T, D> zero(zeros<T, D>(Shape{}));
  w = where(infs, zero, w);
  const Var<T, D> largest = o.batch ? amax(w) : amax(w, {1}, true);
  w = add(w, mul(Var<T, D>(ops::cast<T>(infs)), largest));

  const int64_t final_dim = o.batch ? 0 : 1;
  const Var<T, D> numer = add(mul(sum(mul(v.tp, w), {final_dim}, true), T(2)), static_cast<T>(o.smooth_nr));
  const Var<T, D> denom = add(sum(mul(denominator, w), {final_dim}, true), static_cast<T>(o.smooth_dr));
  return reduce_per_class(rsub(div(numer, denom), T(1)), o.reduction, input.dim());
}
}  // namespace seg_detail

// 1 - 2 sum_c w_c tp_c / sum_c w_c (2 tp_c + fp_c + fn_c) with smoothing, w_c from the target volume.
template <Real T, Device D>
Var<T, D> generalized_dice_loss(const Var<T, D>& input, const std::type_identity_t<Var<T, D>>& target,
                                const GeneralizedDiceLossOptions<T, D>& options = {}) {
  constexpr const char* loss = "generalized_dice_loss";
  VOXNN_CHECK(input.defined() && target.defined(), loss, ": input and target must be defined");
  seg_detail::check_segmentation_input(input.shape(), loss);
  return seg_detail::generalized_dice_on_target(input, target, options, options.to_onehot_y, loss);
}

template <Real T, Device D>
Var<T, D> generalized_dice_loss(const Var<T, D>& input, const Tensor<int64_t>& target,
                                const GeneralizedDiceLossOptions<T, D>& options = {}) {
  constexpr const char* loss = "generalized_dice_loss";
  VOXNN_CHECK(input.defined(), loss, ": input must be defined");
  seg_detail::check_segmentation_input(input.shape(), loss);
  return seg_detail::generalized_dice_on_target(
      input, seg_detail::encode_index_target<T, D>(target, input.shape(), loss), options, false, loss);
}

// ---- Dice + cross-entropy -------------------------------------------------------------------------

template <Real T, Device D = Cpu>
struct DiceCELossOptions {
  bool include_background = true;  // Dice only; the cross-entropy always sees every class
  bool to_onehot_y = false;        // Dice only
  bool sigmoid = false;            // Dice only: the cross-entropy takes the logits
  bool softmax = false;            // Dice only
  std::function<Var<T, D>(const Var<T, D>&)> other_act = {};  // Dice only
  bool squared_pred = false;
  bool jaccard = false;
  Reduction reduction = Reduction::mean;  // mean or sum (none is not supported, as in MONAI)
  double smooth_nr = 1e-5;
  double smooth_dr = 1e-5;
  bool batch = false;
  Var<T, D> weight = {};  // [C]: cross-entropy class weight (BCE pos_weight for one channel) and Dice weight
  double lambda_dice = 1.0;
  double lambda_ce = 1.0;
  double label_smoothing = 0.0;  // MONAI@d388d1c: cross-entropy only
};

namespace seg_detail {
template <Real T, Device D>
void check_dice_ce(const DiceCELossOptions<T, D>& o, const char* loss) {
  VOXNN_CHECK(o.reduction != Reduction::none, loss, ": reduction 'none' is not supported (use 'mean' or 'sum')");
  VOXNN_CHECK(o.lambda_dice >= 0, loss, ": lambda_dice should be no less than 0.0, got ", o.lambda_dice);
  VOXNN_CHECK(o.lambda_ce >= 0, loss, ": lambda_ce should be no less than 0.0, got ", o.lambda_ce);
}

template <Real T, Device D>
DiceLossOptions<T, D> dice_part(const DiceCELossOptions<T, D>& o) {
  Var<T, D> w = o.weight;
  if (w.defined() && !o.include_background && w.dim() == 1 && w.numel() > 0) w = slice(w, 0, 1, w.numel());
  return {.include_background = o.include_background, .to_onehot_y = o.to_onehot_y, .sigmoid = o.sigmoid,
          .softmax = o.softmax, .other_act = o.other_act, .squared_pred = o.squared_pred, .jaccard = o.jaccard,
          .reduction = o.reduction, .smooth_nr = o.smooth_nr, .smooth_dr = o.smooth_dr, .batch = o.batch,
          .weight = w};
}

template <Real T, Device D>
Var<T, D> combine(const Var<T, D>& dice, const Var<T, D>& ce, const DiceCELossOptions<T, D>& o) {
  return add(mul(dice, static_cast<T>(o.lambda_dice)), mul(ce, static_cast<T>(o.lambda_ce)));
}
}  // namespace seg_detail

namespace seg_detail {
// Cross-entropy from log-probabilities against a one-hot target standing for class indices (torch's
// class-index semantics without ignore_index: the weighted mean divides by the sum of w[target]) or
// against class probabilities (the mean divides by the number of positions). Mean or sum only.
template <Real T, Device D>
Var<T, D> cross_entropy_from_log_probs(const Var<T, D>& log_probs, const Var<T, D>& target, bool class_indices,
                                       const Var<T, D>& weight, Reduction reduction, double smoothing,
                                       const char* loss) {
  const Shape& shape = log_probs.shape();
  const int64_t classes = shape[1];
  detail::check_class_weight(weight, classes, loss);
  detail::check_label_smoothing(smoothing);
  const Var<T, D> w = weight.defined() ? detail::class_weight_view(weight, shape) : Var<T, D>();
  const auto weighted = [&](const Var<T, D>& x) { return w.defined() ? mul(x, w) : x; };
  const T s = static_cast<T>(smoothing), uniform = static_cast<T>(smoothing / static_cast<double>(classes));
  Var<T, D> total;
  Var<T, D> divisor;  // undefined: the number of positions
  if (class_indices) {
    const Var<T, D> picked = weighted(target);  // w[t] at the target's class, 0 elsewhere
    total = neg(sum(mul(picked, log_probs)));
    if (smoothing > 0) total = add(mul(total, T(1) - s), mul(neg(sum(weighted(log_probs))), uniform));
    if (w.defined()) divisor = sum(picked);
  } else {
    const Var<T, D> probs = smoothing > 0 ? add(mul(target, T(1) - s), uniform) : target;
    total = neg(sum(weighted(mul(log_probs, probs))));
  }
  if (reduction == Reduction::sum) return total;
  if (divisor.defined()) return div(total, divisor);
  return mul(total, static_cast<T>(static_cast<double>(classes) / static_cast<double>(log_probs.numel())));
}

// Dice + cross-entropy for several channels, sharing one log_softmax: the Dice part takes exp of it
// when its activation is softmax alone.
template <Real T, Device D>
Var<T, D> dice_ce_multiclass(const Var<T, D>& input, const Var<T, D>& dice_target, const Var<T, D>& ce_target,
                             bool class_indices, const DiceCELossOptions<T, D>& o, const char* loss) {
  const Var<T, D> log_probs = log_softmax(input, 1);
  const DiceLossOptions<T, D> dice_options = dice_part(o);
  const char* dice_name = "dice_ce_loss (Dice part)";
  const Var<T, D> probs = o.softmax && !o.sigmoid && !o.other_act
                              ? exp(log_probs)
                              : activate(input, o.sigmoid, o.softmax, o.other_act, dice_name);
  const Var<T, D> dice = dice_of_probabilities(probs, dice_target, dice_options, false, dice_name);
  const Var<T, D> ce =
      cross_entropy_from_log_probs(log_probs, ce_target, class_indices, o.weight, o.reduction, o.label_smoothing, loss);
  return combine(dice, ce, o);
}
}  // namespace seg_detail

// lambda_dice * dice_loss + lambda_ce * cross-entropy on the logits. The target is one-hot /
// probabilities of the input's shape (cross-entropy against probabilities), or [N, 1, spatial...]
// labels (needs to_onehot_y for the Dice part; the cross-entropy takes them as class indices). A
// single-channel input uses binary cross-entropy with logits (pos_weight = weight) instead.
template <Real T, Device D>
Var<T, D> dice_ce_loss(const Var<T, D>& input, const std::type_identity_t<Var<T, D>>& target,
                       const DiceCELossOptions<T, D>& options = {}) {
  constexpr const char* loss = "dice_ce_loss";
  VOXNN_CHECK(input.defined() && target.defined(), loss, ": input and target must be defined");
  seg_detail::check_segmentation_input(input.shape(), loss);
  seg_detail::check_dice_ce(options, loss);
  VOXNN_CHECK(input.dim() == target.dim(), loss, ": input of shape ", input.shape(), " and target of shape ",
              target.shape(), " have different numbers of dims (a target of class indices is [N, 1, spatial...])");
  const int64_t channels = input.shape()[1];
  VOXNN_CHECK(target.shape()[1] == 1 || target.shape()[1] == channels, loss, ": number of channels for target ",
              "is neither 1 (without one-hot encoding) nor the same as input, got shape ", input.shape(), " and ",
              target.shape());
  if (channels == 1) {
    VOXNN_CHECK(target.shape() == input.shape(), loss, ": target of shape ", target.shape(),
                " must match input of shape ", input.shape());
    const Var<T, D> dice = seg_detail::dice_on_target(input, target, seg_detail::dice_part(options),
                                                      options.to_onehot_y, "dice_ce_loss (Dice part)");
    return seg_detail::combine(
        dice, binary_cross_entropy_with_logits(input, target, {.pos_weight = options.weight, .reduction = options.reduction}),
        options);
  }
  // [N, 1, ...] labels: class indices for the cross-entropy (their one-hot form here), one-hot for the
  // Dice part only with to_onehot_y; otherwise class probabilities for both.
  const bool labels = target.shape()[1] == 1;
  VOXNN_CHECK(labels || !options.to_onehot_y, loss, ": to_onehot_y needs labels of shape [N, 1, spatial...], got a ",
              "target of shape ", target.shape());
  const Var<T, D> onehot = labels ? seg_detail::one_hot_float_labels(target, channels, loss) : target;
  return seg_detail::dice_ce_multiclass(input, labels && options.to_onehot_y ? onehot : target, onehot, labels,
                                        options, loss);
}

// Class indices [N, 1, spatial...] or [N, spatial...]: one-hot for the Dice part, indices for the
// cross-entropy (a 0/1 mask for a single-channel input).
template <Real T, Device D>
Var<T, D> dice_ce_loss(const Var<T, D>& input, const Tensor<int64_t>& target, const DiceCELossOptions<T, D>& options = {}) {
  constexpr const char* loss = "dice_ce_loss";
  VOXNN_CHECK(input.defined(), loss, ": input must be defined");
  seg_detail::check_segmentation_input(input.shape(), loss);
  seg_detail::check_dice_ce(options, loss);
  const Var<T, D> encoded = seg_detail::encode_index_target<T, D>(target, input.shape(), loss);
  if (input.shape()[1] == 1) {
    DiceLossOptions<T, D> dice_options = seg_detail::dice_part(options);
    dice_options.to_onehot_y = false;
    const Var<T, D> dice = seg_detail::dice_on_target(input, encoded, dice_options, false, "dice_ce_loss (Dice part)");
    return seg_detail::combine(
        dice, binary_cross_entropy_with_logits(input, encoded, {.pos_weight = options.weight, .reduction = options.reduction}),
        options);
  }
  return seg_detail::dice_ce_multiclass(input, encoded, encoded, true, options, loss);
}

}  // namespace voxnn::losses
