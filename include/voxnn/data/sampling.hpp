#pragma once
// The one sampling kernel behind data/resample.hpp (world-grid resampling) and the spatial transforms'
// warps (transforms/resample.hpp: Affine3D, RandAffine, Rand3DElastic). Output voxel p = (a, b, c)
// reads the input at the voxel coordinate
//
//   x = M (p + d(p))          (M: a 3x4 affine in voxel indices; d: an optional displacement field
//                              [3, o0, o1, o2] in output voxels)
//
// trilinearly (8 neighbours, blended axis by axis with weights (1 - f, f), so f = 0 and f = 1 read one
// voxel exactly) or from the nearest voxel (values copied bit for bit, so any element type works).
// The plan says what happens near and beyond the edges:
//
//   padding   nan | zeros | value: a point outside the field of view takes that value;
//             border: the coordinate is clamped onto [0, n - 1] (every point is inside);
//             reflection: reflected about -0.5 and n - 0.5, then clamped (grid_sample's rule for
//             align_corners = false; every point is inside).
//   fov       voxel_centres: trilinear points are inside between the edge voxel centres, [0, n - 1],
//             widened by `margin` voxels whose points read their mirror image across the edge (SPM12's
//             spm_reslice; nibabel, scipy order 1); nearest points are inside when they fall in
//             [-0.5 - margin, n - 0.5 + margin).
//             voxel_edges: torch grid_sample with align_corners = false in voxel units: a trilinear
//             tap outside the grid reads 0 (points in (-1, n) blend with the zero padding), a
//             nearest point is inside when its rounded index exists. Only with zeros, border or
//             reflection.
//   rounding  nearest ties: half_up (floor(x + 0.5): scipy order 0, SPM) or half_even (nearbyint:
//             PyTorch, MONAI).
//
// Data layout: the input is [lead, n0, n1, n2, inner] and the output [lead, o0, o1, o2, inner] (row
// major; lead and inner are products of the dims before and after the three spatial ones): every
// lead slice and inner channel is sampled at the same coordinates. Coordinates are computed in double
// for float and double data, along each output row: without a field, x = base + c * step (one product
// per axis, the same expression in the fast and the edge paths), and the run of the row that lies
// strictly inside the grid skips every edge test. A NaN input voxel makes every trilinear sample that
// reads it NaN, also where its weight is 0.
#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::data::detail {

enum class SamplePadding { nan, zeros, value, border, reflection };
enum class FieldOfView { voxel_centres, voxel_edges };
enum class NearestRounding { half_up, half_even };

// The padding named `name` ("nan", "zeros", "value", "border", "reflection"), or none.
inline std::optional<SamplePadding> padding_named(std::string_view name) {
  if (name == "nan") return SamplePadding::nan;
  if (name == "zeros") return SamplePadding::zeros;
  if (name == "value") return SamplePadding::value;
  if (name == "border") return SamplePadding::border;
  if (name == "reflection") return SamplePadding::reflection;
  return std::nullopt;
}

struct SamplePlan {
  bool nearest = false;
  SamplePadding padding = SamplePadding::zeros;
  FieldOfView fov = FieldOfView::voxel_centres;
  NearestRounding rounding = NearestRounding::half_up;
  double fill = 0;    // nan / zeros / value: the value outside
  double margin = 0;  // voxel_centres: voxels of tolerance beyond the edge centres, mirrored
  io::Affine map;     // output voxel (+ displacement) -> input voxel
  std::array<int64_t, 3> in_n{}, out_n{};
};

// The per-voxel rule, fixed at compile time: trilinear, or nearest with its tie rounding.
enum class SampleKernel { linear, nearest_half_up, nearest_half_even };

// The sampling of one call: plan, data and strides.
template <class T, SampleKernel K>
struct Sampler {
  static constexpr bool kNearest = K != SampleKernel::linear;

