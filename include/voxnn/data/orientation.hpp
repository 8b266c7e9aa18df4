#pragma once
// Orientation codes of a voxel grid and reorientation by flips and axis permutations only.
//
// The code of a voxel axis is the world direction its index grows towards: R/L (x), A/P (y), S/I (z),
// as nibabel's aff2axcodes gives it: "LAS" for a grid whose i runs to the subject's left, j to
// anterior, k to superior. For an oblique affine each voxel axis takes the world axis it is closest to
// (the polar decomposition of the affine's direction matrix, then the largest component of each
// column, the axes picked in order i, j, k so that no world axis is taken twice: nibabel
// io_orientation). reorient() moves the voxels (no interpolation: every output voxel is an input
// voxel) so that the grid's codes become the requested ones, and updates the affine so that every
// voxel keeps its world position (nibabel as_closest_canonical for "RAS"; MONAI Orientation).
#include <Eigen/Core>
#include <Eigen/SVD>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::data {

// Where each voxel axis points: world axis 0, 1, 2 (x, y, z) and the sign (+1: towards R, A or S),
// or world axis -1 for an axis with no direction (a zero column of the affine; nibabel's None).
struct AxisOrientation {
  int world_axis = -1;
  int sign = 1;
};

namespace detail {

inline constexpr char kPositiveCodes[3] = {'R', 'A', 'S'};
inline constexpr char kNegativeCodes[3] = {'L', 'P', 'I'};

// "RAS", "lps", ... -> (world axis, sign) per voxel axis; each world axis exactly once.
inline std::array<AxisOrientation, 3> parse_axcodes(std::string_view codes) {
  VOXNN_CHECK(codes.size() == 3, "reorient: axis codes \"", std::string(codes),
              "\" must be 3 letters, one of R/L, A/P, S/I each (e.g. \"RAS\")");
  std::array<AxisOrientation, 3> out{};
  std::array<bool, 3> used{};
  for (int d = 0; d < 3; ++d) {
    char c = codes[static_cast<std::size_t>(d)];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    int axis = -1, sign = 0;
    for (int w = 0; w < 3; ++w) {
      if (c == kPositiveCodes[w]) axis = w, sign = 1;
      if (c == kNegativeCodes[w]) axis = w, sign = -1;
    }
    VOXNN_CHECK(axis >= 0, "reorient: axis codes \"", std::string(codes), "\": '", std::string(1, c),
                "' is not one of R L A P S I");
    VOXNN_CHECK(!used[axis], "reorient: axis codes \"", std::string(codes), "\" name the ",
                "xyz"[axis], " axis twice (need one of R/L, one of A/P, one of S/I)");
    used[axis] = true;
    out[d] = {axis, sign};
  }
  return out;
}

}  // namespace detail

// nibabel io_orientation for a 3D voxel-to-world affine.
inline std::array<AxisOrientation, 3> io_orientation(const io::Affine& affine) {
  Eigen::Matrix3d rs;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) rs(r, c) = affine.m[r][c];
  for (int c = 0; c < 3; ++c) {
    const double zoom = rs.col(c).norm();
    if (zoom > 0) rs.col(c) /= zoom;
  }
  VOXNN_CHECK(rs.allFinite(), "axcodes: the affine has a non-finite entry");
  // Polar decomposition: the closest matrix without shear, R = U V^T over the nonzero singular values.
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(rs, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::Vector3d s = svd.singularValues();
  const double tol = s.maxCoeff() * 3 * std::numeric_limits<double>::epsilon();
  Eigen::Matrix3d r = Eigen::Matrix3d::Zero();
  for (int k = 0; k < 3; ++k)
    if (s(k) > tol) r += svd.matrixU().col(k) * svd.matrixV().col(k).transpose();
  std::array<AxisOrientation, 3> out{};
  for (int c = 0; c < 3; ++c) {
    int best = -1;
    double best_abs = 0;
    bool all_zero = true;
    for (int w = 0; w < 3; ++w) {
      all_zero = all_zero && std::abs(r(w, c)) <= 1e-8;  // numpy allclose(col, 0)
      if (std::abs(r(w, c)) > best_abs) best = w, best_abs = std::abs(r(w, c));
    }
    if (all_zero || best < 0) continue;
    out[c] = {best, r(best, c) < 0 ? -1 : 1};
    r.row(best).setZero();  // each world axis goes to one voxel axis only
  }
  return out;
}

// nibabel aff2axcodes: {'L', 'A', 'S'} for anatomical.nii; '?' for an axis with no direction.
inline std::array<char, 3> axcodes(const io::Affine& affine) {
  const auto o = io_orientation(affine);
  std::array<char, 3> out{};
  for (int d = 0; d < 3; ++d)
    out[d] = o[d].world_axis < 0 ? '?'
                                 : (o[d].sign > 0 ? detail::kPositiveCodes[o[d].world_axis]
                                                  : detail::kNegativeCodes[o[d].world_axis]);
  return out;
}

inline std::string axcodes_string(const io::Affine& affine) {
  const auto c = axcodes(affine);
  return std::string(c.begin(), c.end());
}

// A reorientation of a grid: output spatial axis d reads input axis `source_axis[d]`, reversed when
// flip[d]. `voxel_map` takes output voxel indices to input voxel indices, so the new affine is
// affine * voxel_map; `shape` is the output spatial shape.
struct OrientationTransform {
  std::array<int, 3> source_axis{0, 1, 2};
  std::array<bool, 3> flip{false, false, false};
  std::array<int64_t, 3> shape{};
  io::Affine voxel_map;
  io::Affine affine;  // the output grid's affine

