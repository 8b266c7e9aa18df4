#pragma once
// The 2D parallel-beam Radon transform (forward projection) and its exact adjoint (back-projection),
// matrix-free, on Tensors (no autograd).
//
// Geometry (all lengths in pixels):
//   - an image (..., H, W): every leading index is one 2D plane, so a volume (N, C, D, H, W)
//     projects slice by slice to (N, C, D, angles, bins); the sinogram is (..., angles, bins);
//   - pixel (i, j) (row i, column j) is the unit square centred at x = j - (W - 1) / 2,
//     y = (H - 1) / 2 - i: x to the right, y up, the origin at the image centre;
//   - angle theta (radians) measures the detector direction from the x axis: bin b collects the
//     line integrals along the lines x cos(theta) + y sin(theta) = s with s inside the bin
//     [s_b - d / 2, s_b + d / 2], s_b = (b - (B - 1) / 2) d, d = bin_spacing; so at theta = 0 bin b
//     sees column b when B = W and d = 1, and at theta = pi / 2 the bottom row first (bin 0);
//     this is scikit-image's radon convention (its sinogram is our (bins, angles) transposed);
//   - default angles k pi / A for k = 0 .. A - 1; default bins ceil(sqrt(H^2 + W^2) / d), enough to
//     cover the whole image at every angle.
//
// Discretisation (distance-driven, exact for a piecewise-constant image along each line):
// the value of bin b is the mean over s in the bin of the line integral through the image, with the
// image taken as constant on each pixel along the lines of the axis that the rays cross most
// steeply: rows when |cos(theta)| >= |sin(theta)|, else columns. Along one such line (a row, say),
// the strip of rays of bin b crosses the row over an x-interval [u_b, u_{b+1}] and the row's
// contribution is (F(u_{b+1}) - F(u_b)) / d, F the running integral of the row (the piecewise-linear
// interpolant of its prefix sums); the ray length 1 / |cos| inside the row and the strip width
// d / |cos| cancel. Consequences:
//   - mass: the bins of one angle sum, times d, to the image sum whenever the detector covers the
//     image (exactly, for every angle), so one pixel of value v projects to a total of v / d;
//   - a uniform disk of radius r projects to about the bin average of 2 sqrt(r^2 - s^2) times its
//     value (the pixelated disk's strip integral);
//   - back_projection is the matrix transpose of radon (the same prefix-interpolation weights,
//     scattered instead of gathered), so <A x, y> = <x, A^T y> to rounding.
//
// Implementation: prefix sums of every row and column once per plane; per (plane, angle) each line
// evaluates F at the bin boundaries that fall on it (linear interpolation of the prefix sums at
// equally spaced positions) and differences them into the sinogram row. The adjoint runs per
// (plane, line) over the angles of its orientation: pixel m of a line sees boundary k through
// clamp(u_k - m, 0, 1), so its gradient telescopes to a two-tap interpolation of the sinogram row
// (boundaries at least a pixel apart, |beta| >= 1, the usual case) or, for finer bins, is scattered
// into the line's prefix gradient and summed back; no two threads write the same element. With
// AVX-512 both inner loops run 16 floats (8 doubles) at a time, the taps read by two loads and a
// permute when they fit in 32 (16) consecutive entries, by gathers otherwise. Positions and weights are
// computed in T; in float a bin is exact to about 1e-7 of the totals of the lines it crosses.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn {

struct RadonOptions {
  int64_t num_angles = 180;      // angles k pi / num_angles, k = 0 .. num_angles - 1 (unless `angles`)
  std::vector<double> angles{};  // explicit angles in radians (then num_angles is ignored)
  int64_t num_bins = 0;          // 0: ceil(sqrt(H^2 + W^2) / bin_spacing)
  double bin_spacing = 1.0;      // detector bin width, in pixels
};

namespace ops {

// A resolved projection geometry: image size, angles (radians), bins and their spacing.
struct RadonGeometry {
  int64_t height = 0, width = 0;
  std::vector<double> angles;
  int64_t num_bins = 0;
  double bin_spacing = 1.0;

