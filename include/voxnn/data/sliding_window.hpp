#pragma once
// Sliding-window inference over volumes larger than a network's input, with the semantics of MONAI
// 1.3.2's monai.inferers.sliding_window_inference:
//
//   Tensor<float> prob = data::sliding_window_inference(image /*[N, C, X, Y, Z]*/, {96, 96, 96},
//                                                       /*sw_batch_size=*/4, model,
//                                                       {.overlap = 0.5, .mode = "gaussian"});
//
// - Windows: along each axis the step is int(roi * (1 - overlap)) (at least 1; the whole axis when the
//   roi equals it) and the last window is moved back to end at the border (MONAI's _get_scan_interval and
//   dense_patch_slices); windows are visited x-major, z fastest, for batch element 0, then 1, ...; each
//   run of sw_batch_size windows (possibly spanning batch elements) is one predictor call.
// - An roi larger than the image on an axis pads that axis (floor(diff / 2) before, the rest after) with
//   padding_mode ("constant" with cval, "reflect", "replicate", "circular") and crops the result back.
//   Non-positive roi entries take the image's size.
// - Blending: out = sum(prediction * w) / sum(w) over the windows covering a voxel, where w is 1
//   ("constant") or the Gaussian importance map ("gaussian"; MONAI's compute_importance_map: a product of
//   exp(-x^2 / (2 (sigma_scale * roi)^2)) over the axes, x the distance from the window's centre, with
//   values below max(min, 1e-3) raised to it).
// - The predictor maps a Tensor<T> [B, C, rx, ry, rz] to a Tensor<T> [B, C_out, rx, ry, rz] (C_out is
//   free); a callable on Var<T> (an nn::Module) is run under NoGradGuard. Outputs of another spatial size
//   (MONAI's zoomed outputs) are an error.
// - Memory: the output [N, C_out, X, Y, Z] and the weight sum [X, Y, Z] are volume-sized; everything else
//   is one batch of windows. The padded input is never made: windows gather through index maps.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "voxnn/autograd/grad_mode.hpp"
#include "voxnn/autograd/var.hpp"
#include "voxnn/core/error.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/ops/pad.hpp"

