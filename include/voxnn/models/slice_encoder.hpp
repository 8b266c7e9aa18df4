#pragma once
// The pieces the brain-age slice networks share (Gupta et al., ISBI 2021; umgupta/2d-slice-set-networks@4c361a9
// src/arch/slice_cnn_utils.py): the 2D slice encoder and the learned slice position encoding, with that
// reference's state_dict names. SliceSetNet (slice_set_net.hpp) and SliceLstm (slice_lstm.hpp) build on them.
//
//   add_slice_encoder_blocks(seq, in, channels)   k x Sequential(Conv2d 3x3 pad 1, InstanceNorm2d, MaxPool2d 2,
//                                                 ReLU) into seq (children "0".."k-1", each "0" = the conv):
//                                                 the reference's encoder1_blk / encoder_blk stack with
//                                                 channels 32, 64, 128, 256, 256
//   slice_avg_kernel(slice_dim)                   the reference's average pool after the encoder:
//                                                 [3, 2], [2, 2], [2, 3] for slice_dim 1, 2, 3
//   check_slice_size(model, a, b, blocks, k)      a clear error unless a slice of a x b encodes to 1 x 1
//   SlicePositionEncoding                         PositionEncodingUKBB: parameter position_encoding and
//                                                 LayerNorm ln, over the (features, slices) of each volume
//   SliceEncoder2d                                Encoder1_2D: encoder_2d, post_proc_conv, position_encoder,
//                                                 post_position_encoding
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/functions/norm.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/nn/activation.hpp"
#include "voxnn/nn/container.hpp"
#include "voxnn/nn/conv.hpp"
#include "voxnn/nn/dropout.hpp"
#include "voxnn/nn/identity.hpp"
#include "voxnn/nn/init.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/norm.hpp"
#include "voxnn/nn/pool.hpp"

namespace voxnn::models {

namespace slice_detail {

inline void check_channels(const std::vector<int64_t>& channels, const char* model, const char* what) {
  VOXNN_CHECK(!channels.empty(), model, ": ", what, " must name at least one block");
  for (std::size_t i = 0; i < channels.size(); ++i)
    VOXNN_CHECK(channels[i] > 0, model, ": ", what, "[", i, "] = ", channels[i], " must be positive");
}

inline void check_slice_dim(int64_t slice_dim, const char* model) {
  VOXNN_CHECK(slice_dim >= 1 && slice_dim <= 3, model, ": slice_dim ", slice_dim,
              " is invalid; expected 1, 2 or 3 (the axis of the (B, 1, H, W, D) input to slice along)");
}

}  // namespace slice_detail

// The reference's average-pool kernel after the encoder, which reduces the encoded 2D-slice of a
// 91 x 109 x 91 volume to 1 x 1.
inline std::vector<int64_t> slice_avg_kernel(int64_t slice_dim) {
  if (slice_dim == 1) return {3, 2};
  if (slice_dim == 2) return {2, 2};
  return {2, 3};
}

// The reference's slice count per volume in MRI2DSlice (91, 109, 91 along H, W, D of 2 mm MNI space).
inline int64_t reference_num_slices(int64_t slice_dim) { return slice_dim == 2 ? 109 : 91; }

// Throws unless a slice of a x b encodes to 1 x 1: `blocks` halvings (floor), then the average pool `kernel`.
inline void check_slice_size(const char* model, int64_t a, int64_t b, std::size_t blocks,
                             const std::vector<int64_t>& kernel) {
  const int64_t scale = int64_t{1} << blocks;
  const int64_t ea = a / scale, eb = b / scale;
  VOXNN_CHECK(ea / kernel[0] == 1 && eb / kernel[1] == 1, model, ": slices of ", a, " x ", b, " encode to ", ea,
              " x ", eb, " after ", blocks, " max-pools, which the average pool [", kernel[0], ", ", kernel[1],
              "] does not reduce to 1 x 1; slices must be ", kernel[0] * scale, "..", 2 * kernel[0] * scale - 1, " x ",
              kernel[1] * scale, "..", 2 * kernel[1] * scale - 1);
}

// Appends the encoder blocks to `seq`: block i = Sequential(Conv2d(c_{i-1}, c_i, 3, padding 1),
// InstanceNorm2d(c_i), MaxPool2d(2), ReLU) with c_{-1} = in_channels.
template <Real T, Device D>
void add_slice_encoder_blocks(nn::Sequential<T, D>& seq, int64_t in_channels, const std::vector<int64_t>& channels) {
  int64_t in = in_channels;
  for (int64_t out : channels) {
    auto& block = seq.template emplace_back<nn::Sequential<T, D>>();
    block.template emplace_back<nn::Conv2d<T, D>>(
        nn::ConvOptions<2>{.in_channels = in, .out_channels = out, .kernel_size = 3, .stride = 1, .padding = 1});
    block.template emplace_back<nn::InstanceNorm2d<T, D>>(nn::InstanceNormOptions{.num_features = out});
    block.template emplace_back<nn::MaxPool2d<T, D>>(nn::MaxPool2dOptions{.kernel_size = 2, .stride = 2});
    block.template emplace_back<nn::ReLU<T, D>>();
    in = out;
  }
}

struct SlicePositionEncodingOptions {
  int64_t feature_dim = 64;
  int64_t slice_dim = 1;
  int64_t num_slices = 91;  // the reference: 91 (or 109 for slice_dim 2) - remove_slices
};

// PositionEncodingUKBB: a learned encoding added to each volume's slice features, then a LayerNorm
// over all of that volume's features and slices together. Input (S * B, F, 1, 1) in slice-major rows
// (row s * B + b), output likewise. Parameters, shaped as the reference's:
//   position_encoding (1, F, S, 1, 1), (1, F, 1, S, 1) or (1, F, 1, 1, S) for slice_dim 1, 2, 3
//   ln.weight, ln.bias                 the same without the leading 1
// Initialised as the reference: kaiming_normal_ (fan_out, linear) and LayerNorm's ones / zeros.
template <Real T, Device D = Cpu>
class SlicePositionEncoding : public nn::ModuleWithOptions<T, D, SlicePositionEncodingOptions> {
  using Base = nn::ModuleWithOptions<T, D, SlicePositionEncodingOptions>;

