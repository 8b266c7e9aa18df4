#pragma once
// Differentiable pooling, as torch.nn.functional's (PyTorch 1.13): max_pool, avg_pool,
// adaptive_avg_pool, adaptive_max_pool and max_unpool over 1, 2 or 3 spatial dims, one template over
// the spatial dim count N with the 1d / 2d / 3d names as thin wrappers:
//
//   Var<float> y = max_pool3d(x, 2);                        // kernel 2, stride = kernel
//   auto [v, idx] = max_pool3d_with_indices(x, 3, 2, 1);    // + PyTorch's int64 indices
//   Var<float> z = avg_pool<2>(x, {3, 2}, 1, 1, false, false);
//
// Inputs are (N, C, spatial...) or, unbatched, (C, spatial...). Kernels: include/voxnn/ops/pool.hpp.
//
// Backward passes are linear maps written as Var functions whose own backward is their adjoint, so
// every op differentiates to any order:
//   max pooling (and adaptive max)  -> scatter_add_planes (gradient onto the argmax), whose backward
//                                      is gather_planes (and gather_planes' is scatter_add_planes);
//   avg pooling (and adaptive avg)  -> avg_pool_backward, whose backward is avg pooling again;
//   max_unpool                      -> gather_planes by the same indices.
#include <array>
#include <concepts>
#include <initializer_list>
#include <optional>
#include <vector>

#include "voxnn/autograd/var.hpp"
#include "voxnn/ops/pool.hpp"
#include "voxnn/core/expanding_array.hpp"

