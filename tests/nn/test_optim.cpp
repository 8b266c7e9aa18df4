// Optimisers, learning-rate schedules and gradient clipping against PyTorch (trajectories of odd-shaped
// parameters over fixed gradient sequences, in float and double), plus state, views and bad options.
// Fixtures: tests/fixtures/gen_optim.py (optim_reference.safetensors).
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/ops/join.hpp"
#include "voxnn/optim/optim.hpp"

namespace {

using namespace voxnn;
using test::FixtureCase;
using Catch::Contains;

constexpr const char* kFile = "optim_reference.safetensors";

double real_or(const FixtureCase& c, const char* key, double fallback) { return c.has(key) ? c.real(key) : fallback; }
bool flag_or(const FixtureCase& c, const char* key) { return c.has(key) && c.flag(key); }
std::array<double, 2> betas_or(const FixtureCase& c, std::array<double, 2> fallback) {
  if (!c.has("betas")) return fallback;
  const auto& b = c.param("betas").array();
  return {std::strtod(b.at(0).string().c_str(), nullptr), std::strtod(b.at(1).string().c_str(), nullptr)};
}

template <class T>
std::unique_ptr<optim::Optimizer<T>> make_optimizer(const FixtureCase& c, const std::vector<Var<T>>& params) {
  const std::string op = c.op();
  if (op == "sgd")
    return std::make_unique<optim::SGD<T>>(params, optim::SGDOptions{.lr = c.real("lr"),
                                                                      .momentum = real_or(c, "momentum", 0),
                                                                      .dampening = real_or(c, "dampening", 0),
                                                                      .weight_decay = real_or(c, "weight_decay", 0),
                                                                      .nesterov = flag_or(c, "nesterov"),
                                                                      .maximize = flag_or(c, "maximize")});
  if (op == "adam")
    return std::make_unique<optim::Adam<T>>(params, optim::AdamOptions{.lr = c.real("lr"),
                                                                       .betas = betas_or(c, {0.9, 0.999}),
                                                                       .eps = real_or(c, "eps", 1e-8),
                                                                       .weight_decay = real_or(c, "weight_decay", 0),
                                                                       .amsgrad = flag_or(c, "amsgrad"),
                                                                       .maximize = flag_or(c, "maximize")});
  if (op == "adamw")
    return std::make_unique<optim::AdamW<T>>(params, optim::AdamWOptions{.lr = c.real("lr"),
                                                                         .betas = betas_or(c, {0.9, 0.999}),
                                                                         .eps = real_or(c, "eps", 1e-8),
                                                                         .weight_decay = real_or(c, "weight_decay", 1e-2),
                                                                         .amsgrad = flag_or(c, "amsgrad"),
                                                                         .maximize = flag_or(c, "maximize")});
  REQUIRE(op == "rmsprop");
  return std::make_unique<optim::RMSprop<T>>(params, optim::RMSpropOptions{.lr = c.real("lr"),
                                                                           .alpha = real_or(c, "alpha", 0.99),
                                                                           .eps = real_or(c, "eps", 1e-8),
                                                                           .weight_decay = real_or(c, "weight_decay", 0),
                                                                           .momentum = real_or(c, "momentum", 0),
                                                                           .centered = flag_or(c, "centered"),
                                                                           .maximize = flag_or(c, "maximize")});
}

bool skipped(const FixtureCase& c, int64_t param, int64_t step) {
  for (const auto& pair : c.param("skip").array())
    if (pair.array().at(0).integer() == param && pair.array().at(1).integer() == step) return true;
  return false;
}

// Replays the case's gradient sequence and compares each parameter's trajectory with PyTorch's.
template <class T>
void check_trajectory(const FixtureCase& c) {
  INFO("case " << c.name() << " (" << (std::is_same_v<T, float> ? "float" : "double") << ")");
  const int64_t n = c.integer("nparams"), steps = c.integer("steps");
  std::vector<Var<T>> params;
  std::vector<Tensor<T>> grads;
  for (int j = 0; j < n; ++j) {
    params.emplace_back(c.input<T>(j), true);
    grads.push_back(c.input<T>(static_cast<int>(n) + j));
  }
  auto opt = make_optimizer<T>(c, params);
  std::unique_ptr<optim::StepLR> schedule;
  if (c.has("step_lr")) {
    const auto& s = c.param("step_lr").array();
    schedule = std::make_unique<optim::StepLR>(
        *opt, optim::StepLROptions{.step_size = s.at(0).integer(), .gamma = std::strtod(s.at(1).string().c_str(), nullptr)});
  }
  std::vector<std::vector<Tensor<T>>> trajectory(static_cast<std::size_t>(n));
  for (int64_t k = 0; k < steps; ++k) {
    for (int j = 0; j < n; ++j) {
      Var<T>& p = params[static_cast<std::size_t>(j)];
      if (skipped(c, j, k)) p.zero_grad();
      else p.set_grad(Var<T>(grads[static_cast<std::size_t>(j)].select(0, k).clone()));
    }
    opt->step();
    if (schedule) schedule->step();
    for (int j = 0; j < n; ++j) trajectory[static_cast<std::size_t>(j)].push_back(params[static_cast<std::size_t>(j)].value().clone());
  }
  for (int j = 0; j < n; ++j) {
    INFO("parameter " << j);
    c.check<T>(ops::stack(trajectory[static_cast<std::size_t>(j)]), j);
  }
  // A parameter skipped at some step took one step fewer.
  for (int j = 0; j < n; ++j) {
    int64_t expected = steps;
    for (int64_t k = 0; k < steps; ++k) expected -= skipped(c, j, k);
    CHECK(opt->state(static_cast<std::size_t>(j)).step == expected);
  }
}

std::unique_ptr<optim::LRScheduler> make_schedule(const FixtureCase& c, optim::OptimizerBase& opt) {
  const std::string kind = c.string("scheduler");
  if (kind == "StepLR")
    return std::make_unique<optim::StepLR>(opt, optim::StepLROptions{.step_size = c.integer("step_size"),
                                                                     .gamma = c.real("gamma")});
  if (kind == "MultiStepLR")
    return std::make_unique<optim::MultiStepLR>(opt, optim::MultiStepLROptions{.milestones = c.ints("milestones"),
                                                                               .gamma = c.real("gamma")});
  if (kind == "ExponentialLR")
    return std::make_unique<optim::ExponentialLR>(opt, optim::ExponentialLROptions{.gamma = c.real("gamma")});
  if (kind == "PolynomialLR")
    return std::make_unique<optim::PolynomialLR>(
        opt, optim::PolynomialLROptions{.total_iters = c.integer("total_iters"), .power = c.real("power")});
  REQUIRE(kind == "CosineAnnealingLR");
  return std::make_unique<optim::CosineAnnealingLR>(
      opt, optim::CosineAnnealingLROptions{.t_max = c.integer("T_max"), .eta_min = real_or(c, "eta_min", 0)});
}

std::vector<Var<double>> one_parameter() { return {Var<double>(zeros<double>({1}), true)}; }

}  // namespace

