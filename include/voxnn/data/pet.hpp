#pragma once
// PET physics for simulation and the classical reconstructions DeepPET is compared with, on the 2D
// parallel-beam geometry of include/voxnn/ops/radon.hpp (A the projector, A^T its adjoint):
//
//   counts y ~ Poisson(a * (A x) + r)   per sinogram bin, with
//   a = exp(-pixel_size * (A mu))      attenuation factors of a mu-map (mu in 1 / unit of pixel_size:
//                                      mu in 1/cm with pixel_size in cm; pixel_size = 1: mu per pixel),
//   r                                  an additive background (randoms and scatter), and
//   x                                  the activity, scaled so that the expected counts of every 2D
//                                      sinogram (the last two dims) total a chosen count level.
//
// Reconstructions:
//   - fbp: ramp filter along the bins (spatial Ram-Lak kernel h(0) = 1 / (4 d^2), h(n d) = -1 / (n pi d)^2
//     for odd n, 0 for even n, d the bin spacing; linear convolution over the whole detector, so no
//     wrap-around), optionally windowed (shepp-logan, cosine, hamming, hann as scikit-image defines
//     them, from the DFT of the kernel padded to 2 B), then back-projection scaled by pi d / angles
//     (the angles are assumed to spread evenly over [0, pi)). Correct the counts first for attenuation
//     and background: fbp((y - r) / a).
//   - mlem: x <- x / (A^T a) * A^T(a * y / (a * A x + r)), from a uniform image whose expected counts
//     match the data; osem: the same update on ordered subsets of angles (subset s of n holds angles
//     s, s + n, s + 2 n, ...; visited in the order 0 .. n - 1), one iteration = one pass over all
//     subsets. Pixels that no ray with a > 0 sees (A^T a = 0) stay 0; bins with a * A x + r = 0
//     contribute nothing.
//   - poisson: exact Poisson draws from voxnn's counter-based generator: sequential inversion for
//     means below 10, Hormann's transformed rejection with squeeze (PTRS, 1993) above; element i
//     depends only on (seed, offset, i), not on the number of threads.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/ops/radon.hpp"

namespace voxnn::data {

// ---- Poisson counts --------------------------------------------------------------------------------

namespace pet_detail {

// log(k!) for k >= 0: exact table below 10, Stirling's series (error below 1e-10) above.
inline double log_factorial(double k) {
  static constexpr std::array<double, 10> table = {0.0,
                                                   0.0,
                                                   0.69314718055994530942,
                                                   1.79175946922805500081,
                                                   3.17805383034794561964,
                                                   4.78749174278204599425,
                                                   6.57925121201010099506,
                                                   8.52516136106541430017,
                                                   10.60460290274525022842,
                                                   12.80182748008146961121};
  if (k < 10) return table[static_cast<std::size_t>(k)];
  const double n = k + 1, n2 = n * n;
  return (n - 0.5) * std::log(n) - n + 0.5 * std::log(2 * std::numbers::pi) +
         (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * n2)) / n2) / n;
}

// The stream of uniforms of element i: block r of it is Philox at counter (i, r, tag) under the seed.
// Not a RandomStream: each element has its own counter sequence (a rejection sampler takes any number of
// blocks), so the draws do not depend on the thread that runs the element.
class ElementUniforms {
 public:
  ElementUniforms(uint64_t seed, uint64_t element) : seed_(seed), element_(element) {}
  double next() {
    if (used_ == 2) {
      words_ = ::voxnn::detail::philox4x32(
          {static_cast<uint32_t>(element_), static_cast<uint32_t>(element_ >> 32), round_++, 0x504F4953u},
          {static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)});
      used_ = 0;
    }
    const double u = ::voxnn::detail::uniform_from<double>(words_[2 * used_], words_[2 * used_ + 1]);
    ++used_;
    return u;
  }

 private:
  uint64_t seed_, element_;
  uint32_t round_ = 0;
  int used_ = 2;
  std::array<uint32_t, 4> words_{};
};

inline double poisson_inversion(double mean, ElementUniforms& rng) {
  const double u = rng.next();
  double p = std::exp(-mean), cdf = p, k = 0;
  while (u > cdf) {
    k += 1;
    p *= mean / k;
    const double next = cdf + p;
    if (next == cdf) break;  // the rest of the tail is below rounding (u within 1e-16 of 1)
    cdf = next;
  }
  return k;
}

