// Loss functions against PyTorch (value and gradients of input and float targets, in float and
// double) over the case matrix of tests/fixtures/gen_losses.py, the same cases through gradcheck and
// gradgradcheck in double, and the errors that bad shapes and options raise.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/losses/losses.hpp"

namespace {

using namespace voxnn;
using test::FixtureCase;
using Catch::Contains;

constexpr const char* kFile = "losses_reference.safetensors";
const std::vector<const char*> kOps = {"mse_loss",      "l1_loss",  "smooth_l1_loss", "huber_loss",
                                       "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy"};

// The float inputs of a case by role; the class-index target is read from the case directly.
template <class T>
struct LossInputs {
  Var<T> input, target, weight, pos_weight;
};

std::vector<std::string> roles(const FixtureCase& c) {
  std::vector<std::string> out;
  for (const auto& r : c.param("roles").array()) out.push_back(r.string());
  return out;
}
bool differentiated(const FixtureCase& c, int i) {
  for (int64_t g : c.ints("grad"))
    if (g == i) return true;
  return false;
}

// Float inputs in role order (index target and grad_output excluded), each a leaf that requires
// grad when the case differentiates it.
template <class T>
std::vector<Var<T>> float_inputs(const FixtureCase& c, std::vector<int>* positions = nullptr) {
  std::vector<Var<T>> out;
  const auto r = roles(c);
  for (int i = 0; i < static_cast<int>(r.size()); ++i) {
    if (r[i] == "index_target" || r[i] == "grad_output") continue;
    out.emplace_back(c.input<T>(i), differentiated(c, i));
    if (positions) positions->push_back(i);
  }
  return out;
}

template <class T>
Var<T> run_loss(const FixtureCase& c, const std::vector<Var<T>>& xs) {
  LossInputs<T> in;
  std::size_t k = 0;
  bool index_target = false;
  for (const auto& r : roles(c)) {
    if (r == "index_target") index_target = true;
    if (r == "index_target" || r == "grad_output") continue;
    const Var<T>& x = xs.at(k++);
    if (r == "input") in.input = x;
    else if (r == "target") in.target = x;
    else if (r == "weight") in.weight = x;
    else if (r == "pos_weight") in.pos_weight = x;
    else FAIL("unknown role " << r);
  }
  const std::string op = c.op();
  const auto red = losses::reduction_from_string(c.string("reduction"));
  if (op == "mse_loss") return losses::mse_loss(in.input, in.target, red);
  if (op == "l1_loss") return losses::l1_loss(in.input, in.target, red);
  if (op == "smooth_l1_loss") return losses::smooth_l1_loss(in.input, in.target, {.beta = c.real("beta"), .reduction = red});
  if (op == "huber_loss") return losses::huber_loss(in.input, in.target, {.delta = c.real("delta"), .reduction = red});
  if (op == "binary_cross_entropy_with_logits")
    return losses::binary_cross_entropy_with_logits(in.input, in.target,
                                                    {.weight = in.weight, .pos_weight = in.pos_weight, .reduction = red});
  const Tensor<int64_t> target = index_target ? c.input<int64_t>(1) : Tensor<int64_t>();
  if (op == "nll_loss")
    return losses::nll_loss(in.input, target, {.weight = in.weight, .ignore_index = c.integer("ignore_index"), .reduction = red});
  REQUIRE(op == "cross_entropy");
  const losses::CrossEntropyOptions<T> options{.weight = in.weight,
                                               .ignore_index = c.integer("ignore_index"),
                                               .reduction = red,
                                               .label_smoothing = c.real("label_smoothing")};
  return index_target ? losses::cross_entropy(in.input, target, options)
                      : losses::cross_entropy(in.input, in.target, options);
}

template <class T>
void check_against_torch(const FixtureCase& c) {
  INFO("case " << c.name() << " (" << (std::is_same_v<T, float> ? "float" : "double") << ")");
  const std::vector<Var<T>> xs = float_inputs<T>(c);
  const Var<T> loss = run_loss(c, xs);
  c.check<T>(loss.value(), 0);
  std::vector<Var<T>> wanted;
  for (const auto& x : xs)
    if (x.requires_grad()) wanted.push_back(x);
  const Tensor<T> gout = c.input<T>(c.num_inputs() - 1);
  const auto grads = grad<T, Cpu>({loss}, wanted, {gout});
  for (std::size_t k = 0; k < grads.size(); ++k) {
    INFO("gradient of input " << c.ints("grad")[k]);
    REQUIRE(grads[k].defined());
    c.check<T>(grads[k].value(), static_cast<int>(k) + 1);
  }
}

void check_finite_differences(const FixtureCase& c) {
  INFO("case " << c.name());
  const std::vector<Var<double>> xs = float_inputs<double>(c);
  const GradcheckFn f = [&](const std::vector<Var<double>>& v) { return run_loss(c, v); };
  test::check_gradients(f, xs);
}

Var<double> randn_var(const Shape& s, bool requires_grad = true) {
  return Var<double>(randn<double>(s, default_generator()), requires_grad);
}

}  // namespace

