#pragma once
// Resampling to a new spatial size (torch.nn.functional.interpolate, PyTorch 1.13 semantics) for
// inputs (N, C, W), (N, C, H, W) and (N, C, D, H, W), and its adjoint for the backward pass.
//
// Modes: "nearest", "nearest-exact", "linear" (3-dim input), "bilinear" (4-dim), "trilinear" (5-dim).
// Give exactly one of `size` and `scale_factor` (one value for every spatial dim, or one per dim).
//
// Coordinates, as PyTorch computes them:
//   - output size: `size`, or floor(in * scale_factor);
//   - the ratio `scale` of an axis is in / out, except that a given scale_factor is used as
//     1 / scale_factor unless recompute_scale_factor is true (then only the output size is kept);
//   - nearest: src = min(floor(dst * scale), in - 1); nearest-exact: min(floor(scale * (dst + 0.5)), in - 1)
//     (both floored in single precision, as PyTorch's CPU kernels do);
//   - linear modes, align_corners = false: src = max(scale * (dst + 0.5) - 0.5, 0);
//     align_corners = true: src = dst * (in - 1) / (out - 1) (0 when out == 1), the given scale_factor
//     ignored; then i0 = min(floor(src), in - 1), i1 = min(i0 + 1, in - 1), weight of i1 = src - i0;
//     an axis whose size does not change is the identity even when a scale factor says otherwise
//     (PyTorch 1.13's CPU behaviour: size 3 with scale_factor 1.3 stays as it is in linear modes, but
//     not in nearest modes).
// align_corners may only be given with the linear modes (an error with nearest, as in PyTorch); for
// those it defaults to false.
//
// The backward is always the exact adjoint of the forward. (PyTorch 1.13's nearest backward is not,
// in one corner: an axis whose size is unchanged under a scale factor, such as 5 with 1.1, is
// resampled by its forward but passed through unchanged by its backward.)
//
// Every axis is a small table of (index, weight) taps per output position, and the volume is
// resampled as a product of the three axes: the kernels blend whole input rows (contiguous, along W)
// for the D and H taps, then apply the W taps, one (plane, output depth) per work item. The adjoint
// works per (plane, input depth), collecting the output depths that read it, so that no two threads
// write the same gradient element.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn {

// A per-spatial-dimension argument whose number of dims is only known from the input: one value for
// every dim, or one per dim; empty when not given.
template <class V>
class DimValues {
 public:
  DimValues() = default;
  DimValues(V v) : values_{v} {}                                   // NOLINT: implicit, so `.size = 64` works
  DimValues(std::initializer_list<V> list) : values_(list) {}      // NOLINT
  DimValues(std::vector<V> values) : values_(std::move(values)) {}  // NOLINT
  bool empty() const { return values_.empty(); }
  std::size_t size() const { return values_.size(); }
  const std::vector<V>& values() const { return values_; }
  // The value for spatial dim i of n; the caller has checked size() is 1 or n.
  V at(int i) const { return values_[values_.size() == 1 ? 0 : static_cast<std::size_t>(i)]; }

 private:
  std::vector<V> values_;
};

struct InterpolateOptions {
  DimValues<int64_t> size{};       // output spatial size
  DimValues<double> scale_factor{};  // or the factor the spatial size is multiplied by
  std::string mode = "nearest";    // nearest | nearest-exact | linear | bilinear | trilinear
  std::optional<bool> align_corners{};
  std::optional<bool> recompute_scale_factor{};
};

namespace ops {

enum class InterpMode { nearest, nearest_exact, linear };

// A resolved interpolate call: what forward and adjoint need.
struct InterpolatePlan {
  InterpMode mode = InterpMode::nearest;
  bool align_corners = false;
  int spatial = 0;
  Shape in, out;
  std::vector<std::optional<double>> scales;  // the scale factor of each spatial dim, when it sets the ratio
};

namespace detail {

template <class V>
std::string dim_values_text(const std::vector<V>& v) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ')';
  return os.str();
}

}  // namespace detail