  int64_t num_angles() const { return static_cast<int64_t>(angles.size()); }
  // The same geometry restricted to the angles at `indices` (ordered subsets).
  RadonGeometry subset(const std::vector<int64_t>& indices) const {
    VOXNN_CHECK(!indices.empty(), "RadonGeometry::subset: no angle indices");
    RadonGeometry g = *this;
    g.angles.clear();
    for (int64_t k : indices) {
      VOXNN_CHECK(k >= 0 && k < num_angles(), "RadonGeometry::subset: angle index ", k, " outside [0, ", num_angles(),
                  ")");
      g.angles.push_back(angles[static_cast<std::size_t>(k)]);
    }
    return g;
  }
};

inline RadonGeometry radon_geometry(int64_t height, int64_t width, const RadonOptions& o = {}) {
  VOXNN_CHECK(height > 0 && width > 0, "radon: image size ", height, " x ", width, " must be positive");
  VOXNN_CHECK(o.bin_spacing > 0 && std::isfinite(o.bin_spacing), "radon: bin_spacing ", o.bin_spacing,
              " must be positive and finite");
  RadonGeometry g;
  g.height = height;
  g.width = width;
  g.bin_spacing = o.bin_spacing;
  if (!o.angles.empty()) {
    for (double a : o.angles) VOXNN_CHECK(std::isfinite(a), "radon: angle ", a, " is not finite");
    g.angles = o.angles;
  } else {
    VOXNN_CHECK(o.num_angles > 0, "radon: num_angles ", o.num_angles, " must be positive (or give angles)");
    g.angles.resize(static_cast<std::size_t>(o.num_angles));
    for (int64_t k = 0; k < o.num_angles; ++k)
      g.angles[static_cast<std::size_t>(k)] =
          std::numbers::pi * static_cast<double>(k) / static_cast<double>(o.num_angles);
  }
  VOXNN_CHECK(o.num_bins >= 0, "radon: num_bins ", o.num_bins, " must be positive (or 0 for the default)");
  g.num_bins = o.num_bins > 0
                   ? o.num_bins
                   : static_cast<int64_t>(std::ceil(
                         std::sqrt(static_cast<double>(height * height + width * width)) / o.bin_spacing - 1e-9));
  if (g.num_bins < 1) g.num_bins = 1;
  return g;
}

namespace radon_detail {

// One angle: its lines are image rows (rows = true) or columns; boundary k (k = 0 .. B) of line l
// sits at position alpha0 + l * delta + k * beta along the line, in units where the line's pixel m
// covers [m, m + 1]. scale = sign(beta) / bin_spacing.
struct AngleLines {
  bool rows = true;
  double alpha0 = 0, delta = 0, beta = 1, scale = 1;
};

inline std::vector<AngleLines> angle_lines(const RadonGeometry& g) {
  const double cy = 0.5 * static_cast<double>(g.height - 1), cx = 0.5 * static_cast<double>(g.width - 1);
  const double d = g.bin_spacing, t0 = -0.5 * static_cast<double>(g.num_bins) * d;  // boundary 0
  std::vector<AngleLines> out;
  out.reserve(g.angles.size());
  for (double theta : g.angles) {
    const double c = std::cos(theta), s = std::sin(theta);
    AngleLines a;
    a.rows = std::abs(c) >= std::abs(s);
    if (a.rows) {  // row i (y = cy - i): x = (t - y s) / c, position x + cx + 0.5
      a.alpha0 = (t0 - cy * s) / c + cx + 0.5;
      a.delta = s / c;
      a.beta = d / c;
    } else {  // column j (x = j - cx): y = (t - x c) / s, position cy - y + 0.5
      a.alpha0 = cy + 0.5 - (t0 + cx * c) / s;
      a.delta = c / s;
      a.beta = -d / s;
    }
    a.scale = (a.beta > 0 ? 1.0 : -1.0) / d;
    out.push_back(a);
  }
  return out;
}

// The boundaries [lo, hi] (within [0, B]) of line `line` worth evaluating: outside, the clamped
// position is at one end of the line, so consecutive differences vanish.
struct LineSpan {
  double start;  // position of boundary 0
  int64_t lo, hi;
};

inline LineSpan line_span(const AngleLines& a, int64_t line, int64_t length, int64_t bins) {
  LineSpan sp;
  sp.start = a.alpha0 + static_cast<double>(line) * a.delta;
  const double k0 = (0.0 - sp.start) / a.beta, k1 = (static_cast<double>(length) - sp.start) / a.beta;
  const double lo = std::floor(std::min(k0, k1)) - 1, hi = std::ceil(std::max(k0, k1)) + 1;
  const double b = static_cast<double>(bins);
  sp.lo = static_cast<int64_t>(std::clamp(lo, 0.0, b));
  sp.hi = static_cast<int64_t>(std::clamp(hi, 0.0, b));
  return sp;
}

// Prefix sums of every row (H x (W + 1)) and of every column (W x (H + 1)) of one plane.
template <class T>
void prefix_rows(const T* x, int64_t H, int64_t W, T* P) {
  for (int64_t i = 0; i < H; ++i) {
    const T* row = x + i * W;
    T* p = P + i * (W + 1);
    T acc = 0;
    p[0] = 0;
    for (int64_t j = 0; j < W; ++j) {
      acc += row[j];
      p[j + 1] = acc;
    }
  }
}
template <class T>
void prefix_cols(const T* x, int64_t H, int64_t W, T* Q, T* acc) {
  for (int64_t j = 0; j < W; ++j) {
    acc[j] = 0;
    Q[j * (H + 1)] = 0;
  }
  for (int64_t i = 0; i < H; ++i) {
    const T* row = x + i * W;
    for (int64_t j = 0; j < W; ++j) {
      acc[j] += row[j];
      Q[j * (H + 1) + i + 1] = acc[j];
    }
  }
}

// F at the positions start + k beta, k = lo .. hi, into f[0 .. hi - lo], F being the running integral
// of the line: its prefix sums P interpolated linearly, the position clamped to [0, length].
template <class T>
void running_integral_scalar(const T* P, int32_t length, T start, T beta, int64_t lo, int64_t hi, T* f) {
  const T len = static_cast<T>(length);
  const int32_t last = length - 1;
  for (int64_t k = lo; k <= hi; ++k) {
    T u = start + static_cast<T>(k) * beta;
    u = u < T(0) ? T(0) : u;
    u = u > len ? len : u;
    int32_t m = static_cast<int32_t>(u);
    m = m > last ? last : m;
    const T w = u - static_cast<T>(m);
    const T p0 = P[m], p1 = P[m + 1];
    f[k - lo] = p0 + w * (p1 - p0);
  }
}

// The adjoint along one line for an angle whose boundaries are at least one pixel apart (|beta| >= 1):
// pixel j of the line sees F at boundary k through ramp(u_k - j) = clamp(u_k - j, 0, 1), so with
// g_k = q[k - 1] - q[k] its gradient sum_k g_k ramp(u_k - j) telescopes to a two-tap lerp of q at the
// first boundary past the pixel's left edge (beta > 0; mirrored for beta < 0). q is read through a
// pointer with two zeros on either side (q[-2] .. q[B + 1] valid).
template <class T>
void back_line_scalar(const T* q, int64_t B, T start, T beta, T scale, int32_t length, T* out) {
  const T inv = T(1) / beta;
  if (beta > 0) {
    for (int32_t j = 0; j < length; ++j) {
      const T jf = static_cast<T>(j);
      T kf = std::floor((jf - start) * inv) + T(1);  // first k with u_k > j
      kf = std::clamp(kf, T(0), static_cast<T>(B + 1));
      const auto k = static_cast<int64_t>(kf);
      const T t = std::clamp(start + kf * beta - jf, T(0), T(1));
      out[j] += scale * (q[k] + t * (q[k - 1] - q[k]));
    }
  } else {
    for (int32_t j = 0; j < length; ++j) {
      const T jf = static_cast<T>(j);
      T kf = std::ceil((jf - start) * inv) - T(1);  // last k with u_k > j
      kf = std::clamp(kf, T(-1), static_cast<T>(B));
      const auto k = static_cast<int64_t>(kf);
      const T t = std::clamp(start + kf * beta - jf, T(0), T(1));
      out[j] -= scale * (q[k - 1] + t * (q[k] - q[k - 1]));
    }
  }
}

#if defined(__AVX512F__)
inline void running_integral_simd(const float* P, int32_t length, float start, float beta, int64_t lo, int64_t hi,
                                  float* f) {
  const __m512 vlen = _mm512_set1_ps(static_cast<float>(length)), vbeta = _mm512_set1_ps(beta),
               vstart = _mm512_set1_ps(start), zero = _mm512_setzero_ps();
  const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i vlast = _mm512_set1_epi32(length - 1);
  const bool window = std::abs(beta) <= 1.9f;  // 15 |beta| + 2 <= 31
  const int64_t n = hi - lo + 1;
  for (int64_t i = 0; i < n; i += 16) {
    const int64_t rem = n - i;
    const __mmask16 mask = rem >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << rem) - 1);
    const __m512 kk = _mm512_add_ps(_mm512_set1_ps(static_cast<float>(lo + i)), iota);
    __m512 u = _mm512_fmadd_ps(kk, vbeta, vstart);
    u = _mm512_min_ps(_mm512_max_ps(u, zero), vlen);
    const __m512i m = _mm512_min_epi32(_mm512_cvttps_epi32(u), vlast);
    const __m512 w = _mm512_sub_ps(u, _mm512_cvtepi32_ps(m));
    __m512 p0, p1;
    if (window) {  // the 16 taps lie within 32 consecutive entries: two loads and two permutes
      const int32_t base = _mm512_mask_reduce_min_epi32(mask, m);
      const __m512 lo16 = _mm512_loadu_ps(P + base), hi16 = _mm512_loadu_ps(P + base + 16);
      const __m512i idx = _mm512_sub_epi32(m, _mm512_set1_epi32(base));
      p0 = _mm512_permutex2var_ps(lo16, idx, hi16);
      p1 = _mm512_permutex2var_ps(lo16, _mm512_add_epi32(idx, _mm512_set1_epi32(1)), hi16);
    } else {
      p0 = _mm512_mask_i32gather_ps(zero, mask, m, P, 4);
      p1 = _mm512_mask_i32gather_ps(zero, mask, m, P + 1, 4);
    }
    _mm512_mask_storeu_ps(f + i, mask, _mm512_fmadd_ps(w, _mm512_sub_ps(p1, p0), p0));
  }
}
inline void running_integral_simd(const double* P, int32_t length, double start, double beta, int64_t lo, int64_t hi,
                                  double* f) {
  const __m512d vlen = _mm512_set1_pd(static_cast<double>(length)), vbeta = _mm512_set1_pd(beta),
                vstart = _mm512_set1_pd(start), zero = _mm512_setzero_pd();
  const __m512d iota = _mm512_setr_pd(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i vlast = _mm256_set1_epi32(length - 1);
  const bool window = std::abs(beta) <= 1.8;  // 7 |beta| + 2 <= 15
  const int64_t n = hi - lo + 1;
  for (int64_t i = 0; i < n; i += 8) {
    const int64_t rem = n - i;
    const __mmask8 mask = rem >= 8 ? __mmask8(0xFF) : static_cast<__mmask8>((1u << rem) - 1);
    const __m512d kk = _mm512_add_pd(_mm512_set1_pd(static_cast<double>(lo + i)), iota);
    __m512d u = _mm512_fmadd_pd(kk, vbeta, vstart);
    u = _mm512_min_pd(_mm512_max_pd(u, zero), vlen);
    const __m256i m = _mm256_min_epi32(_mm512_cvttpd_epi32(u), vlast);
    const __m512d w = _mm512_sub_pd(u, _mm512_cvtepi32_pd(m));
    __m512d p0, p1;
    if (window) {  // the 8 taps lie within 16 consecutive entries
      const int32_t base = _mm512_mask_reduce_min_epi32(static_cast<__mmask16>(mask), _mm512_castsi256_si512(m));
      const __m512d lo8 = _mm512_loadu_pd(P + base), hi8 = _mm512_loadu_pd(P + base + 8);
      const __m512i idx = _mm512_cvtepi32_epi64(_mm256_sub_epi32(m, _mm256_set1_epi32(base)));
      p0 = _mm512_permutex2var_pd(lo8, idx, hi8);
      p1 = _mm512_permutex2var_pd(lo8, _mm512_add_epi64(idx, _mm512_set1_epi64(1)), hi8);
    } else {
      p0 = _mm512_mask_i32gather_pd(zero, mask, m, P, 8);
      p1 = _mm512_mask_i32gather_pd(zero, mask, m, P + 1, 8);
    }
    _mm512_mask_storeu_pd(f + i, mask, _mm512_fmadd_pd(w, _mm512_sub_pd(p1, p0), p0));
  }
}

inline void back_line_simd(const float* q, int64_t B, float start, float beta, float scale, int32_t length,
                           float* out) {
  const bool up = beta > 0;
  const __m512 vinv = _mm512_set1_ps(1.0f / beta), vbeta = _mm512_set1_ps(beta), vstart = _mm512_set1_ps(start);
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
  const __m512 kmin = _mm512_set1_ps(up ? 0.0f : -1.0f), kmax = _mm512_set1_ps(static_cast<float>(up ? B + 1 : B));
  const __m512 vscale = _mm512_set1_ps(up ? scale : -scale);
  const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int32_t j0 = 0; j0 < length; j0 += 16) {
    const int32_t rem = length - j0;
    const __mmask16 mask = rem >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << rem) - 1);
    const __m512 jf = _mm512_add_ps(_mm512_set1_ps(static_cast<float>(j0)), iota);
    const __m512 r = _mm512_mul_ps(_mm512_sub_ps(jf, vstart), vinv);
    __m512 kf = up ? _mm512_add_ps(_mm512_roundscale_ps(r, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), one)
                   : _mm512_sub_ps(_mm512_roundscale_ps(r, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC), one);
    kf = _mm512_min_ps(_mm512_max_ps(kf, kmin), kmax);
    const __m512i k = _mm512_cvttps_epi32(kf);  // exact: kf is an integer >= -1
    __m512 t = _mm512_sub_ps(_mm512_fmadd_ps(kf, vbeta, vstart), jf);
    t = _mm512_min_ps(_mm512_max_ps(t, zero), one);
    // beta > 0: q[k] + t (q[k - 1] - q[k]); beta < 0: q[k - 1] + t (q[k] - q[k - 1]), negated by vscale.
    // |beta| >= 1: the 16 pixels read at most 15 / |beta| + 2 <= 17 consecutive entries of q.
    const int32_t base = _mm512_mask_reduce_min_epi32(mask, k) - 1;
    const __m512 lo16 = _mm512_loadu_ps(q + base), hi16 = _mm512_loadu_ps(q + base + 16);
    const __m512i idx = _mm512_sub_epi32(k, _mm512_set1_epi32(base));
    const __m512 qk = _mm512_permutex2var_ps(lo16, idx, hi16);
    const __m512 qm = _mm512_permutex2var_ps(lo16, _mm512_sub_epi32(idx, _mm512_set1_epi32(1)), hi16);
    const __m512 a = up ? qk : qm, b = up ? qm : qk;
    const __m512 v = _mm512_fmadd_ps(t, _mm512_sub_ps(b, a), a);
    float* o = out + j0;
    _mm512_mask_storeu_ps(o, mask, _mm512_fmadd_ps(vscale, v, _mm512_maskz_loadu_ps(mask, o)));
  }
}
inline void back_line_simd(const double* q, int64_t B, double start, double beta, double scale, int32_t length,
                           double* out) {
  const bool up = beta > 0;
  const __m512d vinv = _mm512_set1_pd(1.0 / beta), vbeta = _mm512_set1_pd(beta), vstart = _mm512_set1_pd(start);
  const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
  const __m512d kmin = _mm512_set1_pd(up ? 0.0 : -1.0), kmax = _mm512_set1_pd(static_cast<double>(up ? B + 1 : B));
  const __m512d vscale = _mm512_set1_pd(up ? scale : -scale);
  const __m512d iota = _mm512_setr_pd(0, 1, 2, 3, 4, 5, 6, 7);
  for (int32_t j0 = 0; j0 < length; j0 += 8) {
    const int32_t rem = length - j0;
    const __mmask8 mask = rem >= 8 ? __mmask8(0xFF) : static_cast<__mmask8>((1u << rem) - 1);
    const __m512d jf = _mm512_add_pd(_mm512_set1_pd(static_cast<double>(j0)), iota);
    const __m512d r = _mm512_mul_pd(_mm512_sub_pd(jf, vstart), vinv);
    __m512d kf = up ? _mm512_add_pd(_mm512_roundscale_pd(r, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), one)
                    : _mm512_sub_pd(_mm512_roundscale_pd(r, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC), one);
    kf = _mm512_min_pd(_mm512_max_pd(kf, kmin), kmax);
    const __m256i k = _mm512_cvttpd_epi32(kf);
    __m512d t = _mm512_sub_pd(_mm512_fmadd_pd(kf, vbeta, vstart), jf);
    t = _mm512_min_pd(_mm512_max_pd(t, zero), one);
    // |beta| >= 1: the 8 pixels read at most 7 / |beta| + 2 <= 9 consecutive entries of q.
    const int32_t base = _mm512_mask_reduce_min_epi32(static_cast<__mmask16>(mask), _mm512_castsi256_si512(k)) - 1;
    const __m512d lo8 = _mm512_loadu_pd(q + base), hi8 = _mm512_loadu_pd(q + base + 8);
    const __m512i idx = _mm512_cvtepi32_epi64(_mm256_sub_epi32(k, _mm256_set1_epi32(base)));
    const __m512d qk = _mm512_permutex2var_pd(lo8, idx, hi8);
    const __m512d qm = _mm512_permutex2var_pd(lo8, _mm512_sub_epi64(idx, _mm512_set1_epi64(1)), hi8);
    const __m512d a = up ? qk : qm, b = up ? qm : qk;
    const __m512d v = _mm512_fmadd_pd(t, _mm512_sub_pd(b, a), a);
    double* o = out + j0;
    _mm512_mask_storeu_pd(o, mask, _mm512_fmadd_pd(vscale, v, _mm512_maskz_loadu_pd(mask, o)));
  }
}
#endif

