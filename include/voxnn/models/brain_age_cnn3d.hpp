#pragma once
// The 3D CNN baseline for brain age that the 2D-slice set networks are compared with (Gupta et al., ISBI 2021):
// compatible with umgupta/2d-slice-set-networks@4c361a9 src/arch/ukbb/brain_age_3d.py:Model, with its keyword,
// state_dict names and output.
//
// Names:
//   conv1..conv5   Sequential(Conv3d 3x3x3 pad 1, InstanceNorm3d, MaxPool3d 2, ReLU), 32/64/128/256/256 channels
//   conv6          Sequential(Conv3d(c_last, 64, 1), InstanceNorm3d(64), ReLU, AvgPool3d((2, 3, 2)))
//   drop           Identity (the reference's dropout is commented out)
//   output         Conv3d(64, 1, 1)
// forward(x (B, 1, H, W, D)) returns y_pred (B, 1, h, w, d) unsqueezed as the reference's: (B, 1, 1, 1, 1) for
// 2 mm MNI volumes (91 x 109 x 91).
//
// voxnn options: `channels` (the blocks conv1..conv<k>; fewer blocks stand for the reference with the
// remaining ones replaced by Identity, which keeps every name) and `seed` (the initialisation's generator;
// without one, default_generator() seeds it).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "voxnn/core/random.hpp"
#include "voxnn/nn/activation.hpp"
#include "voxnn/nn/container.hpp"
#include "voxnn/nn/conv.hpp"
#include "voxnn/nn/identity.hpp"
#include "voxnn/nn/init.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/norm.hpp"
#include "voxnn/nn/pool.hpp"

namespace voxnn::models {

struct BrainAgeCnn3dOptions {
  std::string initialization = "default";  // "default" or "custom" (kaiming_normal_ fan_out convolutions)
  // voxnn options
  std::vector<int64_t> channels = {32, 64, 128, 256, 256};  // conv1..conv<k>, at most 5 blocks
  std::optional<uint64_t> seed{};
};

template <Real T, Device D = Cpu>
class BrainAgeCnn3d : public nn::ModuleWithOptions<T, D, BrainAgeCnn3dOptions> {
  using Base = nn::ModuleWithOptions<T, D, BrainAgeCnn3dOptions>;

 public:
  using Options = BrainAgeCnn3dOptions;

  explicit BrainAgeCnn3d(const Options& o = {}) : BrainAgeCnn3d(nullptr, "", o) {}
  BrainAgeCnn3d(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : Base(parent, std::move(name), checked(o)),
        blocks(make_blocks(this, o)),
        conv6(this, "conv6"),
        drop(this, "drop"),
        output(this, "output", {.in_channels = 64, .out_channels = 1, .kernel_size = 1}) {
    conv6.template emplace_back<nn::Conv3d<T, D>>(
        nn::ConvOptions<3>{.in_channels = o.channels.back(), .out_channels = 64, .kernel_size = 1});
    conv6.template emplace_back<nn::InstanceNorm3d<T, D>>(nn::InstanceNormOptions{.num_features = 64});
    conv6.template emplace_back<nn::ReLU<T, D>>();
    conv6.template emplace_back<nn::AvgPool3d<T, D>>(nn::AvgPool3dOptions{.kernel_size = {2, 3, 2}});
    Generator gen = generator_from(o.seed);
    reset_parameters(gen);
  }

  // The reference's init_weights: "custom" draws every Conv3d kaiming_normal_ (fan_out, relu) with zero
  // bias, "default" keeps PyTorch's default; either way the output bias is 62.68 (near the mean age).
  void reset_parameters(Generator& gen) {
    const bool custom = this->options.initialization == "custom";
    for (auto& [name, m] : this->named_modules())
      if (auto* conv = dynamic_cast<nn::Conv3d<T, D>*>(m)) {
        if (custom) {
          nn::init::kaiming_normal_(conv->weight.mutable_value(), {.mode = "fan_out", .nonlinearity = "relu"}, gen);
          nn::init::zeros_(conv->bias.mutable_value());
        } else {
          nn::init::default_weight_(conv->weight.mutable_value(), gen);
          nn::init::default_bias_(conv->bias.mutable_value(), conv->weight.shape(), gen);
        }
      }
    nn::init::constant_(output.bias.mutable_value(), 62.68);
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    VOXNN_CHECK(x.dim() == 5 && x.size(1) == 1, type_name(), ": input ", x.shape(), " must be (B, 1, H, W, D)");
    const int64_t scale = int64_t{1} << blocks.size();
    const int64_t kernel[3] = {2, 3, 2};
    for (int i = 0; i < 3; ++i)
      VOXNN_CHECK(x.size(2 + i) / scale >= kernel[i], type_name(), ": input ", x.shape(), " is too small: ",
                  blocks.size(), " max-pools then the average pool (2, 3, 2) need at least ", 2 * scale, " x ",
                  3 * scale, " x ", 2 * scale);
    Var<T, D> h = x;
    for (auto& block : blocks) h = (*block)(h);
    return output(drop(conv6(h)));
  }
  std::string type_name() const override { return "BrainAgeCnn3d"; }

  std::vector<std::unique_ptr<nn::Sequential<T, D>>> blocks;  // conv1..conv<k>
  nn::Sequential<T, D> conv6;
  nn::Identity<T, D> drop;
  nn::Conv3d<T, D> output;

 private:
  static const Options& checked(const Options& o) {
    const char* m = "BrainAgeCnn3d";
    VOXNN_CHECK(o.initialization == "default" || o.initialization == "custom", m, ": initialization '",
                o.initialization, "' is invalid; expected 'default' or 'custom'");
    VOXNN_CHECK(!o.channels.empty() && o.channels.size() <= 5, m, ": channels must name 1 to 5 blocks, got ",
                o.channels.size());
    for (std::size_t i = 0; i < o.channels.size(); ++i)
      VOXNN_CHECK(o.channels[i] > 0, m, ": channels[", i, "] = ", o.channels[i], " must be positive");
    return o;
  }
  static std::vector<std::unique_ptr<nn::Sequential<T, D>>> make_blocks(nn::Module<T, D>* self, const Options& o) {
    std::vector<std::unique_ptr<nn::Sequential<T, D>>> out;
    int64_t in = 1;
    for (std::size_t i = 0; i < o.channels.size(); ++i) {
      auto block = std::make_unique<nn::Sequential<T, D>>(self, "conv" + std::to_string(i + 1));
      const int64_t c = o.channels[i];
      block->template emplace_back<nn::Conv3d<T, D>>(
          nn::ConvOptions<3>{.in_channels = in, .out_channels = c, .kernel_size = 3, .stride = 1, .padding = 1});
      block->template emplace_back<nn::InstanceNorm3d<T, D>>(nn::InstanceNormOptions{.num_features = c});
      block->template emplace_back<nn::MaxPool3d<T, D>>(nn::MaxPool3dOptions{.kernel_size = 2, .stride = 2});
      block->template emplace_back<nn::ReLU<T, D>>();
      out.push_back(std::move(block));
      in = c;
    }
    return out;
  }
};

}  // namespace voxnn::models
