#pragma once
// Resampling a [C, X, Y, Z] tensor on its own grid through a voxel-index map, the kernel behind
// Affine3D, RandAffine and Rand3DElastic. Output voxel p = (x, y, z) reads the input at
//
//   s = M[:, :3] (p + d(p)) + M[:, 3]          (d: an optional displacement field [3, X, Y, Z])
//
// in input voxel indices, with torch.nn.functional.grid_sample's semantics for align_corners =
// false expressed in voxels: "bilinear" blends the 8 neighbours (trilinear), "nearest" takes the
// voxel at round-half-to-even(s); padding "zeros" reads 0 outside, "border" clips s to [0, n - 1],
// "reflection" reflects s about -0.5 and n - 0.5, then clips. Coordinates come from M row by row
// (no sampling grid in memory); an identity map without a field copies.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::data::detail {

enum class WarpMode { bilinear, nearest };
enum class WarpPadding { zeros, border, reflection };

inline WarpMode parse_warp_mode(const std::string& mode, const char* op) {
  if (mode == "bilinear" || mode == "trilinear") return WarpMode::bilinear;
  if (mode == "nearest") return WarpMode::nearest;
  VOXNN_CHECK(false, op, ": unknown mode '", mode, "'; expected bilinear (trilinear) or nearest");
  return WarpMode::bilinear;
}
inline WarpPadding parse_warp_padding(const std::string& padding, const char* op) {
  if (padding == "zeros") return WarpPadding::zeros;
  if (padding == "border") return WarpPadding::border;
  if (padding == "reflection") return WarpPadding::reflection;
  VOXNN_CHECK(false, op, ": unknown padding_mode '", padding, "'; expected zeros, border or reflection");
  return WarpPadding::zeros;
}

// A voxel-index map: s = m[r][0..2] . p + m[r][3].
using IndexMap = std::array<std::array<double, 4>, 3>;

inline bool is_identity(const IndexMap& m) {
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      if (m[r][c] != (r == c ? 1.0 : 0.0)) return false;
  return true;
}

// The padded coordinate: clipped (border), reflected then clipped (reflection), unchanged (zeros).
template <WarpPadding P>
inline double pad_coord(double s, int64_t n) {
  if constexpr (P == WarpPadding::border) {
    return std::clamp(s, 0.0, static_cast<double>(n - 1));
  } else if constexpr (P == WarpPadding::reflection) {
    if (!std::isfinite(s)) return 0;
    const double span = static_cast<double>(n);  // reflect t = s + 0.5 into [0, n]
    double t = std::fabs(s + 0.5);
    t = std::fmod(t, 2 * span);
    if (t > span) t = 2 * span - t;
    return std::clamp(t - 0.5, 0.0, span - 1);
  } else {
    return s;
  }
}

// Linear taps of one axis: indices i0, i1 (clamped into range) and weights w0, w1 (0 for a tap
// outside the input under zero padding).
template <WarpPadding P>
inline void linear_taps(double s, int64_t n, int64_t& i0, int64_t& i1, double& w0, double& w1) {
  s = pad_coord<P>(s, n);
  if (!(s > -2.0 && s < static_cast<double>(n) + 1.0)) {  // far outside or NaN: nothing to read
    i0 = i1 = 0;
    w0 = w1 = 0;
    return;
  }
  const double f = std::floor(s);
  i0 = static_cast<int64_t>(f);
  i1 = i0 + 1;
  w1 = s - f;
  w0 = 1.0 - w1;
  if (i0 < 0 || i0 >= n) {
    w0 = 0;
    i0 = 0;
  }
  if (i1 < 0 || i1 >= n) {
    w1 = 0;
    i1 = std::min<int64_t>(std::max<int64_t>(i0, 0), n - 1);
  }
}

// Nearest tap: the index, or -1 outside (zero padding).
template <WarpPadding P>
inline int64_t nearest_tap(double s, int64_t n) {
  s = pad_coord<P>(s, n);
  if (!(s > -1.0 && s < static_cast<double>(n))) return -1;
  const double r = std::nearbyint(s);
  const auto i = static_cast<int64_t>(r);
  return i >= 0 && i < n ? i : -1;
}

