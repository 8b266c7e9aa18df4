#pragma once
// Multi-coil MRI simulation: coil sensitivity maps, k-space from an image, k-space noise.
//
//   Tensor<float> S = data::coil_sensitivity_maps<float>({.shape = {128, 128}, .num_coils = 8});  // (8, 128, 128, 2)
//   Tensor<float> k = data::multicoil_kspace(data::to_complex(image), S);   // fft2c(image * S) per coil
//   Tensor<float> y = data::add_kspace_noise(k, {.snr = 30, .seed = 1});
//
// Coil maps. Coils sit around the field of view: in 2-D on a circle of radius `coil_distance` (in
// units of the half field of view, so the image edges are at +-1), coil c at angle
// theta_c = rotation + 2 pi c / C; in 3-D on a sphere of that radius (a Fibonacci lattice). Coil c's
// raw sensitivity at position x is exp(-|x - p_c|^2 / (2 coil_width^2)) exp(i (theta_c + phase_slope u_c . x)),
// u_c the unit vector towards the coil: a smooth magnitude falloff away from the coil and a linear
// phase. The maps are then divided by their root-sum-of-squares over the coils, so that
// sqrt(sum_c |S_c(x)|^2) = 1 at every position (and zero outside `support` when one is given).
// Positions are centred on the k-space convention's centre index n // 2: x = (i - n // 2) / (n / 2).
//
// K-space. multicoil_kspace(image, maps) = fft2c(complex_mul(image, maps)) with broadcasting: a
// complex image (H, W, 2) or (B, 1, H, W, 2) against maps (C, H, W, 2) or (B, C, H, W, 2); a volume
// (D, H, W, 2) or (B, 1, D, H, W, 2) against 3-D maps, each slice transformed in 2-D (over H, W).
//
// Noise. add_kspace_noise adds complex white Gaussian noise whose real and imaginary parts each have
// standard deviation `std`; or, given `snr`, std = rms|k| / (sqrt(2) snr), where rms|k| is the root
// mean square magnitude of the given k-space, so that rms|k| / rms|noise| = snr. Seeded.
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <optional>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/ops/complex.hpp"
#include "voxnn/ops/elementwise.hpp"
#include "voxnn/ops/fft.hpp"

namespace voxnn::data {

struct CoilMapOptions {
  std::vector<int64_t> shape{};  // (H, W) or (D, H, W)
  int64_t num_coils = 8;
  double coil_distance = 1.5;    // coil distance from the centre, in half fields of view
  double coil_width = 1.0;       // the magnitude's Gaussian falloff length, in half fields of view
  double phase_slope = 1.0;      // radians of phase per half field of view along each coil's direction
  double rotation = 0.0;         // angle of the first coil (2-D), radians
};

namespace simulation_detail {
// Coil positions on a circle (2-D) or a sphere (3-D, Fibonacci lattice), as (z, y, x) for 3-D and (y, x) for 2-D.
inline std::vector<std::array<double, 3>> coil_positions(int dims, int64_t n, double radius, double rotation) {
  std::vector<std::array<double, 3>> out;
  for (int64_t c = 0; c < n; ++c) {
    if (dims == 2) {
      const double a = rotation + 2.0 * std::numbers::pi * static_cast<double>(c) / static_cast<double>(n);
      out.push_back({0.0, radius * std::sin(a), radius * std::cos(a)});
    } else {
      const double z = 1.0 - (2.0 * static_cast<double>(c) + 1.0) / static_cast<double>(n);
      const double r = std::sqrt(std::max(0.0, 1.0 - z * z));
      const double a = rotation + std::numbers::pi * (3.0 - std::sqrt(5.0)) * static_cast<double>(c);
      out.push_back({radius * z, radius * r * std::sin(a), radius * r * std::cos(a)});
    }
  }
  return out;
}
}  // namespace simulation_detail

// Smooth coil sensitivity maps, (C, H, W, 2) or (C, D, H, W, 2), normalised to a root-sum-of-squares
// of 1 everywhere; with `support` ((H, W) or (D, H, W), bool) the maps are zero outside it.
template <Real T>
Tensor<T> coil_sensitivity_maps(const CoilMapOptions& o, const Tensor<bool>& support = {}) {
  const char* op = "coil_sensitivity_maps";
  const int dims = static_cast<int>(o.shape.size());
  VOXNN_CHECK(dims == 2 || dims == 3, op, ": shape has ", dims, " dims; expected (H, W) or (D, H, W)");
  for (int64_t s : o.shape) VOXNN_CHECK(s > 0, op, ": shape sizes must be positive");
  VOXNN_CHECK(o.num_coils > 0, op, ": num_coils must be positive, got ", o.num_coils);
  VOXNN_CHECK(o.coil_width > 0 && o.coil_distance >= 0, op, ": coil_width must be positive and coil_distance non-negative");
  const Shape spatial(o.shape);
  if (support.defined())
    VOXNN_CHECK(support.shape() == spatial, op, ": support has shape ", support.shape(), "; expected ", spatial);
  const int64_t depth = dims == 3 ? o.shape[0] : 1, h = o.shape[dims - 2], w = o.shape[dims - 1];
  const int64_t c_count = o.num_coils, plane = depth * h * w;
  const auto coils = simulation_detail::coil_positions(dims, c_count, o.coil_distance, o.rotation);
  auto coord = [](int64_t i, int64_t n) {
    return (static_cast<double>(i) - static_cast<double>(n / 2)) / (0.5 * static_cast<double>(n));
  };
  Shape out_shape = spatial;
  out_shape.insert(0, c_count);
  out_shape.push_back(2);
  Tensor<T> out(out_shape);
  T* p = out.data();
  const Tensor<bool> sup = support.defined() ? support.contiguous() : Tensor<bool>();
  std::vector<double> re(static_cast<std::size_t>(c_count)), im(static_cast<std::size_t>(c_count)),
      d2(static_cast<std::size_t>(c_count));
  const double inv_two_w2 = 1.0 / (2.0 * o.coil_width * o.coil_width);
  for (int64_t z = 0; z < depth; ++z)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const std::array<double, 3> pos{dims == 3 ? coord(z, depth) : 0.0, coord(y, h), coord(x, w)};
        // the magnitudes relative to the largest exponent, so that far coils do not underflow to 0 / 0
        double dmin = INFINITY;
        for (int64_t c = 0; c < c_count; ++c) {
          const auto& q = coils[static_cast<std::size_t>(c)];
          double s = 0;
          for (int k = 0; k < 3; ++k) s += (pos[k] - q[k]) * (pos[k] - q[k]);
          d2[static_cast<std::size_t>(c)] = s;
          dmin = std::min(dmin, s);
        }
        double norm2 = 0;
        for (int64_t c = 0; c < c_count; ++c) {
          const auto ci = static_cast<std::size_t>(c);
          const auto& q = coils[ci];
          const double len = std::sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
          double proj = 0;
          if (len > 0)
            for (int k = 0; k < 3; ++k) proj += pos[k] * q[k] / len;
          const double theta = o.rotation + 2.0 * std::numbers::pi * static_cast<double>(c) / static_cast<double>(c_count);
          const double mag = std::exp(-(d2[ci] - dmin) * inv_two_w2);
          const double phase = theta + o.phase_slope * proj;
          re[ci] = mag * std::cos(phase);
          im[ci] = mag * std::sin(phase);
          norm2 += mag * mag;
        }
        const int64_t flat = (z * h + y) * w + x;
        const double scale = (sup.defined() && !sup.data()[flat]) ? 0.0 : 1.0 / std::sqrt(norm2);
        for (int64_t c = 0; c < c_count; ++c) {
          const auto ci = static_cast<std::size_t>(c);
          p[2 * (c * plane + flat)] = static_cast<T>(re[ci] * scale);
          p[2 * (c * plane + flat) + 1] = static_cast<T>(im[ci] * scale);
        }
      }
  return out;
}