  bool is_identity() const {
    return source_axis == std::array<int, 3>{0, 1, 2} && !flip[0] && !flip[1] && !flip[2];
  }
};

// The flips and permutation that bring a grid (spatial shape + affine) to the orientation `codes`.
inline OrientationTransform orientation_transform(const io::Affine& affine, const std::array<int64_t, 3>& shape,
                                                  std::string_view codes = "RAS") {
  const auto target = detail::parse_axcodes(codes);
  const auto current = io_orientation(affine);
  OrientationTransform t;
  for (int d = 0; d < 3; ++d) {
    VOXNN_CHECK(current[d].world_axis >= 0, "reorient: voxel axis ", d,
                " of the affine has no direction (a zero column); cannot reorient to ", std::string(codes));
  }
  t.voxel_map = io::Affine{};
  t.voxel_map.m[0][0] = t.voxel_map.m[1][1] = t.voxel_map.m[2][2] = 0;
  for (int d = 0; d < 3; ++d) {
    int src = -1;
    for (int k = 0; k < 3; ++k)
      if (current[k].world_axis == target[d].world_axis) src = k;
    t.source_axis[d] = src;
    t.flip[d] = current[src].sign != target[d].sign;
    t.shape[d] = shape[src];
    // input index along `src` = flip ? (n - 1 - out index) : out index
    t.voxel_map.m[src][d] = t.flip[d] ? -1.0 : 1.0;
    t.voxel_map.m[src][3] = t.flip[d] ? static_cast<double>(shape[src] - 1) : 0.0;
  }
  t.affine = affine * t.voxel_map;
  return t;
}

// Applies t to the three spatial dims of `data` starting at `first_spatial_dim` (0 for a Volume's
// [i, j, k, ...], 1 for a channel-first [C, X, Y, Z]); the other dims follow along. A copy, contiguous.
template <Element T>
Tensor<T> apply_orientation(const Tensor<T>& data, const OrientationTransform& t, int first_spatial_dim = 0) {
  VOXNN_CHECK(first_spatial_dim >= 0 && first_spatial_dim + 3 <= data.dim(), "apply_orientation: spatial dims ",
              first_spatial_dim, "..", first_spatial_dim + 2, " do not exist in shape ", data.shape());
  const int f = first_spatial_dim;
  for (int d = 0; d < 3; ++d)
    VOXNN_CHECK(data.size(f + t.source_axis[d]) == t.shape[d], "apply_orientation: data of shape ", data.shape(),
                " does not match the transform's grid (", t.shape[0], ", ", t.shape[1], ", ", t.shape[2], ")");
  const Tensor<T> in = data.contiguous();
  int64_t lead = 1, inner = 1;
  for (int d = 0; d < f; ++d) lead *= in.size(d);
  for (int d = f + 3; d < in.dim(); ++d) inner *= in.size(d);
  const std::array<int64_t, 3> n_in{in.size(f), in.size(f + 1), in.size(f + 2)};
  const std::array<int64_t, 3> st_in{n_in[1] * n_in[2] * inner, n_in[2] * inner, inner};
  // Per output axis: input start offset and step (in elements).
  std::array<int64_t, 3> start{}, step{};
  for (int d = 0; d < 3; ++d) {
    const int s = t.source_axis[d];
    step[d] = t.flip[d] ? -st_in[s] : st_in[s];
    start[d] = t.flip[d] ? (n_in[s] - 1) * st_in[s] : 0;
  }
  Shape out_shape = in.shape();
  for (int d = 0; d < 3; ++d) out_shape[f + d] = t.shape[d];
  Tensor<T> out(out_shape);
  const T* src = in.data();
  T* dst = out.data();
  const int64_t n0 = t.shape[0], n1 = t.shape[1], n2 = t.shape[2];
  const int64_t vol = n_in[0] * n_in[1] * n_in[2] * inner;
  const int64_t rows = lead * n0 * n1;
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, n2 * inner)),
               [&](int64_t r0, int64_t r1) {
                 for (int64_t r = r0; r < r1; ++r) {
                   const int64_t l = r / (n0 * n1), a = (r / n1) % n0, b = r % n1;
                   const T* s = src + l * vol + start[0] + a * step[0] + start[1] + b * step[1] + start[2];
                   T* o = dst + r * n2 * inner;
                   if (inner == 1) {
                     for (int64_t c = 0; c < n2; ++c) o[c] = s[c * step[2]];
                   } else {
                     for (int64_t c = 0; c < n2; ++c) std::copy(s + c * step[2], s + c * step[2] + inner, o + c * inner);
                   }
                 }
               });
  return out;
}

// The volume in the orientation `codes` ("RAS" by default; any of "LPS", "PLI", ...): flips and axis
// permutations only, every voxel keeps its world position. Dims after the third follow along.
template <Element T>
io::Volume<T> reorient(const io::Volume<T>& v, std::string_view codes = "RAS") {
  const OrientationTransform t = orientation_transform(v.affine, v.spatial_shape(), codes);
  if (t.is_identity()) return {v.data.clone(), v.affine};
  return {apply_orientation(v.data, t, 0), t.affine};
}

}  // namespace voxnn::data