namespace voxnn::data {

// One value per spatial axis, given as one number for all three or as three: `.overlap = 0.5`,
// `.overlap = {0.25, 0.5, 0.0}` (MONAI's float-or-sequence arguments).
struct AxisValues {
  std::array<double, 3> v{};
  AxisValues(double x) : v{x, x, x} {}  // NOLINT: implicit, for `.overlap = 0.5`
  AxisValues(std::initializer_list<double> list) {
    VOXNN_CHECK(list.size() == 1 || list.size() == 3, "sliding_window: expected 1 or 3 values per axis, got ",
                list.size());
    std::size_t i = 0;
    for (double x : list) v[i++] = x;
    if (list.size() == 1) v[1] = v[2] = v[0];
  }
  double operator[](int i) const { return v[static_cast<std::size_t>(i)]; }
};

struct SlidingWindowOptions {
  AxisValues overlap = 0.25;               // in [0, 1)
  std::string mode = "constant";           // blending: "constant" or "gaussian"
  AxisValues sigma_scale = 0.125;          // Gaussian sigma = sigma_scale * roi size, per axis
  std::string padding_mode = "constant";   // when the roi is larger than the image
  double cval = 0;                         // fill value of "constant" padding
};

// The step between windows along each axis (MONAI's _get_scan_interval).
inline std::array<int64_t, 3> sliding_window_scan_interval(const std::array<int64_t, 3>& image_size,
                                                           const std::array<int64_t, 3>& roi_size,
                                                           const AxisValues& overlap) {
  std::array<int64_t, 3> interval{};
  for (int d = 0; d < 3; ++d) {
    const auto du = static_cast<std::size_t>(d);
    if (roi_size[du] == image_size[du]) {
      interval[du] = roi_size[du];
    } else {
      const auto step = static_cast<int64_t>(static_cast<double>(roi_size[du]) * (1.0 - overlap[d]));
      interval[du] = step > 0 ? step : 1;
    }
  }
  return interval;
}

// Window starts along one axis of `size` voxels (MONAI's dense_patch_slices for one dim): i * interval,
// the last one moved back so that the window ends at the border. Needs roi <= size.
inline std::vector<int64_t> sliding_window_axis_starts(int64_t size, int64_t roi, int64_t interval) {
  int64_t count = 1;
  if (interval > 0) {
    const int64_t num = (size + interval - 1) / interval;
    for (int64_t d = 0; d < num; ++d)
      if (d * interval + roi >= size) {
        count = d + 1;
        break;
      }
  }
  std::vector<int64_t> starts(static_cast<std::size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t s = i * interval;
    starts[static_cast<std::size_t>(i)] = s - std::max<int64_t>(s + roi - size, 0);
  }
  return starts;
}

// The roi after MONAI's fall-back (non-positive entries take the image size), the padded image size and
// the window starts in padded coordinates, in visiting order (x-major, z fastest).
struct SlidingWindowPlan {
  std::array<int64_t, 3> roi{}, image{}, padded{}, pad_before{}, interval{};
  std::vector<std::array<int64_t, 3>> starts;
};

inline SlidingWindowPlan plan_sliding_window(const std::array<int64_t, 3>& image_size,
                                             const std::array<int64_t, 3>& roi_size, const AxisValues& overlap) {
  SlidingWindowPlan p;
  p.image = image_size;
  for (int d = 0; d < 3; ++d) {
    const auto du = static_cast<std::size_t>(d);
    VOXNN_CHECK(overlap[d] >= 0 && overlap[d] < 1, "sliding_window_inference: overlap must be in [0, 1), got ",
                overlap[d], " for axis ", d);
    VOXNN_CHECK(image_size[du] >= 1, "sliding_window_inference: empty spatial axis ", d, " (size ", image_size[du],
                ")");
    p.roi[du] = roi_size[du] > 0 ? roi_size[du] : image_size[du];
    p.padded[du] = std::max(image_size[du], p.roi[du]);
    p.pad_before[du] = (p.padded[du] - image_size[du]) / 2;
  }
  p.interval = sliding_window_scan_interval(p.padded, p.roi, overlap);
  const auto sx = sliding_window_axis_starts(p.padded[0], p.roi[0], p.interval[0]);
  const auto sy = sliding_window_axis_starts(p.padded[1], p.roi[1], p.interval[1]);
  const auto sz = sliding_window_axis_starts(p.padded[2], p.roi[2], p.interval[2]);
  p.starts.reserve(sx.size() * sy.size() * sz.size());
  for (int64_t x : sx)
    for (int64_t y : sy)
      for (int64_t z : sz) p.starts.push_back({x, y, z});
  return p;
}

// The window weight map [rx, ry, rz] (MONAI's compute_importance_map, computed in double).
template <Real T>
Tensor<T> compute_importance_map(const std::array<int64_t, 3>& roi, const std::string& mode = "constant",
                                 const AxisValues& sigma_scale = 0.125) {
  for (int d = 0; d < 3; ++d)
    VOXNN_CHECK(roi[static_cast<std::size_t>(d)] >= 1, "compute_importance_map: roi size ", Shape(roi),
                " must be positive");
  Tensor<T> w({roi[0], roi[1], roi[2]});
  if (mode == "constant") {
    w.fill_(T(1));
    return w;
  }
  VOXNN_CHECK(mode == "gaussian", "sliding_window_inference: unknown blending mode '", mode,
              "'; expected 'constant' or 'gaussian'");
  std::array<std::vector<double>, 3> g;
  for (int d = 0; d < 3; ++d) {
    const int64_t n = roi[static_cast<std::size_t>(d)];
    const double sigma = static_cast<double>(n) * sigma_scale[d];
    VOXNN_CHECK(sigma > 0, "compute_importance_map: sigma_scale must be positive, got ", sigma_scale[d]);
    auto& v = g[static_cast<std::size_t>(d)];
    v.resize(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const double x = static_cast<double>(i) - static_cast<double>(n - 1) / 2.0;
      v[static_cast<std::size_t>(i)] = std::exp(x * x / (-2.0 * sigma * sigma));
    }
  }
  double lowest = INFINITY;
  std::vector<double> full(static_cast<std::size_t>(w.numel()));
  std::size_t k = 0;
  for (double a : g[0])
    for (double b : g[1])
      for (double c : g[2]) lowest = std::min(lowest, full[k++] = a * b * c);
  const double floor_value = std::max(lowest, 1e-3);
  T* out = w.data();
  for (std::size_t i = 0; i < full.size(); ++i) out[i] = static_cast<T>(std::max(full[i], floor_value));
  return w;
}

namespace detail {

// The predictor's output for one window batch, whatever it takes (Tensor or Var).
template <Real T, class Predictor>
Tensor<T> run_predictor(Predictor& predictor, const Tensor<T>& window) {
  if constexpr (std::is_invocable_v<Predictor&, const Tensor<T>&> &&
                std::is_convertible_v<std::invoke_result_t<Predictor&, const Tensor<T>&>, Tensor<T>>) {
    return predictor(window);
  } else if constexpr (std::is_invocable_v<Predictor&, const Var<T>&>) {
    NoGradGuard no_grad;
    const Var<T> input(window);
    return Var<T>(predictor(input)).value();
  } else {
    static_assert(std::is_invocable_v<Predictor&, const Tensor<T>&>,
                  "sliding_window_inference: the predictor must map a Tensor<T> (or a Var<T>) [B, C, rx, ry, rz] "
                  "to a Tensor<T> (or a Var<T>) [B, C_out, rx, ry, rz]");
    return {};
  }
}

}  // namespace detail

// See the top of this file. inputs [N, C, X, Y, Z] -> [N, C_out, X, Y, Z].
template <Real T, class Predictor>
Tensor<T> sliding_window_inference(const Tensor<T>& inputs, std::array<int64_t, 3> roi_size, int64_t sw_batch_size,
                                   Predictor&& predictor, const SlidingWindowOptions& options = {}) {
  VOXNN_CHECK(inputs.dim() == 5, "sliding_window_inference: inputs of shape ", inputs.shape(),
              "; expected [N, C, X, Y, Z]");
  VOXNN_CHECK(sw_batch_size >= 1, "sliding_window_inference: sw_batch_size must be at least 1, got ", sw_batch_size);
  VOXNN_CHECK(options.mode == "constant" || options.mode == "gaussian",
              "sliding_window_inference: unknown blending mode '", options.mode, "'; expected 'constant' or 'gaussian'");
  const Tensor<T> x = inputs.contiguous();
  const int64_t batch = x.size(0), channels = x.size(1);
  const std::array<int64_t, 3> image{x.size(2), x.size(3), x.size(4)};
  const SlidingWindowPlan plan = plan_sliding_window(image, roi_size, options.overlap);
  const auto& roi = plan.roi;
  const int64_t rx = roi[0], ry = roi[1], rz = roi[2], window_volume = rx * ry * rz;
  VOXNN_CHECK(batch >= 1 && channels >= 1, "sliding_window_inference: inputs of shape ", inputs.shape(),
              " have no samples or no channels");

  // Index maps from padded to input coordinates (-1: the fill value), as ops::pad builds them.
  const bool constant_pad = options.padding_mode == "constant";
  const std::vector<int64_t> pads{plan.pad_before[2], plan.padded[2] - image[2] - plan.pad_before[2],
                                  plan.pad_before[1], plan.padded[1] - image[1] - plan.pad_before[1],
                                  plan.pad_before[0], plan.padded[0] - image[0] - plan.pad_before[0]};
  const ops::detail::PadPlan pad_plan =
      ops::detail::plan_pad(x.shape(), pads, options.padding_mode, constant_pad ? options.cval : 0.0);
  const auto& mx = pad_plan.maps[0];
  const auto& my = pad_plan.maps[1];
  const auto& mz = pad_plan.maps[2];
  const T fill = static_cast<T>(constant_pad ? options.cval : 0.0);

  const Tensor<T> weight = compute_importance_map<T>(roi, options.mode, options.sigma_scale);
  const T* wp = weight.data();
  const int64_t X = image[0], Y = image[1], Z = image[2];
  const int64_t num_windows = static_cast<int64_t>(plan.starts.size());

  // The part of window w inside the unpadded image: [lo, hi) in image coordinates per axis, and the
  // offset of lo inside the window.
  struct Clip {
    std::array<int64_t, 3> lo, hi, in_window;
  };
  auto clip = [&](int64_t w) {
    Clip c{};
    for (std::size_t d = 0; d < 3; ++d) {
      const int64_t begin = plan.starts[static_cast<std::size_t>(w)][d] - plan.pad_before[d];
      c.lo[d] = std::max<int64_t>(begin, 0);
      c.hi[d] = std::min<int64_t>(begin + roi[d], image[d]);
      c.in_window[d] = c.lo[d] - begin;
    }
    return c;
  };

  // The sum of the weights over the windows covering each voxel (the same for every batch element),
  // accumulated with batch element 0's windows.
  Tensor<T> count = zeros<T>({X, Y, Z});
  T* cp = count.data();
  const bool constant_weight = options.mode == "constant";

  Tensor<T> output;
  int64_t out_channels = 0;
  const T* xp = x.data();
  const int64_t total = num_windows * batch;
  for (int64_t first = 0; first < total; first += sw_batch_size) {
    const int64_t windows_here = std::min<int64_t>(sw_batch_size, total - first);
    // Gather the windows (through the padding maps) into [B, C, rx, ry, rz].
    Tensor<T> win({windows_here, channels, rx, ry, rz});
    T* wdst = win.data();
    parallel_for(0, windows_here * channels * rx * ry, std::max<int64_t>(1, kParallelGrain / rz),
                 [&](int64_t r0, int64_t r1) {
                   for (int64_t r = r0; r < r1; ++r) {
                     const int64_t j = r % ry, i = (r / ry) % rx, ch = (r / (ry * rx)) % channels,
                                   b = r / (ry * rx * channels);
                     const int64_t idx = first + b, n = idx / num_windows, w = idx % num_windows;
                     const auto& s = plan.starts[static_cast<std::size_t>(w)];
                     T* dst = wdst + r * rz;
                     const int64_t sx = mx[static_cast<std::size_t>(s[0] + i)];
                     const int64_t sy = my[static_cast<std::size_t>(s[1] + j)];
                     if (sx < 0 || sy < 0) {
                       std::fill(dst, dst + rz, fill);
                       continue;
                     }
                     const T* src = xp + (((n * channels + ch) * X + sx) * Y + sy) * Z;
                     const int64_t* zmap = mz.data() + s[2];
                     if (zmap[0] >= 0 && zmap[rz - 1] == zmap[0] + rz - 1 && zmap[rz - 1] < Z) {
                       bool run = true;  // a wrapped circular map may have equal ends but a jump
                       for (int64_t k = 1; k < rz && run; ++k) run = zmap[k] == zmap[k - 1] + 1;
                       if (run) {
                         std::copy(src + zmap[0], src + zmap[0] + rz, dst);
                         continue;
                       }
                     }
                     for (int64_t k = 0; k < rz; ++k) dst[k] = zmap[k] < 0 ? fill : src[zmap[k]];
                   }
                 });

    Tensor<T> pred = detail::run_predictor<T>(predictor, win);
    VOXNN_CHECK(pred.defined() && pred.dim() == 5 && pred.size(0) == windows_here && pred.size(2) == rx &&
                    pred.size(3) == ry && pred.size(4) == rz,
                "sliding_window_inference: the predictor returned shape ",
                pred.defined() ? pred.shape() : Shape{}, " for windows of shape ", win.shape(), "; expected [",
                windows_here, ", C_out, ", rx, ", ", ry, ", ", rz,
                "] (outputs of another spatial size are not supported)");
    if (!output.defined()) {
      out_channels = pred.size(1);
      VOXNN_CHECK(out_channels >= 1, "sliding_window_inference: the predictor returned no channels");
      output = zeros<T>({batch, out_channels, X, Y, Z});
    }
    VOXNN_CHECK(pred.size(1) == out_channels, "sliding_window_inference: the predictor returned ", pred.size(1),
                " channels after ", out_channels);
    pred = pred.contiguous();
    const T* pp = pred.data();
    T* op = output.data();
    // Accumulate prediction * weight, one window at a time (windows of one batch element overlap).
    for (int64_t b = 0; b < windows_here; ++b) {
      const int64_t idx = first + b, n = idx / num_windows, w = idx % num_windows;
      const Clip c = clip(w);
      const int64_t nx = c.hi[0] - c.lo[0], ny = c.hi[1] - c.lo[1], nz = c.hi[2] - c.lo[2];
      if (nx <= 0 || ny <= 0 || nz <= 0) continue;
      parallel_for(0, out_channels * nx * ny, std::max<int64_t>(1, kParallelGrain / nz), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t j = r % ny, i = (r / ny) % nx, ch = r / (ny * nx);
          const int64_t voxel = ((c.lo[0] + i) * Y + c.lo[1] + j) * Z + c.lo[2];
          T* dst = op + (n * out_channels + ch) * X * Y * Z + voxel;
          const int64_t wrow = ((c.in_window[0] + i) * ry + (c.in_window[1] + j)) * rz + c.in_window[2];
          const T* src = pp + (b * out_channels + ch) * window_volume + wrow;
          const T* wt = wp + wrow;
          T* cnt = (n == 0 && ch == 0) ? cp + voxel : nullptr;
          if (constant_weight) {
            for (int64_t k = 0; k < nz; ++k) dst[k] += src[k];
            if (cnt)
              for (int64_t k = 0; k < nz; ++k) cnt[k] += T(1);
          } else if (cnt) {
            for (int64_t k = 0; k < nz; ++k) {
              dst[k] += src[k] * wt[k];
              cnt[k] += wt[k];
            }
          } else {
            for (int64_t k = 0; k < nz; ++k) dst[k] += src[k] * wt[k];
          }
        }
      });
    }
  }

  // Divide by the weight sums.
  T* op = output.data();
  const int64_t volume = X * Y * Z;
  parallel_for(0, batch * out_channels * X * Y, std::max<int64_t>(1, kParallelGrain / Z), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* dst = op + r * Z;
      const T* c = cp + (r * Z) % volume;
      for (int64_t k = 0; k < Z; ++k) dst[k] /= c[k];
    }
  });
  return output;
}

}  // namespace voxnn::data
