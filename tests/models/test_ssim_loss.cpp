// losses::ssim_loss against fastmri 0.3.0's SSIMLoss (value and gradients, 2-D) and the same formula with
// conv3d (3-D), from tests/fixtures/gen_models_metrics.py; gradcheck and gradgradcheck; agreement with
// metrics::ssim.
#include <catch2/catch.hpp>

#include <cmath>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/losses/ssim.hpp"
#include "voxnn/metrics/image.hpp"

using namespace voxnn;

namespace {
constexpr const char* kFile = "models_metrics.safetensors";

losses::SsimLossOptions loss_options(const test::FixtureCase& c) {
  return {.win_size = c.integer("win_size"), .k1 = c.real("k1"), .k2 = c.real("k2"), .reduced = c.flag("reduced")};
}
}  // namespace

TEMPLATE_TEST_CASE("ssim_loss matches fastMRI's SSIMLoss, gradients included", "[models][losses]", float, double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "ssim_loss")) {
    INFO("case " << c.name());
    Var<T> x(c.input<T>(0), true), y(c.input<T>(1), true);
    const Tensor<T> range = c.input<T>(2), gout = c.input<T>(3);
    const Var<T> loss = losses::ssim_loss(x, y, range, loss_options(c));
    c.check<T>(loss.value(), 0);
    loss.backward(gout);
    c.check<T>(x.grad(), 1);
    c.check<T>(y.grad(), 2);
    ++count;
  }
  CHECK(count == 4);
}

TEST_CASE("ssim_loss: gradcheck and gradgradcheck in double, 2-D and 3-D", "[models][losses]") {
  Generator gen(11);
  {
    const Var<double> x(rand<double>({2, 1, 9, 8}, gen), true), y(rand<double>({2, 1, 9, 8}, gen), true);
    const Tensor<double> range = from_vector<double>({1.0, 1.4}, {2});
    test::check_gradients([&](const std::vector<Var<double>>& v) { return losses::ssim_loss(v[0], v[1], range); },
                          {x, y});
    test::check_gradients(
        [&](const std::vector<Var<double>>& v) {
          return losses::ssim_loss(v[0], v[1], range, {.win_size = 3, .reduced = false});
        },
        {x, y}, /*first_order_only=*/true);
  }
  {
    const Var<double> x(rand<double>({1, 2, 5, 6, 5}, gen), true), y(rand<double>({1, 2, 5, 6, 5}, gen), true);
    test::check_gradients(
        [&](const std::vector<Var<double>>& v) { return losses::ssim_loss(v[0], v[1], 1.0, {.win_size = 3}); },
        {x, y});
  }
}

TEST_CASE("ssim_loss: 1 - loss is fastMRI's evaluation SSIM for one data range", "[models][losses]") {
  Generator gen(5);
  const Tensor<double> gt = rand<double>({3, 1, 20, 18}, gen);
  const Tensor<double> noise = randn<double>({3, 1, 20, 18}, gen);
  Tensor<double> pred = gt.clone();
  for (int64_t i = 0; i < pred.numel(); ++i) pred.data()[i] += 0.1 * noise.data()[i];
  const double range = *std::max_element(gt.data(), gt.data() + gt.numel());
  const double loss = losses::ssim_loss(Var<double>(pred), Var<double>(gt), range).value().item();
  CHECK(1 - loss == Approx(metrics::ssim(gt.reshape({3, 20, 18}), pred.reshape({3, 20, 18}))).epsilon(1e-12));
  // 3-D: the volume SSIM with a 7^3 window.
  const Tensor<double> v = rand<double>({1, 1, 9, 10, 8}, gen);
  Tensor<double> w = v.clone();
  for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] *= 0.9;
  const double l3 = losses::ssim_loss(Var<double>(w), Var<double>(v), 1.0).value().item();
  CHECK(1 - l3 == Approx(metrics::ssim3d(v.reshape({9, 10, 8}), w.reshape({9, 10, 8}), {.data_range = 1.0})).epsilon(1e-12));
  // Identical inputs: loss 0.
  CHECK(losses::ssim_loss(Var<double>(v), Var<double>(v), 1.0).value().item() == Approx(0.0).margin(1e-12));
}

TEST_CASE("ssim_loss: errors name the shapes", "[models][losses]") {
  const Var<float> x(zeros<float>({2, 1, 8, 8})), y(zeros<float>({2, 1, 8, 9}));
  CHECK_THROWS_WITH(losses::ssim_loss(x, y, 1.0), Catch::Contains("ssim_loss: x of shape [2, 1, 8, 8] and y of shape [2, 1, 8, 9] differ"));
  CHECK_THROWS_WITH(losses::ssim_loss(Var<float>(zeros<float>({2, 8, 8})), Var<float>(zeros<float>({2, 8, 8})), 1.0),
                    Catch::Contains("is not (N, C, H, W) or (N, C, D, H, W)"));
  CHECK_THROWS_WITH(losses::ssim_loss(x, x, zeros<float>({3})), Catch::Contains("one value per sample (expected [2])"));
  CHECK_THROWS_WITH(losses::ssim_loss(x, x, 1.0, {.win_size = 9}), Catch::Contains("9-wide window exceeds"));
}
