// Registration losses (losses/registration.hpp) against the references themselves (fixtures of
// tests/fixtures/gen_models_losses.py: voxelmorph@ca28315's NCC and Grad, MONAI's BendingEnergyLoss
// and LocalNormalizedCrossCorrelationLoss): value and gradients in float (the case tolerance) and
// double, gradcheck and gradgradcheck in double, properties the references do not cover (several
// channels, the separable window sums against a full ones-kernel convolution), and the errors.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/losses/registration.hpp"

namespace {

using namespace voxnn;
using test::FixtureCase;
using Catch::Contains;

constexpr const char* kFile = "models_losses.safetensors";
const std::vector<const char*> kOps = {"ncc_loss", "grad_loss", "bending_energy_loss",
                                       "local_normalized_cross_correlation_loss"};

bool differentiated(const FixtureCase& c, int i) {
  for (int64_t g : c.ints("grad"))
    if (g == i) return true;
  return false;
}

template <class T>
std::vector<Var<T>> inputs(const FixtureCase& c) {
  std::vector<Var<T>> out;
  for (int i = 0; i + 1 < c.num_inputs(); ++i) out.emplace_back(c.input<T>(i), differentiated(c, i));
  return out;
}

double kw_real(const io::json::Value& kw, const char* key) {
  const auto& x = *kw.find(key);
  return x.is_integer() ? static_cast<double>(x.integer()) : std::strtod(x.string().c_str(), nullptr);
}

template <class T>
Var<T> run_loss(const FixtureCase& c, const std::vector<Var<T>>& xs) {
  const io::json::Value& kw = c.param("kwargs");
  const std::string op = c.op();
  if (op == "ncc_loss") {
    losses::NccOptions o;
    if (const auto* win = kw.find("win")) o.win = test::json_ints(*win);
    return losses::ncc_loss(xs[0], xs[1], o);
  }
  if (op == "grad_loss") {
    losses::GradLossOptions o{.penalty = kw.find("penalty")->string()};
    if (kw.find("loss_mult")) o.loss_mult = kw_real(kw, "loss_mult");
    return losses::grad_loss(xs[0], o);
  }
  if (op == "bending_energy_loss")
    return losses::bending_energy_loss(xs[0], {.normalize = kw.find("normalize")->integer() != 0,
                                               .reduction = losses::reduction_from_string(kw.find("reduction")->string())});
  REQUIRE(op == "local_normalized_cross_correlation_loss");
  const losses::LnccOptions o{.spatial_dims = static_cast<int>(kw.find("spatial_dims")->integer()),
                              .kernel_size = kw.find("kernel_size")->integer(),
                              .kernel_type = kw.find("kernel_type")->string(),
                              .reduction = losses::reduction_from_string(kw.find("reduction")->string()),
                              .smooth_nr = kw_real(kw, "smooth_nr"),
                              .smooth_dr = kw_real(kw, "smooth_dr")};
  return losses::local_normalized_cross_correlation_loss(xs[0], xs[1], o);
}

template <class T>
void check_against_reference(const FixtureCase& c) {
  INFO("case " << c.name() << " (" << (std::is_same_v<T, float> ? "float" : "double") << ")");
  const std::vector<Var<T>> xs = inputs<T>(c);
  const Var<T> loss = run_loss(c, xs);
  c.check<T>(loss.value(), 0);
  std::vector<Var<T>> wanted;
  for (const auto& x : xs)
    if (x.requires_grad()) wanted.push_back(x);
  const auto grads = grad<T, Cpu>({loss}, wanted, {c.input<T>(c.num_inputs() - 1)});
  for (std::size_t k = 0; k < grads.size(); ++k) {
    INFO("gradient of input " << c.ints("grad")[k]);
    REQUIRE(grads[k].defined());
    c.check<T>(grads[k].value(), static_cast<int>(k) + 1);
  }
}

Var<double> rand_var(const Shape& s, bool requires_grad = true) {
  return Var<double>(rand<double>(s, default_generator()), requires_grad);
}

}  // namespace

