#pragma once
// Surface-distance metrics of segmentations, as MONAI's compute_hausdorff_distance and
// compute_average_surface_distance (monai/metrics/{hausdorff_distance,surface_distance,utils}.py,
// MONAI 1.3.2; the same at d388d1c), plus the pieces they are made of:
//
//   Tensor<double> hd = metrics::hausdorff_distance(pred, target);            // (N, C - 1), in voxels
//   Tensor<double> h95 = metrics::hd95(pred, target, {.spacing = {2.0, 0.8, 0.8}});  // in mm
//   Tensor<double> asd = metrics::average_surface_distance(pred, target, {.symmetric = true});
//   Tensor<double> dt = metrics::distance_transform_edt(mask, {2.0, 1.0});    // scipy.ndimage's
//
// Inputs are one-hot (N, C, spatial...) tensors with 1, 2 or 3 spatial dims; a voxel belongs to a mask
// where its value equals 1 (MONAI's `== label_idx`). Per sample and class:
//  - edges: the mask voxels that have a face neighbour outside the mask or outside the image (MONAI's
//    get_mask_edges: scipy's binary_erosion with the cross structure, XOR the mask);
//  - surface distances from A to B: for each edge voxel of A, the distance to the nearest edge voxel of
//    B (the exact Euclidean distance with the voxel spacing, or the chessboard / taxicab distance in
//    voxels, where spacing does not apply, as in MONAI);
//  - empty masks (MONAI's rules): B without edges gives +inf for each edge voxel of A (none if A is
//    empty too); A without edges but B with edges gives +inf once per edge voxel of B.
// The Hausdorff distance is the maximum (or the percentile) of the distances from pred to target, and
// of those from target to pred unless directed; an empty list gives NaN, and NaN wins over any number.
// So: both masks empty -> NaN; exactly one empty -> +inf (NaN with a percentile: MONAI's
// torch.quantile of infinities is NaN). The percentile is numpy / torch's linear interpolation; a
// percentile of 0 means the maximum, as MONAI's `if not percentile`. include_background = false drops
// channel 0 when there are several channels. Results are double; MONAI's are float32.
//
// The Euclidean distance transform is Felzenszwalb and Huttenlocher's exact separable algorithm (lower
// envelope of parabolas, one pass per axis), on the bounding box of the two masks: the transform is
// exact and all edge voxels lie in that box, so the distances equal those over the whole image.
// Evaluation only: no gradients.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/metrics/overlap.hpp"
#include "voxnn/ops/quantile.hpp"

