// PET physics: the parallel-beam projector and back-projector (adjoint identity, mass conservation,
// closed-form projections of pixel columns/rows, an off-centre Gaussian and a disk), their autograd
// functions (gradcheck, gradgradcheck), the Poisson sampler, attenuation, the simulator, FBP, MLEM
// and OSEM, and the error messages. All references are closed forms; no fixture file.
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "support/gradients.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/autograd/functions/radon.hpp"
#include "voxnn/data/pet.hpp"
#include "voxnn/data/phantom.hpp"
#include "voxnn/ops/radon.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;

namespace {

template <class T>
double dot(const Tensor<T>& a, const Tensor<T>& b) {
  const Tensor<T> x = a.contiguous(), y = b.contiguous();
  double s = 0;
  for (int64_t i = 0; i < x.numel(); ++i) s += static_cast<double>(x.data()[i]) * static_cast<double>(y.data()[i]);
  return s;
}

template <class T>
double max_abs(const Tensor<T>& a) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(static_cast<double>(a.contiguous().data()[i])));
  return m;
}

// A disk of radius r (pixels) about the image centre, each pixel holding its covered area fraction.
Tensor<double> disk(int64_t n, double r, int s = 16) {
  Tensor<double> img = zeros<double>({n, n});
  const double c = 0.5 * static_cast<double>(n - 1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int inside = 0;
      for (int a = 0; a < s; ++a)
        for (int b = 0; b < s; ++b) {
          const double y = c - static_cast<double>(i) + (a + 0.5) / s - 0.5,
                       x = static_cast<double>(j) - c + (b + 0.5) / s - 0.5;
          inside += x * x + y * y <= r * r;
        }
      img.data()[i * n + j] = static_cast<double>(inside) / (s * s);
    }
  return img;
}

// The mean over [s - d/2, s + d/2] of the chord 2 sqrt(r^2 - s^2) of a disk.
double disk_bin(double s, double d, double r) {
  auto prim = [r](double t) {
    t = std::clamp(t, -r, r);
    return t * std::sqrt(r * r - t * t) + r * r * std::asin(t / r);
  };
  return (prim(s + d / 2) - prim(s - d / 2)) / d;
}

double rmse(const Tensor<double>& a, const Tensor<double>& b, const std::vector<char>& mask) {
  double s = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    if (mask[static_cast<std::size_t>(i)]) {
      const double d = a.data()[i] - b.data()[i];
      s += d * d;
      ++n;
    }
  return std::sqrt(s / static_cast<double>(std::max<int64_t>(n, 1)));
}

struct ThreadsGuard {
  explicit ThreadsGuard(int n) : previous(num_threads()) { set_num_threads(n); }
  ~ThreadsGuard() { set_num_threads(previous); }
  int previous;
};

}  // namespace

TEST_CASE("radon geometry defaults and explicit angles", "[imaging][pet]") {
  const auto g = ops::radon_geometry(128, 128);
  CHECK(g.num_angles() == 180);
  CHECK(g.num_bins == 182);  // ceil(sqrt(2) * 128)
  CHECK(g.angles[90] == Approx(std::numbers::pi / 2));
  const auto h = ops::radon_geometry(5, 7, {.angles = {0.1, 2.0}, .num_bins = 9, .bin_spacing = 0.5});
  CHECK(h.num_angles() == 2);
  CHECK(h.num_bins == 9);
  CHECK(ops::radon_geometry(10, 20, {.bin_spacing = 2.0}).num_bins == 12);  // ceil(22.36 / 2)
  const auto s = g.subset({0, 90});
  CHECK(s.num_angles() == 2);
  CHECK(s.angles[1] == g.angles[90]);
}