template <class T>
void running_integral(const T* P, int32_t length, T start, T beta, int64_t lo, int64_t hi, T* f) {
#if defined(__AVX512F__)
  running_integral_simd(P, length, start, beta, lo, hi, f);
#else
  running_integral_scalar(P, length, start, beta, lo, hi, f);
#endif
}
template <class T>
void back_line(const T* q, int64_t B, T start, T beta, T scale, int32_t length, T* out) {
#if defined(__AVX512F__)
  back_line_simd(q, B, start, beta, scale, length, out);
#else
  back_line_scalar(q, B, start, beta, scale, length, out);
#endif
}

// The adjoint along one line for any beta (also |beta| < 1, several boundaries inside one pixel):
// the weights of F at each boundary scattered into the gradient dP of the line's prefix sums (whose
// suffix sums are the pixel gradients).
template <class T>
void scatter_line(const T* q, int64_t lo, int64_t hi, T start, T beta, T scale, int32_t length, T* dP) {
  const T len = static_cast<T>(length);
  const int32_t last = length - 1;
  for (int64_t k = lo; k <= hi; ++k) {
    const T g = scale * ((k > lo ? q[k - 1] : T(0)) - (k < hi ? q[k] : T(0)));
    T u = start + static_cast<T>(k) * beta;
    u = u < T(0) ? T(0) : u;
    u = u > len ? len : u;
    int32_t m = static_cast<int32_t>(u);
    m = m > last ? last : m;
    const T w = u - static_cast<T>(m);
    dP[m] += g - w * g;
    dP[m + 1] += w * g;
  }
}

}  // namespace radon_detail

