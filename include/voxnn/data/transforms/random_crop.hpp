#pragma once
// Random crops, after MONAI 1.3.2's RandSpatialCrop and RandCropByPosNegLabel (one crop per call:
// MONAI's num_samples > 1 is a loop over calls with the same generator):
//
//   RandSpatialCrop{.roi_size = {96, 96, 96}}                         // uniform start
//   RandCropByPosNegLabel{.spatial_size = {96, 96, 96}, .pos = 1, .neg = 1}
//
// Image and label are cropped together and the affine's origin moves to the crop's first voxel.
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/data/transforms/common.hpp"
#include "voxnn/data/transforms/crop_pad.hpp"

namespace voxnn::data {

// monai.transforms.RandSpatialCrop: a roi_size box (a non-positive entry or one larger than the
// image: the image's size) at a uniform random start, or centred when !random_center. random_size:
// each side uniform in [roi_size, max_roi_size] (max_roi_size non-positive: the image's size).
struct RandSpatialCrop {
  std::array<int64_t, 3> roi_size{-1, -1, -1};
  std::array<int64_t, 3> max_roi_size{-1, -1, -1};
  bool random_center = true;
  bool random_size = false;

  template <Real T>
  void operator()(Sample<T>& s, Generator& gen) const {
    const char* op = "RandSpatialCrop";
    const auto sp = detail::spatial_shape(s, op);
    detail::Size3 size{};
    for (int a = 0; a < 3; ++a) size[a] = detail::wanted(roi_size[a], sp[a]);
    if (random_size)
      for (int a = 0; a < 3; ++a) {
        const int64_t hi = detail::wanted(max_roi_size[a], sp[a]);
        VOXNN_CHECK(size[a] <= hi, op, ": roi_size ", size[a], " on axis ", a, " is above max_roi_size ", hi);
        size[a] += detail::draws(gen).integer(hi - size[a] + 1);
      }
    detail::Size3 start{}, end{};
    for (int a = 0; a < 3; ++a) {
      const int64_t r = std::min(size[a], sp[a]);
      start[a] = random_center ? (sp[a] > r ? detail::draws(gen).integer(sp[a] - r + 1) : 0)
                               : std::max<int64_t>(sp[a] / 2 - r / 2, 0);
      end[a] = start[a] + r;
    }
    crop_pad_box(s, start, end, "constant", 0, op);
  }
};

// monai.transforms.RandCropByPosNegLabel: a spatial_size box centred on a random foreground voxel
// (label != 0 in any channel; channels 1.. of a one-hot label with several) with probability
// pos / (pos + neg), else on a random background voxel (label 0 and some image channel above
// image_threshold); the centre moves inwards so that the box fits. Without foreground (or
// background) voxels the other kind is used. A box larger than the image is an error unless
// allow_smaller, which shrinks it to the image.
struct RandCropByPosNegLabel {
  std::array<int64_t, 3> spatial_size{-1, -1, -1};
  double pos = 1;
  double neg = 1;
  double image_threshold = 0;
  bool allow_smaller = false;

  template <Real T>
  void operator()(Sample<T>& s, Generator& gen) const {
    const char* op = "RandCropByPosNegLabel";
    const auto sp = detail::spatial_shape(s, op);
    VOXNN_CHECK(s.label.has_value(), op, ": the sample has no label");
    VOXNN_CHECK(pos >= 0 && neg >= 0 && pos + neg > 0, op, ": pos ", pos, " and neg ", neg,
                " must be non-negative and not both 0");
    detail::Size3 size{};
    for (int a = 0; a < 3; ++a) {
      size[a] = detail::wanted(spatial_size[a], sp[a]);
      VOXNN_CHECK(size[a] <= sp[a] || allow_smaller, op, ": spatial_size ", size[a], " on axis ", a,
                  " is larger than the image ", s.image.shape(), " (pad first, or set allow_smaller)");
      size[a] = std::min(size[a], sp[a]);
    }
    const Tensor<T> label = s.label->contiguous(), image = s.image.contiguous();
    const int64_t n = sp[0] * sp[1] * sp[2], lc = label.size(0), ic = image.size(0);
    const int64_t first_channel = lc > 1 ? 1 : 0;
    const T* lp = label.data();
    const T* ip = image.data();
    const T thr = static_cast<T>(image_threshold);
    auto kind = [=](int64_t i) {  // 1: foreground, 2: background, 0: neither
      for (int64_t c = first_channel; c < lc; ++c)
        if (lp[c * n + i] != T(0)) return 1;
      for (int64_t c = 0; c < ic; ++c)
        if (ip[c * n + i] > thr) return 2;
      return 0;
    };
    // per fixed chunk: foreground and background counts (the same on any number of threads)
    constexpr int64_t chunk = 1 << 16;
    const int64_t chunks = (n + chunk - 1) / chunk;
    std::vector<std::array<int64_t, 2>> counts(static_cast<std::size_t>(chunks));
    parallel_for(0, chunks, 2, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; ++c) {
        std::array<int64_t, 2> k{0, 0};
        for (int64_t i = c * chunk, e = std::min(n, i + chunk); i < e; ++i) {
          const int t = kind(i);
          if (t) ++k[static_cast<std::size_t>(t - 1)];
        }
        counts[static_cast<std::size_t>(c)] = k;
      }
    });
    std::array<int64_t, 2> total{0, 0};
    for (const auto& k : counts) {
      total[0] += k[0];
      total[1] += k[1];
    }
    VOXNN_CHECK(total[0] + total[1] > 0, op, ": no foreground or background voxel to centre a crop on (label ",
                label.shape(), ", image above ", image_threshold, ")");
    const double ratio = total[0] == 0 ? 0.0 : total[1] == 0 ? 1.0 : pos / (pos + neg);
    const int want = detail::draws(gen).uniform() < ratio ? 1 : 2;
    int64_t pick = detail::draws(gen).integer(total[static_cast<std::size_t>(want - 1)]);
    int64_t index = -1;
    for (int64_t c = 0; c < chunks && index < 0; ++c) {
      const int64_t in_chunk = counts[static_cast<std::size_t>(c)][static_cast<std::size_t>(want - 1)];
      if (pick >= in_chunk) {
        pick -= in_chunk;
        continue;
      }
      for (int64_t i = c * chunk, e = std::min(n, i + chunk); i < e; ++i)
        if (kind(i) == want && pick-- == 0) {
          index = i;
          break;
        }
    }
    const detail::Size3 center{index / (sp[1] * sp[2]), index / sp[2] % sp[1], index % sp[2]};
    detail::Size3 start{}, end{};
    for (int a = 0; a < 3; ++a) {
      start[a] = std::clamp<int64_t>(center[a] - size[a] / 2, 0, sp[a] - size[a]);
      end[a] = start[a] + size[a];
    }
    crop_pad_box(s, start, end, "constant", 0, op);
  }
};

}  // namespace voxnn::data
