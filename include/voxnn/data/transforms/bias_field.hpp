#pragma once
// A smooth multiplicative intensity bias (MRI's B1 inhomogeneity), after monai.transforms.RandBiasField
// (1.3.2):
//
//   RandBiasField{.degree = 3, .coeff_range = {0.0, 0.1}, .prob = 0.5}
//
// With probability prob, every image channel is multiplied by exp(f), where
// f(x, y, z) = sum over i + j + k <= degree of c_ijk P_i(x) P_j(y) P_k(z), P_n the Legendre
// polynomials, x, y, z = linspace(-1, 1, size) along each axis (numpy.polynomial.legendre.leggrid3d),
// and the (degree + 1)(degree + 2)(degree + 3) / 6 coefficients uniform in coeff_range, in MONAI's order
// (i outer, then j, then k). The same field multiplies all channels. The label is left alone.
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/data/transforms/common.hpp"

namespace voxnn::data {

// Number of coefficients of a 3-D field of the given degree.
inline int64_t bias_field_coefficients(int degree) {
  VOXNN_CHECK(degree >= 0 && degree <= 32, "bias_field: degree ", degree, " is outside [0, 32]");
  const int64_t d = degree;
  return (d + 1) * (d + 2) * (d + 3) / 6;
}

// The log-field f [X, Y, Z] for the given coefficients (MONAI's order, see above).
template <Real T>
Tensor<T> bias_field(const std::array<int64_t, 3>& size, int degree, const std::vector<double>& coeff) {
  const int64_t nc = bias_field_coefficients(degree);
  VOXNN_CHECK(static_cast<int64_t>(coeff.size()) == nc, "bias_field: ", coeff.size(), " coefficients for degree ",
              degree, "; expected ", nc);
  for (int a = 0; a < 3; ++a) VOXNN_CHECK(size[a] >= 1, "bias_field: empty size on axis ", a);
  const int D = degree + 1;
  // Legendre values per axis: leg[a][n * size + i] = P_n(coordinate i)
  std::array<std::vector<double>, 3> leg;
  for (int a = 0; a < 3; ++a) {
    const int64_t n = size[a];
    auto& l = leg[a];
    l.assign(static_cast<std::size_t>(D * n), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const double x = n > 1 ? -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(n - 1) : -1.0;
      double p0 = 1, p1 = x;
      for (int d = 0; d < D; ++d) {
        double v;
        if (d == 0) v = 1;
        else if (d == 1) v = x;
        else {
          v = ((2.0 * d - 1) * x * p1 - (d - 1.0) * p0) / d;
          p0 = p1;
          p1 = v;
        }
        l[static_cast<std::size_t>(d * n + i)] = v;
      }
    }
  }
  // dense c[i][j][k]
  std::vector<double> c(static_cast<std::size_t>(D * D * D), 0.0);
  std::size_t at = 0;
  for (int i = 0; i <= degree; ++i)
    for (int j = 0; j <= degree - i; ++j)
      for (int k = 0; k <= degree - i - j; ++k) c[static_cast<std::size_t>((i * D + j) * D + k)] = coeff[at++];
  const int64_t X = size[0], Y = size[1], Z = size[2];
  Tensor<T> out({X, Y, Z});
  T* po = out.data();
  parallel_for(0, X * Y, 1 + 4096 / Z, [&](int64_t rb, int64_t re) {
    std::vector<double> g(static_cast<std::size_t>(D));
    for (int64_t r = rb; r < re; ++r) {
      const int64_t x = r / Y, y = r % Y;
      for (int k = 0; k < D; ++k) {
        double s = 0;
        for (int i = 0; i < D; ++i)
          for (int j = 0; j < D; ++j)
            s += c[static_cast<std::size_t>((i * D + j) * D + k)] * leg[0][static_cast<std::size_t>(i * X + x)] *
                 leg[1][static_cast<std::size_t>(j * Y + y)];
        g[static_cast<std::size_t>(k)] = s;
      }
      T* o = po + r * Z;
      for (int64_t z = 0; z < Z; ++z) {
        double f = 0;
        for (int k = 0; k < D; ++k) f += g[static_cast<std::size_t>(k)] * leg[2][static_cast<std::size_t>(k * Z + z)];
        o[z] = static_cast<T>(f);
      }
    }
  });
  return out;
}

struct RandBiasField {
  int degree = 3;
  std::array<double, 2> coeff_range{0.0, 0.1};
  double prob = 0.1;

  template <Real T>
  void operator()(Sample<T>& s, Generator& gen) const {
    const char* op = "RandBiasField";
    const auto sp = detail::spatial_shape(s, op);
    detail::check_prob(prob, op);
    const int64_t nc = bias_field_coefficients(degree);
    VOXNN_CHECK(std::isfinite(coeff_range[0]) && std::isfinite(coeff_range[1]) && coeff_range[0] <= coeff_range[1], op,
                ": coeff_range (", coeff_range[0], ", ", coeff_range[1], ") must be finite and increasing");
    if (!detail::draws(gen).bernoulli(prob)) return;
    std::vector<double> coeff(static_cast<std::size_t>(nc));
    for (auto& v : coeff) v = detail::draws(gen).uniform(coeff_range[0], coeff_range[1]);
    const Tensor<T> f = bias_field<T>(sp, degree, coeff);
    const Tensor<T> in = s.image.contiguous();
    Tensor<T> out(in.shape());
    const int64_t vol = sp[0] * sp[1] * sp[2], C = in.size(0);
    const T* pf = f.data();
    const T* x = in.data();
    T* y = out.data();
    parallel_for(0, vol, kParallelGrain / 4, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const T m = static_cast<T>(std::exp(static_cast<double>(pf[i])));
        for (int64_t c = 0; c < C; ++c) y[c * vol + i] = x[c * vol + i] * m;
      }
    });
    s.image = out;
  }
};

}  // namespace voxnn::data
