#pragma once
// Resampling a volume onto another voxel grid in world space: each target voxel's world point is taken
// back through the input's affine to a (fractional) input voxel coordinate and sampled there,
// trilinearly for images or from the nearest voxel for labels (values copied, so label values stay
// exact). Target voxel index -> input voxel coordinate is one affine map, inv(input affine) * target
// affine; the kernel steps along the innermost target axis (no 4x4 product per voxel) and keeps the
// coordinates in double precision in float and double alike.
//
// Field of view. Trilinear: a point is inside when its input coordinate lies in [0, n-1] on every
// axis (between the first and last voxel centres: scipy.ndimage.map_coordinates(order=1,
// mode="constant"), nibabel resample_from_to, SPM). Nearest: when the nearest voxel, floor(c + 0.5),
// exists. Points outside take the padding: NaN by default (what SPM writes and nibabel keeps), zeros, a
// value, or "border" (the coordinate clamped onto the grid: the edge extends outwards, as PyTorch's
// grid_sample padding_mode="border" and MONAI Spacing's default). `fov_margin` widens the field of view
// by that many voxels beyond the edge centres; a point in that margin takes the value at its mirror
// image across the edge, as SPM12 spm_reslice does with its 0.05-voxel margin (B-spline degree 1 with
// mirrored bounds). The default margin (1e-6 voxel) only absorbs round-off, so that a grid resampled
// onto itself keeps its edge voxels.
//
// Nearest ties (a coordinate exactly halfway between voxel centres, e.g. every other plane of a 1 mm ->
// 1.5 mm grid) go to the higher index, as in scipy's order 0 and SPM; PyTorch's and MONAI's nearest
// round half to even. A NaN input voxel makes every trilinear sample that reads it NaN, also where
// its weight is 0.
//
// Data layout: a Volume's data is [i, j, k, ...]: the dims after the third (time, components) are
// resampled independently and keep their sizes. resample_tensor() takes the three spatial dims at any
// position (first_spatial_dim = 1 for a channel-first [C, X, Y, Z] sample).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::data {

struct ResampleOptions {
  std::string mode = "trilinear";  // "trilinear" (alias "bilinear", MONAI's name) or "nearest" (labels)
  std::string padding = "nan";     // "nan" | "zeros" | "border" | "value" (fill_value)
  double fill_value = 0;
  double fov_margin = 1e-6;        // voxels of tolerance beyond the edge voxel centres; SPM uses 0.05
};

// A voxel grid: spatial shape and voxel-to-world affine.
struct Grid {
  std::array<int64_t, 3> shape{};
  io::Affine affine;
};

namespace detail {

enum class ResamplePadding { kNan, kZeros, kBorder, kValue };

struct ResamplePlan {
  bool nearest = false;
  ResamplePadding padding = ResamplePadding::kNan;
  double fill = 0;
  double margin = 0;
  io::Affine map;                      // target voxel -> input voxel
  std::array<int64_t, 3> in_n{}, out_n{};
};

inline ResamplePlan make_resample_plan(const std::array<int64_t, 3>& in_shape, const io::Affine& in_affine,
                                       const std::array<int64_t, 3>& shape, const io::Affine& target_affine,
                                       const ResampleOptions& o, const char* fn) {
  ResamplePlan p;
  VOXNN_CHECK(o.mode == "trilinear" || o.mode == "bilinear" || o.mode == "nearest", fn, ": mode \"", o.mode,
              "\" is not one of trilinear, nearest");
  p.nearest = o.mode == "nearest";
  if (o.padding == "nan") p.padding = ResamplePadding::kNan;
  else if (o.padding == "zeros") p.padding = ResamplePadding::kZeros;
  else if (o.padding == "border") p.padding = ResamplePadding::kBorder;
  else if (o.padding == "value") p.padding = ResamplePadding::kValue;
  else VOXNN_CHECK(false, fn, ": padding \"", o.padding, "\" is not one of nan, zeros, border, value");
  p.fill = p.padding == ResamplePadding::kNan ? std::numeric_limits<double>::quiet_NaN()
           : p.padding == ResamplePadding::kValue ? o.fill_value : 0.0;
  VOXNN_CHECK(std::isfinite(o.fov_margin) && o.fov_margin >= 0, fn, ": fov_margin ", o.fov_margin,
              " must be finite and >= 0");
  p.margin = o.fov_margin;
  for (int d = 0; d < 3; ++d) {
    VOXNN_CHECK(in_shape[d] >= 1, fn, ": the input's spatial shape (", in_shape[0], ", ", in_shape[1], ", ",
                in_shape[2], ") has an empty axis");
    VOXNN_CHECK(shape[d] >= 0, fn, ": target shape (", shape[0], ", ", shape[1], ", ", shape[2],
                ") has a negative size");
  }
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      VOXNN_CHECK(std::isfinite(in_affine.m[r][c]) && std::isfinite(target_affine.m[r][c]), fn,
                  ": an affine has a non-finite entry");
  p.map = in_affine.inverse() * target_affine;
  // Entries within 1e-10 of an integer are round-off of a grid aligned with the input (the same grid,
  // whole-voxel shifts, flips): snapped, such a grid samples exact voxel values.
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) {
      const double v = p.map.m[r][c], k = std::nearbyint(v);
      if (std::abs(v - k) < 1e-10) p.map.m[r][c] = k;
    }
  p.in_n = in_shape;
  p.out_n = shape;
  return p;
}

