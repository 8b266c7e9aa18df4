#pragma once
// Sampling an image at arbitrary points (torch.nn.functional.grid_sample, PyTorch 1.13 semantics)
// and the affine sampling grids that feed it (torch.nn.functional.affine_grid), with their
// gradients, for inputs (N, C, H, W) with grids (N, H_out, W_out, 2) and inputs (N, C, D, H, W)
// with grids (N, D_out, H_out, W_out, 3). The last dim of a grid is ordered (x, y[, z]) = (W, H[, D]).
//
// Coordinates, as PyTorch computes them, per axis of input size S:
//   - unnormalise: align_corners = true maps -1 and 1 to the centres of the corner voxels,
//     s = ((g + 1) / 2) * (S - 1); false maps them to the outer edges, s = ((g + 1) * S - 1) / 2;
//   - padding "zeros": s as it is, and voxels outside the input read as 0;
//     "border": s clipped to [0, S - 1];
//     "reflection": s reflected about the edges (-0.5 and S - 0.5 without align_corners, 0 and S - 1
//     with it; an axis of size 1 with align_corners maps everything to 0), then clipped to [0, S - 1];
//   - a coordinate that ends up NaN, infinite or outside the int range counts as out of bounds
//     (PyTorch's CPU kernels return NaN for some of these, or crash: voxnn reads them as 0);
//   - "bilinear" (trilinear for 5-dim inputs) blends the 2^dim surrounding voxels, skipping those
//     out of bounds; "nearest" takes the voxel at round-half-to-even(s); "bicubic" (4-dim only)
//     blends 4x4 voxels with the cubic convolution kernel (A = -0.75), each tap's integer coordinate
//     padded as above.
// Gradients: to the input, the adjoint of the sampling (every output gradient scattered back with
// its weights); to the grid, the derivative of the blend times ds/dg (the unnormalising scale times
// +-1 or 0 from reflection and clipping, as PyTorch's *_set_grad rules do: 0 on and beyond a clipped
// edge). Nearest has a zero grid gradient.
//
// Kernels: the output points of a batch element are processed in blocks: first the source
// coordinates (and ds/dg) of the whole block, then per point the corner offsets and weights, used
// for every channel; a point whose corners are all inside takes a branch-free path. Both gradients
// come from one pass (with several channels in 3-D, two passes over each block, which keeps the
// input and its gradient from competing for the same cache sets). The input gradient is a scatter
// without atomics: threads take whole batch elements when there are enough of them; otherwise the
// points are cut into 2 x threads segments run in two phases (even, then odd), each thread writing
// straight into the result when the input rows (z in 3-D, y in 2-D) reached by the segments of a
// phase are disjoint, as for displacement fields (checked beforehand from the coordinates); and
// failing that, each thread but the first scatters into a zeroed buffer of its own, summed after.
#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "voxnn/core/factory.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn {

struct GridSampleOptions {
  std::string mode = "bilinear";      // bilinear (trilinear for 5-dim inputs) | nearest | bicubic (4-dim only)
  std::string padding_mode = "zeros";  // zeros | border | reflection
  bool align_corners = false;
};

