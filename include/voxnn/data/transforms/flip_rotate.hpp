#pragma once
// Flips and 90-degree rotations: exact voxel permutations of image and label together, after MONAI
// 1.3.2's Flip / RandFlip (numpy.flip over spatial_axis) and Rotate90 / RandRotate90 (numpy.rot90
// with k quarter turns in the plane of spatial_axes, from the first axis towards the second). The
// affine changes so that every voxel keeps its world position: new affine = affine * P, with P the
// map from new voxel indices to old ones. The voxels move through data/orientation.hpp's
// axis_transform + apply_orientation (the kernel and affine update of reorient()).
//
//   RandFlip{.prob = 0.5, .spatial_axis = {0}}            // empty spatial_axis: all three
//   RandRotate90{.prob = 0.5, .max_k = 3, .spatial_axes = {0, 1}}
#include <array>
#include <cstdint>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/data/orientation.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/data/transforms/common.hpp"

namespace voxnn::data {

namespace detail {

// Moves image and label by the flips / permutation t (built on the sample's grid) and takes its affine.
template <class T>
void apply_axis_transform(Sample<T>& s, const OrientationTransform& t) {
  s.image = apply_orientation(s.image, t, 1);
  if (s.label) s.label = apply_orientation(*s.label, t, 1);
  s.affine = t.affine;
}

inline OrientationTransform flip_transform(const std::vector<int>& axes, const Size3& sp, const io::Affine& affine,
                                           const char* op) {
  std::array<bool, 3> flip{false, false, false};
  if (axes.empty()) flip = {true, true, true};
  for (int a : axes) {
    VOXNN_CHECK(a >= -3 && a < 3, op, ": spatial axis ", a, " is not one of 0, 1, 2 (or -3..-1)");
    flip[static_cast<std::size_t>(a < 0 ? a + 3 : a)] ^= true;
  }
  return axis_transform({0, 1, 2}, flip, sp, affine);
}

inline OrientationTransform rot90_transform(int k, const std::array<int, 2>& axes, const Size3& sp,
                                            const io::Affine& affine, const char* op) {
  int a0 = axes[0], a1 = axes[1];
  VOXNN_CHECK(a0 >= -3 && a0 < 3 && a1 >= -3 && a1 < 3, op, ": spatial_axes (", a0, ", ", a1,
              ") are not in 0, 1, 2 (or -3..-1)");
  a0 = a0 < 0 ? a0 + 3 : a0;
  a1 = a1 < 0 ? a1 + 3 : a1;
  VOXNN_CHECK(a0 != a1, op, ": spatial_axes (", axes[0], ", ", axes[1], ") name the same axis twice");
  std::array<int, 3> src{0, 1, 2};
  std::array<bool, 3> flip{false, false, false};
  const auto i0 = static_cast<std::size_t>(a0), i1 = static_cast<std::size_t>(a1);
  k = ((k % 4) + 4) % 4;
  if (k == 1) {  // out[i, j] = in[j, n1 - 1 - i] in the (a0, a1) plane
    src[i0] = a1, src[i1] = a0;
    flip[i0] = true;
  } else if (k == 2) {
    flip[i0] = flip[i1] = true;
  } else if (k == 3) {  // out[i, j] = in[n0 - 1 - j, i]
    src[i0] = a1, src[i1] = a0;
    flip[i1] = true;
  }
  return axis_transform(src, flip, sp, affine);
}

}  // namespace detail

// monai.transforms.Flip: reverses the listed spatial axes (0, 1, 2 = X, Y, Z; empty: all three).
struct Flip {
  std::vector<int> spatial_axis{};

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    const auto sp = detail::spatial_shape(s, "Flip");
    detail::apply_axis_transform(s, detail::flip_transform(spatial_axis, sp, s.affine, "Flip"));
  }
};

// monai.transforms.RandFlip: Flip with probability prob (one draw).
struct RandFlip {
  double prob = 0.1;
  std::vector<int> spatial_axis{};

  template <Real T>
  void operator()(Sample<T>& s, Generator& gen) const {
    const auto sp = detail::spatial_shape(s, "RandFlip");
    detail::check_prob(prob, "RandFlip");
    const auto t = detail::flip_transform(spatial_axis, sp, s.affine, "RandFlip");
    if (detail::draws(gen).bernoulli(prob)) detail::apply_axis_transform(s, t);
  }
};

// monai.transforms.Rotate90: k quarter turns in the plane of spatial_axes (numpy.rot90).
struct Rotate90 {
  int k = 1;
  std::array<int, 2> spatial_axes{0, 1};

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    const auto sp = detail::spatial_shape(s, "Rotate90");
    detail::apply_axis_transform(s, detail::rot90_transform(k, spatial_axes, sp, s.affine, "Rotate90"));
  }
};

// monai.transforms.RandRotate90: with probability prob, k quarter turns with k uniform in 1..max_k.
struct RandRotate90 {
  double prob = 0.1;
  int max_k = 3;
  std::array<int, 2> spatial_axes{0, 1};

  template <Real T>
  void operator()(Sample<T>& s, Generator& gen) const {
    const auto sp = detail::spatial_shape(s, "RandRotate90");
    detail::check_prob(prob, "RandRotate90");
    VOXNN_CHECK(max_k >= 1, "RandRotate90: max_k ", max_k, " is below 1");
    detail::rot90_transform(1, spatial_axes, sp, s.affine, "RandRotate90");  // checks the axes
    const bool run = detail::draws(gen).bernoulli(prob);
    const int k = 1 + static_cast<int>(detail::draws(gen).integer(max_k));
    if (run) detail::apply_axis_transform(s, detail::rot90_transform(k, spatial_axes, sp, s.affine, "RandRotate90"));
  }
};

}  // namespace voxnn::data
