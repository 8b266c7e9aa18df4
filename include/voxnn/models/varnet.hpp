#pragma once
// VarNet: the end-to-end variational network for multi-coil MRI reconstruction (Sriram et al.,
// "End-to-End Variational Networks for Accelerated MRI Reconstruction", MICCAI 2020), compatible with
// facebookresearch/fastMRI@91f2df4 fastmri/models/varnet.py (VarNet, VarNetBlock, SensitivityModel,
// NormUnet) and fastmri/models/unet.py (Unet): same options, parameter names, state_dict order and
// forward, so fastMRI checkpoints load by name. Plus VarNet3d, a 3-D variant of voxnn's own design.
//
//   models::VarNet<float> net({.num_cascades = 12, .sens_chans = 8, .sens_pools = 4, .chans = 18, .pools = 4});
//   net.load_state_dict(nn::load_state_dict<float>("varnet_knee.safetensors"));  // fastMRI's state_dict
//   Var<float> image = net(masked_kspace, mask);   // (B, coils, H, W, 2), bool (B, 1, 1, W, 1) -> (B, H, W)
//
// Parameter names (fastMRI's state_dict keys, in its order):
//   sens_net.norm_unet.unet.down_sample_layers.{i}.layers.{0,4}.weight    ConvBlock: conv3x3 (no bias),
//   sens_net.norm_unet.unet.conv.layers.{0,4}.weight                       InstanceNorm, LeakyReLU 0.2,
//   sens_net.norm_unet.unet.up_conv.{i}.layers.{0,4}.weight                Dropout, twice
//   sens_net.norm_unet.unet.up_conv.{last}.0.layers.{0,4}.weight, ...up_conv.{last}.1.{weight,bias}
//   sens_net.norm_unet.unet.up_transpose_conv.{i}.layers.0.weight          convT 2x2 stride 2 (no bias)
//   cascades.{i}.dc_weight, cascades.{i}.model.unet.<the same U-Net layout>
// (up_conv before up_transpose_conv: fastMRI's Unet assigns them in that order.)
//
// Forward, as fastMRI's:
//   S     = SensitivityModel(k0, mask): keep the fully sampled central columns of k0 (found from the
//           mask as fastMRI does, or num_low_frequencies of them), ifft2c, coils folded into the
//           batch, NormUnet, divided by the root-sum-of-squares over coils
//   k     = k0; per cascade k = k - where(mask, k - k0, 0) * dc_weight - E(NormUnet(R(k)))
//           with E(x) = fft2c(x S) and R(k) = sum_c ifft2c(k) conj(S)
//   image = rss over coils of |ifft2c(k)|
// NormUnet normalises the real and the imaginary channel groups by their mean and unbiased std
// (no epsilon, so an all-zero input gives NaN, as in fastMRI), zero-pads H and W up to multiples of
// 16 (floor / ceil split), runs the U-Net, crops and un-normalises. The U-Net reflect-pads the
// upsampled map by one on the right / bottom where an odd size was pooled.
//
// Centre band (mask_center): fastMRI reads row 0 of the mask, mask[:, 0, 0, :, 0]; from the centre
// column W // 2 it takes the first unsampled column to the left (left) and at or after the centre
// (right), num_low = max(2 min(left, right), 1), and keeps columns [pad, pad + num_low) with
// pad = (W - num_low + 1) // 2. fastMRI finds "the first unsampled column" with argmin, which gives 0
// when a side has none: a fully sampled mask therefore keeps a single column. That is kept here, so
// results match fastMRI's. num_low_frequencies (given and non-zero) replaces the search. Masks may be
// per sample (B, ...) or shared (1, ...).
//
// Masks: bool, or real (non-zero = sampled: fastMRI's subsample gives float32 masks, which its
// VarNet data transform turns into bool before the model, where torch.where needs bool).
//
// VarNet3d (voxnn's own design, no upstream code): k-space (B, coils, D, H, W, 2) of a 3-D
// acquisition, with 3-D centred orthonormal FFTs (ifftshift over D, H, W, torch.fft.fftn norm
// "ortho", fftshift: fft2c extended to the three spatial dims) in E, R, the sensitivity model and
// the output. The regularisers are the same U-Net with Conv3d, InstanceNorm3d, Dropout3d, avg-pool
// 2x2x2 and ConvTranspose3d, with the same parameter names (kernels 3x3x3 / 2x2x2 / 1x1x1); the
// reflect pad of odd sizes applies to D as well. Differences from the 2-D model, chosen for volumes:
//   * NormUnet3d pads D, H and W to multiples of 2^num_pools rather than 16 (a thin slab is not
//     inflated to 16 slices); with num_pools = 4 that is 16, as in 2-D.
//   * The mask broadcasts to (B, 1, D, H, W, 1): any of D, H, W may be 1 (not undersampled), e.g.
//     (B, 1, 1, H, W, 1) for 2-D phase-encoding undersampling with a fully sampled readout along D.
//   * The centre box: along every masked axis (size > 1) the run of sampled lines through the centre
//     (other masked axes at their centre n // 2) gives left / right counts (left counted from n // 2 - 1
//     downwards, right from n // 2 upwards); num_low = max(2 min(left, right), 1) and start
//     (n - num_low + 1) // 2 as in 2-D, but a fully sampled line keeps the whole axis (no argmin
//     quirk). num_low_frequencies, when given, is the width along every masked axis.
// tests/fixtures/gen_models_varnet.py holds its PyTorch mirror.
#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/functions/coil.hpp"
#include "voxnn/autograd/functions/complex.hpp"
#include "voxnn/autograd/functions/fft.hpp"
#include "voxnn/autograd/functions/pad.hpp"
#include "voxnn/autograd/functions/pool.hpp"
#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/nn/activation.hpp"
#include "voxnn/nn/container.hpp"
#include "voxnn/nn/conv.hpp"
#include "voxnn/nn/data_consistency.hpp"
#include "voxnn/nn/dropout.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/norm.hpp"
#include "voxnn/ops/elementwise.hpp"

