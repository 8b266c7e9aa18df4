#pragma once
// pix2pix networks in 2D and 3D: the U-Net generator (UnetGenerator, built from nested
// UnetSkipConnectionBlocks) and the PatchGAN critic (NLayerDiscriminator), compatible with
// junyanz/pytorch-CycleGAN-and-pix2pix@7891385 models/networks.py:UnetGenerator, NLayerDiscriminator
// (same module tree and state_dict keys, same forward). Dim = 3 swaps in Conv3d, ConvTranspose3d,
// BatchNorm3d and InstanceNorm3d: the Vox2Vox-style 3D pix2pix (aliases Pix2PixGenerator, PatchGan in 2D,
// Pix2Pix3dGenerator, PatchGan3d in 3D).
//
//   models::UnetGenerator<2, float> g({.input_nc = 3, .output_nc = 3, .num_downs = 8});   // "unet_256"
//   models::Pix2Pix3dGenerator<float> g3({.input_nc = 1, .output_nc = 1, .num_downs = 5, .ngf = 32,
//                                         .norm = "instance", .use_dropout = true});
//   models::PatchGan3d<float> d({.input_nc = 2, .norm = "instance"});   // critic on cat([input, target])
//
// norm is the reference's get_norm_layer choice: "batch" (BatchNorm, affine, running statistics),
// "instance" (InstanceNorm without affine parameters or running statistics, as the repository's later
// get_norm_layer builds it), "instance_tracked" (InstanceNorm without affine parameters but with
// running statistics, which eval mode normalises with: what get_norm_layer('instance') builds at
// 7891385, so checkpoints of that era carry running_mean / running_var / num_batches_tracked on every
// instance norm) or "none" (Identity; 7891385 itself fails on norm 'none').
// As in the reference, convolutions followed by a norm have a bias only with an instance norm, and a
// "none" norm still occupies its Sequential index, so the names stay those of the reference.
//
// UnetGenerator names (the outermost block is `model`, each block's layers are `model.model.<k>`):
//   outermost  model.model.0 = down conv (k4 s2 p1), .1 = inner block, .2 ReLU, .3 = up conv
//              (transposed, k4 s2 p1, bias), .4 Tanh
//   middle     .0 LeakyReLU(0.2), .1 down conv, .2 norm, .3 inner block, .4 ReLU, .5 up conv, .6 norm,
//              [.7 Dropout(0.5) in the num_downs - 5 innermost middle blocks with use_dropout]
//   innermost  .0 LeakyReLU(0.2), .1 down conv, .2 ReLU, .3 up conv, .4 norm
// e.g. model.model.1.model.1.weight is the second down conv, model.model.1.model.3.model.1.weight the third.
// Channels from the top: ngf, 2 ngf, 4 ngf, then 8 ngf. Non-outermost blocks return cat([x, block(x)]).
// Every spatial size must be divisible by 2^num_downs.
//
// NLayerDiscriminator names: model.0 conv (k4 s2 p1, bias), model.1 LeakyReLU(0.2), then per layer n =
// 1 .. n_layers - 1 a conv (k4 s2 p1), norm, LeakyReLU; then a stride-1 conv, norm, LeakyReLU, the
// stride-1 conv to 1 channel (bias), and Sigmoid with use_sigmoid. Channels ndf * min(2^n, 8).
//
// Differences from the reference: initialisation is PyTorch's default (the reference's init_net
// redraws conv weights from N(0, 0.02); do that with apply() and nn::init::normal_ if you train from
// scratch); num_downs < 5 is an error (the reference silently builds 5 levels); use_sigmoid is kept
// (the commit read has it; later versions dropped it and use the GAN loss on logits).
#include <cstdint>
#include <string>
#include <vector>

#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/nn/activation.hpp"
#include "voxnn/nn/container.hpp"
#include "voxnn/nn/conv.hpp"
#include "voxnn/nn/dropout.hpp"
#include "voxnn/nn/identity.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/norm.hpp"

