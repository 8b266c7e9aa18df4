#pragma once
// UNet3d: the classic 3D U-Net of Cicek et al. (2016), voxnn's own model (no upstream code; the
// test fixtures come from a PyTorch mirror in tests/fixtures/gen_models_unet3d.py).
//
//   models::UNet3d<float> net({.in_channels = 1, .out_channels = 3, .features = {32, 64, 128, 256}});
//   Var<float> logits = net(x);   // x [N, in_channels, D, H, W] -> [N, out_channels, D, H, W]
//
// features has one entry per level, the last being the bottleneck. Each level is a block of two
// (3x3x3 conv, padding 1 -> norm -> ReLU); 2x2x2 max-pool goes down a level, a 2x2x2 stride-2
// transposed conv comes back up, the decoder block takes cat([skip, upsampled]) and a final 1x1x1 conv
// gives the class logits (train with softmax cross-entropy).
//
// Channels per level i (f = features, L = features.size()):
//   default              encoder  (i ? f[i-1] : in) -> f[i] -> f[i]; up f[i+1] -> f[i];
//                        decoder  2 f[i] -> f[i] -> f[i]
//   cicek_channels=true  as the paper: the first conv of an analysis block outputs f[i] / 2 (e.g.
//                        1 -> 32 -> 64), the transposed conv keeps its channels (f[i+1] -> f[i+1]),
//                        decoder (f[i+1] + f[i]) -> f[i] -> f[i]. The paper's features are
//                        {64, 128, 256, 512}.
// norm: "batch" (BatchNorm3d, the paper's), "instance" (InstanceNorm3d with affine weight and bias, no
// running statistics) or "none". Convolutions keep PyTorch's default bias.
//
// Deliberate differences from the paper: padded convolutions (the output has the input's size, not a
// cropped centre), so each spatial size must be divisible by 2^(L-1); the forward checks this and
// says so (pad or crop the input yourself, or run it on patches with data/sliding_window.hpp).
//
// Parameter names (level i; normK absent with norm "none"):
//   encoders.<i>.conv1.{weight,bias}   encoders.<i>.norm1.{weight,bias,running_mean,running_var,num_batches_tracked}
//   encoders.<i>.conv2.*, encoders.<i>.norm2.*                           i = 0 .. L-2
//   bottleneck.conv1.*, bottleneck.norm1.*, bottleneck.conv2.*, bottleneck.norm2.*
//   upconvs.<i>.{weight,bias}            from level i+1 up to level i,   i = 0 .. L-2
//   decoders.<i>.conv1.* ... norm2.*     the decoder block of level i,   i = 0 .. L-2
//   final_conv.{weight,bias}
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/pool.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/nn/container.hpp"
#include "voxnn/nn/conv.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/norm.hpp"

namespace voxnn::models {

struct UNet3dOptions {
  int64_t in_channels = 1;
  int64_t out_channels = 2;
  std::vector<int64_t> features = {32, 64, 128, 256};  // per level; the last is the bottleneck
  std::string norm = "batch";                          // batch | instance | none
  bool cicek_channels = false;                         // the paper's channel doubling (see above)
};

// One level's two (conv -> norm -> ReLU): conv1, norm1, conv2, norm2.
template <Real T, Device D = Cpu>
class UNet3dBlock : public nn::Module<T, D> {
 public:
  UNet3dBlock(nn::Module<T, D>* parent, std::string name, int64_t in, int64_t mid, int64_t out,
              const std::string& norm)
      : nn::Module<T, D>(parent, std::move(name)),
        conv1(this, "conv1", {.in_channels = in, .out_channels = mid, .kernel_size = 3, .padding = 1}) {
    make_norm(norm1, "norm1", norm, mid);
    conv2 = std::make_unique<nn::Conv3d<T, D>>(
        this, "conv2", nn::ConvOptions<3>{.in_channels = mid, .out_channels = out, .kernel_size = 3, .padding = 1});
    make_norm(norm2, "norm2", norm, out);
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    Var<T, D> y = conv1(x);
    if (norm1) y = (*norm1)(y);
    y = (*conv2)(relu(y));
    if (norm2) y = (*norm2)(y);
    return relu(y);
  }
  std::string type_name() const override { return "UNet3dBlock"; }

  nn::Conv3d<T, D> conv1;
  std::unique_ptr<nn::Module<T, D>> norm1;  // BatchNorm3d, InstanceNorm3d or null
  std::unique_ptr<nn::Conv3d<T, D>> conv2;  // built after norm1 so that names keep the reference order
  std::unique_ptr<nn::Module<T, D>> norm2;

 private:
  void make_norm(std::unique_ptr<nn::Module<T, D>>& slot, const char* name, const std::string& norm, int64_t c) {
    if (norm == "batch")
      slot = std::make_unique<nn::BatchNorm3d<T, D>>(this, name, nn::BatchNormOptions{.num_features = c});
    else if (norm == "instance")
      slot = std::make_unique<nn::InstanceNorm3d<T, D>>(this, name,
                                                        nn::InstanceNormOptions{.num_features = c, .affine = true});
  }
};

template <Real T, Device D = Cpu>
class UNet3d : public nn::Module<T, D> {
 public:
  using Options = UNet3dOptions;