namespace ops {

enum class GridSampleMode { bilinear, nearest, bicubic };
enum class GridSamplePadding { zeros, border, reflection };

// A checked grid_sample call: what the kernels need.
struct GridSamplePlan {
  GridSampleMode mode = GridSampleMode::bilinear;
  GridSamplePadding padding = GridSamplePadding::zeros;
  bool align_corners = false;
  int spatial = 2;
  Shape input, grid, output;
};

inline GridSamplePlan plan_grid_sample(const Shape& input, const Shape& grid, const GridSampleOptions& o) {
  GridSamplePlan plan;
  const int rank = input.size();
  VOXNN_CHECK(rank == 4 || rank == 5, "grid_sample: input has ", rank, " dims ", input,
              "; expected 4 (N, C, H, W) or 5 (N, C, D, H, W)");
  const int spatial = rank - 2;
  plan.spatial = spatial;
  const char* expected = spatial == 2 ? "[N, H_out, W_out, 2]" : "[N, D_out, H_out, W_out, 3]";
  VOXNN_CHECK(grid.size() == rank && grid[0] == input[0] && grid.back() == spatial, "grid_sample: grid has shape ",
              grid, "; expected ", expected, " with N = ", input[0], " as input ", input);
  for (int i = 0; i < spatial; ++i)
    VOXNN_CHECK(input[2 + i] > 0, "grid_sample: input ", input, " has an empty spatial dim");
  if (o.mode == "bilinear") {
    plan.mode = GridSampleMode::bilinear;
  } else if (o.mode == "nearest") {
    plan.mode = GridSampleMode::nearest;
  } else if (o.mode == "bicubic") {
    plan.mode = GridSampleMode::bicubic;
    VOXNN_CHECK(spatial == 2, "grid_sample: mode 'bicubic' needs a 4-dim input (N, C, H, W), got ", input);
  } else {
    VOXNN_CHECK(false, "grid_sample: unknown mode '", o.mode, "'; expected bilinear, nearest or bicubic (input ",
                input, ", grid ", grid, ")");
  }
  if (o.padding_mode == "zeros") {
    plan.padding = GridSamplePadding::zeros;
  } else if (o.padding_mode == "border") {
    plan.padding = GridSamplePadding::border;
  } else if (o.padding_mode == "reflection") {
    plan.padding = GridSamplePadding::reflection;
  } else {
    VOXNN_CHECK(false, "grid_sample: unknown padding_mode '", o.padding_mode,
                "'; expected zeros, border or reflection (input ", input, ", grid ", grid, ")");
  }
  plan.align_corners = o.align_corners;
  plan.input = input;
  plan.grid = grid;
  plan.output = input;
  for (int i = 0; i < spatial; ++i) plan.output[2 + i] = grid[1 + i];
  return plan;
}

namespace detail {

inline constexpr int64_t kGridBlock = 128;  // output points whose coordinates are computed together

// Coordinates that cannot address a voxel become this (out of bounds on every axis, as PyTorch's
// safe_downgrade_to_int_range does), so that integer conversions stay defined.
template <class T>
inline T grid_in_range(T s) {
  return (s > static_cast<T>(INT_MAX - 1) || s < static_cast<T>(INT_MIN) || !std::isfinite(s)) ? T(-100) : s;
}

// Clips to [0, size - 1]; the factor ds/din is 0 at and beyond the edges. NaN passes through.
template <class T>
inline T grid_clip(T s, int64_t size, T& d) {
  if (s <= T(0)) {
    d = T(0);
    return T(0);
  }
  const T hi = static_cast<T>(size - 1);
  if (s >= hi) {
    d = T(0);
    return hi;
  }
  return s;
}

// Reflects s about twice_low / 2 and twice_high / 2; d picks up the sign of the reflection.
template <class T>
inline T grid_reflect(T s, int64_t twice_low, int64_t twice_high, T& d) {
  if (twice_low == twice_high) {
    d = T(0);
    return T(0);
  }
  const T lo = static_cast<T>(twice_low) / 2;
  const T span = static_cast<T>(twice_high - twice_low) / 2;
  s -= lo;
  T sign = T(1);
  if (s < T(0)) {
    sign = T(-1);
    s = -s;
  }
  const T extra = std::fmod(s, span);
  const T flips = std::floor(s / span);
  if (std::fmod(flips, T(2)) == T(0)) {
    d *= sign;
    return extra + lo;
  }
  d *= -sign;
  return span - extra + lo;
}

// Padding applied to an (unnormalised) coordinate: clip or reflect-then-clip; d collects ds/din.
template <class T, GridSamplePadding P, bool Align>
inline T grid_pad(T s, int64_t size, T& d) {
  if constexpr (P == GridSamplePadding::border) {
    s = grid_clip(s, size, d);
  } else if constexpr (P == GridSamplePadding::reflection) {
    s = Align ? grid_reflect(s, 0, 2 * (size - 1), d) : grid_reflect(s, -1, 2 * size - 1, d);
    s = grid_clip(s, size, d);
  }
  return s;
}

// Rounds v as its own operation: the compiler may not fuse it into a following add (FMA contraction).
template <class T>
inline T rounded_alone(T v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+x"(v));
#endif
  return v;
}

// Without align_corners the product is rounded before the subtraction, as PyTorch computes it: an
// identity grid then lands exactly on voxel centres and the border clip, where the gradient has a
// kink, sees the same side of it. A fused multiply-add leaves 5.6e-17 instead of 0 there.
template <class T, bool Align>
inline T grid_unnormalize(T g, int64_t size) {
  if constexpr (Align)
    return ((g + T(1)) / T(2)) * static_cast<T>(size - 1);
  else
    return (rounded_alone((g + T(1)) * static_cast<T>(size)) - T(1)) / T(2);
}

// Source coordinates of `count` points along one axis: g[i * stride] -> s[i], and ds/dg -> m[i].
// Raw: unnormalised only (bicubic pads its taps and checks the range itself).
template <class T, GridSamplePadding P, bool Align, bool Raw = false>
void grid_axis_coords(const T* g, int stride, int64_t count, int64_t size, T* s, T* m) {
  const T scale = Align ? static_cast<T>(size - 1) / T(2) : static_cast<T>(size) / T(2);
  if constexpr (P == GridSamplePadding::zeros) {
    for (int64_t i = 0; i < count; ++i) s[i] = grid_unnormalize<T, Align>(g[i * stride], size);
    if constexpr (!Raw)
      for (int64_t i = 0; i < count; ++i) s[i] = grid_in_range(s[i]);
    for (int64_t i = 0; i < count; ++i) m[i] = scale;
  } else {
    for (int64_t i = 0; i < count; ++i) {
      T d = scale;
      const T v = grid_pad<T, P, Align>(grid_unnormalize<T, Align>(g[i * stride], size), size, d);
      s[i] = grid_in_range(v);
      m[i] = d;
    }
  }
}

template <class T>
void grid_axis_coords(const GridSamplePlan& plan, const T* g, int stride, int64_t count, int64_t size, T* s, T* m) {
  using P = GridSamplePadding;
  const bool a = plan.align_corners;
  if (plan.mode == GridSampleMode::bicubic)  // bicubic pads each tap instead of the coordinate
    return a ? grid_axis_coords<T, P::zeros, true, true>(g, stride, count, size, s, m)
             : grid_axis_coords<T, P::zeros, false, true>(g, stride, count, size, s, m);
  switch (plan.padding) {
    case P::zeros:
      return a ? grid_axis_coords<T, P::zeros, true>(g, stride, count, size, s, m)
               : grid_axis_coords<T, P::zeros, false>(g, stride, count, size, s, m);
    case P::border:
      return a ? grid_axis_coords<T, P::border, true>(g, stride, count, size, s, m)
               : grid_axis_coords<T, P::border, false>(g, stride, count, size, s, m);
    case P::reflection:
      return a ? grid_axis_coords<T, P::reflection, true>(g, stride, count, size, s, m)
               : grid_axis_coords<T, P::reflection, false>(g, stride, count, size, s, m);
  }
}

// The padded integer coordinate of a bicubic tap (-1 when it is out of bounds).
template <class T>
inline int64_t grid_tap(const GridSamplePlan& plan, int64_t i, int64_t size) {
  T s = static_cast<T>(i), d = T(1);
  using P = GridSamplePadding;
  if (plan.padding == P::border) {
    s = grid_pad<T, P::border, false>(s, size, d);
  } else if (plan.padding == P::reflection) {
    s = plan.align_corners ? grid_pad<T, P::reflection, true>(s, size, d) : grid_pad<T, P::reflection, false>(s, size, d);
  }
  s = grid_in_range(s);
  const auto k = static_cast<int64_t>(s);
  return k >= 0 && k < size ? k : -1;
}

// Cubic convolution weights (A = -0.75) of the four taps at offsets -1, 0, 1, 2 for fraction t, and
// their derivatives with respect to t.
template <class T>
inline void cubic_weights(T t, T* w, T* dw) {
  const T A = T(-0.75);
  auto near = [A](T x) { return ((A + T(2)) * x - (A + T(3))) * x * x + T(1); };
  auto far = [A](T x) { return ((A * x - T(5) * A) * x + T(8) * A) * x - T(4) * A; };
  auto dnear = [A](T x) { return (T(3) * (A + T(2)) * x - T(2) * (A + T(3))) * x; };
  auto dfar = [A](T x) { return (T(3) * A * x - T(10) * A) * x + T(8) * A; };
  w[0] = far(t + T(1));
  w[1] = near(t);
  w[2] = near(T(1) - t);
  w[3] = far(T(2) - t);
  if (dw) {
    dw[0] = dfar(t + T(1));
    dw[1] = dnear(t);
    dw[2] = -dnear(T(1) - t);
    dw[3] = -dfar(T(2) - t);
  }
}

// Sizes and pointers shared by the kernels of one call.
template <class T>
struct GridJob {
  int spatial = 2;
  int64_t N = 0, C = 0, P = 0;  // batch, channels, output points per batch element
  int64_t D = 1, H = 1, W = 1;  // input spatial size (D = 1 in 2D)
  int64_t vol = 1;              // D * H * W
  const T* x = nullptr;         // input (N, C, vol), contiguous
  const T* grid = nullptr;      // (N, P, spatial), contiguous
  const T* gout = nullptr;      // output gradient (N, C, P)
  T* out = nullptr;             // output (N, C, P)
  T* ggrid = nullptr;           // grid gradient (N, P, spatial)
};

template <class T>
GridJob<T> make_job(const GridSamplePlan& plan) {
  GridJob<T> j;
  j.spatial = plan.spatial;
  j.N = plan.input[0];
  j.C = plan.input[1];
  j.P = 1;
  for (int i = 0; i < plan.spatial; ++i) j.P *= plan.grid[1 + i];
  if (plan.spatial == 3) {
    j.D = plan.input[2];
    j.H = plan.input[3];
    j.W = plan.input[4];
  } else {
    j.H = plan.input[2];
    j.W = plan.input[3];
  }
  j.vol = j.D * j.H * j.W;
  return j;
}

// One block of output points [p0, p0 + count) of batch element n. Forward (out) and/or backward
// (gin, ggrid) by the flags; the coordinates s* and factors m* are per point of the block.
template <class T, bool Fwd, bool NeedIn, bool NeedGrid>
void grid_block_bilinear3d(const GridJob<T>& j, int64_t n, int64_t p0, int64_t count, const T* sx, const T* sy,
                           const T* sz, const T* mx, const T* my, const T* mz, T* gin) {
  const int64_t C = j.C, P = j.P, W = j.W, H = j.H, D = j.D, HW = H * W, vol = j.vol;
  const T* xn = j.x ? j.x + n * C * vol : nullptr;  // no input when only its gradient is asked for
  T* on = Fwd ? j.out + n * C * P + p0 : nullptr;
  const T* gon = Fwd ? nullptr : j.gout + n * C * P + p0;
  T* gn = NeedIn ? gin + n * C * vol : nullptr;
  T* gg = NeedGrid ? j.ggrid + (n * P + p0) * 3 : nullptr;
  for (int64_t i = 0; i < count; ++i) {
    const T ix = sx[i], iy = sy[i], iz = sz[i];
    const T fx = std::floor(ix), fy = std::floor(iy), fz = std::floor(iz);
    // far outside is as good as just outside (-2 or the size), and keeps the offset arithmetic small
    const int64_t x0 = std::clamp<int64_t>(static_cast<int64_t>(fx), -2, W);
    const int64_t y0 = std::clamp<int64_t>(static_cast<int64_t>(fy), -2, H);
    const int64_t z0 = std::clamp<int64_t>(static_cast<int64_t>(fz), -2, D);
    const T wx1 = ix - fx, wx0 = (fx + T(1)) - ix;
    const T wy1 = iy - fy, wy0 = (fy + T(1)) - iy;
    const T wz1 = iz - fz, wz0 = (fz + T(1)) - iz;
    const T wxy00 = wx0 * wy0, wxy10 = wx1 * wy0, wxy01 = wx0 * wy1, wxy11 = wx1 * wy1;
    const int64_t base = (z0 * H + y0) * W + x0;
    if (x0 >= 0 && x0 < W - 1 && y0 >= 0 && y0 < H - 1 && z0 >= 0 && z0 < D - 1) {
      // all eight corners inside
      const T w000 = wxy00 * wz0, w001 = wxy10 * wz0, w010 = wxy01 * wz0, w011 = wxy11 * wz0;
      const T w100 = wxy00 * wz1, w101 = wxy10 * wz1, w110 = wxy01 * wz1, w111 = wxy11 * wz1;
      T gx = 0, gy = 0, gz = 0;
      for (int64_t c = 0; c < C; ++c) {
        const T* p = (Fwd || NeedGrid) ? xn + c * vol + base : nullptr;
        if constexpr (Fwd) {
          on[c * P + i] = w000 * p[0] + w001 * p[1] + w010 * p[W] + w011 * p[W + 1] + w100 * p[HW] +
                          w101 * p[HW + 1] + w110 * p[HW + W] + w111 * p[HW + W + 1];
        } else {
          const T go = gon[c * P + i];
          if constexpr (NeedIn) {
            T* q = gn + c * vol + base;
            q[0] += w000 * go;
            q[1] += w001 * go;
            q[W] += w010 * go;
            q[W + 1] += w011 * go;
            q[HW] += w100 * go;
            q[HW + 1] += w101 * go;
            q[HW + W] += w110 * go;
            q[HW + W + 1] += w111 * go;
          }
          if constexpr (NeedGrid) {
            const T v000 = p[0], v001 = p[1], v010 = p[W], v011 = p[W + 1];
            const T v100 = p[HW], v101 = p[HW + 1], v110 = p[HW + W], v111 = p[HW + W + 1];
            gx += go * (((v001 - v000) * wy0 + (v011 - v010) * wy1) * wz0 + ((v101 - v100) * wy0 + (v111 - v110) * wy1) * wz1);
            gy += go * (((v010 - v000) * wx0 + (v011 - v001) * wx1) * wz0 + ((v110 - v100) * wx0 + (v111 - v101) * wx1) * wz1);
            gz += go * ((v100 - v000) * wxy00 + (v101 - v001) * wxy10 + (v110 - v010) * wxy01 + (v111 - v011) * wxy11);
          }
        }
      }
      if constexpr (NeedGrid) {
        gg[3 * i] = gx * mx[i];
        gg[3 * i + 1] = gy * my[i];
        gg[3 * i + 2] = gz * mz[i];
      }
      continue;
    }
    // near or outside the edges: corners out of bounds read as 0 and receive nothing
    const bool bx0 = x0 >= 0 && x0 < W, bx1 = x0 + 1 >= 0 && x0 + 1 < W;
    const bool by0 = y0 >= 0 && y0 < H, by1 = y0 + 1 >= 0 && y0 + 1 < H;
    const bool bz0 = z0 >= 0 && z0 < D, bz1 = z0 + 1 >= 0 && z0 + 1 < D;
    const std::array<bool, 8> in{bz0 && by0 && bx0, bz0 && by0 && bx1, bz0 && by1 && bx0, bz0 && by1 && bx1,
                                 bz1 && by0 && bx0, bz1 && by0 && bx1, bz1 && by1 && bx0, bz1 && by1 && bx1};
    if (!(in[0] || in[1] || in[2] || in[3] || in[4] || in[5] || in[6] || in[7])) {
      if constexpr (Fwd)
        for (int64_t c = 0; c < C; ++c) on[c * P + i] = T(0);
      if constexpr (NeedGrid) gg[3 * i] = gg[3 * i + 1] = gg[3 * i + 2] = T(0);
      continue;
    }
    const std::array<int64_t, 8> off{base, base + 1, base + W, base + W + 1, base + HW, base + HW + 1, base + HW + W,
                                     base + HW + W + 1};
    const std::array<T, 8> w{wxy00 * wz0, wxy10 * wz0, wxy01 * wz0, wxy11 * wz0,
                             wxy00 * wz1, wxy10 * wz1, wxy01 * wz1, wxy11 * wz1};
    T gx = 0, gy = 0, gz = 0;
    for (int64_t c = 0; c < C; ++c) {
      const T* p = (Fwd || NeedGrid) ? xn + c * vol : nullptr;
      std::array<T, 8> v{};
      if (Fwd || NeedGrid)
        for (int k = 0; k < 8; ++k) v[static_cast<std::size_t>(k)] = in[static_cast<std::size_t>(k)] ? p[off[static_cast<std::size_t>(k)]] : T(0);
      if constexpr (Fwd) {
        T acc = 0;
        for (int k = 0; k < 8; ++k)
          if (in[static_cast<std::size_t>(k)]) acc += w[static_cast<std::size_t>(k)] * v[static_cast<std::size_t>(k)];
        on[c * P + i] = acc;
      } else {
        const T go = gon[c * P + i];
        if constexpr (NeedIn) {
          T* q = gn + c * vol;
          for (int k = 0; k < 8; ++k)
            if (in[static_cast<std::size_t>(k)]) q[off[static_cast<std::size_t>(k)]] += w[static_cast<std::size_t>(k)] * go;
        }
        if constexpr (NeedGrid) {
          gx += go * (((v[1] - v[0]) * wy0 + (v[3] - v[2]) * wy1) * wz0 + ((v[5] - v[4]) * wy0 + (v[7] - v[6]) * wy1) * wz1);
          gy += go * (((v[2] - v[0]) * wx0 + (v[3] - v[1]) * wx1) * wz0 + ((v[6] - v[4]) * wx0 + (v[7] - v[5]) * wx1) * wz1);
          gz += go * ((v[4] - v[0]) * wxy00 + (v[5] - v[1]) * wxy10 + (v[6] - v[2]) * wxy01 + (v[7] - v[3]) * wxy11);
        }
      }
    }
    if constexpr (NeedGrid) {
      gg[3 * i] = gx * mx[i];
      gg[3 * i + 1] = gy * my[i];
      gg[3 * i + 2] = gz * mz[i];
    }
  }
}

template <class T, bool Fwd, bool NeedIn, bool NeedGrid>
void grid_block_bilinear2d(const GridJob<T>& j, int64_t n, int64_t p0, int64_t count, const T* sx, const T* sy,
                           const T* mx, const T* my, T* gin) {
  const int64_t C = j.C, P = j.P, W = j.W, H = j.H, vol = j.vol;
  const T* xn = j.x ? j.x + n * C * vol : nullptr;  // no input when only its gradient is asked for
  T* on = Fwd ? j.out + n * C * P + p0 : nullptr;
  const T* gon = Fwd ? nullptr : j.gout + n * C * P + p0;
  T* gn = NeedIn ? gin + n * C * vol : nullptr;
  T* gg = NeedGrid ? j.ggrid + (n * P + p0) * 2 : nullptr;
  for (int64_t i = 0; i < count; ++i) {
    const T ix = sx[i], iy = sy[i];
    const T fx = std::floor(ix), fy = std::floor(iy);
    const int64_t x0 = std::clamp<int64_t>(static_cast<int64_t>(fx), -2, W);
    const int64_t y0 = std::clamp<int64_t>(static_cast<int64_t>(fy), -2, H);
    const T wx1 = ix - fx, wx0 = (fx + T(1)) - ix;
    const T wy1 = iy - fy, wy0 = (fy + T(1)) - iy;
    const T w00 = wx0 * wy0, w01 = wx1 * wy0, w10 = wx0 * wy1, w11 = wx1 * wy1;
    const int64_t base = y0 * W + x0;
    const bool inside = x0 >= 0 && x0 < W - 1 && y0 >= 0 && y0 < H - 1;
    const bool bx0 = x0 >= 0 && x0 < W, bx1 = x0 + 1 >= 0 && x0 + 1 < W;
    const bool by0 = y0 >= 0 && y0 < H, by1 = y0 + 1 >= 0 && y0 + 1 < H;
    const bool i00 = inside || (by0 && bx0), i01 = inside || (by0 && bx1), i10 = inside || (by1 && bx0),
               i11 = inside || (by1 && bx1);
    T gx = 0, gy = 0;
    for (int64_t c = 0; c < C; ++c) {
      const T* p = (Fwd || NeedGrid) ? xn + c * vol + base : nullptr;
      T v00 = 0, v01 = 0, v10 = 0, v11 = 0;
      if (Fwd || NeedGrid) {
        if (inside) {
          v00 = p[0];
          v01 = p[1];
          v10 = p[W];
          v11 = p[W + 1];
        } else {
          if (i00) v00 = p[0];
          if (i01) v01 = p[1];
          if (i10) v10 = p[W];
          if (i11) v11 = p[W + 1];
        }
      }
      if constexpr (Fwd) {
        T acc = 0;
        if (i00) acc += w00 * v00;
        if (i01) acc += w01 * v01;
        if (i10) acc += w10 * v10;
        if (i11) acc += w11 * v11;
        on[c * P + i] = acc;
      } else {
        const T go = gon[c * P + i];
        if constexpr (NeedIn) {
          T* q = gn + c * vol + base;
          if (i00) q[0] += w00 * go;
          if (i01) q[1] += w01 * go;
          if (i10) q[W] += w10 * go;
          if (i11) q[W + 1] += w11 * go;
        }
        if constexpr (NeedGrid) {
          gx += go * ((v01 - v00) * wy0 + (v11 - v10) * wy1);
          gy += go * ((v10 - v00) * wx0 + (v11 - v01) * wx1);
        }
      }
    }
    if constexpr (NeedGrid) {
      gg[2 * i] = gx * mx[i];
      gg[2 * i + 1] = gy * my[i];
    }
  }
}

// Nearest: the voxel at round-half-to-even of each coordinate. s[k] holds axis k's coordinates
// (k = 0: x/W, 1: y/H, 2: z/D).
template <class T, bool Fwd, bool NeedIn>
void grid_block_nearest(const GridJob<T>& j, int64_t n, int64_t p0, int64_t count, const std::array<const T*, 3>& s,
                        T* gin) {
  const int64_t C = j.C, P = j.P, W = j.W, H = j.H, D = j.D, vol = j.vol;
  const T* xn = j.x ? j.x + n * C * vol : nullptr;  // no input when only its gradient is asked for
  T* on = Fwd ? j.out + n * C * P + p0 : nullptr;
  const T* gon = Fwd ? nullptr : j.gout + n * C * P + p0;
  T* gn = NeedIn ? gin + n * C * vol : nullptr;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t x = std::clamp<int64_t>(static_cast<int64_t>(std::nearbyint(s[0][i])), -1, W);
    const int64_t y = std::clamp<int64_t>(static_cast<int64_t>(std::nearbyint(s[1][i])), -1, H);
    const int64_t z = j.spatial == 3 ? std::clamp<int64_t>(static_cast<int64_t>(std::nearbyint(s[2][i])), -1, D) : 0;
    const bool in = x >= 0 && x < W && y >= 0 && y < H && z >= 0 && z < D;
    const int64_t o = (z * H + y) * W + x;
    for (int64_t c = 0; c < C; ++c) {
      if constexpr (Fwd) {
        on[c * P + i] = in ? xn[c * vol + o] : T(0);
      } else if constexpr (NeedIn) {
        if (in) gn[c * vol + o] += gon[c * P + i];
      }
    }
  }
}

// Bicubic (2D): coordinates unpadded; each of the 16 taps is padded on its own.
template <class T, bool Fwd, bool NeedIn, bool NeedGrid>
void grid_block_bicubic(const GridJob<T>& j, const GridSamplePlan& plan, int64_t n, int64_t p0, int64_t count,
                        const T* sx, const T* sy, const T* mx, const T* my, T* gin) {
  const int64_t C = j.C, P = j.P, W = j.W, H = j.H, vol = j.vol;
  const T* xn = j.x ? j.x + n * C * vol : nullptr;  // no input when only its gradient is asked for
  T* on = Fwd ? j.out + n * C * P + p0 : nullptr;
  const T* gon = Fwd ? nullptr : j.gout + n * C * P + p0;
  T* gn = NeedIn ? gin + n * C * vol : nullptr;
  T* gg = NeedGrid ? j.ggrid + (n * P + p0) * 2 : nullptr;
  const T limit = T(1 << 30);
  for (int64_t i = 0; i < count; ++i) {
    T ix = sx[i], iy = sy[i];
    const bool finite = !std::isnan(ix) && !std::isnan(iy);
    // an unpadded coordinate far outside stays far outside (or at the edge) when clamped
    ix = std::min(std::max(finite ? ix : T(0), -limit), limit);
    iy = std::min(std::max(finite ? iy : T(0), -limit), limit);
    const T fx = std::floor(ix), fy = std::floor(iy);
    const T tx = ix - fx, ty = iy - fy;
    const auto x0 = static_cast<int64_t>(fx) - 1, y0 = static_cast<int64_t>(fy) - 1;
    T wx[4], wy[4], dwx[4], dwy[4];
    cubic_weights(tx, wx, NeedGrid ? dwx : nullptr);
    cubic_weights(ty, wy, NeedGrid ? dwy : nullptr);
    int64_t cx[4], cy[4];
    for (int k = 0; k < 4; ++k) {
      cx[k] = finite ? grid_tap<T>(plan, x0 + k, W) : -1;
      cy[k] = finite ? grid_tap<T>(plan, y0 + k, H) : -1;
    }
    T gx = 0, gy = 0;
    for (int64_t c = 0; c < C; ++c) {
      const T* p = (Fwd || NeedGrid) ? xn + c * vol : nullptr;
      T acc = 0;
      const T go = Fwd ? T(0) : gon[c * P + i];
      for (int b = 0; b < 4; ++b) {
        T row = 0, drow = 0;
        for (int a = 0; a < 4; ++a) {
          if (cx[a] < 0 || cy[b] < 0) continue;
          const int64_t o = cy[b] * W + cx[a];
          if constexpr (NeedIn) gn[c * vol + o] += wx[a] * wy[b] * go;
          if (Fwd || NeedGrid) {
            const T v = p[o];
            row += wx[a] * v;
            if constexpr (NeedGrid) drow += dwx[a] * v;
          }
        }
        if constexpr (Fwd) acc += wy[b] * row;
        if constexpr (NeedGrid) {
          gx += go * wy[b] * drow;
          gy += go * dwy[b] * row;
        }
      }
      if constexpr (Fwd) on[c * P + i] = acc;
    }
    if constexpr (NeedGrid) {
      gg[2 * i] = gx * mx[i];
      gg[2 * i + 1] = gy * my[i];
    }
  }
}

// Runs one block: coordinates, then the mode's kernel.
template <class T, bool Fwd, bool NeedIn, bool NeedGrid>
void grid_block(const GridJob<T>& j, const GridSamplePlan& plan, int64_t n, int64_t p0, int64_t count, T* gin) {
  alignas(64) T s[3][kGridBlock];
  alignas(64) T m[3][kGridBlock];
  const int dim = j.spatial;
  const T* g = j.grid + (n * j.P + p0) * dim;
  const int64_t sizes[3] = {j.W, j.H, j.D};
  for (int k = 0; k < dim; ++k) grid_axis_coords<T>(plan, g + k, dim, count, sizes[k], s[k], m[k]);
  switch (plan.mode) {
    case GridSampleMode::bilinear:
      if (dim == 3 && NeedIn && NeedGrid && j.C > 1) {
        // two passes over the block: with several channels, the corners of the input and of its
        // gradient (equal offsets, a multiple of 4 KiB apart) would crowd the same L1 sets
        grid_block_bilinear3d<T, false, false, true>(j, n, p0, count, s[0], s[1], s[2], m[0], m[1], m[2], gin);
        grid_block_bilinear3d<T, false, true, false>(j, n, p0, count, s[0], s[1], s[2], m[0], m[1], m[2], gin);
      } else if (dim == 3) {
        grid_block_bilinear3d<T, Fwd, NeedIn, NeedGrid>(j, n, p0, count, s[0], s[1], s[2], m[0], m[1], m[2], gin);
      } else {
        grid_block_bilinear2d<T, Fwd, NeedIn, NeedGrid>(j, n, p0, count, s[0], s[1], m[0], m[1], gin);
      }
      break;
    case GridSampleMode::nearest:
      if constexpr (NeedGrid) {
        T* gg = j.ggrid + (n * j.P + p0) * dim;
        std::fill(gg, gg + count * dim, T(0));
      }
      if constexpr (Fwd || NeedIn) grid_block_nearest<T, Fwd, NeedIn>(j, n, p0, count, {s[0], s[1], s[2]}, gin);
      break;
    case GridSampleMode::bicubic:
      grid_block_bicubic<T, Fwd, NeedIn, NeedGrid>(j, plan, n, p0, count, s[0], s[1], m[0], m[1], gin);
      break;
  }
}

// Runs the blocks of items [ib, ie) (item = batch element * blocks + block).
template <class T, bool Fwd, bool NeedIn, bool NeedGrid>
void grid_items(const GridJob<T>& j, const GridSamplePlan& plan, int64_t ib, int64_t ie, T* gin) {
  const int64_t blocks = (j.P + kGridBlock - 1) / kGridBlock;
  for (int64_t item = ib; item < ie; ++item) {
    const int64_t n = item / blocks, b = item % blocks;
    const int64_t p0 = b * kGridBlock;
    grid_block<T, Fwd, NeedIn, NeedGrid>(j, plan, n, p0, std::min(kGridBlock, j.P - p0), gin);
  }
}

// The input rows (n * D + z in 3-D, n * H + y in 2-D) that the points of items [ib, ie) may write
// gradients to, as an inclusive range (empty when lo > hi); everything for bicubic with padding,
// whose reflected taps can land anywhere.
template <class T>
std::pair<int64_t, int64_t> grid_rows_touched(const GridJob<T>& j, const GridSamplePlan& plan, int64_t ib,
                                              int64_t ie) {
  const int dim = j.spatial;
  const int64_t S = dim == 3 ? j.D : j.H;
  if (plan.mode == GridSampleMode::bicubic && plan.padding != GridSamplePadding::zeros) return {0, j.N * S - 1};
  const int64_t blocks = (j.P + kGridBlock - 1) / kGridBlock;
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = -1;
  alignas(64) T s[kGridBlock];
  alignas(64) T m[kGridBlock];
  const T top = static_cast<T>(S + 4);
  for (int64_t item = ib; item < ie; ++item) {
    const int64_t n = item / blocks, p0 = (item % blocks) * kGridBlock, count = std::min(kGridBlock, j.P - p0);
    grid_axis_coords<T>(plan, j.grid + (n * j.P + p0) * dim + (dim - 1), dim, count, S, s, m);
    T fmin = top, fmax = T(-4);
    for (int64_t i = 0; i < count; ++i) {
      const T f = std::isnan(s[i]) ? T(0) : std::floor(s[i]);  // a NaN point writes nothing
      fmin = std::min(fmin, f);
      fmax = std::max(fmax, f);
    }
    if (count == 0) continue;
    // the taps of any mode lie within floor(s) - 1 ... floor(s) + 2
    const auto zlo = static_cast<int64_t>(std::min(std::max(fmin, T(-4)), top)) - 1;
    const auto zhi = static_cast<int64_t>(std::min(std::max(fmax, T(-4)), top)) + 2;
    lo = std::min(lo, n * S + std::clamp<int64_t>(zlo, 0, S - 1));
    hi = std::max(hi, n * S + std::clamp<int64_t>(zhi, 0, S - 1));
  }
  return {lo, hi};
}

// Items per chunk below which a loop stays on one thread.
template <class T>
int64_t grid_grain(const GridJob<T>& j) {
  return std::max<int64_t>(1, 4096 / (kGridBlock * std::max<int64_t>(j.C, 1)));
}

}  // namespace detail

