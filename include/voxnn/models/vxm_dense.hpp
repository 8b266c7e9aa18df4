#pragma once
// VoxelMorph's dense registration network (Balakrishnan et al. 2019) and its U-Net, built from voxnn's
// modules, matching voxelmorph/voxelmorph@ca28315 voxelmorph/torch/networks.py:VxmDense (with Unet
// and ConvBlock there, and torch/layers.py for the registration layers; the PyPI voxelmorph 0.2 has
// the same two files):
//
//   models::VxmDense<float> net({.inshape = {160, 192, 224}});   // voxelmorph's defaults
//   auto [moved, flow] = net.register_pair(source, target);      // forward(..., registration=True)
//   auto out = net(source, target);   // everything: y_source, y_target, preint_flow, pos_flow, neg_flow
//
// VxmUnet: the encoder level l is nb_conv_per_level ConvBlocks (Conv k3 s1 p1 with bias, then
// LeakyReLU 0.2), then max pooling by max_pool[l]; the decoder level l is its ConvBlocks, then
// nearest upsampling by max_pool[l] (the decoder indexes max_pool by its own level, as the reference
// does) and concatenation [x, skip]; then the remaining full-resolution ConvBlocks. half_res skips the
// last decoder upsampling and its concatenation. Parameter names, as the reference's state_dict:
//   encoder.<level>.<conv>.main.{weight,bias}, decoder.<level>.<conv>.main.*, remaining.<i>.main.*
// (the activations are children without parameters; the pooling and upsampling layers are not
// children, since the reference keeps them in plain Python lists).
//
// VxmDense: unet_model.*, then flow.{weight,bias} (Conv k3 p1, final_nf -> ndims), then the derived
// buffers integrate.transformer.grid (when int_steps > 0) and transformer.grid. resize and fullsize
// (ResizeTransform, no state) exist when voxelmorph creates them and are absent otherwise, as the
// reference's None attributes are. The grids are nn::BufferKind::derived: saved like the reference,
// optional when loading. forward: concat [source, target] -> unet -> flow -> resize (by
// 1 / int_downsize) -> preint_flow -> integrate (scaling and squaring) -> fullsize -> pos_flow ->
// warp source; with bidir the negated pre-integration flow takes the same path to neg_flow and warps
// target.
//
// Initialisation: every parameter is drawn from one generator, in state_dict order: the U-Net
// convolutions with PyTorch's default formulas, the flow weight N(0, 1e-5) and a zero flow bias, as
// voxelmorph re-initialises it. The generator is Generator(seed) with a seed, otherwise one seeded
// from default_generator() (so manual_seed() decides, as for every other model).
//
// Differences from the reference: use_probs = true throws (voxelmorph raises NotImplementedError for
// it in PyTorch too); 1-D inputs are supported by VxmUnet but not by VxmDense (voxelmorph's
// SpatialTransformer cannot warp them either); configurations whose shapes could never meet (an
// inshape that the poolings or int_downsize do not divide, unet_half_res without int_downsize 2) are
// rejected at construction rather than failing inside the first forward; a negative int_steps is an
// error (voxelmorph treats it as 0); a max_pool list of one value applies to every level.
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/functions/interpolate.hpp"
#include "voxnn/autograd/functions/pool.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/nn/activation.hpp"
#include "voxnn/nn/container.hpp"
#include "voxnn/nn/conv.hpp"
#include "voxnn/nn/init.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/spatial_transformer.hpp"

namespace voxnn::models {

// voxelmorph's nb_features: [[encoder features], [decoder features]], or a single integer (then
// nb_levels and feat_mult build the lists). The default is voxelmorph's default_unet_features().
struct VxmUnetFeatures {
  std::vector<int64_t> encoder{16, 32, 32, 32};
  std::vector<int64_t> decoder{32, 32, 32, 32, 32, 16, 16};
  std::optional<int64_t> base{};  // the integer form (must be positive): encoder / decoder are ignored