inline InterpolatePlan plan_interpolate(const Shape& in, const InterpolateOptions& o) {
  InterpolatePlan plan;
  const int rank = in.size();
  const std::string& mode = o.mode;
  VOXNN_CHECK(rank >= 3 && rank <= 5, "interpolate: input has ", rank, " dims ", in,
              "; expected 3, 4 or 5 (N, C, then 1 to 3 spatial dims)");
  const int spatial = rank - 2;
  plan.spatial = spatial;
  plan.in = in;
  const bool linear = mode == "linear" || mode == "bilinear" || mode == "trilinear";
  VOXNN_CHECK(linear || mode == "nearest" || mode == "nearest-exact", "interpolate: unsupported mode '", mode,
              "'; expected nearest, nearest-exact, linear, bilinear or trilinear");
  if (!linear)
    VOXNN_CHECK(!o.align_corners.has_value(), "interpolate: align_corners can only be set with the interpolating modes "
                "linear, bilinear and trilinear, not with mode '", mode, "'");
  if (linear) {
    const int want = mode == "linear" ? 1 : mode == "bilinear" ? 2 : 3;
    VOXNN_CHECK(spatial == want, "interpolate: mode '", mode, "' needs a ", want + 2, "-dim input, got ", rank,
                " dims ", in);
  }
  plan.mode = linear ? InterpMode::linear : mode == "nearest" ? InterpMode::nearest : InterpMode::nearest_exact;
  plan.align_corners = linear && o.align_corners.value_or(false);

  const bool has_size = !o.size.empty(), has_scale = !o.scale_factor.empty();
  VOXNN_CHECK(has_size != has_scale, "interpolate: give exactly one of size and scale_factor (input ", in, ")");
  const bool recompute = o.recompute_scale_factor.value_or(false);
  VOXNN_CHECK(!(recompute && has_size), "interpolate: recompute_scale_factor is not meaningful with an explicit size");
  plan.out = in;
  plan.scales.assign(static_cast<std::size_t>(spatial), std::nullopt);
  if (has_size) {
    VOXNN_CHECK(o.size.size() == 1 || o.size.size() == static_cast<std::size_t>(spatial), "interpolate: size ",
                detail::dim_values_text(o.size.values()), " has ", o.size.size(), " values for the ", spatial,
                " spatial dims of input ", in);
    for (int i = 0; i < spatial; ++i) plan.out[2 + i] = o.size.at(i);
  } else {
    VOXNN_CHECK(o.scale_factor.size() == 1 || o.scale_factor.size() == static_cast<std::size_t>(spatial),
                "interpolate: scale_factor ", detail::dim_values_text(o.scale_factor.values()), " has ",
                o.scale_factor.size(), " values for the ", spatial, " spatial dims of input ", in);
    for (int i = 0; i < spatial; ++i) {
      const double s = o.scale_factor.at(i);
      VOXNN_CHECK(s > 0 && std::isfinite(s), "interpolate: scale_factor ",
                  detail::dim_values_text(o.scale_factor.values()), " must be positive and finite");
      plan.out[2 + i] = static_cast<int64_t>(std::floor(static_cast<double>(in[2 + i]) * s));
      if (!recompute) plan.scales[static_cast<std::size_t>(i)] = s;
    }
  }
  for (int i = 0; i < spatial; ++i)
    VOXNN_CHECK(in[2 + i] > 0 && plan.out[2 + i] > 0, "interpolate: input spatial size ", in,
                " and output size ", plan.out, " must both be greater than 0");
  return plan;
}

