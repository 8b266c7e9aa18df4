#pragma once
// Flips and 90-degree rotations: exact voxel permutations of image and label together, after MONAI
// 1.3.2's Flip / RandFlip (numpy.flip over spatial_axis) and Rotate90 / RandRotate90 (numpy.rot90
// with k quarter turns in the plane of spatial_axes, from the first axis towards the second). The
// affine changes so that every voxel keeps its world position: new affine = affine * P, with P the
// map from new voxel indices to old ones.
//
//   RandFlip{.prob = 0.5, .spatial_axis = {0}}            // empty spatial_axis: all three
//   RandRotate90{.prob = 0.5, .max_k = 3, .spatial_axes = {0, 1}}
#include <array>
#include <cstdint>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/data/transforms/common.hpp"

namespace voxnn::data {

namespace detail {

// Output spatial axis j reads input axis perm[j], reversed when flip[j].
struct AxisMap {
  std::array<int, 3> perm{0, 1, 2};
  std::array<bool, 3> flip{false, false, false};
};

template <class T>
Tensor<T> permute_flip(const Tensor<T>& input, const AxisMap& m) {
  const Tensor<T> in = input.contiguous();
  const int64_t C = in.size(0);
  const std::array<int64_t, 3> n{in.size(1), in.size(2), in.size(3)};
  const std::array<int64_t, 3> in_st{n[1] * n[2], n[2], 1};
  std::array<int64_t, 3> on{}, st{};
  int64_t base = 0;
  for (int j = 0; j < 3; ++j) {
    const int a = m.perm[j];
    on[j] = n[a];
    st[j] = m.flip[j] ? -in_st[a] : in_st[a];
    if (m.flip[j]) base += (n[a] - 1) * in_st[a];
  }
  Tensor<T> out({C, on[0], on[1], on[2]});
  const T* src = in.data();
  T* dst = out.data();
  const int64_t vol = n[0] * n[1] * n[2], rows = C * on[0] * on[1];
  parallel_for(0, rows, 1 + kParallelGrain / std::max<int64_t>(1, on[2]), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const int64_t c = r / (on[0] * on[1]), i = r / on[1] % on[0], j = r % on[1];
      const T* s = src + c * vol + base + i * st[0] + j * st[1];
      T* o = dst + r * on[2];
      const int64_t s2 = st[2];
      if (s2 == 1)
        for (int64_t k = 0; k < on[2]; ++k) o[k] = s[k];
      else if (s2 == -1)
        for (int64_t k = 0; k < on[2]; ++k) o[k] = s[-k];
      else
        for (int64_t k = 0; k < on[2]; ++k) o[k] = s[k * s2];
    }
  });
  return out;
}

// Applies an axis map to image, label and affine.
template <class T>
void apply_axis_map(Sample<T>& s, const AxisMap& m, const Size3& sp) {
  s.image = permute_flip(s.image, m);
  if (s.label) s.label = permute_flip(*s.label, m);
  io::Affine p;
  for (int r = 0; r < 3; ++r) p.m[r][r] = 0;
  for (int j = 0; j < 3; ++j) {
    const int a = m.perm[j];
    p.m[a][j] = m.flip[j] ? -1.0 : 1.0;
    p.m[a][3] = m.flip[j] ? static_cast<double>(sp[a] - 1) : 0.0;
  }
  s.affine = s.affine * p;
}

inline AxisMap flip_map(const std::vector<int>& axes, const char* op) {
  AxisMap m;
  if (axes.empty()) m.flip = {true, true, true};
  for (int a : axes) {
    VOXNN_CHECK(a >= -3 && a < 3, op, ": spatial axis ", a, " is not one of 0, 1, 2 (or -3..-1)");
    m.flip[static_cast<std::size_t>(a < 0 ? a + 3 : a)] ^= true;
  }
  return m;
}

inline AxisMap rot90_map(int k, const std::array<int, 2>& axes, const char* op) {
  int a0 = axes[0], a1 = axes[1];
  VOXNN_CHECK(a0 >= -3 && a0 < 3 && a1 >= -3 && a1 < 3, op, ": spatial_axes (", a0, ", ", a1,
              ") are not in 0, 1, 2 (or -3..-1)");
  a0 = a0 < 0 ? a0 + 3 : a0;
  a1 = a1 < 0 ? a1 + 3 : a1;
  VOXNN_CHECK(a0 != a1, op, ": spatial_axes (", axes[0], ", ", axes[1], ") name the same axis twice");
  AxisMap m;
  k = ((k % 4) + 4) % 4;
  if (k == 1) {  // out[i, j] = in[j, n1 - 1 - i] in the (a0, a1) plane
    m.perm[static_cast<std::size_t>(a0)] = a1;
    m.flip[static_cast<std::size_t>(a0)] = true;
    m.perm[static_cast<std::size_t>(a1)] = a0;
  } else if (k == 2) {
    m.flip[static_cast<std::size_t>(a0)] = m.flip[static_cast<std::size_t>(a1)] = true;
  } else if (k == 3) {  // out[i, j] = in[n0 - 1 - j, i]
    m.perm[static_cast<std::size_t>(a0)] = a1;
    m.perm[static_cast<std::size_t>(a1)] = a0;
    m.flip[static_cast<std::size_t>(a1)] = true;
  }
  return m;
}

}  // namespace detail

// monai.transforms.Flip: reverses the listed spatial axes (0, 1, 2 = X, Y, Z; empty: all three).
struct Flip {
  std::vector<int> spatial_axis{};

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    const auto sp = detail::spatial_shape(s, "Flip");
    detail::apply_axis_map(s, detail::flip_map(spatial_axis, "Flip"), sp);
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
    const auto m = detail::flip_map(spatial_axis, "RandFlip");
    if (detail::draws(gen).bernoulli(prob)) detail::apply_axis_map(s, m, sp);
  }
};

// monai.transforms.Rotate90: k quarter turns in the plane of spatial_axes (numpy.rot90).
struct Rotate90 {
  int k = 1;
  std::array<int, 2> spatial_axes{0, 1};

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    const auto sp = detail::spatial_shape(s, "Rotate90");
    detail::apply_axis_map(s, detail::rot90_map(k, spatial_axes, "Rotate90"), sp);
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
    detail::rot90_map(1, spatial_axes, "RandRotate90");  // checks the axes
    const bool run = detail::draws(gen).bernoulli(prob);
    const int k = 1 + static_cast<int>(detail::draws(gen).integer(max_k));
    if (run) detail::apply_axis_map(s, detail::rot90_map(k, spatial_axes, "RandRotate90"), sp);
  }
};

}  // namespace voxnn::data