TEMPLATE_TEST_CASE("optimisers follow PyTorch's trajectories", "[nn][optim]", float, double) {
  int cases = 0;
  for (const char* op : {"sgd", "adam", "adamw", "rmsprop"})
    for (const auto& c : test::fixture_cases(kFile, op)) {
      check_trajectory<TestType>(c);
      ++cases;
    }
  CHECK(cases == 19);
}

TEST_CASE("learning-rate schedules match PyTorch epoch by epoch", "[nn][optim]") {
  int cases = 0;
  for (const auto& c : test::fixture_cases(kFile, "lr_schedule")) {
    INFO("case " << c.name());
    optim::SGD<double> opt(one_parameter(), {.lr = c.real("lr")});
    auto schedule = make_schedule(c, opt);
    std::vector<double> lrs{opt.lr()};
    for (int64_t e = 0; e < c.integer("epochs"); ++e) {
      opt.step();
      schedule->step();
      lrs.push_back(opt.lr());
    }
    CHECK(schedule->last_epoch() == c.integer("epochs"));
    c.check<double>(from_vector(lrs));
    ++cases;
  }
  CHECK(cases == 7);
}

TEST_CASE("ReduceLROnPlateau matches PyTorch on a recorded metric sequence", "[nn][optim]") {
  int cases = 0;
  for (const auto& c : test::fixture_cases(kFile, "plateau")) {
    INFO("case " << c.name());
    optim::SGD<double> opt(one_parameter(), {.lr = c.real("lr")});
    const optim::ReduceLROnPlateauOptions defaults;
    optim::ReduceLROnPlateau plateau(
        opt, {.mode = c.string("mode") == "max" ? optim::PlateauMode::max : optim::PlateauMode::min,
              .factor = real_or(c, "factor", defaults.factor),
              .patience = c.has("patience") ? c.integer("patience") : defaults.patience,
              .threshold = real_or(c, "threshold", defaults.threshold),
              .threshold_mode = c.has("threshold_mode") && c.string("threshold_mode") == "abs" ? optim::ThresholdMode::abs
                                                                                               : optim::ThresholdMode::rel,
              .cooldown = c.has("cooldown") ? c.integer("cooldown") : defaults.cooldown,
              .min_lr = real_or(c, "min_lr", defaults.min_lr),
              .eps = real_or(c, "eps", defaults.eps)});
    std::vector<double> lrs;
    for (double metric : c.input<double>(0).to_vector()) {
      plateau.step(metric);
      lrs.push_back(opt.lr());
    }
    c.check<double>(from_vector(lrs));
    ++cases;
  }
  CHECK(cases == 5);
}