TEMPLATE_TEST_CASE("registration losses: values and gradients match voxelmorph and MONAI", "[models][losses]", float,
                   double) {
  int cases = 0;
  for (const char* op : kOps)
    for (const auto& c : test::fixture_cases(kFile, op)) {
      check_against_reference<TestType>(c);
      ++cases;
    }
  CHECK(cases == 5 + 5 + 5 + 4);
}

// Second derivatives on the 1-D and 2-D cases only: the 3-D ones are the same compositions (and
// gradgradcheck over a few hundred elements is slow).
TEST_CASE("registration losses: gradcheck and gradgradcheck on the fixture cases", "[models][losses][gradcheck]") {
  int cases = 0;
  for (const char* op : kOps)
    for (const auto& c : test::fixture_cases(kFile, op)) {
      INFO("case " << c.name());
      const std::vector<Var<double>> xs = inputs<double>(c);
      test::check_gradients([&](const std::vector<Var<double>>& v) { return run_loss(c, v); }, xs, xs[0].dim() == 5);
      ++cases;
    }
  CHECK(cases == 19);
}

TEST_CASE("ncc_loss: separable window sums equal voxelmorph's full ones-kernel convolution", "[models][losses]") {
  // voxelmorph's formulation, written out with a 5x3x7 ones kernel (padding win[0] / 2 = 2 on every axis).
  const Var<double> a = rand_var({1, 1, 7, 6, 8}, false), b = rand_var({1, 1, 7, 6, 8}, false);
  const Var<double> k(ones<double>({1, 1, 5, 3, 7}));
  const auto box = [&](const Var<double>& x) { return conv3d(x, k, Var<double>(), {.padding = 2}); };
  const Var<double> si = box(a), sj = box(b), sii = box(mul(a, a)), sjj = box(mul(b, b)), sij = box(mul(a, b));
  const double n = 5 * 3 * 7;
  const Var<double> ui = mul(si, 1 / n), uj = mul(sj, 1 / n);
  const Var<double> cross = add(sub(sub(sij, mul(uj, si)), mul(ui, sj)), mul(mul(ui, uj), n));
  const Var<double> iv = add(sub(sii, mul(mul(ui, si), 2.0)), mul(mul(ui, ui), n));
  const Var<double> jv = add(sub(sjj, mul(mul(uj, sj), 2.0)), mul(mul(uj, uj), n));
  const double expected = -mean(div(mul(cross, cross), add(mul(iv, jv), 1e-5))).item();
  CHECK(losses::ncc_loss(a, b, {.win = {5, 3, 7}}).item() == Approx(expected).epsilon(1e-12));
}

TEST_CASE("ncc_loss: channels are independent images; identical images give -1 where they vary", "[models][losses]") {
  const Var<double> a = rand_var({2, 3, 6, 5, 4}, false), b = rand_var({2, 3, 6, 5, 4}, false);
  // Each (sample, channel) on its own, then the mean over all of them.
  double total = 0;
  for (int n = 0; n < 2; ++n)
    for (int ch = 0; ch < 3; ++ch) {
      const Var<double> ai = narrow(narrow(a, 0, n, 1), 1, ch, 1), bi = narrow(narrow(b, 0, n, 1), 1, ch, 1);
      total += losses::ncc_loss(ai, bi, {.win = {3}}).item();
    }
  CHECK(losses::ncc_loss(a, b, {.win = {3}}).item() == Approx(total / 6).epsilon(1e-12));
  // cc = var^2 / (var^2 + 1e-5) for identical images: close to 1 where the window has variance.
  const Var<double> big(ops::mul(a.value(), 100.0));
  CHECK(losses::ncc_loss(big, big, {.win = {3}}).item() == Approx(-1).epsilon(1e-6));
}

