#pragma once
// Conv1d/2d/3d and ConvTranspose1d/2d/3d: one template over the number of spatial dimensions, as
// torch.nn's, with its parameter names, layouts and default initialisation:
//   weight [out_channels, in_channels / groups, k...]   (transposed: [in_channels, out_channels / groups, k...])
//   bias   [out_channels]
// padding_mode other than "zeros" pads the input with pad() first and convolves without padding.
#include <string>

#include "voxnn/autograd/functions/conv.hpp"
#include "voxnn/autograd/functions/pad.hpp"
#include "voxnn/nn/init.hpp"
#include "voxnn/nn/module.hpp"

namespace voxnn::nn {

template <int N>
struct ConvOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  ExpandingArray<N> kernel_size = 1;
  ExpandingArray<N> stride = 1;
  ConvPadding<N> padding = 0;
  ExpandingArray<N> dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  std::string padding_mode = "zeros";  // zeros, reflect, replicate or circular
};

template <int N>
struct ConvTransposeOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  ExpandingArray<N> kernel_size = 1;
  ExpandingArray<N> stride = 1;
  ExpandingArray<N> padding = 0;
  ExpandingArray<N> output_padding = 0;
  int64_t groups = 1;
  bool bias = true;
  ExpandingArray<N> dilation = 1;
};

namespace detail {

inline constexpr const char* kConvModuleName[] = {"", "Conv1d", "Conv2d", "Conv3d"};
inline constexpr const char* kConvTransposeModuleName[] = {"", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"};

inline void check_channels(const char* name, int64_t in, int64_t out, int64_t groups) {
  VOXNN_CHECK(in > 0 && out > 0, name, ": in_channels and out_channels must be positive, got ", in, " and ", out);
  VOXNN_CHECK(groups > 0 && in % groups == 0 && out % groups == 0, name, ": in_channels ", in, " and out_channels ", out,
              " must both be divisible by groups = ", groups);
}

}  // namespace detail

template <int N, Real T, Device D = Cpu>
class ConvNd : public Module<T, D> {
 public:
  using Options = ConvOptions<N>;
  Var<T, D> weight, bias;

  explicit ConvNd(const Options& o) : ConvNd(nullptr, "", o) {}
  ConvNd(Module<T, D>* parent, std::string name, const Options& o) : Module<T, D>(parent, std::move(name)), options(o) {
    const char* type = detail::kConvModuleName[N];
    detail::check_channels(type, o.in_channels, o.out_channels, o.groups);
    VOXNN_CHECK(o.padding_mode == "zeros" || o.padding_mode == "reflect" || o.padding_mode == "replicate" ||
                    o.padding_mode == "circular",
                type, ": padding_mode must be zeros, reflect, replicate or circular, got '", o.padding_mode, "'");
    Shape w{o.out_channels, o.in_channels / o.groups};
    for (int i = 0; i < N; ++i) {
      VOXNN_CHECK(o.kernel_size[i] > 0, type, ": kernel_size must be positive, got ", o.kernel_size[i]);
      w.push_back(o.kernel_size[i]);
    }
    this->register_parameter("weight", &weight, empty<T, D>(w));
    init::default_weight_(weight.mutable_value());
    if (o.bias) {
      this->register_parameter("bias", &bias, empty<T, D>({o.out_channels}));
      init::default_bias_(bias.mutable_value(), weight.shape());
    }
    // resolve once: "same" depends on the kernel only
    params_ = conv_params<N>({.stride = o.stride, .padding = o.padding, .dilation = o.dilation, .groups = o.groups},
                             weight.shape(), type);
  }

  Var<T, D> forward(const Var<T, D>& x) override {
    return autograd::conv_impl::batched<N>(x, autograd::conv_impl::kConvName[N], [&](const Var<T, D>& xb) {
      if (options.padding_mode == "zeros") return autograd::conv_impl::forward<N>(xb, weight, bias, params_);
      // pad() takes the last dim first; the convolution then runs unpadded
      std::vector<int64_t> pads;
      for (int i = N - 1; i >= 0; --i) {
        pads.push_back(params_.pad_left[i]);
        pads.push_back(params_.pad_right[i]);
      }
      ops::ConvParams<N> unpadded = params_;
      unpadded.pad_left.fill(0);
      unpadded.pad_right.fill(0);
      return autograd::conv_impl::forward<N>(pad(xb, pads, options.padding_mode), weight, bias, unpadded);
    });
  }
  std::string type_name() const override { return detail::kConvModuleName[N]; }