TEST_CASE("radon and back_projection are adjoint", "[imaging][pet]") {
  struct Case {
    int64_t H, W;
    RadonOptions o;
  };
  const std::vector<Case> cases = {
      {7, 7, {.num_angles = 5}},
      {8, 13, {.num_angles = 17, .bin_spacing = 0.7}},  // |beta| < 1 at some angles: the scatter path
      {12, 5, {.num_angles = 3, .num_bins = 9, .bin_spacing = 1.5}},
      {9, 9, {.num_angles = 180}},
      {6, 11, {.angles = {-0.3, std::numbers::pi / 4, 3 * std::numbers::pi / 4, 4.0, 7.5}, .num_bins = 20}},
      {33, 20, {.num_angles = 40, .num_bins = 7, .bin_spacing = 1.3}},  // detector narrower than the image
      {1, 1, {.num_angles = 4}},
  };
  Generator gen(7);
  for (const auto& c : cases) {
    const auto g = ops::radon_geometry(c.H, c.W, c.o);
    const Tensor<double> x = randn<double>({2, 3, c.H, c.W}, gen);
    const Tensor<double> y = randn<double>({2, 3, g.num_angles(), g.num_bins}, gen);
    const double lhs = dot(ops::radon(x, g), y), rhs = dot(x, ops::back_projection(y, g));
    INFO("image " << c.H << " x " << c.W << ", " << g.num_angles() << " angles, " << g.num_bins << " bins");
    CHECK(std::abs(lhs - rhs) <= 1e-12 * (std::abs(lhs) + 1));
    // float: the same identity to single-precision rounding
    const Tensor<float> xf = ops::cast<float>(x), yf = ops::cast<float>(y);
    const double lf = dot(ops::radon(xf, g), yf), rf = dot(xf, ops::back_projection(yf, g));
    CHECK(std::abs(lf - rf) <= 2e-5 * (std::abs(lhs) + std::sqrt(static_cast<double>(x.numel()))));
    CHECK(std::abs(lf - lhs) <= 2e-5 * (std::abs(lhs) + std::sqrt(static_cast<double>(x.numel()))));
  }
}

TEST_CASE("radon conserves mass at every angle", "[imaging][pet]") {
  for (double d : {1.0, 0.6, 1.7}) {
    const auto g = ops::radon_geometry(9, 14, {.num_angles = 23, .bin_spacing = d});
    for (int64_t at : {0, 17, 62, 125}) {
      Tensor<double> x = zeros<double>({9, 14});
      x.data()[at] = 2.5;
      const Tensor<double> p = ops::radon(x, g);
      for (int64_t a = 0; a < g.num_angles(); ++a) {
        double s = 0;
        for (int64_t b = 0; b < g.num_bins; ++b) s += p.data()[a * g.num_bins + b];
        INFO("spacing " << d << ", pixel " << at << ", angle " << a);
        CHECK(s * d == Approx(2.5).margin(1e-12));
      }
    }
  }
}

TEST_CASE("radon at 0 and pi/2 sums columns and rows", "[imaging][pet]") {
  Generator gen(3);
  const Tensor<double> x = rand<double>({6, 6}, gen);
  const auto g = ops::radon_geometry(6, 6, {.angles = {0.0, std::numbers::pi / 2}, .num_bins = 6});
  const Tensor<double> p = ops::radon(x, g);
  for (int64_t b = 0; b < 6; ++b) {
    double col = 0, row = 0;
    for (int64_t i = 0; i < 6; ++i) col += x.data()[i * 6 + b];
    for (int64_t j = 0; j < 6; ++j) row += x.data()[(5 - b) * 6 + j];  // y up: bin 0 is the bottom row
    CHECK(p.data()[b] == Approx(col).margin(1e-12));
    CHECK(p.data()[6 + b] == Approx(row).margin(1e-12));
  }
}

