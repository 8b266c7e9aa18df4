#pragma once
// BasicUNet: MONAI's five-level U-Net (Falk et al. 2019), matching
// Project-MONAI/MONAI@d388d1c monai/networks/nets/basic_unet.py:BasicUNet, so that a MONAI
// state_dict loads by name and gives MONAI's outputs (1-D, 2-D or 3-D).
//
//   conv_0                  TwoConv(in_channels -> f0): conv_0, conv_1, each a monai::Convolution
//                           (conv 3, padding 1, then ADN "N", "D", "A")
//   down_1 .. down_4        Down: max_pooling (2x max-pool) then convs (TwoConv f[i-1] -> f[i])
//   upcat_4 .. upcat_1      UpCat: upsample (UpSample to f/2 channels, f for upcat_1), replicate-pad the
//                           upsampled map by one at the end of any spatial dim where it is one short
//                           of the skip, convs (TwoConv on cat([skip, upsampled])).
//   final_conv              Conv 1x1 f5 -> out_channels
// Parameter names: conv_0.conv_0.conv.weight, conv_0.conv_0.adn.N.weight, down_1.convs.conv_1.conv.bias,
// upcat_4.upsample.deconv.weight, upcat_1.convs.conv_0.conv.weight, final_conv.weight, ...
// Inputs need every spatial size >= 16 (four poolings); sizes divisible by 16 avoid the padding.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "voxnn/models/monai_blocks.hpp"

namespace voxnn::models {

struct BasicUNetOptions {
  int64_t spatial_dims = 3;
  int64_t in_channels = 1;
  int64_t out_channels = 2;
  std::vector<int64_t> features = {32, 32, 64, 128, 256, 32};  // five encoder levels, then the last decoder
  std::optional<monai::LayerSpec> act = monai::LayerSpec{"LeakyReLU", {{"negative_slope", 0.1}, {"inplace", true}}};
  std::optional<monai::LayerSpec> norm = monai::LayerSpec{"instance", {{"affine", true}}};
  bool bias = true;
  std::optional<monai::LayerSpec> dropout = 0.0;
  std::string upsample = "deconv";  // deconv | deconvgroup | nontrainable | pixelshuffle
};

namespace monai {

// Two Convolutions (kernel 3, padding 1), children conv_0 and conv_1.
template <Real T, Device D = Cpu>
class TwoConv : public nn::Module<T, D> {
 public:
  TwoConv(nn::Module<T, D>* parent, std::string name, const BasicUNetOptions& o, int64_t in, int64_t out)
      : nn::Module<T, D>(parent, std::move(name)),
        conv_0(this, "conv_0", options(o, in, out)),
        conv_1(this, "conv_1", options(o, out, out)) {}
  Var<T, D> forward(const Var<T, D>& x) override { return conv_1.forward(conv_0.forward(x)); }
  std::string type_name() const override { return "TwoConv"; }

  Convolution<T, D> conv_0, conv_1;

 private:
  static ConvolutionOptions options(const BasicUNetOptions& o, int64_t in, int64_t out) {
    return {.spatial_dims = o.spatial_dims, .in_channels = in, .out_channels = out, .act = o.act, .norm = o.norm,
            .dropout = o.dropout, .bias = o.bias, .padding = Sizes(1)};
  }
};

// max_pooling (kernel 2) then convs.
template <Real T, Device D = Cpu>
class Down : public nn::Module<T, D> {
 public:
  Down(nn::Module<T, D>* parent, std::string name, const BasicUNetOptions& o, int64_t in, int64_t out)
      : nn::Module<T, D>(parent, std::move(name)),
        max_pooling_(detail::with_dims(o.spatial_dims, "Down", [&](auto n) -> std::unique_ptr<nn::Module<T, D>> {
          constexpr int N = decltype(n)::value;
          return std::make_unique<nn::MaxPoolNd<N, T, D>>(this, "max_pooling", nn::MaxPoolOptions<N>{.kernel_size = 2});
        })),
        convs(this, "convs", o, in, out) {}
  Var<T, D> forward(const Var<T, D>& x) override { return convs.forward(max_pooling_->forward(x)); }
  std::string type_name() const override { return "Down"; }
  nn::Module<T, D>& max_pooling() const { return *max_pooling_; }

