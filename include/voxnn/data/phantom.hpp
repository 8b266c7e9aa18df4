#pragma once
// Digital phantoms built from ellipses and ellipsoids: the 2D Shepp-Logan head (original and modified
// intensities), the 3D Shepp-Logan head of Kak & Slaney, and a seeded random brain-like phantom with
// a label map, for simulation (PET, MRI) and tests.
//
// Coordinates: every axis spans [-1, 1] over the image, whatever its size, with samples at the pixel
// centres: x_j = (2 j + 1) / W - 1 (columns, to the right), y_i = 1 - (2 i + 1) / H (rows, upwards),
// z_k = (2 k + 1) / D - 1 (slices). An ellipsoid is the set of points p with |M (p - centre)| <= 1,
// M = diag(1 / a, 1 / b, 1 / c) R^T, R = Rz(phi) Ry(theta) Rx(psi) (degrees, counterclockwise: phi
// turns the x axis toward y). Tables add their values where ellipsoids overlap; a 2D image is the
// plane z = 0 with the z terms dropped.
//
// Shepp-Logan tables:
//   - 2D: Shepp & Logan (1974) as tabulated by Kak & Slaney (1988, table 3.1), intensities
//     2, -0.98, -0.02, -0.02, 0.01 x 6 (original) or Toft's 1, -0.8, -0.2, -0.2, 0.1 x 6 (modified,
//     MATLAB's "Modified Shepp-Logan"); MATLAB's table puts the ninth ellipse at y = -0.606, this one
//     at -0.605 as Kak & Slaney.
//   - 3D: Kak & Slaney (1988, table 3.2 with their errata), intensities 2, -0.98, -0.02, -0.02, 0.02,
//     0.02, 0.01, 0.01, 0.02, -0.02 (original) or Yu, Ye & Wang's higher-contrast 1, -0.8, -0.2, -0.2,
//     0.2, 0.2, 0.1, 0.1, 0.2, -0.2 (modified).
// `supersample` s > 1 averages s points per axis inside each pixel (partial-volume edges).
//
// brain_phantom: a head of random shape and pose made of a skull shell, grey matter filling the
// brain, a few random white-matter ellipsoids kept inside an inner cortex boundary, two mirrored
// ventricles and small random lesions; labels (BrainLabel) by precedence lesion > csf > white >
// grey > skull > background, the image and an attenuation map (mu, 1/cm at 511 keV) by label.
// The same seed gives the same phantom.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::data {

struct Ellipsoid {
  double x0 = 0, y0 = 0, z0 = 0;  // centre
  double a = 1, b = 1, c = 1;     // semi-axes along the ellipsoid's own x, y, z
  double phi = 0;                 // rotation about z, degrees
  double value = 1;               // added inside
  double theta = 0, psi = 0;      // rotations about y and x, degrees (applied before phi)
};

// The 2D Shepp-Logan ellipses (c and z0 unused).
inline std::vector<Ellipsoid> shepp_logan_ellipses(bool modified = true) {
  // clang-format off
  //                         x0      y0       a       b     phi  original  modified
  const double t[10][7] = {{0, 0, 0.69, 0.92, 0, 2.0, 1.0},
                           {0, -0.0184, 0.6624, 0.874, 0, -0.98, -0.8},
                           {0.22, 0, 0.11, 0.31, -18, -0.02, -0.2},
                           {-0.22, 0, 0.16, 0.41, 18, -0.02, -0.2},
                           {0, 0.35, 0.21, 0.25, 0, 0.01, 0.1},
                           {0, 0.1, 0.046, 0.046, 0, 0.01, 0.1},
                           {0, -0.1, 0.046, 0.046, 0, 0.01, 0.1},
                           {-0.08, -0.605, 0.046, 0.023, 0, 0.01, 0.1},
                           {0, -0.605, 0.023, 0.023, 0, 0.01, 0.1},
                           {0.06, -0.605, 0.023, 0.046, 0, 0.01, 0.1}};
  // clang-format on
  std::vector<Ellipsoid> out;
  for (const auto& r : t)
    out.push_back({.x0 = r[0], .y0 = r[1], .a = r[2], .b = r[3], .c = 1, .phi = r[4], .value = modified ? r[6] : r[5]});
  return out;
}