// grid_sample for a checked plan (plan_grid_sample).
template <Real T, Device D>
Tensor<T, D> grid_sample_forward(const Tensor<T, D>& input, const Tensor<T, D>& grid, const GridSamplePlan& plan) {
  static_assert(std::is_same_v<D, Cpu>, "ops::grid_sample: CPU only for now");
  VOXNN_CHECK(input.shape() == plan.input && grid.shape() == plan.grid, "grid_sample: input ", input.shape(),
              " and grid ", grid.shape(), " for a plan made for ", plan.input, " and ", plan.grid);
  const Tensor<T, D> x = input.contiguous(), g = grid.contiguous();
  Tensor<T, D> out(plan.output);
  auto j = detail::make_job<T>(plan);
  j.x = x.data();
  j.grid = g.data();
  j.out = out.data();
  const int64_t items = j.N * ((j.P + detail::kGridBlock - 1) / detail::kGridBlock);
  if (j.C == 0 || items == 0) return out;
  parallel_for(0, items, detail::grid_grain(j), [&](int64_t ib, int64_t ie) {
    detail::grid_items<T, true, false, false>(j, plan, ib, ie, nullptr);
  });
  return out;
}

// The gradients of grid_sample: to the input (when need_input; the adjoint of the sampling applied
// to grad_output) and to the grid (when need_grid). Either tensor is undefined when not asked for.
// `input` is only read for the grid gradient.
template <Real T, Device D>
std::pair<Tensor<T, D>, Tensor<T, D>> grid_sample_backward(const Tensor<T, D>& grad_output, const Tensor<T, D>& input,
                                                           const Tensor<T, D>& grid, const GridSamplePlan& plan,
                                                           bool need_input, bool need_grid) {
  static_assert(std::is_same_v<D, Cpu>, "ops::grid_sample_backward: CPU only for now");
  VOXNN_CHECK(grad_output.shape() == plan.output && grid.shape() == plan.grid, "grid_sample_backward: gradient ",
              grad_output.shape(), " and grid ", grid.shape(), " for an output ", plan.output, " and grid ", plan.grid);
  VOXNN_CHECK(!need_grid || (input.defined() && input.shape() == plan.input), "grid_sample_backward: the grid gradient "
              "needs the input ", plan.input);
  const Tensor<T, D> go = grad_output.contiguous(), g = grid.contiguous();
  const Tensor<T, D> x = need_grid ? input.contiguous() : Tensor<T, D>();
  Tensor<T, D> gin, ggrid;
  auto j = detail::make_job<T>(plan);
  j.x = need_grid ? x.data() : nullptr;
  j.grid = g.data();
  j.gout = go.data();
  if (need_grid) {
    ggrid = Tensor<T, D>(plan.grid);
    j.ggrid = ggrid.data();
  }
  const int64_t blocks = (j.P + detail::kGridBlock - 1) / detail::kGridBlock;
  const int64_t items = j.N * blocks;
  const int64_t grain = detail::grid_grain(j);
  if (!need_input) {
    if (need_grid) {
      if (j.C == 0) {
        ggrid.zero_();
      } else {
        parallel_for(0, items, grain, [&](int64_t ib, int64_t ie) {
          detail::grid_items<T, false, false, true>(j, plan, ib, ie, nullptr);
        });
      }
    }
    return {gin, ggrid};
  }
  gin = Tensor<T, D>(plan.input);
  const int64_t total = gin.numel();
  T* pgin = gin.data();
  parallel_for(0, total, kParallelGrain, [&](int64_t b, int64_t e) { std::fill(pgin + b, pgin + e, T(0)); });
  if (items == 0 || j.C == 0) return {gin, ggrid};
  auto run = [&](int64_t ib, int64_t ie, T* buffer) {
    if (need_grid)
      detail::grid_items<T, false, true, true>(j, plan, ib, ie, buffer);
    else
      detail::grid_items<T, false, true, false>(j, plan, ib, ie, buffer);
  };
  const int threads = in_parallel_region() ? 1 : num_threads();
  const int64_t chunks = std::min<int64_t>(threads, (items + grain - 1) / grain);
  if (chunks <= 1) {
    run(0, items, pgin);
  } else if (j.N >= chunks) {
    // whole batch elements per chunk: their input gradients are disjoint
    parallel_for_each_dynamic(0, chunks, [&](int64_t c) {
      const int64_t nb = j.N * c / chunks, ne = j.N * (c + 1) / chunks;
      run(nb * blocks, ne * blocks, pgin);
    });
  } else {
    // Twice as many segments of points as chunks, run in two phases (even segments, then odd ones):
    // when the input rows that the segments of a phase write to are disjoint, as they are for a
    // displacement field moving voxels by less than a segment's thickness, every chunk scatters
    // straight into the result.
    const int64_t segs = 2 * chunks;
    auto seg_begin = [&](int64_t sgm) { return items * sgm / segs; };
    std::vector<std::pair<int64_t, int64_t>> rows(static_cast<std::size_t>(segs));
    parallel_for_each_dynamic(0, segs, [&](int64_t sgm) {
      rows[static_cast<std::size_t>(sgm)] = detail::grid_rows_touched(j, plan, seg_begin(sgm), seg_begin(sgm + 1));
    });
    bool disjoint = true;
    for (int64_t a = 0; a < segs; ++a)
      for (int64_t b = a + 2; b < segs; b += 2) {
        const auto& ra = rows[static_cast<std::size_t>(a)];
        const auto& rb = rows[static_cast<std::size_t>(b)];
        if (ra.first <= ra.second && rb.first <= rb.second && ra.first <= rb.second && rb.first <= ra.second)
          disjoint = false;
      }
    if (disjoint) {
      for (int64_t phase = 0; phase < 2; ++phase)
        parallel_for_each_dynamic(0, chunks, [&](int64_t c) {
          const int64_t sgm = 2 * c + phase;
          run(seg_begin(sgm), seg_begin(sgm + 1), pgin);
        });
      return {gin, ggrid};
    }
    // otherwise chunk 0 scatters into the result, the others into their own zeroed buffers, summed after
    std::vector<Tensor<T, D>> extra(static_cast<std::size_t>(chunks - 1));
    parallel_for_each_dynamic(0, chunks, [&](int64_t c) {
      T* buffer = pgin;
      if (c > 0) {
        auto& t = extra[static_cast<std::size_t>(c - 1)];
        t = Tensor<T, D>(plan.input);
        buffer = t.data();
        std::fill(buffer, buffer + total, T(0));
      }
      run(items * c / chunks, items * (c + 1) / chunks, buffer);
    });
    parallel_for(0, total, kParallelGrain, [&](int64_t b, int64_t e) {
      for (const auto& t : extra) {
        const T* src = t.data();
        for (int64_t i = b; i < e; ++i) pgin[i] += src[i];
      }
    });
  }
  return {gin, ggrid};
}