TEST_CASE("radon of an off-centre Gaussian matches its line integrals", "[imaging][pet]") {
  // exp(-|p - c|^2 / (2 sigma^2)) projects to sqrt(2 pi) sigma exp(-(s - c.n)^2 / (2 sigma^2)); the
  // pixel-centre sampling and bin averaging cost about 1% of the peak at sigma = 4 pixels.
  const int64_t H = 61, W = 71;
  const double sigma = 4, cx = 9, cy = -6;
  Tensor<double> x({H, W});
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < W; ++j) {
      const double px = static_cast<double>(j) - 0.5 * (W - 1) - cx, py = 0.5 * (H - 1) - static_cast<double>(i) - cy;
      x.data()[i * W + j] = std::exp(-(px * px + py * py) / (2 * sigma * sigma));
    }
  const auto g = ops::radon_geometry(H, W, {.num_angles = 24, .bin_spacing = 1.25});
  const Tensor<double> p = ops::radon(x, g);
  const double peak = std::sqrt(2 * std::numbers::pi) * sigma;
  double worst = 0;
  for (int64_t a = 0; a < g.num_angles(); ++a) {
    const double th = g.angles[static_cast<std::size_t>(a)];
    const double sc = cx * std::cos(th) + cy * std::sin(th);
    for (int64_t b = 0; b < g.num_bins; ++b) {
      const double s = (static_cast<double>(b) - 0.5 * static_cast<double>(g.num_bins - 1)) * g.bin_spacing;
      const double want = peak * std::exp(-(s - sc) * (s - sc) / (2 * sigma * sigma));
      worst = std::max(worst, std::abs(p.data()[a * g.num_bins + b] - want));
    }
  }
  CHECK(worst < 0.012 * peak);
}

TEST_CASE("radon of a disk approximates its chords", "[imaging][pet]") {
  // A disk of radius 20 (area-weighted pixels) against the bin mean of 2 sqrt(r^2 - s^2): inside
  // |s| < r - 3 within 0.3 (0.75% of the diameter; 0.24 measured); at the rim, where the pixel grid cannot follow the
  // circle, within 1.6 (the chord changes by ~ 2 r / sqrt(r^2 - s^2) per pixel there).
  const double r = 20;
  const Tensor<double> x = disk(65, r);
  const auto g = ops::radon_geometry(65, 65, {.num_angles = 16});
  const Tensor<double> p = ops::radon(x, g);
  double interior = 0, rim = 0;
  for (int64_t a = 0; a < g.num_angles(); ++a)
    for (int64_t b = 0; b < g.num_bins; ++b) {
      const double s = static_cast<double>(b) - 0.5 * static_cast<double>(g.num_bins - 1);
      const double e = std::abs(p.data()[a * g.num_bins + b] - disk_bin(s, 1.0, r));
      (std::abs(s) < r - 3 ? interior : rim) = std::max(std::abs(s) < r - 3 ? interior : rim, e);
    }
  CHECK(interior < 0.3);
  CHECK(rim < 1.6);
}

TEST_CASE("radon projects a volume slice by slice", "[imaging][pet]") {
  Generator gen(11);
  const Tensor<float> v = rand<float>({2, 1, 3, 10, 12}, gen);
  const auto g = ops::radon_geometry(10, 12, {.num_angles = 9});
  const Tensor<float> p = ops::radon(v, g);
  REQUIRE(p.shape() == Shape{2, 1, 3, 9, g.num_bins});
  const Tensor<float> one = ops::radon(v.select(0, 1).select(0, 0).select(0, 2).contiguous(), g);
  const Tensor<float> part = p.select(0, 1).select(0, 0).select(0, 2).contiguous();
  for (int64_t i = 0; i < one.numel(); ++i) CHECK(part.data()[i] == one.data()[i]);
  // a non-contiguous input gives the same as its contiguous copy
  const Tensor<float> t = v.transpose(3, 4);
  const auto gt = ops::radon_geometry(12, 10, {.num_angles = 9});
  const Tensor<float> a = ops::radon(t, gt), b = ops::radon(t.contiguous(), gt);
  for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.data()[i] == b.data()[i]);
}

TEST_CASE("radon is the same on any number of threads", "[imaging][pet]") {
  Generator gen(5);
  const Tensor<double> x = rand<double>({3, 2, 20, 17}, gen);
  const auto g = ops::radon_geometry(20, 17, {.num_angles = 31});
  Tensor<double> p1, p2, b1, b2;
  {
    ThreadsGuard one(1);
    p1 = ops::radon(x, g);
    b1 = ops::back_projection(p1, g);
  }
  {
    ThreadsGuard two(2);
    p2 = ops::radon(x, g);
    b2 = ops::back_projection(p2, g);
  }
  for (int64_t i = 0; i < p1.numel(); ++i) CHECK(p1.data()[i] == p2.data()[i]);
  for (int64_t i = 0; i < b1.numel(); ++i) CHECK(b1.data()[i] == b2.data()[i]);
}

