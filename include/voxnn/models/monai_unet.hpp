#pragma once
// MonaiUNet: MONAI's UNet (strided-convolution U-Net with optional residual units, Kerfoot et al.
// 2018), matching Project-MONAI/MONAI@d388d1c monai/networks/nets/unet.py:UNet, so that a MONAI
// state_dict loads by name and gives MONAI's outputs (1-D, 2-D or 3-D). Named MonaiUNet: UNet3d is
// voxnn's classic model.
//
// Built recursively from the top level down, as MONAI does; each level is
//   Sequential(0: down, 1: SkipConnection(submodule = the next level), 2: up)
// and the deepest SkipConnection's submodule is the bottom layer (stride 1). With L = len(channels):
//   down   Convolution (stride strides[i], kernel_size), or ResidualUnit with num_res_units subunits
//   bottom the same with stride 1
//   up     transposed Convolution (stride strides[i], up_kernel_size, output_padding stride - 1) on
//          cat([down output, submodule output]); with num_res_units > 0 followed by a one-unit
//          ResidualUnit (up = Sequential(0: conv, 1: unit)); the top level's last conv has no ADN.
// Names: model.0.conv.weight, model.0.adn.N.weight, model.0.adn.A.weight (PReLU),
// model.1.submodule.0.conv.unit0.conv.weight, model.1.submodule.1.submodule.residual.weight,
// model.2.0.conv.weight, model.2.1.conv.unit0.conv.weight, ...
// Spatial sizes must be divisible by the product of the strides.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "voxnn/models/monai_blocks.hpp"
#include "voxnn/nn/container.hpp"

namespace voxnn::models {

struct MonaiUNetOptions {
  int64_t spatial_dims = 0;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  std::vector<int64_t> channels{};       // top level first; at least 2
  std::vector<monai::Sizes> strides{};   // one per level below the top (len(channels) - 1; extra ones unused)
  monai::Sizes kernel_size = 3;          // odd
  monai::Sizes up_kernel_size = 3;       // odd
  int64_t num_res_units = 0;
  std::optional<monai::LayerSpec> act = monai::LayerSpec("PRELU");
  std::optional<monai::LayerSpec> norm = monai::LayerSpec("INSTANCE");
  std::optional<monai::LayerSpec> dropout = 0.0;
  bool bias = true;
  std::string adn_ordering = "NDA";
};

template <Real T, Device D = Cpu>
class MonaiUNet : public nn::Module<T, D> {
 public:
  using Options = MonaiUNetOptions;
  using ModulePtr = std::unique_ptr<nn::Module<T, D>>;

  explicit MonaiUNet(const Options& o = {}) : MonaiUNet(nullptr, "", o) {}
  MonaiUNet(nn::Module<T, D>* parent, std::string name, const Options& o = {}) try
      : nn::Module<T, D>(parent, std::move(name)), options(validated(o)) {
    model_ = create_block(o.in_channels, o.out_channels, 0, true);
    this->register_module("model", model_.get());
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.starts_with("MonaiUNet")) throw;
    throw Error("MonaiUNet: " + what);
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    const Options& o = options;
    VOXNN_CHECK(x.dim() == o.spatial_dims + 2, "MonaiUNet: input has shape ", x.shape(), "; expected ",
                o.spatial_dims + 2, " dims (batch, channels and ", o.spatial_dims, " spatial)");
    VOXNN_CHECK(x.size(1) == o.in_channels, "MonaiUNet: input has shape ", x.shape(), "; expected in_channels = ",
                o.in_channels);
    for (int d = 0; d < o.spatial_dims; ++d) {
      int64_t n = x.size(2 + d), total = 1;
      for (std::size_t level = 0; level + 1 < o.channels.size(); ++level) {
        const int64_t s = o.strides[level].at(d);
        total *= s;
        VOXNN_CHECK(n % s == 0, "MonaiUNet: input has shape ", x.shape(), "; spatial size ", x.size(2 + d),
                    " must be divisible by the product of the strides (", total, " at level ", level + 1,
                    ") so that the skip connections line up");
        n /= s;
      }
    }
    return model_->forward(x);
  }
  std::string type_name() const override { return "MonaiUNet"; }
  // The top level: Sequential(down, SkipConnection, up).
  nn::Sequential<T, D>& model() const { return *model_; }

  const Options options;