// The 3D Shepp-Logan ellipsoids (Kak & Slaney).
inline std::vector<Ellipsoid> shepp_logan_ellipsoids(bool modified = true) {
  // clang-format off
  //                         x0      y0      z0      a       b      c     phi  original modified
  const double t[10][9] = {{0, 0, 0, 0.69, 0.92, 0.9, 0, 2.0, 1.0},
                           {0, 0, 0, 0.6624, 0.874, 0.88, 0, -0.98, -0.8},
                           {-0.22, 0, -0.25, 0.41, 0.16, 0.21, 108, -0.02, -0.2},
                           {0.22, 0, -0.25, 0.31, 0.11, 0.22, 72, -0.02, -0.2},
                           {0, 0.35, -0.25, 0.21, 0.25, 0.5, 0, 0.02, 0.2},
                           {0, 0.1, -0.25, 0.046, 0.046, 0.046, 0, 0.02, 0.2},
                           {-0.08, -0.65, -0.25, 0.046, 0.023, 0.02, 0, 0.01, 0.1},
                           {0.06, -0.65, -0.25, 0.046, 0.023, 0.02, 90, 0.01, 0.1},
                           {0.06, -0.105, 0.625, 0.056, 0.04, 0.1, 90, 0.02, 0.2},
                           {0, 0.1, 0.625, 0.056, 0.056, 0.1, 0, -0.02, -0.2}};
  // clang-format on
  std::vector<Ellipsoid> out;
  for (const auto& r : t)
    out.push_back({.x0 = r[0],
                   .y0 = r[1],
                   .z0 = r[2],
                   .a = r[3],
                   .b = r[4],
                   .c = r[5],
                   .phi = r[6],
                   .value = modified ? r[8] : r[7]});
  return out;
}

namespace phantom_detail {

// An ellipsoid ready for point tests, with its bounding box.
struct Placed {
  std::array<double, 3> centre{};
  std::array<std::array<double, 3>, 3> M{};  // rows: the ellipsoid's axes divided by the semi-axes
  std::array<double, 3> extent{};            // half-size of the bounding box along x, y, z
  double value = 0;
  bool planar = false;

  bool contains(double x, double y, double z) const {
    const double dx = x - centre[0], dy = y - centre[1], dz = planar ? 0.0 : z - centre[2];
    double s = 0;
    for (int r = 0; r < (planar ? 2 : 3); ++r) {
      const double q = M[r][0] * dx + M[r][1] * dy + M[r][2] * dz;
      s += q * q;
    }
    return s <= 1.0;
  }
};

inline Placed place(const Ellipsoid& e, bool planar) {
  const double d2r = std::numbers::pi / 180.0;
  const double cf = std::cos(e.phi * d2r), sf = std::sin(e.phi * d2r);
  const double ct = planar ? 1.0 : std::cos(e.theta * d2r), st = planar ? 0.0 : std::sin(e.theta * d2r);
  const double cp = planar ? 1.0 : std::cos(e.psi * d2r), sp = planar ? 0.0 : std::sin(e.psi * d2r);
  // R = Rz(phi) Ry(theta) Rx(psi); its columns are the ellipsoid's axes in image coordinates.
  const std::array<std::array<double, 3>, 3> Rz = {{{cf, -sf, 0}, {sf, cf, 0}, {0, 0, 1}}};
  const std::array<std::array<double, 3>, 3> Ry = {{{ct, 0, st}, {0, 1, 0}, {-st, 0, ct}}};
  const std::array<std::array<double, 3>, 3> Rx = {{{1, 0, 0}, {0, cp, -sp}, {0, sp, cp}}};
  auto mul = [](const auto& A, const auto& B) {
    std::array<std::array<double, 3>, 3> C{};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 3; ++k) C[i][j] += A[i][k] * B[k][j];
    return C;
  };
  const auto R = mul(mul(Rz, Ry), Rx);
  Placed p;
  p.planar = planar;
  p.centre = {e.x0, e.y0, planar ? 0.0 : e.z0};
  p.value = e.value;
  const std::array<double, 3> axes = {e.a, e.b, e.c};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) p.M[r][c] = R[c][r] / axes[r];
  for (int i = 0; i < 3; ++i) {
    double s = 0;
    for (int j = 0; j < (planar ? 2 : 3); ++j) s += (R[i][j] * axes[j]) * (R[i][j] * axes[j]);
    p.extent[i] = std::sqrt(s);
  }
  return p;
}