namespace detail {

// The taps of one axis: output position o reads i0[o] (weight w0[o]) and, with two taps, i1[o] (w1[o]).
template <class T>
struct InterpAxis {
  int taps = 1;
  int64_t in = 1, out = 1;
  std::vector<int64_t> i0, i1;
  std::vector<T> w0, w1;
};

template <class T>
InterpAxis<T> identity_axis() {
  InterpAxis<T> a;
  a.i0 = {0};
  a.w0 = {T(1)};
  return a;
}

// The ratio in / out of an axis, or 1 / scale_factor when a scale factor sets it.
template <class T>
T axis_ratio(int64_t in, int64_t out, std::optional<double> scale) {
  return scale && *scale > 0 ? static_cast<T>(1.0 / *scale) : static_cast<T>(in) / static_cast<T>(out);
}

template <class T>
InterpAxis<T> make_axis(const InterpolatePlan& plan, int i) {
  InterpAxis<T> a;
  a.in = plan.in[2 + i];
  a.out = plan.out[2 + i];
  const std::optional<double> scale = plan.scales[static_cast<std::size_t>(i)];
  const int64_t in = a.in, out = a.out;
  a.i0.resize(static_cast<std::size_t>(out));
  a.w0.assign(static_cast<std::size_t>(out), T(1));
  if (plan.mode != InterpMode::linear) {
    // PyTorch computes the source coordinate in T and floors it in single precision.
    const T ratio = axis_ratio<T>(in, out, scale);
    for (int64_t o = 0; o < out; ++o) {
      float src;
      if (plan.mode == InterpMode::nearest) {
        src = static_cast<float>(ratio * static_cast<T>(o));
      } else {
        const T centre = std::max(ratio * (static_cast<T>(o) + T(0.5)) - T(0.5), T(0));
        src = static_cast<float>(static_cast<double>(centre) + 0.5);
      }
      a.i0[static_cast<std::size_t>(o)] = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
    }
    return a;
  }
  a.taps = 2;
  a.i1.resize(static_cast<std::size_t>(out));
  a.w1.resize(static_cast<std::size_t>(out));
  // an axis whose size does not change is left as it is, whatever the scale factor (as PyTorch's CPU
  // kernels do)
  const bool same = in == out;
  T ratio;
  if (plan.align_corners)
    ratio = out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  else
    ratio = axis_ratio<T>(in, out, scale);
  for (int64_t o = 0; o < out; ++o) {
    T src;
    if (same) {
      src = static_cast<T>(o);
    } else if (plan.align_corners) {
      src = ratio * static_cast<T>(o);
    } else {
      src = ratio * (static_cast<T>(o) + T(0.5)) - T(0.5);
      if (src < 0) src = 0;
    }
    const int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
    const T lambda = std::min(std::max(src - static_cast<T>(i0), T(0)), T(1));
    const auto k = static_cast<std::size_t>(o);
    a.i0[k] = i0;
    a.i1[k] = i0 + (i0 < in - 1 ? 1 : 0);
    a.w0[k] = T(1) - lambda;
    a.w1[k] = lambda;
  }
  return a;
}

// The three axes (D, H, W) of a plan; missing leading spatial dims are identity axes of size 1.
template <class T>
std::array<InterpAxis<T>, 3> make_axes(const InterpolatePlan& plan) {
  std::array<InterpAxis<T>, 3> axes{identity_axis<T>(), identity_axis<T>(), identity_axis<T>()};
  for (int i = 0; i < plan.spatial; ++i) axes[static_cast<std::size_t>(3 - plan.spatial + i)] = make_axis<T>(plan, i);
  return axes;
}

template <class T>
int64_t tap_index(const InterpAxis<T>& a, int t, int64_t o) {
  return t == 0 ? a.i0[static_cast<std::size_t>(o)] : a.i1[static_cast<std::size_t>(o)];
}
template <class T>
T tap_weight(const InterpAxis<T>& a, int t, int64_t o) {
  return t == 0 ? a.w0[static_cast<std::size_t>(o)] : a.w1[static_cast<std::size_t>(o)];
}

}  // namespace detail