 private:
  std::unique_ptr<nn::Module<T, D>> max_pooling_;

 public:
  TwoConv<T, D> convs;
};

// upsample, pad to the skip's size, cat([skip, upsampled]), convs.
template <Real T, Device D = Cpu>
class UpCat : public nn::Module<T, D> {
 public:
  UpCat(nn::Module<T, D>* parent, std::string name, const BasicUNetOptions& o, int64_t in, int64_t cat_chns,
        int64_t out, bool halves = true)
      : nn::Module<T, D>(parent, std::move(name)),
        upsample(this, "upsample",
                 UpSampleOptions{.spatial_dims = o.spatial_dims, .in_channels = in,
                                 .out_channels = halves ? in / 2 : in, .scale_factor = 2, .mode = o.upsample}),
        convs(this, "convs", o, cat_chns + (halves ? in / 2 : in), out) {
    VOXNN_CHECK(!halves || in / 2 > 0, "UpCat: ", in, " channels cannot be halved");
  }
  using nn::Module<T, D>::operator();
  // x: the features to upsample; x_e: the encoder's features at the target resolution.
  Var<T, D> forward(const Var<T, D>& x, const Var<T, D>& x_e) {
    Var<T, D> x0 = upsample.forward(x);
    const int dims = x.dim() - 2;
    std::vector<int64_t> pads(static_cast<std::size_t>(2 * dims), 0);
    bool any = false;
    for (int i = 0; i < dims; ++i)
      if (x_e.size(x_e.dim() - 1 - i) != x0.size(x0.dim() - 1 - i)) {
        pads[static_cast<std::size_t>(2 * i + 1)] = 1;  // one more at the end of that dim (last dim first)
        any = true;
      }
    if (any) x0 = pad(x0, pads, "replicate");
    bool same = x0.dim() == x_e.dim();
    for (int d = 2; same && d < x0.dim(); ++d) same = x0.size(d) == x_e.size(d);
    VOXNN_CHECK(same, "UpCat: the upsampled features ", x0.shape(), " do not match the encoder features ", x_e.shape());
    return convs.forward(cat<T, D>({x_e, x0}, 1));
  }
  Var<T, D> operator()(const Var<T, D>& x, const Var<T, D>& x_e) { return forward(x, x_e); }
  std::string type_name() const override { return "UpCat"; }

  UpSample<T, D> upsample;
  TwoConv<T, D> convs;
};

}  // namespace monai

template <Real T, Device D = Cpu>
class BasicUNet : public nn::Module<T, D> {
 public:
  using Options = BasicUNetOptions;