namespace voxnn::models {

namespace gan_detail {

inline void check_norm(const char* model, const std::string& norm) {
  VOXNN_CHECK(norm == "batch" || norm == "instance" || norm == "instance_tracked" || norm == "none", model,
              ": norm must be batch, instance, instance_tracked or none, got '", norm, "'");
}
// The reference's use_bias rule: only an instance norm lets the preceding conv keep its bias.
inline bool use_bias(const std::string& norm) { return norm == "instance" || norm == "instance_tracked"; }

// Appends the reference's norm_layer(channels) to seq.
template <int Dim, Real T, Device D>
void add_norm(nn::Sequential<T, D>& seq, const std::string& norm, int64_t channels) {
  if (norm == "batch")
    seq.template emplace_back<nn::BatchNormNd<Dim, T, D>>(nn::BatchNormOptions{.num_features = channels});
  else if (norm == "instance" || norm == "instance_tracked")
    seq.template emplace_back<nn::InstanceNormNd<Dim, T, D>>(nn::InstanceNormOptions{
        .num_features = channels, .track_running_stats = norm == "instance_tracked"});
  else
    seq.template emplace_back<nn::Identity<T, D>>();
}

template <int Dim, Real T, Device D>
void add_conv(nn::Sequential<T, D>& seq, int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
              bool bias) {
  seq.template emplace_back<nn::ConvNd<Dim, T, D>>(nn::ConvOptions<Dim>{
      .in_channels = in, .out_channels = out, .kernel_size = kernel, .stride = stride, .padding = padding, .bias = bias});
}

template <Real T, Device D>
void add_leaky_relu(nn::Sequential<T, D>& seq) {
  seq.template emplace_back<nn::LeakyReLU<T, D>>(nn::LeakyReLUOptions{.negative_slope = 0.2});
}

// x has Dim + 2 dims and `channels` channels.
template <int Dim>
void check_input(const char* model, const Shape& s, int64_t channels) {
  VOXNN_CHECK(s.size() == static_cast<std::size_t>(Dim + 2), model, ": input has ", s.size(), " dims ", s,
              "; expected ", Dim + 2, Dim == 2 ? " (N, C, H, W)" : " (N, C, D, H, W)");
  VOXNN_CHECK(s[1] == channels, model, ": input ", s, " has ", s[1], " channels; expected input_nc = ", channels);
}

}  // namespace gan_detail

// ---- U-Net generator ----------------------------------------------------------------------------------

struct UnetSkipConnectionBlockOptions {
  int64_t outer_nc = 0;
  int64_t inner_nc = 0;
  int64_t input_nc = -1;  // the reference's None: outer_nc
  bool outermost = false;
  bool innermost = false;
  std::string norm = "batch";
  bool use_dropout = false;
};

template <int Dim, Real T, Device D = Cpu>
class UnetSkipConnectionBlock : public nn::Module<T, D> {
  static_assert(Dim == 2 || Dim == 3, "UnetSkipConnectionBlock: 2 or 3 spatial dims");

 public:
  using Options = UnetSkipConnectionBlockOptions;

  // levels[0] configures this block, levels[1] its submodule, and so on down to the innermost block.
  explicit UnetSkipConnectionBlock(std::vector<Options> levels) : UnetSkipConnectionBlock(nullptr, "", std::move(levels)) {}
  UnetSkipConnectionBlock(nn::Module<T, D>* parent, std::string name, std::vector<Options> levels)
      : nn::Module<T, D>(parent, std::move(name)), options(checked(levels)) {
    const Options& o = options;
    const int64_t input_nc = o.input_nc < 0 ? o.outer_nc : o.input_nc;
    const bool bias = gan_detail::use_bias(o.norm);
    auto up_conv = [&](int64_t in, bool with_bias) {
      model.template emplace_back<nn::ConvTransposeNd<Dim, T, D>>(nn::ConvTransposeOptions<Dim>{
          .in_channels = in, .out_channels = o.outer_nc, .kernel_size = 4, .stride = 2, .padding = 1, .bias = with_bias});
    };
    auto submodule = [&] {
      model.template emplace_back<UnetSkipConnectionBlock>(std::vector<Options>(levels.begin() + 1, levels.end()));
    };
    if (o.outermost) {
      gan_detail::add_conv<Dim>(model, input_nc, o.inner_nc, 4, 2, 1, bias);
      submodule();
      model.template emplace_back<nn::ReLU<T, D>>();
      up_conv(o.inner_nc * 2, true);
      model.template emplace_back<nn::Tanh<T, D>>();
    } else if (o.innermost) {
      gan_detail::add_leaky_relu(model);
      gan_detail::add_conv<Dim>(model, input_nc, o.inner_nc, 4, 2, 1, bias);
      model.template emplace_back<nn::ReLU<T, D>>();
      up_conv(o.inner_nc, bias);
      gan_detail::add_norm<Dim>(model, o.norm, o.outer_nc);
    } else {
      gan_detail::add_leaky_relu(model);
      gan_detail::add_conv<Dim>(model, input_nc, o.inner_nc, 4, 2, 1, bias);
      gan_detail::add_norm<Dim>(model, o.norm, o.inner_nc);
      submodule();
      model.template emplace_back<nn::ReLU<T, D>>();
      up_conv(o.inner_nc * 2, bias);
      gan_detail::add_norm<Dim>(model, o.norm, o.outer_nc);
      if (o.use_dropout) model.template emplace_back<nn::Dropout<T, D>>(nn::DropoutOptions{.p = 0.5});
    }
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    if (options.outermost) return model(x);
    return cat<T, D>({x, model(x)}, 1);
  }
  std::string type_name() const override { return "UnetSkipConnectionBlock"; }

