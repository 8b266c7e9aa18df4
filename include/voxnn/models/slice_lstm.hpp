#pragma once
// The 2D-slice network with LSTM aggregation for brain age (Gupta et al., ISBI 2021, the sequence baseline of
// the set networks): every slice of a (B, 1, H, W, D) volume along slice_dim goes through one 2D CNN, the
// slice features run in slice order through a one-layer LSTM, and the last hidden state goes through a small
// head. Compatible with umgupta/2d-slice-set-networks@4c361a9 src/arch/ukbb/brain_age_slice_lstm.py:MRI_LSTM:
// same keywords, state_dict names and output.
//
// Names:
//   encoder.{0-4}.0       the 2D blocks (Conv2d 3x3, InstanceNorm2d, MaxPool2d 2, ReLU; 32..256 channels)
//   post_proc             Sequential(Conv2d(c_last, 64, 1), InstanceNorm2d, ReLU, AvgPool2d(slice_avg_kernel),
//                         Dropout(0.5), Conv2d(64, lstm_feat_dim, 1)): post_proc.0, post_proc.5
//   lstm                  LSTM(lstm_feat_dim, lstm_latent_dim, batch_first): weight_ih_l0, ... (gates i, f, g, o)
//   lstm_post             Linear(lstm_latent_dim, 64)
//   regressor             Sequential(ReLU, Linear(64, 1))
// forward(x) returns y_pred (B, 1). Unlike MRI2DSlice, every slice of the input is used (as the reference).
//
// Differences, deliberate: lstm_feat_dim, lstm_latent_dim and slice_dim, required in the reference, default to
// the repository's configuration (2, 128) and 1; encoder_channels (the 2D blocks) and seed (the
// initialisation's generator; without one, default_generator() seeds it) are voxnn options.
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/autograd/functions/slicing.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/models/slice_encoder.hpp"
#include "voxnn/nn/activation.hpp"
#include "voxnn/nn/container.hpp"
#include "voxnn/nn/conv.hpp"
#include "voxnn/nn/dropout.hpp"
#include "voxnn/nn/init.hpp"
#include "voxnn/nn/linear.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/norm.hpp"
#include "voxnn/nn/pool.hpp"
#include "voxnn/nn/rnn.hpp"

namespace voxnn::models {

struct SliceLstmOptions {
  int64_t lstm_feat_dim = 2;     // slice feature size, the LSTM's input
  int64_t lstm_latent_dim = 128; // the LSTM's hidden size
  int64_t slice_dim = 1;         // 1, 2, 3: H, W, D of the (B, 1, H, W, D) input
  // voxnn options
  std::vector<int64_t> encoder_channels = {32, 64, 128, 256, 256};
  std::optional<uint64_t> seed{};  // the initialisation's generator (none: seeded by manual_seed's)
};

template <Real T, Device D = Cpu>
class SliceLstm : public nn::ModuleWithOptions<T, D, SliceLstmOptions> {
  using Base = nn::ModuleWithOptions<T, D, SliceLstmOptions>;

 public:
  using Options = SliceLstmOptions;