// A geometry built by hand (or an empty subset) must still describe something to project onto.
inline void check_geometry(const RadonGeometry& g, const char* op) {
  VOXNN_CHECK(g.height > 0 && g.width > 0 && g.num_bins > 0 && g.num_angles() > 0, op, ": geometry with image ",
              g.height, " x ", g.width, ", ", g.num_angles(), " angles and ", g.num_bins,
              " bins; every count must be positive");
  VOXNN_CHECK(g.bin_spacing > 0 && std::isfinite(g.bin_spacing), op, ": bin_spacing ", g.bin_spacing,
              " must be positive and finite");
  for (double a : g.angles) VOXNN_CHECK(std::isfinite(a), op, ": angle ", a, " is not finite");
}

inline void check_radon_image(const Shape& s, const RadonGeometry& g, const char* op) {
  check_geometry(g, op);
  VOXNN_CHECK(s.size() >= 2, op, ": image has ", s.size(), " dims ", s, "; expected (..., H, W) with at least 2 dims");
  VOXNN_CHECK(s[s.size() - 2] == g.height && s[s.size() - 1] == g.width, op, ": image ", s,
              " does not match the geometry's image size ", g.height, " x ", g.width);
}
inline void check_sinogram(const Shape& s, const RadonGeometry& g, const char* op) {
  check_geometry(g, op);
  VOXNN_CHECK(s.size() >= 2, op, ": sinogram has ", s.size(), " dims ", s,
              "; expected (..., angles, bins) with at least 2 dims");
  VOXNN_CHECK(s[s.size() - 2] == g.num_angles() && s[s.size() - 1] == g.num_bins, op, ": sinogram ", s,
              " does not match the geometry's ", g.num_angles(), " angles x ", g.num_bins, " bins");
}

