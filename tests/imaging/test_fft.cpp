// FFTs on complex tensors stored with a trailing dim of 2: fftn / ifftn against torch.fft (every norm,
// 1-4 dims among 4, lengths 1 to 320 including primes and Bluestein lengths, non-contiguous inputs),
// fft2c / ifft2c / fftshift / ifftshift / roll against fastMRI, gradients against PyTorch, gradcheck
// and gradgradcheck, long lengths and every axis layout against a long-double DFT, round trips,
// Parseval, adjoint identities and errors. Fixtures: tests/fixtures/gen_imaging_fft.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/autograd/functions/fft.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/ops/elementwise.hpp"
#include "voxnn/ops/reduce.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;
using test::FixtureCase;

namespace {

const char* const kFile = "imaging_fft.safetensors";
const std::vector<const char*> kOps = {"fftn", "ifftn", "fft2c", "ifft2c", "fftshift", "ifftshift", "roll"};

template <class T>
Var<T> run_op(const FixtureCase& c, const Var<T>& x) {
  const std::string op = c.op();
  if (op == "fftn") return fftn(x, c.ints("dims"), c.string("norm"));
  if (op == "ifftn") return ifftn(x, c.ints("dims"), c.string("norm"));
  if (op == "fft2c") return fft2c(x, c.string("norm"));
  if (op == "ifft2c") return ifft2c(x, c.string("norm"));
  if (op == "fftshift") return fftshift(x, c.ints("dims"));
  if (op == "ifftshift") return ifftshift(x, c.ints("dims"));
  if (op == "roll") return roll(x, c.ints("shifts"), c.ints("dims"));
  FAIL("unknown op " << op);
  return x;
}

template <class T>
Tensor<T> run_raw(const FixtureCase& c, const Tensor<T>& x) {
  const std::string op = c.op();
  if (op == "fftn") return ops::fftn(x, c.ints("dims"), c.string("norm"));
  if (op == "ifftn") return ops::ifftn(x, c.ints("dims"), c.string("norm"));
  if (op == "fft2c") return ops::fft2c(x, c.string("norm"));
  if (op == "ifft2c") return ops::ifft2c(x, c.string("norm"));
  if (op == "fftshift") return ops::fftshift(x, c.ints("dims"));
  if (op == "ifftshift") return ops::ifftshift(x, c.ints("dims"));
  return ops::roll(x, c.ints("shifts"), c.ints("dims"));
}

std::vector<FixtureCase> all_cases() {
  std::vector<FixtureCase> out;
  for (const char* op : kOps)
    for (auto& c : test::fixture_cases(kFile, op)) out.push_back(std::move(c));
  return out;
}

// The DFT of every line along complex dim `dim` of x (..., 2), in long double: the reference for
// lengths and layouts the fixtures do not hold.
template <class T>
Tensor<double> naive_dft(const Tensor<T>& x, int dim, bool inverse) {
  const Tensor<T> c = x.contiguous();
  const Shape& s = x.shape();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= s[d];
  for (int d = dim + 1; d < s.size() - 1; ++d) inner *= s[d];
  const int64_t n = s[dim];
  Tensor<double> out(s);
  const long double pi = 3.141592653589793238462643383279502884L, sign = inverse ? 1 : -1;
  std::vector<std::complex<long double>> w(static_cast<std::size_t>(n));
  for (int64_t k = 0; k < n; ++k) w[static_cast<std::size_t>(k)] = std::polar(1.0L, sign * 2 * pi * k / n);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      for (int64_t k = 0; k < n; ++k) {
        std::complex<long double> acc = 0;
        for (int64_t j = 0; j < n; ++j) {
          const T* p = c.data() + 2 * ((o * n + j) * inner + i);
          acc += std::complex<long double>(p[0], p[1]) * w[static_cast<std::size_t>((j * k) % n)];
        }
        double* q = out.data() + 2 * ((o * n + k) * inner + i);
        q[0] = static_cast<double>(acc.real());
        q[1] = static_cast<double>(acc.imag());
      }
  return out;
}

template <class T>
double max_abs(const Tensor<T>& t) {
  double m = 0;
  for (const auto v : t.to_vector()) m = std::max(m, std::abs(static_cast<double>(v)));
  return m;
}

template <class T>
double dot(const Tensor<T>& a, const Tensor<T>& b) {
  const auto x = a.to_vector(), y = b.to_vector();
  long double s = 0;
  for (std::size_t i = 0; i < x.size(); ++i) s += static_cast<long double>(x[i]) * y[i];
  return static_cast<double>(s);
}

}  // namespace