// The derivatives of the grid gradient GG = grid_sample_backward(g, input, grid).second, contracted
// with u (shaped like the grid): d<u, GG>/dg, d<u, GG>/dinput and d<u, GG>/dgrid, each when asked
// for (undefined otherwise). Bilinear / trilinear and nearest (where GG is 0, and so are these);
// bicubic is not provided. The blend weights are products of one linear factor per axis, so the
// second derivatives are the mixed ones; ds/dg is constant between the kinks.
template <Real T, Device D>
std::array<Tensor<T, D>, 3> grid_sample_grid_grad_backward(const Tensor<T, D>& grad_output, const Tensor<T, D>& input,
                                                           const Tensor<T, D>& grid, const Tensor<T, D>& u,
                                                           const GridSamplePlan& plan, bool need_g, bool need_input,
                                                           bool need_grid) {
  static_assert(std::is_same_v<D, Cpu>, "ops::grid_sample_grid_grad_backward: CPU only for now");
  VOXNN_CHECK(plan.mode != GridSampleMode::bicubic, "grid_sample: double backward through the grid gradient is not "
              "provided for mode 'bicubic' (input ", plan.input, ", grid ", plan.grid, ")");
  VOXNN_CHECK(grad_output.shape() == plan.output && input.shape() == plan.input && grid.shape() == plan.grid &&
                  u.shape() == plan.grid,
              "grid_sample_grid_grad_backward: shapes ", grad_output.shape(), ", ", input.shape(), ", ", grid.shape(),
              ", ", u.shape(), " for input ", plan.input, " and grid ", plan.grid);
  std::array<Tensor<T, D>, 3> out;
  if (need_g) out[0] = zeros<T, D>(plan.output);
  if (need_input) out[1] = zeros<T, D>(plan.input);
  if (need_grid) out[2] = zeros<T, D>(plan.grid);
  if (plan.mode == GridSampleMode::nearest) return out;
  const Tensor<T, D> go = grad_output.contiguous(), x = input.contiguous(), g = grid.contiguous(), uc = u.contiguous();
  auto j = detail::make_job<T>(plan);
  const int dim = j.spatial, K = 1 << dim;
  const int64_t sizes[3] = {j.W, j.H, j.D};
  const int64_t strides[3] = {1, j.W, j.W * j.H};
  const int64_t C = j.C, P = j.P, vol = j.vol;
  // one batch element at a time per thread: the input gradient of each is its own
  parallel_for(0, j.N, 1, [&](int64_t nb, int64_t ne) {
    alignas(64) T s[3][detail::kGridBlock];
    alignas(64) T m[3][detail::kGridBlock];
    for (int64_t n = nb; n < ne; ++n)
      for (int64_t p0 = 0; p0 < P; p0 += detail::kGridBlock) {
        const int64_t count = std::min(detail::kGridBlock, P - p0);
        const T* gp = g.data() + (n * P + p0) * dim;
        for (int a = 0; a < dim; ++a) detail::grid_axis_coords<T>(plan, gp + a, dim, count, sizes[a], s[a], m[a]);
        for (int64_t i = 0; i < count; ++i) {
          const int64_t p = p0 + i;
          T t[2][3];  // t[b][a]: weight factor of axis a for the lower (b = 0) or upper (b = 1) voxel
          int64_t lo[3] = {0, 0, 0};
          T um[3] = {0, 0, 0};  // u times ds/dg, per axis
          for (int a = 0; a < dim; ++a) {
            const T f = std::floor(s[a][i]);
            lo[a] = std::clamp<int64_t>(static_cast<int64_t>(f), -2, sizes[a]);
            t[1][a] = s[a][i] - f;
            t[0][a] = (f + T(1)) - s[a][i];
            um[a] = uc.data()[(n * P + p) * dim + a] * m[a][i];
          }
          for (int k = 0; k < K; ++k) {
            int64_t off = 0;
            bool inside = true;
            for (int a = 0; a < dim; ++a) {
              const int64_t c = lo[a] + (k >> a & 1);
              inside = inside && c >= 0 && c < sizes[a];
              off += c * strides[a];
            }
            if (!inside) continue;
            // omega: sum_a um_a dw/ds_a; hess[b]: sum_a um_a d2w/(ds_a ds_b)
            T omega = 0, hess[3] = {0, 0, 0};
            for (int a = 0; a < dim; ++a) {
              T d = (k >> a & 1) ? T(1) : T(-1);
              for (int b = 0; b < dim; ++b)
                if (b != a) d *= t[k >> b & 1][b];
              omega += um[a] * d;
              for (int b = 0; b < dim; ++b) {
                if (b == a) continue;
                T h = ((k >> a & 1) ? T(1) : T(-1)) * ((k >> b & 1) ? T(1) : T(-1));
                for (int e = 0; e < dim; ++e)
                  if (e != a && e != b) h *= t[k >> e & 1][e];
                hess[b] += um[a] * h;
              }
            }
            for (int64_t c = 0; c < C; ++c) {
              const T xv = x.data()[(n * C + c) * vol + off];
              const T gv = go.data()[(n * C + c) * P + p];
              if (need_g) out[0].data()[(n * C + c) * P + p] += omega * xv;
              if (need_input) out[1].data()[(n * C + c) * vol + off] += omega * gv;
              if (need_grid)
                for (int b = 0; b < dim; ++b) out[2].data()[(n * P + p) * dim + b] += hess[b] * gv * xv;
            }
          }
          if (need_grid)
            for (int b = 0; b < dim; ++b) out[2].data()[(n * P + p) * dim + b] *= m[b][i];
        }
      }
  });
  return out;
}

