#pragma once
// The 2D-slice set network for brain age (Gupta et al., "Improved brain age estimation with slice-based
// set networks", ISBI 2021): the slices of a (B, 1, H, W, D) volume along slice_dim go through one
// shared 2D CNN, the slice encodings are pooled as a set (mean, max, or pooled attention with one
// learned query), and a small head regresses the age. Compatible with umgupta/2d-slice-set-networks@4c361a9
// src/arch/ukbb/brain_age_slice_set.py:MRI2DSlice (with the encoder "encoder1" of src/arch/slice_cnn_utils.py):
// same keywords, defaults, state_dict names and outputs.
//
// Names (E = attn_num_heads * attn_dim):
//   encoder_2d.*            SliceEncoder2d (slice_encoder.hpp): encoder_2d.{0-4}.0, post_proc_conv.0,
//                           position_encoder.{position_encoding, ln.*} (use_position_encoding),
//                           post_position_encoding.1 (the 1x1 conv 64 -> E)
//   pooled_attention.*      nn::PooledAttention (S, fc_k, fc_v, ln0, fc_o; agg_fn "attention"), or the
//                           parameter-free nn::SetMeanPool / nn::SetMaxPool
//   attn_post               Linear(E, 64)
//   regressor               Sequential(ReLU, Linear(64, 1))
// predict(x) / operator() return {y_pred (B, 1), attention ((heads * B), 1, S), undefined for mean / max},
// as the reference's forward.
//
// Slicing: the first num_slices (91, 109, 91 for slice_dim 1, 2, 3) slices along the axis are used, as the
// reference's collation indices do; with in_channel = k each slice carries its k - 1 following
// neighbours as channels, giving num_slices - k + 1 slices. The encoder must reduce each slice to 1 x 1,
// as the reference's does (for 2 mm MNI volumes 91 x 109 x 91 with 5 blocks): a clear error otherwise.
//
// Differences, deliberate:
// - attn_num_heads and attn_dim, required in the reference, default to the repository's configuration
//   (1 and 32); encoder_2d defaults to "encoder1" (the reference's default None fails in the reference).
//   The ResNet encoders (torchvision) are not implemented: encoder_2d "resnet*" is an error.
// - voxnn options the reference hard-codes: encoder_channels (the 2D blocks; fewer and narrower blocks keep
//   the same names), num_slices (0: the reference's count), and seed (the initialisation's
//   generator; without one, default_generator() seeds it, so manual_seed() decides).
// - use_position_encoding with in_channel > 1 works here; the reference's forward fails for it (it splits
//   its rows by 91).
// - initialization must be "custom" or "default" (the reference treats any other string as "custom").
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/autograd/functions/slicing.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/models/slice_encoder.hpp"
#include "voxnn/nn/activation.hpp"
#include "voxnn/nn/container.hpp"
#include "voxnn/nn/init.hpp"
#include "voxnn/nn/linear.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/set_pooling.hpp"

namespace voxnn::models {

struct SliceSetNetOptions {
  int64_t attn_num_heads = 1;
  int64_t attn_dim = 32;
  bool attn_drop = false;              // Dropout(0.5) in the encoder before its last conv
  std::string agg_fn = "attention";    // "mean", "max" or "attention"
  int64_t in_channel = 1;              // consecutive slices stacked as channels
  int64_t slice_dim = 1;               // 1, 2, 3: H, W, D of the (B, 1, H, W, D) input
  bool use_position_encoding = false;
  std::string encoder_2d = "encoder1";
  std::string resnet_module = "resnet18";  // unused, as in the reference
  bool load_pretrained_encoder = false;    // only for the ResNet encoders
  std::string initialization = "custom";   // "custom" or "default"
  // voxnn options
  std::vector<int64_t> encoder_channels = {32, 64, 128, 256, 256};
  int64_t num_slices = 0;  // slices used per volume; 0: the reference's 91, 109, 91 for slice_dim 1, 2, 3
  std::optional<uint64_t> seed{};  // the initialisation's generator (none: seeded by manual_seed's)
};

template <Real T, Device D = Cpu>
struct SliceSetNetOutput {
  Var<T, D> y_pred;     // (B, 1)
  Var<T, D> attention;  // (heads * B, 1, S), head-major rows; undefined for mean and max
};

template <Real T, Device D = Cpu>
class SliceSetNet : public nn::ModuleWithOptions<T, D, SliceSetNetOptions> {
  using Base = nn::ModuleWithOptions<T, D, SliceSetNetOptions>;

