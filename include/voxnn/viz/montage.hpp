#pragma once
// Slice montages of volumes, for people who look rather than read: the three orthogonal planes
// through one voxel (the middle one by default) side by side, gray-scaled through an intensity window,
// optionally with a label map blended on top, and side-by-side comparisons (input / prediction /
// target).
//
// Orientation. The planes are the world's: sagittal (fixed x, anterior to the right, superior up),
// coronal (fixed y) and axial (fixed z), each voxel axis standing for the world (RAS+) axis it is
// closest to, as nibabel's aff2axcodes decides (io::io_orientation); an oblique volume is shown along
// its nearest canonical axes (no resampling, so a rotation of a few degrees stays in the picture).
// Coronal and axial views follow the neurological convention by default, as nilearn, nibabel's
// OrthoSlicer3D and MRIcron do: the subject's left is on the screen's left (world x grows to the
// right). Set `radiological` for the other convention (subject's right on the screen's left). Every
// view is labelled with the direction letters at its edges (L/R, P/A, I/S) and the world coordinate
// of its plane, so a picture can be read without knowing the convention. Voxels are shown at their
// physical aspect ratio: anisotropic spacing stretches the picture, as the scanner saw it.
//
// Intensity. By default the gray ramp spans the 0.5th to the 99.5th percentile of the volume
// (MONAI's ScaleIntensityRangePercentiles with lower=0.5, upper=99.5). Percentiles are taken over
// every voxel of volumes up to 2^20 voxels, and over 2^20 voxels sampled at an odd, regular stride
// across the whole volume otherwise (a 256^3 montage takes milliseconds, not the ~0.3 s of sorting 16
// million values), with numpy's linear interpolation between order statistics (ops::nanpercentile);
// NaN and infinite voxels are left out. `window` overrides the percentiles. NaN voxels are drawn black.
//
// Labels. A label volume must have the image's spatial shape and (within 0.01) its affine. Label
// values are rounded to integers; 0 is background; each other value gets label_color(value),
// blended with overlay_alpha, or only its boundary drawn (opaque, one display pixel) with `outline`.
// Only the first 3D volume (index 0 of any dimension after the third) is shown.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/io/orientation.hpp"
#include "voxnn/io/png.hpp"
#include "voxnn/io/volume.hpp"
#include "voxnn/ops/quantile.hpp"
#include "voxnn/viz/colormap.hpp"
#include "voxnn/viz/font.hpp"
#include "voxnn/viz/image.hpp"