// Hormann (1993), "The transformed rejection method for generating Poisson random variables".
inline double poisson_ptrs(double mean, ElementUniforms& rng) {
  const double slam = std::sqrt(mean), loglam = std::log(mean);
  const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const double U = rng.next() - 0.5, V = rng.next();
    const double us = 0.5 - std::abs(U);
    if (us <= 0) continue;
    const double k = std::floor((2 * a / us + b) * U + mean + 0.43);
    if (us >= 0.07 && V <= vr) return k;
    if (k < 0 || (us < 0.013 && V > us)) continue;
    if (std::log(V) + std::log(inv_alpha) - std::log(a / (us * us) + b) <= -mean + k * loglam - log_factorial(k))
      return k;
  }
}

}  // namespace pet_detail

// One Poisson draw per element of `mean` (>= 0 and finite), as a tensor of the same shape and type.
template <Real T>
Tensor<T> poisson(const Tensor<T>& mean, Generator& gen = default_generator()) {
  const Tensor<T> m = mean.contiguous();
  const int64_t n = m.numel();
  const T* pm = m.data();
  for (int64_t i = 0; i < n; ++i)
    VOXNN_CHECK(pm[i] >= 0 && std::isfinite(static_cast<double>(pm[i])), "poisson: mean ", pm[i], " at flat index ", i,
                " of shape ", mean.shape(), " is not a finite non-negative number");
  Tensor<T> out(mean.shape());
  T* po = out.data();
  const uint64_t first = gen.reserve(static_cast<uint64_t>(n));
  const uint64_t seed = gen.seed();
  parallel_for(0, n, 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const double lambda = static_cast<double>(pm[i]);
      if (lambda == 0) {
        po[i] = 0;
        continue;
      }
      pet_detail::ElementUniforms rng(seed, first + static_cast<uint64_t>(i));
      po[i] = static_cast<T>(lambda < 10 ? pet_detail::poisson_inversion(lambda, rng)
                                         : pet_detail::poisson_ptrs(lambda, rng));
    }
  });
  return out;
}

// ---- the measurement model -------------------------------------------------------------------------

// a = exp(-pixel_size * (A mu)): the survival probability of a coincidence along each line of
// response; mu (..., H, W) in 1 / unit of pixel_size, result (..., angles, bins).
template <Real T>
Tensor<T> attenuation_factors(const Tensor<T>& mu, const ops::RadonGeometry& g, double pixel_size = 1.0) {
  VOXNN_CHECK(pixel_size > 0 && std::isfinite(pixel_size), "attenuation_factors: pixel_size ", pixel_size,
              " must be positive and finite");
  Tensor<T> a = ops::radon(mu, g);
  T* p = a.data();
  const T s = static_cast<T>(-pixel_size);
  for (int64_t i = 0; i < a.numel(); ++i) p[i] = std::exp(s * p[i]);
  return a;
}

namespace pet_detail {
inline void check_same(const Shape& a, const Shape& b, const char* op, const char* what, const char* of) {
  VOXNN_CHECK(a == b, op, ": ", what, " has shape ", a, "; expected ", b, " as ", of);
}
}  // namespace pet_detail

// The expected counts a * (A x) + r; attenuation and background may be undefined (1 and 0).
template <Real T>
Tensor<T> pet_forward(const Tensor<T>& activity, const ops::RadonGeometry& g, const Tensor<T>& attenuation = {},
                      const Tensor<T>& background = {}) {
  Tensor<T> y = ops::radon(activity, g);
  T* py = y.data();
  if (attenuation.defined()) {
    pet_detail::check_same(attenuation.shape(), y.shape(), "pet_forward", "attenuation", "the sinogram");
    const Tensor<T> a = attenuation.contiguous();
    for (int64_t i = 0; i < y.numel(); ++i) py[i] *= a.data()[i];
  }
  if (background.defined()) {
    pet_detail::check_same(background.shape(), y.shape(), "pet_forward", "background", "the sinogram");
    const Tensor<T> r = background.contiguous();
    for (int64_t i = 0; i < y.numel(); ++i) py[i] += r.data()[i];
  }
  return y;
}