namespace voxnn {

// A pooling result with PyTorch's indices: the flat position of each value inside its input plane.
template <Real T, Device D = Cpu>
struct PoolWithIndices {
  Var<T, D> values;
  Tensor<int64_t> indices;
};

namespace pool_detail {

template <class D>
constexpr void require_cpu_pooling() {
  static_assert(std::same_as<D, Cpu>, "pooling is implemented on the CPU only for now");
}

enum class PoolOp { max_pool, avg_pool, adaptive_avg_pool, adaptive_max_pool, max_unpool };

// "max_pool3d" etc., for error messages and graph nodes.
template <int N>
const char* pool_name(PoolOp op) {
  static_assert(N >= 1 && N <= 3, "pooling has 1, 2 or 3 spatial dims");
  static constexpr const char* names[5][3] = {
      {"max_pool1d", "max_pool2d", "max_pool3d"},
      {"avg_pool1d", "avg_pool2d", "avg_pool3d"},
      {"adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d"},
      {"adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"},
      {"max_unpool1d", "max_unpool2d", "max_unpool3d"},
  };
  return names[static_cast<int>(op)][N - 1];
}

template <int N>
ops::PoolWindow<N> pool_window(const ExpandingArray<N>& kernel, const OptionalExpandingArray<N>& stride,
                               const ExpandingArray<N>& padding, const ExpandingArray<N>& dilation, bool ceil_mode) {
  return {kernel.array(), stride.value_or(kernel).array(), padding.array(), dilation.array(), ceil_mode};
}

template <int N>
std::array<int64_t, N> spatial_sizes(const Shape& s) {
  std::array<int64_t, N> out{};
  for (int i = 0; i < N; ++i) out[static_cast<std::size_t>(i)] = s[s.size() - N + i];
  return out;
}

}  // namespace pool_detail

// ---- scatter / gather by plane index -------------------------------------------------------------------
// The last `spatial` dims form a plane; index has src's shape and names a position in the target plane.

template <Real T, Device D>
Var<T, D> gather_planes(const Var<T, D>& x, const Tensor<int64_t>& index, int spatial);

// Zeros of `target` with src added at its indices (the gradient of max pooling); backward: gather_planes.
template <Real T, Device D>
Var<T, D> scatter_add_planes(const Var<T, D>& src, const Tensor<int64_t>& index, const Shape& target, int spatial) {
  pool_detail::require_cpu_pooling<D>();
  return autograd::make_result<T, D>(ops::scatter_add_planes(src.value(), index, target, spatial),
                                     "scatter_add_planes", {src}, [index, spatial](const auto&, const auto&, const auto& g) {
                                       return std::vector{gather_planes(g, index, spatial)};
                                     });
}
// x's plane entries at index; backward: scatter_add_planes into x's shape.
template <Real T, Device D>
Var<T, D> gather_planes(const Var<T, D>& x, const Tensor<int64_t>& index, int spatial) {
  pool_detail::require_cpu_pooling<D>();
  return autograd::make_result<T, D>(ops::gather_planes(x.value(), index, spatial), "gather_planes", {x},
                                     [index, spatial](const auto& in, const auto&, const auto& g) {
                                       return std::vector{scatter_add_planes(g, index, in[0].shape(), spatial)};
                                     });
}

// ---- max pooling ------------------------------------------------------------------------------------------

namespace pool_detail {
template <int N, Real T, Device D>
PoolWithIndices<T, D> max_pool_impl(const Var<T, D>& x, const ops::PoolWindow<N>& w, bool want_indices) {
  require_cpu_pooling<D>();
  const bool tracked = GradMode::enabled() && x.requires_grad();
  ops::PoolResult<T> r = ops::max_pool<N>(x.value(), w, want_indices || tracked, pool_name<N>(PoolOp::max_pool));
  Var<T, D> y = autograd::make_result<T, D>(
      r.values, pool_name<N>(PoolOp::max_pool), {x}, [idx = r.indices](const auto& in, const auto&, const auto& g) {
        return std::vector{scatter_add_planes(g, idx, in[0].shape(), N)};
      });
  return {y, want_indices ? r.indices : Tensor<int64_t>()};
}
}  // namespace pool_detail

// Max pooling over N spatial dims: stride defaults to kernel_size; padding (at most half the kernel)
// counts as -inf; ceil_mode lets a last window start in the right padding; NaN propagates; ties
// report the first maximum.
template <int N, Real T, Device D>
Var<T, D> max_pool(const Var<T, D>& x, const ExpandingArray<N>& kernel_size,
                   const OptionalExpandingArray<N>& stride = std::nullopt, const ExpandingArray<N>& padding = 0,
                   const ExpandingArray<N>& dilation = 1, bool ceil_mode = false) {
  return pool_detail::max_pool_impl<N>(x, pool_detail::pool_window<N>(kernel_size, stride, padding, dilation, ceil_mode), false)
      .values;
}
// max_pool with return_indices = true.
template <int N, Real T, Device D>
PoolWithIndices<T, D> max_pool_with_indices(const Var<T, D>& x, const ExpandingArray<N>& kernel_size,
                                            const OptionalExpandingArray<N>& stride = std::nullopt,
                                            const ExpandingArray<N>& padding = 0, const ExpandingArray<N>& dilation = 1,
                                            bool ceil_mode = false) {
  return pool_detail::max_pool_impl<N>(x, pool_detail::pool_window<N>(kernel_size, stride, padding, dilation, ceil_mode), true);
}

// ---- average pooling --------------------------------------------------------------------------------------

namespace pool_detail {

template <int N, Real T, Device D>
Var<T, D> avg_pool_impl(const Var<T, D>& x, const ops::PoolWindow<N>& w, bool count_include_pad,
                        std::optional<int64_t> divisor_override);

// The adjoint of avg pooling for an input of `input_shape`; its own backward is avg pooling.
template <int N, Real T, Device D>
Var<T, D> avg_pool_backward(const Var<T, D>& grad, const Shape& input_shape, const ops::PoolWindow<N>& w,
                            bool count_include_pad, std::optional<int64_t> divisor_override) {
  const char* name = pool_name<N>(PoolOp::avg_pool);
  return autograd::make_result<T, D>(
      ops::avg_pool_backward<N>(grad.value(), input_shape, w, count_include_pad, divisor_override, name),
      "avg_pool_backward", {grad}, [w, count_include_pad, divisor_override](const auto&, const auto&, const auto& g) {
        return std::vector{avg_pool_impl<N>(g, w, count_include_pad, divisor_override)};
      });
}

template <int N, Real T, Device D>
Var<T, D> avg_pool_impl(const Var<T, D>& x, const ops::PoolWindow<N>& w, bool count_include_pad,
                        std::optional<int64_t> divisor_override) {
  require_cpu_pooling<D>();
  const char* name = pool_name<N>(PoolOp::avg_pool);
  return autograd::make_result<T, D>(
      ops::avg_pool<N>(x.value(), w, count_include_pad, divisor_override, name), name, {x},
      [w, count_include_pad, divisor_override](const auto& in, const auto&, const auto& g) {
        return std::vector{avg_pool_backward<N>(g, in[0].shape(), w, count_include_pad, divisor_override)};
      });
}

}  // namespace pool_detail

// Average pooling over N spatial dims (stride defaults to kernel_size). The divisor is
// divisor_override when given, else the window size clipped to the padded input (count_include_pad)
// or to the input itself.
template <int N, Real T, Device D>
Var<T, D> avg_pool(const Var<T, D>& x, const ExpandingArray<N>& kernel_size,
                   const OptionalExpandingArray<N>& stride = std::nullopt, const ExpandingArray<N>& padding = 0,
                   bool ceil_mode = false, bool count_include_pad = true,
                   std::optional<int64_t> divisor_override = std::nullopt) {
  return pool_detail::avg_pool_impl<N>(x, pool_detail::pool_window<N>(kernel_size, stride, padding, 1, ceil_mode),
                                  count_include_pad, divisor_override);
}

// ---- adaptive pooling -------------------------------------------------------------------------------------
// Output index o of a dim of size `in` pooled to `out` covers [floor(o * in / out), ceil((o + 1) * in / out)).
// A negative output_size entry keeps that dim's input size (PyTorch's None).

namespace pool_detail {

template <int N, Real T, Device D>
Var<T, D> adaptive_avg_pool_impl(const Var<T, D>& x, const std::array<int64_t, N>& output_size);

template <int N, Real T, Device D>
Var<T, D> adaptive_avg_pool_backward(const Var<T, D>& grad, const Shape& input_shape) {
  return autograd::make_result<T, D>(
      ops::adaptive_avg_pool_backward<N>(grad.value(), input_shape, pool_name<N>(PoolOp::adaptive_avg_pool)),
      "adaptive_avg_pool_backward", {grad}, [](const auto& in, const auto&, const auto& g) {
        return std::vector{adaptive_avg_pool_impl<N>(g, spatial_sizes<N>(in[0].shape()))};
      });
}

template <int N, Real T, Device D>
Var<T, D> adaptive_avg_pool_impl(const Var<T, D>& x, const std::array<int64_t, N>& output_size) {
  require_cpu_pooling<D>();
  const char* name = pool_name<N>(PoolOp::adaptive_avg_pool);
  return autograd::make_result<T, D>(ops::adaptive_avg_pool<N>(x.value(), output_size, name), name, {x},
                                     [](const auto& in, const auto&, const auto& g) {
                                       return std::vector{adaptive_avg_pool_backward<N>(g, in[0].shape())};
                                     });
}

template <int N, Real T, Device D>
PoolWithIndices<T, D> adaptive_max_pool_impl(const Var<T, D>& x, const ExpandingArray<N>& output_size,
                                             bool want_indices) {
  require_cpu_pooling<D>();
  const char* name = pool_name<N>(PoolOp::adaptive_max_pool);
  const bool tracked = GradMode::enabled() && x.requires_grad();
  ops::PoolResult<T> r = ops::adaptive_max_pool<N>(x.value(), output_size.array(), want_indices || tracked, name);
  Var<T, D> y = autograd::make_result<T, D>(r.values, name, {x},
                                            [idx = r.indices](const auto& in, const auto&, const auto& g) {
                                              return std::vector{scatter_add_planes(g, idx, in[0].shape(), N)};
                                            });
  return {y, want_indices ? r.indices : Tensor<int64_t>()};
}

}  // namespace pool_detail

template <int N, Real T, Device D>
Var<T, D> adaptive_avg_pool(const Var<T, D>& x, const ExpandingArray<N>& output_size) {
  return pool_detail::adaptive_avg_pool_impl<N>(x, output_size.array());
}
template <int N, Real T, Device D>
Var<T, D> adaptive_max_pool(const Var<T, D>& x, const ExpandingArray<N>& output_size) {
  return pool_detail::adaptive_max_pool_impl<N>(x, output_size, false).values;
}
template <int N, Real T, Device D>
PoolWithIndices<T, D> adaptive_max_pool_with_indices(const Var<T, D>& x, const ExpandingArray<N>& output_size) {
  return pool_detail::adaptive_max_pool_impl<N>(x, output_size, true);
}

// ---- max_unpool -------------------------------------------------------------------------------------------

// Zeros of the output size ((in - 1) * stride - 2 * padding + kernel_size per dim, or output_size with
// N or N + 2 entries within one stride of it) with x written at indices (a repeated index keeps the
// last write). Backward: the gradient gathered at indices.
template <int N, Real T, Device D>
Var<T, D> max_unpool(const Var<T, D>& x, const Tensor<int64_t>& indices, const ExpandingArray<N>& kernel_size,
                     const OptionalExpandingArray<N>& stride = std::nullopt, const ExpandingArray<N>& padding = 0,
                     const std::optional<std::vector<int64_t>>& output_size = std::nullopt) {
  pool_detail::require_cpu_pooling<D>();
  const char* name = pool_detail::pool_name<N>(pool_detail::PoolOp::max_unpool);
  const ops::PoolWindow<N> w = pool_detail::pool_window<N>(kernel_size, stride, padding, 1, false);
  return autograd::make_result<T, D>(ops::max_unpool<N>(x.value(), indices, w, output_size, name), name, {x},
                                     [indices](const auto&, const auto&, const auto& g) {
                                       return std::vector{gather_planes(g, indices, N)};
                                     });
}

// ---- 1d / 2d / 3d names, as torch.nn.functional ----------------------------------------------------------

template <Real T, Device D>
Var<T, D> max_pool1d(const Var<T, D>& x, const ExpandingArray<1>& kernel_size,
                     const OptionalExpandingArray<1>& stride = std::nullopt, const ExpandingArray<1>& padding = 0,
                     const ExpandingArray<1>& dilation = 1, bool ceil_mode = false) {
  return max_pool<1>(x, kernel_size, stride, padding, dilation, ceil_mode);
}
template <Real T, Device D>
Var<T, D> max_pool2d(const Var<T, D>& x, const ExpandingArray<2>& kernel_size,
                     const OptionalExpandingArray<2>& stride = std::nullopt, const ExpandingArray<2>& padding = 0,
                     const ExpandingArray<2>& dilation = 1, bool ceil_mode = false) {
  return max_pool<2>(x, kernel_size, stride, padding, dilation, ceil_mode);
}
template <Real T, Device D>
Var<T, D> max_pool3d(const Var<T, D>& x, const ExpandingArray<3>& kernel_size,
                     const OptionalExpandingArray<3>& stride = std::nullopt, const ExpandingArray<3>& padding = 0,
                     const ExpandingArray<3>& dilation = 1, bool ceil_mode = false) {
  return max_pool<3>(x, kernel_size, stride, padding, dilation, ceil_mode);
}
template <Real T, Device D>
PoolWithIndices<T, D> max_pool1d_with_indices(const Var<T, D>& x, const ExpandingArray<1>& kernel_size,
                                              const OptionalExpandingArray<1>& stride = std::nullopt,
                                              const ExpandingArray<1>& padding = 0,
                                              const ExpandingArray<1>& dilation = 1, bool ceil_mode = false) {
  return max_pool_with_indices<1>(x, kernel_size, stride, padding, dilation, ceil_mode);
}
template <Real T, Device D>
PoolWithIndices<T, D> max_pool2d_with_indices(const Var<T, D>& x, const ExpandingArray<2>& kernel_size,
                                              const OptionalExpandingArray<2>& stride = std::nullopt,
                                              const ExpandingArray<2>& padding = 0,
                                              const ExpandingArray<2>& dilation = 1, bool ceil_mode = false) {
  return max_pool_with_indices<2>(x, kernel_size, stride, padding, dilation, ceil_mode);
}
template <Real T, Device D>
PoolWithIndices<T, D> max_pool3d_with_indices(const Var<T, D>& x, const ExpandingArray<3>& kernel_size,
                                              const OptionalExpandingArray<3>& stride = std::nullopt,
                                              const ExpandingArray<3>& padding = 0,
                                              const ExpandingArray<3>& dilation = 1, bool ceil_mode = false) {
  return max_pool_with_indices<3>(x, kernel_size, stride, padding, dilation, ceil_mode);
}

// avg_pool1d has no divisor_override, as in PyTorch.
template <Real T, Device D>
Var<T, D> avg_pool1d(const Var<T, D>& x, const ExpandingArray<1>& kernel_size,
                     const OptionalExpandingArray<1>& stride = std::nullopt, const ExpandingArray<1>& padding = 0,
                     bool ceil_mode = false, bool count_include_pad = true) {
  return avg_pool<1>(x, kernel_size, stride, padding, ceil_mode, count_include_pad);
}
template <Real T, Device D>
Var<T, D> avg_pool2d(const Var<T, D>& x, const ExpandingArray<2>& kernel_size,
                     const OptionalExpandingArray<2>& stride = std::nullopt, const ExpandingArray<2>& padding = 0,
                     bool ceil_mode = false, bool count_include_pad = true,
                     std::optional<int64_t> divisor_override = std::nullopt) {
  return avg_pool<2>(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override);
}
template <Real T, Device D>
Var<T, D> avg_pool3d(const Var<T, D>& x, const ExpandingArray<3>& kernel_size,
                     const OptionalExpandingArray<3>& stride = std::nullopt, const ExpandingArray<3>& padding = 0,
                     bool ceil_mode = false, bool count_include_pad = true,
                     std::optional<int64_t> divisor_override = std::nullopt) {
  return avg_pool<3>(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override);
}

template <Real T, Device D>
Var<T, D> adaptive_avg_pool1d(const Var<T, D>& x, const ExpandingArray<1>& output_size) {
  return adaptive_avg_pool<1>(x, output_size);
}
template <Real T, Device D>
Var<T, D> adaptive_avg_pool2d(const Var<T, D>& x, const ExpandingArray<2>& output_size) {
  return adaptive_avg_pool<2>(x, output_size);
}
template <Real T, Device D>
Var<T, D> adaptive_avg_pool3d(const Var<T, D>& x, const ExpandingArray<3>& output_size) {
  return adaptive_avg_pool<3>(x, output_size);
}
template <Real T, Device D>
Var<T, D> adaptive_max_pool1d(const Var<T, D>& x, const ExpandingArray<1>& output_size) {
  return adaptive_max_pool<1>(x, output_size);
}
template <Real T, Device D>
Var<T, D> adaptive_max_pool2d(const Var<T, D>& x, const ExpandingArray<2>& output_size) {
  return adaptive_max_pool<2>(x, output_size);
}
template <Real T, Device D>
Var<T, D> adaptive_max_pool3d(const Var<T, D>& x, const ExpandingArray<3>& output_size) {
  return adaptive_max_pool<3>(x, output_size);
}
template <Real T, Device D>
PoolWithIndices<T, D> adaptive_max_pool1d_with_indices(const Var<T, D>& x, const ExpandingArray<1>& output_size) {
  return adaptive_max_pool_with_indices<1>(x, output_size);
}
template <Real T, Device D>
PoolWithIndices<T, D> adaptive_max_pool2d_with_indices(const Var<T, D>& x, const ExpandingArray<2>& output_size) {
  return adaptive_max_pool_with_indices<2>(x, output_size);
}
template <Real T, Device D>
PoolWithIndices<T, D> adaptive_max_pool3d_with_indices(const Var<T, D>& x, const ExpandingArray<3>& output_size) {
  return adaptive_max_pool_with_indices<3>(x, output_size);
}

template <Real T, Device D>
Var<T, D> max_unpool1d(const Var<T, D>& x, const Tensor<int64_t>& indices, const ExpandingArray<1>& kernel_size,
                       const OptionalExpandingArray<1>& stride = std::nullopt,
                       const ExpandingArray<1>& padding = 0,
                       const std::optional<std::vector<int64_t>>& output_size = std::nullopt) {
  return max_unpool<1>(x, indices, kernel_size, stride, padding, output_size);
}
template <Real T, Device D>
Var<T, D> max_unpool2d(const Var<T, D>& x, const Tensor<int64_t>& indices, const ExpandingArray<2>& kernel_size,
                       const OptionalExpandingArray<2>& stride = std::nullopt,
                       const ExpandingArray<2>& padding = 0,
                       const std::optional<std::vector<int64_t>>& output_size = std::nullopt) {
  return max_unpool<2>(x, indices, kernel_size, stride, padding, output_size);
}
template <Real T, Device D>
Var<T, D> max_unpool3d(const Var<T, D>& x, const Tensor<int64_t>& indices, const ExpandingArray<3>& kernel_size,
                       const OptionalExpandingArray<3>& stride = std::nullopt,
                       const ExpandingArray<3>& padding = 0,
                       const std::optional<std::vector<int64_t>>& output_size = std::nullopt) {
  return max_unpool<3>(x, indices, kernel_size, stride, padding, output_size);
}

}  // namespace voxnn