namespace voxnn::models {

// fastmri.models.Unet's keywords (in_chans and out_chans have no default there).
struct FastMriUnetOptions {
  int64_t in_chans = 0;
  int64_t out_chans = 0;
  int64_t chans = 32;
  int64_t num_pool_layers = 4;
  double drop_prob = 0.0;
};

// fastmri.models.varnet.NormUnet's keywords (chans and num_pools have no default there).
struct NormUnetOptions {
  int64_t chans = 0;
  int64_t num_pools = 0;
  int64_t in_chans = 2;
  int64_t out_chans = 2;
  double drop_prob = 0.0;
};

// fastmri.models.varnet.SensitivityModel's keywords.
struct SensitivityModelOptions {
  int64_t chans = 0;
  int64_t num_pools = 0;
  int64_t in_chans = 2;
  int64_t out_chans = 2;
  double drop_prob = 0.0;
  bool mask_center = true;
};

// fastmri.models.VarNet's keywords at 91f2df4 (all of them); VarNet3d takes the same.
struct VarNetOptions {
  int64_t num_cascades = 12;
  int64_t sens_chans = 8;
  int64_t sens_pools = 4;
  int64_t chans = 18;
  int64_t pools = 4;
  bool mask_center = true;
};

namespace varnet_detail {

template <int N>
const char* suffix() {
  return N == 2 ? "" : "3d";
}

// Centred orthonormal 3-D FFTs over (D, H, W) of (..., D, H, W, 2): fft2c / ifft2c one dim further.
template <Real T, Device D>
Var<T, D> fft3c(const Var<T, D>& x) {
  return fftshift(fftn(ifftshift(x, {-4, -3, -2}), {-3, -2, -1}, "ortho"), {-4, -3, -2});
}
template <Real T, Device D>
Var<T, D> ifft3c(const Var<T, D>& x) {
  return fftshift(ifftn(ifftshift(x, {-4, -3, -2}), {-3, -2, -1}, "ortho"), {-4, -3, -2});
}

template <int N, Real T, Device D>
Var<T, D> fftc(const Var<T, D>& x) {
  if constexpr (N == 2) return fft2c(x);
  else return fft3c(x);
}
template <int N, Real T, Device D>
Var<T, D> ifftc(const Var<T, D>& x) {
  if constexpr (N == 2) return ifft2c(x);
  else return ifft3c(x);
}

// E(x) = fftc(x S) and R(k) = sum over coils of ifftc(k) conj(S) (keepdim).
template <int N, Real T, Device D>
Var<T, D> expand_op(const Var<T, D>& x, const Var<T, D>& sens_maps) {
  if constexpr (N == 2) return sens_expand(x, sens_maps);
  else return fft3c(complex_mul(x, sens_maps));
}
template <int N, Real T, Device D>
Var<T, D> reduce_op(const Var<T, D>& k, const Var<T, D>& sens_maps) {
  if constexpr (N == 2) return sens_reduce(k, sens_maps);
  else return sum(complex_mul(ifft3c(k), complex_conj(sens_maps)), {1}, true);
}

inline void check_unet_options(const FastMriUnetOptions& o, const std::string& model) {
  VOXNN_CHECK(o.in_chans > 0, model, ": in_chans must be positive, got ", o.in_chans);
  VOXNN_CHECK(o.out_chans > 0, model, ": out_chans must be positive, got ", o.out_chans);
  VOXNN_CHECK(o.chans > 0, model, ": chans must be positive, got ", o.chans);
  VOXNN_CHECK(o.num_pool_layers >= 0 && o.num_pool_layers <= 16, model, ": num_pool_layers must be in [0, 16], got ",
              o.num_pool_layers);
  VOXNN_CHECK(o.drop_prob >= 0 && o.drop_prob <= 1, model, ": drop_prob must be in [0, 1], got ", o.drop_prob);
}

inline void check_norm_unet_options(int64_t chans, int64_t num_pools, int64_t in_chans, int64_t out_chans,
                                    double drop_prob, const std::string& model) {
  VOXNN_CHECK(chans > 0, model, ": chans must be positive, got ", chans);
  VOXNN_CHECK(num_pools >= 0 && num_pools <= 16, model, ": num_pools must be in [0, 16], got ", num_pools);
  VOXNN_CHECK(in_chans > 0 && in_chans % 2 == 0, model, ": in_chans must be a positive even number (real and "
              "imaginary channels), got ", in_chans);
  VOXNN_CHECK(out_chans == 2, model, ": out_chans must be 2 (one complex channel: the mean and std of the real "
              "and imaginary groups un-normalise it), got ", out_chans);
  VOXNN_CHECK(drop_prob >= 0 && drop_prob <= 1, model, ": drop_prob must be in [0, 1], got ", drop_prob);
}

inline bool mask_at(const Tensor<bool>& mask, const std::vector<int64_t>& index) {
  int64_t off = 0;
  for (std::size_t d = 0; d < index.size(); ++d)
    off += (mask.shape()[static_cast<int>(d)] == 1 ? 0 : index[d]) * mask.strides()[static_cast<int>(d)];
  return mask.data()[off];
}

// fastMRI's get_pad_and_num_low_freqs for one row sq of W entries: the kept band [pad, pad + num_low).
inline std::pair<int64_t, int64_t> fastmri_band(const std::vector<bool>& sq, std::optional<int64_t> num_low) {
  const int64_t w = static_cast<int64_t>(sq.size());
  int64_t n = 0;
  if (num_low && *num_low != 0) {
    n = *num_low;
  } else {
    const int64_t cent = w / 2;
    // argmin over int8 values: the first 0, or index 0 when there is none.
    int64_t left = 0, right = 0;
    for (int64_t i = 0; i < cent; ++i)
      if (!sq[static_cast<std::size_t>(cent - 1 - i)]) {
        left = i;
        break;
      }
    for (int64_t i = 0; i < w - cent; ++i)
      if (!sq[static_cast<std::size_t>(cent + i)]) {
        right = i;
        break;
      }
    n = std::max<int64_t>(2 * std::min(left, right), 1);
  }
  const int64_t diff = w - n + 1;
  const int64_t pad = diff >= 0 ? diff / 2 : -((-diff + 1) / 2);  // Python's floor division
  return {pad, n};
}

// voxnn's 3-D rule along one masked axis: the run of sampled lines through the centre.
inline std::pair<int64_t, int64_t> centre_run_band(const std::vector<bool>& line, std::optional<int64_t> num_low) {
  const int64_t n = static_cast<int64_t>(line.size());
  int64_t width = 0;
  if (num_low && *num_low != 0) {
    width = *num_low;
  } else {
    bool all = true;
    for (bool v : line) all = all && v;
    if (all) return {0, n};
    const int64_t cent = n / 2;
    int64_t left = 0, right = 0;
    while (left < cent && line[static_cast<std::size_t>(cent - 1 - left)]) ++left;
    while (cent + right < n && line[static_cast<std::size_t>(cent + right)]) ++right;
    width = std::max<int64_t>(2 * std::min(left, right), 1);
  }
  return {(n - width + 1) / 2, width};
}

}  // namespace varnet_detail

// fastMRI's ConvBlock: layers = Sequential(conv3x3 no bias, InstanceNorm, LeakyReLU(0.2), Dropout) x 2.
template <int N, Real T, Device D = Cpu>
class FastMriConvBlockNd : public nn::Module<T, D> {
 public:
  FastMriConvBlockNd(nn::Module<T, D>* parent, std::string name, int64_t in_chans, int64_t out_chans, double drop_prob)
      : nn::Module<T, D>(parent, std::move(name)) {
    for (int i = 0; i < 2; ++i) {
      layers.template emplace_back<nn::ConvNd<N, T, D>>(nn::ConvOptions<N>{
          .in_channels = i == 0 ? in_chans : out_chans, .out_channels = out_chans, .kernel_size = 3, .padding = 1,
          .bias = false});
      layers.template emplace_back<nn::InstanceNormNd<N, T, D>>(nn::InstanceNormOptions{.num_features = out_chans});
      layers.template emplace_back<nn::LeakyReLU<T, D>>(nn::LeakyReLUOptions{.negative_slope = 0.2});
      layers.template emplace_back<nn::DropoutNd<N, T, D>>(nn::DropoutOptions{.p = drop_prob});
    }
  }
  Var<T, D> forward(const Var<T, D>& x) override { return layers.forward(x); }
  std::string type_name() const override { return std::string("ConvBlock") + varnet_detail::suffix<N>(); }