namespace voxnn::viz {

struct MontageOptions {
  // Voxel (i, j, k) of the volume's own axes where the three planes cross; default: the middle
  // voxel (n / 2 along each axis, as nilearn's and MONAI's "middle slice").
  std::optional<std::array<int64_t, 3>> slices = std::nullopt;
  // Intensity window from percentiles of the volume (0..100), unless `window` gives it as values.
  double lower_percentile = 0.5, upper_percentile = 99.5;
  std::optional<std::pair<double, double>> window = std::nullopt;
  double overlay_alpha = 0.4;  // opacity of label colours
  bool outline = false;        // draw label boundaries only
  // Display pixels per millimetre: `scale` pixels per the smallest voxel spacing; 0 (auto) sizes the
  // largest physical extent of the volume to 256 pixels.
  int scale = 0;
  std::string title = {};  // drawn above the montage when not empty
  bool radiological = false;     // subject's right on the screen's left in coronal and axial views
  bool annotate = true;          // direction letters and plane coordinates on each view
  std::string colormap = "gray";  // "gray" or "viridis" (error and probability maps)
  // comparison(): one window from all columns' voxels together instead of one window per column
  // (use it when the columns hold the same quantity, e.g. prediction and target).
  bool shared_window = false;
};

namespace detail::montage {

// Which world axis (0 x, 1 y, 2 z) each voxel axis runs along, and whether it runs backwards.
struct Orientation {
  std::array<int, 3> world_of_voxel{0, 1, 2};
  std::array<int, 3> voxel_of_world{0, 1, 2};
  std::array<bool, 3> flipped{false, false, false};
};

// The world axis of each voxel axis as nibabel's io_orientation (aff2axcodes) picks it. An axis with
// no direction (a zero column) takes the first world axis left over; a non-finite affine is shown as
// if it were the identity.
inline Orientation orientation_of(const io::Affine& affine) {
  Orientation o;
  bool finite = true;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) finite = finite && std::isfinite(affine.m[r][c]);
  if (!finite) return o;
  const std::array<io::AxisOrientation, 3> axes = io::io_orientation(affine);
  std::array<bool, 3> world_used{};
  for (const auto& a : axes)
    if (a.world_axis >= 0) world_used[a.world_axis] = true;
  for (int c = 0; c < 3; ++c) {
    int w = axes[c].world_axis;
    if (w < 0) {
      w = 0;
      while (world_used[w]) ++w;
      world_used[w] = true;
    }
    o.world_of_voxel[c] = w;
    o.voxel_of_world[w] = c;
    o.flipped[c] = axes[c].world_axis >= 0 && axes[c].sign < 0;
  }
  return o;
}

// The first 3D volume of a tensor [i, j, k, ...], read through its strides.
template <class T>
struct Grid {
  const T* data = nullptr;
  std::array<int64_t, 3> shape{}, strides{};
  explicit Grid(const Tensor<T>& t) : data(t.data()) {
    for (int d = 0; d < 3; ++d) {
      shape[d] = t.size(d);
      strides[d] = t.stride(d);
    }
  }
  T at(int64_t i, int64_t j, int64_t k) const { return data[i * strides[0] + j * strides[1] + k * strides[2]]; }
  int64_t numel() const { return shape[0] * shape[1] * shape[2]; }
};

inline constexpr int64_t kMaxPercentileSamples = int64_t{1} << 20;

// Finite voxel values of the volume, all of them or 2^20 at a regular odd stride.
template <class T>
void sample_values(const Grid<T>& g, std::vector<double>& out) {
  const int64_t n = g.numel();
  const int64_t step = ops::detail::quantile_sample_step(n, kMaxPercentileSamples);
  const int64_t plane = g.shape[1] * g.shape[2];
  out.reserve(out.size() + static_cast<std::size_t>(n / step + 1));
  for (int64_t f = 0; f < n; f += step) {
    const int64_t i = f / plane, rest = f - i * plane, j = rest / g.shape[2], k = rest - j * g.shape[2];
    const double v = static_cast<double>(g.at(i, j, k));
    if (std::isfinite(v)) out.push_back(v);
  }
}

inline std::pair<double, double> window_from(const std::vector<double>& values, const MontageOptions& o) {
  if (o.window) return *o.window;
  VOXNN_CHECK(o.lower_percentile >= 0 && o.upper_percentile <= 100 && o.lower_percentile <= o.upper_percentile,
              "viz::montage: percentiles must satisfy 0 <= lower <= upper <= 100, got lower ", o.lower_percentile,
              " and upper ", o.upper_percentile);
  const std::vector<double> w =
      ops::nanpercentile(values.data(), static_cast<int64_t>(values.size()), {o.lower_percentile, o.upper_percentile});
  // no finite voxel at all: an arbitrary but finite window
  return {std::isnan(w[0]) ? 0.0 : w[0], std::isnan(w[1]) ? 0.0 : w[1]};
}

// The three views: world axis held fixed, world axis across (left to right) and up the screen.
struct ViewAxes {
  int fixed, across, up;
};
inline constexpr ViewAxes kViews[3] = {{0, 1, 2}, {1, 0, 2}, {2, 0, 1}};
inline constexpr char kNegativeLetter[3] = {'L', 'P', 'I'};
inline constexpr char kPositiveLetter[3] = {'R', 'A', 'S'};
inline constexpr char kAxisName[3] = {'x', 'y', 'z'};

// Everything about a volume's grid that the layout needs.
struct Geometry {
  std::array<int64_t, 3> shape{};
  std::array<double, 3> spacing{};
  io::Affine affine;
  Orientation orientation;
  std::array<int64_t, 3> crosshair{};
  double pixels_per_mm = 1;