// Resamples x by a resolved plan (plan_interpolate(x.shape(), options)).
template <Real T, Device D>
Tensor<T, D> interpolate_forward(const Tensor<T, D>& input, const InterpolatePlan& plan) {
  static_assert(std::is_same_v<D, Cpu>, "ops::interpolate: CPU only for now");
  VOXNN_CHECK(input.shape() == plan.in, "interpolate: input of shape ", input.shape(), " for a plan made for ",
              plan.in);
  const auto axes = detail::make_axes<T>(plan);
  const auto &ad = axes[0], &ah = axes[1], &aw = axes[2];
  const Tensor<T, D> x = input.contiguous();
  Tensor<T, D> out(plan.out);
  const int64_t planes = plan.in[0] * plan.in[1];
  const int64_t Hin = ah.in, Win = aw.in, Hout = ah.out, Wout = aw.out;
  const int64_t in_plane = ad.in * Hin * Win;
  const T* px = x.data();
  T* po = out.data();
  const int64_t items = planes * ad.out;
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(Hout * Wout, 1));
  parallel_for(0, items, grain, [&](int64_t ib, int64_t ie) {
    std::vector<T> tmp(static_cast<std::size_t>(Win));
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t p = item / ad.out, od = item % ad.out;
      const T* xp = px + p * in_plane;
      T* op = po + item * Hout * Wout;
      for (int64_t oh = 0; oh < Hout; ++oh) {
        const T* src;
        if (ad.taps == 1 && ah.taps == 1) {  // weights 1: read the row in place
          src = xp + (ad.i0[static_cast<std::size_t>(od)] * Hin + ah.i0[static_cast<std::size_t>(oh)]) * Win;
        } else {
          bool first = true;
          for (int td = 0; td < ad.taps; ++td)
            for (int th = 0; th < ah.taps; ++th) {
              const T w = detail::tap_weight(ad, td, od) * detail::tap_weight(ah, th, oh);
              const T* row = xp + (detail::tap_index(ad, td, od) * Hin + detail::tap_index(ah, th, oh)) * Win;
              T* t = tmp.data();
              if (first)
                for (int64_t j = 0; j < Win; ++j) t[j] = w * row[j];
              else
                for (int64_t j = 0; j < Win; ++j) t[j] += w * row[j];
              first = false;
            }
          src = tmp.data();
        }
        T* o = op + oh * Wout;
        const int64_t* i0 = aw.i0.data();
        if (aw.taps == 1) {
          for (int64_t ow = 0; ow < Wout; ++ow) o[ow] = src[i0[ow]];
        } else {
          const int64_t* i1 = aw.i1.data();
          const T* w0 = aw.w0.data();
          const T* w1 = aw.w1.data();
          for (int64_t ow = 0; ow < Wout; ++ow) o[ow] = w0[ow] * src[i0[ow]] + w1[ow] * src[i1[ow]];
        }
      }
    }
  });
  return out;
}