// The Poisson negative log-likelihood sum(expected - counts * log(expected)), without the constant
// sum(log(counts!)); +inf where a bin has counts but no expected counts.
template <Real T>
double poisson_nll(const Tensor<T>& counts, const Tensor<T>& expected) {
  pet_detail::check_same(expected.shape(), counts.shape(), "poisson_nll", "expected", "counts");
  const Tensor<T> y = counts.contiguous(), e = expected.contiguous();
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    const double yi = y.data()[i], ei = e.data()[i];
    if (yi > 0)
      s += ei > 0 ? ei - yi * std::log(ei) : std::numeric_limits<double>::infinity();
    else
      s += ei;
  }
  return s;
}

struct PetSimulationOptions {
  double total_counts = 1e6;         // expected counts of each 2D sinogram (trues plus background)
  double background_fraction = 0.0;  // share of them from a uniform additive background r
  double pixel_size = 1.0;           // the mu-map is in 1 / unit of pixel_size
  bool noise = true;                 // false: counts = the expected counts
};

template <Real T>
struct PetData {
  Tensor<T> counts;       // y (..., angles, bins): Poisson draws of `expected`
  Tensor<T> expected;     // a * (A (scale * x)) + r
  Tensor<T> attenuation;  // a (ones without a mu-map)
  Tensor<T> background;   // r
  Tensor<T> scale;        // (..., 1, 1): the activity factor that sets the count level of each sinogram
};

// Simulates PET data of `activity` (..., H, W) >= 0 with an optional mu-map of the same shape
// (undefined: no attenuation). Reconstructing `counts` with `attenuation` and `background` estimates
// scale * activity.
template <Real T>
PetData<T> simulate_pet(const Tensor<T>& activity, const Tensor<T>& mu, const ops::RadonGeometry& g,
                        const PetSimulationOptions& o = {}, Generator& gen = default_generator()) {
  VOXNN_CHECK(o.total_counts >= 0 && std::isfinite(o.total_counts), "simulate_pet: total_counts ", o.total_counts,
              " must be finite and non-negative");
  VOXNN_CHECK(o.background_fraction >= 0 && o.background_fraction < 1, "simulate_pet: background_fraction ",
              o.background_fraction, " must be in [0, 1)");
  ops::check_radon_image(activity.shape(), g, "simulate_pet");
  {
    const Tensor<T> x = activity.contiguous();
    for (int64_t i = 0; i < x.numel(); ++i)
      VOXNN_CHECK(x.data()[i] >= 0, "simulate_pet: activity ", activity.shape(), " has a negative value ", x.data()[i],
                  " at flat index ", i);
  }
  PetData<T> d;
  Tensor<T> trues = ops::radon(activity, g);
  if (mu.defined()) {
    pet_detail::check_same(mu.shape(), activity.shape(), "simulate_pet", "mu", "activity");
    d.attenuation = attenuation_factors(mu, g, o.pixel_size);
  } else {
    d.attenuation = ones<T>(trues.shape());
  }
  const int64_t bins = g.num_angles() * g.num_bins, sinos = trues.numel() / bins;
  Shape scale_shape = trues.shape();
  scale_shape[scale_shape.size() - 2] = 1;
  scale_shape[scale_shape.size() - 1] = 1;
  d.scale = Tensor<T>(scale_shape);
  d.background = Tensor<T>(trues.shape());
  d.expected = Tensor<T>(trues.shape());
  const T* a = d.attenuation.data();
  T* t = trues.data();
  const double r = o.background_fraction * o.total_counts / static_cast<double>(bins);
  for (int64_t s = 0; s < sinos; ++s) {
    double sum = 0;
    for (int64_t i = s * bins; i < (s + 1) * bins; ++i) sum += static_cast<double>(a[i] * t[i]);
    const double k = sum > 0 ? (1 - o.background_fraction) * o.total_counts / sum : 0.0;
    d.scale.data()[s] = static_cast<T>(k);
    for (int64_t i = s * bins; i < (s + 1) * bins; ++i) {
      d.background.data()[i] = static_cast<T>(r);
      d.expected.data()[i] = static_cast<T>(std::max(0.0, k * static_cast<double>(a[i] * t[i])) + r);
    }
  }
  d.counts = o.noise ? poisson(d.expected, gen) : d.expected.clone();
  return d;
}

// ---- filtered back-projection ---------------------------------------------------------------------