  // Pixel width and height of view v.
  std::array<int, 2> view_size(int v) const {
    const int a = orientation.voxel_of_world[kViews[v].across], u = orientation.voxel_of_world[kViews[v].up];
    auto px = [&](int axis) {
      return std::max(1, static_cast<int>(std::lround(static_cast<double>(shape[axis]) * spacing[axis] * pixels_per_mm)));
    };
    return {px(a), px(u)};
  }
};

inline std::array<double, 3> safe_spacing(const io::Affine& affine) {
  auto s = affine.spacing();
  for (double& x : s)
    if (!(x > 0) || !std::isfinite(x)) x = 1.0;
  return s;
}

inline Geometry geometry_of(const std::array<int64_t, 3>& shape, const io::Affine& affine, const MontageOptions& o) {
  Geometry g;
  g.shape = shape;
  g.affine = affine;
  g.spacing = safe_spacing(affine);
  g.orientation = orientation_of(affine);
  for (int d = 0; d < 3; ++d) {
    VOXNN_CHECK(shape[d] > 0, "viz::montage: the volume has an empty spatial axis (shape ", shape[0], "x", shape[1],
                "x", shape[2], ")");
    g.crosshair[d] = o.slices ? (*o.slices)[d] : shape[d] / 2;
    VOXNN_CHECK(g.crosshair[d] >= 0 && g.crosshair[d] < shape[d], "viz::montage: slice index ", g.crosshair[d],
                " is outside axis ", d, " of a ", shape[0], "x", shape[1], "x", shape[2], " volume");
  }
  double extent = 0, smallest = INFINITY;
  for (int d = 0; d < 3; ++d) {
    extent = std::max(extent, static_cast<double>(shape[d]) * g.spacing[d]);
    smallest = std::min(smallest, g.spacing[d]);
  }
  VOXNN_CHECK(o.scale >= 0 && o.scale <= 64, "viz::montage: scale ", o.scale, " is outside 0..64");
  g.pixels_per_mm = o.scale > 0 ? o.scale / smallest : 256.0 / extent;
  for (int v = 0; v < 3; ++v) {
    const auto s = g.view_size(v);
    VOXNN_CHECK(int64_t{s[0]} * s[1] <= (int64_t{1} << 26), "viz::montage: a ", s[0], "x", s[1],
                " pixel view is too large; lower `scale`");
  }
  return g;
}

// For each display position along one screen axis: the two voxel indices to blend, the weight of
// the second, and the nearest voxel. `forward`: the voxel index grows along the screen axis.
struct AxisSampling {
  std::vector<int64_t> i0, i1, nearest;
  std::vector<double> weight;
};
inline AxisSampling axis_sampling(int pixels, int64_t n, bool forward) {
  AxisSampling s;
  s.i0.resize(static_cast<std::size_t>(pixels));
  s.i1.resize(s.i0.size());
  s.nearest.resize(s.i0.size());
  s.weight.resize(s.i0.size());
  for (int p = 0; p < pixels; ++p) {
    double u = (p + 0.5) * static_cast<double>(n) / pixels - 0.5;
    if (!forward) u = static_cast<double>(n - 1) - u;
    u = std::clamp(u, 0.0, static_cast<double>(n - 1));
    const auto a = static_cast<int64_t>(std::floor(u));
    const auto q = static_cast<std::size_t>(p);
    s.i0[q] = a;
    s.i1[q] = std::min(a + 1, n - 1);
    s.weight[q] = u - static_cast<double>(a);
    s.nearest[q] = std::min<int64_t>(static_cast<int64_t>(std::floor(u + 0.5)), n - 1);
  }
  return s;
}

inline std::string format_mm(double v) {
  char buf[32];
  if (std::abs(v - std::round(v)) < 0.05) std::snprintf(buf, sizeof buf, "%.0f", std::round(v) == 0 ? 0.0 : v);
  else std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

inline int text_scale_for(const Geometry& g) {
  int smallest = 1 << 30;
  for (int v = 0; v < 3; ++v) {
    const auto s = g.view_size(v);
    smallest = std::min({smallest, s[0], s[1]});
  }
  return std::clamp(smallest / 110, 1, 3);
}

// Draws text with a one-pixel dark shadow so that it reads on any background.
inline void shadowed_text(Image& img, int x, int y, const std::string& text, Rgb c, int scale) {
  img.draw_text(x + 1, y + 1, text, {0, 0, 0}, scale);
  img.draw_text(x, y, text, c, scale);
}

// View v of one volume (and label): gray or coloured intensities, overlay, annotations.
template <class T, class L>
Image render_view(const Grid<T>& vol, const Grid<L>* label, const Geometry& g, int v, std::pair<double, double> window,
                  const MontageOptions& o) {
  const ViewAxes axes = kViews[v];
  const Orientation& ori = g.orientation;
  const int across = ori.voxel_of_world[axes.across], up = ori.voxel_of_world[axes.up];
  const int fixed = ori.voxel_of_world[axes.fixed];
  const auto size = g.view_size(v);
  const int w = size[0], h = size[1];
  const bool right_is_positive = axes.across != 0 || !o.radiological;
  // Voxel index grows to the right when its world direction and the screen's agree; up the screen
  // is always the world axis's positive direction, so rows (top to bottom) run against it.
  const AxisSampling sx = axis_sampling(w, g.shape[across], ori.flipped[across] != right_is_positive);
  const AxisSampling sy = axis_sampling(h, g.shape[up], ori.flipped[up]);
  const bool viridis_map = o.colormap == "viridis";
  VOXNN_CHECK(viridis_map || o.colormap == "gray", "viz::montage: unknown colormap \"", o.colormap,
              "\" (expected \"gray\" or \"viridis\")");

  // The slice as a dense [up][across] array of doubles.
  const int64_t na = g.shape[across], nu = g.shape[up];
  std::vector<double> slice(static_cast<std::size_t>(na * nu));
  std::array<int64_t, 3> idx{};
  idx[fixed] = g.crosshair[fixed];
  for (int64_t b = 0; b < nu; ++b)
    for (int64_t a = 0; a < na; ++a) {
      idx[across] = a;
      idx[up] = b;
      slice[static_cast<std::size_t>(b * na + a)] = static_cast<double>(vol.at(idx[0], idx[1], idx[2]));
    }

  Image img(w, h);
  for (int y = 0; y < h; ++y) {
    const auto qy = static_cast<std::size_t>(y);
    const double* r0 = &slice[static_cast<std::size_t>(sy.i0[qy] * na)];
    const double* r1 = &slice[static_cast<std::size_t>(sy.i1[qy] * na)];
    const double fy = sy.weight[qy];
    for (int x = 0; x < w; ++x) {
      const auto qx = static_cast<std::size_t>(x);
      const auto a0 = static_cast<std::size_t>(sx.i0[qx]), a1 = static_cast<std::size_t>(sx.i1[qx]);
      const double fx = sx.weight[qx];
      const double top = fx > 0 ? (1 - fx) * r0[a0] + fx * r0[a1] : r0[a0];
      const double bottom = fx > 0 ? (1 - fx) * r1[a0] + fx * r1[a1] : r1[a0];
      const double value = fy > 0 ? (1 - fy) * top + fy * bottom : top;
      const double t = window_fraction(value, window.first, window.second);
      img.set(x, y, viridis_map ? viridis(t) : gray(t));
    }
  }

  if (label) {
    std::vector<int64_t> labels(static_cast<std::size_t>(w) * static_cast<std::size_t>(h));
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        idx[across] = sx.nearest[static_cast<std::size_t>(x)];
        idx[up] = sy.nearest[static_cast<std::size_t>(y)];
        const double lv = static_cast<double>(label->at(idx[0], idx[1], idx[2]));
        labels[static_cast<std::size_t>(y) * w + x] =
            std::isfinite(lv) && std::abs(lv) < 9e18 ? static_cast<int64_t>(std::llround(lv)) : 0;
      }
    auto at = [&](int x, int y) { return labels[static_cast<std::size_t>(y) * w + x]; };
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const int64_t l = at(x, y);
        if (l == 0) continue;
        if (o.outline) {
          const bool edge = (x > 0 && at(x - 1, y) != l) || (x + 1 < w && at(x + 1, y) != l) ||
                            (y > 0 && at(x, y - 1) != l) || (y + 1 < h && at(x, y + 1) != l);
          if (edge) img.set(x, y, label_color(l));
        } else {
          img.blend(x, y, label_color(l), o.overlay_alpha);
        }
      }
  }