TEMPLATE_TEST_CASE("clip_grad_norm and clip_grad_value match PyTorch", "[nn][optim]", float, double) {
  using T = TestType;
  int cases = 0;
  for (const char* op : {"clip_grad_norm", "clip_grad_value"})
    for (const auto& c : test::fixture_cases(kFile, op)) {
      INFO("case " << c.name());
      const auto no_grad = c.ints("no_grad");
      std::vector<Var<T>> params;
      for (int j = 0; j < c.num_inputs(); ++j) {
        Tensor<T> g = c.input<T>(j);
        params.emplace_back(zeros_like(g), true);
        if (std::find(no_grad.begin(), no_grad.end(), j) == no_grad.end()) params.back().set_grad(Var<T>(g));
      }
      int first_grad = 0;
      if (c.op() == "clip_grad_norm") {
        const T total = optim::clip_grad_norm(params, c.real("max_norm"), c.real("norm_type"));
        c.check<T>(scalar_tensor(total), 0);
        first_grad = 1;
      } else {
        optim::clip_grad_value(params, c.real("clip_value"));
      }
      for (int j = 0; j < c.num_inputs(); ++j) {
        INFO("gradient " << j);
        const bool has = std::find(no_grad.begin(), no_grad.end(), j) == no_grad.end();
        CHECK(params[static_cast<std::size_t>(j)].grad().defined() == has);
        if (has) c.check<T>(params[static_cast<std::size_t>(j)].grad(), first_grad + j);
      }
      ++cases;
    }
  CHECK(cases == 8);
}

TEST_CASE("clip_grad_norm: no gradients, non-finite norms and bad norm types", "[nn][optim]") {
  std::vector<Var<double>> params = one_parameter();
  CHECK(optim::clip_grad_norm(params, 1.0) == 0.0);  // none has a gradient
  params[0].set_grad(Var<double>(from_vector<double>({3.0})));
  params.emplace_back(zeros<double>({2}), true);
  params[1].set_grad(Var<double>(from_vector<double>({NAN, 1.0})));
  REQUIRE_THROWS_WITH(optim::clip_grad_norm(params, 1.0, 2.0, true),
                      Contains("clip_grad_norm: the total norm of order 2 of the gradients is nan"));
  CHECK(std::isnan(optim::clip_grad_norm(params, 1.0)));
  CHECK(std::isnan(params[0].grad().item()));  // scaled by the NaN, as PyTorch does
  REQUIRE_THROWS_WITH(optim::clip_grad_norm(params, 1.0, -1.0), Contains("norm_type must be positive or inf, got -1"));
}