struct FbpOptions {
  std::string filter = "ramp";     // ramp (Ram-Lak) | shepp-logan | cosine | hamming | hann
  double frequency_scaling = 1.0;  // in (0, 1]: the window spans this fraction of the band; zero above
};

namespace pet_detail {

// The filter kernel for B bins at lags -(B - 1) .. B - 1 (index lag + B - 1), in units of a unit bin
// spacing.
template <Real T>
std::vector<T> ramp_kernel(int64_t B, const FbpOptions& o, const char* op) {
  const std::string& f = o.filter;
  const bool known =
      f == "ramp" || f == "ram-lak" || f == "shepp-logan" || f == "cosine" || f == "hamming" || f == "hann";
  VOXNN_CHECK(known, op, ": unknown filter '", f, "'; expected ramp, shepp-logan, cosine, hamming or hann");
  VOXNN_CHECK(o.frequency_scaling > 0 && o.frequency_scaling <= 1, op, ": frequency_scaling ", o.frequency_scaling,
              " must be in (0, 1]");
  const int64_t P = 2 * B;  // >= 2 B - 1: every lag of the detector appears once
  std::vector<double> h(static_cast<std::size_t>(P), 0.0);
  const double pi2 = std::numbers::pi * std::numbers::pi;
  for (int64_t n = 0; n < P; ++n) {
    const int64_t lag = n <= P / 2 ? n : n - P;
    h[static_cast<std::size_t>(n)] =
        lag == 0 ? 0.25 : (lag % 2 != 0 ? -1.0 / (pi2 * static_cast<double>(lag * lag)) : 0.0);
  }
  if (!((f == "ramp" || f == "ram-lak") && o.frequency_scaling == 1)) {
    // Window the kernel's DFT (real and even) and transform back.
    std::vector<double> cosines(static_cast<std::size_t>(P));
    for (int64_t n = 0; n < P; ++n)
      cosines[static_cast<std::size_t>(n)] =
          std::cos(2 * std::numbers::pi * static_cast<double>(n) / static_cast<double>(P));
    std::vector<double> H(static_cast<std::size_t>(P), 0.0);
    for (int64_t k = 0; k < P; ++k) {
      double s = 0;
      for (int64_t n = 0; n < P; ++n)
        s += h[static_cast<std::size_t>(n)] * cosines[static_cast<std::size_t>((k * n) % P)];
      const double freq = static_cast<double>(k <= P / 2 ? k : P - k) / static_cast<double>(P);  // |cycles per bin|
      const double nu = freq / 0.5 / o.frequency_scaling;  // 1 at the (scaled) Nyquist frequency
      double w = 1;
      if (nu > 1)
        w = 0;
      else if (f == "shepp-logan")
        w = nu == 0 ? 1.0 : std::sin(std::numbers::pi * nu / 2) / (std::numbers::pi * nu / 2);
      else if (f == "cosine")
        w = std::cos(std::numbers::pi * nu / 2);
      else if (f == "hamming")
        w = 0.54 + 0.46 * std::cos(std::numbers::pi * nu);
      else if (f == "hann")
        w = 0.5 + 0.5 * std::cos(std::numbers::pi * nu);
      H[static_cast<std::size_t>(k)] = s * w;
    }
    for (int64_t n = 0; n < P; ++n) {
      double s = 0;
      for (int64_t k = 0; k < P; ++k)
        s += H[static_cast<std::size_t>(k)] * cosines[static_cast<std::size_t>((k * n) % P)];
      h[static_cast<std::size_t>(n)] = s / static_cast<double>(P);
    }
  }
  std::vector<T> k(static_cast<std::size_t>(2 * B - 1));
  for (int64_t lag = -(B - 1); lag <= B - 1; ++lag)
    k[static_cast<std::size_t>(lag + B - 1)] = static_cast<T>(h[static_cast<std::size_t>((lag + P) % P)]);
  return k;
}

}  // namespace pet_detail