  explicit BasicUNet(const Options& o = {}) : BasicUNet(nullptr, "", o) {}
  BasicUNet(nn::Module<T, D>* parent, std::string name, const Options& o = {}) try
      : nn::Module<T, D>(parent, std::move(name)),
        options(validated(o)),
        conv_0(this, "conv_0", o, o.in_channels, o.features[0]),
        down_1(this, "down_1", o, o.features[0], o.features[1]),
        down_2(this, "down_2", o, o.features[1], o.features[2]),
        down_3(this, "down_3", o, o.features[2], o.features[3]),
        down_4(this, "down_4", o, o.features[3], o.features[4]),
        upcat_4(this, "upcat_4", o, o.features[4], o.features[3], o.features[3]),
        upcat_3(this, "upcat_3", o, o.features[3], o.features[2], o.features[2]),
        upcat_2(this, "upcat_2", o, o.features[2], o.features[1], o.features[1]),
        upcat_1(this, "upcat_1", o, o.features[1], o.features[0], o.features[5], false),
        final_conv_(monai::detail::make_conv<T, D>(this, "final_conv", o.spatial_dims, o.features[5], o.out_channels,
                                                   ones(o), ones(o), zeros(o), ones(o), 1, true)) {
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.starts_with("BasicUNet")) throw;
    throw Error("BasicUNet: " + what);
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    const Options& o = options;
    VOXNN_CHECK(x.dim() == o.spatial_dims + 2, "BasicUNet: input has shape ", x.shape(), "; expected ",
                o.spatial_dims + 2, " dims (batch, channels and ", o.spatial_dims, " spatial)");
    VOXNN_CHECK(x.size(1) == o.in_channels, "BasicUNet: input has shape ", x.shape(), "; expected in_channels = ",
                o.in_channels);
    for (int d = 2; d < x.dim(); ++d)
      VOXNN_CHECK(x.size(d) >= 16, "BasicUNet: input has shape ", x.shape(),
                  "; every spatial size must be at least 16 (four 2x max-poolings)");
    const Var<T, D> x0 = conv_0.forward(x);
    const Var<T, D> x1 = down_1.forward(x0);
    const Var<T, D> x2 = down_2.forward(x1);
    const Var<T, D> x3 = down_3.forward(x2);
    const Var<T, D> x4 = down_4.forward(x3);
    const Var<T, D> u4 = upcat_4.forward(x4, x3);
    const Var<T, D> u3 = upcat_3.forward(u4, x2);
    const Var<T, D> u2 = upcat_2.forward(u3, x1);
    const Var<T, D> u1 = upcat_1.forward(u2, x0);
    return final_conv_->forward(u1);
  }
  std::string type_name() const override { return "BasicUNet"; }
  nn::Module<T, D>& final_conv() const { return *final_conv_; }

  const Options options;
  monai::TwoConv<T, D> conv_0;
  monai::Down<T, D> down_1, down_2, down_3, down_4;
  monai::UpCat<T, D> upcat_4, upcat_3, upcat_2, upcat_1;

 private:
  static const Options& validated(const Options& o) {
    VOXNN_CHECK(o.spatial_dims >= 1 && o.spatial_dims <= 3, "BasicUNet: spatial_dims must be 1, 2 or 3, got ",
                o.spatial_dims);
    VOXNN_CHECK(o.in_channels > 0 && o.out_channels > 0,
                "BasicUNet: in_channels and out_channels must be positive, got ", o.in_channels, " and ",
                o.out_channels);
    VOXNN_CHECK(o.features.size() == 6, "BasicUNet: features needs six values (five encoder levels and the last "
                "decoder level), got ", o.features.size());
    for (int64_t f : o.features) VOXNN_CHECK(f > 0, "BasicUNet: features must be positive, got ", f);
    for (int i = 2; i <= 4; ++i)
      VOXNN_CHECK(o.features[static_cast<std::size_t>(i)] >= 2, "BasicUNet: features[", i, "] = ",
                  o.features[static_cast<std::size_t>(i)], " cannot be halved by the upsampling");
    VOXNN_CHECK(o.upsample == "deconv" || o.upsample == "deconvgroup" || o.upsample == "nontrainable" ||
                    o.upsample == "pixelshuffle",
                "BasicUNet: upsample must be deconv, deconvgroup, nontrainable or pixelshuffle, got '", o.upsample, "'");
    return o;
  }
  static std::vector<int64_t> ones(const Options& o) { return std::vector<int64_t>(static_cast<std::size_t>(o.spatial_dims), 1); }
  static std::vector<int64_t> zeros(const Options& o) { return std::vector<int64_t>(static_cast<std::size_t>(o.spatial_dims), 0); }

  std::unique_ptr<nn::Module<T, D>> final_conv_;
};

}  // namespace voxnn::models