TEST_CASE("optimisers: zero_grad, skipped parameters and the shared learning rate", "[nn][optim]") {
  Var<double> w(from_vector<double>({1.0, -2.0}), true), b(from_vector<double>({0.5}), true);
  optim::Adam opt(std::vector{w, b}, {.lr = 0.1});  // class template argument deduction
  static_assert(std::is_same_v<decltype(opt), optim::Adam<double, Cpu>>);
  const Var<double> loss = sum(mul(w, w));
  loss.backward();
  REQUIRE(w.grad().defined());
  CHECK_FALSE(b.grad().defined());
  opt.step();
  CHECK(b.value().item() == 0.5);  // no gradient: untouched, no state
  CHECK(opt.state(1).step == 0);
  CHECK(opt.state(0).step == 1);
  // Adam's first step moves each element by lr against the sign of its gradient.
  CHECK(w.value().at({0}) == Approx(0.9).epsilon(1e-6));
  CHECK(w.value().at({1}) == Approx(-1.9).epsilon(1e-6));
  opt.zero_grad();
  CHECK_FALSE(w.grad().defined());

  optim::OptimizerBase& base = opt;
  optim::StepLR schedule(base, {.step_size = 1, .gamma = 0.5});
  schedule.step();
  CHECK(opt.lr() == 0.05);
  CHECK(schedule.base_lr() == 0.1);
  CHECK(schedule.last_lr() == 0.05);
}

TEMPLATE_TEST_CASE("optimisers update a non-contiguous parameter like a contiguous one", "[nn][optim]", float, double) {
  using T = TestType;
  const Tensor<T> start = randn<T>({3, 4}, default_generator());
  const Tensor<T> g = randn<T>({4, 3}, default_generator());
  Var<T> plain(start.t().contiguous(), true);
  Tensor<T> storage = start.clone();
  Var<T> strided(storage.t(), true);  // a transposed view of `storage`
  REQUIRE_FALSE(strided.value().is_contiguous());
  optim::RMSprop<T> a({plain}, {.lr = 0.01, .momentum = 0.9, .centered = true});
  optim::RMSprop<T> b({strided}, {.lr = 0.01, .momentum = 0.9, .centered = true});
  for (int k = 0; k < 3; ++k) {
    plain.set_grad(Var<T>(g.clone()));
    strided.set_grad(Var<T>(g.clone()));
    a.step();
    b.step();
  }
  test::require_equal(strided.value(), plain.value(), "strided parameter");
  test::require_equal(storage.t(), plain.value(), "the view's storage was written");
}

TEST_CASE("optimiser state_dict round-trips and resumes identically", "[nn][optim]") {
  auto make = [] { return std::vector{Var<double>(from_vector<double>({1.0, 2.0, 3.0}), true), Var<double>(zeros<double>({2, 2}), true)}; };
  const Tensor<double> g0 = from_vector<double>({0.3, -0.2, 0.1}), g1 = from_vector<double>({1, 2, 3, 4}, {2, 2});
  auto feed = [&](std::vector<Var<double>>& ps) {
    ps[0].set_grad(Var<double>(g0.clone()));
    ps[1].set_grad(Var<double>(g1.clone()));
  };
  std::vector<Var<double>> pa = make(), pb = make();
  optim::AdamW<double> a(pa, {.lr = 0.05, .amsgrad = true});
  for (int k = 0; k < 2; ++k) {
    feed(pa);
    a.step();
  }
  const auto state = a.state_dict();
  CHECK(state.size() == 8);  // two parameters: step, exp_avg, exp_avg_sq, max_exp_avg_sq
  optim::AdamW<double> b(pb, {.lr = 0.05, .amsgrad = true});
  pb[0].mutable_value().copy_(pa[0].value());
  pb[1].mutable_value().copy_(pa[1].value());
  b.load_state_dict(state);
  CHECK(b.state(0).step == 2);
  feed(pa);
  feed(pb);
  a.step();
  b.step();
  test::require_equal(pb[0].value(), pa[0].value());
  test::require_equal(pb[1].value(), pa[1].value());

  std::vector<std::pair<std::string, Tensor<double>>> bad{{"state.0.exp_avg", zeros<double>({4})}};
  REQUIRE_THROWS_WITH(b.load_state_dict(bad), Contains("AdamW: state 'state.0.exp_avg' of shape [4] for parameter of shape [3]"));
  bad = {{"state.7.step", zeros<double>({})}};
  REQUIRE_THROWS_WITH(b.load_state_dict(bad), Contains("for parameter 7 of 2"));
  bad = {{"momentum", zeros<double>({})}};
  REQUIRE_THROWS_WITH(b.load_state_dict(bad), Contains("AdamW: unexpected state key 'momentum'"));
}

