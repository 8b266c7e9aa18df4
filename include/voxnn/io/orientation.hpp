#pragma once
// Which world axis each voxel axis of a grid runs along: nibabel's io_orientation and aff2axcodes, and
// the closest orthogonal matrix (the polar decomposition) that both they and the NIfTI qform use.
//
// The code of a voxel axis is the world direction its index grows towards: R/L (x), A/P (y), S/I (z),
// as nibabel's aff2axcodes gives it: "LAS" for a grid whose i runs to the subject's left, j to
// anterior, k to superior. For an oblique affine each voxel axis takes the world axis it is closest to:
// the polar decomposition of the affine's direction matrix (columns scaled to unit length), then the
// largest component of each column, the axes picked in order i, j, k so that no world axis is taken
// twice (nibabel io_orientation). data/orientation.hpp reorients volumes with this; viz/montage.hpp
// picks its display axes with it.
#include <Eigen/Core>
#include <Eigen/SVD>

#include <array>
#include <cmath>
#include <limits>
#include <string>

#include "voxnn/core/error.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::io {

using Matrix3 = std::array<std::array<double, 3>, 3>;

// The orthogonal factor U V^T of the polar decomposition of m (m = U S V^T), the orthogonal matrix
// closest to m in the Frobenius norm; the rotation when det(m) > 0. Singular values at or below
// max(S) * 3 * eps count as zero and their terms are left out, so a rank-deficient m gives the
// partial isometry nibabel's io_orientation uses (a zero column stays zero). nibabel's set_qform and
// io_orientation compute the same (numpy.linalg.svd). m must be finite.
inline Matrix3 closest_orthogonal(const Matrix3& m) {
  Eigen::Matrix3d a;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) a(r, c) = m[r][c];
  VOXNN_CHECK(a.allFinite(), "closest_orthogonal: the matrix has a non-finite entry");
  const Eigen::JacobiSVD<Eigen::Matrix3d> svd(a, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::Vector3d s = svd.singularValues();
  const double tol = s.maxCoeff() * 3 * std::numeric_limits<double>::epsilon();
  Eigen::Matrix3d q = Eigen::Matrix3d::Zero();
  for (int k = 0; k < 3; ++k)
    if (s(k) > tol) q += svd.matrixU().col(k) * svd.matrixV().col(k).transpose();
  Matrix3 out{};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) out[r][c] = q(r, c);
  return out;
}

// Where a voxel axis points: world axis 0, 1, 2 (x, y, z) and the sign (+1: towards R, A or S), or
// world axis -1 for an axis with no direction (a zero column of the affine; nibabel's NaN row).
struct AxisOrientation {
  int world_axis = -1;
  int sign = 1;
};

namespace detail {
inline constexpr char kPositiveAxcodes[3] = {'R', 'A', 'S'};
inline constexpr char kNegativeAxcodes[3] = {'L', 'P', 'I'};
}  // namespace detail

// nibabel io_orientation for a 3D voxel-to-world affine. Throws for a non-finite affine.
inline std::array<AxisOrientation, 3> io_orientation(const Affine& affine) {
  Matrix3 rs{};
  for (int c = 0; c < 3; ++c) {
    const double zoom = std::sqrt(affine.m[0][c] * affine.m[0][c] + affine.m[1][c] * affine.m[1][c] +
                                  affine.m[2][c] * affine.m[2][c]);
    for (int r = 0; r < 3; ++r) rs[r][c] = zoom > 0 ? affine.m[r][c] / zoom : affine.m[r][c];
  }
  bool finite = true;
  for (const auto& row : rs)
    for (double v : row) finite = finite && std::isfinite(v);
  VOXNN_CHECK(finite, "axcodes: the affine has a non-finite entry");
  Matrix3 r = closest_orthogonal(rs);
  std::array<AxisOrientation, 3> out{};
  for (int c = 0; c < 3; ++c) {
    int best = -1;
    double best_abs = 0;
    bool all_zero = true;
    for (int w = 0; w < 3; ++w) {
      all_zero = all_zero && std::abs(r[w][c]) <= 1e-8;  // numpy allclose(col, 0)
      if (std::abs(r[w][c]) > best_abs) best = w, best_abs = std::abs(r[w][c]);
    }
    if (all_zero || best < 0) continue;
    out[c] = {best, r[best][c] < 0 ? -1 : 1};
    r[best] = {0, 0, 0};  // each world axis goes to one voxel axis only
  }
  return out;
}

// nibabel aff2axcodes: {'L', 'A', 'S'} for anatomical.nii; '?' for an axis with no direction.
inline std::array<char, 3> axcodes(const Affine& affine) {
  const auto o = io_orientation(affine);
  std::array<char, 3> out{};
  for (int d = 0; d < 3; ++d)
    out[d] = o[d].world_axis < 0 ? '?'
                                 : (o[d].sign > 0 ? detail::kPositiveAxcodes[o[d].world_axis]
                                                  : detail::kNegativeAxcodes[o[d].world_axis]);
  return out;
}

inline std::string axcodes_string(const Affine& affine) {
  const auto c = axcodes(affine);
  return std::string(c.begin(), c.end());
}

}  // namespace voxnn::io