namespace voxnn::metrics {

enum class DistanceMetric { euclidean, chessboard, taxicab };

// MONAI's spelling: "euclidean", "chessboard" or "taxicab".
inline DistanceMetric distance_metric_from_string(std::string_view name) {
  if (name == "euclidean") return DistanceMetric::euclidean;
  if (name == "chessboard") return DistanceMetric::chessboard;
  VOXNN_CHECK(name == "taxicab", "distance_metric: '", name, "' is not one of euclidean, chessboard, taxicab");
  return DistanceMetric::taxicab;
}

struct HausdorffOptions {
  bool include_background = false;
  DistanceMetric distance_metric = DistanceMetric::euclidean;
  std::optional<double> percentile{};  // in [0, 100]; none (or 0) = the maximum; 95 = HD95
  bool directed = false;             // only the distances from pred to target
  std::vector<double> spacing{};       // voxel size: empty = 1, one value = isotropic, or one per spatial dim
  std::vector<std::vector<double>> spacing_per_sample{};  // one spacing (as above) per batch item; overrides
};

struct SurfaceDistanceOptions {
  bool include_background = false;
  bool symmetric = false;  // the mean over the distances both ways (one list), not only pred -> target
  DistanceMetric distance_metric = DistanceMetric::euclidean;
  std::vector<double> spacing{};
  std::vector<std::vector<double>> spacing_per_sample{};
};

namespace detail {

// A box of up to three spatial dims, stored as (z, y, x) with unit sizes in front for fewer dims.
struct Grid {
  std::array<int64_t, 3> size{1, 1, 1};
  int64_t numel() const { return size[0] * size[1] * size[2]; }
  int64_t stride(int axis) const { return axis == 2 ? 1 : (axis == 1 ? size[2] : size[1] * size[2]); }
};

// The voxel size per (z, y, x) axis from a spacing option, for `rank` spatial dims.
inline std::array<double, 3> grid_spacing(const std::vector<double>& spacing, int rank, const char* op) {
  std::array<double, 3> s{1, 1, 1};
  VOXNN_CHECK(spacing.empty() || spacing.size() == 1 || static_cast<int>(spacing.size()) == rank, op,
              ": spacing has ", spacing.size(), " values; expected 1 or one per spatial dim (", rank, ")");
  for (int d = 0; d < rank; ++d) {
    const double v = spacing.empty() ? 1.0 : spacing[spacing.size() == 1 ? 0 : static_cast<std::size_t>(d)];
    VOXNN_CHECK(v > 0 && std::isfinite(v), op, ": spacing must be positive and finite, got ", v);
    s[static_cast<std::size_t>(3 - rank + d)] = v;
  }
  return s;
}

// One line of the squared Euclidean transform: d[q] = min_p s^2 (q - p)^2 + f[p] (Felzenszwalb and
// Huttenlocher 2012); f may hold +inf (no feature on that line so far). v and z are scratch of n and
// n + 1 entries.
inline void edt_line(const double* f, int64_t n, double s, double* d, int64_t* v, double* z) {
  const double inf = std::numeric_limits<double>::infinity();
  int64_t k = -1;
  for (int64_t q = 0; q < n; ++q) {
    if (f[q] == inf) continue;
    if (k < 0) {
      k = 0, v[0] = q, z[0] = -inf, z[1] = inf;
      continue;
    }
    const double xq = s * static_cast<double>(q), fq = f[q] + xq * xq;
    for (;;) {
      const double xv = s * static_cast<double>(v[k]);
      const double cross = (fq - (f[v[k]] + xv * xv)) / (2 * (xq - xv));
      if (cross <= z[k]) {  // z[0] = -inf stops this before the stack empties
        --k;
        continue;
      }
      ++k, v[k] = q, z[k] = cross, z[k + 1] = inf;
      break;
    }
  }
  if (k < 0) {
    std::fill(d, d + n, inf);
    return;
  }
  k = 0;
  for (int64_t q = 0; q < n; ++q) {
    const double x = s * static_cast<double>(q);
    while (z[k + 1] < x) ++k;
    const double dx = s * static_cast<double>(q - v[k]);
    d[q] = dx * dx + f[v[k]];
  }
}

// In place: f (0 at features, +inf elsewhere) becomes the squared Euclidean distance to the nearest
// feature, one separable pass per axis.
inline void squared_edt(std::vector<double>& f, const Grid& g, const std::array<double, 3>& spacing) {
  for (int axis = 0; axis < 3; ++axis) {
    const int64_t n = g.size[static_cast<std::size_t>(axis)];
    if (n == 1) continue;  // a unit axis changes nothing
    const int64_t st = g.stride(axis), lines = g.numel() / n;
    const int64_t outer_stride = n * st;
    const double s = spacing[static_cast<std::size_t>(axis)];
    parallel_for(0, lines, std::max<int64_t>(1, kParallelGrain / n), [&](int64_t begin, int64_t end) {
      std::vector<double> in(static_cast<std::size_t>(n)), out(static_cast<std::size_t>(n)),
          z(static_cast<std::size_t>(n + 1));
      std::vector<int64_t> v(static_cast<std::size_t>(n));
      for (int64_t line = begin; line < end; ++line) {
        const int64_t base = (line / st) * outer_stride + line % st;
        for (int64_t i = 0; i < n; ++i) in[static_cast<std::size_t>(i)] = f[static_cast<std::size_t>(base + i * st)];
        edt_line(in.data(), n, s, out.data(), v.data(), z.data());
        for (int64_t i = 0; i < n; ++i) f[static_cast<std::size_t>(base + i * st)] = out[static_cast<std::size_t>(i)];
      }
    });
  }
}

// In place: f (0 at features, a large value elsewhere) becomes the chessboard (full neighbourhood) or
// taxicab (face neighbours) distance in voxels, by the two raster passes of scipy's
// distance_transform_cdt, which are exact for these two metrics on a box.
inline void chamfer(std::vector<double>& f, const Grid& g, bool chessboard) {
  std::vector<std::array<int64_t, 3>> before;  // neighbours that precede a voxel in raster order
  for (int64_t dz = -1; dz <= 1; ++dz)
    for (int64_t dy = -1; dy <= 1; ++dy)
      for (int64_t dx = -1; dx <= 1; ++dx) {
        const int64_t nonzero = (dz != 0) + (dy != 0) + (dx != 0);
        if (nonzero == 0 || (!chessboard && nonzero != 1)) continue;
        if (dz < 0 || (dz == 0 && (dy < 0 || (dy == 0 && dx < 0)))) before.push_back({dz, dy, dx});
      }
  const auto [nz, ny, nx] = g.size;
  auto pass = [&](int sign) {
    for (int64_t iz = 0; iz < nz; ++iz) {
      const int64_t z = sign > 0 ? iz : nz - 1 - iz;
      for (int64_t iy = 0; iy < ny; ++iy) {
        const int64_t y = sign > 0 ? iy : ny - 1 - iy;
        for (int64_t ix = 0; ix < nx; ++ix) {
          const int64_t x = sign > 0 ? ix : nx - 1 - ix;
          double& here = f[static_cast<std::size_t>((z * ny + y) * nx + x)];
          for (const auto& o : before) {
            const int64_t zz = z + sign * o[0], yy = y + sign * o[1], xx = x + sign * o[2];
            if (zz < 0 || zz >= nz || yy < 0 || yy >= ny || xx < 0 || xx >= nx) continue;
            here = std::min(here, f[static_cast<std::size_t>((zz * ny + yy) * nx + xx)] + 1);
          }
        }
      }
    }
  };
  pass(1);
  pass(-1);
}

// Marks the edge voxels of `mask` over grid g with `rank` real (trailing) axes: mask voxels with a face
// neighbour along a real axis outside the mask or outside the grid (the grid is a box outside which
// the mask is empty).
inline std::vector<uint8_t> edges_of(const std::vector<uint8_t>& mask, const Grid& g, int rank) {
  std::vector<uint8_t> edge(mask.size(), 0);
  const auto [nz, ny, nx] = g.size;
  const bool has_z = rank >= 3, has_y = rank >= 2;
  for (int64_t z = 0; z < nz; ++z)
    for (int64_t y = 0; y < ny; ++y)
      for (int64_t x = 0; x < nx; ++x) {
        const int64_t i = (z * ny + y) * nx + x;
        if (!mask[static_cast<std::size_t>(i)]) continue;
        auto out = [&](int64_t c, int64_t n, int64_t st, int64_t step) {
          const int64_t cc = c + step;
          return cc < 0 || cc >= n || !mask[static_cast<std::size_t>(i + step * st)];
        };
        const bool e = (has_z && (out(z, nz, ny * nx, -1) || out(z, nz, ny * nx, 1))) ||
                       (has_y && (out(y, ny, nx, -1) || out(y, ny, nx, 1))) || out(x, nx, 1, -1) ||
                       out(x, nx, 1, 1);
        edge[static_cast<std::size_t>(i)] = e;
      }
  return edge;
}

inline int64_t count(const std::vector<uint8_t>& m) { return std::count(m.begin(), m.end(), uint8_t{1}); }

// Distances from each edge voxel of `from` to the nearest edge voxel of `to`, with MONAI's rules for
// empty edges (see the header comment).
inline std::vector<double> surface_distances(const std::vector<uint8_t>& from, const std::vector<uint8_t>& to,
                                             const Grid& g, DistanceMetric metric,
                                             const std::array<double, 3>& spacing) {
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t n_to = count(to), n_from = count(from);
  if (n_to == 0) return std::vector<double>(static_cast<std::size_t>(n_from), inf);
  if (n_from == 0) return std::vector<double>(static_cast<std::size_t>(n_to), inf);
  std::vector<double> f(to.size());
  const double far = metric == DistanceMetric::euclidean ? inf : static_cast<double>(g.numel() + 1);
  for (std::size_t i = 0; i < to.size(); ++i) f[i] = to[i] ? 0.0 : far;
  if (metric == DistanceMetric::euclidean) squared_edt(f, g, spacing);
  else chamfer(f, g, metric == DistanceMetric::chessboard);
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(n_from));
  for (std::size_t i = 0; i < from.size(); ++i)
    if (from[i]) out.push_back(metric == DistanceMetric::euclidean ? std::sqrt(f[i]) : f[i]);
  return out;
}

// MONAI's _compute_percentile_hausdorff_distance.
inline double percentile_distance(std::vector<double> d, const std::optional<double>& percentile) {
  if (d.empty()) return std::numeric_limits<double>::quiet_NaN();
  if (!percentile || *percentile == 0) return *std::max_element(d.begin(), d.end());
  if (std::isinf(d.front())) return std::numeric_limits<double>::quiet_NaN();  // inf - inf in the interpolation
  return ops::nanpercentile(d.data(), static_cast<int64_t>(d.size()), {*percentile})[0];
}

// The masks (value == 1) of pred[b, c] and target[b, c] cropped to the bounding box of their union,
// and their edges. Empty edges when both masks are empty.
struct EdgePair {
  Grid grid;
  std::array<double, 3> spacing{1, 1, 1};
  std::vector<uint8_t> pred, target;
};

template <Element P, Element Y>
EdgePair mask_edge_pair(const P* pred, const Y* target, const Shape& spatial) {
  const int rank = spatial.size();
  std::array<int64_t, 3> full{1, 1, 1};
  for (int d = 0; d < rank; ++d) full[static_cast<std::size_t>(3 - rank + d)] = spatial[d];
  std::array<int64_t, 3> lo{full[0], full[1], full[2]}, hi{-1, -1, -1};
  const int64_t ny = full[1], nx = full[2];
  int64_t voxels = full[0] * ny * nx;
  auto member = [](auto v) { return as_double(v) == 1.0; };
  for (int64_t i = 0; i < voxels; ++i) {
    if (!member(pred[i]) && !member(target[i])) continue;
    const std::array<int64_t, 3> c{i / (ny * nx), (i / nx) % ny, i % nx};
    for (std::size_t a = 0; a < 3; ++a) lo[a] = std::min(lo[a], c[a]), hi[a] = std::max(hi[a], c[a]);
  }
  EdgePair out;
  if (hi[0] < 0) return out;  // both empty: no edges, an empty grid
  for (std::size_t a = 0; a < 3; ++a) out.grid.size[a] = hi[a] - lo[a] + 1;
  const auto [bz, by, bx] = out.grid.size;
  std::vector<uint8_t> mp(static_cast<std::size_t>(out.grid.numel())), mt(mp.size());
  for (int64_t z = 0; z < bz; ++z)
    for (int64_t y = 0; y < by; ++y)
      for (int64_t x = 0; x < bx; ++x) {
        const int64_t src = ((z + lo[0]) * ny + (y + lo[1])) * nx + (x + lo[2]);
        const auto dst = static_cast<std::size_t>((z * by + y) * bx + x);
        mp[dst] = member(pred[src]);
        mt[dst] = member(target[src]);
      }
  out.pred = edges_of(mp, out.grid, rank);
  out.target = edges_of(mt, out.grid, rank);
  return out;
}

// Runs f(edge_pair, b, c_out) over the scored (sample, class) pairs of a one-hot pair, returning the
// (N, C') table f fills.
template <Element P, Element Y, class F>
Tensor<double> over_classes(const Tensor<P>& pred, const Tensor<Y>& target, bool include_background,
                            const std::vector<double>& spacing,
                            const std::vector<std::vector<double>>& spacing_per_sample, const char* op, F f) {
  VOXNN_CHECK(pred.defined() && target.defined(), op, ": pred and target must be defined");
  VOXNN_CHECK(pred.shape() == target.shape(), op, ": pred of shape ", pred.shape(), " and target of shape ",
              target.shape(), " differ (one-hot (N, C, spatial...) tensors of the same shape expected)");
  const int rank = pred.dim() - 2;
  VOXNN_CHECK(rank >= 1 && rank <= 3, op, ": pred of shape ", pred.shape(),
              " is not (N, C, spatial...) with 1, 2 or 3 spatial dims");
  const int64_t n = pred.size(0), channels = pred.size(1);
  VOXNN_CHECK(spacing_per_sample.empty() || static_cast<int64_t>(spacing_per_sample.size()) == n, op,
              ": spacing_per_sample has ", spacing_per_sample.size(), " entries for a batch of ", n);
  const int64_t first = (!include_background && channels > 1) ? 1 : 0;
  Shape spatial;
  for (int d = 2; d < pred.dim(); ++d) spatial.push_back(pred.size(d));
  const int64_t voxels = spatial.numel();
  const Tensor<P> p = pred.contiguous();
  const Tensor<Y> y = target.contiguous();
  Tensor<double> out(Shape{n, channels - first});
  for (int64_t b = 0; b < n; ++b) {
    const auto s = grid_spacing(spacing_per_sample.empty() ? spacing : spacing_per_sample[static_cast<std::size_t>(b)],
                                rank, op);
    for (int64_t c = first; c < channels; ++c) {
      EdgePair e = mask_edge_pair(p.data() + (b * channels + c) * voxels, y.data() + (b * channels + c) * voxels,
                                  spatial);
      e.spacing = s;
      out.data()[b * (channels - first) + (c - first)] = f(e);
    }
  }
  return out;
}

}  // namespace detail

