#pragma once
// RED-WGAN (Ran et al. 2019, "Denoising of 3D magnetic resonance images using a residual
// encoder-decoder Wasserstein generative adversarial network"): the generator and critic of
// Deep-Imaging-Group/RED-WGAN@79718eb model5.py (GeneratorNet, DiscriminatorNet), with their
// state_dict names, so the reference's checkpoints load by name.
//
// RedWganGenerator, a residual encoder-decoder on 3D patches (N, 1, D, H, W) (6 x 32 x 32 in the paper),
// every convolution 3x3x3 with padding 1 and bias, so the spatial size never changes:
//   conv1..conv4       Sequential(Conv3d, BatchNorm3d, LeakyReLU(0.01))   1 -> 32 -> 64 -> 128 -> 256
//   deConv1_1          Conv3d 256 -> 128, then + conv3's output
//   deConv1            Sequential(BatchNorm3d, LeakyReLU)
//   deConv2_1, deConv2 128 -> 64, + conv2's output;  deConv3_1, deConv3  64 -> 32, + conv1's output
//   deConv4_1          Conv3d 32 -> 1, then + the input
//   deConv4            ReLU (the output activation)
// Names: conv{1-4}.0.{weight,bias}, conv{1-4}.1.{weight,bias,running_mean,running_var,num_batches_tracked},
// deConv{1-3}_1.{weight,bias}, deConv{1-3}.0.* (BatchNorm3d), deConv4_1.{weight,bias}.
//
// RedWganCritic (DiscriminatorNet): conv1..conv3 = Sequential(Conv3d k3 p1, LeakyReLU(0.01)) with
// 1 -> 32 -> 64 -> 128 channels (the reference has its BatchNorms commented out), then the features
// flattened per sample and fc = Linear(128 * D * H * W, 1) with no activation: a Wasserstein score of
// shape (N, 1). The reference hard-codes the 6 x 32 x 32 patch in fc; here it is patch_size.
//
// Deliberate differences: the reference constructors take no arguments; `features` (both models)
// and `patch_size` (critic) are voxnn options whose defaults are the reference's hard-coded values,
// so smaller networks (tests, the CPU example) keep the same layout and names. Initialisation is
// PyTorch's default for each module; the reference's training script re-initialises with
// kaiming_normal_ (zero biases, BatchNorm weight 1), which red_wgan_init_ below reproduces.
#include <array>
#include <string>

#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/nn/activation.hpp"
#include "voxnn/nn/container.hpp"
#include "voxnn/nn/conv.hpp"
#include "voxnn/nn/init.hpp"
#include "voxnn/nn/linear.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/norm.hpp"

namespace voxnn::models {

struct RedWganGeneratorOptions {
  std::array<int64_t, 4> features = {32, 64, 128, 256};  // channels of conv1..conv4 (voxnn option)
};

struct RedWganCriticOptions {
  std::array<int64_t, 3> patch_size = {6, 32, 32};  // (D, H, W) of the input patches; sets fc's inputs
  std::array<int64_t, 3> features = {32, 64, 128};  // channels of conv1..conv3 (voxnn option)
};

namespace red_wgan_detail {

template <std::size_t N>
void check_features(const std::array<int64_t, N>& f, const char* model) {
  for (std::size_t i = 0; i < N; ++i)
    VOXNN_CHECK(f[i] > 0, model, ": features[", i, "] = ", f[i], " must be positive");
}

inline nn::ConvOptions<3> conv3(int64_t in, int64_t out) {
  return {.in_channels = in, .out_channels = out, .kernel_size = 3, .padding = 1};
}

}  // namespace red_wgan_detail

template <Real T, Device D = Cpu>
class RedWganGenerator : public nn::ModuleWithOptions<T, D, RedWganGeneratorOptions> {
  using Base = nn::ModuleWithOptions<T, D, RedWganGeneratorOptions>;

 public:
  using Options = RedWganGeneratorOptions;