TEST_CASE("radon and back_projection autograd", "[imaging][pet]") {
  Generator gen(21);
  const auto g = ops::radon_geometry(5, 6, {.num_angles = 7, .bin_spacing = 0.8});
  SECTION("values and backward are the kernels") {
    const Tensor<double> x = randn<double>({2, 1, 5, 6}, gen), w = randn<double>({2, 1, 7, g.num_bins}, gen);
    Var<double> xv(x, true);
    const Var<double> p = radon(xv, g);
    CHECK(max_abs(ops::sub(p.value(), ops::radon(x, g))) == 0);
    sum(mul(p, Var<double>(w))).backward();
    CHECK(max_abs(ops::sub(xv.grad(), ops::back_projection(w, g))) < 1e-14);
    // the options overloads build the same geometry
    const Var<double> q = radon(Var<double>(x), {.num_angles = 7, .bin_spacing = 0.8});
    CHECK(max_abs(ops::sub(q.value(), p.value())) == 0);
    const Var<double> b = back_projection(Var<double>(w), 5, 6, {.num_angles = 7, .bin_spacing = 0.8});
    CHECK(max_abs(ops::sub(b.value(), ops::back_projection(w, g))) == 0);
  }
  SECTION("gradcheck and gradgradcheck") {
    const Var<double> x(randn<double>({1, 2, 5, 6}, gen), true);
    const Var<double> y(randn<double>({1, 2, 7, g.num_bins}, gen), true);
    // linear maps: squared so that the second derivatives are not all zero
    test::check_gradients([&](const auto& in) { return square(radon(in[0], g)); }, {x});
    test::check_gradients([&](const auto& in) { return square(back_projection(in[0], g)); }, {y});
    test::check_gradients([&](const auto& in) { return mul(back_projection(radon(in[0], g), g), in[0]); }, {x});
  }
}

TEST_CASE("poisson draws have the Poisson mean and variance", "[imaging][pet]") {
  const int64_t n = 100000;
  for (double lambda : {0.3, 2.5, 9.99, 10.0, 10.5, 37.0, 1000.0, 1e5}) {
    Generator gen(static_cast<uint64_t>(lambda * 1000) + 1);
    const Tensor<double> y = data::poisson(full<double>({n}, lambda), gen);
    double s = 0, s2 = 0;
    bool integers = true;
    for (int64_t i = 0; i < n; ++i) {
      const double v = y.data()[i];
      integers = integers && v >= 0 && v == std::floor(v);
      s += v;
      s2 += v * v;
    }
    const double mean = s / n, var = s2 / n - mean * mean;
    INFO("lambda " << lambda << ": mean " << mean << ", variance " << var);
    CHECK(integers);
    CHECK(std::abs(mean - lambda) < 5 * std::sqrt(lambda / n));
    CHECK(std::abs(var - lambda) < 5 * std::sqrt((lambda + 2 * lambda * lambda) / n));
  }
  const Tensor<float> z = data::poisson(zeros<float>({10}));
  CHECK(max_abs(z) == 0);
}

TEST_CASE("poisson frequencies match the probability mass function", "[imaging][pet]") {
  // Pearson's chi-square over the values with expected frequency >= 20, against the 99.9% point
  // (about df + 3.1 sqrt(2 df) for these df).
  const int64_t n = 200000;
  for (double lambda : {3.0, 25.0}) {  // inversion, then transformed rejection
    Generator gen(99);
    const Tensor<double> y = data::poisson(full<double>({n}, lambda), gen);
    std::vector<int64_t> count(400, 0);
    for (int64_t i = 0; i < n; ++i) ++count[static_cast<std::size_t>(std::min<double>(y.data()[i], 399))];
    double chi2 = 0;
    int df = -1;
    double logp = -lambda;  // log pmf(0)
    for (int k = 0; k < 399; ++k) {
      if (k > 0) logp += std::log(lambda / k);
      const double expected = n * std::exp(logp);
      if (expected < 20) continue;
      chi2 +=
          (count[static_cast<std::size_t>(k)] - expected) * (count[static_cast<std::size_t>(k)] - expected) / expected;
      ++df;
    }
    INFO("lambda " << lambda << ": chi2 " << chi2 << " with " << df << " degrees of freedom");
    CHECK(chi2 < df + 3.1 * std::sqrt(2.0 * df) + 3);
  }
}