// scipy.ndimage.distance_transform_edt: for each nonzero voxel of `input` (any shape of 1 to 3 dims),
// the Euclidean distance to the nearest zero voxel, with `sampling` the voxel size (empty = 1, one
// value, or one per dim); 0 at zero voxels; +inf everywhere when there is no zero voxel.
template <Element M>
Tensor<double> distance_transform_edt(const Tensor<M>& input, const std::vector<double>& sampling = {}) {
  VOXNN_CHECK(input.defined() && input.dim() >= 1 && input.dim() <= 3, "distance_transform_edt: input of shape ",
              input.defined() ? input.shape() : Shape{}, " must have 1, 2 or 3 dims");
  const int rank = input.dim();
  detail::Grid g;
  for (int d = 0; d < rank; ++d) g.size[static_cast<std::size_t>(3 - rank + d)] = input.size(d);
  const auto s = detail::grid_spacing(sampling, rank, "distance_transform_edt");
  const Tensor<M> x = input.contiguous();
  std::vector<double> f(static_cast<std::size_t>(x.numel()));
  for (std::size_t i = 0; i < f.size(); ++i)
    f[i] = detail::as_double(x.data()[i]) != 0 ? std::numeric_limits<double>::infinity() : 0.0;
  if (!f.empty()) detail::squared_edt(f, g, s);
  Tensor<double> out(input.shape());
  for (std::size_t i = 0; i < f.size(); ++i) out.data()[i] = std::sqrt(f[i]);
  return out;
}

