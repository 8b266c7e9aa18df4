// MRI physics: complex arithmetic and root-sum-of-squares, the coil operators and data consistency
// (values and gradients against fastMRI 0.3.0 in float and double, gradcheck and gradgradcheck in
// double, adjoint tests), the SoftDataConsistency module, coil-map and k-space simulation, errors.
// Fixtures: tests/fixtures/gen_imaging_mri.py. Masks: test_kspace_mask.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <complex>
#include <numbers>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/engine.hpp"
#include "voxnn/autograd/functions/coil.hpp"
#include "voxnn/autograd/functions/complex.hpp"
#include "voxnn/autograd/functions/fft.hpp"
#include "voxnn/data/mri_simulation.hpp"
#include "voxnn/nn/data_consistency.hpp"
#include "voxnn/nn/identity.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;
using test::FixtureCase;

namespace {

const char* const kFile = "imaging_mri.safetensors";
const std::vector<const char*> kGradOps = {"complex_mul", "complex_conj", "complex_abs", "complex_abs_sq",
                                           "rss",         "rss_complex",  "sens_expand", "sens_reduce",
                                           "varnet_dc",   "varnet_block", "hard_dc"};

bool is_mask_input(const FixtureCase& c, int i) {
  const std::string& key = c.param("inputs").array().at(static_cast<std::size_t>(i)).string();
  return test::fixture_file(kFile).entry(key).dtype == io::DType::BOOL;
}

// The case's op on its real inputs in order (the mask, if any, passed separately).
template <class T>
Var<T> run_op(const FixtureCase& c, const std::vector<Var<T>>& v, const Tensor<bool>& mask) {
  const std::string op = c.op();
  if (op == "complex_mul") return complex_mul(v[0], v[1]);
  if (op == "complex_conj") return complex_conj(v[0]);
  if (op == "complex_abs") return complex_abs(v[0]);
  if (op == "complex_abs_sq") return complex_abs_sq(v[0]);
  if (op == "rss") return rss(v[0], c.integer("dim"));
  if (op == "rss_complex") return rss_complex(v[0], c.integer("dim"));
  if (op == "sens_expand") return sens_expand(v[0], v[1]);
  if (op == "sens_reduce") return sens_reduce(v[0], v[1]);
  if (op == "varnet_dc") return sub(v[0], soft_data_consistency(v[0], v[1], mask, v[2]));
  if (op == "varnet_block")  // inputs k, k0, sens_maps, dc_weight
    return sub(sub(v[0], soft_data_consistency(v[0], v[1], mask, v[3])), sens_expand(sens_reduce(v[0], v[2]), v[2]));
  if (op == "hard_dc") return hard_data_consistency(v[0], v[1], mask);
  FAIL("unknown op " << op);
  return v[0];
}

std::vector<FixtureCase> grad_cases() {
  std::vector<FixtureCase> out;
  for (const char* op : kGradOps)
    for (auto& c : test::fixture_cases(kFile, op)) out.push_back(std::move(c));
  return out;
}

// Real inputs (all but the mask and grad_output) as Vars requiring grad, and the mask.
template <class T>
std::pair<std::vector<Var<T>>, Tensor<bool>> case_inputs(const FixtureCase& c) {
  std::vector<Var<T>> vars;
  Tensor<bool> mask;
  for (int i = 0; i + 1 < c.num_inputs(); ++i) {
    if (is_mask_input(c, i)) mask = c.input<bool>(i);
    else vars.emplace_back(c.input<T>(i), true);
  }
  return {vars, mask};
}

template <class T>
T inner(const Tensor<T>& a, const Tensor<T>& b) {
  const auto x = a.to_vector(), y = b.to_vector();
  REQUIRE(x.size() == y.size());
  T s = 0;
  for (std::size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

}  // namespace

TEMPLATE_TEST_CASE("MRI complex and coil ops match fastMRI, gradients included", "[imaging][mri]", float, double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : grad_cases()) {
    INFO("case " << c.name());
    ++count;
    auto [vars, mask] = case_inputs<T>(c);
    const Var<T> y = run_op(c, vars, mask);
    c.check<T>(y.value(), 0);
    const auto grads = grad<T, Cpu>({y}, vars, {c.input<T>(c.num_inputs() - 1)});
    REQUIRE(static_cast<int>(grads.size()) == c.num_outputs() - 1);
    for (std::size_t k = 0; k < grads.size(); ++k) c.check<T>(grads[k].value(), static_cast<int>(k) + 1);
  }
  CHECK(count >= 26);
}

TEST_CASE("MRI complex and coil ops: gradcheck and gradgradcheck", "[imaging][mri][gradcheck]") {
  int count = 0;
  for (const auto& c : grad_cases()) {
    INFO("case " << c.name());
    ++count;
    auto [vars, mask] = case_inputs<double>(c);
    const Tensor<bool> m = mask;
    const GradcheckFn f = [&c, m](const std::vector<Var<double>>& xs) { return run_op(c, xs, m); };
    test::check_gradients(f, vars);
  }
  CHECK(count >= 26);
}

TEST_CASE("complex_abs, rss and rss_complex give a zero gradient at zero", "[imaging][mri]") {
  Var<double> x(zeros<double>({3, 2}), true);
  const Var<double> y = sum(complex_abs(x));
  const auto g = grad<double, Cpu>({y}, {x});
  test::require_equal(g[0].value(), zeros<double>({3, 2}), "complex_abs");
  const auto g2 = grad<double, Cpu>({sum(rss_complex(x, 0))}, {x});
  test::require_equal(g2[0].value(), zeros<double>({3, 2}), "rss_complex");
  const auto g3 = grad<double, Cpu>({sum(rss(x, 1))}, {x});
  test::require_equal(g3[0].value(), zeros<double>({3, 2}), "rss");
  // create_graph through complex_abs's backward at a nonzero point agrees with the plain backward
  Var<double> z(from_vector<double>({3.0, -4.0, 0.5, 1.5}, {2, 2}), true);
  const auto plain = grad<double, Cpu>({sum(complex_abs(z))}, {z});
  const auto graphed = grad<double, Cpu>({sum(complex_abs(z))}, {z}, {}, false, true);
  test::require_close(graphed[0].value(), plain[0].value(), 1e-15, "complex_abs create_graph");
  test::require_close(plain[0].value(), from_vector<double>({0.6, -0.8, 0.5 / std::sqrt(2.5), 1.5 / std::sqrt(2.5)}, {2, 2}),
                      1e-15, "complex_abs gradient x / |x|");
}

TEST_CASE("sens_reduce is the adjoint of sens_expand", "[imaging][mri][adjoint]") {
  Generator gen(11);
  for (auto [b, c, h, w] : std::vector<std::array<int64_t, 4>>{{2, 3, 5, 4}, {2, 4, 6, 7}, {1, 4, 9, 8}, {2, 3, 1, 5}}) {
    INFO("B " << b << " C " << c << " H " << h << " W " << w);
    const Var<double> x(randn<double>({b, 1, h, w, 2}, gen));
    const Var<double> k(randn<double>({b, c, h, w, 2}, gen));
    const Var<double> s(randn<double>({b, c, h, w, 2}, gen));
    const double lhs = inner(sens_expand(x, s).value(), k.value());
    const double rhs = inner(x.value(), sens_reduce(k, s).value());
    CHECK(std::abs(lhs - rhs) <= 1e-11 * std::max(1.0, std::abs(lhs)));
    // sens maps shared by the batch (broadcast over dim 0)
    const Var<double> s1(randn<double>({1, c, h, w, 2}, gen));
    CHECK(std::abs(inner(sens_expand(x, s1).value(), k.value()) - inner(x.value(), sens_reduce(k, s1).value())) <=
          1e-11 * std::max(1.0, std::abs(lhs)));
  }
  // per-slice volumes (B, C, D, H, W, 2)
  const Var<double> x(randn<double>({2, 1, 3, 5, 4, 2}, gen));
  const Var<double> k(randn<double>({2, 3, 3, 5, 4, 2}, gen));
  const Var<double> s(randn<double>({2, 3, 3, 5, 4, 2}, gen));
  const double lhs = inner(sens_expand(x, s).value(), k.value());
  CHECK(std::abs(lhs - inner(x.value(), sens_reduce(k, s).value())) <= 1e-11 * std::max(1.0, std::abs(lhs)));
  // with maps whose rss is 1, R(E(x)) = x
  const Tensor<double> maps = data::coil_sensitivity_maps<double>({.shape = {5, 4}, .num_coils = 4}).unsqueeze(0);
  const Var<double> x2(x.value().select(2, 0));  // (2, 1, 5, 4, 2)
  test::require_close(sens_reduce(sens_expand(x2, Var<double>(maps)), Var<double>(maps)).value(), x2.value(), 1e-12,
                      "R(E(x)) = x for rss-normalised maps");
}

TEST_CASE("complex_mul's conj form and complex_conj agree", "[imaging][mri]") {
  Generator gen(3);
  const Var<double> x(randn<double>({2, 3, 4, 2}, gen)), y(randn<double>({3, 1, 2}, gen));
  test::require_close(complex_mul_conj(x, y, true).value(), complex_mul(x, complex_conj(y)).value(), 1e-15);
  // a few products checked against std::complex
  const auto xv = x.value().to_vector(), yv = y.value().to_vector(), z = complex_mul(x, y).value().to_vector();
  for (int i = 0; i < 2 * 3 * 4; ++i) {
    const int yi = (i / 4) % 3;
    const std::complex<double> want = std::complex<double>(xv[2 * i], xv[2 * i + 1]) *
                                      std::complex<double>(yv[2 * yi], yv[2 * yi + 1]);
    CHECK(std::abs(z[2 * i] - want.real()) < 1e-14);
    CHECK(std::abs(z[2 * i + 1] - want.imag()) < 1e-14);
  }
}

TEMPLATE_TEST_CASE("SoftDataConsistency holds dc_weight and matches VarNetBlock", "[imaging][mri][module]", float, double) {
  using T = TestType;
  nn::SoftDataConsistency<T> dc;
  const auto params = dc.named_parameters();
  REQUIRE(params.size() == 1);
  CHECK(params[0].first == "dc_weight");
  test::require_equal(params[0].second.value(), ones<T>({1}), "initial dc_weight");

  const FixtureCase c = test::fixture_cases(kFile, "varnet_dc").at(0);  // inputs k, k0, mask, dc_weight, grad
  nn::StateDict<T> sd;
  sd.insert("dc_weight", c.input<T>(3));
  dc.load_state_dict(sd);
  const Var<T> k(c.input<T>(0), true), k0(c.input<T>(1), true);
  const Var<T> y = dc(k, k0, c.input<bool>(2));
  c.check<T>(y.value(), 0);
  const auto g = grad<T, Cpu>({y}, {k, k0, dc.dc_weight}, {c.input<T>(4)});
  c.check<T>(g[0].value(), 1);
  c.check<T>(g[1].value(), 2);
  c.check<T>(g[2].value(), 3);
  test::require_close(dc.term(k, k0, c.input<bool>(2)).value(), ops::sub(k.value(), y.value()), 1e-6, "term");

  // a cascade deriving from it owns dc_weight under fastMRI's name
  struct Cascade : nn::SoftDataConsistency<T> {
    nn::Identity<T> model{this, "model"};
  };
  struct Net : nn::Module<T> {
    Cascade block;
    Net() { this->register_module("cascades0", &block); }
  } net;
  const auto names = net.named_parameters();
  REQUIRE(names.size() == 1);
  CHECK(names[0].first == "cascades0.dc_weight");
}

TEST_CASE("coil sensitivity maps are smooth and rss-normalised", "[imaging][mri][simulation]") {
  SECTION("2-D") {
    const Tensor<double> s = data::coil_sensitivity_maps<double>({.shape = {64, 48}, .num_coils = 8});
    REQUIRE(s.shape() == Shape{8, 64, 48, 2});
    const Tensor<double> r = rss_complex(Var<double>(s), 0).value();
    test::require_close(r, ones<double>({64, 48}), 1e-12, "rss of the maps");
    // smooth: second differences along each axis are small against the values (at most 1)
    const auto v = s.to_vector();
    double worst = 0;
    for (int c = 0; c < 8; ++c)
      for (int y = 1; y + 1 < 64; ++y)
        for (int x = 1; x + 1 < 48; ++x)
          for (int p = 0; p < 2; ++p) {
            auto at = [&](int yy, int xx) { return v[static_cast<std::size_t>(((c * 64 + yy) * 48 + xx) * 2 + p)]; };
            worst = std::max({worst, std::abs(at(y + 1, x) - 2 * at(y, x) + at(y - 1, x)),
                              std::abs(at(y, x + 1) - 2 * at(y, x) + at(y, x - 1))});
          }
    INFO("largest second difference " << worst);
    CHECK(worst < 0.005);  // about h^2 |S''| with h = 2 / 64; noise would give O(1)
    // coil 0 sits at angle 0 (+x): stronger at the right edge than at the left one; coil 2 of 8 at +y
    const Tensor<double> mag = complex_abs(Var<double>(s)).value();
    CHECK(mag.at({0, 32, 47}) > 2 * mag.at({0, 32, 0}));
    CHECK(mag.at({2, 63, 24}) > 2 * mag.at({2, 0, 24}));
  }
  SECTION("no phase slope: each coil's phase is its angle") {
    const Tensor<double> s = data::coil_sensitivity_maps<double>({.shape = {9, 7}, .num_coils = 3, .phase_slope = 0.0});
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 9; ++y)
        for (int x = 0; x < 7; ++x) {
          const double angle = std::atan2(s.at({c, y, x, 1}), s.at({c, y, x, 0}));
          const double want = std::remainder(2 * std::numbers::pi * c / 3, 2 * std::numbers::pi);
          CHECK(std::abs(std::remainder(angle - want, 2 * std::numbers::pi)) < 1e-12);
        }
  }
  SECTION("3-D with a support") {
    Tensor<bool> support(Shape{6, 10, 8});
    for (int64_t i = 0; i < support.numel(); ++i) support.data()[i] = (i % 3) != 0;
    const Tensor<float> s = data::coil_sensitivity_maps<float>({.shape = {6, 10, 8}, .num_coils = 5}, support);
    REQUIRE(s.shape() == Shape{5, 6, 10, 8, 2});
    const Tensor<float> r = rss_complex(Var<float>(s), 0).value();
    test::require_close(r, ops::cast<float>(support), 1e-6, "rss is 1 inside the support, 0 outside");
    const Tensor<double> m = ops::cast<double>(complex_abs(Var<float>(s)).value());
    // coils on a sphere differ from each other
    CHECK(std::abs(m.at({0, 0, 5, 4}) - m.at({4, 0, 5, 4})) > 0.05);
  }
  CHECK_THROWS_WITH(data::coil_sensitivity_maps<float>({.shape = {4}}), Contains("coil_sensitivity_maps") && Contains("(H, W)"));
  CHECK_THROWS_WITH(data::coil_sensitivity_maps<float>({.shape = {4, 4}}, Tensor<bool>(Shape{4, 5})),
                    Contains("support has shape [4, 5]"));
}