TEMPLATE_TEST_CASE("losses: values and gradients match PyTorch", "[nn][losses]", float, double) {
  int cases = 0;
  for (const char* op : kOps)
    for (const auto& c : test::fixture_cases(kFile, op)) {
      check_against_torch<TestType>(c);
      ++cases;
    }
  CHECK(cases == 172);
}

TEST_CASE("losses: gradcheck and gradgradcheck on the fixture cases", "[nn][losses][gradcheck]") {
  int cases = 0;
  for (const char* op : kOps)
    for (const auto& c : test::fixture_cases(kFile, op)) {
      if (c.has("nogradcheck") && c.flag("nogradcheck")) continue;
      check_finite_differences(c);
      ++cases;
    }
  CHECK(cases == 171);
}

TEST_CASE("losses: gradients reach class weights and pos_weight", "[nn][losses][gradcheck]") {
  const Tensor<int64_t> target = from_vector<int64_t>({0, 2, -100, 1}, {2, 2});
  const Var<double> w = Var<double>(from_vector<double>({0.5, 1.5, 1.0}), true);
  const auto ce = [&](const std::vector<Var<double>>& v) {
    return losses::cross_entropy(v[0], target, {.weight = v[1], .label_smoothing = 0.2});
  };
  const Var<double> x = randn_var({2, 3, 2});
  CHECK(gradcheck(ce, {x, w}).ok);
  // A weight that requires grad takes another path (gathered as a Var); the value is the same.
  const Var<double> fixed = ce({x, w.detach()}), tracked = ce({x, w});
  CHECK(tracked.requires_grad());
  CHECK(fixed.item() == Approx(tracked.item()).epsilon(1e-14));
  const auto nll = [&](const std::vector<Var<double>>& v) {
    return losses::nll_loss(v[0], target, {.weight = v[1], .reduction = losses::Reduction::none});
  };
  CHECK(gradcheck(nll, {x, w}).ok);
  test::require_close(nll({x, w.detach()}).value(), nll({x, w}).value(), 1e-14);
  const auto bce = [](const std::vector<Var<double>>& v) {
    return losses::binary_cross_entropy_with_logits(v[0], v[1], {.weight = v[2], .pos_weight = v[3]});
  };
  const Var<double> t(rand<double>({3, 4}, default_generator()), true);
  CHECK(gradcheck(bce, {randn_var({3, 4}), t, randn_var({4}), randn_var({3, 1})}).ok);
}

TEST_CASE("losses: the stable logistic form does not overflow", "[nn][losses]") {
  const Var<float> x(from_vector<float>({-200.0f, 200.0f, 0.0f}), true);
  const Var<float> t(from_vector<float>({0.0f, 1.0f, 0.5f}));
  const Var<float> loss = losses::binary_cross_entropy_with_logits(x, t, {.reduction = losses::Reduction::none});
  CHECK(loss.value().at({0}) == 0.0f);
  CHECK(loss.value().at({1}) == 0.0f);
  CHECK(loss.value().at({2}) == Approx(std::log(2.0)));
  sum(loss).backward();
  CHECK(x.grad().at({0}) == 0.0f);
  CHECK(x.grad().at({1}) == 0.0f);
}

TEST_CASE("losses: reduction names", "[nn][losses]") {
  CHECK(losses::reduction_from_string("none") == losses::Reduction::none);
  CHECK(losses::reduction_from_string("mean") == losses::Reduction::mean);
  CHECK(losses::reduction_from_string("sum") == losses::Reduction::sum);
  CHECK(std::string(losses::to_string(losses::Reduction::sum)) == "sum");
  REQUIRE_THROWS_WITH(losses::reduction_from_string("avg"), Contains("reduction: 'avg' is not one of 'none', 'mean', 'sum'"));
}