 public:
  using Options = SliceSetNetOptions;
  using Output = SliceSetNetOutput<T, D>;

  explicit SliceSetNet(const Options& o = {}) : SliceSetNet(nullptr, "", o) {}
  SliceSetNet(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : Base(parent, std::move(name), checked(o)),
        encoder_2d(this, "encoder_2d",
                   {.out_size = embed_dim(o),
                    .slice_dim = o.slice_dim,
                    .use_position_encoding = o.use_position_encoding,
                    .in_channel = o.in_channel,
                    .dropout = o.attn_drop,
                    .encoder_channels = o.encoder_channels,
                    .post_channels = 64,
                    .num_slices = set_size(o)}),
        pooled_attention(make_aggregation(this, o)),
        attn_post(this, "attn_post", {.in_features = embed_dim(o), .out_features = 64}),
        regressor(this, "regressor") {
    regressor.template emplace_back<nn::ReLU<T, D>>();
    regressor.template emplace_back<nn::Linear<T, D>>(nn::LinearOptions{.in_features = 64, .out_features = 1});
    Generator gen = generator_from(o.seed);
    reset_parameters(gen);
  }

  // The reference's init_weights: "custom" draws every Conv2d kaiming_normal_ (fan_out, relu) with zero
  // bias and every Linear N(0, 0.01) with zero bias, except the regressor's, whose bias is 62.68 (near the
  // mean age); "default" keeps PyTorch's default init but for that bias. Everything is drawn from gen.
  void reset_parameters(Generator& gen) {
    const bool custom = this->options.initialization == "custom";
    for (auto& [name, m] : this->named_modules()) {
      const bool in_regressor = name.find("regressor") != std::string::npos;
      if (auto* conv = dynamic_cast<nn::Conv2d<T, D>*>(m)) {
        if (custom) {
          nn::init::kaiming_normal_(conv->weight.mutable_value(), {.mode = "fan_out", .nonlinearity = "relu"}, gen);
          nn::init::zeros_(conv->bias.mutable_value());
        } else {
          nn::init::default_weight_(conv->weight.mutable_value(), gen);
          nn::init::default_bias_(conv->bias.mutable_value(), conv->weight.shape(), gen);
        }
      } else if (auto* lin = dynamic_cast<nn::Linear<T, D>*>(m)) {
        if (custom && !in_regressor) {
          nn::init::normal_(lin->weight.mutable_value(), 0.0, 0.01, gen);
          nn::init::zeros_(lin->bias.mutable_value());
        } else {
          nn::init::default_weight_(lin->weight.mutable_value(), gen);
          nn::init::default_bias_(lin->bias.mutable_value(), lin->weight.shape(), gen);
        }
        if (in_regressor) nn::init::constant_(lin->bias.mutable_value(), 62.68);
      } else if (auto* attn = dynamic_cast<nn::PooledAttention<T, D>*>(m)) {
        nn::init::xavier_uniform_(attn->S.mutable_value(), 1.0, gen);
      } else if (auto* pe = dynamic_cast<SlicePositionEncoding<T, D>*>(m)) {
        pe->reset_parameters(gen);
      }
    }
  }

  // x (B, 1, H, W, D) -> {y_pred (B, 1), attention}.
  Output predict(const Var<T, D>& x) {
    auto [embedding, attention] = encode(x);
    return {regressor(attn_post(embedding)), attention};
  }
  Output operator()(const Var<T, D>& x) { return predict(x); }
  // y_pred alone (for containers and generic training loops).
  Var<T, D> forward(const Var<T, D>& x) override { return predict(x).y_pred; }
  // The attention weights ((heads * B), 1, S), as the reference's get_attention (undefined for mean / max).
  Var<T, D> get_attention(const Var<T, D>& x) { return encode(x).second; }

  // The pooled slice embedding (B, E) and the attention weights.
  std::pair<Var<T, D>, Var<T, D>> encode(const Var<T, D>& x) {
    const Options& o = this->options;
    const int64_t n = volume_slices(o);
    VOXNN_CHECK(x.dim() == 5 && x.size(1) == 1, type_name(), ": input ", x.shape(),
                " must be (B, 1, H, W, D): one channel, the volume's slices are the set");
    const int dim = static_cast<int>(o.slice_dim) + 1;
    VOXNN_CHECK(x.size(dim) >= n, type_name(), ": input ", x.shape(), " has ", x.size(dim), " slices along slice_dim ",
                o.slice_dim, "; the model uses the first ", n, " (num_slices)");
    const int64_t b = x.size(0);
    const Var<T, D> used = x.size(dim) == n ? x : narrow(x, dim, 0, n);
    const Var<T, D> slices = volume_to_slices(used, {.dim = dim, .context = o.in_channel});  // (S' * B, k, a, b)
    const Var<T, D> encoded = encoder_2d(slices);                                              // (S' * B, E, 1, 1)
    const Var<T, D> set = slices_to_set(reshape(encoded, {encoded.size(0), embed_dim(o)}), b);  // (B, S', E)
    Var<T, D> pooled, attention;
    if (auto* attn = dynamic_cast<nn::PooledAttention<T, D>*>(pooled_attention.get())) {
      std::tie(pooled, attention) = attn->forward(set, {});
    } else {
      pooled = (*pooled_attention)(set);
    }
    return {reshape(pooled, {b, embed_dim(o)}), attention};
  }
  std::string type_name() const override { return "SliceSetNet"; }

  SliceEncoder2d<T, D> encoder_2d;
  std::unique_ptr<nn::Module<T, D>> pooled_attention;  // PooledAttention, SetMeanPool or SetMaxPool
  nn::Linear<T, D> attn_post;
  nn::Sequential<T, D> regressor;

 private:
  static int64_t embed_dim(const Options& o) { return o.attn_num_heads * o.attn_dim; }
  // Slices used per volume, and the set's size after stacking in_channel neighbours.
  static int64_t volume_slices(const Options& o) {
    return o.num_slices > 0 ? o.num_slices : reference_num_slices(o.slice_dim);
  }
  static int64_t set_size(const Options& o) { return volume_slices(o) - o.in_channel + 1; }
  static const Options& checked(const Options& o) {
    const char* m = "SliceSetNet";
    VOXNN_CHECK(o.attn_num_heads > 0 && o.attn_dim > 0, m, ": attn_num_heads ", o.attn_num_heads, " and attn_dim ",
                o.attn_dim, " must be positive");
    VOXNN_CHECK(o.agg_fn == "mean" || o.agg_fn == "max" || o.agg_fn == "attention", m, ": agg_fn '", o.agg_fn,
                "' is invalid; expected 'mean', 'max' or 'attention'");
    slice_detail::check_slice_dim(o.slice_dim, m);
    VOXNN_CHECK(o.encoder_2d.find("resnet") == std::string::npos, m, ": encoder_2d '", o.encoder_2d,
                "' is not supported: the ResNet slice encoders (torchvision's resnet18/34/50) are not implemented; "
                "use 'encoder1'");
    VOXNN_CHECK(o.encoder_2d == "encoder1", m, ": encoder_2d '", o.encoder_2d,
                "' is invalid; expected 'encoder1' (the reference builds no encoder for it)");
    VOXNN_CHECK(o.initialization == "custom" || o.initialization == "default", m, ": initialization '",
                o.initialization, "' is invalid; expected 'custom' or 'default'");
    VOXNN_CHECK(o.num_slices >= 0, m, ": num_slices ", o.num_slices, " must be positive (or 0: the reference's ",
                reference_num_slices(o.slice_dim), ")");
    VOXNN_CHECK(o.in_channel >= 1 && set_size(o) >= 1, m, ": in_channel ", o.in_channel, " must be in [1, ",
                set_size(o) + o.in_channel - 1, "] (the slices per volume)");
    slice_detail::check_channels(o.encoder_channels, m, "encoder_channels");
    return o;
  }
  static std::unique_ptr<nn::Module<T, D>> make_aggregation(nn::Module<T, D>* self, const Options& o) {
    const std::string name = "pooled_attention";
    if (o.agg_fn == "mean") return std::make_unique<nn::SetMeanPool<T, D>>(self, name);
    if (o.agg_fn == "max") return std::make_unique<nn::SetMaxPool<T, D>>(self, name);
    const int64_t e = embed_dim(o);
    return std::make_unique<nn::PooledAttention<T, D>>(
        self, name,
        nn::PooledAttentionOptions{.input_dim = e, .dim_v = e, .dim_k = e, .num_heads = o.attn_num_heads, .ln = true});
  }
};

}  // namespace voxnn::models