TEMPLATE_TEST_CASE("fft ops match torch.fft and fastMRI, gradients included", "[imaging][fft]", float, double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : all_cases()) {
    INFO("case " << c.name());
    ++count;
    const bool with_grad = c.has("grad");
    const Var<T> x(c.input<T>(0), with_grad);
    const Var<T> y = run_op(c, x);
    c.check<T>(y.value(), 0);
    c.check<T>(run_raw(c, c.input<T>(0)), 0);
    if (with_grad) {
      const auto grads = grad<T, Cpu>({y}, {x}, {c.input<T>(1)});
      REQUIRE(grads.size() == 1);
      c.check<T>(grads[0].value(), 1);
    }
  }
  CHECK(count >= 70);
}

TEST_CASE("fft ops: gradcheck and gradgradcheck", "[imaging][fft][gradcheck]") {
  const io::TensorFile& file = test::fixture_file(kFile);
  int count = 0;
  for (const auto& c : all_cases()) {
    if (!c.has("grad")) continue;
    INFO("case " << c.name());
    ++count;
    const std::string key = c.param("inputs").array().at(0).string();
    const auto& views = c.param("views").array().at(0);
    const GradcheckFn f = [&](const std::vector<Var<double>>& xs) { return run_op(c, test::apply_views_var(xs[0], views)); };
    test::check_gradients(f, {Var<double>(file.get<double>(key), true)});
  }
  CHECK(count >= 8);
  // the shifts on their own, odd and even sizes
  Generator gen(3);
  const Var<double> x(randn<double>({3, 4, 5}, gen), true);
  test::check_gradients([](const auto& v) { return fftshift(v[0], {0, 1, 2}); }, {x});
  test::check_gradients([](const auto& v) { return ifftshift(v[0], {-1, 0}); }, {x});
  test::require_equal(fftshift(x, {}).value(), ops::fftshift(x.value(), {0, 1, 2}), "empty dims = every dim");
  // a composition whose second derivative is not zero: |fft2c(x)|^2 weighted
  const Var<double> z(randn<double>({2, 3, 5, 2}, gen), true);
  const Var<double> wgt(randn<double>({2, 3, 5, 2}, gen));
  test::check_gradients([&](const auto& v) { return sum(mul(square(fftn(v[0], {0, 2}, "ortho")), wgt)); }, {z});
}