  nn::Sequential<T, D> layers{this, "layers"};
};

// fastMRI's TransposeConvBlock: layers = Sequential(convT 2x2 stride 2 no bias, InstanceNorm, LeakyReLU(0.2)).
template <int N, Real T, Device D = Cpu>
class FastMriTransposeConvBlockNd : public nn::Module<T, D> {
 public:
  FastMriTransposeConvBlockNd(nn::Module<T, D>* parent, std::string name, int64_t in_chans, int64_t out_chans)
      : nn::Module<T, D>(parent, std::move(name)) {
    layers.template emplace_back<nn::ConvTransposeNd<N, T, D>>(nn::ConvTransposeOptions<N>{
        .in_channels = in_chans, .out_channels = out_chans, .kernel_size = 2, .stride = 2, .bias = false});
    layers.template emplace_back<nn::InstanceNormNd<N, T, D>>(nn::InstanceNormOptions{.num_features = out_chans});
    layers.template emplace_back<nn::LeakyReLU<T, D>>(nn::LeakyReLUOptions{.negative_slope = 0.2});
  }
  Var<T, D> forward(const Var<T, D>& x) override { return layers.forward(x); }
  std::string type_name() const override { return std::string("TransposeConvBlock") + varnet_detail::suffix<N>(); }

  nn::Sequential<T, D> layers{this, "layers"};
};

// fastmri.models.Unet (N = 2) and its 3-D counterpart (N = 3): (B, in_chans, spatial...) ->
// (B, out_chans, spatial...); each spatial size at least 2^num_pool_layers. num_pool_layers 0 gives
// the same network as 1, as fastMRI's loops do.
template <int N, Real T, Device D = Cpu>
class FastMriUnetNd : public nn::Module<T, D> {
  static_assert(N == 2 || N == 3, "FastMriUnetNd: 2 or 3 spatial dims");