 public:
  using Options = SlicePositionEncodingOptions;
  Var<T, D> position_encoding;

  explicit SlicePositionEncoding(const Options& o) : SlicePositionEncoding(nullptr, "", o) {}
  SlicePositionEncoding(nn::Module<T, D>* parent, std::string name, const Options& o)
      : Base(parent, std::move(name), checked(o)), ln(this, "ln", {.normalized_shape = shape_of(o, false)}) {
    this->register_parameter("position_encoding", &position_encoding, zeros<T, D>(Shape(shape_of(o, true))));
    reset_parameters(default_generator());
  }

  void reset_parameters(Generator& gen) {
    nn::init::kaiming_normal_(position_encoding.mutable_value(), {.mode = "fan_out", .nonlinearity = "linear"}, gen);
    ln.reset_parameters();
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    const Options& o = this->options;
    const int64_t s = o.num_slices, f = o.feature_dim;
    VOXNN_CHECK(x.dim() == 4 && x.size(1) == f && x.size(2) == 1 && x.size(3) == 1 && x.size(0) % s == 0,
                type_name(), ": input ", x.shape(), " must be (S * B, ", f, ", 1, 1) with S = ", s, " slices");
    const int64_t b = x.size(0) / s;
    // (S * B, F, 1, 1) -> (B, F, S): the layout of the parameters without their unit dims
    const Var<T, D> per_volume = permute(reshape(x, {s, b, f}), {1, 2, 0});
    const Var<T, D> encoded = add(per_volume, reshape(position_encoding, {1, f, s}));
    const Var<T, D> normed =
        layer_norm(encoded, {f, s}, reshape(ln.weight, {f, s}), reshape(ln.bias, {f, s}), ln.options.eps);
    return reshape(contiguous(permute(normed, {2, 0, 1})), {s * b, f, 1, 1});
  }
  std::string type_name() const override { return "SlicePositionEncoding"; }

  nn::LayerNorm<T, D> ln;

