#pragma once
// Dice overlap of segmentations, as MONAI's DiceMetric / compute_dice (monai/metrics/meandice.py,
// MONAI 1.3.2; DiceHelper's per-channel rule is the same at d388d1c):
//
//   Tensor<double> d = metrics::dice(pred, target);                      // (N, C) scores
//   Tensor<double> per_class = metrics::dice_per_class(d);               // (C): MONAI's "mean_batch"
//   Tensor<double> e = metrics::dice(pred_labels, target_labels, {.num_classes = 4});  // label maps
//
// Inputs are (N, C, spatial...) one-hot tensors or (N, 1, spatial...) class-index maps, each on its own
// (a one-hot prediction may meet a label-map target). Per sample b and class c:
//   pred_c = pred[b, c] != 0 (one-hot) or pred[b, 0] == c (label map);
//   y_c    = target[b, c] as a number (one-hot) or target[b, 0] == c (label map);
//   dice   = 2 sum(y_c where pred_c) / (sum(y_c) + count(pred_c))      when sum(y_c) > 0;
//   otherwise NaN with ignore_empty, else 1 when the prediction is empty too and 0 when it is not.
// The number of classes is num_classes, or pred's channel count when it is not given. A single class
// (C == 1: both inputs single-channel) is scored as class 1, i.e. where the values equal 1 (MONAI's rule).
// include_background = false leaves out class 0. Evaluation only: no gradients.
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/metrics/reduction.hpp"

namespace voxnn::metrics {

struct DiceMetricOptions {
  bool include_background = true;  // score class 0 too
  bool ignore_empty = true;        // NaN where the ground truth is empty (else 1 or 0, see above)
  std::optional<int64_t> num_classes{};  // needed when pred is a label map; default pred.size(1)
};

namespace detail {

template <Element T>
double as_double(T v) {
  if constexpr (std::is_same_v<T, bool>) return v ? 1.0 : 0.0;
  else return static_cast<double>(v);
}

// (N, C, spatial...) with at least one spatial dim, checked against the other operand.
inline void check_segmentation_pair(const Shape& pred, const Shape& target, const char* op) {
  VOXNN_CHECK(pred.size() >= 3, op, ": pred of shape ", pred,
              " must be (N, C, spatial...) with at least one spatial dim");
  VOXNN_CHECK(target.size() == pred.size() && target[0] == pred[0], op, ": target of shape ", target,
              " does not match pred of shape ", pred, " (same batch and spatial sizes expected)");
  for (int d = 2; d < pred.size(); ++d)
    VOXNN_CHECK(target[d] == pred[d], op, ": target of shape ", target, " and pred of shape ", pred,
                " differ in spatial size");
}

}  // namespace detail

// MONAI compute_dice: (N, C') scores, C' = classes scored (C, or C - 1 without background).
template <Element P, Element Y>
Tensor<double> dice(const Tensor<P>& pred, const Tensor<Y>& target, const DiceMetricOptions& options = {}) {
  VOXNN_CHECK(pred.defined() && target.defined(), "dice: pred and target must be defined");
  detail::check_segmentation_pair(pred.shape(), target.shape(), "dice");
  const int64_t n = pred.size(0);
  const int64_t classes = options.num_classes ? *options.num_classes : pred.size(1);
  VOXNN_CHECK(classes >= 1, "dice: num_classes must be at least 1, got ", classes);
  const bool pred_labels = pred.size(1) == 1, target_labels = target.size(1) == 1;
  VOXNN_CHECK(pred_labels || pred.size(1) == classes, "dice: pred of shape ", pred.shape(), " has ", pred.size(1),
              " channels; expected 1 (a label map) or num_classes = ", classes);
  VOXNN_CHECK(target_labels || target.size(1) == classes,
              "dice: target of shape ", target.shape(), " has ", target.size(1),
              " channels; expected 1 (a label map) or ", classes, " (one-hot)");
  std::vector<int64_t> scored;
  if (classes == 1) {
    scored.push_back(1);
  } else {
    for (int64_t c = options.include_background ? 0 : 1; c < classes; ++c) scored.push_back(c);
  }

  const Tensor<P> p = pred.contiguous();
  const Tensor<Y> y = target.contiguous();
  int64_t voxels = 1;
  for (int d = 2; d < pred.dim(); ++d) voxels *= pred.size(d);
  const int64_t k = static_cast<int64_t>(scored.size());
  Tensor<double> out(Shape{n, k});
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t j = 0; j < k; ++j) {
      const int64_t c = scored[static_cast<std::size_t>(j)];
      const P* pp = p.data() + (b * p.size(1) + (pred_labels ? 0 : c)) * voxels;
      const Y* yy = y.data() + (b * y.size(1) + (target_labels ? 0 : c)) * voxels;
      const double cd = static_cast<double>(c);
      double y_sum = 0, pred_sum = 0, both = 0;
      for (int64_t i = 0; i < voxels; ++i) {
        const bool in_pred = pred_labels ? detail::as_double(pp[i]) == cd : detail::as_double(pp[i]) != 0.0;
        const double yv = target_labels ? (detail::as_double(yy[i]) == cd ? 1.0 : 0.0) : detail::as_double(yy[i]);
        y_sum += yv;
        pred_sum += in_pred;
        if (in_pred) both += yv;
      }
      double score;
      if (y_sum > 0) score = 2.0 * both / (y_sum + pred_sum);
      else if (options.ignore_empty) score = std::numeric_limits<double>::quiet_NaN();
      else score = y_sum + pred_sum <= 0 ? 1.0 : 0.0;
      out.data()[b * k + j] = score;
    }
  }
  return out;
}