TEMPLATE_TEST_CASE("multicoil_kspace matches fastMRI's fft2c(image * maps)", "[imaging][mri][simulation]", float, double) {
  using T = TestType;
  for (const auto& c : test::fixture_cases(kFile, "multicoil_kspace")) {
    INFO("case " << c.name());
    c.check<T>(data::multicoil_kspace(c.input<T>(0), c.input<T>(1)));
  }
  // a constant image seen by constant coils is a delta at the k-space centre (H // 2, W // 2)
  const int64_t h = 6, w = 5;
  Tensor<T> maps(Shape{2, h, w, 2});
  for (int64_t i = 0; i < h * w; ++i) {
    maps.data()[2 * i] = T(0.6), maps.data()[2 * i + 1] = T(-0.8);
    maps.data()[2 * (h * w + i)] = T(0), maps.data()[2 * (h * w + i) + 1] = T(1);
  }
  const Tensor<T> k = data::multicoil_kspace(data::to_complex(full<T>({h, w}, T(2))), maps);
  Tensor<T> want = zeros<T>({2, h, w, 2});
  const T peak = static_cast<T>(2 * std::sqrt(double(h * w)));
  want.at({0, h / 2, w / 2, 0}) = T(0.6) * peak;
  want.at({0, h / 2, w / 2, 1}) = T(-0.8) * peak;
  want.at({1, h / 2, w / 2, 1}) = peak;
  test::require_close(k, want, 1e-5, "delta at the centre");
  CHECK_THROWS_WITH(data::multicoil_kspace(zeros<T>({4, 5, 2}), maps), Contains("multicoil_kspace") && Contains("[4, 5, 2]"));
}