 public:
  using Options = FastMriUnetOptions;
  using ConvBlock = FastMriConvBlockNd<N, T, D>;
  using TransposeConvBlock = FastMriTransposeConvBlockNd<N, T, D>;

  explicit FastMriUnetNd(const Options& o = {}) : FastMriUnetNd(nullptr, "", o) {}
  FastMriUnetNd(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : nn::Module<T, D>(parent, std::move(name)),
        options(checked(o)),
        down_sample_layers(this, "down_sample_layers"),
        conv(this, "conv", deepest(o), 2 * deepest(o), o.drop_prob),
        up_conv(this, "up_conv"),
        up_transpose_conv(this, "up_transpose_conv") {
    int64_t ch = o.chans;
    down_sample_layers.template emplace_back<ConvBlock>(o.in_chans, ch, o.drop_prob);
    for (int64_t i = 1; i < levels(o); ++i, ch *= 2)
      down_sample_layers.template emplace_back<ConvBlock>(ch, ch * 2, o.drop_prob);
    for (int64_t i = 1; i < levels(o); ++i, ch /= 2) {
      up_transpose_conv.template emplace_back<TransposeConvBlock>(ch * 2, ch);
      up_conv.template emplace_back<ConvBlock>(ch * 2, ch, o.drop_prob);
    }
    up_transpose_conv.template emplace_back<TransposeConvBlock>(ch * 2, ch);
    auto& last = up_conv.template emplace_back<nn::Sequential<T, D>>();
    last.template emplace_back<ConvBlock>(ch * 2, ch, o.drop_prob);
    last.template emplace_back<nn::ConvNd<N, T, D>>(
        nn::ConvOptions<N>{.in_channels = ch, .out_channels = o.out_chans, .kernel_size = 1});
  }

  Var<T, D> forward(const Var<T, D>& image) override {
    const Options& o = options;
    VOXNN_CHECK(image.dim() == N + 2 && image.shape()[1] == o.in_chans, type_name(), ": input has shape ",
                image.shape(), "; expected (B, ", o.in_chans, N == 2 ? ", H, W)" : ", D, H, W)");
    const int64_t min_size = int64_t{1} << levels(o);
    for (int d = 2; d < N + 2; ++d)
      VOXNN_CHECK(image.shape()[d] >= min_size, type_name(), ": input has shape ", image.shape(),
                  "; each spatial size must be at least 2^(pooling levels) = ", min_size);
    std::vector<Var<T, D>> stack;
    Var<T, D> out = image;
    for (const auto& layer : down_sample_layers) {
      out = layer->forward(out);
      stack.push_back(out);
      out = avg_pool<N>(out, 2, 2);
    }
    out = conv.forward(out);
    for (std::size_t i = 0; i < up_conv.size(); ++i) {
      const Var<T, D> skip = stack.back();
      stack.pop_back();
      out = up_transpose_conv[i].forward(out);
      // Pooling floored an odd size: reflect-pad one on the far side (F.pad order: last dim first).
      std::vector<int64_t> padding(2 * N, 0);
      bool any = false;
      for (int k = 0; k < N; ++k) {
        const int d = out.dim() - 1 - k;
        if (out.shape()[d] != skip.shape()[d]) {
          padding[static_cast<std::size_t>(2 * k + 1)] = 1;
          any = true;
        }
      }
      if (any) out = pad(out, padding, "reflect");
      out = up_conv[i].forward(cat<T, D>({out, skip}, 1));
    }
    return out;
  }
  std::string type_name() const override { return N == 2 ? "FastMriUnet" : "FastMriUnet3d"; }

  const Options options;
  nn::ModuleList<T, D> down_sample_layers;
  ConvBlock conv;
  nn::ModuleList<T, D> up_conv;
  nn::ModuleList<T, D> up_transpose_conv;

 private:
  static const Options& checked(const Options& o) {
    varnet_detail::check_unet_options(o, N == 2 ? "FastMriUnet" : "FastMriUnet3d");
    return o;
  }
  static int64_t deepest(const Options& o) { return o.chans << (levels(o) - 1); }

 public:
  // The number of poolings: num_pool_layers, but 0 builds the same one-level network as 1 in fastMRI.
  static int64_t levels(const Options& o) { return std::max<int64_t>(1, o.num_pool_layers); }
};

// fastmri.models.varnet.NormUnet: (B, C, spatial..., 2) complex -> (B, 1, spatial..., 2), C = in_chans / 2.
template <int N, Real T, Device D = Cpu>
class NormUnetNd : public nn::Module<T, D> {
 public:
  using Options = NormUnetOptions;
  explicit NormUnetNd(const Options& o = {}) : NormUnetNd(nullptr, "", o) {}
  NormUnetNd(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : nn::Module<T, D>(parent, std::move(name)),
        options(checked(o)),
        unet(this, "unet",
             {.in_chans = o.in_chans, .out_chans = o.out_chans, .chans = o.chans, .num_pool_layers = o.num_pools,
              .drop_prob = o.drop_prob}) {}

  Var<T, D> forward(const Var<T, D>& x) override {
    const Shape& s = x.shape();
    VOXNN_CHECK(x.dim() == N + 3 && s[N + 2] == 2 && 2 * s[1] == options.in_chans, type_name(), ": input has shape ",
                s, "; expected (B, ", options.in_chans / 2, N == 2 ? ", H, W, 2)" : ", D, H, W, 2)",
                " complex with in_chans / 2 channels");
    const int64_t b = s[0], c = s[1];
    // (B, C, sp..., 2) -> (B, 2C, sp...), the real channels first.
    std::vector<int64_t> perm{0, N + 2};
    for (int d = 1; d <= N + 1; ++d) perm.push_back(d);
    std::vector<int64_t> chan_shape{b, 2 * c};
    for (int d = 2; d < N + 2; ++d) chan_shape.push_back(s[d]);
    const Var<T, D> y = reshape(permute(x, perm), Shape(chan_shape));

    // Normalise the real and the imaginary group by their mean and unbiased std.
    const int64_t group = y.numel() / (2 * b);
    const Var<T, D> g = reshape(y, Shape{b, 2, group});
    const Var<T, D> mu = mean(g, {2}, true);
    const Var<T, D> sd = voxnn::std(g, {2}, true, true);
    Var<T, D> z = reshape(div(sub(g, mu), sd), Shape(chan_shape));

    // Zero-pad to the U-Net's multiple (floor before, ceil after); F.pad order, last dim first.
    std::vector<int64_t> padding(2 * N), start(N), size(N);
    for (int k = 0; k < N; ++k) {
      const int64_t n = s[N + 1 - k];
      const int64_t total = padded_size(n) - n;
      padding[static_cast<std::size_t>(2 * k)] = total / 2;
      padding[static_cast<std::size_t>(2 * k + 1)] = total - total / 2;
      start[static_cast<std::size_t>(N - 1 - k)] = total / 2;
      size[static_cast<std::size_t>(N - 1 - k)] = n;
    }
    z = unet.forward(pad(z, padding));
    z = crop(z, start, size);

    // Un-normalise and move the complex dim back last: (B, 2, sp...) -> (B, 1, sp..., 2).
    z = add(mul(reshape(z, Shape{b, 2, group / c}), sd), mu);
    std::vector<int64_t> split_shape{b, 2, 1};
    for (int d = 2; d < N + 2; ++d) split_shape.push_back(s[d]);
    std::vector<int64_t> back{0, 2};
    for (int d = 3; d < N + 3; ++d) back.push_back(d);
    back.push_back(1);
    return contiguous(permute(reshape(z, Shape(split_shape)), back));
  }
  std::string type_name() const override { return N == 2 ? "NormUnet" : "NormUnet3d"; }

  // fastMRI pads to multiples of 16; the 3-D variant to multiples of 2^num_pools.
  int64_t padded_size(int64_t n) const {
    const int64_t m = N == 2 ? 16 : (int64_t{1} << std::max<int64_t>(1, options.num_pools));
    return ((n + m - 1) / m) * m;
  }

  const Options options;
  FastMriUnetNd<N, T, D> unet;

 private:
  static const Options& checked(const Options& o) {
    varnet_detail::check_norm_unet_options(o.chans, o.num_pools, o.in_chans, o.out_chans, o.drop_prob,
                                           N == 2 ? "NormUnet" : "NormUnet3d");
    return o;
  }
};

// fastmri.models.varnet.SensitivityModel: multi-coil k-space and its mask -> sensitivity maps of
// the k-space's shape, normalised to unit root-sum-of-squares over the coils.
template <int N, Real T, Device D = Cpu>
class SensitivityModelNd : public nn::Module<T, D> {
 public:
  using Options = SensitivityModelOptions;
  explicit SensitivityModelNd(const Options& o = {}) : SensitivityModelNd(nullptr, "", o) {}
  SensitivityModelNd(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : nn::Module<T, D>(parent, std::move(name)),
        options(checked(o)),
        norm_unet(this, "norm_unet",
                  {.chans = o.chans, .num_pools = o.num_pools, .in_chans = o.in_chans, .out_chans = o.out_chans,
                   .drop_prob = o.drop_prob}) {}

  Var<T, D> forward(const Var<T, D>& masked_kspace, const Tensor<bool>& mask,
                    std::optional<int64_t> num_low_frequencies = std::nullopt) {
    check_inputs(masked_kspace.shape(), mask.shape(), num_low_frequencies, type_name());
    Var<T, D> k = masked_kspace;
    if (options.mask_center) k = where(center_mask(mask, num_low_frequencies), k, Var<T, D>(zeros<T, D>(Shape{})));
    const Shape& s = k.shape();
    const Var<T, D> images = varnet_detail::ifftc<N>(k);
    std::vector<int64_t> folded(s.begin(), s.end());
    folded[0] = s[0] * s[1];
    folded[1] = 1;
    const Var<T, D> maps = reshape(norm_unet.forward(reshape(images, Shape(folded))), s);
    return div(maps, unsqueeze(unsqueeze(rss_complex(maps, 1), -1), 1));
  }
  Var<T, D> operator()(const Var<T, D>& masked_kspace, const Tensor<bool>& mask,
                       std::optional<int64_t> num_low_frequencies = std::nullopt) {
    return forward(masked_kspace, mask, num_low_frequencies);
  }
  using nn::Module<T, D>::forward;
  using nn::Module<T, D>::operator();
  std::string type_name() const override { return N == 2 ? "SensitivityModel" : "SensitivityModel3d"; }

  // The k-space region kept for the sensitivity estimate, as a bool mask broadcasting against
  // k-space: (Bm, 1, 1, W, 1) in 2-D, (Bm, 1, Dm, Hm, Wm, 1) in 3-D (Bm, Dm, ... those of `mask`).
  static Tensor<bool> center_mask(const Tensor<bool>& mask, std::optional<int64_t> num_low_frequencies) {
    const Shape& ms = mask.shape();
    const int64_t bm = ms[0];
    if constexpr (N == 2) {
      const int64_t w = ms[3];
      Tensor<bool> out(Shape{bm, 1, 1, w, 1});
      bool* o = out.data();
      for (int64_t b = 0; b < bm; ++b) {
        std::vector<bool> row(static_cast<std::size_t>(w));
        for (int64_t j = 0; j < w; ++j) row[static_cast<std::size_t>(j)] = varnet_detail::mask_at(mask, {b, 0, 0, j, 0});
        const auto [pad, n] = varnet_detail::fastmri_band(row, num_low_frequencies);
        for (int64_t j = 0; j < w; ++j) o[b * w + j] = j >= pad && j < pad + n;
      }
      return out;
    } else {
      Tensor<bool> out(Shape{bm, 1, ms[2], ms[3], ms[4], 1});
      bool* o = out.data();
      const int64_t vol = ms[2] * ms[3] * ms[4];
      for (int64_t b = 0; b < bm; ++b) {
        std::array<std::pair<int64_t, int64_t>, 3> band;
        for (int a = 0; a < 3; ++a) {
          const int64_t n = ms[2 + a];
          band[static_cast<std::size_t>(a)] = {0, n};
          if (n == 1) continue;
          std::vector<bool> line(static_cast<std::size_t>(n));
          for (int64_t i = 0; i < n; ++i) {
            std::vector<int64_t> idx{b, 0, ms[2] / 2, ms[3] / 2, ms[4] / 2, 0};
            idx[static_cast<std::size_t>(2 + a)] = i;
            line[static_cast<std::size_t>(i)] = varnet_detail::mask_at(mask, idx);
          }
          band[static_cast<std::size_t>(a)] = varnet_detail::centre_run_band(line, num_low_frequencies);
        }
        auto inside = [&](int a, int64_t i) {
          const auto [from, width] = band[static_cast<std::size_t>(a)];
          return i >= from && i < from + width;
        };
        for (int64_t i = 0; i < ms[2]; ++i)
          for (int64_t j = 0; j < ms[3]; ++j)
            for (int64_t l = 0; l < ms[4]; ++l)
              o[b * vol + (i * ms[3] + j) * ms[4] + l] = inside(0, i) && inside(1, j) && inside(2, l);
      }
      return out;
    }
  }

  // The k-space and mask shapes a VarNet (N = 2) or VarNet3d (N = 3) takes.
  static void check_inputs(const Shape& k, const Shape& m, std::optional<int64_t> num_low, const std::string& model) {
    const char* k_layout = N == 2 ? "(B, coils, H, W, 2)" : "(B, coils, D, H, W, 2)";
    VOXNN_CHECK(k.size() == N + 3 && k[N + 2] == 2, model, ": masked_kspace has shape ", k, "; expected ", k_layout);
    if constexpr (N == 2) {
      bool ok = m.size() == 5 && m[3] == k[3];
      for (int d : {0, 1, 2, 4}) ok = ok && (m[d] == 1 || m[d] == k[d]);
      VOXNN_CHECK(ok, model, ": mask has shape ", m, "; expected (B or 1, 1, 1, W, 1) with W = ", k[3],
                  " for masked_kspace ", k);
      VOXNN_CHECK(k[3] >= 2, model, ": masked_kspace has shape ", k, "; W must be at least 2");
      if (num_low)
        VOXNN_CHECK(*num_low >= 0 && *num_low <= k[3], model, ": num_low_frequencies = ", *num_low,
                    " must be in [0, W = ", k[3], "] (0 = found from the mask)");
    } else {
      bool ok = m.size() == 6 && m[1] == 1 && m[5] == 1 && (m[0] == 1 || m[0] == k[0]);
      for (int d = 2; ok && d < 5; ++d) ok = m[d] == 1 || m[d] == k[d];
      VOXNN_CHECK(ok, model, ": mask has shape ", m, "; expected (B or 1, 1, D or 1, H or 1, W or 1, 1) for "
                  "masked_kspace ", k);
      if (num_low) {
        int64_t smallest = INT64_MAX;
        for (int d = 2; d < 5; ++d)
          if (m[d] > 1) smallest = std::min(smallest, m[d]);
        VOXNN_CHECK(*num_low >= 0 && (smallest == INT64_MAX || *num_low <= smallest), model,
                    ": num_low_frequencies = ", *num_low, " must be in [0, ", smallest,
                    "] (the smallest masked axis; 0 = found from the mask)");
      }
    }
  }

  const Options options;
  NormUnetNd<N, T, D> norm_unet;

 private:
  static const Options& checked(const Options& o) {
    varnet_detail::check_norm_unet_options(o.chans, o.num_pools, o.in_chans, o.out_chans, o.drop_prob,
                                           N == 2 ? "SensitivityModel" : "SensitivityModel3d");
    return o;
  }
};

// fastmri.models.varnet.VarNetBlock: one cascade, k - where(mask, k - k0, 0) * dc_weight - E(model(R(k))).
// dc_weight is this module's own parameter (SoftDataConsistency), registered before the child "model"
// as in fastMRI. The regulariser is any module mapping (B, 1, spatial..., 2) to the same shape.
template <int N, Real T, Device D = Cpu>
class VarNetBlockNd : public nn::SoftDataConsistency<T, D> {
 public:
  explicit VarNetBlockNd(std::unique_ptr<nn::Module<T, D>> model) : VarNetBlockNd(nullptr, "", std::move(model)) {}
  VarNetBlockNd(nn::Module<T, D>* parent, std::string name, std::unique_ptr<nn::Module<T, D>> model)
      : nn::SoftDataConsistency<T, D>(parent, std::move(name)), model_(std::move(model)) {
    VOXNN_CHECK(model_ != nullptr, type_name(), ": the regulariser model is null");
    this->register_module("model", model_.get());
  }