  const SamplePlan* p;
  const T* in;
  T* out;
  const T* disp;  // [3, o0, o1, o2] or null
  int64_t lead, inner, in_vol, out_vol;
  std::array<int64_t, 3> stride;  // input element strides of i, j, k
  T fill;
  bool single;  // lead == 1 and inner == 1

  static double round(double x) {
    if constexpr (K == SampleKernel::nearest_half_even) return std::nearbyint(x);
    else return std::floor(x + 0.5);
  }
  double last(int d) const { return static_cast<double>(p->in_n[d] - 1); }

  // Every coordinate inside the grid: the sample needs no padding rule (trilinear: in [0, n - 1];
  // nearest: the rounded index exists).
  bool inside(const double* x) const {
    for (int d = 0; d < 3; ++d) {
      const double v = kNearest ? round(x[d]) : x[d];
      if (!(v >= 0 && v <= last(d))) return false;
    }
    return true;
  }

  // Trilinear taps of one axis: offset of the lower tap, step to the upper one, their weights.
  struct Axis {
    int64_t off, tap;
    T g, f;
  };

  // The taps at a coordinate in [0, n - 1].
  Axis interior_linear(double x, int d) const {
    const int64_t n = p->in_n[d];
    const int64_t i = std::min(static_cast<int64_t>(x), std::max<int64_t>(n - 2, 0));  // x >= 0: floor
    const double frac = x - static_cast<double>(i);
    return {i * stride[d], n > 1 ? stride[d] : 0, static_cast<T>(1.0 - frac), static_cast<T>(frac)};
  }

  // Reflection about -0.5 and n - 0.5, then clamped into [0, n - 1]; non-finite -> 0.
  static double reflect(double x, int64_t n) {
    if (!std::isfinite(x)) return 0;
    const double span = static_cast<double>(n);
    double t = std::fmod(std::fabs(x + 0.5), 2 * span);
    if (t > span) t = 2 * span - t;
    return std::clamp(t - 0.5, 0.0, span - 1);
  }

  // Padding "border" clamps x onto [0, n - 1], "reflection" reflects it there (true); the fill paddings
  // leave it to the field-of-view rule (false).
  bool moved_onto_grid(double& x, int d) const {
    if (p->padding == SamplePadding::border) x = std::clamp(x, 0.0, last(d));
    else if (p->padding == SamplePadding::reflection) x = reflect(x, p->in_n[d]);
    else return false;
    return true;
  }

  // Trilinear taps of one axis at any coordinate; false: outside the field of view.
  bool edge_linear(double x, int d, Axis& a) const {
    const int64_t n = p->in_n[d];
    const double hi = last(d);
    if (std::isnan(x) && p->padding != SamplePadding::reflection) return false;
    if (moved_onto_grid(x, d)) {
    } else if (p->fov == FieldOfView::voxel_centres) {
      if (!(x >= -p->margin && x <= hi + p->margin)) return false;
      if (x < 0) x = -x;  // mirror back across the edge voxel centre
      if (x > hi) x = 2 * hi - x;
      x = std::clamp(x, 0.0, hi);
    } else if (!(x >= 0 && x <= hi)) {
      // grid_sample: one of the taps floor(x), floor(x) + 1 lies outside and reads the zero padding
      if (!(x > -1 && x < static_cast<double>(n))) return false;
      const double fl = std::floor(x), w1 = x - fl;
      const auto i0 = static_cast<int64_t>(fl);
      if (i0 < 0) a = {0, 0, T(0), static_cast<T>(w1)};  // only tap 0 inside
      else a = {i0 * stride[d], 0, static_cast<T>(1.0 - w1), T(0)};  // only tap n - 1 inside
      return true;
    }
    a = interior_linear(x, d);
    return true;
  }