// torch.nn.functional.grid_sample on tensors; see the top of this file.
template <Real T, Device D>
Tensor<T, D> grid_sample(const Tensor<T, D>& input, const Tensor<T, D>& grid, const GridSampleOptions& options = {}) {
  return grid_sample_forward(input, grid, plan_grid_sample(input.shape(), grid.shape(), options));
}

// ---- affine_grid ---------------------------------------------------------------------------------

namespace detail {

// Checks theta against size and returns the spatial dim count (2 or 3).
inline int check_affine_grid(const Shape& theta, std::span<const int64_t> size) {
  const Shape s(size);
  VOXNN_CHECK(s.size() == 4 || s.size() == 5, "affine_grid: size ", s,
              " has ", s.size(), " values; expected 4 (N, C, H, W) or 5 (N, C, D, H, W)");
  const int spatial = s.size() - 2;
  VOXNN_CHECK(theta.size() == 3 && theta[0] == s[0] && theta[1] == spatial && theta[2] == spatial + 1,
              "affine_grid: theta has shape ", theta, "; expected [", s[0], ", ", spatial, ", ", spatial + 1,
              "] (a batch of ", spatial, "D affine matrices) for size ", s);
  for (int i = 0; i < s.size(); ++i) VOXNN_CHECK(s[i] >= 0, "affine_grid: negative extent in size ", s);
  return spatial;
}

// The normalised coordinates of an axis of n points, as PyTorch's base grid: linspace(-1, 1, n),
// scaled by (n - 1) / n without align_corners; a single point sits at 0.
template <class T>
std::vector<T> affine_axis(int64_t n, bool align_corners) {
  std::vector<T> v(static_cast<std::size_t>(std::max<int64_t>(n, 0)), T(0));
  if (n <= 1) return v;
  const T step = T(2) / static_cast<T>(n - 1);
  const int64_t half = n / 2;
  for (int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = i < half ? T(-1) + step * static_cast<T>(i) : T(1) - step * static_cast<T>(n - 1 - i);
  if (!align_corners)
    for (auto& x : v) x = x * static_cast<T>(n - 1) / static_cast<T>(n);
  return v;
}

}  // namespace detail

// torch.nn.functional.affine_grid: theta (N, 2, 3) with size (N, C, H, W) gives a grid (N, H, W, 2);
// theta (N, 3, 4) with size (N, C, D, H, W) gives (N, D, H, W, 3). Point (x, y[, z], 1) of the base
// grid maps to theta times it.
template <Real T, Device D>
Tensor<T, D> affine_grid(const Tensor<T, D>& theta, std::span<const int64_t> size, bool align_corners = false) {
  static_assert(std::is_same_v<D, Cpu>, "ops::affine_grid: CPU only for now");
  const int dim = detail::check_affine_grid(theta.shape(), size);
  const Shape s(size);
  const int64_t N = s[0], Dd = dim == 3 ? s[2] : 1, H = s[dim == 3 ? 3 : 2], W = s[dim == 3 ? 4 : 3];
  Shape out_shape{N};
  if (dim == 3) out_shape.push_back(Dd);
  out_shape.push_back(H);
  out_shape.push_back(W);
  out_shape.push_back(dim);
  Tensor<T, D> out(out_shape);
  const Tensor<T, D> th = theta.contiguous();
  const auto xs = detail::affine_axis<T>(W, align_corners), ys = detail::affine_axis<T>(H, align_corners),
             zs = detail::affine_axis<T>(Dd, align_corners);
  const T* pt = th.data();
  T* po = out.data();
  const int64_t rows = N * Dd * H, cols = dim + 1;
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(W * dim, 1)), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const int64_t n = r / (Dd * H), h = r % H, d = (r / H) % Dd;
      const T* t = pt + n * dim * cols;
      T* o = po + r * W * dim;
      const T y = ys[static_cast<std::size_t>(h)];
      const T z = dim == 3 ? zs[static_cast<std::size_t>(d)] : T(0);
      for (int i = 0; i < dim; ++i) {
        const T* ti = t + i * cols;
        // the terms that do not depend on x, summed in PyTorch's order (x, y[, z], 1)
        for (int64_t w = 0; w < W; ++w) {
          const T x = xs[static_cast<std::size_t>(w)];
          o[w * dim + i] = dim == 3 ? x * ti[0] + y * ti[1] + z * ti[2] + ti[3] : x * ti[0] + y * ti[1] + ti[2];
        }
      }
    }
  });
  return out;
}

