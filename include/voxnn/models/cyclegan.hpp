#pragma once
// The CycleGAN ResNet generator in 2D and 3D (Johnson et al.'s architecture as CycleGAN uses it),
// compatible with junyanz/pytorch-CycleGAN-and-pix2pix@7891385 models/networks.py:ResnetGenerator,
// ResnetBlock (same module tree and state_dict keys, same forward). Dim = 3 swaps in the 3D conv,
// norm and padding modules (ReflectionPad3d, ReplicationPad3d). Its critic is the PatchGAN of
// pix2pix.hpp (NLayerDiscriminator).
//
//   models::ResnetGenerator<2, float> g({.norm = "instance", .n_blocks = 9});   // CycleGAN's "resnet_9blocks"
//   models::ResnetGenerator<3, float> g3({.input_nc = 1, .output_nc = 1, .ngf = 16, .norm = "instance"});
//
// Layout (names model.<k>; norm per pix2pix.hpp: batch | instance | instance_tracked | none, convs
// followed by a norm have a bias only with an instance norm):
//   model.0 ReflectionPad(3), .1 conv k7 (input_nc -> ngf), .2 norm, .3 ReLU
//   .4-.6, .7-.9   conv k3 s2 p1 -> norm -> ReLU   (ngf -> 2 ngf -> 4 ngf)
//   .10 ... .(9 + n_blocks)  ResnetBlock(4 ngf): x + conv_block(x), conv_block =
//        [pad(1)], conv k3, norm, ReLU, [Dropout(0.5)], [pad(1)], conv k3, norm
//        (pad: ReflectionPad with padding_type "reflect", ReplicationPad with "replicate"; "zero"
//        drops the pad modules and gives the convs padding 1), e.g. model.10.conv_block.1.weight
//   then twice transposed conv k3 s2 p1 output_padding 1 -> norm -> ReLU   (4 ngf -> 2 ngf -> ngf)
//   ReflectionPad(3), conv k7 (ngf -> output_nc, bias), Tanh
// Spatial sizes divisible by 4 come back unchanged; the reflection pads need every size > 3 (>= 5 with
// padded blocks). Aliases: CycleGanGenerator (2D), CycleGanGenerator3d.
//
// Differences from the reference: initialisation is PyTorch's default (the reference's init_net
// redraws conv weights from N(0, 0.02)). Defaults are the class's (norm "batch", n_blocks 6);
// CycleGAN trains with norm "instance" and n_blocks 9.
#include <cstdint>
#include <string>

#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/models/pix2pix.hpp"
#include "voxnn/nn/padding.hpp"

namespace voxnn::models {

struct ResnetBlockOptions {
  int64_t dim = 0;  // channels
  std::string padding_type = "reflect";  // reflect | replicate | zero
  std::string norm = "batch";
  bool use_dropout = false;
  bool use_bias = false;
};

template <int Dim, Real T, Device D = Cpu>
class ResnetBlock : public nn::Module<T, D> {
  static_assert(Dim == 2 || Dim == 3, "ResnetBlock: 2 or 3 spatial dims");

 public:
  using Options = ResnetBlockOptions;

  explicit ResnetBlock(const Options& o) : ResnetBlock(nullptr, "", o) {}
  ResnetBlock(nn::Module<T, D>* parent, std::string name, const Options& o)
      : nn::Module<T, D>(parent, std::move(name)), options(o) {
    VOXNN_CHECK(o.dim > 0, "ResnetBlock: dim must be positive, got ", o.dim);
    VOXNN_CHECK(o.padding_type == "reflect" || o.padding_type == "replicate" || o.padding_type == "zero",
                "ResnetBlock: padding_type must be reflect, replicate or zero, got '", o.padding_type, "'");
    gan_detail::check_norm("ResnetBlock", o.norm);
    const int64_t p = o.padding_type == "zero" ? 1 : 0;
    for (int half = 0; half < 2; ++half) {
      if (o.padding_type == "reflect")
        conv_block.template emplace_back<nn::PadNd<Dim, nn::PadKind::reflection, T, D>>(nn::PadOptions<Dim>{.padding = 1});
      else if (o.padding_type == "replicate")
        conv_block.template emplace_back<nn::PadNd<Dim, nn::PadKind::replication, T, D>>(nn::PadOptions<Dim>{.padding = 1});
      gan_detail::add_conv<Dim>(conv_block, o.dim, o.dim, 3, 1, p, o.use_bias);
      gan_detail::add_norm<Dim>(conv_block, o.norm, o.dim);
      if (half == 0) {
        conv_block.template emplace_back<nn::ReLU<T, D>>();
        if (o.use_dropout) conv_block.template emplace_back<nn::Dropout<T, D>>(nn::DropoutOptions{.p = 0.5});
      }
    }
  }

  Var<T, D> forward(const Var<T, D>& x) override { return add(x, conv_block(x)); }
  std::string type_name() const override { return "ResnetBlock"; }

