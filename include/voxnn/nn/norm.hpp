#pragma once
// Normalisation modules as torch.nn (PyTorch 1.13): BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d,
// GroupNorm and LayerNorm.
//
// Parameters and buffers carry PyTorch's names, so state dicts load by name:
//   weight, bias                                  when affine (elementwise_affine for LayerNorm)
//   running_mean, running_var, num_batches_tracked when track_running_stats (batch and instance norm)
// num_batches_tracked is an int64 scalar in PyTorch. Buffers here are Tensor<T, D>, so it is kept as a
// 0-dim Tensor<T, D> holding the count: the same name and shape ([]) as PyTorch's, so an exported
// checkpoint's I64 scalar converts on load (the safetensors reader converts integer dtypes to T) and
// load_state_dict matches it, and a saved state dict has it under the same key. A float count is
// exact up to 2^24 (16.7 million) batches, a double one up to 2^53.
//
// BatchNorm momentum is optional: std::nullopt gives PyTorch's cumulative moving average (the factor
// is 1 / num_batches_tracked). In training mode with track_running_stats, each forward increments
// num_batches_tracked and updates the running statistics (unbiased variance); in evaluation mode the
// running statistics normalise. Without track_running_stats the buffers are absent and the batch's
// statistics are used in both modes.
#include <optional>
#include <string>
#include <vector>

#include "voxnn/autograd/functions/norm.hpp"
#include "voxnn/nn/module.hpp"

namespace voxnn::nn {

struct BatchNormOptions {
  int64_t num_features = 0;
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;  // nullopt: cumulative moving average
  bool affine = true;
  bool track_running_stats = true;
};

struct InstanceNormOptions {
  int64_t num_features = 0;
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = false;
  bool track_running_stats = false;
};

struct GroupNormOptions {
  int64_t num_groups = 0;
  int64_t num_channels = 0;
  double eps = 1e-5;
  bool affine = true;
};

struct LayerNormOptions {
  std::vector<int64_t> normalized_shape;
  double eps = 1e-5;
  bool elementwise_affine = true;
};

namespace detail {

// What batch and instance norm share (PyTorch's _NormBase): per-channel weight and bias, running
// statistics and the batch counter.
template <Real T, Device D, class Opts>
class NormBase : public ModuleWithOptions<T, D, Opts> {
 public:
  Var<T, D> weight, bias;
  Tensor<T, D> running_mean, running_var, num_batches_tracked;  // undefined without track_running_stats

  // running_mean 0, running_var 1, num_batches_tracked 0.
  void reset_running_stats() {
    if (!this->options.track_running_stats) return;
    running_mean.zero_();
    running_var.fill_(T(1));
    num_batches_tracked.zero_();
  }
  // Also weight 1 and bias 0.
  void reset_parameters() {
    reset_running_stats();
    if (!this->options.affine) return;
    weight.mutable_value().fill_(T(1));
    bias.mutable_value().fill_(T(0));
  }

 protected:
  NormBase(Module<T, D>* parent, std::string name, const Opts& o)
      : ModuleWithOptions<T, D, Opts>(parent, std::move(name), o) {}

  void register_state() {
    const Opts& o = this->options;
    VOXNN_CHECK(o.num_features > 0, this->type_name(), ": num_features must be positive, got ", o.num_features);
    if (o.affine) {
      this->register_parameter("weight", &weight, ones<T, D>({o.num_features}));
      this->register_parameter("bias", &bias, zeros<T, D>({o.num_features}));
    }
    if (o.track_running_stats) {
      this->register_buffer("running_mean", &running_mean, zeros<T, D>({o.num_features}));
      this->register_buffer("running_var", &running_var, ones<T, D>({o.num_features}));
      this->register_buffer("num_batches_tracked", &num_batches_tracked, zeros<T, D>(Shape{}));
    }
  }