TEST_CASE("poisson is seeded and thread-independent", "[imaging][pet]") {
  Tensor<float> mean({5000});
  for (int64_t i = 0; i < mean.numel(); ++i) mean.data()[i] = static_cast<float>(i % 40) * 1.7f;
  Tensor<float> a, b, c;
  {
    ThreadsGuard one(1);
    Generator gen(42);
    a = data::poisson(mean, gen);
  }
  {
    ThreadsGuard two(2);
    Generator gen(42);
    b = data::poisson(mean, gen);
    c = data::poisson(mean, gen);  // the generator moved on
  }
  int64_t same = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    CHECK(a.data()[i] == b.data()[i]);
    same += b.data()[i] == c.data()[i];
  }
  CHECK(same < a.numel() / 2);
}

TEST_CASE("attenuation factors of a uniform disk", "[imaging][pet]") {
  // mu = 0.1 / cm on a disk of radius 20 pixels of 0.2 cm: a = exp(-0.1 * 0.2 * chord).
  const Tensor<double> mu = ops::mul(disk(65, 20), 0.1);
  const auto g = ops::radon_geometry(65, 65, {.num_angles = 8, .num_bins = 65});
  const Tensor<double> a = data::attenuation_factors(mu, g, 0.2);
  for (int64_t k = 0; k < 8; ++k) {
    // the chord of the pixelated disk is within 0.25 of the circle's (see the disk test)
    CHECK(a.data()[k * 65 + 32] == Approx(std::exp(-0.1 * 0.2 * disk_bin(0, 1, 20))).epsilon(0.02 * 0.25));
    CHECK(a.data()[k * 65 + 42] == Approx(std::exp(-0.1 * 0.2 * disk_bin(10, 1, 20))).epsilon(0.02 * 0.25));
    CHECK(a.data()[k * 65] == 1.0);  // outside the disk
  }
}

TEST_CASE("simulate_pet sets the count level and the model", "[imaging][pet]") {
  const Tensor<double> x = data::shepp_logan<double>(32, 32), mu = ops::mul(disk(32, 14), 0.096);
  const Tensor<double> two = ops::maximum(x, 0.0).unsqueeze(0).expand({2, 32, 32}).contiguous();
  const Tensor<double> mus = mu.unsqueeze(0).expand({2, 32, 32}).contiguous();
  const auto g = ops::radon_geometry(32, 32, {.num_angles = 30});
  Generator gen(1);
  const auto d =
      data::simulate_pet(two, mus, g, {.total_counts = 5e4, .background_fraction = 0.2, .pixel_size = 0.5}, gen);
  REQUIRE(d.counts.shape() == Shape{2, 30, g.num_bins});
  REQUIRE(d.scale.shape() == Shape{2, 1, 1});
  for (int64_t s = 0; s < 2; ++s) {
    double e = 0, y = 0, r = 0;
    const int64_t m = 30 * g.num_bins;
    for (int64_t i = s * m; i < (s + 1) * m; ++i) {
      e += d.expected.data()[i];
      y += d.counts.data()[i];
      r += d.background.data()[i];
    }
    CHECK(e == Approx(5e4).epsilon(1e-10));
    CHECK(r == Approx(1e4).epsilon(1e-10));
    CHECK(std::abs(y - 5e4) < 5 * std::sqrt(5e4));
  }
  // expected = a * A (scale x) + r
  const Tensor<double> model = data::pet_forward(ops::mul(two, d.scale.data()[0]), g, d.attenuation, d.background);
  for (int64_t i = 0; i < 30 * g.num_bins; ++i) CHECK(model.data()[i] == Approx(d.expected.data()[i]).epsilon(1e-12));
  CHECK(max_abs(ops::sub(d.attenuation, data::attenuation_factors(mus, g, 0.5))) == 0);
  // noise off: counts are the expected counts
  const auto q = data::simulate_pet(two, Tensor<double>(), g, {.total_counts = 100, .noise = false});
  CHECK(max_abs(ops::sub(q.counts, q.expected)) == 0);
  CHECK(max_abs(ops::sub(q.attenuation, ones<double>(q.counts.shape()))) == 0);
}

