#pragma once
// Cropping and padding to a size, after MONAI 1.3.2's SpatialPad, CenterSpatialCrop,
// ResizeWithPadOrCrop and DivisiblePad, and the box primitive they share (crop_pad_box). Image and
// label change together; the label is padded with the same mode (constant 0 by default, so a padded
// label is background). The affine follows the grid: a box starting at voxel o (negative when
// padding) gives affine * translate(o).
//
//   SpatialPad{.spatial_size = {96, 96, 96}}             // pads smaller dims, symmetric
//   CenterSpatialCrop{.roi_size = {96, 96, -1}}          // -1: keep that dim
//   ResizeWithPadOrCrop{.spatial_size = {96, 96, 96}}    // both
//   DivisiblePad{.k = {16, 16, 16}}                      // up to multiples of k
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/data/transforms/common.hpp"
#include "voxnn/ops/pad.hpp"

namespace voxnn::data {

// Replaces the sample by the box [start, end) of its grid (per spatial axis; start may be negative
// and end may pass the edge: those parts are padded with `mode`, as ops::pad). The label is padded
// with the same mode and value 0.
template <Real T>
void crop_pad_box(Sample<T>& s, const std::array<int64_t, 3>& start, const std::array<int64_t, 3>& end,
                  const std::string& mode = "constant", double value = 0, const char* op = "crop_pad_box") {
  const auto sp = detail::spatial_shape(s, op);
  const std::string m = detail::pad_mode_name(mode, op);
  std::vector<int64_t> pad;  // (left, right) pairs from the last dim, as ops::pad
  bool same = true;
  for (int a = 2; a >= 0; --a) {
    VOXNN_CHECK(end[a] >= start[a], op, ": box [", start[a], ", ", end[a], ") on axis ", a, " is empty-reversed");
    pad.push_back(-start[a]);
    pad.push_back(end[a] - sp[a]);
    same = same && start[a] == 0 && end[a] == sp[a];
  }
  if (same) return;
  try {
    // a leading batch dim: ops::pad takes (N, C, X, Y, Z) in every mode
    s.image = ops::pad(s.image.unsqueeze(0), pad, m, value).squeeze(0);
    if (s.label) s.label = ops::pad(s.label->unsqueeze(0), pad, m, 0.0).squeeze(0);
  } catch (const Error& e) {
    VOXNN_CHECK(false, op, ": ", e.what());
  }
  s.affine = detail::shifted(s.affine, start);
}

namespace detail {
// MONAI's pad split: symmetric puts floor(width / 2) before, the rest after; "end" all after.
inline std::array<int64_t, 2> pad_split(int64_t width, const std::string& method, const char* op) {
  VOXNN_CHECK(method == "symmetric" || method == "end", op, ": unknown method '", method,
              "'; expected symmetric or end");
  if (width <= 0) return {0, 0};
  return method == "symmetric" ? std::array<int64_t, 2>{width / 2, width - width / 2} : std::array<int64_t, 2>{0, width};
}
// A wanted size: a non-positive entry means the current size (MONAI's fall_back_tuple).
inline int64_t wanted(int64_t want, int64_t have) { return want > 0 ? want : have; }

template <class T>
void pad_to(Sample<T>& s, const Size3& size, const std::string& method, const std::string& mode, double value,
            const char* op) {
  const Size3 sp = spatial_shape(s, op);
  Size3 start{}, end{};
  for (int a = 0; a < 3; ++a) {
    const auto [before, after] = pad_split(wanted(size[a], sp[a]) - sp[a], method, op);
    start[a] = -before;
    end[a] = sp[a] + after;
  }
  crop_pad_box(s, start, end, mode, value, op);
}

template <class T>
void center_crop_to(Sample<T>& s, const Size3& roi, const char* op) {
  const Size3 sp = spatial_shape(s, op);
  Size3 start{}, end{};
  for (int a = 0; a < 3; ++a) {
    const int64_t r = wanted(roi[a], sp[a]);
    start[a] = std::max<int64_t>(sp[a] / 2 - r / 2, 0);
    end[a] = std::min(start[a] + r, sp[a]);
  }
  crop_pad_box(s, start, end, "constant", 0, op);
}
}  // namespace detail

// monai.transforms.SpatialPad: pads each spatial dim smaller than spatial_size up to it (a
// non-positive entry, or a dim already as large, is left alone). method: "symmetric" | "end";
// mode: "constant" (with `value`) | "reflect" | "replicate" ("edge") | "circular" ("wrap").
struct SpatialPad {
  std::array<int64_t, 3> spatial_size{-1, -1, -1};
  std::string method = "symmetric";
  std::string mode = "constant";
  double value = 0;

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    detail::pad_to(s, spatial_size, method, mode, value, "SpatialPad");
  }
};

// monai.transforms.CenterSpatialCrop: the roi_size box around the centre, starting at
// max(size / 2 - roi / 2, 0) (integer halves); a dim smaller than the roi, or a non-positive entry,
// is not cropped.
struct CenterSpatialCrop {
  std::array<int64_t, 3> roi_size{-1, -1, -1};

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    detail::center_crop_to(s, roi_size, "CenterSpatialCrop");
  }
};

// monai.transforms.ResizeWithPadOrCrop: center crop the dims larger than spatial_size, pad the
// smaller ones (SpatialPad's method and mode).
struct ResizeWithPadOrCrop {
  std::array<int64_t, 3> spatial_size{-1, -1, -1};
  std::string method = "symmetric";
  std::string mode = "constant";
  double value = 0;

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    detail::center_crop_to(s, spatial_size, "ResizeWithPadOrCrop");
    detail::pad_to(s, spatial_size, method, mode, value, "ResizeWithPadOrCrop");
  }
};

// monai.transforms.DivisiblePad: pads each spatial dim up to the next multiple of k (k <= 0 or 1:
// unchanged).
struct DivisiblePad {
  std::array<int64_t, 3> k{1, 1, 1};
  std::string method = "symmetric";
  std::string mode = "constant";
  double value = 0;

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    const detail::Size3 sp = detail::spatial_shape(s, "DivisiblePad");
    detail::Size3 size{};
    for (int a = 0; a < 3; ++a) size[a] = k[a] > 0 ? (sp[a] + k[a] - 1) / k[a] * k[a] : sp[a];
    detail::pad_to(s, size, method, mode, value, "DivisiblePad");
  }
};

}  // namespace voxnn::data