  const Options options;
  nn::Sequential<T, D> model{this, "model"};

 private:
  static const Options& checked(const std::vector<Options>& levels) {
    VOXNN_CHECK(!levels.empty(), "UnetSkipConnectionBlock: no level options");
    const Options& o = levels.front();
    VOXNN_CHECK(o.outer_nc > 0 && o.inner_nc > 0, "UnetSkipConnectionBlock: outer_nc and inner_nc must be positive, got ",
                o.outer_nc, " and ", o.inner_nc);
    VOXNN_CHECK(!(o.outermost && o.innermost), "UnetSkipConnectionBlock: a block cannot be outermost and innermost");
    VOXNN_CHECK(o.innermost == (levels.size() == 1), "UnetSkipConnectionBlock: the innermost block must be the last "
                "level (got ", levels.size(), " levels, innermost = ", o.innermost, ")");
    gan_detail::check_norm("UnetSkipConnectionBlock", o.norm);
    return o;
  }
};

struct UnetGeneratorOptions {
  int64_t input_nc = 3;
  int64_t output_nc = 3;
  int64_t num_downs = 8;  // pix2pix's "unet_256"; "unet_128" is 7
  int64_t ngf = 64;
  std::string norm = "batch";
  bool use_dropout = false;  // pix2pix trains with dropout on (its --no_dropout is off)
};

template <int Dim, Real T, Device D = Cpu>
class UnetGenerator : public nn::Module<T, D> {
  static_assert(Dim == 2 || Dim == 3, "UnetGenerator: 2 or 3 spatial dims");

 public:
  using Options = UnetGeneratorOptions;

  explicit UnetGenerator(const Options& o = {}) : UnetGenerator(nullptr, "", o) {}
  UnetGenerator(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : nn::Module<T, D>(parent, std::move(name)), options(o), model(this, "model", levels(o)) {}

  Var<T, D> forward(const Var<T, D>& x) override {
    gan_detail::check_input<Dim>("UnetGenerator", x.shape(), options.input_nc);
    const int64_t m = int64_t{1} << options.num_downs;
    for (int d = 2; d < Dim + 2; ++d)
      VOXNN_CHECK(x.size(d) % m == 0, "UnetGenerator: input has shape ", x.shape(), "; each spatial size must be a ",
                  "multiple of ", m, " (2^num_downs, num_downs = ", options.num_downs, ")");
    return model(x);
  }
  std::string type_name() const override { return "UnetGenerator"; }

  const Options options;
  UnetSkipConnectionBlock<Dim, T, D> model;

 private:
  // The reference's nesting, outermost first.
  static std::vector<UnetSkipConnectionBlockOptions> levels(const Options& o) {
    VOXNN_CHECK(o.input_nc > 0 && o.output_nc > 0 && o.ngf > 0, "UnetGenerator: input_nc, output_nc and ngf must be "
                "positive, got ", o.input_nc, ", ", o.output_nc, " and ", o.ngf);
    VOXNN_CHECK(o.num_downs >= 5 && o.num_downs <= 30, "UnetGenerator: num_downs must be in [5, 30] (the reference "
                "builds 5 levels for any smaller value), got ", o.num_downs);
    gan_detail::check_norm("UnetGenerator", o.norm);
    const int64_t g = o.ngf;
    std::vector<UnetSkipConnectionBlockOptions> out = {
        {.outer_nc = o.output_nc, .inner_nc = g, .input_nc = o.input_nc, .outermost = true, .norm = o.norm},
        {.outer_nc = g, .inner_nc = 2 * g, .norm = o.norm},
        {.outer_nc = 2 * g, .inner_nc = 4 * g, .norm = o.norm},
        {.outer_nc = 4 * g, .inner_nc = 8 * g, .norm = o.norm}};
    for (int64_t i = 0; i < o.num_downs - 5; ++i)
      out.push_back({.outer_nc = 8 * g, .inner_nc = 8 * g, .norm = o.norm, .use_dropout = o.use_dropout});
    out.push_back({.outer_nc = 8 * g, .inner_nc = 8 * g, .innermost = true, .norm = o.norm});
    return out;
  }
};

// ---- PatchGAN critic ----------------------------------------------------------------------------------

struct NLayerDiscriminatorOptions {
  int64_t input_nc = 3;  // pix2pix's critic sees cat([input, output]): input_nc + output_nc
  int64_t ndf = 64;
  int64_t n_layers = 3;  // 3: the 70x70 PatchGAN ("basic")
  std::string norm = "batch";
  bool use_sigmoid = false;
};

template <int Dim, Real T, Device D = Cpu>
class NLayerDiscriminator : public nn::Module<T, D> {
  static_assert(Dim == 2 || Dim == 3, "NLayerDiscriminator: 2 or 3 spatial dims");