 private:
  static const Options& validated(const Options& o) {
    VOXNN_CHECK(o.spatial_dims >= 1 && o.spatial_dims <= 3, "MonaiUNet: spatial_dims must be 1, 2 or 3, got ",
                o.spatial_dims);
    VOXNN_CHECK(o.in_channels > 0 && o.out_channels > 0,
                "MonaiUNet: in_channels and out_channels must be positive, got ", o.in_channels, " and ",
                o.out_channels);
    VOXNN_CHECK(o.channels.size() >= 2, "MonaiUNet: the length of channels should be no less than 2, got ",
                o.channels.size());
    for (int64_t c : o.channels) VOXNN_CHECK(c > 0, "MonaiUNet: channels must be positive, got ", c);
    VOXNN_CHECK(o.strides.size() >= o.channels.size() - 1, "MonaiUNet: the length of strides (", o.strides.size(),
                ") should equal len(channels) - 1 = ", o.channels.size() - 1);
    for (std::size_t i = 0; i + 1 < o.channels.size(); ++i)
      (void)monai::detail::sizes(o.strides[i], o.spatial_dims, "MonaiUNet", "strides[" + std::to_string(i) + "]", 1);
    (void)monai::detail::sizes(o.kernel_size, o.spatial_dims, "MonaiUNet", "kernel_size", 1);
    (void)monai::detail::sizes(o.up_kernel_size, o.spatial_dims, "MonaiUNet", "up_kernel_size", 1);
    VOXNN_CHECK(o.num_res_units >= 0, "MonaiUNet: num_res_units must be >= 0, got ", o.num_res_units);
    for (char item : o.adn_ordering)  // checked here too, so that the message names the keyword
      VOXNN_CHECK(item == 'N' || item == 'D' || item == 'A', "MonaiUNet: adn_ordering must be a string of 'N', 'D' "
                  "and 'A', got '", o.adn_ordering, "'");
    return o;
  }

  // One level: Sequential(down, SkipConnection(next level or bottom), up); the deeper levels are built
  // first, as MONAI's recursion does.
  std::unique_ptr<nn::Sequential<T, D>> create_block(int64_t inc, int64_t outc, std::size_t level, bool is_top) {
    const Options& o = options;
    const int64_t c = o.channels[level];
    const monai::Sizes& s = o.strides[level];
    ModulePtr subblock;
    int64_t upc;
    if (o.channels.size() - level > 2) {
      subblock = create_block(c, c, level + 1, false);
      upc = c * 2;
    } else {
      subblock = down_layer(c, o.channels[level + 1], 1, false);
      upc = c + o.channels[level + 1];
    }
    auto block = std::make_unique<nn::Sequential<T, D>>();
    block->push_back(down_layer(inc, c, s, is_top));
    block->push_back(std::make_unique<monai::SkipConnection<T, D>>(nullptr, "", std::move(subblock)));
    block->push_back(up_layer(upc, outc, s, is_top));
    return block;
  }

  ModulePtr down_layer(int64_t in, int64_t out, const monai::Sizes& strides, bool /*is_top*/) const {
    const Options& o = options;
    if (o.num_res_units > 0)
      return std::make_unique<monai::ResidualUnit<T, D>>(
          nullptr, "",
          monai::ResidualUnitOptions{.spatial_dims = o.spatial_dims, .in_channels = in, .out_channels = out,
                                     .strides = strides, .kernel_size = o.kernel_size, .subunits = o.num_res_units,
                                     .adn_ordering = o.adn_ordering, .act = o.act, .norm = o.norm,
                                     .dropout = o.dropout, .bias = o.bias});
    return std::make_unique<monai::Convolution<T, D>>(
        nullptr, "",
        monai::ConvolutionOptions{.spatial_dims = o.spatial_dims, .in_channels = in, .out_channels = out,
                                  .strides = strides, .kernel_size = o.kernel_size, .adn_ordering = o.adn_ordering,
                                  .act = o.act, .norm = o.norm, .dropout = o.dropout, .bias = o.bias});
  }

  ModulePtr up_layer(int64_t in, int64_t out, const monai::Sizes& strides, bool is_top) const {
    const Options& o = options;
    auto conv = std::make_unique<monai::Convolution<T, D>>(
        nullptr, "",
        monai::ConvolutionOptions{.spatial_dims = o.spatial_dims, .in_channels = in, .out_channels = out,
                                  .strides = strides, .kernel_size = o.up_kernel_size,
                                  .adn_ordering = o.adn_ordering, .act = o.act, .norm = o.norm,
                                  .dropout = o.dropout, .bias = o.bias,
                                  .conv_only = is_top && o.num_res_units == 0, .is_transposed = true});
    if (o.num_res_units == 0) return conv;
    auto seq = std::make_unique<nn::Sequential<T, D>>();
    seq->push_back(std::move(conv));
    seq->push_back(std::make_unique<monai::ResidualUnit<T, D>>(
        nullptr, "",
        monai::ResidualUnitOptions{.spatial_dims = o.spatial_dims, .in_channels = out, .out_channels = out,
                                   .strides = 1, .kernel_size = o.kernel_size, .subunits = 1,
                                   .adn_ordering = o.adn_ordering, .act = o.act, .norm = o.norm,
                                   .dropout = o.dropout, .bias = o.bias, .last_conv_only = is_top}));
    return seq;
  }

  std::unique_ptr<nn::Sequential<T, D>> model_;
};

}  // namespace voxnn::models