  // Nearest voxel offset of one axis at any coordinate; false: outside the field of view.
  bool edge_nearest(double x, int d, int64_t& off) const {
    const double hi = last(d);
    if (std::isnan(x) && p->padding != SamplePadding::reflection) return false;
    if (moved_onto_grid(x, d)) {
    } else if (p->fov == FieldOfView::voxel_centres) {
      if (!(x >= -0.5 - p->margin && x < hi + 0.5 + p->margin)) return false;
    } else {
      if (!(x > -1 && x < static_cast<double>(p->in_n[d]))) return false;
      const double r = round(x);
      if (!(r >= 0 && r <= hi)) return false;
    }
    off = static_cast<int64_t>(std::clamp(round(x), 0.0, hi)) * stride[d];
    return true;
  }

  static T blend(const T* s, int64_t t0, int64_t t1, int64_t t2, T g0, T g1, T g2, T f0, T f1, T f2) {
    const T c00 = g2 * s[0] + f2 * s[t2];
    const T c01 = g2 * s[t1] + f2 * s[t1 + t2];
    const T c10 = g2 * s[t0] + f2 * s[t0 + t2];
    const T c11 = g2 * s[t0 + t1] + f2 * s[t0 + t1 + t2];
    const T e0 = g1 * c00 + f1 * c01;
    const T e1 = g1 * c10 + f1 * c11;
    return g0 * e0 + f0 * e1;
  }

  // Writes every lead slice and channel of output voxel `v` (its element offset in one lead slice).
  void put_linear(const Axis& a0, const Axis& a1, const Axis& a2, int64_t v) const {
    const int64_t off = a0.off + a1.off + a2.off, t0 = a0.tap, t1 = a1.tap, t2 = a2.tap;
    const T g0 = a0.g, g1 = a1.g, g2 = a2.g, f0 = a0.f, f1 = a1.f, f2 = a2.f;
    if (single) {
      out[v] = blend(in + off, t0, t1, t2, g0, g1, g2, f0, f1, f2);
      return;
    }
    for (int64_t l = 0; l < lead; ++l) {
      const T* s = in + l * in_vol + off;
      T* o = out + l * out_vol + v;
      for (int64_t ch = 0; ch < inner; ++ch, ++s) o[ch] = blend(s, t0, t1, t2, g0, g1, g2, f0, f1, f2);
    }
  }
  void put_copy(int64_t off, int64_t v) const {
    if (single) {
      out[v] = in[off];
      return;
    }
    for (int64_t l = 0; l < lead; ++l) {
      const T* s = in + l * in_vol + off;
      T* o = out + l * out_vol + v;
      for (int64_t ch = 0; ch < inner; ++ch) o[ch] = s[ch];
    }
  }
  void put_fill(int64_t v) const {
    if (single) {
      out[v] = fill;
      return;
    }
    for (int64_t l = 0; l < lead; ++l) {
      T* o = out + l * out_vol + v;
      for (int64_t ch = 0; ch < inner; ++ch) o[ch] = fill;
    }
  }

  // Any voxel, through the padding rules.
  void any(const double* x, int64_t v) const {
    if constexpr (kNearest) {
      int64_t off[3];
      for (int d = 0; d < 3; ++d)
        if (!edge_nearest(x[d], d, off[d])) return put_fill(v);
      put_copy(off[0] + off[1] + off[2], v);
    } else {
      Axis a[3];
      for (int d = 0; d < 3; ++d)
        if (!edge_linear(x[d], d, a[d])) return put_fill(v);
      put_linear(a[0], a[1], a[2], v);
    }
  }

  // A voxel whose coordinates are inside (inside(x) holds).
  void interior(const double* x, int64_t v) const {
    if constexpr (kNearest) {
      int64_t off = 0;
      for (int d = 0; d < 3; ++d) off += static_cast<int64_t>(std::clamp(round(x[d]), 0.0, last(d))) * stride[d];
      put_copy(off, v);
    } else {
      put_linear(interior_linear(x[0], 0), interior_linear(x[1], 1), interior_linear(x[2], 2), v);
    }
  }