// Pixel centre coordinate of index i on an axis of n samples, and the index range whose pixels may
// meet [lo, hi] (inclusive, clamped to the axis).
inline double coord(int64_t i, int64_t n, double offset = 0.5) {
  return (2.0 * (static_cast<double>(i) + offset)) / static_cast<double>(n) - 1.0;
}
inline std::array<int64_t, 2> index_range(double lo, double hi, int64_t n) {
  const double f = static_cast<double>(n);
  const auto first = static_cast<int64_t>(std::floor((lo + 1.0) * f / 2.0)) - 1;
  const auto last = static_cast<int64_t>(std::ceil((hi + 1.0) * f / 2.0)) + 1;
  return {std::max<int64_t>(first, 0), std::min<int64_t>(last, n - 1)};
}

// Calls f(k, i, j) for the voxels of an (D, H, W) grid (D = 1 and z = 0 when planar) whose
// centres may lie in p, in parallel over (k, i) rows.
template <class F>
void for_each_in_box(const Placed& p, int64_t D, int64_t H, int64_t W, F f) {
  const auto xr = index_range(p.centre[0] - p.extent[0], p.centre[0] + p.extent[0], W);
  // y decreases with the row index: rows for y in [lo, hi] are those for -y in [-hi, -lo].
  const auto yr = index_range(-(p.centre[1] + p.extent[1]), -(p.centre[1] - p.extent[1]), H);
  const auto zr =
      p.planar ? std::array<int64_t, 2>{0, 0} : index_range(p.centre[2] - p.extent[2], p.centre[2] + p.extent[2], D);
  if (xr[0] > xr[1] || yr[0] > yr[1] || zr[0] > zr[1]) return;
  const int64_t rows = yr[1] - yr[0] + 1, items = (zr[1] - zr[0] + 1) * rows;
  parallel_for(0, items, std::max<int64_t>(1, 4096 / (xr[1] - xr[0] + 1)), [&](int64_t b, int64_t e) {
    for (int64_t item = b; item < e; ++item) {
      const int64_t k = zr[0] + item / rows, i = yr[0] + item % rows;
      for (int64_t j = xr[0]; j <= xr[1]; ++j) f(k, i, j);
    }
  });
}

// Adds the (supersampled) ellipsoids into a (D, H, W) volume (D = 1 when planar).
template <class T>
void add_ellipsoids(T* out, int64_t D, int64_t H, int64_t W, const std::vector<Ellipsoid>& table, bool planar,
                    int64_t s) {
  const int64_t zs = planar ? 1 : s;
  const double weight = 1.0 / static_cast<double>(s * s * zs);
  for (const auto& e : table) {
    const Placed p = place(e, planar);
    for_each_in_box(p, D, H, W, [&](int64_t k, int64_t i, int64_t j) {
      int64_t inside = 0;
      for (int64_t a = 0; a < zs; ++a) {
        const double z = planar ? 0.0 : coord(k, D, (static_cast<double>(a) + 0.5) / static_cast<double>(zs));
        for (int64_t b = 0; b < s; ++b) {
          const double y = -coord(i, H, (static_cast<double>(b) + 0.5) / static_cast<double>(s));
          for (int64_t c = 0; c < s; ++c)
            inside += p.contains(coord(j, W, (static_cast<double>(c) + 0.5) / static_cast<double>(s)), y, z);
        }
      }
      if (inside) out[(k * H + i) * W + j] += static_cast<T>(p.value * weight * static_cast<double>(inside));
    });
  }
}

