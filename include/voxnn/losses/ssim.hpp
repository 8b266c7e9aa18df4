#pragma once
// The SSIM loss of fastMRI's VarNet training (facebookresearch/fastMRI@91f2df4 fastmri/losses.py:SSIMLoss,
// = fastmri 0.3.0), differentiable, and its 3D extension:
//
//   Var<float> loss = losses::ssim_loss(output, target, max_value);   // output, target (N, 1, H, W); max_value (N)
//   Var<float> loss3 = losses::ssim_loss(out_vol, gt_vol, max_value);  // (N, C, D, H, W): a 7x7x7 window
//
// Per sample n with data range L = data_range[n], C1 = (k1 L)^2, C2 = (k2 L)^2 and a uniform
// win_size^d window of N = win_size^d voxels (the valid part only, no padding), means ux, uy, uxx, uyy,
// uxy and the sample covariances v = N / (N - 1) (uxx - ux ux), ...:
//   S = (2 ux uy + C1)(2 vxy + C2) / ((ux^2 + uy^2 + C1)(vx + vy + C2)),   loss = 1 - mean(S)
// (reduced = false: the map 1 - S, of shape (N, C, H - win_size + 1, W - win_size + 1)). fastMRI's
// module takes one channel; here each channel is windowed on its own (the same for C = 1).
// The window means are average pooling with stride 1, whose backward is again pooling, so gradients
// of any order flow to x and y; data_range is a constant (no gradient), as fastMRI passes the target's
// maximum.
#include <cstdint>
#include <vector>

#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/functions/pool.hpp"
#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/core/error.hpp"
#include "voxnn/core/factory.hpp"

namespace voxnn::losses {

struct SsimLossOptions {
  int64_t win_size = 7;
  double k1 = 0.01;
  double k2 = 0.03;
  bool reduced = true;  // 1 - mean(S); false: the map 1 - S
};

namespace detail {

// The mean over each win_size^N window (valid positions, stride 1) as N one-axis poolings: the same
// numbers as the full window up to rounding, at win_size instead of win_size^N work per output.
template <int N, Real T, Device D>
Var<T, D> window_mean(const Var<T, D>& v, int64_t win) {
  Var<T, D> out = v;
  for (int axis = 0; axis < N; ++axis) {
    std::array<int64_t, N> kernel;
    kernel.fill(1);
    kernel[static_cast<std::size_t>(axis)] = win;
    out = avg_pool<N>(out, ExpandingArray<N>(kernel), ExpandingArray<N>(1));
  }
  return out;
}

template <int N, Real T, Device D>
Var<T, D> ssim_map(const Var<T, D>& x, const Var<T, D>& y, const Tensor<T, D>& data_range, const SsimLossOptions& o) {
  const int64_t n = x.size(0), c = x.size(1);
  // Pool the five maps in one call: (N, 5C, ...), then split them again.
  const Var<T, D> pooled = window_mean<N>(cat(std::vector<Var<T, D>>{x, y, mul(x, x), mul(y, y), mul(x, y)}, 1), o.win_size);
  const Var<T, D> ux = narrow(pooled, 1, 0, c), uy = narrow(pooled, 1, c, c), uxx = narrow(pooled, 1, 2 * c, c),
                  uyy = narrow(pooled, 1, 3 * c, c), uxy = narrow(pooled, 1, 4 * c, c);
  double np = 1;
  for (int d = 0; d < N; ++d) np *= static_cast<double>(o.win_size);
  const T cov_norm = static_cast<T>(np / (np - 1));
  // C1, C2 per sample, shaped (N, 1, 1, ...) to broadcast.
  Shape s(std::vector<int64_t>(static_cast<std::size_t>(N + 2), 1));
  s[0] = n;
  Tensor<T> c1(s), c2(s);
  const Tensor<T> r = data_range.contiguous();
  for (int64_t i = 0; i < n; ++i) {
    const T v1 = static_cast<T>(o.k1) * r.data()[i], v2 = static_cast<T>(o.k2) * r.data()[i];
    c1.data()[i] = v1 * v1;
    c2.data()[i] = v2 * v2;
  }
  const Var<T, D> C1 = constant(c1), C2 = constant(c2);
  const Var<T, D> vx = mul(sub(uxx, mul(ux, ux)), cov_norm);
  const Var<T, D> vy = mul(sub(uyy, mul(uy, uy)), cov_norm);
  const Var<T, D> vxy = mul(sub(uxy, mul(ux, uy)), cov_norm);
  const Var<T, D> a1 = add(mul(mul(ux, uy), T(2)), C1);
  const Var<T, D> a2 = add(mul(vxy, T(2)), C2);
  const Var<T, D> b1 = add(add(mul(ux, ux), mul(uy, uy)), C1);
  const Var<T, D> b2 = add(add(vx, vy), C2);
  return div(mul(a1, a2), mul(b1, b2));
}

}  // namespace detail

// fastMRI's SSIMLoss: x, y of shape (N, C, H, W) or (N, C, D, H, W) (fastMRI: C = 1, 2D), data_range
// of shape (N) (or one value for every sample).
template <Real T, Device D>
Var<T, D> ssim_loss(const Var<T, D>& x, const std::type_identity_t<Var<T, D>>& y, const Tensor<T, D>& data_range,
                    const SsimLossOptions& options = {}) {
  require_cpu<D>();
  VOXNN_CHECK(x.defined() && y.defined(), "ssim_loss: x and y must be defined");
  VOXNN_CHECK(x.shape() == y.shape(), "ssim_loss: x of shape ", x.shape(), " and y of shape ", y.shape(),
              " differ (the shapes must match)");
  VOXNN_CHECK(x.dim() == 4 || x.dim() == 5, "ssim_loss: x of shape ", x.shape(),
              " is not (N, C, H, W) or (N, C, D, H, W)");
  VOXNN_CHECK(options.win_size >= 2, "ssim_loss: win_size must be at least 2, got ", options.win_size);
  for (int d = 2; d < x.dim(); ++d)
    VOXNN_CHECK(x.size(d) >= options.win_size, "ssim_loss: the ", options.win_size,
                "-wide window exceeds the input of shape ", x.shape());
  VOXNN_CHECK(data_range.defined() && (data_range.numel() == x.size(0) || data_range.numel() == 1),
              "ssim_loss: data_range of shape ", data_range.defined() ? data_range.shape() : Shape{},
              " does not give one value per sample (expected [", x.size(0), "])");
  const Tensor<T, D> range = data_range.numel() == x.size(0) ? data_range.reshape({x.size(0)})
                                                             : full<T, D>(Shape{x.size(0)}, data_range.contiguous().data()[0]);
  const Var<T, D> S = x.dim() == 4 ? detail::ssim_map<2>(x, y, range, options) : detail::ssim_map<3>(x, y, range, options);
  return options.reduced ? rsub(mean(S), T(1)) : rsub(S, T(1));
}

// The same with one data range for every sample.
template <Real T, Device D>
Var<T, D> ssim_loss(const Var<T, D>& x, const std::type_identity_t<Var<T, D>>& y, double data_range,
                    const SsimLossOptions& options = {}) {
  return ssim_loss(x, y, full<T, D>(Shape{1}, static_cast<T>(data_range)), options);
}

}  // namespace voxnn::losses
