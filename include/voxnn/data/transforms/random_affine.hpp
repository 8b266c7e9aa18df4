#pragma once
// Affine resampling on the sample's own grid, after MONAI 1.3.2's Affine and RandAffine:
//
//   Affine3D{.rotate_params = {0.1, 0, 0}, .scale_params = {1.1, 1, 1}}
//   RandAffine{.prob = 0.5, .rotate_range = {0.26, 0.26, 0.26}, .scale_range = {0.1, 0.1, 0.1}}
//
// MONAI's matrix A = R S_h T S (rotation R = Rx Ry Rz by rotate_params, shear S_h, translation T in
// voxels, scale S) maps an output voxel's position relative to the grid centre c = (n - 1) / 2 to the
// input position it reads: s = A (p - c) + c. The image is resampled with `mode` (bilinear = trilinear
// or nearest), the label always with nearest (its values stay exact), both with padding_mode (zeros,
// border or reflection). Output grid = input grid, so the affine is unchanged. MONAI's spatial_size
// (a different output size) is not offered: crop or pad before or after.
#include <array>
#include <cmath>
#include <string>

#include "voxnn/core/error.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/data/transforms/common.hpp"
#include "voxnn/data/transforms/resample.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::data {

namespace detail {

// A = R S_h T S as monai.transforms.AffineGrid builds it (create_rotate, create_shear,
// create_translate, create_scale).
inline io::Affine monai_affine(const std::array<double, 3>& rotate, const std::array<double, 6>& shear,
                               const std::array<double, 3>& translate, const std::array<double, 3>& scale) {
  io::Affine rx, ry, rz, sh, tr, sc;
  const double c0 = std::cos(rotate[0]), s0 = std::sin(rotate[0]);
  rx.m[1][1] = c0, rx.m[1][2] = -s0, rx.m[2][1] = s0, rx.m[2][2] = c0;
  const double c1 = std::cos(rotate[1]), s1 = std::sin(rotate[1]);
  ry.m[0][0] = c1, ry.m[0][2] = s1, ry.m[2][0] = -s1, ry.m[2][2] = c1;
  const double c2 = std::cos(rotate[2]), s2 = std::sin(rotate[2]);
  rz.m[0][0] = c2, rz.m[0][1] = -s2, rz.m[1][0] = s2, rz.m[1][1] = c2;
  sh.m[0][1] = shear[0], sh.m[0][2] = shear[1], sh.m[1][0] = shear[2];
  sh.m[1][2] = shear[3], sh.m[2][0] = shear[4], sh.m[2][1] = shear[5];
  for (int r = 0; r < 3; ++r) {
    tr.m[r][3] = translate[static_cast<std::size_t>(r)];
    sc.m[r][r] = scale[static_cast<std::size_t>(r)];
  }
  return rx * ry * rz * sh * tr * sc;
}

// The voxel-index map s = A (p - c) + c of a centred matrix A on a grid of size n.
inline io::Affine centred_index_map(const io::Affine& a, const Size3& n) {
  io::Affine m;
  for (int r = 0; r < 3; ++r) {
    double t = a.m[r][3] + (static_cast<double>(n[r]) - 1) / 2;
    for (int k = 0; k < 3; ++k) {
      m.m[r][k] = a.m[r][k];
      t -= a.m[r][k] * (static_cast<double>(n[k]) - 1) / 2;
    }
    m.m[r][3] = t;
  }
  return m;
}

// Resamples image (mode) and label (nearest) through the map and an optional displacement field.
template <class T>
void resample_sample(Sample<T>& s, const io::Affine& m, const Tensor<T>& disp, const std::string& mode,
                     const std::string& padding_mode, const char* op) {
  const bool nearest = parse_warp_mode(mode, op);
  const SamplePadding pd = parse_warp_padding(padding_mode, op);
  s.image = warp(s.image, m, disp, nearest, pd, op);
  if (s.label) s.label = warp(*s.label, m, disp, true, pd, op);
}

inline void check_finite(const double* v, int n, const char* op, const char* what) {
  for (int i = 0; i < n; ++i) VOXNN_CHECK(std::isfinite(v[i]), op, ": ", what, " has a non-finite value ", v[i]);
}

inline void check_affine_ranges(const std::array<double, 3>& rotate_range, const std::array<double, 6>& shear_range,
                                const std::array<double, 3>& translate_range, const std::array<double, 3>& scale_range,
                                const char* op) {
  auto check = [op](const double* v, int n, const char* what) {
    for (int i = 0; i < n; ++i)
      VOXNN_CHECK(v[i] >= 0 && std::isfinite(v[i]), op, ": ", what, " ", v[i], " is not a finite value >= 0");
  };
  check(rotate_range.data(), 3, "rotate_range");
  check(shear_range.data(), 6, "shear_range");
  check(translate_range.data(), 3, "translate_range");
  check(scale_range.data(), 3, "scale_range");
}

// The draws of RandAffine / Rand3DElastic: rotate, shear, translate uniform in [-r, r], scale
// 1 + uniform in [-r, r] (MONAI's order and rules); returns A.
inline io::Affine random_affine(Generator& gen, const std::array<double, 3>& rotate_range,
                                const std::array<double, 6>& shear_range, const std::array<double, 3>& translate_range,
                                const std::array<double, 3>& scale_range) {
  std::array<double, 3> rot{}, tr{}, sc{};
  std::array<double, 6> sh{};
  for (int i = 0; i < 3; ++i) rot[i] = draws(gen).uniform(-rotate_range[i], rotate_range[i]);
  for (int i = 0; i < 6; ++i) sh[i] = draws(gen).uniform(-shear_range[i], shear_range[i]);
  for (int i = 0; i < 3; ++i) tr[i] = draws(gen).uniform(-translate_range[i], translate_range[i]);
  for (int i = 0; i < 3; ++i) sc[i] = 1.0 + draws(gen).uniform(-scale_range[i], scale_range[i]);
  return monai_affine(rot, sh, tr, sc);
}

}  // namespace detail