  explicit UNet3d(const Options& o = {}) : UNet3d(nullptr, "", o) {}
  UNet3d(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : nn::Module<T, D>(parent, std::move(name)), options(checked(o)) {
    const auto& f = options.features;
    const std::size_t L = f.size();
    const bool cicek = options.cicek_channels;
    for (std::size_t i = 0; i + 1 < L; ++i) {
      const int64_t in = i == 0 ? options.in_channels : f[i - 1];
      encoders.template emplace_back<UNet3dBlock<T, D>>(in, cicek ? f[i] / 2 : f[i], f[i], options.norm);
    }
    bottleneck = std::make_unique<UNet3dBlock<T, D>>(this, "bottleneck", L > 1 ? f[L - 2] : options.in_channels,
                                                     cicek ? f[L - 1] / 2 : f[L - 1], f[L - 1], options.norm);
    this->register_module("upconvs", &upconvs);
    for (std::size_t i = 0; i + 1 < L; ++i)
      upconvs.template emplace_back<nn::ConvTranspose3d<T, D>>(nn::ConvTransposeOptions<3>{
          .in_channels = f[i + 1], .out_channels = cicek ? f[i + 1] : f[i], .kernel_size = 2, .stride = 2});
    this->register_module("decoders", &decoders);
    for (std::size_t i = 0; i + 1 < L; ++i) {
      const int64_t in = f[i] + (cicek ? f[i + 1] : f[i]);
      decoders.template emplace_back<UNet3dBlock<T, D>>(in, f[i], f[i], options.norm);
    }
    final_conv = std::make_unique<nn::Conv3d<T, D>>(
        this, "final_conv", nn::ConvOptions<3>{.in_channels = f[0], .out_channels = options.out_channels, .kernel_size = 1});
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    check_input(x.shape());
    const std::size_t L = options.features.size();
    std::vector<Var<T, D>> skips;
    Var<T, D> y = x;
    for (std::size_t i = 0; i + 1 < L; ++i) {
      y = encoders[i](y);
      skips.push_back(y);
      y = max_pool3d(y, 2);
    }
    y = (*bottleneck)(y);
    for (std::size_t k = L - 1; k-- > 0;) y = decoders[k](cat<T, D>({skips[k], upconvs[k](y)}, 1));
    return (*final_conv)(y);
  }
  std::string type_name() const override { return "UNet3d"; }

  // Each spatial size must be a multiple of this (2^(levels - 1)).
  int64_t size_multiple() const { return int64_t{1} << (options.features.size() - 1); }

  const Options options;
  nn::ModuleList<T, D> encoders{this, "encoders"};
  std::unique_ptr<UNet3dBlock<T, D>> bottleneck;
  nn::ModuleList<T, D> upconvs;
  nn::ModuleList<T, D> decoders;
  std::unique_ptr<nn::Conv3d<T, D>> final_conv;

 private:
  static const Options& checked(const Options& o) {
    VOXNN_CHECK(o.in_channels > 0 && o.out_channels > 0, "UNet3d: in_channels and out_channels must be positive, got ",
                o.in_channels, " and ", o.out_channels);
    VOXNN_CHECK(!o.features.empty() && o.features.size() <= 16, "UNet3d: features needs 1 to 16 levels, got ",
                o.features.size());
    for (int64_t c : o.features) {
      VOXNN_CHECK(c > 0, "UNet3d: features must be positive, got ", Shape(o.features));
      VOXNN_CHECK(!o.cicek_channels || c % 2 == 0, "UNet3d: cicek_channels halves each level's first conv, so "
                  "features must be even, got ", Shape(o.features));
    }
    VOXNN_CHECK(o.norm == "batch" || o.norm == "instance" || o.norm == "none",
                "UNet3d: norm must be batch, instance or none, got '", o.norm, "'");
    return o;
  }
  void check_input(const Shape& s) const {
    VOXNN_CHECK(s.size() == 5, "UNet3d: input has ", s.size(), " dims ", s, "; expected 5 (N, C, D, H, W)");
    VOXNN_CHECK(s[1] == options.in_channels, "UNet3d: input ", s, " has ", s[1], " channels; expected in_channels = ",
                options.in_channels);
    const int64_t m = size_multiple();
    for (int d = 2; d < 5; ++d)
      VOXNN_CHECK(s[d] > 0 && s[d] % m == 0, "UNet3d: input has shape ", s, "; each spatial size must be a positive "
                  "multiple of ", m, " (2^", options.features.size() - 1, " for ", options.features.size(),
                  " levels); pad or crop the input");
  }
};

}  // namespace voxnn::models