TEMPLATE_TEST_CASE("fft: lengths and axis layouts against a long-double DFT", "[imaging][fft]", float, double) {
  using T = TestType;
  Generator gen(5);
  // float: a few ulps per radix stage (Bluestein runs three transforms of about twice the length)
  const auto tol = [](int64_t n, double scale) {
    const double eps = std::is_same_v<T, float> ? 1.2e-7 : 2.3e-16;
    return 8 * eps * (std::log2(static_cast<double>(n)) + 4) * std::max(1.0, scale);
  };
  SECTION("every length 1..70 and long primes along the last dim") {
    std::vector<int64_t> lengths;
    for (int64_t n = 1; n <= 70; ++n) lengths.push_back(n);
    for (int64_t n : {97, 127, 128, 243, 256, 320, 625, 1009, 1024, 2310, 4099}) lengths.push_back(n);
    for (int64_t n : lengths) {
      INFO("n = " << n);
      const Tensor<T> x = randn<T>({3, n, 2}, gen);
      for (bool inverse : {false, true}) {
        const Tensor<T> y = inverse ? ops::ifftn(x, {-1}, "forward") : ops::fftn(x, {-1});
        const Tensor<double> want = naive_dft(x, 1, inverse);
        test::check_close(y, want, tol(n, max_abs(want)), inverse ? "ifftn" : "fftn");
      }
    }
  }
  SECTION("outer and middle dims, inner sizes around the vector width") {
    for (int64_t inner : {1, 3, 8, 15, 16, 17, 33, 40})
      for (int64_t n : {5, 12, 61, 67, 320}) {
        INFO("n = " << n << ", inner = " << inner);
        const Tensor<T> x = randn<T>({2, n, inner, 2}, gen);
        const Tensor<T> y = ops::fftn(x, {1});
        const Tensor<double> want = naive_dft(x, 1, false);
        test::check_close(y, want, tol(n, max_abs(want)), "fftn");
      }
  }
  SECTION("threads give the same bits as one thread") {
    const Tensor<T> x = randn<T>({3, 40, 36, 2}, gen);
    const int threads = num_threads();
    const Tensor<T> y = ops::fftn(x, {0, 1, 2}, "ortho"), y2 = ops::fft2c(x);
    set_num_threads(1);
    const Tensor<T> y1 = ops::fftn(x, {0, 1, 2}, "ortho"), y21 = ops::fft2c(x);
    set_num_threads(threads);
    test::require_equal(y, y1, "fftn");
    test::require_equal(y2, y21, "fft2c");
  }
}

TEST_CASE("fft: round trips, Parseval and adjoint identities", "[imaging][fft]") {
  Generator gen(9);
  const Tensor<double> x = randn<double>({5, 12, 7, 2}, gen);
  const Tensor<double> yv = randn<double>({5, 12, 7, 2}, gen);
  const std::vector<std::vector<int64_t>> dim_sets = {{0}, {1, 2}, {-1, 0}, {0, 1, 2}, {}};
  for (const char* norm : {"backward", "forward", "ortho"})
    for (const auto& dims : dim_sets) {
      INFO("norm " << norm << ", " << dims.size() << " dims");
      test::check_close(ops::ifftn(ops::fftn(x, dims, norm), dims, norm), x, 1e-13, "ifftn(fftn(x))");
      test::check_close(ops::fftn(ops::ifftn(x, dims, norm), dims, norm), x, 1e-13, "fftn(ifftn(x))");
      // <F x, y> = <x, F^H y>: the adjoint of fftn(norm) is ifftn with backward and forward swapped
      const std::string adj(ops::adjoint_fft_norm(norm));
      CHECK(dot(ops::fftn(x, dims, norm), yv) == Approx(dot(x, ops::ifftn(yv, dims, adj))).epsilon(1e-12));
      CHECK(dot(ops::ifftn(x, dims, norm), yv) == Approx(dot(x, ops::fftn(yv, dims, adj))).epsilon(1e-12));
      CHECK(dot(ops::fft2c(x, norm), yv) == Approx(dot(x, ops::ifft2c(yv, adj))).epsilon(1e-12));
    }
  // Parseval: the ortho transforms keep the norm
  CHECK(dot(ops::fftn(x, {0, 1, 2}, "ortho"), ops::fftn(x, {0, 1, 2}, "ortho")) == Approx(dot(x, x)).epsilon(1e-12));
  CHECK(dot(ops::ifft2c(x), ops::ifft2c(x)) == Approx(dot(x, x)).epsilon(1e-12));
  test::check_close(ops::ifft2c(ops::fft2c(x)), x, 1e-13, "ifft2c(fft2c(x))");
  // fft2c on odd sizes is not its own shift-free transform: a delta at the centre maps to a constant
  Tensor<double> delta = zeros<double>({5, 7, 2});
  delta.at({2, 3, 0}) = 1;
  const Tensor<double> flat = ops::fft2c(delta);
  for (int64_t i = 0; i < 35; ++i) {
    CHECK(flat.data()[2 * i] == Approx(1 / std::sqrt(35.0)));
    CHECK(flat.data()[2 * i + 1] == Approx(0).margin(1e-15));
  }
  // roll then the opposite roll is the identity; fftshift then ifftshift too
  test::require_equal(ops::roll(ops::roll(x, {3, -20}, {1, 2}), {-3, 20}, {1, 2}), x);
  test::require_equal(ops::ifftshift(ops::fftshift(x, {0, 1, 2}), {0, 1, 2}), x);
}