  explicit SliceLstm(const Options& o = {}) : SliceLstm(nullptr, "", o) {}
  SliceLstm(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : Base(parent, std::move(name), checked(o)),
        encoder(this, "encoder"),
        post_proc(this, "post_proc"),
        lstm(this, "lstm", {.input_size = o.lstm_feat_dim, .hidden_size = o.lstm_latent_dim, .batch_first = true}),
        lstm_post(this, "lstm_post", {.in_features = o.lstm_latent_dim, .out_features = 64}),
        regressor(this, "regressor") {
    add_slice_encoder_blocks(encoder, 1, o.encoder_channels);
    post_proc.template emplace_back<nn::Conv2d<T, D>>(
        nn::ConvOptions<2>{.in_channels = o.encoder_channels.back(), .out_channels = 64, .kernel_size = 1});
    post_proc.template emplace_back<nn::InstanceNorm2d<T, D>>(nn::InstanceNormOptions{.num_features = 64});
    post_proc.template emplace_back<nn::ReLU<T, D>>();
    post_proc.template emplace_back<nn::AvgPool2d<T, D>>(nn::AvgPool2dOptions{.kernel_size = slice_avg_kernel(o.slice_dim)});
    post_proc.template emplace_back<nn::Dropout<T, D>>(nn::DropoutOptions{.p = 0.5});
    post_proc.template emplace_back<nn::Conv2d<T, D>>(
        nn::ConvOptions<2>{.in_channels = 64, .out_channels = o.lstm_feat_dim, .kernel_size = 1});
    regressor.template emplace_back<nn::ReLU<T, D>>();
    regressor.template emplace_back<nn::Linear<T, D>>(nn::LinearOptions{.in_features = 64, .out_features = 1});
    Generator gen = generator_from(o.seed);
    reset_parameters(gen);
  }

  // The reference's init_weights: Conv2d kaiming_normal_ (fan_out, relu) with zero bias; the regressor's
  // Linear PyTorch's default with bias 62.68; lstm_post N(0, 0.01) with zero bias; the LSTM PyTorch's
  // default (uniform in +-1/sqrt(hidden)). Everything is drawn from gen.
  void reset_parameters(Generator& gen) {
    for (auto& [name, m] : this->named_modules()) {
      if (auto* conv = dynamic_cast<nn::Conv2d<T, D>*>(m)) {
        nn::init::kaiming_normal_(conv->weight.mutable_value(), {.mode = "fan_out", .nonlinearity = "relu"}, gen);
        nn::init::zeros_(conv->bias.mutable_value());
      } else if (auto* lin = dynamic_cast<nn::Linear<T, D>*>(m)) {
        if (name.find("regressor") != std::string::npos) {
          nn::init::default_weight_(lin->weight.mutable_value(), gen);
          nn::init::constant_(lin->bias.mutable_value(), 62.68);
        } else {
          nn::init::normal_(lin->weight.mutable_value(), 0.0, 0.01, gen);
          nn::init::zeros_(lin->bias.mutable_value());
        }
      }
    }
    const double bound = 1.0 / std::sqrt(static_cast<double>(this->options.lstm_latent_dim));
    for (auto& [name, p] : lstm.named_parameters()) nn::init::uniform_(p.mutable_value(), -bound, bound, gen);
  }

  // x (B, 1, H, W, D) -> y_pred (B, 1).
  Var<T, D> forward(const Var<T, D>& x) override { return regressor(lstm_post(encode(x))); }
  // The LSTM's last hidden state (B, lstm_latent_dim).
  Var<T, D> encode(const Var<T, D>& x) {
    const Options& o = this->options;
    VOXNN_CHECK(x.dim() == 5 && x.size(1) == 1, type_name(), ": input ", x.shape(),
                " must be (B, 1, H, W, D): one channel, the volume's slices are the sequence");
    const int dim = static_cast<int>(o.slice_dim) + 1;
    const Var<T, D> slices = volume_to_slices(x, {.dim = dim});  // (S * B, 1, a, b), slice-major
    check_slice_size(type_name().c_str(), slices.size(2), slices.size(3), o.encoder_channels.size(),
                     slice_avg_kernel(o.slice_dim));
    const Var<T, D> features = post_proc(encoder(slices));  // (S * B, F, 1, 1)
    const int64_t b = x.size(0);
    const Var<T, D> sequence = slices_to_set(reshape(features, {features.size(0), o.lstm_feat_dim}), b);  // (B, S, F)
    const Var<T, D> h_n = lstm(sequence, Var<T, D>(), Var<T, D>()).h_n;                          // (1, B, H)
    return reshape(h_n, {b, o.lstm_latent_dim});
  }
  std::string type_name() const override { return "SliceLstm"; }

  nn::Sequential<T, D> encoder;
  nn::Sequential<T, D> post_proc;
  nn::LSTM<T, D> lstm;
  nn::Linear<T, D> lstm_post;
  nn::Sequential<T, D> regressor;

 private:
  static const Options& checked(const Options& o) {
    const char* m = "SliceLstm";
    VOXNN_CHECK(o.lstm_feat_dim > 0 && o.lstm_latent_dim > 0, m, ": lstm_feat_dim ", o.lstm_feat_dim,
                " and lstm_latent_dim ", o.lstm_latent_dim, " must be positive");
    slice_detail::check_slice_dim(o.slice_dim, m);
    slice_detail::check_channels(o.encoder_channels, m, "encoder_channels");
    return o;
  }
};

}  // namespace voxnn::models