  const Options options;

 private:
  ops::ConvParams<N> params_;
};

template <Real T, Device D = Cpu>
using Conv1d = ConvNd<1, T, D>;
template <Real T, Device D = Cpu>
using Conv2d = ConvNd<2, T, D>;
template <Real T, Device D = Cpu>
using Conv3d = ConvNd<3, T, D>;

template <int N, Real T, Device D = Cpu>
class ConvTransposeNd : public Module<T, D> {
 public:
  using Options = ConvTransposeOptions<N>;
  Var<T, D> weight, bias;

  explicit ConvTransposeNd(const Options& o) : ConvTransposeNd(nullptr, "", o) {}
  ConvTransposeNd(Module<T, D>* parent, std::string name, const Options& o)
      : Module<T, D>(parent, std::move(name)), options(o) {
    const char* type = detail::kConvTransposeModuleName[N];
    detail::check_channels(type, o.in_channels, o.out_channels, o.groups);
    Shape w{o.in_channels, o.out_channels / o.groups};
    for (int i = 0; i < N; ++i) {
      VOXNN_CHECK(o.kernel_size[i] > 0, type, ": kernel_size must be positive, got ", o.kernel_size[i]);
      w.push_back(o.kernel_size[i]);
    }
    this->register_parameter("weight", &weight, empty<T, D>(w));
    init::default_weight_(weight.mutable_value());
    if (o.bias) {
      this->register_parameter("bias", &bias, empty<T, D>({o.out_channels}));
      init::default_bias_(bias.mutable_value(), weight.shape());
    }
  }

  Var<T, D> forward(const Var<T, D>& x) override { return conv_transpose<N>(x, weight, bias, function_options(options.output_padding)); }

  // torch's forward(input, output_size): picks the output_padding that gives `output_size` (the
  // trailing N sizes) among the sizes this layer can produce.
  Var<T, D> forward(const Var<T, D>& x, const std::vector<int64_t>& output_size) {
    const char* type = detail::kConvTransposeModuleName[N];
    VOXNN_CHECK(output_size.size() >= static_cast<std::size_t>(N), type, ": output_size needs ", N, " sizes, got ",
                output_size.size());
    VOXNN_CHECK(x.dim() >= N, type, ": input ", x.shape(), " has fewer than ", N, " dims");
    ExpandingArray<N> extra = 0;
    for (int i = 0; i < N; ++i) {
      const int64_t want = output_size[output_size.size() - N + static_cast<std::size_t>(i)];
      const int64_t in = x.shape()[x.dim() - N + i];
      const int64_t smallest = (in - 1) * options.stride[i] - 2 * options.padding[i] +
                               options.dilation[i] * (options.kernel_size[i] - 1) + 1;
      const int64_t largest = smallest + options.stride[i] - 1;
      VOXNN_CHECK(want >= smallest && want <= largest, type, ": requested output size ", want, " in spatial dim ", i,
                  " is outside the range [", smallest, ", ", largest, "] for input ", x.shape());
      extra[i] = want - smallest;
    }
    return conv_transpose<N>(x, weight, bias, function_options(extra));
  }
  std::string type_name() const override { return detail::kConvTransposeModuleName[N]; }

  const Options options;

 private:
  ConvTransposeFuncOptions<N> function_options(const ExpandingArray<N>& output_padding) const {
    return {.stride = options.stride, .padding = options.padding, .output_padding = output_padding,
            .groups = options.groups, .dilation = options.dilation};
  }
};

template <Real T, Device D = Cpu>
using ConvTranspose1d = ConvTransposeNd<1, T, D>;
template <Real T, Device D = Cpu>
using ConvTranspose2d = ConvTransposeNd<2, T, D>;
template <Real T, Device D = Cpu>
using ConvTranspose3d = ConvTransposeNd<3, T, D>;

}  // namespace voxnn::nn