  // Writes the lead slices and channels of output voxel v from input offset `off` by f(source pointer).
  template <bool Single, class F>
  void put(int64_t off, int64_t v, F f) const {
    if constexpr (Single) {
      out[v] = f(in + off);
    } else {
      if (inner == 1) {
        for (int64_t l = 0; l < lead; ++l) out[l * out_vol + v] = f(in + l * in_vol + off);
        return;
      }
      for (int64_t l = 0; l < lead; ++l) {
        const T* s = in + l * in_vol + off;
        T* o = out + l * out_vol + v;
        for (int64_t ch = 0; ch < inner; ++ch) o[ch] = f(s + ch);
      }
    }
  }

  // The hot loops: every coordinate x = base + c * step inside; output voxel c at row + c * inner.
  template <bool Single>
  void interior_run(const double* base, const double* step, int64_t c_lo, int64_t c_hi, int64_t row) const {
    const int64_t s0 = stride[0], s1 = stride[1], s2 = stride[2];
    if constexpr (kNearest) {
      const double h0 = last(0), h1 = last(1), h2 = last(2);
      for (int64_t c = c_lo; c <= c_hi; ++c) {
        const double x0 = base[0] + static_cast<double>(c) * step[0], x1 = base[1] + static_cast<double>(c) * step[1],
                     x2 = base[2] + static_cast<double>(c) * step[2];
        const int64_t off = static_cast<int64_t>(std::clamp(round(x0), 0.0, h0)) * s0 +
                            static_cast<int64_t>(std::clamp(round(x1), 0.0, h1)) * s1 +
                            static_cast<int64_t>(std::clamp(round(x2), 0.0, h2)) * s2;
        put<Single>(off, row + c * inner, [](const T* s) { return *s; });
      }
    } else if constexpr (!Single) {
      double x[3];
      for (int64_t c = c_lo; c <= c_hi; ++c) {
        for (int d = 0; d < 3; ++d) x[d] = base[d] + static_cast<double>(c) * step[d];
        interior(x, row + c * inner);
      }
    } else {
      const int64_t n0 = p->in_n[0], n1 = p->in_n[1], n2 = p->in_n[2];
      const int64_t m0 = std::max<int64_t>(n0 - 2, 0), m1 = std::max<int64_t>(n1 - 2, 0),
                    m2 = std::max<int64_t>(n2 - 2, 0);
      const int64_t t0 = n0 > 1 ? s0 : 0, t1 = n1 > 1 ? s1 : 0, t2 = n2 > 1 ? s2 : 0;
      for (int64_t c = c_lo; c <= c_hi; ++c) {
        const double x0 = base[0] + static_cast<double>(c) * step[0], x1 = base[1] + static_cast<double>(c) * step[1],
                     x2 = base[2] + static_cast<double>(c) * step[2];
        const int64_t i0 = std::min(static_cast<int64_t>(x0), m0), i1 = std::min(static_cast<int64_t>(x1), m1),
                      i2 = std::min(static_cast<int64_t>(x2), m2);
        const double d0 = x0 - static_cast<double>(i0), d1 = x1 - static_cast<double>(i1),
                     d2 = x2 - static_cast<double>(i2);
        const T g0 = static_cast<T>(1.0 - d0), g1 = static_cast<T>(1.0 - d1), g2 = static_cast<T>(1.0 - d2);
        const T f0 = static_cast<T>(d0), f1 = static_cast<T>(d1), f2 = static_cast<T>(d2);
        out[row + c] = blend(in + i0 * s0 + i1 * s1 + i2 * s2, t0, t1, t2, g0, g1, g2, f0, f1, f2);
      }
    }
  }