// Non-positive or non-finite entries would give infinite bounding boxes: refuse them by index.
inline void check_table(const std::vector<Ellipsoid>& table, bool planar, const char* op) {
  for (std::size_t i = 0; i < table.size(); ++i) {
    const Ellipsoid& e = table[i];
    const bool finite = std::isfinite(e.x0) && std::isfinite(e.y0) && std::isfinite(e.z0) && std::isfinite(e.phi) &&
                        std::isfinite(e.theta) && std::isfinite(e.psi) && std::isfinite(e.value);
    const bool positive = e.a > 0 && e.b > 0 && (planar || e.c > 0) && std::isfinite(e.a) && std::isfinite(e.b) &&
                          (planar || std::isfinite(e.c));
    VOXNN_CHECK(finite && positive, op, ": entry ", i, " has semi-axes (", e.a, ", ", e.b, ", ", e.c,
                "), centre (", e.x0, ", ", e.y0, ", ", e.z0, "), value ", e.value,
                "; semi-axes must be positive and every number finite");
  }
}

}  // namespace phantom_detail

// The sum of the ellipses of `table` on an (H, W) image (the plane z = 0).
template <Real T>
Tensor<T> ellipse_phantom(int64_t height, int64_t width, const std::vector<Ellipsoid>& table, int64_t supersample = 1) {
  VOXNN_CHECK(height > 0 && width > 0, "ellipse_phantom: size ", height, " x ", width, " must be positive");
  VOXNN_CHECK(supersample >= 1, "ellipse_phantom: supersample ", supersample, " must be at least 1");
  phantom_detail::check_table(table, true, "ellipse_phantom");
  Tensor<T> out = zeros<T>({height, width});
  phantom_detail::add_ellipsoids(out.data(), 1, height, width, table, true, supersample);
  return out;
}

// The sum of the ellipsoids of `table` on a (D, H, W) volume.
template <Real T>
Tensor<T> ellipsoid_phantom(int64_t depth, int64_t height, int64_t width, const std::vector<Ellipsoid>& table,
                            int64_t supersample = 1) {
  VOXNN_CHECK(depth > 0 && height > 0 && width > 0, "ellipsoid_phantom: size ", depth, " x ", height, " x ", width,
              " must be positive");
  VOXNN_CHECK(supersample >= 1, "ellipsoid_phantom: supersample ", supersample, " must be at least 1");
  phantom_detail::check_table(table, false, "ellipsoid_phantom");
  Tensor<T> out = zeros<T>({depth, height, width});
  phantom_detail::add_ellipsoids(out.data(), depth, height, width, table, false, supersample);
  return out;
}

struct SheppLoganOptions {
  bool modified = true;     // higher-contrast intensities (Toft; Yu, Ye & Wang in 3D)
  int64_t supersample = 1;  // points per axis averaged inside each pixel
};

// The 2D Shepp-Logan phantom, (height, width).
template <Real T>
Tensor<T> shepp_logan(int64_t height, int64_t width, const SheppLoganOptions& o = {}) {
  return ellipse_phantom<T>(height, width, shepp_logan_ellipses(o.modified), o.supersample);
}

// The 3D Shepp-Logan phantom, (depth, height, width).
template <Real T>
Tensor<T> shepp_logan_3d(int64_t depth, int64_t height, int64_t width, const SheppLoganOptions& o = {}) {
  return ellipsoid_phantom<T>(depth, height, width, shepp_logan_ellipsoids(o.modified), o.supersample);
}

// ---- random brain-like phantom ------------------------------------------------------------------

enum BrainLabel : int64_t { kBackground = 0, kSkull = 1, kGreyMatter = 2, kWhiteMatter = 3, kCsf = 4, kLesion = 5 };

struct BrainPhantomOptions {
  std::vector<int64_t> size = {128, 128};  // (H, W) or (D, H, W)
  uint64_t seed = 0;
  int64_t num_white_matter = 4;  // random white-matter ellipsoids
  int64_t num_lesions = 3;
  double lesion_radius_min = 0.03, lesion_radius_max = 0.07;  // in the [-1, 1] coordinates
  // Image values by label (a PET-like activity by default) and lesions' range.
  double skull = 0.5, grey_matter = 4.0, white_matter = 1.0, csf = 0.0;
  double lesion_min = 6.0, lesion_max = 10.0;
  // Attenuation (1/cm at 511 keV): bone, and soft tissue / water for the brain classes.
  double mu_bone = 0.172, mu_tissue = 0.096;
};