  VxmUnetFeatures() = default;
  VxmUnetFeatures(int64_t n) : encoder(), decoder(), base(n) {}  // NOLINT: implicit, so `.nb_features = 8` works
  VxmUnetFeatures(std::vector<int64_t> enc, std::vector<int64_t> dec)
      : encoder(std::move(enc)), decoder(std::move(dec)) {}
  bool is_integer() const { return base.has_value(); }
};

struct VxmUnetOptions {
  std::vector<int64_t> inshape;            // spatial size; only its length (1, 2 or 3 dims) matters
  int64_t infeats = 0;                     // input channels (required)
  VxmUnetFeatures nb_features = {};        // [[enc], [dec]] or an integer with nb_levels
  std::optional<int64_t> nb_levels{};      // only with an integer nb_features
  std::vector<int64_t> max_pool{2};        // one value for every level, or one per level
  double feat_mult = 1;                    // per-level multiplier of an integer nb_features
  int64_t nb_conv_per_level = 1;
  bool half_res = false;                   // skip the last decoder upsampling
  std::optional<uint64_t> seed{};          // voxnn: the convolutions' generator (none: manual_seed's)
};

struct VxmDenseOptions {
  std::vector<int64_t> inshape;              // spatial size (H, W) or (D, H, W) (required)
  VxmUnetFeatures nb_unet_features = {};
  std::optional<int64_t> nb_unet_levels{};
  double unet_feat_mult = 1;
  int64_t nb_unet_conv_per_level = 1;
  int64_t int_steps = 7;                     // scaling and squaring steps; 0: no integration
  int64_t int_downsize = 2;                  // integrate at 1 / int_downsize resolution
  bool bidir = false;
  bool use_probs = false;                    // not supported (as in voxelmorph's PyTorch backend)
  int64_t src_feats = 1;
  int64_t trg_feats = 1;
  bool unet_half_res = false;
  std::optional<uint64_t> seed{};            // voxnn: every parameter's generator (none: manual_seed's)
};

namespace vxm_detail {

inline std::string list_text(const std::vector<int64_t>& v) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ']';
  return os.str();
}

// A Conv1d/2d/3d chosen at run time, with handles on its parameters.
template <Real T, Device D>
struct AnyConv {
  std::unique_ptr<nn::Module<T, D>> module;
  Var<T, D>* weight = nullptr;
  Var<T, D>* bias = nullptr;
};

template <int N, Real T, Device D>
AnyConv<T, D> make_conv_n(nn::Module<T, D>* parent, const std::string& name, int64_t in, int64_t out, int64_t stride) {
  auto conv = std::make_unique<nn::ConvNd<N, T, D>>(
      parent, name, nn::ConvOptions<N>{.in_channels = in, .out_channels = out, .kernel_size = 3, .stride = stride,
                                      .padding = 1});
  AnyConv<T, D> c;
  c.weight = &conv->weight;
  c.bias = &conv->bias;
  c.module = std::move(conv);
  return c;
}

template <Real T, Device D>
AnyConv<T, D> make_conv(nn::Module<T, D>* parent, const std::string& name, int ndims, int64_t in, int64_t out,
                        int64_t stride = 1) {
  if (ndims == 1) return make_conv_n<1>(parent, name, in, out, stride);
  if (ndims == 2) return make_conv_n<2>(parent, name, in, out, stride);
  return make_conv_n<3>(parent, name, in, out, stride);
}

template <Real T, Device D>
Var<T, D> max_pool_nd(const Var<T, D>& x, int ndims, int64_t s) {
  if (ndims == 1) return max_pool<1>(x, ExpandingArray<1>(s));
  if (ndims == 2) return max_pool<2>(x, ExpandingArray<2>(s));
  return max_pool<3>(x, ExpandingArray<3>(s));
}

// PyTorch's default Conv init, drawn from gen.
template <Real T, Device D>
void default_init(AnyConv<T, D>& c, Generator& gen) {
  nn::init::default_weight_(c.weight->mutable_value(), gen);
  nn::init::default_bias_(c.bias->mutable_value(), c.weight->shape(), gen);
}

}  // namespace vxm_detail