  if (o.annotate) {
    const int ts = text_scale_for(g);
    const Rgb ink{255, 255, 255};
    const int ch = font::text_height(ts);
    const std::string left(1, right_is_positive ? kNegativeLetter[axes.across] : kPositiveLetter[axes.across]);
    const std::string right(1, right_is_positive ? kPositiveLetter[axes.across] : kNegativeLetter[axes.across]);
    const int margin = 2 * ts;
    if (w >= 4 * font::text_width("L", ts)) {
      shadowed_text(img, margin, (h - ch) / 2, left, ink, ts);
      shadowed_text(img, w - margin - font::text_width(right, ts) - 1, (h - ch) / 2, right, ink, ts);
      const std::string top(1, kPositiveLetter[axes.up]);
      shadowed_text(img, (w - font::text_width(top, ts)) / 2, margin, top, ink, ts);
      std::array<double, 3> voxel{static_cast<double>(g.crosshair[0]), static_cast<double>(g.crosshair[1]),
                                  static_cast<double>(g.crosshair[2])};
      const double coordinate = g.affine.apply(voxel)[axes.fixed];
      const std::string caption = std::string(1, kAxisName[axes.fixed]) + "=" + format_mm(coordinate);
      shadowed_text(img, margin, h - margin - ch - 1, caption, ink, ts);
    }
  }
  return img;
}