  Var<T, D> forward(const Var<T, D>& current_kspace, const Var<T, D>& ref_kspace, const Tensor<bool>& mask,
                    const Var<T, D>& sens_maps) {
    const Var<T, D> soft_dc = this->term(current_kspace, ref_kspace, mask);
    const Var<T, D> model_term = varnet_detail::expand_op<N>(
        model_->forward(varnet_detail::reduce_op<N>(current_kspace, sens_maps)), sens_maps);
    return sub(sub(current_kspace, soft_dc), model_term);
  }
  Var<T, D> operator()(const Var<T, D>& current_kspace, const Var<T, D>& ref_kspace, const Tensor<bool>& mask,
                       const Var<T, D>& sens_maps) {
    return forward(current_kspace, ref_kspace, mask, sens_maps);
  }
  using nn::SoftDataConsistency<T, D>::forward;
  using nn::SoftDataConsistency<T, D>::operator();
  std::string type_name() const override { return N == 2 ? "VarNetBlock" : "VarNetBlock3d"; }

  nn::Module<T, D>& model() const { return *model_; }

 private:
  std::unique_ptr<nn::Module<T, D>> model_;
};

// fastmri.models.VarNet (N = 2) and VarNet3d (N = 3).
template <int N, Real T, Device D = Cpu>
class VarNetNd : public nn::Module<T, D> {
 public:
  using Options = VarNetOptions;
  explicit VarNetNd(const Options& o = {}) : VarNetNd(nullptr, "", o) {}
  VarNetNd(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : nn::Module<T, D>(parent, std::move(name)),
        options(checked(o)),
        sens_net(this, "sens_net", {.chans = o.sens_chans, .num_pools = o.sens_pools, .mask_center = o.mask_center}),
        cascades(this, "cascades") {
    for (int64_t i = 0; i < o.num_cascades; ++i)
      blocks_.push_back(&cascades.template emplace_back<VarNetBlockNd<N, T, D>>(
          std::make_unique<NormUnetNd<N, T, D>>(NormUnetOptions{.chans = o.chans, .num_pools = o.pools})));
  }

  // masked_kspace (B, coils, H, W, 2) [3-D: (B, coils, D, H, W, 2)], mask bool broadcasting as
  // (B, 1, 1, W, 1) [(B, 1, D, H, W, 1)] -> the (B, H, W) [(B, D, H, W)] root-sum-of-squares image.
  Var<T, D> forward(const Var<T, D>& masked_kspace, const Tensor<bool>& mask,
                    std::optional<int64_t> num_low_frequencies = std::nullopt) {
    SensitivityModelNd<N, T, D>::check_inputs(masked_kspace.shape(), mask.shape(), num_low_frequencies, type_name());
    const Var<T, D> sens_maps = sens_net.forward(masked_kspace, mask, num_low_frequencies);
    Var<T, D> kspace_pred = masked_kspace;
    for (VarNetBlockNd<N, T, D>* cascade : blocks_) kspace_pred = cascade->forward(kspace_pred, masked_kspace, mask, sens_maps);
    return rss(complex_abs(varnet_detail::ifftc<N>(kspace_pred)), 1);
  }
  // A real mask (fastMRI's float32 subsample masks): non-zero = sampled.
  Var<T, D> forward(const Var<T, D>& masked_kspace, const Tensor<T>& mask,
                    std::optional<int64_t> num_low_frequencies = std::nullopt) {
    return forward(masked_kspace, ops::ne(mask, T(0)), num_low_frequencies);
  }
  Var<T, D> operator()(const Var<T, D>& masked_kspace, const Tensor<bool>& mask,
                       std::optional<int64_t> num_low_frequencies = std::nullopt) {
    return forward(masked_kspace, mask, num_low_frequencies);
  }
  Var<T, D> operator()(const Var<T, D>& masked_kspace, const Tensor<T>& mask,
                       std::optional<int64_t> num_low_frequencies = std::nullopt) {
    return forward(masked_kspace, mask, num_low_frequencies);
  }
  using nn::Module<T, D>::forward;
  using nn::Module<T, D>::operator();
  std::string type_name() const override { return N == 2 ? "VarNet" : "VarNet3d"; }

  VarNetBlockNd<N, T, D>& cascade(std::size_t i) const {
    VOXNN_CHECK(i < blocks_.size(), type_name(), ": cascade ", i, " out of range for ", blocks_.size());
    return *blocks_[i];
  }

  const Options options;
  SensitivityModelNd<N, T, D> sens_net;
  nn::ModuleList<T, D> cascades;

 private:
  static const Options& checked(const Options& o) {
    const std::string model = N == 2 ? "VarNet" : "VarNet3d";
    VOXNN_CHECK(o.num_cascades >= 0, model, ": num_cascades must be non-negative, got ", o.num_cascades);
    VOXNN_CHECK(o.sens_chans > 0, model, ": sens_chans must be positive, got ", o.sens_chans);
    VOXNN_CHECK(o.sens_pools >= 0 && o.sens_pools <= 16, model, ": sens_pools must be in [0, 16], got ", o.sens_pools);
    VOXNN_CHECK(o.chans > 0, model, ": chans must be positive, got ", o.chans);
    VOXNN_CHECK(o.pools >= 0 && o.pools <= 16, model, ": pools must be in [0, 16], got ", o.pools);
    return o;
  }

  std::vector<VarNetBlockNd<N, T, D>*> blocks_;
};

template <Real T, Device D = Cpu>
using FastMriUnet = FastMriUnetNd<2, T, D>;
template <Real T, Device D = Cpu>
using FastMriUnet3d = FastMriUnetNd<3, T, D>;
template <Real T, Device D = Cpu>
using NormUnet = NormUnetNd<2, T, D>;
template <Real T, Device D = Cpu>
using NormUnet3d = NormUnetNd<3, T, D>;
template <Real T, Device D = Cpu>
using SensitivityModel = SensitivityModelNd<2, T, D>;
template <Real T, Device D = Cpu>
using SensitivityModel3d = SensitivityModelNd<3, T, D>;
template <Real T, Device D = Cpu>
using VarNetBlock = VarNetBlockNd<2, T, D>;
template <Real T, Device D = Cpu>
using VarNetBlock3d = VarNetBlockNd<3, T, D>;
template <Real T, Device D = Cpu>
using VarNet = VarNetNd<2, T, D>;
template <Real T, Device D = Cpu>
using VarNet3d = VarNetNd<3, T, D>;

}  // namespace voxnn::models