// MONAI's edges of one mask (nonzero = inside), any shape of 1 to 3 dims: the mask XOR its erosion by
// the cross structure, with the outside of the image counted as background.
template <Element M>
Tensor<bool> mask_edges(const Tensor<M>& mask) {
  VOXNN_CHECK(mask.defined() && mask.dim() >= 1 && mask.dim() <= 3, "mask_edges: mask of shape ",
              mask.defined() ? mask.shape() : Shape{}, " must have 1, 2 or 3 dims");
  detail::Grid g;
  for (int d = 0; d < mask.dim(); ++d) g.size[static_cast<std::size_t>(3 - mask.dim() + d)] = mask.size(d);
  const Tensor<M> x = mask.contiguous();
  std::vector<uint8_t> m(static_cast<std::size_t>(x.numel()));
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = detail::as_double(x.data()[i]) != 0;
  const std::vector<uint8_t> e = detail::edges_of(m, g, mask.dim());
  Tensor<bool> out(mask.shape());
  for (std::size_t i = 0; i < e.size(); ++i) out.data()[i] = e[i] != 0;
  return out;
}

// MONAI compute_hausdorff_distance: (N, C') distances (C' = C - 1 without background when C > 1).
template <Element P, Element Y>
Tensor<double> hausdorff_distance(const Tensor<P>& pred, const Tensor<Y>& target, const HausdorffOptions& options = {}) {
  VOXNN_CHECK(!options.percentile || (*options.percentile >= 0 && *options.percentile <= 100),
              "hausdorff_distance: percentile should be in [0, 100], got ", *options.percentile);
  return detail::over_classes(pred, target, options.include_background, options.spacing, options.spacing_per_sample,
                              "hausdorff_distance", [&](const detail::EdgePair& e) {
                                const double forward = detail::percentile_distance(
                                    detail::surface_distances(e.pred, e.target, e.grid, options.distance_metric,
                                                              e.spacing),
                                    options.percentile);
                                if (options.directed || std::isnan(forward)) return forward;
                                const double backward = detail::percentile_distance(
                                    detail::surface_distances(e.target, e.pred, e.grid, options.distance_metric,
                                                              e.spacing),
                                    options.percentile);
                                return std::isnan(backward) ? backward : std::max(forward, backward);
                              });
}