// One row of the target grid: target voxels (a, b, 0..n2-1) of every channel. `in` points at one
// input volume of shape [n0, n1, n2, inner] (row-major), `out` at the row's [n2, inner] block.
template <class T>
struct ResampleRow {
  const ResamplePlan* p;
  const T* in;
  int64_t inner;
  std::array<int64_t, 3> stride;  // input element strides of i, j, k (inner is the last, stride 1)

  // Input coordinate of target voxel c on this row: one product per axis, the same expression
  // everywhere so that the fast range and the per-voxel path agree to the last bit.
  static double coord(const std::array<double, 3>& base, const std::array<double, 3>& step, int d, int64_t c) {
    return base[d] + static_cast<double>(c) * step[d];
  }

  bool strictly_inside(const std::array<double, 3>& base, const std::array<double, 3>& step, int64_t c) const {
    for (int d = 0; d < 3; ++d) {
      const double x = coord(base, step, d, c);
      const double hi = static_cast<double>(p->in_n[d] - 1);
      if (p->nearest) {
        const double r = std::floor(x + 0.5);
        if (!(r >= 0 && r <= hi)) return false;
      } else if (!(x >= 0 && x <= hi)) {
        return false;
      }
    }
    return true;
  }

  // Trilinear at in-range coordinates (each in [0, n-1]); writes `inner` values.
  void linear(double x0, double x1, double x2, T* o) const {
    int64_t off = 0;
    std::array<T, 3> f{}, g{};  // weights of the upper and lower taps; (1 - f, f) keeps f = 0 and f = 1 exact
    std::array<int64_t, 3> tap{};
    const double xs[3] = {x0, x1, x2};
    for (int d = 0; d < 3; ++d) {
      const int64_t n = p->in_n[d];
      int64_t i = static_cast<int64_t>(xs[d]);  // xs >= 0: truncation is floor
      i = std::min<int64_t>(i, std::max<int64_t>(n - 2, 0));
      const double frac = xs[d] - static_cast<double>(i);
      f[d] = static_cast<T>(frac);
      g[d] = static_cast<T>(1.0 - frac);
      tap[d] = n > 1 ? stride[d] : 0;
      off += i * stride[d];
    }
    const T* s = in + off;
    const int64_t t0 = tap[0], t1 = tap[1], t2 = tap[2];
    for (int64_t ch = 0; ch < inner; ++ch, ++s) {
      const T c00 = g[2] * s[0] + f[2] * s[t2];
      const T c01 = g[2] * s[t1] + f[2] * s[t1 + t2];
      const T c10 = g[2] * s[t0] + f[2] * s[t0 + t2];
      const T c11 = g[2] * s[t0 + t1] + f[2] * s[t0 + t1 + t2];
      const T c0 = g[1] * c00 + f[1] * c01;
      const T c1 = g[1] * c10 + f[1] * c11;
      o[ch] = g[0] * c0 + f[0] * c1;
    }
  }

