#pragma once
// Cropping to the foreground's bounding box, after monai.transforms.CropForeground (1.3.2):
//
//   CropForeground{.margin = {8, 8, 8}, .k_divisible = {16, 16, 16}}
//
// The foreground is where any channel of the source (the image by default, or the label) is above
// `threshold` (MONAI's default select_fn, is_positive, is threshold 0). The box grows by `margin`,
// clipped to the image when allow_smaller (MONAI's default), then each side grows to a multiple of
// k_divisible around the same start (floor of half the growth before); parts of the box outside the
// image are padded with `mode`. Unlike MONAI, which crops to an empty image, a sample without
// foreground is left unchanged.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/data/transforms/common.hpp"
#include "voxnn/data/transforms/crop_pad.hpp"

namespace voxnn::data {

struct CropForeground {
  std::string source = "image";  // "image" | "label": where to look for the foreground
  double threshold = 0;           // foreground: value > threshold
  std::array<int64_t, 3> margin{0, 0, 0};
  bool allow_smaller = true;
  std::array<int64_t, 3> k_divisible{1, 1, 1};
  std::string mode = "constant";
  double value = 0;

  // The box [start, end) this transform would crop (start == end == 0 on every axis without foreground).
  template <Real T>
  std::array<std::array<int64_t, 3>, 2> bounding_box(const Sample<T>& s) const {
    const char* op = "CropForeground";
    const auto sp = detail::spatial_shape(s, op);
    VOXNN_CHECK(source == "image" || source == "label", op, ": source '", source, "' is not image or label");
    VOXNN_CHECK(source == "image" || s.label.has_value(), op, ": source is the label but the sample has none");
    for (int a = 0; a < 3; ++a) {
      VOXNN_CHECK(margin[a] >= 0, op, ": margin ", margin[a], " on axis ", a, " is negative");
      VOXNN_CHECK(k_divisible[a] >= 1, op, ": k_divisible ", k_divisible[a], " on axis ", a, " is below 1");
    }
    const Tensor<T> src = (source == "image" ? s.image : *s.label).contiguous();
    const int64_t channels = src.size(0), X = sp[0], Y = sp[1], Z = sp[2], plane = Y * Z;
    const T* p = src.data();
    const T thr = static_cast<T>(threshold);
    // per x slab: the foreground's min / max y and z and whether any; merged in x order
    struct Box {
      int64_t lo[3] = {INT64_MAX, INT64_MAX, INT64_MAX}, hi[3] = {-1, -1, -1};
    };
    std::vector<Box> slabs(static_cast<std::size_t>(X));
    parallel_for(0, X, 1 + kParallelGrain / std::max<int64_t>(1, plane * channels), [&](int64_t xb, int64_t xe) {
      for (int64_t x = xb; x < xe; ++x) {
        Box& b = slabs[static_cast<std::size_t>(x)];
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t y = 0; y < Y; ++y) {
            const T* row = p + (c * X + x) * plane + y * Z;
            int64_t first = -1, last = -1;
            for (int64_t z = 0; z < Z; ++z)
              if (row[z] > thr) {
                if (first < 0) first = z;
                last = z;
              }
            if (first < 0) continue;
            b.lo[0] = b.hi[0] = x;
            b.lo[1] = std::min(b.lo[1], y);
            b.hi[1] = std::max(b.hi[1], y);
            b.lo[2] = std::min(b.lo[2], first);
            b.hi[2] = std::max(b.hi[2], last);
          }
      }
    });
    Box all;
    for (const Box& b : slabs)
      for (int a = 0; a < 3; ++a)
        if (b.hi[a] >= 0) {
          all.lo[a] = std::min(all.lo[a], b.lo[a]);
          all.hi[a] = std::max(all.hi[a], b.hi[a]);
        }
    std::array<std::array<int64_t, 3>, 2> box{};
    if (all.hi[0] < 0) return box;
    for (int a = 0; a < 3; ++a) {
      int64_t lo = all.lo[a] - margin[a], hi = all.hi[a] + 1 + margin[a];
      if (allow_smaller) {
        lo = std::max<int64_t>(lo, 0);
        hi = std::min(hi, sp[a]);
      }
      const int64_t size = hi - lo, grown = (size + k_divisible[a] - 1) / k_divisible[a] * k_divisible[a];
      // floor division of the growth, as numpy's floor_divide
      lo -= (grown - size) / 2;
      box[0][a] = lo;
      box[1][a] = lo + grown;
    }
    return box;
  }

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    const auto box = bounding_box(s);
    if (box[0] == box[1]) return;  // no foreground
    crop_pad_box(s, box[0], box[1], mode, value, "CropForeground");
  }
};

}  // namespace voxnn::data