// The 95th-percentile Hausdorff distance: hausdorff_distance with percentile 95.
template <Element P, Element Y>
Tensor<double> hd95(const Tensor<P>& pred, const Tensor<Y>& target, HausdorffOptions options = {}) {
  options.percentile = 95.0;
  return hausdorff_distance(pred, target, options);
}

// MONAI compute_average_surface_distance: the mean of the surface distances from pred to target (and,
// if symmetric, from target to pred, as one list); NaN when the list is empty, +inf when a mask is empty.
template <Element P, Element Y>
Tensor<double> average_surface_distance(const Tensor<P>& pred, const Tensor<Y>& target,
                                        const SurfaceDistanceOptions& options = {}) {
  return detail::over_classes(pred, target, options.include_background, options.spacing, options.spacing_per_sample,
                              "average_surface_distance", [&](const detail::EdgePair& e) {
                                std::vector<double> d = detail::surface_distances(
                                    e.pred, e.target, e.grid, options.distance_metric, e.spacing);
                                if (options.symmetric) {
                                  const std::vector<double> back = detail::surface_distances(
                                      e.target, e.pred, e.grid, options.distance_metric, e.spacing);
                                  d.insert(d.end(), back.begin(), back.end());
                                }
                                if (d.empty()) return std::numeric_limits<double>::quiet_NaN();
                                double s = 0;
                                for (double v : d) s += v;
                                return s / static_cast<double>(d.size());
                              });
}

}  // namespace voxnn::metrics