TEST_CASE("k-space noise has the stated std and SNR and is seeded", "[imaging][mri][simulation]") {
  const Tensor<double> maps = data::coil_sensitivity_maps<double>({.shape = {64, 64}, .num_coils = 4});
  Tensor<double> image = zeros<double>({64, 64});
  for (int y = 16; y < 48; ++y)
    for (int x = 20; x < 44; ++x) image.at({y, x}) = 1.0 + 0.01 * (y - x);
  const Tensor<double> k = data::multicoil_kspace(data::to_complex(image), maps);
  const int64_t n = k.numel();

  const Tensor<double> a = data::add_kspace_noise(k, {.std = 0.5, .seed = 7});
  const Tensor<double> noise = ops::sub(a, k);
  const double mean = inner(noise, ones<double>(noise.shape())) / static_cast<double>(n);
  const double sd = std::sqrt(inner(noise, noise) / static_cast<double>(n));
  CHECK(std::abs(mean) < 4 * 0.5 / std::sqrt(double(n)));
  CHECK(std::abs(sd - 0.5) < 0.02);
  test::require_equal(data::add_kspace_noise(k, {.std = 0.5, .seed = 7}), a, "same seed, same noise");
  CHECK(test::compare(data::add_kspace_noise(k, {.std = 0.5, .seed = 8}), a, 0.0).ok == false);

  const Tensor<double> b = data::add_kspace_noise(k, {.snr = 20.0, .seed = 1});
  const Tensor<double> nb = ops::sub(b, k);
  const double snr = std::sqrt(inner(k, k) / inner(nb, nb));
  CHECK(std::abs(snr - 20.0) < 0.5);
  CHECK(std::abs(data::noise_std_for_snr(k, 20.0) - std::sqrt(inner(k, k) / double(n)) / 20.0) < 1e-12);
  CHECK_THROWS_WITH(data::add_kspace_noise(k, {.seed = 1}), Contains("add_kspace_noise") && Contains("one of std and snr"));
}

