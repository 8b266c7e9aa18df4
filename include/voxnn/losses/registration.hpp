#pragma once
// Image-registration losses:
//   ncc_loss                 voxelmorph's local normalised cross-correlation (voxelmorph/voxelmorph@ca28315
//                            voxelmorph/torch/losses.py:NCC), a window of 9 per dim by default
//   grad_loss                voxelmorph's Grad smoothness penalty on a displacement field (same file:Grad)
//   bending_energy_loss      MONAI's BendingEnergyLoss (Project-MONAI/MONAI@d388d1c monai/losses/deform.py)
//   local_normalized_cross_correlation_loss
//                            MONAI's LocalNormalizedCrossCorrelationLoss (monai/losses/image_dissimilarity.py),
//                            rectangular kernel only
//
// Window sums are separable: one 1-D convolution with a ones kernel per spatial axis (voxnn's conv,
// so it runs wherever conv does), instead of voxelmorph's 9x9x9 ones-kernel convolution; the five
// sums (I, J, I^2, J^2, IJ) go through the filter as one batch. The values are the same, the cost is
// 3 x 9 instead of 729 taps per voxel. All losses are compositions of differentiable Var functions,
// so second derivatives work.
//
// Deliberate differences: voxelmorph's NCC builds its kernel on "cuda" and takes single-channel
// images; here it runs on the input's device and treats the channels of [N, C, ...] images
// independently (the mean runs over them too). voxelmorph 0.2 on PyPI has a 3-D-only Grad; this one
// is ca28315's N-d Grad (equal in 3-D).
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/functions/conv.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/losses/reduction.hpp"