  // Output row (a, b) without a displacement field: coordinates affine along the row.
  void affine_row(int64_t a, int64_t b) const {
    const int64_t n2 = p->out_n[2];
    const auto& m = p->map.m;
    double base[3], step[3];
    for (int d = 0; d < 3; ++d) {
      base[d] = m[d][0] * static_cast<double>(a) + m[d][1] * static_cast<double>(b) + m[d][3];
      step[d] = m[d][2];
    }
    auto coords = [&](int64_t c, double* x) {
      for (int d = 0; d < 3; ++d) x[d] = base[d] + static_cast<double>(c) * step[d];
    };
    // The run of c whose coordinates lie inside (an interval: they move monotonically along the row):
    // found from the slab bounds, then shrunk until both ends pass the exact test. Voxels outside it
    // go through the general path, so an underestimate is harmless.
    double lo = 0, hi = static_cast<double>(n2 - 1);
    for (int d = 0; d < 3 && lo <= hi; ++d) {
      const double edge_lo = kNearest ? -0.5 : 0.0, edge_hi = last(d) + (kNearest ? 0.5 : 0.0);
      if (step[d] == 0) {
        if (!(base[d] >= edge_lo && base[d] <= edge_hi)) hi = lo - 1;
        continue;
      }
      double e0 = (edge_lo - base[d]) / step[d], e1 = (edge_hi - base[d]) / step[d];
      if (e0 > e1) std::swap(e0, e1);
      lo = std::max(lo, std::ceil(e0));
      hi = std::min(hi, std::floor(e1));
    }
    int64_t c_lo = n2, c_hi = n2 - 1;
    double x[3];
    if (lo <= hi) {
      c_lo = static_cast<int64_t>(lo);
      c_hi = static_cast<int64_t>(hi);
      while (c_lo <= c_hi && (coords(c_lo, x), !inside(x))) ++c_lo;
      while (c_hi >= c_lo && (coords(c_hi, x), !inside(x))) --c_hi;
      if (c_lo > c_hi) c_lo = n2, c_hi = n2 - 1;
    }
    const int64_t row = (a * p->out_n[1] + b) * n2 * inner;
    for (int64_t c = 0; c < c_lo; ++c) coords(c, x), any(x, row + c * inner);
    if (single) interior_run<true>(base, step, c_lo, c_hi, row);
    else interior_run<false>(base, step, c_lo, c_hi, row);
    for (int64_t c = c_hi + 1; c < n2; ++c) coords(c, x), any(x, row + c * inner);
  }

  // Output row (a, b) through the displacement field.
  void field_row(int64_t a, int64_t b) const {
    const int64_t n2 = p->out_n[2], vol = p->out_n[0] * p->out_n[1] * n2, first = (a * p->out_n[1] + b) * n2;
    const auto& m = p->map.m;
    const double pa = static_cast<double>(a), pb = static_cast<double>(b);
    for (int64_t c = 0; c < n2; ++c) {
      const int64_t v = first + c;
      const double q0 = pa + static_cast<double>(disp[v]), q1 = pb + static_cast<double>(disp[vol + v]),
                   q2 = static_cast<double>(c) + static_cast<double>(disp[2 * vol + v]);
      double x[3];
      for (int d = 0; d < 3; ++d) x[d] = m[d][0] * q0 + m[d][1] * q1 + m[d][2] * q2 + m[d][3];
      if (inside(x)) interior(x, v * inner);
      else any(x, v * inner);
    }
  }
};