TEST_CASE("MRI ops: errors name the op and the shapes", "[imaging][mri][errors]") {
  const Var<float> bad(zeros<float>({2, 3, 3}));
  const Var<float> ok(zeros<float>({2, 3, 2}));
  CHECK_THROWS_WITH(complex_mul(bad, ok), Contains("complex_mul: x has shape [2, 3, 3]") && Contains("trailing dimension of 2"));
  CHECK_THROWS_WITH(complex_mul(ok, Var<float>(zeros<float>({4, 2}))),
                    Contains("complex_mul: x of shape [2, 3, 2] and y of shape [4, 2] do not broadcast"));
  CHECK_THROWS_WITH(complex_conj(bad), Contains("complex_conj: input has shape [2, 3, 3]"));
  CHECK_THROWS_WITH(complex_abs(bad), Contains("complex_abs: input has shape [2, 3, 3]"));
  CHECK_THROWS_WITH(rss_complex(bad), Contains("rss_complex: input has shape [2, 3, 3]"));
  CHECK_THROWS_WITH(rss(ok, 3), Contains("rss: dim 3 out of range"));

  const Var<float> x(zeros<float>({2, 1, 5, 4, 2})), s(zeros<float>({2, 3, 5, 4, 2})), k(zeros<float>({2, 3, 5, 4, 2}));
  CHECK_THROWS_WITH(sens_expand(Var<float>(zeros<float>({2, 5, 4, 2})), s),
                    Contains("sens_expand: x has shape [2, 5, 4, 2]") && Contains("(B, 1, H, W, 2)"));
  CHECK_THROWS_WITH(sens_expand(x, Var<float>(zeros<float>({2, 3, 5, 6, 2}))),
                    Contains("sens_expand: x of shape [2, 1, 5, 4, 2] and sens_maps of shape [2, 3, 5, 6, 2] differ in dim 3"));
  CHECK_THROWS_WITH(sens_expand(Var<float>(zeros<float>({2, 2, 5, 4, 2})), s), Contains("sens_expand: x of shape [2, 2, 5, 4, 2] has 2 channels"));
  CHECK_THROWS_WITH(sens_reduce(k, Var<float>(zeros<float>({2, 4, 5, 4, 2}))),
                    Contains("sens_reduce: kspace of shape [2, 3, 5, 4, 2] has 3 coils but sens_maps of shape [2, 4, 5, 4, 2] has 4"));
  CHECK_THROWS_WITH(sens_reduce(k, Var<float>(zeros<float>({2, 3, 5, 4}))), Contains("sens_reduce: sens_maps has shape [2, 3, 5, 4]"));

  const Var<float> w(ones<float>({1}));
  const Tensor<bool> mask(Shape{2, 1, 1, 4, 1});
  CHECK_THROWS_WITH(soft_data_consistency(k, x, mask, w),
                    Contains("soft_data_consistency: ref_kspace has shape [2, 1, 5, 4, 2]; expected the shape of current_kspace [2, 3, 5, 4, 2]"));
  CHECK_THROWS_WITH(soft_data_consistency(k, k, Tensor<bool>(Shape{2, 1, 1, 5, 1}), w),
                    Contains("soft_data_consistency: mask of shape [2, 1, 1, 5, 1] does not broadcast to the k-space shape [2, 3, 5, 4, 2]"));
  CHECK_THROWS_WITH(soft_data_consistency(k, k, mask, Var<float>(ones<float>({2}))),
                    Contains("soft_data_consistency: dc_weight has shape [2]"));
  CHECK_THROWS_WITH(hard_data_consistency(k, k, Tensor<bool>(Shape{3, 1, 1, 1, 4, 1})),
                    Contains("hard_data_consistency: mask of shape [3, 1, 1, 1, 4, 1]"));
}