// voxelmorph's ConvBlock: `main` (Conv k3, stride, padding 1) then `activation` (LeakyReLU 0.2).
template <Real T, Device D = Cpu>
class VxmConvBlock : public nn::Module<T, D> {
 public:
  VxmConvBlock(nn::Module<T, D>* parent, std::string name, int ndims, int64_t in_channels, int64_t out_channels,
               int64_t stride = 1)
      : nn::Module<T, D>(parent, std::move(name)),
        conv_(vxm_detail::make_conv<T, D>(this, "main", ndims, in_channels, out_channels, stride)),
        activation(this, "activation", {.negative_slope = 0.2}) {}

  Var<T, D> forward(const Var<T, D>& x) override { return activation.forward(conv_.module->forward(x)); }
  std::string type_name() const override { return "ConvBlock"; }

  nn::Module<T, D>& main() const { return *conv_.module; }
  Var<T, D>& weight() { return *conv_.weight; }
  Var<T, D>& bias() { return *conv_.bias; }
  void reset_parameters(Generator& gen) { vxm_detail::default_init(conv_, gen); }

 private:
  vxm_detail::AnyConv<T, D> conv_;

 public:
  nn::LeakyReLU<T, D> activation;
};

// voxelmorph's Unet.
template <Real T, Device D = Cpu>
class VxmUnet : public nn::Module<T, D> {
 public:
  using Options = VxmUnetOptions;

  // The resolved configuration: per-conv features and per-level pooling.
  struct Plan {
    int ndims = 0;
    int64_t nb_levels = 0;
    std::vector<int64_t> enc_nf, dec_nf, final_convs, max_pool;
  };

  const Options options;

 private:
  Plan plan_;  // before the children, so that a bad configuration throws before anything is built

 public:
  nn::ModuleList<T, D> encoder, decoder, remaining;

