#pragma once
// Folding a (batch, class) table of metric scores, as MONAI's do_metric_reduction (monai/metrics/utils.py,
// MONAI 1.3.2, unchanged at d388d1c): NaN entries (an empty ground truth, a missing surface) are left
// out of every mean and sum, and a mean over no value at all is 0, not NaN, as MONAI has it.
//
//   Tensor<double> f = metrics::dice(pred, target);                      // (N, C), NaN where empty
//   auto [per_class, counted] = metrics::reduce_metric(f, metrics::MetricReduction::mean_batch);
//
// Evaluation only: metrics read Tensors and record no gradients.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "voxnn/core/error.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::metrics {

enum class MetricReduction { none, mean, sum, mean_batch, sum_batch, mean_channel, sum_channel };

// MONAI's spelling: "none", "mean", "sum", "mean_batch", "sum_batch", "mean_channel", "sum_channel".
inline MetricReduction metric_reduction_from_string(std::string_view name) {
  if (name == "none") return MetricReduction::none;
  if (name == "mean") return MetricReduction::mean;
  if (name == "sum") return MetricReduction::sum;
  if (name == "mean_batch") return MetricReduction::mean_batch;
  if (name == "sum_batch") return MetricReduction::sum_batch;
  if (name == "mean_channel") return MetricReduction::mean_channel;
  VOXNN_CHECK(name == "sum_channel", "metric reduction: '", name,
              "' is not one of none, mean, sum, mean_batch, sum_batch, mean_channel, sum_channel");
  return MetricReduction::sum_channel;
}

// The reduced scores and, in the same shape, how many non-NaN scores went into each.
struct ReducedMetric {
  Tensor<double> value;
  Tensor<double> not_nans;
};

// f: (N, C) scores (as dice, hausdorff_distance and average_surface_distance return). Shapes of the
// result: none (N, C); mean and sum a scalar (shape []); *_batch (C); *_channel (N).
// "mean" averages each sample over its classes first, then over the samples that have any score;
// not_nans is then the number of such samples.
inline ReducedMetric reduce_metric(const Tensor<double>& f, MetricReduction reduction = MetricReduction::mean) {
  VOXNN_CHECK(f.defined() && f.dim() == 2, "reduce_metric: scores of shape ", f.shape(),
              " are not a (batch, class) table");
  const int64_t n = f.size(0), c = f.size(1);
  const Tensor<double> x = f.contiguous();
  const double* v = x.data();
  auto ok = [&](int64_t b, int64_t k) { return !std::isnan(v[b * c + k]); };
  auto at = [&](int64_t b, int64_t k) { return ok(b, k) ? v[b * c + k] : 0.0; };

  if (reduction == MetricReduction::none) {
    Tensor<double> counted(Shape{n, c});
    for (int64_t i = 0; i < n * c; ++i) counted.data()[i] = std::isnan(v[i]) ? 0.0 : 1.0;
    return {x.clone(), counted};
  }
  if (reduction == MetricReduction::mean || reduction == MetricReduction::sum) {
    Tensor<double> value(Shape{}), counted(Shape{});
    double total = 0, count = 0;
    if (reduction == MetricReduction::sum) {
      for (int64_t b = 0; b < n; ++b)
        for (int64_t k = 0; k < c; ++k) total += at(b, k), count += ok(b, k);
    } else {
      for (int64_t b = 0; b < n; ++b) {
        double s = 0, m = 0;
        for (int64_t k = 0; k < c; ++k) s += at(b, k), m += ok(b, k);
        if (m > 0) total += s / m, count += 1;
      }
      total = count > 0 ? total / count : 0.0;
    }
    value.data()[0] = total;
    counted.data()[0] = count;
    return {value, counted};
  }
  const bool over_batch = reduction == MetricReduction::mean_batch || reduction == MetricReduction::sum_batch;
  const bool average = reduction == MetricReduction::mean_batch || reduction == MetricReduction::mean_channel;
  const int64_t outer = over_batch ? c : n, inner = over_batch ? n : c;
  Tensor<double> value(Shape{outer}), counted(Shape{outer});
  for (int64_t o = 0; o < outer; ++o) {
    double s = 0, m = 0;
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t b = over_batch ? i : o, k = over_batch ? o : i;
      s += at(b, k), m += ok(b, k);
    }
    value.data()[o] = average ? (m > 0 ? s / m : 0.0) : s;
    counted.data()[o] = m;
  }
  return {value, counted};
}

}  // namespace voxnn::metrics