TEST_CASE("fbp reconstructs a disk and the Shepp-Logan phantom", "[imaging][pet]") {
  SECTION("disk: value 1 inside") {
    const Tensor<double> x = disk(65, 20);
    for (double d : {1.0, 0.75}) {
      const auto g = ops::radon_geometry(65, 65, {.num_angles = 90, .bin_spacing = d});
      const Tensor<double> f = data::fbp(ops::radon(x, g), g);
      double s = 0, worst = 0;
      int n = 0;
      for (int64_t i = 0; i < 65; ++i)
        for (int64_t j = 0; j < 65; ++j) {
          const double r = std::hypot(i - 32.0, j - 32.0);
          if (r < 16) {
            s += f.data()[i * 65 + j];
            worst = std::max(worst, std::abs(f.data()[i * 65 + j] - 1));
            ++n;
          } else if (r > 24) {
            worst = std::max(worst, std::abs(f.data()[i * 65 + j]));
          }
        }
      INFO("bin spacing " << d);
      CHECK(s / n == Approx(1).epsilon(0.01));
      CHECK(worst < 0.05);
    }
  }
  SECTION("Shepp-Logan away from edges") {
    const int64_t n = 128;
    const Tensor<double> x = data::shepp_logan<double>(n, n, {.supersample = 4});
    const Tensor<double> point = data::shepp_logan<double>(n, n);
    const auto g = ops::radon_geometry(n, n, {.num_angles = 180});
    const Tensor<double> sino = ops::radon(x, g);
    // pixels whose 7 x 7 neighbourhood is constant in the phantom
    std::vector<char> flat(static_cast<std::size_t>(n * n), 0);
    for (int64_t i = 3; i < n - 3; ++i)
      for (int64_t j = 3; j < n - 3; ++j) {
        bool same = true;
        for (int64_t a = -3; a <= 3 && same; ++a)
          for (int64_t b = -3; b <= 3 && same; ++b) same = point.data()[(i + a) * n + j + b] == point.data()[i * n + j];
        flat[static_cast<std::size_t>(i * n + j)] = same;
      }
    const double ramp = rmse(data::fbp(sino, g), x, flat);
    const double hann = rmse(data::fbp(sino, g, {.filter = "hann"}), x, flat);
    INFO("RMSE ramp " << ramp << ", hann " << hann << " (phantom range 0 .. 1)");
    CHECK(ramp < 0.01);
    CHECK(hann < 0.005);
    // float gives the same image
    const Tensor<float> ff = data::fbp(ops::cast<float>(sino), g);
    CHECK(max_abs(ops::sub(ops::cast<double>(ff), data::fbp(sino, g))) < 1e-4);
  }
}

TEST_CASE("fbp filters", "[imaging][pet]") {
  // Ram-Lak: the kernel itself (h(0) = 1/4, odd n: -1 / (n pi)^2), scaled by 1 / d.
  Tensor<double> delta = zeros<double>({1, 9});
  delta.data()[4] = 1;
  const Tensor<double> h = data::ramp_filter(delta, 2.0);
  CHECK(h.data()[4] == Approx(0.25 / 2));
  CHECK(h.data()[5] == Approx(-1.0 / (std::numbers::pi * std::numbers::pi) / 2));
  CHECK(h.data()[7] == Approx(-1.0 / (9 * std::numbers::pi * std::numbers::pi) / 2));
  CHECK(h.data()[6] == Approx(0).margin(1e-15));
  // The windows at the Nyquist frequency: an alternating row (the ramp's gain there is 1/2, |f| in
  // cycles per bin) keeps 1/2 (ramp), 1/2 * 2/pi (shepp-logan), 1/2 * 0.08 (hamming), 0 (cosine,
  // hann) in its middle, up to the truncation of the detector.
  Tensor<double> alt({1, 64});
  for (int64_t b = 0; b < 64; ++b) alt.data()[b] = b % 2 ? 1.0 : -1.0;
  const std::vector<std::pair<const char*, double>> gains = {
      {"ramp", 0.5}, {"shepp-logan", 1 / std::numbers::pi}, {"hamming", 0.04}, {"cosine", 0.0}, {"hann", 0.0}};
  for (const auto& [f, gain] : gains) {
    const Tensor<double> q = data::ramp_filter(alt, 1.0, {.filter = f});
    INFO(f);
    CHECK(std::abs(q.data()[32]) == Approx(gain).margin(0.01));
  }
  const Tensor<double> cut = data::ramp_filter(alt, 1.0, {.frequency_scaling = 0.5});
  CHECK(std::abs(cut.data()[32]) < 0.01);
}