  explicit VxmUnet(const Options& o = {}) : VxmUnet(nullptr, "", o) {}
  VxmUnet(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : nn::Module<T, D>(parent, std::move(name)),
        options(o),
        plan_(make_plan(o)),
        encoder(this, "encoder"),
        decoder(this, "decoder"),
        remaining(this, "remaining") {
    const int nd = plan_.ndims;
    const int64_t cpl = o.nb_conv_per_level;
    const int64_t levels = plan_.nb_levels;
    int64_t prev_nf = o.infeats;
    std::vector<int64_t> encoder_nfs{prev_nf};
    for (int64_t level = 0; level < levels - 1; ++level) {
      auto& convs = encoder.template emplace_back<nn::ModuleList<T, D>>();
      for (int64_t c = 0; c < cpl; ++c) {
        const int64_t nf = plan_.enc_nf[static_cast<std::size_t>(level * cpl + c)];
        blocks_.push_back(&convs.template emplace_back<VxmConvBlock<T, D>>(nd, prev_nf, nf));
        prev_nf = nf;
      }
      encoder_nfs.push_back(prev_nf);
    }
    for (int64_t level = 0; level < levels - 1; ++level) {
      auto& convs = decoder.template emplace_back<nn::ModuleList<T, D>>();
      for (int64_t c = 0; c < cpl; ++c) {
        const int64_t nf = plan_.dec_nf[static_cast<std::size_t>(level * cpl + c)];
        blocks_.push_back(&convs.template emplace_back<VxmConvBlock<T, D>>(nd, prev_nf, nf));
        prev_nf = nf;
      }
      if (upsamples(level)) prev_nf += encoder_nfs[encoder_nfs.size() - 1 - static_cast<std::size_t>(level)];
    }
    for (int64_t nf : plan_.final_convs) {
      blocks_.push_back(&remaining.template emplace_back<VxmConvBlock<T, D>>(nd, prev_nf, nf));
      prev_nf = nf;
    }
    final_nf_ = prev_nf;
    Generator gen = generator_from(o.seed);
    reset_parameters(gen);
  }

  // Channels of the output (voxelmorph's final_nf).
  int64_t final_nf() const { return final_nf_; }
  int64_t nb_levels() const { return plan_.nb_levels; }
  const Plan& plan() const { return plan_; }

  // Redraws every convolution from gen with PyTorch's default formulas, in parameter order.
  void reset_parameters(Generator& gen) {
    for (VxmConvBlock<T, D>* b : blocks_) b->reset_parameters(gen);
  }

  Var<T, D> forward(const Var<T, D>& input) override {
    const int nd = plan_.ndims;
    VOXNN_CHECK(input.dim() == nd + 2 && input.shape()[1] == options.infeats, "VxmUnet: input has shape ",
                input.shape(), "; expected [N, ", options.infeats, ", ", nd, " spatial dims] (infeats = ",
                options.infeats, ")");
    output_spatial(options, spatial_of(input.shape()));  // throws when the levels cannot meet
    const int64_t cpl = options.nb_conv_per_level;
    const int64_t levels = plan_.nb_levels;
    std::size_t b = 0;
    Var<T, D> x = input;
    std::vector<Var<T, D>> history;
    for (int64_t level = 0; level < levels - 1; ++level) {
      for (int64_t c = 0; c < cpl; ++c) x = blocks_[b++]->forward(x);
      history.push_back(x);
      x = vxm_detail::max_pool_nd(x, nd, plan_.max_pool[static_cast<std::size_t>(level)]);
    }
    for (int64_t level = 0; level < levels - 1; ++level) {
      for (int64_t c = 0; c < cpl; ++c) x = blocks_[b++]->forward(x);
      if (upsamples(level)) {
        const double s = static_cast<double>(plan_.max_pool[static_cast<std::size_t>(level)]);
        x = interpolate(x, InterpolateOptions{.scale_factor = s, .mode = "nearest"});
        x = cat<T, D>({x, history.back()}, 1);
        history.pop_back();
      }
    }
    for (; b < blocks_.size(); ++b) x = blocks_[b]->forward(x);
    return x;
  }
  std::string type_name() const override { return "Unet"; }

  // Validates o and resolves its features as voxelmorph does.
  static Plan make_plan(const Options& o) {
    Plan p;
    p.ndims = static_cast<int>(o.inshape.size());
    VOXNN_CHECK(p.ndims >= 1 && p.ndims <= 3, "VxmUnet: inshape ", vxm_detail::list_text(o.inshape),
                " has ", p.ndims, " dims; expected 1, 2 or 3");
    VOXNN_CHECK(o.infeats > 0, "VxmUnet: infeats must be positive, got ", o.infeats);
    const int64_t cpl = o.nb_conv_per_level;
    VOXNN_CHECK(cpl >= 1, "VxmUnet: nb_conv_per_level must be at least 1, got ", cpl);
    const VxmUnetFeatures& f = o.nb_features;
    VOXNN_CHECK(!f.is_integer() || *f.base > 0, "VxmUnet: nb_features must be positive, got ", f.base.value_or(0));
    std::vector<int64_t> enc, dec;
    if (f.is_integer()) {
      VOXNN_CHECK(o.nb_levels.has_value(), "VxmUnet: nb_levels is required when nb_features is an integer (",
                  *f.base, ")");
      const int64_t levels = *o.nb_levels;
      VOXNN_CHECK(levels >= 1, "VxmUnet: nb_levels must be at least 1, got ", levels);
      VOXNN_CHECK(o.feat_mult > 0 && std::isfinite(o.feat_mult), "VxmUnet: feat_mult must be positive and finite, got ",
                  o.feat_mult);
      std::vector<int64_t> feats;
      for (int64_t l = 0; l < levels; ++l) {
        // np.round: half to even, which nearbyint does in the default rounding mode
        const double v = std::nearbyint(static_cast<double>(*f.base) * std::pow(o.feat_mult, static_cast<double>(l)));
        VOXNN_CHECK(v >= 1 && v < 1e9, "VxmUnet: nb_features ", *f.base, " with feat_mult ", o.feat_mult,
                    " gives ", v, " features at level ", l);
        feats.push_back(static_cast<int64_t>(v));
      }
      for (int64_t l = 0; l + 1 < levels; ++l)
        for (int64_t c = 0; c < cpl; ++c) enc.push_back(feats[static_cast<std::size_t>(l)]);
      for (int64_t l = levels - 1; l >= 0; --l)
        for (int64_t c = 0; c < cpl; ++c) dec.push_back(feats[static_cast<std::size_t>(l)]);
    } else {
      VOXNN_CHECK(!o.nb_levels.has_value(), "VxmUnet: nb_levels (", o.nb_levels.value_or(0),
                  ") can only be given with an integer nb_features");
      enc = f.encoder;
      dec = f.decoder;
      for (int64_t v : enc)
        VOXNN_CHECK(v > 0, "VxmUnet: encoder features ", vxm_detail::list_text(enc), " must be positive");
      for (int64_t v : dec)
        VOXNN_CHECK(v > 0, "VxmUnet: decoder features ", vxm_detail::list_text(dec), " must be positive");
    }
    const auto nb_dec_convs = static_cast<int64_t>(enc.size());
    p.nb_levels = nb_dec_convs / cpl + 1;
    const int64_t used = (p.nb_levels - 1) * cpl;
    VOXNN_CHECK(static_cast<int64_t>(dec.size()) >= used, "VxmUnet: decoder features ", vxm_detail::list_text(dec),
                " are too few: ", p.nb_levels - 1, " levels of ", cpl, " convolutions need ", used);
    p.enc_nf = enc;
    p.dec_nf.assign(dec.begin(), dec.begin() + std::min<int64_t>(nb_dec_convs, static_cast<int64_t>(dec.size())));
    if (static_cast<int64_t>(dec.size()) > nb_dec_convs) p.final_convs.assign(dec.begin() + nb_dec_convs, dec.end());
    VOXNN_CHECK(o.max_pool.size() == 1 || static_cast<int64_t>(o.max_pool.size()) >= p.nb_levels - 1,
                "VxmUnet: max_pool ", vxm_detail::list_text(o.max_pool), " needs one value or one per pooling (",
                p.nb_levels - 1, ")");
    for (int64_t s : o.max_pool) VOXNN_CHECK(s >= 1, "VxmUnet: max_pool ", vxm_detail::list_text(o.max_pool), " must be positive");
    p.max_pool = o.max_pool.size() == 1 ? std::vector<int64_t>(static_cast<std::size_t>(p.nb_levels), o.max_pool[0])
                                        : o.max_pool;
    return p;
  }

  // The spatial size of the output for an input of spatial size `in` (half_res: after the last pooling
  // level's upsampling is skipped); throws when the poolings do not divide it.
  static std::vector<int64_t> output_spatial(const Options& o, const std::vector<int64_t>& in) {
    const Plan p = make_plan(o);
    std::vector<std::vector<int64_t>> sizes{in};
    for (int64_t level = 0; level + 1 < p.nb_levels; ++level) {
      const int64_t s = p.max_pool[static_cast<std::size_t>(level)];
      std::vector<int64_t> next;
      for (int64_t n : sizes.back()) {
        VOXNN_CHECK(n / s >= 1, "VxmUnet: spatial size ", vxm_detail::list_text(in), " is too small for ",
                    p.nb_levels - 1, " poolings by ", vxm_detail::list_text(p.max_pool));
        next.push_back(n / s);
      }
      sizes.push_back(next);
    }
    std::vector<int64_t> x = sizes.back();
    for (int64_t level = 0; level + 1 < p.nb_levels; ++level) {
      if (o.half_res && level == p.nb_levels - 2) break;
      const int64_t s = p.max_pool[static_cast<std::size_t>(level)];
      const std::vector<int64_t>& skip = sizes[sizes.size() - 2 - static_cast<std::size_t>(level)];
      for (std::size_t i = 0; i < x.size(); ++i) x[i] *= s;
      VOXNN_CHECK(x == skip, "VxmUnet: spatial size ", vxm_detail::list_text(in), " must be divisible by the poolings ",
                  vxm_detail::list_text(std::vector<int64_t>(p.max_pool.begin(), p.max_pool.begin() + (p.nb_levels - 1))),
                  ": decoder level ", level, " upsamples to ", vxm_detail::list_text(x), " but its skip connection is ",
                  vxm_detail::list_text(skip));
    }
    return x;
  }

 private:
  bool upsamples(int64_t level) const { return !options.half_res || level < plan_.nb_levels - 2; }
  static std::vector<int64_t> spatial_of(const Shape& s) { return std::vector<int64_t>(s.begin() + 2, s.end()); }

  std::vector<VxmConvBlock<T, D>*> blocks_;  // encoder, decoder, remaining, in order
  int64_t final_nf_ = 0;
};

// Everything voxelmorph's forward computes (bidir-only fields are empty Vars otherwise).
template <Real T, Device D = Cpu>
struct VxmDenseOutput {
  Var<T, D> y_source;     // source warped by pos_flow: the moved image
  Var<T, D> y_target;     // bidir: target warped by neg_flow
  Var<T, D> preint_flow;  // the flow before integration (after downsizing): voxelmorph's training output
  Var<T, D> pos_flow;     // the displacement that warps source onto target: registration=True's flow
  Var<T, D> neg_flow;     // bidir: the displacement of the inverse direction
};

// voxelmorph's forward(source, target, registration=True): (y_source, pos_flow).
template <Real T, Device D = Cpu>
struct VxmDenseRegistration {
  Var<T, D> moved, flow;
};

template <Real T, Device D = Cpu>
class VxmDense : public nn::Module<T, D> {
 public:
  using Options = VxmDenseOptions;