// The sinogram (..., angles, bins) filtered along the bins: q(s) = d * sum_s' p(s') h(s - s'), the
// discretised ramp filtering of the projections (bin spacing d).
template <Real T>
Tensor<T> ramp_filter(const Tensor<T>& sinogram, double bin_spacing = 1.0, const FbpOptions& o = {}) {
  VOXNN_CHECK(sinogram.dim() >= 2, "ramp_filter: sinogram has ", sinogram.dim(), " dims ", sinogram.shape(),
              "; expected (..., angles, bins)");
  VOXNN_CHECK(bin_spacing > 0 && std::isfinite(bin_spacing), "ramp_filter: bin_spacing ", bin_spacing,
              " must be positive and finite");
  const int64_t B = sinogram.size(-1), rows = B > 0 ? sinogram.numel() / B : 0;
  const std::vector<T> k = pet_detail::ramp_kernel<T>(B, o, "ramp_filter");
  const Tensor<T> in = sinogram.contiguous();
  Tensor<T> out(sinogram.shape());
  const T scale = static_cast<T>(1.0 / bin_spacing);
  const T* pin = in.data();
  T* po = out.data();
  // out[b] = sum_b' in[b'] k[b - b']: one contiguous axpy per source bin.
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(B * B, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* p = pin + r * B;
      T* o = po + r * B;
      std::fill(o, o + B, T(0));
      for (int64_t src = 0; src < B; ++src) {
        const T v = scale * p[src];
        if (v == T(0)) continue;
        const T* kk = k.data() + (B - 1 - src);  // kk[dst] = k at lag dst - src
        for (int64_t dst = 0; dst < B; ++dst) o[dst] += v * kk[dst];
      }
    }
  });
  return out;
}

// Filtered back-projection of a sinogram (..., angles, bins) onto (..., H, W).
template <Real T>
Tensor<T> fbp(const Tensor<T>& sinogram, const ops::RadonGeometry& g, const FbpOptions& o = {}) {
  ops::check_sinogram(sinogram.shape(), g, "fbp");
  Tensor<T> x = ops::back_projection(ramp_filter(sinogram, g.bin_spacing, o), g);
  T* p = x.data();
  const T s = static_cast<T>(std::numbers::pi * g.bin_spacing / static_cast<double>(g.num_angles()));
  for (int64_t i = 0; i < x.numel(); ++i) p[i] *= s;
  return x;
}

// ---- MLEM and OSEM ----------------------------------------------------------------------------------

template <Real T>
struct EmOptions {
  int64_t iterations = 10;  // passes over the data (each visits every subset once)
  int64_t subsets = 1;      // ordered subsets of angles (osem); 1 is MLEM
  Tensor<T> attenuation{};  // a, shape of the counts (undefined: 1)
  Tensor<T> background{};   // r, shape of the counts (undefined: 0)
  Tensor<T> initial{};      // starting image > 0, shape (..., H, W) (undefined: uniform, see above)
  std::function<void(int64_t, const Tensor<T>&)> callback{};  // after pass i (1-based): (i, image)
};

namespace pet_detail {

// The rows of a sinogram (..., A, B) at the given angle indices.
template <Real T>
Tensor<T> take_angles(const Tensor<T>& s, const std::vector<int64_t>& idx) {
  const int64_t A = s.size(-2), B = s.size(-1), planes = s.numel() / (A * B);
  Shape shape = s.shape();
  shape[shape.size() - 2] = static_cast<int64_t>(idx.size());
  Tensor<T> out(shape);
  const Tensor<T> c = s.contiguous();
  for (int64_t p = 0; p < planes; ++p)
    for (std::size_t r = 0; r < idx.size(); ++r)
      std::copy(c.data() + (p * A + idx[r]) * B, c.data() + (p * A + idx[r] + 1) * B,
                out.data() + (p * static_cast<int64_t>(idx.size()) + static_cast<int64_t>(r)) * B);
  return out;
}

}  // namespace pet_detail