// Dice per class over the batch, NaN scores left out (MONAI's "mean_batch"; 0 for a class without any
// score). scores: (N, C) as dice returns.
inline Tensor<double> dice_per_class(const Tensor<double>& scores) {
  return reduce_metric(scores, MetricReduction::mean_batch).value;
}

// Dice of two class-index maps without a channel dim, (N, spatial...): dice on their (N, 1, spatial...)
// views, for num_classes classes.
template <Element P, Element Y>
Tensor<double> dice_labels(const Tensor<P>& pred, const Tensor<Y>& target, int64_t num_classes,
                           DiceMetricOptions options = {}) {
  VOXNN_CHECK(pred.defined() && target.defined() && pred.dim() >= 2, "dice_labels: pred of shape ",
              pred.defined() ? pred.shape() : Shape{}, " is not an (N, spatial...) class-index map");
  VOXNN_CHECK(pred.shape() == target.shape(), "dice_labels: pred of shape ", pred.shape(), " and target of shape ",
              target.shape(), " differ");
  options.num_classes = num_classes;
  return dice(pred.unsqueeze(1), target.unsqueeze(1), options);
}

// One-hot encoding of a class-index map: (N, 1, spatial...) -> (N, C, spatial...) with 1 where the
// label equals the channel's class. Labels outside [0, num_classes) are an error.
template <Element T = float, Element L>
Tensor<T> one_hot(const Tensor<L>& labels, int64_t num_classes) {
  VOXNN_CHECK(labels.defined() && labels.dim() >= 2 && labels.size(1) == 1, "one_hot: labels of shape ",
              labels.defined() ? labels.shape() : Shape{}, " are not (N, 1, spatial...); unsqueeze(1) a (N, spatial...) map");
  VOXNN_CHECK(num_classes >= 1, "one_hot: num_classes must be at least 1, got ", num_classes);
  const Tensor<L> l = labels.contiguous();
  Shape s = l.shape();
  s[1] = num_classes;
  Tensor<T> out = zeros<T>(s);
  const int64_t n = s[0], voxels = l.numel() / std::max<int64_t>(n, 1);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t i = 0; i < voxels; ++i) {
      const double v = detail::as_double(l.data()[b * voxels + i]);
      // range first: casting NaN or a huge value to an integer is undefined
      const bool index = v >= 0 && v < static_cast<double>(num_classes) && v == std::floor(v);
      VOXNN_CHECK(index, "one_hot: label ", v, " is not a class index in [0, ", num_classes, ")");
      const auto c = static_cast<int64_t>(v);
      out.data()[(b * num_classes + c) * voxels + i] = T(1);
    }
  }
  return out;
}

}  // namespace voxnn::metrics