  void nearest(double x0, double x1, double x2, T* o) const {
    const double xs[3] = {x0, x1, x2};
    int64_t off = 0;
    for (int d = 0; d < 3; ++d) {
      const double r = std::clamp(std::floor(xs[d] + 0.5), 0.0, static_cast<double>(p->in_n[d] - 1));
      off += static_cast<int64_t>(r) * stride[d];
    }
    std::copy(in + off, in + off + inner, o);
  }

  // Any target voxel: field of view, margin, padding.
  void any(const std::array<double, 3>& base, const std::array<double, 3>& step, int64_t c, T* o) const {
    std::array<double, 3> x{};
    bool inside = true;
    for (int d = 0; d < 3; ++d) {
      const double hi = static_cast<double>(p->in_n[d] - 1);
      double v = coord(base, step, d, c);
      if (p->padding == ResamplePadding::kBorder) {
        v = std::clamp(v, 0.0, hi);  // NaN coordinates do not occur: the affines are finite
      } else if (p->nearest) {
        inside = inside && v >= -0.5 - p->margin && v < hi + 0.5 + p->margin;
      } else {
        inside = inside && v >= -p->margin && v <= hi + p->margin;
        if (v < 0) v = -v;  // mirror back across the edge voxel centre
        if (v > hi) v = 2 * hi - v;
        v = std::clamp(v, 0.0, hi);
      }
      x[d] = v;
    }
    if (!inside) {
      std::fill(o, o + inner, static_cast<T>(p->fill));
      return;
    }
    if (p->nearest) nearest(x[0], x[1], x[2], o);
    else linear(x[0], x[1], x[2], o);
  }

  void run(int64_t a, int64_t b, T* out) const {
    const int64_t n2 = p->out_n[2];
    if (n2 == 0) return;
    const auto& m = p->map.m;
    std::array<double, 3> base{}, step{};
    for (int d = 0; d < 3; ++d) {
      base[d] = m[d][0] * static_cast<double>(a) + m[d][1] * static_cast<double>(b) + m[d][3];
      step[d] = m[d][2];
    }
    // The run of c whose coordinates lie strictly inside the grid (an interval: the coordinates move
    // monotonically along the row): found from the slab bounds, then shrunk until both ends pass the
    // exact test. Voxels outside it go through the general path, so an underestimate is harmless.
    double lo = 0, hi = static_cast<double>(n2 - 1);
    for (int d = 0; d < 3 && lo <= hi; ++d) {
      const double edge_lo = p->nearest ? -0.5 : 0.0;
      const double edge_hi = static_cast<double>(p->in_n[d] - 1) + (p->nearest ? 0.5 : 0.0);
      if (step[d] == 0) {
        if (!(base[d] >= edge_lo && base[d] <= edge_hi)) hi = lo - 1;
        continue;
      }
      double t0 = (edge_lo - base[d]) / step[d], t1 = (edge_hi - base[d]) / step[d];
      if (t0 > t1) std::swap(t0, t1);
      lo = std::max(lo, std::ceil(t0));
      hi = std::min(hi, std::floor(t1));
    }
    int64_t c_lo = 0, c_hi = -1;
    if (lo <= hi) {
      c_lo = static_cast<int64_t>(lo);
      c_hi = static_cast<int64_t>(hi);
      while (c_lo <= c_hi && !strictly_inside(base, step, c_lo)) ++c_lo;
      while (c_hi >= c_lo && !strictly_inside(base, step, c_hi)) --c_hi;
    }
    if (c_lo > c_hi) c_lo = n2, c_hi = n2 - 1;
    for (int64_t c = 0; c < c_lo; ++c) any(base, step, c, out + c * inner);
    if (p->nearest) {
      for (int64_t c = c_lo; c <= c_hi; ++c)
        nearest(coord(base, step, 0, c), coord(base, step, 1, c), coord(base, step, 2, c), out + c * inner);
    } else if (inner == 1) {
      interior_scalar(base, step, c_lo, c_hi, out);
    } else {
      for (int64_t c = c_lo; c <= c_hi; ++c)
        linear(coord(base, step, 0, c), coord(base, step, 1, c), coord(base, step, 2, c), out + c * inner);
    }
    for (int64_t c = c_hi + 1; c < n2; ++c) any(base, step, c, out + c * inner);
  }