  // The channels of x (dim `feature_dim`) must equal num_features.
  void check_channels(const Var<T, D>& x, int feature_dim) const {
    VOXNN_CHECK(x.size(feature_dim) == this->options.num_features, this->type_name(), ": input ", x.shape(), " has ",
                x.size(feature_dim), " channels; expected num_features = ", this->options.num_features);
  }
};

inline const char* spatial_layout(int dims, bool batched) {
  static const char* const batched_names[] = {"(N, C, L)", "(N, C, H, W)", "(N, C, D, H, W)"};
  static const char* const unbatched_names[] = {"(C, L)", "(C, H, W)", "(C, D, H, W)"};
  return (batched ? batched_names : unbatched_names)[dims - 1];
}

}  // namespace detail

// BatchNorm1d: (N, C) or (N, C, L); BatchNorm2d: (N, C, H, W); BatchNorm3d: (N, C, D, H, W).
template <int Dim, Real T, Device D = Cpu>
class BatchNormNd : public detail::NormBase<T, D, BatchNormOptions> {
  static_assert(Dim >= 1 && Dim <= 3, "BatchNormNd: 1, 2 or 3 spatial dims");
  using Base = detail::NormBase<T, D, BatchNormOptions>;

 public:
  using Options = BatchNormOptions;
  explicit BatchNormNd(const Options& o) : BatchNormNd(nullptr, "", o) {}
  BatchNormNd(Module<T, D>* parent, std::string name, const Options& o) : Base(parent, std::move(name), o) {
    this->register_state();
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    const Options& o = this->options;
    if constexpr (Dim == 1)
      VOXNN_CHECK(x.dim() == 2 || x.dim() == 3, type_name(), ": expected a 2-dim (N, C) or 3-dim (N, C, L) input, got ",
                  x.dim(), " dims ", x.shape());
    else
      VOXNN_CHECK(x.dim() == Dim + 2, type_name(), ": expected a ", Dim + 2, "-dim ", detail::spatial_layout(Dim, true),
                  " input, got ", x.dim(), " dims ", x.shape());
    this->check_channels(x, 1);
    double factor = o.momentum.value_or(0.0);
    const bool training = this->is_training();
    if (training && o.track_running_stats) {
      T* count = this->num_batches_tracked.data();
      *count += T(1);
      if (!o.momentum) factor = 1.0 / static_cast<double>(*count);
    }
    // batch statistics in training, and always without running statistics
    return batch_norm(x, this->running_mean, this->running_var, this->weight, this->bias,
                      training || !o.track_running_stats, factor, o.eps);
  }
  std::string type_name() const override { return "BatchNorm" + std::to_string(Dim) + "d"; }
};
template <Real T, Device D = Cpu>
using BatchNorm1d = BatchNormNd<1, T, D>;
template <Real T, Device D = Cpu>
using BatchNorm2d = BatchNormNd<2, T, D>;
template <Real T, Device D = Cpu>
using BatchNorm3d = BatchNormNd<3, T, D>;

// InstanceNorm1d: (N, C, L) or unbatched (C, L); 2d: (N, C, H, W) or (C, H, W); 3d: (N, C, D, H, W)
// or (C, D, H, W). Defaults as PyTorch: affine = false, track_running_stats = false. With
// track_running_stats, training mode uses the instance statistics and updates the running ones
// (averaged over the batch); evaluation mode uses the running ones. As in PyTorch, an input whose
// channels differ from num_features is accepted when neither weights nor running statistics need
// them to match.
template <int Dim, Real T, Device D = Cpu>
class InstanceNormNd : public detail::NormBase<T, D, InstanceNormOptions> {
  static_assert(Dim >= 1 && Dim <= 3, "InstanceNormNd: 1, 2 or 3 spatial dims");
  using Base = detail::NormBase<T, D, InstanceNormOptions>;