// The projection (..., H, W) -> (..., angles, bins).
template <Real T, Device D>
Tensor<T, D> radon(const Tensor<T, D>& image, const RadonGeometry& g) {
  static_assert(std::is_same_v<D, Cpu>, "ops::radon: CPU only for now");
  check_radon_image(image.shape(), g, "radon");
  const Tensor<T, D> x = image.contiguous();
  const int64_t H = g.height, W = g.width, A = g.num_angles(), B = g.num_bins;
  Shape out_shape = image.shape();
  out_shape[out_shape.size() - 2] = A;
  out_shape[out_shape.size() - 1] = B;
  Tensor<T, D> out(out_shape);
  const int64_t planes = H * W > 0 ? image.numel() / (H * W) : 0;
  if (planes == 0 || A == 0) return out;
  const auto lines = radon_detail::angle_lines(g);
  bool any_rows = false, any_cols = false;
  for (const auto& a : lines) (a.rows ? any_rows : any_cols) = true;
  const int64_t row_plane = any_rows ? H * (W + 1) : 0, col_plane = any_cols ? W * (H + 1) : 0;
  // (32 spare entries at the end: the SIMD kernel reads whole vectors from a line's prefix sums.)
  std::vector<T> P(static_cast<std::size_t>(planes * row_plane + 32)),
      Q(static_cast<std::size_t>(planes * col_plane + 32));
  const T* px = x.data();
  parallel_for(0, planes, std::max<int64_t>(1, kParallelGrain / (H * W)), [&](int64_t b, int64_t e) {
    std::vector<T> acc(static_cast<std::size_t>(W));
    for (int64_t p = b; p < e; ++p) {
      if (any_rows) radon_detail::prefix_rows(px + p * H * W, H, W, P.data() + p * row_plane);
      if (any_cols) radon_detail::prefix_cols(px + p * H * W, H, W, Q.data() + p * col_plane, acc.data());
    }
  });
  T* po = out.data();
  const int64_t items = planes * A;
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / (H * W));
  parallel_for(0, items, grain, [&](int64_t ib, int64_t ie) {
    std::vector<T> f(static_cast<std::size_t>(B + 1));
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t p = item / A, k = item % A;
      const auto& a = lines[static_cast<std::size_t>(k)];
      T* o = po + item * B;
      std::fill(o, o + B, T(0));
      const int64_t nlines = a.rows ? H : W, length = a.rows ? W : H;
      const T* base = a.rows ? P.data() + p * row_plane : Q.data() + p * col_plane;
      const T beta = static_cast<T>(a.beta);
      for (int64_t l = 0; l < nlines; ++l) {
        const auto sp = radon_detail::line_span(a, l, length, B);
        if (sp.hi <= sp.lo) continue;
        radon_detail::running_integral(base + l * (length + 1), static_cast<int32_t>(length), static_cast<T>(sp.start),
                                       beta, sp.lo, sp.hi, f.data());
        // Differences within one line: exact zeros where the line is empty, rounding relative to the
        // line's own total.
        const T* fl = f.data() - sp.lo;
        for (int64_t bin = sp.lo; bin < sp.hi; ++bin) o[bin] += fl[bin + 1] - fl[bin];
      }
      const T scale = static_cast<T>(a.scale);
      for (int64_t bin = 0; bin < B; ++bin) o[bin] *= scale;
    }
  });
  return out;
}