// A real tensor (...) as a complex one (..., 2) with zero imaginary part.
template <Real T>
Tensor<T> to_complex(const Tensor<T>& real) {
  Shape s = real.shape();
  s.push_back(2);
  Tensor<T> out = zeros<T>(s);
  out.select(-1, 0).copy_(real);
  return out;
}

// fft2c(complex_mul(image, sens_maps)): the k-space each coil measures of a complex image.
template <Real T>
Tensor<T> multicoil_kspace(const Tensor<T>& image, const Tensor<T>& sens_maps) {
  const char* op = "multicoil_kspace";
  ops::check_complex(image.shape(), op, "image", 3, "(..., H, W, 2)");
  ops::check_complex(sens_maps.shape(), op, "sens_maps", 4,
                     "(C, H, W, 2), (C, D, H, W, 2) or with a leading batch dim");
  VOXNN_CHECK(image.dim() <= sens_maps.dim() && image.shape()[image.dim() - 2] == sens_maps.shape()[sens_maps.dim() - 2] &&
                  image.shape()[image.dim() - 3] == sens_maps.shape()[sens_maps.dim() - 3],
              op, ": image of shape ", image.shape(), " does not match sens_maps of shape ", sens_maps.shape(),
              " (same H, W; image without the coil dim or with it as 1)");
  return ops::fft2c(ops::complex_mul(image, sens_maps, false, op));
}

struct KspaceNoiseOptions {
  std::optional<double> std = std::nullopt;     // per real / imaginary part
  std::optional<double> snr = std::nullopt;     // rms|k| / rms|noise|, when std is not given
  std::optional<uint64_t> seed = std::nullopt;  // none: the default generator
};

// The per-component noise std that gives `snr` (rms|k| / rms|noise|) on this k-space.
template <Real T>
double noise_std_for_snr(const Tensor<T>& kspace, double snr) {
  VOXNN_CHECK(snr > 0, "noise_std_for_snr: snr must be positive, got ", snr);
  ops::check_complex(kspace.shape(), "noise_std_for_snr", "k-space");
  double s = 0;
  for (T v : kspace.to_vector()) s += static_cast<double>(v) * static_cast<double>(v);
  const double rms = std::sqrt(s / static_cast<double>(std::max<int64_t>(1, kspace.numel() / 2)));
  return rms / (std::numbers::sqrt2 * snr);
}

// kspace plus complex white Gaussian noise (see the top of this file).
template <Real T>
Tensor<T> add_kspace_noise(const Tensor<T>& kspace, const KspaceNoiseOptions& o) {
  const char* op = "add_kspace_noise";
  ops::check_complex(kspace.shape(), op, "k-space");
  VOXNN_CHECK(o.std.has_value() != o.snr.has_value(), op, ": give exactly one of std and snr");
  const double std = o.std ? *o.std : noise_std_for_snr(kspace, *o.snr);
  VOXNN_CHECK(std >= 0, op, ": std must be non-negative, got ", std);
  SeedOrGenerator gen(o.seed);
  return ops::add(kspace, randn<T>(kspace.shape(), gen.get(), T(0), static_cast<T>(std)));
}

}  // namespace voxnn::data