TEST_CASE("losses: bad shapes and options name the loss and the shapes", "[nn][losses]") {
  const Var<double> x = randn_var({2, 3, 4});
  const Var<double> y = randn_var({2, 4});
  REQUIRE_THROWS_WITH(losses::mse_loss(x, y),
                      Contains("mse_loss: input of shape [2, 3, 4] and target of shape [2, 4] differ"));
  REQUIRE_THROWS_WITH(losses::l1_loss(x, y), Contains("l1_loss: input of shape [2, 3, 4]"));
  REQUIRE_THROWS_WITH(losses::smooth_l1_loss(x, x, {.beta = -1}), Contains("smooth_l1_loss: beta must be non-negative"));
  REQUIRE_THROWS_WITH(losses::huber_loss(x, y), Contains("huber_loss: input of shape [2, 3, 4] and target of shape [2, 4]"));
  REQUIRE_THROWS_WITH(losses::huber_loss(x, x, {.delta = 0}), Contains("huber_loss: delta must be positive"));

  REQUIRE_THROWS_WITH(losses::binary_cross_entropy_with_logits(x, y),
                      Contains("binary_cross_entropy_with_logits: target of shape [2, 4] must match input of shape [2, 3, 4]"));
  REQUIRE_THROWS_WITH(losses::binary_cross_entropy_with_logits(x, x, {.pos_weight = randn_var({3})}),
                      Contains("binary_cross_entropy_with_logits: pos_weight of shape [3] does not broadcast to input of shape [2, 3, 4]"));
  REQUIRE_THROWS_WITH(losses::binary_cross_entropy_with_logits(x, x, {.weight = randn_var({2, 1, 1, 1})}),
                      Contains("weight of shape [2, 1, 1, 1] does not broadcast to input of shape [2, 3, 4]"));

  const Tensor<int64_t> good = from_vector<int64_t>({0, 1, 2, 1, 0, 2, 2, 1}, {2, 4});
  REQUIRE_THROWS_WITH(losses::cross_entropy(x, from_vector<int64_t>({0, 1, 2}, {3})),
                      Contains("cross_entropy: target of shape [3] does not match input of shape [2, 3, 4] "
                               "(class-index targets have shape [2, 4]"));
  REQUIRE_THROWS_WITH(losses::cross_entropy(x, from_vector<int64_t>({0, 1, 3, 1, 0, 2, 2, 1}, {2, 4})),
                      Contains("cross_entropy: target 3 is out of bounds for 3 classes"));
  REQUIRE_THROWS_WITH(losses::nll_loss(x, from_vector<int64_t>({0, 1, -1, 1, 0, 2, 2, 1}, {2, 4})),
                      Contains("nll_loss: target -1 is out of bounds for 3 classes"));
  REQUIRE_THROWS_WITH(losses::cross_entropy(x, good, {.weight = randn_var({4})}),
                      Contains("cross_entropy: weight of shape [4] does not give one value per class (expected [3])"));
  REQUIRE_THROWS_WITH(losses::nll_loss(x, good, {.weight = randn_var({3, 1})}),
                      Contains("nll_loss: weight of shape [3, 1]"));
  REQUIRE_THROWS_WITH(losses::cross_entropy(x, good, {.label_smoothing = 1.5}),
                      Contains("cross_entropy: label_smoothing must be in [0, 1], got 1.5"));
  REQUIRE_THROWS_WITH(losses::cross_entropy(Var<double>(zeros<double>({})), Tensor<int64_t>(Shape{})),
                      Contains("cross_entropy: input of shape [] has no class dim"));
  REQUIRE_THROWS_WITH(losses::cross_entropy(randn_var({2, 0}), from_vector<int64_t>({0, 0})),
                      Contains("cross_entropy: input of shape [2, 0] has no classes"));

  REQUIRE_THROWS_WITH(losses::cross_entropy(x, randn_var({2, 3})),
                      Contains("cross_entropy: probability target of shape [2, 3] must match input of shape [2, 3, 4]"));
  REQUIRE_THROWS_WITH(losses::cross_entropy(x, x, {.ignore_index = 0}),
                      Contains("cross_entropy: ignore_index (0) applies to class-index targets only"));
  REQUIRE_THROWS_WITH(losses::cross_entropy(x, x, {.weight = randn_var({2})}),
                      Contains("cross_entropy: weight of shape [2] does not give one value per class (expected [3])"));
}