inline void check_label_grid(const std::array<int64_t, 3>& shape, const io::Affine& affine,
                             const std::array<int64_t, 3>& label_shape, const io::Affine& label_affine) {
  VOXNN_CHECK(shape == label_shape, "viz::montage: the label's spatial shape ", label_shape[0], "x", label_shape[1],
              "x", label_shape[2], " differs from the volume's ", shape[0], "x", shape[1], "x", shape[2],
              " (resample the label onto the volume's grid first)");
  double worst = 0;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) worst = std::max(worst, std::abs(affine(r, c) - label_affine(r, c)));
  VOXNN_CHECK(worst <= 0.01, "viz::montage: the label's affine differs from the volume's by up to ", worst,
              " (resample the label onto the volume's grid first)");
}

inline std::array<int64_t, 3> spatial_shape_of(int rank, const Shape& shape, const char* what) {
  VOXNN_CHECK(rank >= 3, "viz::montage: the ", what, " has shape ", shape, "; expected at least 3 dims (i, j, k)");
  return {shape[0], shape[1], shape[2]};
}

inline constexpr Rgb kBackground{0, 0, 0};
inline constexpr int kGap = 4;

// Puts a title line above `body` (nothing when the title is empty).
inline Image with_title(const Image& body, const std::string& title, int ts) {
  if (title.empty()) return body;
  const int title_h = 3 * ts + font::kGlyphRows * (ts + 1) + 2 * ts;  // descenders included
  const int w = std::max(body.width(), font::text_width(title, ts + 1) + 2 * kGap);
  Image out(w, body.height() + title_h, kBackground);
  out.draw_text((w - font::text_width(title, ts + 1)) / 2, 3 * ts, title, {255, 255, 255}, ts + 1);
  out.blit(body, (w - body.width()) / 2, title_h);
  return out;
}

}  // namespace detail::montage

// The percentile window MontageOptions describes for one volume: {value at lower_percentile, value
// at upper_percentile}, or options.window when set.
template <Real T>
std::pair<double, double> intensity_window(const io::Volume<T>& volume, const MontageOptions& options = {}) {
  namespace d = detail::montage;
  if (options.window) return *options.window;
  d::spatial_shape_of(volume.data.dim(), volume.data.shape(), "volume");
  std::vector<double> values;
  d::sample_values(d::Grid<T>(volume.data), values);
  return d::window_from(values, options);
}