namespace voxnn::losses {

namespace reg_detail {

// x [B, 1, spatial (N dims)] convolved along `axis` with a ones kernel of `length`, zero-padded by
// `pad` on both sides of that axis only.
template <int N, Real T, Device D>
Var<T, D> box_sum_axis(const Var<T, D>& x, int axis, int64_t length, int64_t pad) {
  std::vector<int64_t> ks(static_cast<std::size_t>(N + 2), 1);
  ks[static_cast<std::size_t>(2 + axis)] = length;
  std::array<int64_t, N> padding{};
  padding[static_cast<std::size_t>(axis)] = pad;
  const Var<T, D> kernel(ones<T, D>(Shape(ks)));
  return conv<N>(x, kernel, Var<T, D>(), {.padding = ExpandingArray<N>(padding)});
}

template <int N, Real T, Device D>
Var<T, D> box_sum_n(Var<T, D> x, const std::vector<int64_t>& window, const std::vector<int64_t>& pad) {
  for (int a = 0; a < N; ++a) x = box_sum_axis<N>(x, a, window[static_cast<std::size_t>(a)], pad[static_cast<std::size_t>(a)]);
  return x;
}

// Box sums over each spatial axis of x [B, 1, spatial...] (1 to 3 spatial dims).
template <Real T, Device D>
Var<T, D> box_sum(const Var<T, D>& x, const std::vector<int64_t>& window, const std::vector<int64_t>& pad) {
  switch (x.dim()) {
    case 3: return box_sum_n<1>(x, window, pad);
    case 4: return box_sum_n<2>(x, window, pad);
    default: return box_sum_n<3>(x, window, pad);
  }
}

template <class V>
struct WindowSums {
  V i, j, ii, jj, ij;
};

// The window sums of I, J, I^2, J^2 and IJ for images [N, C, spatial...], each [N * C, 1, out...].
template <Real T, Device D>
WindowSums<Var<T, D>> window_sums(const Var<T, D>& i, const Var<T, D>& j, const std::vector<int64_t>& window,
                                         const std::vector<int64_t>& pad) {
  Shape s = i.shape();
  const int64_t planes = s[0] * s[1];
  s[0] = planes;
  s[1] = 1;
  const Var<T, D> a = reshape(i, s), b = reshape(j, s);
  const Var<T, D> sums = box_sum(cat(std::vector<Var<T, D>>{a, b, mul(a, a), mul(b, b), mul(a, b)}, 0), window, pad);
  const auto part = [&](int k) { return narrow(sums, 0, k * planes, planes); };
  return {part(0), part(1), part(2), part(3), part(4)};
}

inline void check_image_pair(const Shape& a, const Shape& b, const char* loss, const char* names) {
  VOXNN_CHECK(a.size() >= 3 && a.size() <= 5, loss, ": ", names, " of shape ", a,
              " must be [N, C, spatial...] with 1 to 3 spatial dims");
  VOXNN_CHECK(a == b, loss, ": ", names, " have different shapes ", a, " and ", b);
}

}  // namespace reg_detail

// ---- voxelmorph NCC -----------------------------------------------------------------------------

struct NccOptions {
  // Window size: one value for every spatial dim, or one per dim. Every axis is zero-padded by
  // win[0] / 2 (voxelmorph's rule), so an even or anisotropic window changes the map's size.
  std::vector<int64_t> win = {9};
};

// -mean(cc), cc = cross^2 / (I_var J_var + 1e-5) with, per window of n voxels,
// cross = sum(IJ) - sum(I) sum(J) / n, I_var = sum(I^2) - sum(I)^2 / n (J_var alike).
template <Real T, Device D>
Var<T, D> ncc_loss(const Var<T, D>& y_true, const std::type_identity_t<Var<T, D>>& y_pred, const NccOptions& options = {}) {
  constexpr const char* loss = "ncc_loss";
  VOXNN_CHECK(y_true.defined() && y_pred.defined(), loss, ": y_true and y_pred must be defined");
  reg_detail::check_image_pair(y_true.shape(), y_pred.shape(), loss, "y_true and y_pred");
  const int ndims = y_true.dim() - 2;
  std::vector<int64_t> win = options.win;
  VOXNN_CHECK(win.size() == 1 || static_cast<int>(win.size()) == ndims, loss, ": win has ", win.size(),
              " sizes for ", ndims, " spatial dims (give one, or one per dim)");
  if (win.size() == 1) win.assign(static_cast<std::size_t>(ndims), win[0]);
  for (const int64_t w : win) VOXNN_CHECK(w >= 1, loss, ": window sizes must be positive, got ", w);
  const std::vector<int64_t> pad(static_cast<std::size_t>(ndims), win[0] / 2);
  for (int a = 0; a < ndims; ++a)
    VOXNN_CHECK(y_true.shape()[2 + a] + 2 * pad[static_cast<std::size_t>(a)] >= win[static_cast<std::size_t>(a)], loss,
                ": window ", win[static_cast<std::size_t>(a)], " is larger than the padded size of spatial dim ", a,
                " (images of shape ", y_true.shape(), ")");

  double n = 1;
  for (const int64_t w : win) n *= static_cast<double>(w);
  const auto s = reg_detail::window_sums(y_true, y_pred, win, pad);
  const T inv_n = static_cast<T>(1.0 / n);
  const Var<T, D> cross = sub(s.ij, mul(mul(s.i, s.j), inv_n));
  const Var<T, D> i_var = sub(s.ii, mul(mul(s.i, s.i), inv_n));
  const Var<T, D> j_var = sub(s.jj, mul(mul(s.j, s.j), inv_n));
  const Var<T, D> cc = div(mul(cross, cross), add(mul(i_var, j_var), static_cast<T>(1e-5)));
  return neg(mean(cc));
}

// ---- voxelmorph Grad ------------------------------------------------------------------------------

struct GradLossOptions {
  std::string penalty = "l1";         // "l1": |forward difference|, "l2": its square
  std::optional<double> loss_mult = {};  // scales the loss
};

// The mean over spatial axes of mean(|d_a flow|) (or of the squares), d_a the forward difference
// along axis a; flow [N, C, spatial...], any number of spatial dims.
template <Real T, Device D>
Var<T, D> grad_loss(const Var<T, D>& flow, const GradLossOptions& options = {}) {
  constexpr const char* loss = "grad_loss";
  VOXNN_CHECK(options.penalty == "l1" || options.penalty == "l2", loss, ": penalty can only be l1 or l2, got '",
              options.penalty, "'");
  VOXNN_CHECK(flow.defined() && flow.dim() >= 3, loss, ": flow of shape ", flow.defined() ? flow.shape() : Shape{},
              " must be [N, C, spatial...] with at least one spatial dim");
  const int ndims = flow.dim() - 2;
  Var<T, D> total;
  for (int a = 0; a < ndims; ++a) {
    const int64_t dim = 2 + a, n = flow.shape()[dim];
    const Var<T, D> d = sub(slice(flow, dim, 1, n), slice(flow, dim, 0, n - 1));
    const Var<T, D> m = mean(options.penalty == "l1" ? abs(d) : mul(d, d));
    total = total.defined() ? add(total, m) : m;
  }
  Var<T, D> out = mul(total, static_cast<T>(1.0 / ndims));
  if (options.loss_mult) out = mul(out, static_cast<T>(*options.loss_mult));
  return out;
}

// ---- MONAI bending energy --------------------------------------------------------------------------

struct BendingEnergyOptions {
  bool normalize = false;  // divide out the spatial sizes (roughly resolution-invariant)
  Reduction reduction = Reduction::mean;  // none: [N, C, spatial - 4 ...]
};

namespace reg_detail {
// (x[i + 1] - x[i - 1]) / 2 along `dim`, cropping one voxel at both ends of every other spatial dim.
template <Real T, Device D>
Var<T, D> central_difference(const Var<T, D>& x, int64_t dim) {
  Var<T, D> hi = x, lo = x;
  for (int64_t d = 2; d < x.dim(); ++d) {
    const int64_t n = x.shape()[d];
    hi = d == dim ? slice(hi, d, 2, n) : slice(hi, d, 1, n - 1);
    lo = d == dim ? slice(lo, d, 0, n - 2) : slice(lo, d, 1, n - 1);
  }
  return mul(sub(hi, lo), T(0.5));
}
}  // namespace reg_detail

// Sum over axis pairs of the squared second central differences of a displacement field
// pred [N, C = spatial dims, spatial...] (off-diagonal pairs twice), every spatial size > 4.
template <Real T, Device D>
Var<T, D> bending_energy_loss(const Var<T, D>& pred, const BendingEnergyOptions& options = {}) {
  constexpr const char* loss = "bending_energy_loss";
  VOXNN_CHECK(pred.defined() && pred.dim() >= 3 && pred.dim() <= 5, loss,
              ": expecting a 3-d, 4-d or 5-d pred [N, C, spatial...], got shape ", pred.defined() ? pred.shape() : Shape{});
  const int rank = pred.dim();
  for (int d = 2; d < rank; ++d)
    VOXNN_CHECK(pred.shape()[d] > 4, loss, ": all spatial dims must be > 4, got pred of shape ", pred.shape());
  VOXNN_CHECK(pred.shape()[1] == rank - 2, loss, ": number of vector components (channels) ", pred.shape()[1],
              " does not match the number of spatial dims ", rank - 2, " (pred of shape ", pred.shape(), ")");
  Var<T, D> energy;
  const auto accumulate = [&](const Var<T, D>& term) { energy = energy.defined() ? add(energy, term) : term; };
  for (int d1 = 2; d1 < rank; ++d1) {
    Var<T, D> g = reg_detail::central_difference(pred, d1);
    if (options.normalize) {
      // channel c is scaled by size[d1] / size[c]
      std::vector<Var<T, D>> parts;
      for (int c = 0; c < rank - 2; ++c)
        parts.emplace_back(full<T, D>(Shape{1}, static_cast<T>(static_cast<double>(pred.shape()[d1]) /
                                                                 static_cast<double>(pred.shape()[2 + c]))));
      Shape s(std::vector<int64_t>(static_cast<std::size_t>(rank), 1));
      s[1] = rank - 2;
      g = mul(g, reshape(cat(parts, 0), s));
    }
    const auto second = [&](int64_t d2) {
      const Var<T, D> h = reg_detail::central_difference(g, d2);
      return options.normalize ? mul(h, static_cast<T>(pred.shape()[d2])) : h;
    };
    const Var<T, D> diag = second(d1);
    accumulate(mul(diag, diag));
    for (int d2 = d1 + 1; d2 < rank; ++d2) {
      const Var<T, D> off = second(d2);
      accumulate(mul(mul(off, off), T(2)));
    }
  }
  return reduce(energy, options.reduction);
}

// ---- MONAI local normalised cross-correlation -------------------------------------------------------

struct LnccOptions {
  int spatial_dims = 3;
  int64_t kernel_size = 3;                   // odd
  std::string kernel_type = "rectangular";   // MONAI also has triangular and gaussian: not supported here
  Reduction reduction = Reduction::mean;     // none: the negated map, pred's shape
  double smooth_nr = 0.0;
  double smooth_dr = 1e-5;
};

// -(cross^2 + smooth_nr) / (max(t_var, smooth_dr) max(p_var, smooth_dr)) per voxel, reduced, with
// window sums over a kernel_size box (zero padding, same size): cross = sum(tp) - mean(p) sum(t),
// t_var = sum(t^2) - mean(t) sum(t), p_var alike.
template <Real T, Device D>
Var<T, D> local_normalized_cross_correlation_loss(const Var<T, D>& pred, const std::type_identity_t<Var<T, D>>& target,
                                                  const LnccOptions& options = {}) {
  constexpr const char* loss = "local_normalized_cross_correlation_loss";
  VOXNN_CHECK(options.spatial_dims >= 1 && options.spatial_dims <= 3, loss, ": unsupported spatial_dims ",
              options.spatial_dims, " (1, 2 or 3)");
  VOXNN_CHECK(options.kernel_size % 2 == 1 && options.kernel_size > 0, loss, ": kernel_size must be odd, got ",
              options.kernel_size);
  VOXNN_CHECK(options.kernel_type == "rectangular", loss, ": kernel_type '", options.kernel_type,
              "' is not supported (only 'rectangular')");
  VOXNN_CHECK(pred.defined() && target.defined(), loss, ": pred and target must be defined");
  VOXNN_CHECK(pred.dim() - 2 == options.spatial_dims, loss, ": expecting pred with ", options.spatial_dims,
              " spatial dims, got pred of shape ", pred.shape());
  VOXNN_CHECK(target.shape() == pred.shape(), loss, ": ground truth has differing shape ", target.shape(),
              " from pred ", pred.shape());
  const int ndims = options.spatial_dims;
  const std::vector<int64_t> win(static_cast<std::size_t>(ndims), options.kernel_size);
  const std::vector<int64_t> pad(static_cast<std::size_t>(ndims), (options.kernel_size - 1) / 2);
  double volume = 1;
  for (int a = 0; a < ndims; ++a) volume *= static_cast<double>(options.kernel_size);
  const auto s = reg_detail::window_sums(target, pred, win, pad);  // i: target, j: pred
  const T inv = static_cast<T>(1.0 / volume);
  const Var<T, D> floor_dr(full<T, D>(Shape{}, static_cast<T>(options.smooth_dr)));
  const Var<T, D> cross = sub(s.ij, mul(mul(s.j, inv), s.i));
  const Var<T, D> t_var = maximum(sub(s.ii, mul(mul(s.i, inv), s.i)), floor_dr);
  const Var<T, D> p_var = maximum(sub(s.jj, mul(mul(s.j, inv), s.j)), floor_dr);
  const Var<T, D> ncc = div(add(mul(cross, cross), static_cast<T>(options.smooth_nr)), mul(t_var, p_var));
  return neg(reduce(reshape(ncc, pred.shape()), options.reduction));
}

}  // namespace voxnn::losses
