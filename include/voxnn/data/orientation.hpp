#pragma once
// Reorientation of a voxel grid by flips and axis permutations only. The orientation codes of a grid
// ("LAS", "RAS", ...) and nibabel's io_orientation live in io/orientation.hpp (io::axcodes,
// io::io_orientation). reorient() moves the voxels (no interpolation: every output voxel is an input
// voxel) so that the grid's codes become the requested ones, and updates the affine so that every
// voxel keeps its world position (nibabel as_closest_canonical for "RAS"; MONAI Orientation).
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/io/orientation.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::data {

namespace detail {

// "RAS", "lps", ... -> (world axis, sign) per voxel axis; each world axis exactly once.
inline std::array<io::AxisOrientation, 3> parse_axcodes(std::string_view codes) {
  VOXNN_CHECK(codes.size() == 3, "reorient: axis codes \"", std::string(codes),
              "\" must be 3 letters, one of R/L, A/P, S/I each (e.g. \"RAS\")");
  std::array<io::AxisOrientation, 3> out{};
  std::array<bool, 3> used{};
  for (int d = 0; d < 3; ++d) {
    char c = codes[static_cast<std::size_t>(d)];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    int axis = -1, sign = 0;
    for (int w = 0; w < 3; ++w) {
      if (c == io::detail::kPositiveAxcodes[w]) axis = w, sign = 1;
      if (c == io::detail::kNegativeAxcodes[w]) axis = w, sign = -1;
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

// The transform whose output axis d reads input axis source_axis[d] (a permutation of 0, 1, 2),
// reversed when flip[d], on a grid of spatial shape `shape` and affine `affine`: its voxel map, output
// shape and output affine. Also behind the Flip and Rotate90 sample transforms.
inline OrientationTransform axis_transform(const std::array<int, 3>& source_axis, const std::array<bool, 3>& flip,
                                           const std::array<int64_t, 3>& shape, const io::Affine& affine) {
  OrientationTransform t;
  t.source_axis = source_axis;
  t.flip = flip;
  t.voxel_map = io::Affine{};
  t.voxel_map.m[0][0] = t.voxel_map.m[1][1] = t.voxel_map.m[2][2] = 0;
  for (int d = 0; d < 3; ++d) {
    const int src = source_axis[d];
    t.shape[d] = shape[src];
    // input index along `src` = flip ? (n - 1 - out index) : out index
    t.voxel_map.m[src][d] = flip[d] ? -1.0 : 1.0;
    t.voxel_map.m[src][3] = flip[d] ? static_cast<double>(shape[src] - 1) : 0.0;
  }
  t.affine = affine * t.voxel_map;
  return t;
}

// The flips and permutation that bring a grid (spatial shape + affine) to the orientation `codes`.
inline OrientationTransform orientation_transform(const io::Affine& affine, const std::array<int64_t, 3>& shape,
                                                  std::string_view codes = "RAS") {
  const auto target = detail::parse_axcodes(codes);
  const auto current = io::io_orientation(affine);
  for (int d = 0; d < 3; ++d) {
    VOXNN_CHECK(current[d].world_axis >= 0, "reorient: voxel axis ", d,
                " of the affine has no direction (a zero column); cannot reorient to ", std::string(codes));
  }
  std::array<int, 3> source_axis{};
  std::array<bool, 3> flip{};
  for (int d = 0; d < 3; ++d) {
    int src = -1;
    for (int k = 0; k < 3; ++k)
      if (current[k].world_axis == target[d].world_axis) src = k;
    source_axis[d] = src;
    flip[d] = current[src].sign != target[d].sign;
  }
  return axis_transform(source_axis, flip, shape, affine);
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
                   if (inner == 1 && step[2] == 1) {
                     for (int64_t c = 0; c < n2; ++c) o[c] = s[c];
                   } else if (inner == 1 && step[2] == -1) {
                     for (int64_t c = 0; c < n2; ++c) o[c] = s[-c];
                   } else if (inner == 1) {
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