TEST_CASE("optimisers and schedules reject bad options by name", "[nn][optim]") {
  auto params = one_parameter();
  REQUIRE_THROWS_WITH(optim::SGD<double>(params, {}), Contains("SGD: options.lr is required"));
  REQUIRE_THROWS_WITH(optim::SGD<double>(params, {.lr = -1}), Contains("SGD: invalid learning rate -1"));
  REQUIRE_THROWS_WITH(optim::SGD<double>(params, {.lr = 0.1, .momentum = -0.5}), Contains("SGD: invalid momentum -0.5"));
  REQUIRE_THROWS_WITH(optim::SGD<double>(params, {.lr = 0.1, .nesterov = true}),
                      Contains("SGD: Nesterov momentum requires a momentum and zero dampening"));
  REQUIRE_THROWS_WITH(optim::SGD<double>(params, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                      Contains("dampening 0.1"));
  REQUIRE_THROWS_WITH(optim::Adam<double>(params, {.betas = {1.0, 0.999}}), Contains("Adam: invalid beta1 1"));
  REQUIRE_THROWS_WITH(optim::AdamW<double>(params, {.betas = {0.9, -0.1}}), Contains("AdamW: invalid beta2 -0.1"));
  REQUIRE_THROWS_WITH(optim::Adam<double>(params, {.eps = -1e-8}), Contains("Adam: invalid eps"));
  REQUIRE_THROWS_WITH(optim::RMSprop<double>(params, {.alpha = -0.1}), Contains("RMSprop: invalid alpha -0.1"));
  REQUIRE_THROWS_WITH(optim::RMSprop<double>(params, {.weight_decay = -1}), Contains("RMSprop: invalid weight_decay -1"));

  REQUIRE_THROWS_WITH(optim::SGD<double>({params[0], params[0]}, {.lr = 0.1}),
                      Contains("SGD: parameter 1 of shape [1] appears more than once"));
  const Var<double> derived = mul(params[0], 2.0);
  REQUIRE_THROWS_WITH(optim::Adam<double>({derived}), Contains("Adam: parameter 0 of shape [1] is not a leaf"));
  REQUIRE_THROWS_WITH(optim::Adam<double>({Var<double>()}), Contains("Adam: parameter 0 is undefined"));

  optim::SGD<double> opt(params, {.lr = 0.1});
  REQUIRE_THROWS_WITH(opt.set_lr(-0.5), Contains("SGD: invalid learning rate -0.5"));
  REQUIRE_THROWS_WITH(optim::StepLR(opt, {}), Contains("StepLR: step_size must be positive, got 0"));
  REQUIRE_THROWS_WITH(optim::CosineAnnealingLR(opt, {.t_max = -3}), Contains("CosineAnnealingLR: t_max must be positive, got -3"));
  REQUIRE_THROWS_WITH(optim::ExponentialLR(opt, {}), Contains("ExponentialLR: gamma must be positive"));
  REQUIRE_THROWS_WITH(optim::PolynomialLR(opt, {.total_iters = 0}), Contains("PolynomialLR: total_iters must be positive"));
  REQUIRE_THROWS_WITH(optim::ReduceLROnPlateau(opt, {.factor = 1.0}), Contains("ReduceLROnPlateau: factor should be < 1.0"));

  params[0].set_grad(Var<double>(zeros<double>({2})));
  REQUIRE_THROWS_WITH(opt.step(), Contains("SGD: gradient of shape [2] for parameter 0 of shape [1]"));
}