 public:
  using Options = InstanceNormOptions;
  explicit InstanceNormNd(const Options& o) : InstanceNormNd(nullptr, "", o) {}
  InstanceNormNd(Module<T, D>* parent, std::string name, const Options& o) : Base(parent, std::move(name), o) {
    this->register_state();
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    const Options& o = this->options;
    const bool batched = x.dim() == Dim + 2;
    VOXNN_CHECK(batched || x.dim() == Dim + 1, type_name(), ": expected a ", Dim + 1, "-dim ",
                detail::spatial_layout(Dim, false), " or ", Dim + 2, "-dim ", detail::spatial_layout(Dim, true),
                " input, got ", x.dim(), " dims ", x.shape());
    if (o.affine || o.track_running_stats) this->check_channels(x, batched ? 1 : 0);
    const Var<T, D> input = batched ? x : unsqueeze(x, 0);
    Var<T, D> out = instance_norm(input, this->running_mean, this->running_var, this->weight, this->bias,
                                  this->is_training() || !o.track_running_stats, o.momentum, o.eps);
    return batched ? out : squeeze(out, 0);
  }
  std::string type_name() const override { return "InstanceNorm" + std::to_string(Dim) + "d"; }
};
template <Real T, Device D = Cpu>
using InstanceNorm1d = InstanceNormNd<1, T, D>;
template <Real T, Device D = Cpu>
using InstanceNorm2d = InstanceNormNd<2, T, D>;
template <Real T, Device D = Cpu>
using InstanceNorm3d = InstanceNormNd<3, T, D>;

// GroupNorm: (N, C, *) with C = num_channels, split into num_groups groups of consecutive channels.
template <Real T, Device D = Cpu>
class GroupNorm : public ModuleWithOptions<T, D, GroupNormOptions> {
  using Base = ModuleWithOptions<T, D, GroupNormOptions>;

 public:
  using Options = GroupNormOptions;
  Var<T, D> weight, bias;

  explicit GroupNorm(const Options& o) : GroupNorm(nullptr, "", o) {}
  GroupNorm(Module<T, D>* parent, std::string name, const Options& o) : Base(parent, std::move(name), o) {
    VOXNN_CHECK(o.num_groups > 0 && o.num_channels > 0, "GroupNorm: num_groups and num_channels must be positive, got ",
                o.num_groups, " and ", o.num_channels);
    VOXNN_CHECK(o.num_channels % o.num_groups == 0, "GroupNorm: num_channels (", o.num_channels,
                ") must be divisible by num_groups (", o.num_groups, ")");
    if (o.affine) {
      this->register_parameter("weight", &weight, ones<T, D>({o.num_channels}));
      this->register_parameter("bias", &bias, zeros<T, D>({o.num_channels}));
    }
  }
  void reset_parameters() {
    if (!this->options.affine) return;
    weight.mutable_value().fill_(T(1));
    bias.mutable_value().fill_(T(0));
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    const Options& o = this->options;
    VOXNN_CHECK(x.dim() >= 2, "GroupNorm: expected an (N, C, *) input with at least 2 dims, got ", x.dim(), " dims ",
                x.shape());
    VOXNN_CHECK(!o.affine || x.size(1) == o.num_channels, "GroupNorm: input ", x.shape(), " has ", x.size(1),
                " channels; expected num_channels = ", o.num_channels);
    return group_norm(x, o.num_groups, weight, bias, o.eps);
  }
  std::string type_name() const override { return "GroupNorm"; }
};

// LayerNorm: normalises over the trailing dims normalized_shape; weight and bias of that shape.
template <Real T, Device D = Cpu>
class LayerNorm : public ModuleWithOptions<T, D, LayerNormOptions> {
  using Base = ModuleWithOptions<T, D, LayerNormOptions>;

 public:
  using Options = LayerNormOptions;
  Var<T, D> weight, bias;

  explicit LayerNorm(const Options& o) : LayerNorm(nullptr, "", o) {}
  LayerNorm(Module<T, D>* parent, std::string name, const Options& o) : Base(parent, std::move(name), o) {
    VOXNN_CHECK(!o.normalized_shape.empty(), "LayerNorm: normalized_shape must have at least one dim");
    for (int64_t d : o.normalized_shape)
      VOXNN_CHECK(d >= 0, "LayerNorm: normalized_shape ", Shape(o.normalized_shape), " has a negative size");
    if (o.elementwise_affine) {
      this->register_parameter("weight", &weight, ones<T, D>(Shape(o.normalized_shape)));
      this->register_parameter("bias", &bias, zeros<T, D>(Shape(o.normalized_shape)));
    }
  }
  void reset_parameters() {
    if (!this->options.elementwise_affine) return;
    weight.mutable_value().fill_(T(1));
    bias.mutable_value().fill_(T(0));
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    return layer_norm(x, this->options.normalized_shape, weight, bias, this->options.eps);
  }
  std::string type_name() const override { return "LayerNorm"; }
};

}  // namespace voxnn::nn
