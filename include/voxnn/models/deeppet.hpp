#pragma once
// DeepPET (Haggstrom et al., Medical Image Analysis 2019): a convolutional encoder-decoder that maps a
// PET sinogram (N, C, angles, bins) directly to an image (N, 1, image_size, image_size). There is no
// official code; this is voxnn's own network written from the paper's description
// (../shared/REFERENCES.md), and tests/fixtures/gen_models_pet.py mirrors it in PyTorch.
//
// From the paper: strided 2D convolutions with 7x7, then 5x5, then 3x3 kernels, 32 doubling to 512
// channels, each followed by BatchNorm and ReLU; a decoder of bilinear x2 upsampling followed by 3x3
// convolutions with BatchNorm and ReLU; a final 3x3 convolution to one channel (no activation, so
// the network regresses the image with an MSE loss); a 288 x 269 sinogram in, 128 x 128 out.
//
// voxnn's choices (the paper's text fixes the kinds of layers, not this exact wiring):
//   - levels: stage s = 0 .. num_levels has base_channels * 2^s channels (32 .. 512 by default) and
//     two conv-BN-ReLU blocks; the first block of every stage but the first has stride 2; kernels are
//     7 (stage 0), 5 (stage 1), 3 (deeper), padding kernel / 2, bias on (as Keras/PyTorch default).
//   - sinogram grid to image grid: the encoder's output (about angles / 2^L x bins / 2^L) is
//     resampled bilinearly (align_corners = false) to image_size / 2^L squared, so any sinogram
//     size works; the decoder's L bilinear x2 upsamplings then reach image_size exactly.
//   - decoder stage s = L-1 .. 0: upsample, conv3x3 (channels of s+1 -> s) + BN + ReLU, conv3x3
//     (s -> s) + BN + ReLU; no skip connections (the paper has none).
// Names: encoder.{i}.conv.{weight,bias}, encoder.{i}.bn.{weight,bias,running_mean,running_var,
// num_batches_tracked} for i = 0 .. 2 L + 1; decoder.{j}.conv.*, decoder.{j}.bn.* for j = 0 .. 2 L - 1;
// head.{weight,bias}.
#include <array>
#include <string>

#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/interpolate.hpp"
#include "voxnn/nn/container.hpp"
#include "voxnn/nn/conv.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/norm.hpp"

namespace voxnn::models {

struct DeepPETOptions {
  std::array<int64_t, 2> sinogram_size = {288, 269};  // (angles, radial bins) of the input
  int64_t image_size = 128;                            // output image_size x image_size
  int64_t in_channels = 1;                             // sinogram channels (1; more for extra inputs)
  int64_t base_channels = 32;                          // channels of the first stage; doubled per level
  int64_t num_levels = 4;                              // stride-2 stages = x2 upsamplings; 4 gives 32..512
};

// Conv2d -> BatchNorm2d -> ReLU, the unit both halves are made of.
template <Real T, Device D = Cpu>
class DeepPETBlock : public nn::Module<T, D> {
 public:
  DeepPETBlock(nn::Module<T, D>* parent, std::string name, int64_t in, int64_t out, int64_t kernel, int64_t stride)
      : nn::Module<T, D>(parent, std::move(name)),
        conv(this, "conv", {.in_channels = in, .out_channels = out, .kernel_size = kernel, .stride = stride,
                            .padding = kernel / 2}),
        bn(this, "bn", {.num_features = out}) {}
  Var<T, D> forward(const Var<T, D>& x) override { return relu(bn.forward(conv.forward(x))); }
  std::string type_name() const override { return "DeepPETBlock"; }

  nn::Conv2d<T, D> conv;
  nn::BatchNorm2d<T, D> bn;
};

template <Real T, Device D = Cpu>
class DeepPET : public nn::ModuleWithOptions<T, D, DeepPETOptions> {
  using Base = nn::ModuleWithOptions<T, D, DeepPETOptions>;