 private:
  static const Options& checked(const Options& o) {
    VOXNN_CHECK(o.feature_dim > 0 && o.num_slices > 0, "SlicePositionEncoding: feature_dim ", o.feature_dim,
                " and num_slices ", o.num_slices, " must be positive");
    slice_detail::check_slice_dim(o.slice_dim, "SlicePositionEncoding");
    return o;
  }
  static std::vector<int64_t> shape_of(const Options& o, bool lead) {
    std::vector<int64_t> s{o.feature_dim, 1, 1, 1};
    s[static_cast<std::size_t>(o.slice_dim)] = o.num_slices;
    if (lead) s.insert(s.begin(), 1);
    return s;
  }
};

struct SliceEncoder2dOptions {
  int64_t out_size = 32;
  int64_t slice_dim = 1;
  bool use_position_encoding = false;
  int64_t in_channel = 1;
  bool dropout = false;  // Dropout(0.5) before the last 1x1 conv
  // voxnn options (the reference hard-codes them): the encoder blocks' channels, the features of the
  // 1x1 post-processing conv, and the slices per volume the position encoding is sized for
  std::vector<int64_t> encoder_channels = {32, 64, 128, 256, 256};
  int64_t post_channels = 64;
  int64_t num_slices = 91;
};

// Encoder1_2D: slices (N, in_channel, a, b) -> features (N, out_size, 1, 1). Children, as the reference names them:
//   encoder_2d               Sequential of the blocks (add_slice_encoder_blocks)
//   post_proc_conv           Sequential(Conv2d(c_last, 64, 1), InstanceNorm2d(64), ReLU, AvgPool2d(slice_avg_kernel))
//   position_encoder         SlicePositionEncoding (use_position_encoding) or Identity
//   post_position_encoding   Sequential(Dropout(0.5) or Identity, Conv2d(64, out_size, 1))
// The position encoding takes the slice-major rows of one batch (row s * B + b, S = num_slices).
template <Real T, Device D = Cpu>
class SliceEncoder2d : public nn::ModuleWithOptions<T, D, SliceEncoder2dOptions> {
  using Base = nn::ModuleWithOptions<T, D, SliceEncoder2dOptions>;

 public:
  using Options = SliceEncoder2dOptions;

  explicit SliceEncoder2d(const Options& o = {}) : SliceEncoder2d(nullptr, "", o) {}
  SliceEncoder2d(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : Base(parent, std::move(name), checked(o)),
        encoder_2d(this, "encoder_2d"),
        post_proc_conv(this, "post_proc_conv"),
        position_encoder(make_position_encoder(this, o)),
        post_position_encoding(this, "post_position_encoding") {
    add_slice_encoder_blocks(encoder_2d, o.in_channel, o.encoder_channels);
    post_proc_conv.template emplace_back<nn::Conv2d<T, D>>(
        nn::ConvOptions<2>{.in_channels = o.encoder_channels.back(), .out_channels = o.post_channels, .kernel_size = 1});
    post_proc_conv.template emplace_back<nn::InstanceNorm2d<T, D>>(nn::InstanceNormOptions{.num_features = o.post_channels});
    post_proc_conv.template emplace_back<nn::ReLU<T, D>>();
    post_proc_conv.template emplace_back<nn::AvgPool2d<T, D>>(nn::AvgPool2dOptions{.kernel_size = slice_avg_kernel(o.slice_dim)});
    if (o.dropout) post_position_encoding.template emplace_back<nn::Dropout<T, D>>(nn::DropoutOptions{.p = 0.5});
    else post_position_encoding.template emplace_back<nn::Identity<T, D>>();
    post_position_encoding.template emplace_back<nn::Conv2d<T, D>>(
        nn::ConvOptions<2>{.in_channels = o.post_channels, .out_channels = o.out_size, .kernel_size = 1});
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    check_slice_size(type_name().c_str(), x.size(-2), x.size(-1), this->options.encoder_channels.size(),
                     slice_avg_kernel(this->options.slice_dim));
    return post_position_encoding((*position_encoder)(post_proc_conv(encoder_2d(x))));
  }
  std::string type_name() const override { return "SliceEncoder2d"; }

  nn::Sequential<T, D> encoder_2d;
  nn::Sequential<T, D> post_proc_conv;
  std::unique_ptr<nn::Module<T, D>> position_encoder;
  nn::Sequential<T, D> post_position_encoding;

 private:
  static const Options& checked(const Options& o) {
    const char* m = "SliceEncoder2d";
    slice_detail::check_slice_dim(o.slice_dim, m);
    slice_detail::check_channels(o.encoder_channels, m, "encoder_channels");
    VOXNN_CHECK(o.out_size > 0 && o.in_channel > 0 && o.post_channels > 0, m, ": out_size ", o.out_size,
                ", in_channel ", o.in_channel, " and post_channels ", o.post_channels, " must be positive");
    return o;
  }
  static std::unique_ptr<nn::Module<T, D>> make_position_encoder(nn::Module<T, D>* self, const Options& o) {
    if (!o.use_position_encoding) return std::make_unique<nn::Identity<T, D>>(self, "position_encoder");
    return std::make_unique<SlicePositionEncoding<T, D>>(
        self, "position_encoder",
        SlicePositionEncodingOptions{.feature_dim = o.post_channels, .slice_dim = o.slice_dim, .num_slices = o.num_slices});
  }
};

}  // namespace voxnn::models