  // The hot loop: one channel, every coordinate known to be inside.
  void interior_scalar(const std::array<double, 3>& base, const std::array<double, 3>& step, int64_t c_lo,
                       int64_t c_hi, T* out) const {
    const int64_t n0 = p->in_n[0], n1 = p->in_n[1], n2 = p->in_n[2];
    const int64_t m0 = std::max<int64_t>(n0 - 2, 0), m1 = std::max<int64_t>(n1 - 2, 0),
                  m2 = std::max<int64_t>(n2 - 2, 0);
    const int64_t s0 = stride[0], s1 = stride[1], s2 = stride[2];
    const int64_t t0 = n0 > 1 ? s0 : 0, t1 = n1 > 1 ? s1 : 0, t2 = n2 > 1 ? s2 : 0;
    const T* src = in;
    for (int64_t c = c_lo; c <= c_hi; ++c) {
      const double x0 = coord(base, step, 0, c), x1 = coord(base, step, 1, c), x2 = coord(base, step, 2, c);
      const int64_t i0 = std::min(static_cast<int64_t>(x0), m0), i1 = std::min(static_cast<int64_t>(x1), m1),
                    i2 = std::min(static_cast<int64_t>(x2), m2);
      const double d0 = x0 - static_cast<double>(i0), d1 = x1 - static_cast<double>(i1),
                   d2 = x2 - static_cast<double>(i2);
      const T f0 = static_cast<T>(d0), f1 = static_cast<T>(d1), f2 = static_cast<T>(d2);
      const T g0 = static_cast<T>(1.0 - d0), g1 = static_cast<T>(1.0 - d1), g2 = static_cast<T>(1.0 - d2);
      const T* s = src + i0 * s0 + i1 * s1 + i2 * s2;
      const T c00 = g2 * s[0] + f2 * s[t2];
      const T c01 = g2 * s[t1] + f2 * s[t1 + t2];
      const T c10 = g2 * s[t0] + f2 * s[t0 + t2];
      const T c11 = g2 * s[t0 + t1] + f2 * s[t0 + t1 + t2];
      const T e0 = g1 * c00 + f1 * c01;
      const T e1 = g1 * c10 + f1 * c11;
      out[c] = g0 * e0 + f0 * e1;
    }
  }
};

}  // namespace detail

// Resamples the three spatial dims of `data` (starting at `first_spatial_dim`: 0 for a Volume's
// [i, j, k, ...], 1 for a channel-first [C, X, Y, Z]) from the grid `affine` onto the grid (shape,
// target_affine). Other dims keep their sizes and are resampled independently. Contiguous result.
template <Real T>
Tensor<T> resample_tensor(const Tensor<T>& data, const io::Affine& affine, const std::array<int64_t, 3>& shape,
                          const io::Affine& target_affine, const ResampleOptions& options = {},
                          int first_spatial_dim = 0) {
  const int f = first_spatial_dim;
  VOXNN_CHECK(f >= 0 && f + 3 <= data.dim(), "resample: spatial dims ", f, "..", f + 2,
              " do not exist in data of shape ", data.shape());
  const std::array<int64_t, 3> in_n{data.size(f), data.size(f + 1), data.size(f + 2)};
  const detail::ResamplePlan plan = detail::make_resample_plan(in_n, affine, shape, target_affine, options, "resample");
  const Tensor<T> in = data.contiguous();
  int64_t lead = 1, inner = 1;
  for (int d = 0; d < f; ++d) lead *= in.size(d);
  for (int d = f + 3; d < in.dim(); ++d) inner *= in.size(d);
  Shape out_shape = in.shape();
  for (int d = 0; d < 3; ++d) out_shape[f + d] = shape[d];
  Tensor<T> out(out_shape);
  if (out.numel() == 0) return out;
  const int64_t in_vol = in_n[0] * in_n[1] * in_n[2] * inner;
  const int64_t row = shape[2] * inner, rows = lead * shape[0] * shape[1];
  const T* src = in.data();
  T* dst = out.data();
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / 8 / std::max<int64_t>(1, row)),
               [&](int64_t r0, int64_t r1) {
                 for (int64_t r = r0; r < r1; ++r) {
                   const int64_t l = r / (shape[0] * shape[1]), a = (r / shape[1]) % shape[0], b = r % shape[1];
                   const detail::ResampleRow<T> job{&plan, src + l * in_vol, inner,
                                                    {in_n[1] * in_n[2] * inner, in_n[2] * inner, inner}};
                   job.run(a, b, dst + r * row);
                 }
               });
  return out;
}