template <Real T, Device D>
Tensor<T, D> radon(const Tensor<T, D>& image, const RadonOptions& o = {}) {
  VOXNN_CHECK(image.dim() >= 2, "radon: image has ", image.dim(), " dims ", image.shape(),
              "; expected (..., H, W) with at least 2 dims");
  return radon(image, radon_geometry(image.size(-2), image.size(-1), o));
}

// The adjoint of radon: (..., angles, bins) -> (..., H, W).
template <Real T, Device D>
Tensor<T, D> back_projection(const Tensor<T, D>& sinogram, const RadonGeometry& g) {
  static_assert(std::is_same_v<D, Cpu>, "ops::back_projection: CPU only for now");
  check_sinogram(sinogram.shape(), g, "back_projection");
  const Tensor<T, D> q = sinogram.contiguous();
  const int64_t H = g.height, W = g.width, A = g.num_angles(), B = g.num_bins;
  Shape out_shape = sinogram.shape();
  out_shape[out_shape.size() - 2] = H;
  out_shape[out_shape.size() - 1] = W;
  Tensor<T, D> out(out_shape);
  const int64_t planes = out.numel() / (H * W);
  if (planes == 0) return out;
  const auto lines = radon_detail::angle_lines(g);
  std::vector<int64_t> row_angles, col_angles;
  for (int64_t k = 0; k < A; ++k) (lines[static_cast<std::size_t>(k)].rows ? row_angles : col_angles).push_back(k);
  // The sinogram rows with two zeros on either side, for the two-tap reads of back_line.
  const int64_t stride = B + 4;
  std::vector<T> qpad(static_cast<std::size_t>(planes * A * stride + 32), T(0));  // 32 spare, as in radon
  const T* pq = q.data();
  parallel_for(0, planes * A, std::max<int64_t>(1, kParallelGrain / stride), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) std::copy(pq + r * B, pq + (r + 1) * B, qpad.data() + r * stride + 2);
  });
  // One item per (plane, line): row lines write their output row; column lines write a column-major
  // scratch plane (W x H) added in at the end.
  const bool any_cols = !col_angles.empty();
  std::vector<T> Cs(static_cast<std::size_t>(any_cols ? planes * W * H : 0));
  const int64_t lines_per_plane = H + (any_cols ? W : 0);
  T* po = out.data();
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / (A * std::max(H, W)));
  parallel_for(0, planes * lines_per_plane, grain, [&](int64_t ib, int64_t ie) {
    std::vector<T> dP;
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t p = item / lines_per_plane, r = item % lines_per_plane;
      const bool rows = r < H;
      const int64_t l = rows ? r : r - H;
      const int64_t length = rows ? W : H;
      T* o = rows ? po + (p * H + l) * W : Cs.data() + (p * W + l) * H;
      std::fill(o, o + length, T(0));
      bool scattered = false;
      for (int64_t k : rows ? row_angles : col_angles) {
        const auto& a = lines[static_cast<std::size_t>(k)];
        const T* qa = qpad.data() + (p * A + k) * stride + 2;
        const T scale = static_cast<T>(a.scale), beta = static_cast<T>(a.beta);
        if (std::abs(a.beta) >= 1.0) {
          const double start = a.alpha0 + static_cast<double>(l) * a.delta;
          radon_detail::back_line(qa, B, static_cast<T>(start), beta, scale, static_cast<int32_t>(length), o);
        } else {
          const auto sp = radon_detail::line_span(a, l, length, B);
          if (sp.hi <= sp.lo) continue;
          if (!scattered) dP.assign(static_cast<std::size_t>(length + 1), T(0));
          scattered = true;
          radon_detail::scatter_line(qa, sp.lo, sp.hi, static_cast<T>(sp.start), beta, scale,
                                     static_cast<int32_t>(length), dP.data());
        }
      }
      if (scattered) {  // pixel m enters every prefix sum after it: its gradient is a suffix sum
        T acc = 0;
        for (int64_t m = length; m >= 1; --m) {
          acc += dP[static_cast<std::size_t>(m)];
          o[m - 1] += acc;
        }
      }
    }
  });
  if (any_cols) {
    parallel_for(0, planes * H, std::max<int64_t>(1, kParallelGrain / W), [&](int64_t ib, int64_t ie) {
      for (int64_t item = ib; item < ie; ++item) {
        const int64_t p = item / H, i = item % H;
        T* o = po + item * W;
        const T* c = Cs.data() + p * W * H + i;
        for (int64_t j = 0; j < W; ++j) o[j] += c[j * H];
      }
    });
  }
  return out;
}

}  // namespace ops
}  // namespace voxnn
