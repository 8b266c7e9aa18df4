#pragma once
// Differentiable convolutions: conv1d/2d/3d and conv_transpose1d/2d/3d with torch.nn.functional's
// arguments. Three linear maps close under differentiation: the convolution C(x, w), its adjoint in x
// (C^T, the transposed convolution) and its adjoint in w (W). Each one's gradients are the other two,
// so second derivatives (a gradient penalty through a convolutional critic) come for free.
#include <array>
#include <concepts>
#include <initializer_list>
#include <string>
#include <variant>
#include <vector>

#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/core/expanding_array.hpp"
#include "voxnn/ops/conv.hpp"

namespace voxnn {

// Convolution padding: explicit sizes, or "same" / "valid" as in torch.nn.Conv*d.
template <int N>
class ConvPadding {
 public:
  // integral, not int64_t: a literal 0 must not be read as a null `const char*`
  template <std::integral I>
  ConvPadding(I v) : value_(ExpandingArray<N>(v)) {}                                        // NOLINT
  ConvPadding(std::initializer_list<int64_t> list) : value_(ExpandingArray<N>(list)) {}     // NOLINT
  ConvPadding(const ExpandingArray<N>& a) : value_(a) {}                                    // NOLINT
  ConvPadding(const char* mode) : ConvPadding(std::string(mode)) {}                         // NOLINT
  ConvPadding(const std::string& mode) : value_(mode) {                                     // NOLINT
    VOXNN_CHECK(mode == "same" || mode == "valid", "padding must be a size, 'same' or 'valid', got '", mode, "'");
  }
  bool is_same() const { return std::holds_alternative<std::string>(value_) && std::get<std::string>(value_) == "same"; }
  bool is_valid() const { return std::holds_alternative<std::string>(value_) && std::get<std::string>(value_) == "valid"; }
  bool is_explicit() const { return std::holds_alternative<ExpandingArray<N>>(value_); }
  const ExpandingArray<N>& sizes() const { return std::get<ExpandingArray<N>>(value_); }

