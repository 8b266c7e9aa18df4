#pragma once
// Pooling modules, as torch.nn's: MaxPool, AvgPool, AdaptiveAvgPool, AdaptiveMaxPool and MaxUnpool in
// 1d / 2d / 3d, each an alias of one template over the spatial dim count. They have no parameters or
// buffers; options are named after PyTorch's constructor arguments:
//
//   nn::MaxPool3d<float> pool({.kernel_size = 2});                       // stride = kernel_size
//   nn::AvgPool2d<float> avg({.kernel_size = {3, 2}, .stride = 1, .padding = 1, .count_include_pad = false});
//   auto [values, indices] = nn::MaxPool3d<float>({.kernel_size = 2}).forward_with_indices(x);
//
// A module whose PyTorch forward would return indices (return_indices = true) returns the values from
// forward() and both from forward_with_indices(). Functions: include/voxnn/autograd/functions/pool.hpp.
#include <optional>
#include <string>
#include <vector>

#include "voxnn/autograd/functions/pool.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/core/expanding_array.hpp"

namespace voxnn::nn {

template <int N>
struct MaxPoolOptions {
  ExpandingArray<N> kernel_size;
  OptionalExpandingArray<N> stride = std::nullopt;  // kernel_size when not given
  ExpandingArray<N> padding = 0;
  ExpandingArray<N> dilation = 1;
  bool ceil_mode = false;
  bool return_indices = false;  // forward_with_indices gives them either way
};
template <int N>
struct AvgPoolOptions {
  ExpandingArray<N> kernel_size;
  OptionalExpandingArray<N> stride = std::nullopt;
  ExpandingArray<N> padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<int64_t> divisor_override = std::nullopt;  // PyTorch's AvgPool1d has none; here it may be set
};
template <int N>
struct AdaptiveAvgPoolOptions {
  ExpandingArray<N> output_size;  // a negative entry keeps that input size (PyTorch's None)
};
template <int N>
struct AdaptiveMaxPoolOptions {
  ExpandingArray<N> output_size;
  bool return_indices = false;
};
template <int N>
struct MaxUnpoolOptions {
  ExpandingArray<N> kernel_size;
  OptionalExpandingArray<N> stride = std::nullopt;
  ExpandingArray<N> padding = 0;
};

using MaxPool1dOptions = MaxPoolOptions<1>;
using MaxPool2dOptions = MaxPoolOptions<2>;
using MaxPool3dOptions = MaxPoolOptions<3>;
using AvgPool1dOptions = AvgPoolOptions<1>;
using AvgPool2dOptions = AvgPoolOptions<2>;
using AvgPool3dOptions = AvgPoolOptions<3>;
using AdaptiveAvgPool1dOptions = AdaptiveAvgPoolOptions<1>;
using AdaptiveAvgPool2dOptions = AdaptiveAvgPoolOptions<2>;
using AdaptiveAvgPool3dOptions = AdaptiveAvgPoolOptions<3>;
using AdaptiveMaxPool1dOptions = AdaptiveMaxPoolOptions<1>;
using AdaptiveMaxPool2dOptions = AdaptiveMaxPoolOptions<2>;
using AdaptiveMaxPool3dOptions = AdaptiveMaxPoolOptions<3>;
using MaxUnpool1dOptions = MaxUnpoolOptions<1>;
using MaxUnpool2dOptions = MaxUnpoolOptions<2>;
using MaxUnpool3dOptions = MaxUnpoolOptions<3>;

template <int N, Real T, Device D = Cpu>
class MaxPoolNd : public ModuleWithOptions<T, D, MaxPoolOptions<N>> {
 public:
  using ModuleWithOptions<T, D, MaxPoolOptions<N>>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override {
    const auto& o = this->options;
    return ::voxnn::max_pool<N>(x, o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode);
  }
  PoolWithIndices<T, D> forward_with_indices(const Var<T, D>& x) {
    const auto& o = this->options;
    return ::voxnn::max_pool_with_indices<N>(x, o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode);
  }
  std::string type_name() const override { return "MaxPool" + std::to_string(N) + "d"; }
};

template <int N, Real T, Device D = Cpu>
class AvgPoolNd : public ModuleWithOptions<T, D, AvgPoolOptions<N>> {
 public:
  using ModuleWithOptions<T, D, AvgPoolOptions<N>>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override {
    const auto& o = this->options;
    return ::voxnn::avg_pool<N>(x, o.kernel_size, o.stride, o.padding, o.ceil_mode, o.count_include_pad,
                                o.divisor_override);
  }
  std::string type_name() const override { return "AvgPool" + std::to_string(N) + "d"; }
};

template <int N, Real T, Device D = Cpu>
class AdaptiveAvgPoolNd : public ModuleWithOptions<T, D, AdaptiveAvgPoolOptions<N>> {
 public:
  using ModuleWithOptions<T, D, AdaptiveAvgPoolOptions<N>>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override {
    return ::voxnn::adaptive_avg_pool<N>(x, this->options.output_size);
  }
  std::string type_name() const override { return "AdaptiveAvgPool" + std::to_string(N) + "d"; }
};

template <int N, Real T, Device D = Cpu>
class AdaptiveMaxPoolNd : public ModuleWithOptions<T, D, AdaptiveMaxPoolOptions<N>> {
 public:
  using ModuleWithOptions<T, D, AdaptiveMaxPoolOptions<N>>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override {
    return ::voxnn::adaptive_max_pool<N>(x, this->options.output_size);
  }
  PoolWithIndices<T, D> forward_with_indices(const Var<T, D>& x) {
    return ::voxnn::adaptive_max_pool_with_indices<N>(x, this->options.output_size);
  }
  std::string type_name() const override { return "AdaptiveMaxPool" + std::to_string(N) + "d"; }
};

// Takes the values and indices of a max pool (and optionally the output size, N or N + 2 entries);
// it has no single-input forward.
template <int N, Real T, Device D = Cpu>
class MaxUnpoolNd : public ModuleWithOptions<T, D, MaxUnpoolOptions<N>> {
 public:
  using ModuleWithOptions<T, D, MaxUnpoolOptions<N>>::ModuleWithOptions;
  using Module<T, D>::operator();
  Var<T, D> forward(const Var<T, D>& x, const Tensor<int64_t>& indices,
                    const std::optional<std::vector<int64_t>>& output_size = std::nullopt) {
    const auto& o = this->options;
    return ::voxnn::max_unpool<N>(x, indices, o.kernel_size, o.stride, o.padding, output_size);
  }
  Var<T, D> operator()(const Var<T, D>& x, const Tensor<int64_t>& indices,
                       const std::optional<std::vector<int64_t>>& output_size = std::nullopt) {
    return forward(x, indices, output_size);
  }
  std::string type_name() const override { return "MaxUnpool" + std::to_string(N) + "d"; }
};

template <Real T, Device D = Cpu>
using MaxPool1d = MaxPoolNd<1, T, D>;
template <Real T, Device D = Cpu>
using MaxPool2d = MaxPoolNd<2, T, D>;
template <Real T, Device D = Cpu>
using MaxPool3d = MaxPoolNd<3, T, D>;
template <Real T, Device D = Cpu>
using AvgPool1d = AvgPoolNd<1, T, D>;
template <Real T, Device D = Cpu>
using AvgPool2d = AvgPoolNd<2, T, D>;
template <Real T, Device D = Cpu>
using AvgPool3d = AvgPoolNd<3, T, D>;
template <Real T, Device D = Cpu>
using AdaptiveAvgPool1d = AdaptiveAvgPoolNd<1, T, D>;
template <Real T, Device D = Cpu>
using AdaptiveAvgPool2d = AdaptiveAvgPoolNd<2, T, D>;
template <Real T, Device D = Cpu>
using AdaptiveAvgPool3d = AdaptiveAvgPoolNd<3, T, D>;
template <Real T, Device D = Cpu>
using AdaptiveMaxPool1d = AdaptiveMaxPoolNd<1, T, D>;
template <Real T, Device D = Cpu>
using AdaptiveMaxPool2d = AdaptiveMaxPoolNd<2, T, D>;
template <Real T, Device D = Cpu>
using AdaptiveMaxPool3d = AdaptiveMaxPoolNd<3, T, D>;
template <Real T, Device D = Cpu>
using MaxUnpool1d = MaxUnpoolNd<1, T, D>;
template <Real T, Device D = Cpu>
using MaxUnpool2d = MaxUnpoolNd<2, T, D>;
template <Real T, Device D = Cpu>
using MaxUnpool3d = MaxUnpoolNd<3, T, D>;

}  // namespace voxnn::nn