template <class T, WarpMode Mode, WarpPadding P>
void resample_rows(const T* in, T* out, int64_t C, const std::array<int64_t, 3>& n, const IndexMap& m, const T* disp,
                   int64_t rb, int64_t re) {
  const int64_t X = n[0], Y = n[1], Z = n[2], plane = Y * Z, vol = X * plane;
  std::vector<double> sx(static_cast<std::size_t>(Z)), sy(sx), sz(sx);
  for (int64_t r = rb; r < re; ++r) {
    const int64_t x = r / Y, y = r % Y;
    const double px = static_cast<double>(x), py = static_cast<double>(y);
    for (int64_t z = 0; z < Z; ++z) {
      double qx = px, qy = py, qz = static_cast<double>(z);
      if (disp) {
        const int64_t v = r * Z + z;
        qx += static_cast<double>(disp[v]);
        qy += static_cast<double>(disp[vol + v]);
        qz += static_cast<double>(disp[2 * vol + v]);
      }
      sx[static_cast<std::size_t>(z)] = m[0][0] * qx + m[0][1] * qy + m[0][2] * qz + m[0][3];
      sy[static_cast<std::size_t>(z)] = m[1][0] * qx + m[1][1] * qy + m[1][2] * qz + m[1][3];
      sz[static_cast<std::size_t>(z)] = m[2][0] * qx + m[2][1] * qy + m[2][2] * qz + m[2][3];
    }
    T* o = out + r * Z;
    for (int64_t z = 0; z < Z; ++z) {
      const auto zi = static_cast<std::size_t>(z);
      if constexpr (Mode == WarpMode::nearest) {
        const int64_t ix = nearest_tap<P>(sx[zi], X), iy = nearest_tap<P>(sy[zi], Y), iz = nearest_tap<P>(sz[zi], Z);
        if (ix < 0 || iy < 0 || iz < 0) {
          for (int64_t c = 0; c < C; ++c) o[c * vol + z] = T(0);
        } else {
          const int64_t off = ix * plane + iy * Z + iz;
          for (int64_t c = 0; c < C; ++c) o[c * vol + z] = in[c * vol + off];
        }
      } else {
        int64_t x0, x1, y0, y1, z0, z1;
        double wx0, wx1, wy0, wy1, wz0, wz1;
        linear_taps<P>(sx[zi], X, x0, x1, wx0, wx1);
        linear_taps<P>(sy[zi], Y, y0, y1, wy0, wy1);
        linear_taps<P>(sz[zi], Z, z0, z1, wz0, wz1);
        const int64_t o00 = x0 * plane + y0 * Z, o01 = x0 * plane + y1 * Z;
        const int64_t o10 = x1 * plane + y0 * Z, o11 = x1 * plane + y1 * Z;
        const T w000 = static_cast<T>(wx0 * wy0 * wz0), w001 = static_cast<T>(wx0 * wy0 * wz1);
        const T w010 = static_cast<T>(wx0 * wy1 * wz0), w011 = static_cast<T>(wx0 * wy1 * wz1);
        const T w100 = static_cast<T>(wx1 * wy0 * wz0), w101 = static_cast<T>(wx1 * wy0 * wz1);
        const T w110 = static_cast<T>(wx1 * wy1 * wz0), w111 = static_cast<T>(wx1 * wy1 * wz1);
        for (int64_t c = 0; c < C; ++c) {
          const T* p = in + c * vol;
          o[c * vol + z] = w000 * p[o00 + z0] + w001 * p[o00 + z1] + w010 * p[o01 + z0] + w011 * p[o01 + z1] +
                           w100 * p[o10 + z0] + w101 * p[o10 + z1] + w110 * p[o11 + z0] + w111 * p[o11 + z1];
        }
      }
    }
  }
}

// Resamples `input` [C, X, Y, Z] through the map m (and the displacement field `disp` [3, X, Y, Z]
// in voxels, or an undefined tensor) onto the same grid.
template <class T>
Tensor<T> resample(const Tensor<T>& input, const IndexMap& m, const Tensor<T>& disp, WarpMode mode,
                   WarpPadding padding) {
  const Tensor<T> in = input.contiguous();
  const int64_t C = in.size(0);
  const std::array<int64_t, 3> n{in.size(1), in.size(2), in.size(3)};
  if (!disp.defined() && is_identity(m)) return in.clone();
  Tensor<T> d;
  if (disp.defined()) {
    VOXNN_CHECK(disp.dim() == 4 && disp.size(0) == 3 && disp.size(1) == n[0] && disp.size(2) == n[1] &&
                    disp.size(3) == n[2],
                "resample: displacement field ", disp.shape(), " does not match the grid ", in.shape());
    d = disp.contiguous();
  }
  Tensor<T> out(in.shape());
  if (out.numel() == 0) return out;
  const int64_t rows = n[0] * n[1];
  const int64_t grain = 1 + 4096 / std::max<int64_t>(1, n[2]);
  const T* pi = in.data();
  T* po = out.data();
  const T* pd = d.defined() ? d.data() : nullptr;
  auto run = [&](auto mode_tag, auto pad_tag) {
    constexpr WarpMode M = decltype(mode_tag)::value;
    constexpr WarpPadding P = decltype(pad_tag)::value;
    parallel_for(0, rows, grain, [&](int64_t rb, int64_t re) { resample_rows<T, M, P>(pi, po, C, n, m, pd, rb, re); });
  };
  auto with_pad = [&](auto mode_tag) {
    switch (padding) {
      case WarpPadding::zeros: run(mode_tag, std::integral_constant<WarpPadding, WarpPadding::zeros>{}); break;
      case WarpPadding::border: run(mode_tag, std::integral_constant<WarpPadding, WarpPadding::border>{}); break;
      case WarpPadding::reflection:
        run(mode_tag, std::integral_constant<WarpPadding, WarpPadding::reflection>{});
        break;
    }
  };
  if (mode == WarpMode::nearest)
    with_pad(std::integral_constant<WarpMode, WarpMode::nearest>{});
  else
    with_pad(std::integral_constant<WarpMode, WarpMode::bilinear>{});
  return out;
}

}  // namespace voxnn::data::detail