// The adjoint of affine_grid: a grid gradient (N, [D,] H, W, dim) to a theta gradient (N, dim, dim + 1).
template <Real T, Device D>
Tensor<T, D> affine_grid_backward(const Tensor<T, D>& grad_grid, std::span<const int64_t> size, bool align_corners = false) {
  static_assert(std::is_same_v<D, Cpu>, "ops::affine_grid_backward: CPU only for now");
  const Shape s(size);
  VOXNN_CHECK(s.size() == 4 || s.size() == 5, "affine_grid_backward: size ", s, " has ", s.size(),
              " values; expected 4 or 5");
  const int dim = s.size() - 2;
  const int64_t N = s[0], Dd = dim == 3 ? s[2] : 1, H = s[dim == 3 ? 3 : 2], W = s[dim == 3 ? 4 : 3];
  VOXNN_CHECK(grad_grid.numel() == N * Dd * H * W * dim && grad_grid.dim() == dim + 2,
              "affine_grid_backward: gradient of shape ", grad_grid.shape(), " for size ", s);
  const Tensor<T, D> g = grad_grid.contiguous();
  const auto xs = detail::affine_axis<T>(W, align_corners), ys = detail::affine_axis<T>(H, align_corners),
             zs = detail::affine_axis<T>(Dd, align_corners);
  const int64_t cols = dim + 1;
  Tensor<T, D> out(Shape{N, dim, cols});
  T* po = out.data();
  const T* pg = g.data();
  parallel_for(0, N, 1, [&](int64_t nb, int64_t ne) {
    for (int64_t n = nb; n < ne; ++n) {
      std::array<double, 12> acc{};
      for (int64_t d = 0; d < Dd; ++d)
        for (int64_t h = 0; h < H; ++h) {
          const T* row = pg + ((n * Dd + d) * H + h) * W * dim;
          const double y = ys[static_cast<std::size_t>(h)], z = dim == 3 ? zs[static_cast<std::size_t>(d)] : 0.0;
          for (int i = 0; i < dim; ++i) {
            double sx = 0, s1 = 0;
            for (int64_t w = 0; w < W; ++w) {
              const double gv = row[w * dim + i];
              sx += gv * xs[static_cast<std::size_t>(w)];
              s1 += gv;
            }
            double* a = acc.data() + i * cols;
            a[0] += sx;
            a[1] += y * s1;
            if (dim == 3) a[2] += z * s1;
            a[dim] += s1;
          }
        }
      for (int64_t k = 0; k < dim * cols; ++k) po[n * dim * cols + k] = static_cast<T>(acc[static_cast<std::size_t>(k)]);
    }
  });
  return out;
}

template <Real T, Device D>
Tensor<T, D> affine_grid(const Tensor<T, D>& theta, std::initializer_list<int64_t> size, bool align_corners = false) {
  return affine_grid(theta, std::span<const int64_t>(size.begin(), size.size()), align_corners);
}

}  // namespace ops
}  // namespace voxnn