 public:
  using Options = NLayerDiscriminatorOptions;

  explicit NLayerDiscriminator(const Options& o = {}) : NLayerDiscriminator(nullptr, "", o) {}
  NLayerDiscriminator(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : nn::Module<T, D>(parent, std::move(name)), options(o) {
    VOXNN_CHECK(o.input_nc > 0 && o.ndf > 0, "NLayerDiscriminator: input_nc and ndf must be positive, got ", o.input_nc,
                " and ", o.ndf);
    VOXNN_CHECK(o.n_layers >= 0 && o.n_layers <= 30, "NLayerDiscriminator: n_layers must be in [0, 30], got ",
                o.n_layers);
    gan_detail::check_norm("NLayerDiscriminator", o.norm);
    const bool bias = gan_detail::use_bias(o.norm);
    auto mult = [](int64_t n) { return n >= 3 ? int64_t{8} : int64_t{1} << n; };
    gan_detail::add_conv<Dim>(model, o.input_nc, o.ndf, 4, 2, 1, true);
    gan_detail::add_leaky_relu(model);
    for (int64_t n = 1; n < o.n_layers; ++n) {
      gan_detail::add_conv<Dim>(model, o.ndf * mult(n - 1), o.ndf * mult(n), 4, 2, 1, bias);
      gan_detail::add_norm<Dim>(model, o.norm, o.ndf * mult(n));
      gan_detail::add_leaky_relu(model);
    }
    const int64_t prev = o.n_layers >= 1 ? mult(o.n_layers - 1) : 1;
    gan_detail::add_conv<Dim>(model, o.ndf * prev, o.ndf * mult(o.n_layers), 4, 1, 1, bias);
    gan_detail::add_norm<Dim>(model, o.norm, o.ndf * mult(o.n_layers));
    gan_detail::add_leaky_relu(model);
    gan_detail::add_conv<Dim>(model, o.ndf * mult(o.n_layers), 1, 4, 1, 1, true);
    if (o.use_sigmoid) model.template emplace_back<nn::Sigmoid<T, D>>();
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    gan_detail::check_input<Dim>("NLayerDiscriminator", x.shape(), options.input_nc);
    return model(x);
  }
  std::string type_name() const override { return "NLayerDiscriminator"; }

  const Options options;
  nn::Sequential<T, D> model{this, "model"};
};

template <Real T, Device D = Cpu>
using Pix2PixGenerator = UnetGenerator<2, T, D>;
template <Real T, Device D = Cpu>
using PatchGan = NLayerDiscriminator<2, T, D>;
template <Real T, Device D = Cpu>
using Pix2Pix3dGenerator = UnetGenerator<3, T, D>;
template <Real T, Device D = Cpu>
using PatchGan3d = NLayerDiscriminator<3, T, D>;

}  // namespace voxnn::models