// OSEM (MLEM with options.subsets = 1) of counts (..., angles, bins); returns (..., H, W).
template <Real T>
Tensor<T> osem(const Tensor<T>& counts, const ops::RadonGeometry& g, const EmOptions<T>& o = {}) {
  const char* op = o.subsets == 1 ? "mlem" : "osem";
  ops::check_sinogram(counts.shape(), g, op);
  VOXNN_CHECK(o.iterations >= 0, op, ": iterations ", o.iterations, " must be non-negative");
  VOXNN_CHECK(o.subsets >= 1 && o.subsets <= g.num_angles(), op, ": subsets ", o.subsets, " must be in [1, ",
              g.num_angles(), "] (the number of angles)");
  const Shape& ys = counts.shape();
  if (o.attenuation.defined()) pet_detail::check_same(o.attenuation.shape(), ys, op, "attenuation", "counts");
  if (o.background.defined()) pet_detail::check_same(o.background.shape(), ys, op, "background", "counts");
  Shape image_shape = ys;
  image_shape[image_shape.size() - 2] = g.height;
  image_shape[image_shape.size() - 1] = g.width;
  if (o.initial.defined()) pet_detail::check_same(o.initial.shape(), image_shape, op, "initial", "the image");

  const int64_t n = o.subsets, A = g.num_angles();
  struct Subset {
    ops::RadonGeometry g;
    Tensor<T> y, a, r, sens;
  };
  std::vector<Subset> subsets;
  for (int64_t s = 0; s < n; ++s) {
    std::vector<int64_t> idx;
    for (int64_t k = s; k < A; k += n) idx.push_back(k);
    Subset sub;
    sub.g = g.subset(idx);
    sub.y = n == 1 ? counts.contiguous() : pet_detail::take_angles(counts, idx);
    if (o.attenuation.defined())
      sub.a = n == 1 ? o.attenuation.contiguous() : pet_detail::take_angles(o.attenuation, idx);
    if (o.background.defined()) sub.r = n == 1 ? o.background.contiguous() : pet_detail::take_angles(o.background, idx);
    sub.sens = ops::back_projection(sub.a.defined() ? sub.a : ones<T>(sub.y.shape()), sub.g);
    subsets.push_back(std::move(sub));
  }

  const int64_t HW = g.height * g.width, planes = image_shape.numel() / HW;
  const int64_t bins = A * g.num_bins;
  Tensor<T> x;
  if (o.initial.defined()) {
    x = o.initial.clone();
  } else {  // uniform, its expected counts matching the data's (net of background)
    x = Tensor<T>(image_shape);
    const Tensor<T> y = counts.contiguous(), r = o.background.defined() ? o.background.contiguous() : Tensor<T>();
    for (int64_t p = 0; p < planes; ++p) {
      double net = 0, sens = 0;
      for (int64_t i = p * bins; i < (p + 1) * bins; ++i)
        net += static_cast<double>(y.data()[i]) - (r.defined() ? static_cast<double>(r.data()[i]) : 0.0);
      for (const auto& sub : subsets)
        for (int64_t j = p * HW; j < (p + 1) * HW; ++j) sens += static_cast<double>(sub.sens.data()[j]);
      const T c = static_cast<T>(sens > 0 && net > 0 ? net / sens : 0.0);
      std::fill(x.data() + p * HW, x.data() + (p + 1) * HW, c);
    }
  }

  for (int64_t it = 1; it <= o.iterations; ++it) {
    for (const auto& sub : subsets) {
      Tensor<T> ratio = ops::radon(x, sub.g);
      T* q = ratio.data();
      const T* y = sub.y.data();
      const T* a = sub.a.defined() ? sub.a.data() : nullptr;
      const T* r = sub.r.defined() ? sub.r.data() : nullptr;
      const int64_t m = ratio.numel();
      parallel_for(0, m, kParallelGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const T ai = a ? a[i] : T(1);
          const T expected = ai * q[i] + (r ? r[i] : T(0));
          q[i] = expected > 0 ? ai * y[i] / expected : T(0);
        }
      });
      const Tensor<T> update = ops::back_projection(ratio, sub.g);
      T* px = x.data();
      const T* pu = update.data();
      const T* ps = sub.sens.data();
      parallel_for(0, x.numel(), kParallelGrain, [&](int64_t b, int64_t e) {
        for (int64_t j = b; j < e; ++j) px[j] = ps[j] > 0 ? px[j] * pu[j] / ps[j] : T(0);
      });
    }
    if (o.callback) o.callback(it, x);
  }
  return x;
}

// MLEM: osem with a single subset.
template <Real T>
Tensor<T> mlem(const Tensor<T>& counts, const ops::RadonGeometry& g, const EmOptions<T>& o = {}) {
  VOXNN_CHECK(o.subsets == 1, "mlem: subsets is ", o.subsets, "; use osem for ordered subsets");
  return osem(counts, g, o);
}

}  // namespace voxnn::data