// Samples the three spatial dims of `data` (starting at `first_spatial_dim`) through the plan, with
// the displacement field `disp` ([3, o0, o1, o2] in output voxels) when it is defined. `op` names the
// caller in errors. Contiguous result [lead..., o0, o1, o2, inner...].
template <Element T>
Tensor<T> sample_grid(const Tensor<T>& data, int first_spatial_dim, const SamplePlan& plan, const Tensor<T>& disp,
                      const char* op) {
  const int f = first_spatial_dim;
  VOXNN_CHECK(f >= 0 && f + 3 <= data.dim(), op, ": spatial dims ", f, "..", f + 2, " do not exist in data of shape ",
              data.shape());
  for (int d = 0; d < 3; ++d)
    VOXNN_CHECK(data.size(f + d) == plan.in_n[d], op, ": data of shape ", data.shape(), " does not match the plan");
  VOXNN_CHECK(plan.fov == FieldOfView::voxel_centres || plan.padding == SamplePadding::zeros ||
                  plan.padding == SamplePadding::border || plan.padding == SamplePadding::reflection,
              op, ": the voxel-edge field of view pads with zeros, border or reflection only");
  if constexpr (!std::floating_point<T>) {
    VOXNN_CHECK(plan.nearest, op, ": trilinear interpolation of ", element_name<T>(),
                " data is not defined; use mode \"nearest\" (labels) or convert the data to float");
    if (plan.padding == SamplePadding::nan || plan.padding == SamplePadding::value) {
      VOXNN_CHECK(plan.padding != SamplePadding::nan, op, ": padding \"nan\" needs floating-point data, not ",
                  element_name<T>(), "; use padding \"zeros\", \"border\" or \"value\"");
      // [lowest, max + 1): max + 1 is exact in double for every integer Element (2^63 for int64)
      const double lo = static_cast<double>(std::numeric_limits<T>::lowest()),
                   hi = static_cast<double>(std::numeric_limits<T>::max()) + 1.0;
      VOXNN_CHECK(plan.fill == std::trunc(plan.fill) && plan.fill >= lo && plan.fill < hi, op, ": fill_value ",
                  plan.fill, " is not a ", element_name<T>(), " value");
    }
  }
  const Tensor<T> in = data.contiguous();
  int64_t lead = 1, inner = 1;
  for (int d = 0; d < f; ++d) lead *= in.size(d);
  for (int d = f + 3; d < in.dim(); ++d) inner *= in.size(d);
  Shape out_shape = in.shape();
  for (int d = 0; d < 3; ++d) out_shape[f + d] = plan.out_n[d];
  Tensor<T> d;
  if (disp.defined()) {
    VOXNN_CHECK(disp.dim() == 4 && disp.size(0) == 3 && disp.size(1) == plan.out_n[0] &&
                    disp.size(2) == plan.out_n[1] && disp.size(3) == plan.out_n[2],
                op, ": displacement field ", disp.shape(), " does not match the output grid (", plan.out_n[0], ", ",
                plan.out_n[1], ", ", plan.out_n[2], ")");
    d = disp.contiguous();
  }
  Tensor<T> out(out_shape);
  if (out.numel() == 0) return out;
  const auto& n = plan.in_n;
  const int64_t o1 = plan.out_n[1], rows = plan.out_n[0] * o1;
  const int64_t row = plan.out_n[2] * inner * lead;
  auto run = [&](auto kernel) {
    const Sampler<T, decltype(kernel)::value> s{&plan,
                                                in.data(),
                                                out.data(),
                                                d.defined() ? d.data() : nullptr,
                                                lead,
                                                inner,
                                                n[0] * n[1] * n[2] * inner,
                                                plan.out_n[0] * plan.out_n[1] * plan.out_n[2] * inner,
                                                {n[1] * n[2] * inner, n[2] * inner, inner},
                                                static_cast<T>(plan.fill),
                                                lead == 1 && inner == 1};
    parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / 8 / std::max<int64_t>(1, row)),
                 [&](int64_t r0, int64_t r1) {
                   for (int64_t r = r0; r < r1; ++r) {
                     if (s.disp) s.field_row(r / o1, r % o1);
                     else s.affine_row(r / o1, r % o1);
                   }
                 });
  };
  using K = SampleKernel;
  if (plan.nearest && plan.rounding == NearestRounding::half_up)
    run(std::integral_constant<K, K::nearest_half_up>{});
  else if (plan.nearest)
    run(std::integral_constant<K, K::nearest_half_even>{});
  else if constexpr (std::floating_point<T>)
    run(std::integral_constant<K, K::linear>{});
  return out;
}

}  // namespace voxnn::data::detail