 public:
  using Options = DeepPETOptions;

  explicit DeepPET(const Options& o = {}) : DeepPET(nullptr, "", o) {}
  DeepPET(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : Base(parent, std::move(name), checked(o)),
        encoder(this, "encoder"),
        decoder(this, "decoder"),
        head(this, "head", {.in_channels = o.base_channels, .out_channels = 1, .kernel_size = 3, .padding = 1}) {
    const int64_t L = o.num_levels;
    int64_t in = o.in_channels;
    for (int64_t s = 0; s <= L; ++s) {
      const int64_t ch = channels(s), k = s == 0 ? 7 : s == 1 ? 5 : 3;
      encoder.template emplace_back<DeepPETBlock<T, D>>(in, ch, k, s == 0 ? 1 : 2);
      encoder.template emplace_back<DeepPETBlock<T, D>>(ch, ch, k, 1);
      in = ch;
    }
    for (int64_t s = L - 1; s >= 0; --s) {
      decoder.template emplace_back<DeepPETBlock<T, D>>(channels(s + 1), channels(s), 3, 1);
      decoder.template emplace_back<DeepPETBlock<T, D>>(channels(s), channels(s), 3, 1);
    }
  }

  // x (N, in_channels, angles, bins) -> (N, 1, image_size, image_size).
  Var<T, D> forward(const Var<T, D>& x) override {
    const Options& o = this->options;
    VOXNN_CHECK(x.dim() == 4 && x.size(1) == o.in_channels && x.size(2) == o.sinogram_size[0] &&
                    x.size(3) == o.sinogram_size[1],
                "DeepPET: sinogram has shape ", x.shape(), "; expected (N, ", o.in_channels, ", ", o.sinogram_size[0],
                ", ", o.sinogram_size[1], ") for in_channels ", o.in_channels, " and sinogram_size [",
                o.sinogram_size[0], ", ", o.sinogram_size[1], "]");
    Var<T, D> h = encoder.forward(x);
    const int64_t bottleneck = o.image_size >> o.num_levels;
    if (h.size(2) != bottleneck || h.size(3) != bottleneck)
      h = interpolate(h, {.size = {bottleneck, bottleneck}, .mode = "bilinear", .align_corners = false});
    for (std::size_t j = 0; j < decoder.size(); ++j) {
      if (j % 2 == 0) h = interpolate(h, {.scale_factor = {2.0, 2.0}, .mode = "bilinear", .align_corners = false});
      h = decoder[j].forward(h);
    }
    return head.forward(h);
  }
  std::string type_name() const override { return "DeepPET"; }

  nn::Sequential<T, D> encoder;
  nn::ModuleList<T, D> decoder;
  nn::Conv2d<T, D> head;

 private:
  int64_t channels(int64_t stage) const { return this->options.base_channels << stage; }

  static const Options& checked(const Options& o) {
    VOXNN_CHECK(o.sinogram_size[0] > 0 && o.sinogram_size[1] > 0, "DeepPET: sinogram_size [", o.sinogram_size[0],
                ", ", o.sinogram_size[1], "] must be positive");
    VOXNN_CHECK(o.in_channels > 0, "DeepPET: in_channels = ", o.in_channels, " must be positive");
    VOXNN_CHECK(o.base_channels > 0, "DeepPET: base_channels = ", o.base_channels, " must be positive");
    VOXNN_CHECK(o.num_levels >= 1 && o.num_levels <= 8, "DeepPET: num_levels = ", o.num_levels,
                " must be in [1, 8]");
    VOXNN_CHECK(o.image_size > 0 && o.image_size % (int64_t{1} << o.num_levels) == 0, "DeepPET: image_size = ",
                o.image_size, " must be a positive multiple of 2^num_levels = ", int64_t{1} << o.num_levels);
    return o;
  }
};

}  // namespace voxnn::models