namespace detail::montage {

template <Real T, class L>
io::PngImage montage_impl(const io::Volume<T>& volume, const io::Volume<L>* label, const MontageOptions& o) {
  const auto shape = spatial_shape_of(volume.data.dim(), volume.data.shape(), "volume");
  const Geometry g = geometry_of(shape, volume.affine, o);
  const Grid<T> grid(volume.data);
  std::optional<Grid<L>> label_grid;
  if (label) {
    check_label_grid(shape, volume.affine, spatial_shape_of(label->data.dim(), label->data.shape(), "label"),
                     label->affine);
    label_grid.emplace(label->data);
  }
  const auto window = intensity_window(volume, o);
  std::array<Image, 3> views;
  int width = kGap, height = 0;
  for (int v = 0; v < 3; ++v) {
    views[v] = render_view<T, L>(grid, label_grid ? &*label_grid : nullptr, g, v, window, o);
    width += views[v].width() + kGap;
    height = std::max(height, views[v].height());
  }
  Image body(width, height + 2 * kGap, kBackground);
  int x = kGap;
  for (const Image& view : views) {
    body.blit(view, x, kGap + (height - view.height()) / 2);
    x += view.width() + kGap;
  }
  return with_title(body, o.title, text_scale_for(g)).to_png();
}

}  // namespace detail::montage

// The planes of a montage.
enum class Plane { sagittal = 0, coronal = 1, axial = 2 };

// One plane of the montage, as the montage draws it (same window, size and annotations; no title).
// With scale = 1 and 1 mm voxels each display pixel is exactly one voxel.
template <Real T>
Image slice_image(const io::Volume<T>& volume, Plane plane, const MontageOptions& options = {}) {
  namespace d = detail::montage;
  const auto shape = d::spatial_shape_of(volume.data.dim(), volume.data.shape(), "volume");
  const d::Geometry g = d::geometry_of(shape, volume.affine, options);
  return d::render_view<T, T>(d::Grid<T>(volume.data), nullptr, g, static_cast<int>(plane),
                              intensity_window(volume, options), options);
}
template <Real T, Element L>
Image slice_image(const io::Volume<T>& volume, const io::Volume<L>& label, Plane plane,
                  const MontageOptions& options = {}) {
  namespace d = detail::montage;
  const auto shape = d::spatial_shape_of(volume.data.dim(), volume.data.shape(), "volume");
  const d::Geometry g = d::geometry_of(shape, volume.affine, options);
  d::check_label_grid(shape, volume.affine, d::spatial_shape_of(label.data.dim(), label.data.shape(), "label"),
                      label.affine);
  const d::Grid<L> label_grid(label.data);
  return d::render_view<T, L>(d::Grid<T>(volume.data), &label_grid, g, static_cast<int>(plane),
                              intensity_window(volume, options), options);
}

// The three orthogonal planes through options.slices (default: the middle voxel), left to right:
// sagittal, coronal, axial. See the top of this file for orientation, window and size.
template <Real T>
io::PngImage montage(const io::Volume<T>& volume, const MontageOptions& options = {}) {
  return detail::montage::montage_impl<T, T>(volume, nullptr, options);
}

// The same with `label` blended on top (same grid as the volume; 0 is background).
template <Real T, Element L>
io::PngImage montage(const io::Volume<T>& volume, const io::Volume<L>& label, const MontageOptions& options = {}) {
  return detail::montage::montage_impl<T, L>(volume, &label, options);
}