// Resamples `in` onto the grid (shape, target_affine); see the header comment for the field of view.
template <Real T>
io::Volume<T> resample_to_grid(const io::Volume<T>& in, const std::array<int64_t, 3>& shape,
                               const io::Affine& target_affine, const ResampleOptions& options = {}) {
  return {resample_tensor(in.data, in.affine, shape, target_affine, options, 0), target_affine};
}

template <Real T>
io::Volume<T> resample_to_grid(const io::Volume<T>& in, const Grid& grid, const ResampleOptions& options = {}) {
  return resample_to_grid(in, grid.shape, grid.affine, options);
}

// Resamples `in` onto the voxel grid of `like` (its spatial shape and affine; its values are unused).
template <Real T, Element U>
io::Volume<T> resample_like(const io::Volume<T>& in, const io::Volume<U>& like, const ResampleOptions& options = {}) {
  return resample_to_grid(in, like.spatial_shape(), like.affine, options);
}

// The grid MONAI Spacing (diagonal=False, scale_extent=False) builds for a new voxel size: the same
// voxel axes directions (the rotation of the affine's QR decomposition, so a shear is dropped), the
// new spacing, the input's voxel-centre corners mapped into the new voxel space, shape =
// round(extent + 1) per axis, and the origin at the input corner that is smallest on every new axis
// (the input's voxel (0, 0, 0) when nothing is sheared), else centred on the input. The far planes can
// lie up to half an output voxel beyond the input's last voxel centre: the padding decides their
// values (MONAI Spacing pads with "border").
inline Grid spacing_grid(const std::array<int64_t, 3>& shape, const io::Affine& affine,
                         const std::array<double, 3>& spacing) {
  for (int d = 0; d < 3; ++d) {
    VOXNN_CHECK(std::isfinite(spacing[d]) && spacing[d] > 0, "resample_to_spacing: spacing (", spacing[0], ", ",
                spacing[1], ", ", spacing[2], ") must be positive and finite");
    VOXNN_CHECK(shape[d] >= 1, "resample_to_spacing: the input's spatial shape (", shape[0], ", ", shape[1], ", ",
                shape[2], ") has an empty axis");
  }
  // Gram-Schmidt QR of the linear part: columns q_d of the rotation, R upper triangular.
  std::array<std::array<double, 3>, 3> q{};  // q[d] = column d
  std::array<double, 3> rdiag{};
  for (int d = 0; d < 3; ++d) {
    std::array<double, 3> v{affine.m[0][d], affine.m[1][d], affine.m[2][d]};
    for (int k = 0; k < d; ++k) {
      const double dot = q[k][0] * v[0] + q[k][1] * v[1] + q[k][2] * v[2];
      for (int r = 0; r < 3; ++r) v[r] -= dot * q[k][r];
    }
    rdiag[d] = std::hypot(v[0], v[1], v[2]);
    VOXNN_CHECK(rdiag[d] > 1e-12, "resample_to_spacing: the affine's linear part is singular");
    for (int r = 0; r < 3; ++r) q[d][r] = v[r] / rdiag[d];
  }
  Grid g;
  for (int r = 0; r < 3; ++r)
    for (int d = 0; d < 3; ++d) g.affine.m[r][d] = q[d][r] * spacing[d];
  // Input voxel-centre corners in the new voxel space (translation 0 for now).
  const io::Affine to_new = g.affine.inverse() * affine;
  std::array<std::array<double, 3>, 8> corners{}, world{};
  std::array<double, 3> mn{}, mx{};
  mn.fill(std::numeric_limits<double>::infinity());
  mx.fill(-std::numeric_limits<double>::infinity());
  for (int k = 0; k < 8; ++k) {
    const std::array<double, 3> p{(k & 4) ? static_cast<double>(shape[0] - 1) : 0.0,
                                  (k & 2) ? static_cast<double>(shape[1] - 1) : 0.0,
                                  (k & 1) ? static_cast<double>(shape[2] - 1) : 0.0};
    corners[k] = to_new.apply(p);
    world[k] = affine.apply(p);
    for (int d = 0; d < 3; ++d) mn[d] = std::min(mn[d], corners[k][d]), mx[d] = std::max(mx[d], corners[k][d]);
  }
  for (int d = 0; d < 3; ++d) g.shape[d] = static_cast<int64_t>(std::nearbyint(mx[d] - mn[d] + 1.0));
  int origin_corner = -1;
  for (int k = 0; k < 8 && origin_corner < 0; ++k) {
    bool smallest = true;
    for (int d = 0; d < 3; ++d) smallest = smallest && std::abs(corners[k][d] - mn[d]) <= 1e-8;
    if (smallest) origin_corner = k;
  }
  std::array<double, 3> origin{};
  if (origin_corner >= 0) {
    origin = world[origin_corner];
  } else {  // centre the new grid on the input's centre (MONAI's fallback)
    for (int r = 0; r < 3; ++r) {
      double v = affine.m[r][3];
      for (int d = 0; d < 3; ++d)
        v += affine.m[r][d] * static_cast<double>(shape[d]) / 2 -
             g.affine.m[r][d] * static_cast<double>(g.shape[d]) / 2;
      origin[r] = v;
    }
  }
  for (int r = 0; r < 3; ++r) g.affine.m[r][3] = origin[r];
  return g;
}