  explicit RedWganGenerator(const Options& o = {}) : RedWganGenerator(nullptr, "", o) {}
  RedWganGenerator(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : Base(parent, std::move(name), (red_wgan_detail::check_features(o.features, "RedWganGenerator"), o)),
        conv1(this, "conv1"),
        conv2(this, "conv2"),
        conv3(this, "conv3"),
        conv4(this, "conv4"),
        deConv1_1(this, "deConv1_1", red_wgan_detail::conv3(o.features[3], o.features[2])),
        deConv1(this, "deConv1"),
        deConv2_1(this, "deConv2_1", red_wgan_detail::conv3(o.features[2], o.features[1])),
        deConv2(this, "deConv2"),
        deConv3_1(this, "deConv3_1", red_wgan_detail::conv3(o.features[1], o.features[0])),
        deConv3(this, "deConv3"),
        deConv4_1(this, "deConv4_1", red_wgan_detail::conv3(o.features[0], 1)),
        deConv4(this, "deConv4") {
    const auto& f = o.features;
    encoder_block(conv1, 1, f[0]);
    encoder_block(conv2, f[0], f[1]);
    encoder_block(conv3, f[1], f[2]);
    encoder_block(conv4, f[2], f[3]);
    decoder_block(deConv1, f[2]);
    decoder_block(deConv2, f[1]);
    decoder_block(deConv3, f[0]);
  }

  // input (N, 1, D, H, W) -> (N, 1, D, H, W), non-negative.
  Var<T, D> forward(const Var<T, D>& input) override {
    VOXNN_CHECK(input.dim() == 5 && input.size(1) == 1, "RedWganGenerator: input has shape ", input.shape(),
                "; expected (N, 1, D, H, W)");
    const Var<T, D> e1 = conv1.forward(input);
    const Var<T, D> e2 = conv2.forward(e1);
    const Var<T, D> e3 = conv3.forward(e2);
    const Var<T, D> e4 = conv4.forward(e3);
    Var<T, D> x = deConv1.forward(add(deConv1_1.forward(e4), e3));
    x = deConv2.forward(add(deConv2_1.forward(x), e2));
    x = deConv3.forward(add(deConv3_1.forward(x), e1));
    return deConv4.forward(add(deConv4_1.forward(x), input));
  }
  std::string type_name() const override { return "RedWganGenerator"; }

  nn::Sequential<T, D> conv1, conv2, conv3, conv4;
  nn::Conv3d<T, D> deConv1_1;
  nn::Sequential<T, D> deConv1;
  nn::Conv3d<T, D> deConv2_1;
  nn::Sequential<T, D> deConv2;
  nn::Conv3d<T, D> deConv3_1;
  nn::Sequential<T, D> deConv3;
  nn::Conv3d<T, D> deConv4_1;
  nn::ReLU<T, D> deConv4;

 private:
  static void encoder_block(nn::Sequential<T, D>& s, int64_t in, int64_t out) {
    s.template emplace_back<nn::Conv3d<T, D>>(red_wgan_detail::conv3(in, out));
    s.template emplace_back<nn::BatchNorm3d<T, D>>(nn::BatchNormOptions{.num_features = out});
    s.template emplace_back<nn::LeakyReLU<T, D>>();
  }
  static void decoder_block(nn::Sequential<T, D>& s, int64_t channels) {
    s.template emplace_back<nn::BatchNorm3d<T, D>>(nn::BatchNormOptions{.num_features = channels});
    s.template emplace_back<nn::LeakyReLU<T, D>>();
  }
};

template <Real T, Device D = Cpu>
class RedWganCritic : public nn::ModuleWithOptions<T, D, RedWganCriticOptions> {
  using Base = nn::ModuleWithOptions<T, D, RedWganCriticOptions>;

 public:
  using Options = RedWganCriticOptions;

  explicit RedWganCritic(const Options& o = {}) : RedWganCritic(nullptr, "", o) {}
  RedWganCritic(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : Base(parent, std::move(name), checked(o)),
        conv1(this, "conv1"),
        conv2(this, "conv2"),
        conv3(this, "conv3"),
        fc(this, "fc", {.in_features = o.features[2] * o.patch_size[0] * o.patch_size[1] * o.patch_size[2],
                        .out_features = 1}) {
    block(conv1, 1, o.features[0]);
    block(conv2, o.features[0], o.features[1]);
    block(conv3, o.features[1], o.features[2]);
  }

  // input (N, 1, patch_size...) -> scores (N, 1).
  Var<T, D> forward(const Var<T, D>& input) override {
    const auto& p = this->options.patch_size;
    VOXNN_CHECK(input.dim() == 5 && input.size(1) == 1 && input.size(2) == p[0] && input.size(3) == p[1] &&
                    input.size(4) == p[2],
                "RedWganCritic: input has shape ", input.shape(), "; expected (N, 1, ", p[0], ", ", p[1], ", ", p[2],
                ") for patch_size [", p[0], ", ", p[1], ", ", p[2], "]");
    const Var<T, D> x = conv3.forward(conv2.forward(conv1.forward(input)));
    return fc.forward(reshape(x, Shape{x.size(0), fc.options.in_features}));
  }
  std::string type_name() const override { return "RedWganCritic"; }

  nn::Sequential<T, D> conv1, conv2, conv3;
  nn::Linear<T, D> fc;

 private:
  static const Options& checked(const Options& o) {
    red_wgan_detail::check_features(o.features, "RedWganCritic");
    for (int i = 0; i < 3; ++i)
      VOXNN_CHECK(o.patch_size[i] > 0, "RedWganCritic: patch_size[", i, "] = ", o.patch_size[i], " must be positive");
    return o;
  }
  static void block(nn::Sequential<T, D>& s, int64_t in, int64_t out) {
    s.template emplace_back<nn::Conv3d<T, D>>(red_wgan_detail::conv3(in, out));
    s.template emplace_back<nn::LeakyReLU<T, D>>();
  }
};

// The reference training script's initialisation: kaiming_normal_ (fan_in, leaky_relu gain with a = 0)
// on every Conv3d and Linear weight, zero biases, BatchNorm weight 1 and bias 0.
template <Real T, Device D>
void red_wgan_init_(nn::Module<T, D>& model, Generator& gen) {
  model.apply([&](nn::Module<T, D>& m) {
    if (auto* conv = dynamic_cast<nn::Conv3d<T, D>*>(&m)) {
      nn::init::kaiming_normal_(conv->weight.mutable_value(), {}, gen);
      if (conv->bias.defined()) nn::init::zeros_(conv->bias.mutable_value());
    } else if (auto* lin = dynamic_cast<nn::Linear<T, D>*>(&m)) {
      nn::init::kaiming_normal_(lin->weight.mutable_value(), {}, gen);
      if (lin->bias.defined()) nn::init::zeros_(lin->bias.mutable_value());
    } else if (auto* bn = dynamic_cast<nn::BatchNorm3d<T, D>*>(&m)) {
      nn::init::ones_(bn->weight.mutable_value());
      nn::init::zeros_(bn->bias.mutable_value());
    }
  });
}

}  // namespace voxnn::models