// monai.transforms.Affine with the output on the input grid: rotate_params (radians, about X, Y, Z),
// shear_params (6: xy, xz, yx, yz, zx, zy), translate_params (voxels), scale_params (factors).
struct Affine3D {
  std::array<double, 3> rotate_params{0, 0, 0};
  std::array<double, 6> shear_params{0, 0, 0, 0, 0, 0};
  std::array<double, 3> translate_params{0, 0, 0};
  std::array<double, 3> scale_params{1, 1, 1};
  std::string mode = "bilinear";
  std::string padding_mode = "reflection";

  // A: centred output position -> centred input position.
  io::Affine matrix() const {
    detail::check_finite(rotate_params.data(), 3, "Affine3D", "rotate_params");
    detail::check_finite(shear_params.data(), 6, "Affine3D", "shear_params");
    detail::check_finite(translate_params.data(), 3, "Affine3D", "translate_params");
    detail::check_finite(scale_params.data(), 3, "Affine3D", "scale_params");
    return detail::monai_affine(rotate_params, shear_params, translate_params, scale_params);
  }

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    const auto sp = detail::spatial_shape(s, "Affine3D");
    const io::Affine a = matrix();
    detail::resample_sample(s, detail::centred_index_map(a, sp), Tensor<T>(), mode, padding_mode, "Affine3D");
  }
};

// monai.transforms.RandAffine (output on the input grid): with probability prob, Affine3D with
// rotate, shear and translate parameters uniform in [-range, range] and scale factors 1 + uniform in
// [-scale_range, scale_range].
struct RandAffine {
  double prob = 0.1;
  std::array<double, 3> rotate_range{0, 0, 0};
  std::array<double, 6> shear_range{0, 0, 0, 0, 0, 0};
  std::array<double, 3> translate_range{0, 0, 0};
  std::array<double, 3> scale_range{0, 0, 0};
  std::string mode = "bilinear";
  std::string padding_mode = "reflection";

  template <Real T>
  void operator()(Sample<T>& s, Generator& gen) const {
    const char* op = "RandAffine";
    const auto sp = detail::spatial_shape(s, op);
    detail::check_prob(prob, op);
    detail::parse_warp_mode(mode, op);
    detail::parse_warp_padding(padding_mode, op);
    detail::check_affine_ranges(rotate_range, shear_range, translate_range, scale_range, op);
    if (!detail::draws(gen).bernoulli(prob)) return;
    const io::Affine a = detail::random_affine(gen, rotate_range, shear_range, translate_range, scale_range);
    detail::resample_sample(s, detail::centred_index_map(a, sp), Tensor<T>(), mode, padding_mode, op);
  }
};

}  // namespace voxnn::data
