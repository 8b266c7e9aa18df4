#pragma once
// A volume in physical space: voxel data plus the 4x4 voxel-to-world affine that places it.
// World coordinates are millimetres in NIfTI's RAS+ convention (x grows to the subject's Right,
// y to Anterior, z to Superior), the convention of nibabel and MONAI. Voxel (i, j, k) of
// `data[i][j][k]` sits at world point affine * [i, j, k, 1].
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "voxnn/core/error.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::io {

// A 4x4 affine map in double precision, row-major: m[row][column]. The last row is [0, 0, 0, 1]
// for every affine voxnn builds or accepts from a file.
struct Affine {
  std::array<std::array<double, 4>, 4> m{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}};

  static Affine identity() { return {}; }
  // Axis-aligned grid: voxel (i, j, k) at origin + (i sx, j sy, k sz).
  static Affine from_spacing(const std::array<double, 3>& spacing,
                             const std::array<double, 3>& origin = {0, 0, 0}) {
    Affine a;
    for (int r = 0; r < 3; ++r) {
      a.m[r][r] = spacing[r];
      a.m[r][3] = origin[r];
    }
    return a;
  }

  double operator()(int row, int column) const { return m[row][column]; }
  double& operator()(int row, int column) { return m[row][column]; }

  friend Affine operator*(const Affine& a, const Affine& b) {
    Affine c;
    for (int r = 0; r < 4; ++r)
      for (int k = 0; k < 4; ++k) {
        double s = 0;
        for (int j = 0; j < 4; ++j) s += a.m[r][j] * b.m[j][k];
        c.m[r][k] = s;
      }
    return c;
  }
  friend bool operator==(const Affine&, const Affine&) = default;

  // Maps a point (the homogeneous coordinate is 1).
  std::array<double, 3> apply(const std::array<double, 3>& p) const {
    std::array<double, 3> q{};
    for (int r = 0; r < 3; ++r) q[r] = m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2] + m[r][3];
    return q;
  }

  // The inverse of an affine map (last row [0, 0, 0, 1]); a singular linear part is an error.
  Affine inverse() const {
    const auto& a = m;
    const double c00 = a[1][1] * a[2][2] - a[1][2] * a[2][1];
    const double c01 = a[1][2] * a[2][0] - a[1][0] * a[2][2];
    const double c02 = a[1][0] * a[2][1] - a[1][1] * a[2][0];
    const double det = a[0][0] * c00 + a[0][1] * c01 + a[0][2] * c02;
    double scale = 0;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) scale = std::max(scale, std::abs(a[r][c]));
    VOXNN_CHECK(std::isfinite(det) && std::abs(det) > 1e-12 * scale * scale * scale,
                "Affine::inverse: the 3x3 linear part is singular (determinant ", det, ")");
    Affine inv;
    auto& b = inv.m;
    b[0][0] = c00 / det;
    b[1][0] = c01 / det;
    b[2][0] = c02 / det;
    b[0][1] = (a[0][2] * a[2][1] - a[0][1] * a[2][2]) / det;
    b[1][1] = (a[0][0] * a[2][2] - a[0][2] * a[2][0]) / det;
    b[2][1] = (a[0][1] * a[2][0] - a[0][0] * a[2][1]) / det;
    b[0][2] = (a[0][1] * a[1][2] - a[0][2] * a[1][1]) / det;
    b[1][2] = (a[0][2] * a[1][0] - a[0][0] * a[1][2]) / det;
    b[2][2] = (a[0][0] * a[1][1] - a[0][1] * a[1][0]) / det;
    for (int r = 0; r < 3; ++r) b[r][3] = -(b[r][0] * a[0][3] + b[r][1] * a[1][3] + b[r][2] * a[2][3]);
    return inv;
  }

  // Voxel size along each voxel axis: the lengths of the linear part's columns.
  std::array<double, 3> spacing() const {
    std::array<double, 3> s{};
    for (int c = 0; c < 3; ++c) s[c] = std::hypot(m[0][c], m[1][c], m[2][c]);
    return s;
  }
  // World position of voxel (0, 0, 0).
  std::array<double, 3> origin() const { return {m[0][3], m[1][3], m[2][3]}; }
  // Unit world direction of each voxel axis: direction[r][c] is component r of axis c (ITK's
  // direction matrix). A zero-length axis keeps its zero column.
  std::array<std::array<double, 3>, 3> direction() const {
    const auto s = spacing();
    std::array<std::array<double, 3>, 3> d{};
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) d[r][c] = s[c] > 0 ? m[r][c] / s[c] : 0.0;
    return d;
  }
};

// Voxel data with its place in the world. `data` is indexed [i, j, k, ...] like nibabel's and
// MONAI's arrays: the three spatial axes first, in the file's voxel order, then any further NIfTI
// dimensions (time, components).
template <Element T>
struct Volume {
  Tensor<T> data;
  Affine affine;

  std::array<int64_t, 3> spatial_shape() const {
    VOXNN_CHECK(data.dim() >= 3, "Volume: data has shape ", data.shape(), "; expected at least 3 dims (i, j, k)");
    return {data.size(0), data.size(1), data.size(2)};
  }
  std::array<double, 3> spacing() const { return affine.spacing(); }
  std::array<double, 3> origin() const { return affine.origin(); }
  std::array<std::array<double, 3>, 3> direction() const { return affine.direction(); }
};

}  // namespace voxnn::io