TEST_CASE("mlem and osem", "[imaging][pet]") {
  const int64_t n = 48;
  const Tensor<double> truth = data::brain_phantom<double>({.size = {n, n}, .seed = 3}).image;
  const Tensor<double> mu = data::brain_phantom<double>({.size = {n, n}, .seed = 3}).mu;
  const auto g = ops::radon_geometry(n, n, {.num_angles = 60});
  Generator gen(8);
  const auto d =
      data::simulate_pet(truth, mu, g, {.total_counts = 3e5, .background_fraction = 0.1, .pixel_size = 0.4}, gen);
  const Tensor<double> target = ops::mul(truth, d.scale.data()[0]);
  std::vector<char> all(static_cast<std::size_t>(n * n), 1);

  SECTION("mlem decreases the negative log-likelihood every iteration") {
    std::vector<double> nll;
    const Tensor<double> x =
        data::mlem(d.counts, g,
                   {.iterations = 12,
                    .attenuation = d.attenuation,
                    .background = d.background,
                    .callback = [&](int64_t, const Tensor<double>& xi) {
                      nll.push_back(data::poisson_nll(d.counts, data::pet_forward(xi, g, d.attenuation, d.background)));
                    }});
    REQUIRE(nll.size() == 12);
    for (std::size_t i = 1; i < nll.size(); ++i) CHECK(nll[i] <= nll[i - 1]);
    double lo = 1e300;
    for (int64_t i = 0; i < x.numel(); ++i) lo = std::min(lo, x.data()[i]);
    CHECK(lo >= 0);
  }
  SECTION("mlem and osem beat fbp on noisy data") {
    // FBP of the corrected counts (y - r) / a, the classical baseline.
    Tensor<double> corrected = ops::div(ops::sub(d.counts, d.background), d.attenuation);
    const double e_fbp = rmse(data::fbp(corrected, g), target, all);
    const double e_fbp_hann = rmse(data::fbp(corrected, g, {.filter = "hann"}), target, all);
    const Tensor<double> x_mlem =
        data::mlem(d.counts, g, {.iterations = 30, .attenuation = d.attenuation, .background = d.background});
    const Tensor<double> x_osem = data::osem(
        d.counts, g, {.iterations = 5, .subsets = 6, .attenuation = d.attenuation, .background = d.background});
    const double e_mlem = rmse(x_mlem, target, all), e_osem = rmse(x_osem, target, all);
    INFO("RMSE fbp " << e_fbp << ", fbp hann " << e_fbp_hann << ", mlem " << e_mlem << ", osem " << e_osem);
    CHECK(e_mlem < e_fbp);
    CHECK(e_osem < e_fbp);
    CHECK(e_mlem < e_fbp_hann);
  }
  SECTION("osem converges faster per pass than mlem") {
    auto nll_after = [&](int64_t subsets) {
      const Tensor<double> x = data::osem(
          d.counts, g, {.iterations = 2, .subsets = subsets, .attenuation = d.attenuation, .background = d.background});
      return data::poisson_nll(d.counts, data::pet_forward(x, g, d.attenuation, d.background));
    };
    CHECK(nll_after(6) < nll_after(1));
  }
  SECTION("batched reconstruction equals one at a time; float agrees") {
    const Tensor<double> one = data::mlem(d.counts, g, {.iterations = 3});
    const Tensor<double> stacked = d.counts.unsqueeze(0).expand({2, 60, g.num_bins}).contiguous();
    const Tensor<double> both = data::mlem(stacked, g, {.iterations = 3});
    for (int64_t i = 0; i < one.numel(); ++i)
      CHECK(both.data()[one.numel() + i] == Approx(one.data()[i]).epsilon(1e-12));
    // float, with the full model (a float bin is exact to ~1e-7 of the lines' totals, so bins that
    // only graze a corner are relatively coarse: a background keeps their ratios bounded)
    const Tensor<double> full_model =
        data::mlem(d.counts, g, {.iterations = 3, .attenuation = d.attenuation, .background = d.background});
    const Tensor<float> f = data::mlem(ops::cast<float>(d.counts), g,
                                       {.iterations = 3,
                                        .attenuation = ops::cast<float>(d.attenuation),
                                        .background = ops::cast<float>(d.background)});
    CHECK(max_abs(ops::sub(ops::cast<double>(f), full_model)) < 1e-4 * max_abs(full_model));
  }
}