TEST_CASE("grad_loss and bending_energy_loss: affine fields", "[models][losses]") {
  // A linear displacement u(x) = 0.5 x along axis 2: forward differences 0.5 (l1 mean over axes = 0.5 / 3 with the
  // zero differences of the other axes, l2 0.25 / 3), and no bending.
  Tensor<double> field = zeros<double>({1, 3, 6, 6, 6});
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 6; ++j)
        for (int64_t k = 0; k < 6; ++k) field.at({0, c, i, j, k}) = 0.5 * static_cast<double>(i) + 0.2 * static_cast<double>(c);
  const Var<double> f(field);
  CHECK(losses::grad_loss(f).item() == Approx(0.5 / 3).epsilon(1e-12));
  CHECK(losses::grad_loss(f, {.penalty = "l2", .loss_mult = 3.0}).item() == Approx(0.25).epsilon(1e-12));
  CHECK(losses::bending_energy_loss(f).item() == Approx(0).margin(1e-20));
  CHECK(losses::bending_energy_loss(f, {.normalize = true, .reduction = losses::Reduction::sum}).item() ==
        Approx(0).margin(1e-20));
  CHECK(losses::bending_energy_loss(f, {.reduction = losses::Reduction::none}).shape() == Shape{1, 3, 2, 2, 2});
}

TEST_CASE("registration losses: errors name the loss, the shapes and the option", "[models][losses]") {
  const Var<double> a = rand_var({1, 1, 8, 8, 8}), b = rand_var({1, 1, 8, 8, 7});
  REQUIRE_THROWS_WITH(losses::ncc_loss(a, b), Contains("ncc_loss: y_true and y_pred have different shapes [1, 1, 8, 8, 8] and [1, 1, 8, 8, 7]"));
  REQUIRE_THROWS_WITH(losses::ncc_loss(a, a, {.win = {9, 9}}), Contains("ncc_loss: win has 2 sizes for 3 spatial dims"));
  REQUIRE_THROWS_WITH(losses::ncc_loss(a, a, {.win = {0}}), Contains("ncc_loss: window sizes must be positive, got 0"));
  REQUIRE_THROWS_WITH(losses::ncc_loss(a, a, {.win = {1, 1, 9}}),
                      Contains("ncc_loss: window 9 is larger than the padded size of spatial dim 2"));
  REQUIRE_THROWS_WITH(losses::ncc_loss(rand_var({8, 8}), rand_var({8, 8})),
                      Contains("ncc_loss: y_true and y_pred of shape [8, 8] must be [N, C, spatial...] with 1 to 3 spatial dims"));
  REQUIRE_THROWS_WITH(losses::grad_loss(a, {.penalty = "l3"}), Contains("grad_loss: penalty can only be l1 or l2, got 'l3'"));
  REQUIRE_THROWS_WITH(losses::grad_loss(rand_var({4, 4})), Contains("grad_loss: flow of shape [4, 4] must be [N, C, spatial...]"));
  REQUIRE_THROWS_WITH(losses::bending_energy_loss(a),
                      Contains("bending_energy_loss: number of vector components (channels) 1 does not match the number of spatial dims 3"));
  REQUIRE_THROWS_WITH(losses::bending_energy_loss(rand_var({1, 3, 8, 4, 8})),
                      Contains("bending_energy_loss: all spatial dims must be > 4, got pred of shape [1, 3, 8, 4, 8]"));
  REQUIRE_THROWS_WITH(losses::bending_energy_loss(rand_var({1, 4, 5, 5, 5, 5})),
                      Contains("bending_energy_loss: expecting a 3-d, 4-d or 5-d pred"));
  REQUIRE_THROWS_WITH(losses::local_normalized_cross_correlation_loss(a, a, {.kernel_size = 4}),
                      Contains("kernel_size must be odd, got 4"));
  REQUIRE_THROWS_WITH(losses::local_normalized_cross_correlation_loss(a, a, {.kernel_type = "gaussian"}),
                      Contains("kernel_type 'gaussian' is not supported (only 'rectangular')"));
  REQUIRE_THROWS_WITH(losses::local_normalized_cross_correlation_loss(a, a, {.spatial_dims = 2}),
                      Contains("expecting pred with 2 spatial dims, got pred of shape [1, 1, 8, 8, 8]"));
  REQUIRE_THROWS_WITH(losses::local_normalized_cross_correlation_loss(a, b),
                      Contains("ground truth has differing shape [1, 1, 8, 8, 7] from pred [1, 1, 8, 8, 8]"));
  REQUIRE_THROWS_WITH(losses::local_normalized_cross_correlation_loss(a, a, {.spatial_dims = 4}),
                      Contains("unsupported spatial_dims 4"));
}
