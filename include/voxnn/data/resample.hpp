#pragma once
// Resampling a volume onto another voxel grid in world space: each target voxel's world point is taken
// back through the input's affine to a (fractional) input voxel coordinate and sampled there,
// trilinearly for images or from the nearest voxel for labels (values copied, so label values stay
// exact; any element type, so integer label volumes too). Target voxel index -> input voxel coordinate
// is one affine map, inv(input affine) * target affine, sampled by the kernel of data/sampling.hpp
// (voxel-centre field of view, nearest ties half up; coordinates in double for float and double).
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
// position (first_spatial_dim = 1 for a channel-first [C, X, Y, Z] sample). Trilinear needs float or
// double data; integer data (labels) takes mode "nearest" and a padding other than "nan".
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "voxnn/core/error.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/data/sampling.hpp"
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

// The sampling plan of ResampleOptions: voxel-centre field of view, nearest ties half up.
inline SamplePlan make_resample_plan(const std::array<int64_t, 3>& in_shape, const io::Affine& in_affine,
                                     const std::array<int64_t, 3>& shape, const io::Affine& target_affine,
                                     const ResampleOptions& o, const char* fn) {
  SamplePlan p;
  VOXNN_CHECK(o.mode == "trilinear" || o.mode == "bilinear" || o.mode == "nearest", fn, ": mode \"", o.mode,
              "\" is not one of trilinear, nearest");
  p.nearest = o.mode == "nearest";
  const auto padding = padding_named(o.padding);
  VOXNN_CHECK(padding && *padding != SamplePadding::reflection, fn, ": padding \"", o.padding,
              "\" is not one of nan, zeros, border, value");
  p.padding = *padding;
  p.fov = FieldOfView::voxel_centres;
  p.rounding = NearestRounding::half_up;
  p.fill = p.padding == SamplePadding::nan ? std::numeric_limits<double>::quiet_NaN()
           : p.padding == SamplePadding::value ? o.fill_value : 0.0;
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

// The spatial shape of a computed grid: each extent finite and small enough to allocate.
inline std::array<int64_t, 3> grid_shape(const std::array<double, 3>& size, const std::array<double, 3>& spacing,
                                         const char* fn) {
  constexpr double kMaxAxis = 2147483647.0, kMaxVoxels = 1e13;
  double total = 1;
  std::array<int64_t, 3> shape{};
  for (int d = 0; d < 3; ++d) {
    VOXNN_CHECK(std::isfinite(size[d]) && size[d] >= 1 && size[d] <= kMaxAxis, fn, ": spacing (", spacing[0], ", ",
                spacing[1], ", ", spacing[2], ") gives ", size[d], " voxels along axis ", d,
                "; the shape is too large (at most ", kMaxAxis, " per axis)");
    total *= size[d];
    shape[d] = static_cast<int64_t>(size[d]);
  }
  VOXNN_CHECK(total <= kMaxVoxels, fn, ": spacing (", spacing[0], ", ", spacing[1], ", ", spacing[2], ") gives a grid (",
              shape[0], ", ", shape[1], ", ", shape[2], ") that is too large (", total, " voxels)");
  return shape;
}

}  // namespace detail

// Resamples the three spatial dims of `data` (starting at `first_spatial_dim`: 0 for a Volume's
// [i, j, k, ...], 1 for a channel-first [C, X, Y, Z]) from the grid `affine` onto the grid (shape,
// target_affine). Other dims keep their sizes and are resampled independently. Contiguous result.
// Any element type with mode "nearest" (labels: values copied; integer data needs padding "zeros",
// "border" or "value" with an integer fill_value); trilinear needs float or double.
template <Element T>
Tensor<T> resample_tensor(const Tensor<T>& data, const io::Affine& affine, const std::array<int64_t, 3>& shape,
                          const io::Affine& target_affine, const ResampleOptions& options = {},
                          int first_spatial_dim = 0) {
  const int f = first_spatial_dim;
  VOXNN_CHECK(f >= 0 && f + 3 <= data.dim(), "resample: spatial dims ", f, "..", f + 2,
              " do not exist in data of shape ", data.shape());
  const std::array<int64_t, 3> in_n{data.size(f), data.size(f + 1), data.size(f + 2)};
  const detail::SamplePlan plan = detail::make_resample_plan(in_n, affine, shape, target_affine, options, "resample");
  return detail::sample_grid(data, f, plan, Tensor<T>(), "resample");
}

// Resamples `in` onto the grid (shape, target_affine); see the header comment for the field of view.
template <Element T>
io::Volume<T> resample_to_grid(const io::Volume<T>& in, const std::array<int64_t, 3>& shape,
                               const io::Affine& target_affine, const ResampleOptions& options = {}) {
  return {resample_tensor(in.data, in.affine, shape, target_affine, options, 0), target_affine};
}

template <Element T>
io::Volume<T> resample_to_grid(const io::Volume<T>& in, const Grid& grid, const ResampleOptions& options = {}) {
  return resample_to_grid(in, grid.shape, grid.affine, options);
}

// Resamples `in` onto the voxel grid of `like` (its spatial shape and affine; its values are unused).
template <Element T, Element U>
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
  g.shape = detail::grid_shape({std::nearbyint(mx[0] - mn[0] + 1.0), std::nearbyint(mx[1] - mn[1] + 1.0),
                               std::nearbyint(mx[2] - mn[2] + 1.0)},
                              spacing, "resample_to_spacing");
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
template <Element T>
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
  g.shape = detail::grid_shape({std::ceil((mx[0] - mn[0]) / spacing[0]) + 1, std::ceil((mx[1] - mn[1]) / spacing[1]) + 1,
                               std::ceil((mx[2] - mn[2]) / spacing[2]) + 1},
                              spacing, "resample_to_output");
  return g;
}

// Resamples `in` onto output_grid(its shape, its affine, spacing): nibabel resample_to_output (whose
// defaults are trilinear and padding "value" 0; here the padding is the options').
template <Element T>
io::Volume<T> resample_to_output(const io::Volume<T>& in, const std::array<double, 3>& spacing = {1, 1, 1},
                                 const ResampleOptions& options = {}) {
  return resample_to_grid(in, output_grid(in.spatial_shape(), in.affine, spacing), options);
}

}  // namespace voxnn::data
