#pragma once
// The spatial transforms' warp (Affine3D, RandAffine, Rand3DElastic): a [C, X, Y, Z] tensor resampled
// on its own grid through a voxel-index map plus an optional displacement field [3, X, Y, Z] (in
// voxels), s = M (p + d(p)), with torch.nn.functional.grid_sample's rules for align_corners = false
// in voxels: "bilinear" (= trilinear) or "nearest" (ties half to even); padding_mode "zeros",
// "border" or "reflection" (MONAI's names). A thin adapter over data/sampling.hpp (voxel-edge field of
// view); an identity map without a field copies.
#include <string>

#include "voxnn/core/error.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/data/sampling.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::data::detail {

// MONAI's mode: true for "nearest", false for "bilinear" (alias "trilinear").
inline bool parse_warp_mode(const std::string& mode, const char* op) {
  VOXNN_CHECK(mode == "bilinear" || mode == "trilinear" || mode == "nearest", op, ": unknown mode '", mode,
              "'; expected bilinear (trilinear) or nearest");
  return mode == "nearest";
}

// MONAI's padding_mode: zeros, border or reflection.
inline SamplePadding parse_warp_padding(const std::string& padding_mode, const char* op) {
  const auto p = padding_named(padding_mode);
  VOXNN_CHECK(p && (*p == SamplePadding::zeros || *p == SamplePadding::border || *p == SamplePadding::reflection), op,
              ": unknown padding_mode '", padding_mode, "'; expected zeros, border or reflection");
  return *p;
}

// Resamples `input` [C, X, Y, Z] through the voxel-index map m (output voxel -> input voxel) and the
// displacement field `disp` ([3, X, Y, Z], or an undefined tensor) onto the same grid.
template <class T>
Tensor<T> warp(const Tensor<T>& input, const io::Affine& m, const Tensor<T>& disp, bool nearest, SamplePadding padding,
               const char* op) {
  if (!disp.defined() && m == io::Affine::identity()) return input.contiguous().clone();
  SamplePlan plan;
  plan.nearest = nearest;
  plan.padding = padding;
  plan.fov = FieldOfView::voxel_edges;
  plan.rounding = NearestRounding::half_even;
  plan.map = m;
  plan.in_n = plan.out_n = {input.size(1), input.size(2), input.size(3)};
  return sample_grid(input, 1, plan, disp, op);
}

}  // namespace voxnn::data::detail