 private:
  std::variant<ExpandingArray<N>, std::string> value_;
};

// Keyword arguments of conv1d/2d/3d.
template <int N>
struct ConvFuncOptions {
  ExpandingArray<N> stride = 1;
  ConvPadding<N> padding = 0;
  ExpandingArray<N> dilation = 1;
  int64_t groups = 1;
};

// Keyword arguments of conv_transpose1d/2d/3d (PyTorch's order: groups before dilation).
template <int N>
struct ConvTransposeFuncOptions {
  ExpandingArray<N> stride = 1;
  ExpandingArray<N> padding = 0;
  ExpandingArray<N> output_padding = 0;
  int64_t groups = 1;
  ExpandingArray<N> dilation = 1;
};

namespace autograd::conv_impl {

inline constexpr const char* kConvName[] = {"", "conv1d", "conv2d", "conv3d"};
inline constexpr const char* kConvTransposeName[] = {"", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"};

// Dims summed to get a bias gradient: batch and every spatial dim.
template <int N>
std::vector<int64_t> bias_dims() {
  std::vector<int64_t> dims{0};
  for (int i = 0; i < N; ++i) dims.push_back(2 + i);
  return dims;
}

template <int N, Real T, Device D>
Var<T, D> forward(const Var<T, D>& x, const Var<T, D>& w, const Var<T, D>& b, const ops::ConvParams<N>& p);
template <int N, Real T, Device D>
Var<T, D> input_grad(const Var<T, D>& gy, const Var<T, D>& w, const Var<T, D>& b, const Shape& x_shape,
                     const ops::ConvParams<N>& p);
template <int N, Real T, Device D>
Var<T, D> weight_grad(const Var<T, D>& x, const Var<T, D>& gy, const Shape& w_shape, const ops::ConvParams<N>& p);

// C(x, w) + b
template <int N, Real T, Device D>
Var<T, D> forward(const Var<T, D>& x, const Var<T, D>& w, const Var<T, D>& b, const ops::ConvParams<N>& p) {
  Tensor<T, D> value = ops::conv_forward<N>(x.value(), w.value(), b.defined() ? b.value() : Tensor<T, D>(), p,
                                            kConvName[N]);
  std::vector<Var<T, D>> inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  return make_result<T, D>(std::move(value), kConvName[N], std::move(inputs),
                           [p](const auto& in, const auto&, const auto& g) {
                             std::vector<Var<T, D>> grads(in.size());
                             if (needs_grad(in, 0)) grads[0] = input_grad<N>(g, in[1], Var<T, D>(), in[0].shape(), p);
                             if (needs_grad(in, 1)) grads[1] = weight_grad<N>(in[0], g, in[1].shape(), p);
                             if (needs_grad(in, 2)) grads[2] = sum(g, bias_dims<N>());
                             return grads;
                           });
}

// C^T(gy, w) + b: the transposed convolution, gy [B, Cout, out...] -> [B, Cin, x_shape...]
template <int N, Real T, Device D>
Var<T, D> input_grad(const Var<T, D>& gy, const Var<T, D>& w, const Var<T, D>& b, const Shape& x_shape,
                     const ops::ConvParams<N>& p) {
  Tensor<T, D> value = ops::conv_input_grad<N>(gy.value(), w.value(), x_shape, p,
                                               b.defined() ? b.value() : Tensor<T, D>(), kConvTransposeName[N]);
  std::vector<Var<T, D>> inputs{gy, w};
  if (b.defined()) inputs.push_back(b);
  return make_result<T, D>(std::move(value), kConvTransposeName[N], std::move(inputs),
                           [p](const auto& in, const auto&, const auto& g) {
                             std::vector<Var<T, D>> grads(in.size());
                             if (needs_grad(in, 0)) grads[0] = forward<N>(g, in[1], Var<T, D>(), p);
                             if (needs_grad(in, 1)) grads[1] = weight_grad<N>(g, in[0], in[1].shape(), p);
                             if (needs_grad(in, 2)) grads[2] = sum(g, bias_dims<N>());
                             return grads;
                           });
}

// W(x, gy): the weight gradient of C at x for output gradient gy.
template <int N, Real T, Device D>
Var<T, D> weight_grad(const Var<T, D>& x, const Var<T, D>& gy, const Shape& w_shape, const ops::ConvParams<N>& p) {
  Tensor<T, D> value = ops::conv_weight_grad<N>(x.value(), gy.value(), w_shape, p);
  return make_result<T, D>(std::move(value), "conv_weight_grad", {x, gy}, [p](const auto& in, const auto&, const auto& g) {
    std::vector<Var<T, D>> grads(2);
    if (needs_grad(in, 0)) grads[0] = input_grad<N>(in[1], g, Var<T, D>(), in[0].shape(), p);
    if (needs_grad(in, 1)) grads[1] = forward<N>(in[0], g, Var<T, D>(), p);
    return grads;
  });
}

// Runs f on x with a batch dimension, adding and removing one for unbatched input (C, spatial...).
template <int N, Real T, Device D, class F>
Var<T, D> batched(const Var<T, D>& x, const char* op, F&& f) {
  VOXNN_CHECK(x.dim() == N + 1 || x.dim() == N + 2, op, ": input has ", x.dim(), " dims ", x.shape(), "; expected ",
              N + 2, " (N, C, ", N, " spatial) or ", N + 1, " without the batch");
  if (x.dim() == N + 2) return f(x);
  return squeeze(f(unsqueeze(x, 0)), 0);
}

}  // namespace autograd::conv_impl

// Resolves a convolution's padding against its kernel: "same" pads dilation * (kernel - 1) in total,
// the odd element on the right (stride 1 only), "valid" none.
template <int N>
ops::ConvParams<N> conv_params(const ConvFuncOptions<N>& o, const Shape& weight, const char* op) {
  ops::ConvParams<N> p;
  p.groups = o.groups;
  for (int i = 0; i < N; ++i) {
    p.stride[i] = o.stride[i];
    p.dilation[i] = o.dilation[i];
    if (o.padding.is_explicit()) {
      VOXNN_CHECK(o.padding.sizes()[i] >= 0, op, ": padding must be non-negative, got ", o.padding.sizes()[i]);
      p.pad_left[i] = p.pad_right[i] = o.padding.sizes()[i];
    } else if (o.padding.is_same()) {
      VOXNN_CHECK(o.stride.all(1), op, ": padding='same' is not supported for strided convolutions");
      const int64_t total = o.dilation[i] * (weight.size() == N + 2 ? weight[2 + i] - 1 : 0);
      p.pad_left[i] = total / 2;
      p.pad_right[i] = total - total / 2;
    }
  }
  return p;
}

// torch.nn.functional.conv{N}d: x [B, Cin, spatial...] or unbatched [Cin, spatial...],
// weight [Cout, Cin/groups, k...], bias [Cout] or undefined.
template <int N, Real T, Device D>
Var<T, D> conv(const Var<T, D>& x, const Var<T, D>& weight, const Var<T, D>& bias = {},
               const ConvFuncOptions<N>& o = {}) {
  static_assert(N >= 1 && N <= 3, "conv: 1, 2 or 3 spatial dims");
  const char* op = autograd::conv_impl::kConvName[N];
  const ops::ConvParams<N> p = conv_params<N>(o, weight.shape(), op);
  return autograd::conv_impl::batched<N>(x, op, [&](const Var<T, D>& xb) {
    return autograd::conv_impl::forward<N>(xb, weight, bias, p);
  });
}
template <Real T, Device D>
Var<T, D> conv1d(const Var<T, D>& x, const Var<T, D>& w, const Var<T, D>& b = {}, const ConvFuncOptions<1>& o = {}) {
  return conv<1>(x, w, b, o);
}
template <Real T, Device D>
Var<T, D> conv2d(const Var<T, D>& x, const Var<T, D>& w, const Var<T, D>& b = {}, const ConvFuncOptions<2>& o = {}) {
  return conv<2>(x, w, b, o);
}
template <Real T, Device D>
Var<T, D> conv3d(const Var<T, D>& x, const Var<T, D>& w, const Var<T, D>& b = {}, const ConvFuncOptions<3>& o = {}) {
  return conv<3>(x, w, b, o);
}

// Output spatial sizes of conv_transpose{N}d.
template <int N>
std::array<int64_t, N> conv_transpose_output_size(const Shape& x, const Shape& weight, const ConvTransposeFuncOptions<N>& o) {
  std::array<int64_t, N> out{};
  const int first = x.size() - N;
  for (int i = 0; i < N; ++i)
    out[i] = (x[first + i] - 1) * o.stride[i] - 2 * o.padding[i] + o.dilation[i] * (weight[2 + i] - 1) +
             o.output_padding[i] + 1;
  return out;
}

// torch.nn.functional.conv_transpose{N}d: x [B, Cin, spatial...] (or unbatched), weight
// [Cin, Cout/groups, k...], bias [Cout] or undefined.
template <int N, Real T, Device D>
Var<T, D> conv_transpose(const Var<T, D>& x, const Var<T, D>& weight, const Var<T, D>& bias = {},
                         const ConvTransposeFuncOptions<N>& o = {}) {
  static_assert(N >= 1 && N <= 3, "conv_transpose: 1, 2 or 3 spatial dims");
  const char* op = autograd::conv_impl::kConvTransposeName[N];
  VOXNN_CHECK(weight.dim() == N + 2, op, ": weight has ", weight.dim(), " dims ", weight.shape(), "; expected ", N + 2,
              " (Cin, Cout/groups, k...)");
  VOXNN_CHECK(o.groups >= 1 && weight.size(0) % o.groups == 0, op, ": weight ", weight.shape(), " has ",
              weight.size(0), " input channels, not divisible by groups = ", o.groups);
  ops::ConvParams<N> p;
  p.groups = o.groups;
  for (int i = 0; i < N; ++i) {
    VOXNN_CHECK(o.stride[i] >= 1 && o.dilation[i] >= 1 && o.padding[i] >= 0, op, ": stride and dilation must be positive ",
                "and padding non-negative, got stride ", o.stride[i], ", dilation ", o.dilation[i], ", padding ", o.padding[i]);
    VOXNN_CHECK(o.output_padding[i] >= 0 && (o.output_padding[i] < o.stride[i] || o.output_padding[i] < o.dilation[i]),
                op, ": output_padding ", o.output_padding[i], " must be smaller than either stride ", o.stride[i],
                " or dilation ", o.dilation[i]);
    p.stride[i] = o.stride[i];
    p.dilation[i] = o.dilation[i];
    p.pad_left[i] = o.padding[i];
    p.pad_right[i] = o.padding[i] - o.output_padding[i];
  }
  return autograd::conv_impl::batched<N>(x, op, [&](const Var<T, D>& xb) {
    VOXNN_CHECK(xb.size(1) == weight.size(0), op, ": input ", x.shape(), " has ", xb.size(1), " channels; weight ",
                weight.shape(), " expects ", weight.size(0));
    Shape out = xb.shape();
    out[1] = weight.size(1) * o.groups;
    const auto sizes = conv_transpose_output_size<N>(xb.shape(), weight.shape(), o);
    for (int i = 0; i < N; ++i) {
      VOXNN_CHECK(sizes[i] > 0, op, ": input ", x.shape(), " with weight ", weight.shape(),
                  " gives a non-positive output size ", sizes[i], " in spatial dim ", i);
      out[2 + i] = sizes[i];
    }
    VOXNN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.numel() == out[1]), op, ": bias ",
                bias.defined() ? bias.shape() : Shape{}, " does not match the ", out[1], " output channels");
    return autograd::conv_impl::input_grad<N>(xb, weight, bias, out, p);
  });
}
template <Real T, Device D>
Var<T, D> conv_transpose1d(const Var<T, D>& x, const Var<T, D>& w, const Var<T, D>& b = {},
                           const ConvTransposeFuncOptions<1>& o = {}) {
  return conv_transpose<1>(x, w, b, o);
}
template <Real T, Device D>
Var<T, D> conv_transpose2d(const Var<T, D>& x, const Var<T, D>& w, const Var<T, D>& b = {},
                           const ConvTransposeFuncOptions<2>& o = {}) {
  return conv_transpose<2>(x, w, b, o);
}
template <Real T, Device D>
Var<T, D> conv_transpose3d(const Var<T, D>& x, const Var<T, D>& w, const Var<T, D>& b = {},
                           const ConvTransposeFuncOptions<3>& o = {}) {
  return conv_transpose<3>(x, w, b, o);
}

}  // namespace voxnn