template <Real T>
struct BrainPhantom {
  Tensor<T> image;                 // size
  Tensor<int64_t> labels;          // size, BrainLabel values
  Tensor<T> mu;                    // size, 1/cm
  std::vector<Ellipsoid> lesions;  // where the lesions are (value = their image value)
};

template <Real T>
BrainPhantom<T> brain_phantom(const BrainPhantomOptions& o = {}) {
  VOXNN_CHECK(o.size.size() == 2 || o.size.size() == 3, "brain_phantom: size has ", o.size.size(),
              " values; expected (H, W) or (D, H, W)");
  for (int64_t n : o.size) VOXNN_CHECK(n > 0, "brain_phantom: size entries must be positive");
  VOXNN_CHECK(o.num_lesions >= 0 && o.num_white_matter >= 0, "brain_phantom: counts must be non-negative");
  VOXNN_CHECK(o.lesion_radius_min > 0 && o.lesion_radius_min <= o.lesion_radius_max,
              "brain_phantom: lesion radii need 0 < min <= max, got ", o.lesion_radius_min, " and ",
              o.lesion_radius_max);
  const bool planar = o.size.size() == 2;
  const int64_t D = planar ? 1 : o.size[0], H = o.size[planar ? 0 : 1], W = o.size[planar ? 1 : 2];
  Generator gen(o.seed);
  RandomStream rng(gen);  // uniforms two per block, from counter 0
  const double z = planar ? 0.0 : 1.0;  // switches off the out-of-plane randomness in 2D

  // Head and skull.
  Ellipsoid head{.x0 = rng.uniform(-0.02, 0.02),
                 .y0 = rng.uniform(-0.02, 0.02),
                 .z0 = z * rng.uniform(-0.02, 0.02),
                 .a = rng.uniform(0.72, 0.80),
                 .b = rng.uniform(0.86, 0.94),
                 .c = rng.uniform(0.78, 0.86),
                 .phi = rng.uniform(-8, 8)};
  const double skull = rng.uniform(0.05, 0.07);
  Ellipsoid brain = head;
  brain.a -= skull;
  brain.b -= skull;
  brain.c -= skull;
  Ellipsoid cortex = brain;  // white matter stays inside this
  cortex.a *= 0.85;
  cortex.b *= 0.85;
  cortex.c *= 0.85;
  const double hp = head.phi * std::numbers::pi / 180.0;
  auto in_head_frame = [&](double dx, double dy, double dz) {  // an offset in the head's frame -> a point
    return std::array<double, 3>{head.x0 + dx * std::cos(hp) - dy * std::sin(hp),
                                 head.y0 + dx * std::sin(hp) + dy * std::cos(hp), head.z0 + dz};
  };

  std::vector<Ellipsoid> white;
  for (int64_t n = 0; n < o.num_white_matter; ++n) {
    // (one draw per statement: the order of function arguments is unspecified)
    const double ox = rng.uniform(-0.25, 0.25) * brain.a, oy = rng.uniform(-0.25, 0.25) * brain.b;
    const double oz = z * rng.uniform(-0.2, 0.2) * brain.c;
    const auto c = in_head_frame(ox, oy, oz);
    white.push_back({.x0 = c[0],
                     .y0 = c[1],
                     .z0 = c[2],
                     .a = brain.a * rng.uniform(0.35, 0.6),
                     .b = brain.b * rng.uniform(0.35, 0.6),
                     .c = brain.c * rng.uniform(0.35, 0.6),
                     .phi = rng.uniform(0, 180),
                     .value = 0,
                     .theta = z * rng.uniform(-15, 15),
                     .psi = z * rng.uniform(-15, 15)});
  }
  std::vector<Ellipsoid> ventricles;
  {
    const double dx = rng.uniform(0.06, 0.1), dy = rng.uniform(0.0, 0.1), tilt = rng.uniform(10, 25);
    const double a = rng.uniform(0.04, 0.07), b = rng.uniform(0.14, 0.22), c = rng.uniform(0.1, 0.15);
    for (int side = -1; side <= 1; side += 2) {
      const auto p = in_head_frame(side * dx, dy, 0.0);
      ventricles.push_back({.x0 = p[0], .y0 = p[1], .z0 = p[2], .a = a, .b = b, .c = c, .phi = head.phi - side * tilt});
    }
  }
  std::vector<Ellipsoid> lesions;
  const phantom_detail::Placed inner = phantom_detail::place(Ellipsoid{.x0 = brain.x0,
                                                                       .y0 = brain.y0,
                                                                       .z0 = brain.z0,
                                                                       .a = brain.a * 0.8,
                                                                       .b = brain.b * 0.8,
                                                                       .c = brain.c * 0.8,
                                                                       .phi = brain.phi},
                                                             planar);
  for (int64_t n = 0; n < o.num_lesions; ++n) {
    std::array<double, 3> c{};
    for (int attempt = 0; attempt < 1000; ++attempt) {  // a uniform point of the inner brain
      c = {rng.uniform(-1, 1), rng.uniform(-1, 1), z * rng.uniform(-1, 1)};
      if (inner.contains(c[0], c[1], c[2])) break;
    }
    const double r = rng.uniform(o.lesion_radius_min, o.lesion_radius_max);
    lesions.push_back({.x0 = c[0],
                       .y0 = c[1],
                       .z0 = c[2],
                       .a = r * rng.uniform(0.8, 1.2),
                       .b = r * rng.uniform(0.8, 1.2),
                       .c = r * rng.uniform(0.8, 1.2),
                       .phi = rng.uniform(0, 180),
                       .value = rng.uniform(o.lesion_min, o.lesion_max)});
  }

  // Paint labels in order of precedence (later wins), at the voxel centres.
  Tensor<int64_t> labels = zeros<int64_t>({D, H, W});
  Tensor<T> image = zeros<T>({D, H, W});
  int64_t* L = labels.data();
  T* img = image.data();
  auto paint = [&](const Ellipsoid& e, int64_t label, const phantom_detail::Placed* within) {
    const phantom_detail::Placed p = phantom_detail::place(e, planar);
    phantom_detail::for_each_in_box(p, D, H, W, [&](int64_t k, int64_t i, int64_t j) {
      const double x = phantom_detail::coord(j, W), y = -phantom_detail::coord(i, H),
                   zz = planar ? 0.0 : phantom_detail::coord(k, D);
      if (!p.contains(x, y, zz) || (within && !within->contains(x, y, zz))) return;
      const int64_t at = (k * H + i) * W + j;
      L[at] = label;
      if (label == kLesion) img[at] = static_cast<T>(e.value);
    });
  };
  paint(head, kSkull, nullptr);
  paint(brain, kGreyMatter, nullptr);
  const phantom_detail::Placed cortex_placed = phantom_detail::place(cortex, planar);
  for (const auto& e : white) paint(e, kWhiteMatter, &cortex_placed);
  for (const auto& e : ventricles) paint(e, kCsf, nullptr);
  for (const auto& e : lesions) paint(e, kLesion, nullptr);

  Tensor<T> mu = zeros<T>({D, H, W});
  T* m = mu.data();
  const double value_of[] = {0.0, o.skull, o.grey_matter, o.white_matter, o.csf};
  for (int64_t at = 0; at < labels.numel(); ++at) {
    const int64_t l = L[at];
    if (l != kLesion) img[at] = static_cast<T>(value_of[l]);
    m[at] = static_cast<T>(l == kBackground ? 0.0 : l == kSkull ? o.mu_bone : o.mu_tissue);
  }
  Shape shape = planar ? Shape{H, W} : Shape{D, H, W};
  return {image.view(shape), labels.view(shape), mu.view(shape), lesions};
}

}  // namespace voxnn::data