// Resamples `in` to the voxel size `spacing` (mm), keeping its orientation and world extent
// (spacing_grid: MONAI Spacing's grid). Pass padding = "border" for MONAI Spacing's values at the far
// planes; the default "nan" marks them when they fall outside the input's field of view.
template <Real T>
io::Volume<T> resample_to_spacing(const io::Volume<T>& in, const std::array<double, 3>& spacing,
                                  const ResampleOptions& options = {}) {
  return resample_to_grid(in, spacing_grid(in.spatial_shape(), in.affine, spacing), options);
}

// The world-axis-aligned RAS grid with voxel size `spacing` that covers the input's voxel centres
// (nibabel vox2out_vox / resample_to_output): diagonal affine, origin at the smallest world corner,
// shape = ceil(extent / spacing) + 1 per axis. Unlike spacing_grid it drops the input's rotation.
inline Grid output_grid(const std::array<int64_t, 3>& shape, const io::Affine& affine,
                        const std::array<double, 3>& spacing = {1, 1, 1}) {
  for (int d = 0; d < 3; ++d) {
    VOXNN_CHECK(std::isfinite(spacing[d]) && spacing[d] > 0, "resample_to_output: spacing (", spacing[0], ", ",
                spacing[1], ", ", spacing[2], ") must be positive and finite");
    VOXNN_CHECK(shape[d] >= 1, "resample_to_output: the input's spatial shape (", shape[0], ", ", shape[1], ", ",
                shape[2], ") has an empty axis");
  }
  std::array<double, 3> mn{}, mx{};
  mn.fill(std::numeric_limits<double>::infinity());
  mx.fill(-std::numeric_limits<double>::infinity());
  for (int k = 0; k < 8; ++k) {
    const auto w = affine.apply({(k & 4) ? static_cast<double>(shape[0] - 1) : 0.0,
                                 (k & 2) ? static_cast<double>(shape[1] - 1) : 0.0,
                                 (k & 1) ? static_cast<double>(shape[2] - 1) : 0.0});
    for (int d = 0; d < 3; ++d) mn[d] = std::min(mn[d], w[d]), mx[d] = std::max(mx[d], w[d]);
  }
  Grid g;
  g.affine = io::Affine::from_spacing(spacing, mn);
  for (int d = 0; d < 3; ++d) g.shape[d] = static_cast<int64_t>(std::ceil((mx[d] - mn[d]) / spacing[d])) + 1;
  return g;
}

// Resamples `in` onto output_grid(its shape, its affine, spacing): nibabel resample_to_output (whose
// defaults are trilinear and padding "value" 0; here the padding is the options').
template <Real T>
io::Volume<T> resample_to_output(const io::Volume<T>& in, const std::array<double, 3>& spacing = {1, 1, 1},
                                 const ResampleOptions& options = {}) {
  return resample_to_grid(in, output_grid(in.spatial_shape(), in.affine, spacing), options);
}

}  // namespace voxnn::data