  const Options options;
  VxmUnet<T, D> unet_model;
  // Present as in the reference: resize, fullsize and integrate are null where voxelmorph has None.
  std::unique_ptr<nn::ResizeTransform<T, D>> resize, fullsize;
  std::unique_ptr<nn::VecInt<T, D>> integrate;
  std::unique_ptr<nn::SpatialTransformer<T, D>> transformer;

  explicit VxmDense(const Options& o = {}) : VxmDense(nullptr, "", o) {}
  VxmDense(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : nn::Module<T, D>(parent, std::move(name)), options(checked(o)), unet_model(this, "unet_model", unet_options(o)) {
    const int nd = static_cast<int>(o.inshape.size());
    flow_ = vxm_detail::make_conv<T, D>(this, "flow", nd, unet_model.final_nf(), nd);
    const std::vector<int64_t> down = down_shape(o);
    if (!o.unet_half_res && o.int_steps > 0 && o.int_downsize > 1)
      resize = std::make_unique<nn::ResizeTransform<T, D>>(
          this, "resize", nn::ResizeTransformOptions{.vel_resize = static_cast<double>(o.int_downsize), .ndims = nd});
    if (o.int_steps > 0 && o.int_downsize > 1)
      fullsize = std::make_unique<nn::ResizeTransform<T, D>>(
          this, "fullsize",
          nn::ResizeTransformOptions{.vel_resize = 1.0 / static_cast<double>(o.int_downsize), .ndims = nd});
    if (o.int_steps > 0)
      integrate = std::make_unique<nn::VecInt<T, D>>(this, "integrate",
                                                     nn::VecIntOptions{.inshape = down, .nsteps = o.int_steps});
    transformer = std::make_unique<nn::SpatialTransformer<T, D>>(this, "transformer",
                                                                 nn::SpatialTransformerOptions{.size = o.inshape});
    check_field_path();
    Generator gen = generator_from(o.seed);
    reset_parameters(gen);
  }

  nn::Module<T, D>& flow() const { return *flow_.module; }
  Var<T, D>& flow_weight() { return *flow_.weight; }
  Var<T, D>& flow_bias() { return *flow_.bias; }

  // Redraws every parameter from gen: the U-Net as PyTorch's defaults, the flow layer as voxelmorph's
  // N(0, 1e-5) weight and zero bias.
  void reset_parameters(Generator& gen) {
    unet_model.reset_parameters(gen);
    nn::init::normal_(flow_.weight->mutable_value(), 0.0, 1e-5, gen);
    nn::init::zeros_(flow_.bias->mutable_value());
  }

  // voxelmorph's forward: every intermediate (training returns y_source, [y_target,] preint_flow).
  VxmDenseOutput<T, D> forward(const Var<T, D>& source, const Var<T, D>& target) { return run(source, target, true); }
  VxmDenseOutput<T, D> operator()(const Var<T, D>& source, const Var<T, D>& target) { return forward(source, target); }
  // forward(source, target, registration=True): the moved source and pos_flow (the bidir inverse is
  // not computed: it is not returned).
  VxmDenseRegistration<T, D> register_pair(const Var<T, D>& source, const Var<T, D>& target) {
    VxmDenseOutput<T, D> out = run(source, target, false);
    return {out.y_source, out.pos_flow};
  }
  using nn::Module<T, D>::forward;  // the single-input forward, which throws: VxmDense takes two inputs
  using nn::Module<T, D>::operator();
  std::string type_name() const override { return "VxmDense"; }

 private:
  static const Options& checked(const Options& o) {
    const int nd = static_cast<int>(o.inshape.size());
    VOXNN_CHECK(nd == 2 || nd == 3, "VxmDense: inshape ", vxm_detail::list_text(o.inshape), " has ", nd,
                " dims; expected 2 (H, W) or 3 (D, H, W) (1-D fields cannot be warped, in voxelmorph either)");
    for (int64_t s : o.inshape)
      VOXNN_CHECK(s >= 2, "VxmDense: inshape ", vxm_detail::list_text(o.inshape), " must be at least 2 in every dim");
    VOXNN_CHECK(!o.use_probs, "VxmDense: use_probs = true is not supported: the flow variance is not implemented "
                "(voxelmorph's PyTorch VxmDense raises NotImplementedError for it too)");
    VOXNN_CHECK(o.int_steps >= 0 && o.int_steps < 64, "VxmDense: int_steps must be in [0, 64), got ", o.int_steps);
    VOXNN_CHECK(o.int_downsize >= 1, "VxmDense: int_downsize must be at least 1, got ", o.int_downsize);
    if (o.int_steps > 0)
      for (int64_t s : o.inshape)
        VOXNN_CHECK(s / o.int_downsize >= 2, "VxmDense: inshape ", vxm_detail::list_text(o.inshape),
                    " with int_downsize ", o.int_downsize,
                    " leaves fewer than 2 voxels in a dim to integrate at (down_shape = inshape / int_downsize)");
    VOXNN_CHECK(o.src_feats >= 1 && o.trg_feats >= 1, "VxmDense: src_feats and trg_feats must be positive, got ",
                o.src_feats, " and ", o.trg_feats);
    return o;
  }
  static VxmUnetOptions unet_options(const Options& o) {
    return {.inshape = o.inshape,
            .infeats = o.src_feats + o.trg_feats,
            .nb_features = o.nb_unet_features,
            .nb_levels = o.nb_unet_levels,
            .feat_mult = o.unet_feat_mult,
            .nb_conv_per_level = o.nb_unet_conv_per_level,
            .half_res = o.unet_half_res,
            .seed = o.seed};
  }
  // voxelmorph's down_shape: int(dim / int_downsize).
  static std::vector<int64_t> down_shape(const Options& o) {
    std::vector<int64_t> down;
    for (int64_t s : o.inshape) down.push_back(s / o.int_downsize);
    return down;
  }

  // Follows the field's spatial size from the U-Net to the warp, so that a configuration whose sizes
  // cannot meet fails here, by name, rather than in the first forward.
  void check_field_path() const {
    const Options& o = options;
    std::vector<int64_t> size = VxmUnet<T, D>::output_spatial(unet_model.options, o.inshape);
    const std::string config = "inshape " + vxm_detail::list_text(o.inshape) + ", int_steps " +
                               std::to_string(o.int_steps) + ", int_downsize " + std::to_string(o.int_downsize) +
                               ", unet_half_res " + (o.unet_half_res ? "true" : "false");
    auto scaled = [](std::vector<int64_t> v, double factor) {
      for (auto& n : v) n = static_cast<int64_t>(std::floor(static_cast<double>(n) * factor));
      return v;
    };
    if (resize) size = scaled(size, resize->factor());
    if (integrate)
      VOXNN_CHECK(size == integrate->options.inshape, "VxmDense: the flow reaches the integration at ",
                  vxm_detail::list_text(size), " but integrates at ", vxm_detail::list_text(integrate->options.inshape),
                  " (", config, "; int_downsize must divide inshape, and unet_half_res needs int_downsize 2 and "
                  "int_steps > 0)");
    if (fullsize) size = scaled(size, fullsize->factor());
    VOXNN_CHECK(size == o.inshape, "VxmDense: the flow reaches the warp at ", vxm_detail::list_text(size),
                " but the images are ", vxm_detail::list_text(o.inshape), " (", config,
                "; int_downsize must divide inshape, and unet_half_res needs int_downsize 2 and int_steps > 0)");
  }

  void check_input(const Var<T, D>& x, const char* what, int64_t feats) const {
    const std::vector<int64_t>& in = options.inshape;
    bool ok = x.dim() == static_cast<int>(in.size()) + 2 && x.shape()[1] == feats;
    for (std::size_t i = 0; ok && i < in.size(); ++i) ok = x.shape()[static_cast<int>(i) + 2] == in[i];
    VOXNN_CHECK(ok, "VxmDense: ", what, " has shape ", x.shape(), "; expected [N, ", feats, ", ",
                vxm_detail::list_text(in).substr(1), " (", what == std::string("source") ? "src_feats" : "trg_feats",
                " = ", feats, ", spatial size = inshape ", vxm_detail::list_text(in), ")");
  }

  VxmDenseOutput<T, D> run(const Var<T, D>& source, const Var<T, D>& target, bool inverse) {
    check_input(source, "source", options.src_feats);
    check_input(target, "target", options.trg_feats);
    VOXNN_CHECK(source.shape()[0] == target.shape()[0], "VxmDense: source has batch ", source.shape()[0],
                " but target has batch ", target.shape()[0]);
    VxmDenseOutput<T, D> out;
    Var<T, D> pos = flow_.module->forward(unet_model.forward(cat<T, D>({source, target}, 1)));
    if (resize) pos = resize->forward(pos);
    out.preint_flow = pos;
    const bool bidir = options.bidir && inverse;
    Var<T, D> neg = bidir ? ::voxnn::neg(pos) : Var<T, D>();
    if (integrate) {
      pos = integrate->forward(pos);
      if (bidir) neg = integrate->forward(neg);
      if (fullsize) {
        pos = fullsize->forward(pos);
        if (bidir) neg = fullsize->forward(neg);
      }
    }
    out.pos_flow = pos;
    out.y_source = transformer->forward(source, pos);
    if (bidir) {
      out.neg_flow = neg;
      out.y_target = transformer->forward(target, neg);
    }
    return out;
  }

  vxm_detail::AnyConv<T, D> flow_;
};

}  // namespace voxnn::models