// The adjoint of interpolate_forward: a tensor of the input's shape collecting every output
// gradient with its interpolation weight. Linear in `grad`; its own adjoint is interpolate_forward.
template <Real T, Device D>
Tensor<T, D> interpolate_backward(const Tensor<T, D>& grad, const InterpolatePlan& plan) {
  static_assert(std::is_same_v<D, Cpu>, "ops::interpolate_backward: CPU only for now");
  VOXNN_CHECK(grad.shape() == plan.out, "interpolate_backward: gradient of shape ", grad.shape(),
              " for an output of shape ", plan.out);
  const auto axes = detail::make_axes<T>(plan);
  const auto &ad = axes[0], &ah = axes[1], &aw = axes[2];
  const Tensor<T, D> g = grad.contiguous();
  Tensor<T, D> out(plan.in);
  const int64_t planes = plan.in[0] * plan.in[1];
  const int64_t Din = ad.in, Hin = ah.in, Win = aw.in, Dout = ad.out, Hout = ah.out, Wout = aw.out;
  // The (output depth, weight) pairs that read each input depth (CSR).
  std::vector<int64_t> first(static_cast<std::size_t>(Din + 1), 0);
  for (int td = 0; td < ad.taps; ++td)
    for (int64_t od = 0; od < Dout; ++od) ++first[static_cast<std::size_t>(detail::tap_index(ad, td, od) + 1)];
  for (int64_t i = 0; i < Din; ++i) first[static_cast<std::size_t>(i + 1)] += first[static_cast<std::size_t>(i)];
  std::vector<std::pair<int64_t, T>> readers(static_cast<std::size_t>(first.back()));
  {
    std::vector<int64_t> at(first.begin(), first.end() - 1);
    for (int64_t od = 0; od < Dout; ++od)
      for (int td = 0; td < ad.taps; ++td)
        readers[static_cast<std::size_t>(at[static_cast<std::size_t>(detail::tap_index(ad, td, od))]++)] = {
            od, detail::tap_weight(ad, td, od)};
  }
  const T* pg = g.data();
  T* po = out.data();
  const int64_t items = planes * Din;
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(Hout * Wout * 2, 1));
  parallel_for(0, items, grain, [&](int64_t ib, int64_t ie) {
    std::vector<T> acc(static_cast<std::size_t>(Wout)), tmp(static_cast<std::size_t>(Win));
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t p = item / Din, id = item % Din;
      T* gi = po + item * Hin * Win;
      std::fill(gi, gi + Hin * Win, T(0));
      const int64_t rb = first[static_cast<std::size_t>(id)], re = first[static_cast<std::size_t>(id + 1)];
      if (rb == re) continue;
      const T* gp = pg + p * Dout * Hout * Wout;
      for (int64_t oh = 0; oh < Hout; ++oh) {
        // the output rows (od, oh) that read input depth id, blended by their depth weights
        const T* row;
        if (re - rb == 1 && readers[static_cast<std::size_t>(rb)].second == T(1)) {
          row = gp + (readers[static_cast<std::size_t>(rb)].first * Hout + oh) * Wout;
        } else {
          T* a = acc.data();
          for (int64_t r = rb; r < re; ++r) {
            const auto [od, w] = readers[static_cast<std::size_t>(r)];
            const T* s = gp + (od * Hout + oh) * Wout;
            if (r == rb)
              for (int64_t j = 0; j < Wout; ++j) a[j] = w * s[j];
            else
              for (int64_t j = 0; j < Wout; ++j) a[j] += w * s[j];
          }
          row = a;
        }
        // the adjoint of the W taps
        T* t = tmp.data();
        std::fill(t, t + Win, T(0));
        const int64_t* i0 = aw.i0.data();
        if (aw.taps == 1) {
          for (int64_t ow = 0; ow < Wout; ++ow) t[i0[ow]] += row[ow];
        } else {
          const int64_t* i1 = aw.i1.data();
          const T* w0 = aw.w0.data();
          const T* w1 = aw.w1.data();
          for (int64_t ow = 0; ow < Wout; ++ow) {
            t[i0[ow]] += w0[ow] * row[ow];
            t[i1[ow]] += w1[ow] * row[ow];
          }
        }
        // onto the input rows of the H taps
        for (int th = 0; th < ah.taps; ++th) {
          const T w = detail::tap_weight(ah, th, oh);
          T* dst = gi + detail::tap_index(ah, th, oh) * Win;
          for (int64_t j = 0; j < Win; ++j) dst[j] += w * t[j];
        }
      }
    }
  });
  return out;
}

// torch.nn.functional.interpolate on a tensor; see the top of this file.
template <Real T, Device D>
Tensor<T, D> interpolate(const Tensor<T, D>& x, const InterpolateOptions& options) {
  return interpolate_forward(x, plan_interpolate(x.shape(), options));
}

}  // namespace ops
}  // namespace voxnn