  const Options options;
  nn::Sequential<T, D> conv_block{this, "conv_block"};
};

struct ResnetGeneratorOptions {
  int64_t input_nc = 3;
  int64_t output_nc = 3;
  int64_t ngf = 64;
  std::string norm = "batch";  // CycleGAN: "instance"
  bool use_dropout = false;
  int64_t n_blocks = 6;  // CycleGAN: 9 ("resnet_9blocks")
  std::string padding_type = "reflect";  // in the ResnetBlocks: reflect | replicate | zero
};

template <int Dim, Real T, Device D = Cpu>
class ResnetGenerator : public nn::Module<T, D> {
  static_assert(Dim == 2 || Dim == 3, "ResnetGenerator: 2 or 3 spatial dims");
  using ReflectionPad = nn::PadNd<Dim, nn::PadKind::reflection, T, D>;

 public:
  using Options = ResnetGeneratorOptions;

  explicit ResnetGenerator(const Options& o = {}) : ResnetGenerator(nullptr, "", o) {}
  ResnetGenerator(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : nn::Module<T, D>(parent, std::move(name)), options(o) {
    VOXNN_CHECK(o.input_nc > 0 && o.output_nc > 0 && o.ngf > 0, "ResnetGenerator: input_nc, output_nc and ngf must be "
                "positive, got ", o.input_nc, ", ", o.output_nc, " and ", o.ngf);
    VOXNN_CHECK(o.n_blocks >= 0, "ResnetGenerator: n_blocks must be non-negative, got ", o.n_blocks);
    VOXNN_CHECK(o.padding_type == "reflect" || o.padding_type == "replicate" || o.padding_type == "zero",
                "ResnetGenerator: padding_type must be reflect, replicate or zero, got '", o.padding_type, "'");
    gan_detail::check_norm("ResnetGenerator", o.norm);
    const bool bias = gan_detail::use_bias(o.norm);
    const int64_t g = o.ngf;
    model.template emplace_back<ReflectionPad>(nn::PadOptions<Dim>{.padding = 3});
    gan_detail::add_conv<Dim>(model, o.input_nc, g, 7, 1, 0, bias);
    gan_detail::add_norm<Dim>(model, o.norm, g);
    model.template emplace_back<nn::ReLU<T, D>>();
    for (int64_t mult : {1, 2}) {
      gan_detail::add_conv<Dim>(model, g * mult, g * mult * 2, 3, 2, 1, bias);
      gan_detail::add_norm<Dim>(model, o.norm, g * mult * 2);
      model.template emplace_back<nn::ReLU<T, D>>();
    }
    for (int64_t i = 0; i < o.n_blocks; ++i)
      model.template emplace_back<ResnetBlock<Dim, T, D>>(ResnetBlockOptions{
          .dim = 4 * g, .padding_type = o.padding_type, .norm = o.norm, .use_dropout = o.use_dropout, .use_bias = bias});
    for (int64_t mult : {4, 2}) {
      // int(ngf * mult / 2) in the reference: exact, since mult is even
      model.template emplace_back<nn::ConvTransposeNd<Dim, T, D>>(nn::ConvTransposeOptions<Dim>{
          .in_channels = g * mult, .out_channels = g * mult / 2, .kernel_size = 3, .stride = 2, .padding = 1,
          .output_padding = 1, .bias = bias});
      gan_detail::add_norm<Dim>(model, o.norm, g * mult / 2);
      model.template emplace_back<nn::ReLU<T, D>>();
    }
    model.template emplace_back<ReflectionPad>(nn::PadOptions<Dim>{.padding = 3});
    gan_detail::add_conv<Dim>(model, g, o.output_nc, 7, 1, 0, true);
    model.template emplace_back<nn::Tanh<T, D>>();
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    gan_detail::check_input<Dim>("ResnetGenerator", x.shape(), options.input_nc);
    // The blocks' reflect / replicate pad of 1 runs at a quarter of the size, where it needs 2 voxels.
    const bool padded_blocks = options.n_blocks > 0 && options.padding_type != "zero";
    for (int d = 2; d < Dim + 2; ++d) {
      VOXNN_CHECK(x.size(d) > 3, "ResnetGenerator: input has shape ", x.shape(), "; the reflection padding of 3 needs "
                  "every spatial size > 3");
      VOXNN_CHECK(!padded_blocks || x.size(d) >= 5, "ResnetGenerator: input has shape ", x.shape(), "; the ",
                  options.padding_type, " padding of the ResnetBlocks, at a quarter of the size, needs every spatial "
                  "size >= 5");
    }
    return model(x);
  }
  std::string type_name() const override { return "ResnetGenerator"; }

  const Options options;
  nn::Sequential<T, D> model{this, "model"};
};

// The names of the CycleGAN generator, as pix2pix.hpp's aliases.
template <Real T, Device D = Cpu>
using CycleGanGenerator = ResnetGenerator<2, T, D>;
template <Real T, Device D = Cpu>
using CycleGanGenerator3d = ResnetGenerator<3, T, D>;

}  // namespace voxnn::models