TEST_CASE("fft: gradients of fftn are ifftn with the adjoint norm, to second order", "[imaging][fft]") {
  Generator gen(2);
  const Var<double> x(randn<double>({3, 4, 2}, gen), true);
  const Var<double> g(randn<double>({3, 4, 2}, gen), true);
  for (const char* norm : {"backward", "forward", "ortho"}) {
    INFO(norm);
    const Var<double> y = fftn(x, {0, 1}, norm);
    const auto gx = grad<double, Cpu>({sum(mul(y, g))}, {x}, {}, true, true);
    test::check_close(gx[0].value(), ops::ifftn(g.value(), {0, 1}, ops::adjoint_fft_norm(norm)), 1e-14);
    // under create_graph the gradient is an ifftn node whose own backward is fftn with `norm`
    REQUIRE(gx[0].requires_grad());
    const auto gg = grad<double, Cpu>({gx[0]}, {g}, {x.value()});
    test::check_close(gg[0].value(), ops::fftn(x.value(), {0, 1}, norm), 1e-14);
  }
}

TEST_CASE("fft: errors name the op and the shapes", "[imaging][fft]") {
  const Var<double> x(zeros<double>({2, 3, 4}));
  const Var<double> c(zeros<double>({2, 3, 2}));
  REQUIRE_THROWS_WITH(fftn(x, {0}), Contains("fftn") && Contains("[2, 3, 4]") && Contains("trailing dimension of 2"));
  REQUIRE_THROWS_WITH(ifftn(x, {0}), Contains("ifftn") && Contains("trailing dim"));
  REQUIRE_THROWS_WITH(fftn(c, {2}), Contains("fftn: dim 2 out of range") && Contains("rank 2"));
  REQUIRE_THROWS_WITH(fftn(c, {-3}), Contains("out of range"));
  REQUIRE_THROWS_WITH(fftn(c, {0, -2}), Contains("fftn") && Contains("unique"));
  REQUIRE_THROWS_WITH(fftn(c, {0}, "orthogonal"), Contains("fftn: unknown norm \"orthogonal\""));
  REQUIRE_THROWS_WITH(fft2c(x), Contains("fft2c") && Contains("[2, 3, 4]"));
  REQUIRE_THROWS_WITH(ifft2c(Var<double>(zeros<double>({4, 2}))), Contains("ifft2c") && Contains("[4, 2]"));
  REQUIRE_THROWS_WITH(fftn(Var<double>(zeros<double>({0, 3, 2})), {0}), Contains("fftn") && Contains("(0)"));
  REQUIRE_THROWS_WITH(roll(x, {1, 2}, {0}), Contains("roll: 2 shifts for 1 dims") && Contains("[2, 3, 4]"));
  REQUIRE_THROWS_WITH(fftshift(x, {3}), Contains("fftshift") && Contains("out of range"));
  // empty tensors along other dims and an empty dims list (every dim) work
  CHECK(ops::fftn(zeros<double>({0, 3, 2}), {1}).shape() == Shape{0, 3, 2});
  Generator gen(1);
  const Tensor<double> r = randn<double>({3, 4, 2}, gen);
  test::check_close(ops::fftn(r, {}), ops::fftn(r, {0, 1}), 0.0);
}