TEST_CASE("pet errors name the op and the shapes", "[imaging][pet]") {
  const auto g = ops::radon_geometry(8, 8, {.num_angles = 10});
  REQUIRE_THROWS_WITH(ops::radon(zeros<float>({8}), g), Contains("radon") && Contains("[8]"));
  REQUIRE_THROWS_WITH(ops::radon(zeros<float>({1, 8, 9}), g),
                      Contains("radon") && Contains("[1, 8, 9]") && Contains("8 x 8"));
  REQUIRE_THROWS_WITH(ops::back_projection(zeros<float>({1, 10, 5}), g),
                      Contains("back_projection") && Contains("[1, 10, 5]") && Contains("10 angles x 12 bins"));
  REQUIRE_THROWS_WITH(back_projection(Var<float>(zeros<float>({2, 9, 12})), 8, 8, {.num_angles = 10}),
                      Contains("back_projection") && Contains("[2, 9, 12]"));
  REQUIRE_THROWS_WITH(ops::radon_geometry(8, 8, {.bin_spacing = 0}), Contains("bin_spacing"));
  REQUIRE_THROWS_WITH(ops::radon_geometry(0, 8), Contains("radon") && Contains("0 x 8"));
  REQUIRE_THROWS_WITH(ops::radon_geometry(8, 8, {.num_angles = 0}), Contains("num_angles"));
  REQUIRE_THROWS_WITH(data::poisson(full<float>({3}, -1.0f)), Contains("poisson") && Contains("[3]"));
  const Tensor<float> y = zeros<float>({1, 10, 12});
  REQUIRE_THROWS_WITH(data::fbp(y, g, {.filter = "parzen"}), Contains("unknown filter 'parzen'"));
  REQUIRE_THROWS_WITH(data::mlem(y, g, {.subsets = 2}), Contains("mlem") && Contains("osem"));
  REQUIRE_THROWS_WITH(data::osem(y, g, {.subsets = 11}), Contains("osem") && Contains("subsets 11"));
  REQUIRE_THROWS_WITH(data::osem(y, g, {.subsets = 2, .attenuation = zeros<float>({10, 12})}),
                      Contains("osem") && Contains("attenuation") && Contains("[10, 12]") && Contains("[1, 10, 12]"));
  REQUIRE_THROWS_WITH(data::simulate_pet(zeros<float>({8, 8}), zeros<float>({1, 8, 8}), g),
                      Contains("simulate_pet") && Contains("mu") && Contains("[1, 8, 8]"));
  REQUIRE_THROWS_WITH(data::poisson_nll(y, zeros<float>({10, 12})), Contains("poisson_nll"));
  // hand-built geometries are checked too, not divided by
  const ops::RadonGeometry empty{};
  REQUIRE_THROWS_WITH(ops::back_projection(zeros<float>({0, 0}), empty),
                      Contains("back_projection") && Contains("must be positive"));
  REQUIRE_THROWS_WITH(ops::radon(zeros<float>({0, 0}), empty), Contains("radon") && Contains("0 angles"));
  REQUIRE_THROWS_WITH(g.subset({}), Contains("subset") && Contains("no angle"));
  ops::RadonGeometry no_angles = g;
  no_angles.angles.clear();
  REQUIRE_THROWS_WITH(data::fbp(zeros<float>({0, 12}), no_angles), Contains("fbp") && Contains("0 angles"));
}