// Volumes side by side, one column each (e.g. input / prediction / target), named at the top, with
// the three planes stacked in each column (sagittal, coronal, axial) so that the same plane of every
// volume sits on one row. The volumes must share one spatial shape; `label`, when given, is blended
// onto every column (any element type, as for montage). Each column gets its own intensity window
// unless options.window or options.shared_window says otherwise.
template <Real T, Element L = T>
io::PngImage comparison(const std::vector<std::pair<std::string, io::Volume<T>>>& columns,
                        const MontageOptions& options = {}, const std::optional<io::Volume<L>>& label = std::nullopt) {
  namespace d = detail::montage;
  VOXNN_CHECK(!columns.empty(), "viz::comparison: no volumes to compare");
  const auto shape = d::spatial_shape_of(columns[0].second.data.dim(), columns[0].second.data.shape(), "volume");
  std::vector<d::Geometry> geometries;
  for (const auto& [name, vol] : columns) {
    const auto s = d::spatial_shape_of(vol.data.dim(), vol.data.shape(), "volume");
    VOXNN_CHECK(s == shape, "viz::comparison: volume \"", name, "\" has spatial shape ", s[0], "x", s[1], "x", s[2],
                ", but \"", columns[0].first, "\" has ", shape[0], "x", shape[1], "x", shape[2]);
    geometries.push_back(d::geometry_of(shape, vol.affine, options));
    if (label)
      d::check_label_grid(s, vol.affine, d::spatial_shape_of(label->data.dim(), label->data.shape(), "label"),
                          label->affine);
  }
  // One physical scale for every column: the smallest any column asks for.
  double ppm = INFINITY;
  for (const auto& g : geometries) ppm = std::min(ppm, g.pixels_per_mm);
  for (auto& g : geometries) g.pixels_per_mm = ppm;

  std::optional<std::pair<double, double>> shared;
  if (options.window) {
    shared = *options.window;
  } else if (options.shared_window) {
    std::vector<double> values;
    for (const auto& column : columns) d::sample_values(d::Grid<T>(column.second.data), values);
    shared = d::window_from(values, options);
  }
  std::optional<d::Grid<L>> label_grid;
  if (label) label_grid.emplace(label->data);

  const int ts = d::text_scale_for(geometries[0]);
  const int header_h = 3 * ts + font::kGlyphRows * (ts + 1) + 2 * ts;  // names at scale ts + 1
  std::vector<std::array<Image, 3>> rendered(columns.size());
  std::vector<int> column_width(columns.size(), 0);
  std::array<int, 3> row_height{};
  for (std::size_t c = 0; c < columns.size(); ++c) {
    const auto& vol = columns[c].second;
    const auto window = shared ? *shared : intensity_window(vol, options);
    for (int v = 0; v < 3; ++v) {
      rendered[c][v] = d::render_view<T, L>(d::Grid<T>(vol.data), label_grid ? &*label_grid : nullptr, geometries[c],
                                            v, window, options);
      column_width[c] = std::max(column_width[c], rendered[c][v].width());
      row_height[v] = std::max(row_height[v], rendered[c][v].height());
    }
    column_width[c] = std::max(column_width[c], font::text_width(columns[c].first, ts + 1) + 2 * d::kGap);
  }
  int width = d::kGap, height = header_h + d::kGap;
  for (int w : column_width) width += w + d::kGap;
  for (int h : row_height) height += h + d::kGap;
  Image body(width, height, d::kBackground);
  int x = d::kGap;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    const std::string& name = columns[c].first;
    body.draw_text(x + (column_width[c] - font::text_width(name, ts + 1)) / 2, 3 * ts, name, {255, 255, 255}, ts + 1);
    int y = header_h;
    for (int v = 0; v < 3; ++v) {
      const Image& view = rendered[c][v];
      body.blit(view, x + (column_width[c] - view.width()) / 2, y + (row_height[v] - view.height()) / 2);
      y += row_height[v] + d::kGap;
    }
    x += column_width[c] + d::kGap;
  }
  return d::with_title(body, options.title, ts).to_png();
}

// The same with a label volume given directly.
template <Real T, Element L>
io::PngImage comparison(const std::vector<std::pair<std::string, io::Volume<T>>>& columns, const MontageOptions& options,
                        const io::Volume<L>& label) {
  return comparison<T, L>(columns, options, std::optional<io::Volume<L>>(label));
}

}  // namespace voxnn::viz
