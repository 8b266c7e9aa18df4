// Segmentation losses (losses/dice.hpp, losses/focal.hpp) against MONAI itself (fixtures of
// tests/fixtures/gen_models_losses.py: MONAI@d388d1c's dice.py, monai 1.3.2's FocalLoss): value and
// gradients in float (the case tolerance) and double, every way of passing the target (a float Var,
// class indices [N, 1, ...] and [N, ...], float labels with to_onehot_y), gradcheck and gradgradcheck
// in double, and the errors.
#include <catch2/catch.hpp>

#include <limits>

#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/losses/dice.hpp"
#include "voxnn/losses/focal.hpp"

namespace {

using namespace voxnn;
using test::FixtureCase;
using Catch::Contains;

constexpr const char* kFile = "models_losses.safetensors";
const std::vector<const char*> kOps = {"dice_loss", "generalized_dice_loss", "dice_ce_loss", "focal_loss"};

// ---- reading a case ----------------------------------------------------------------------------------

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

struct Kwargs {
  const io::json::Value* v;
  bool flag(const char* key, bool fallback) const {
    const auto* x = v->find(key);
    return x ? x->integer() != 0 : fallback;
  }
  double real(const char* key, double fallback) const {
    const auto* x = v->find(key);
    if (!x) return fallback;
    return x->is_integer() ? static_cast<double>(x->integer()) : std::strtod(x->string().c_str(), nullptr);
  }
  std::string string(const char* key, const std::string& fallback) const {
    const auto* x = v->find(key);
    return x ? x->string() : fallback;
  }
  bool has(const char* key) const { return v->find(key) != nullptr; }
};

// How the C++ side receives a class-index target.
enum class TargetForm { var, indices_with_channel, indices_without_channel, float_labels };

template <class T>
struct SegInputs {
  Var<T> input, target, weight;
  Tensor<int64_t> labels;  // [N, 1, ...] when the case has class indices
};

template <class T>
std::vector<Var<T>> float_inputs(const FixtureCase& c) {
  std::vector<Var<T>> out;
  const auto r = roles(c);
  for (int i = 0; i < static_cast<int>(r.size()); ++i) {
    if (r[i] == "index_target" || r[i] == "grad_output") continue;
    out.emplace_back(c.input<T>(i), differentiated(c, i));
  }
  return out;
}

template <class T>
SegInputs<T> assign(const FixtureCase& c, const std::vector<Var<T>>& xs) {
  SegInputs<T> in;
  std::size_t k = 0;
  const auto r = roles(c);
  for (int i = 0; i < static_cast<int>(r.size()); ++i) {
    if (r[i] == "grad_output") continue;
    if (r[i] == "index_target") {
      in.labels = c.input<int64_t>(i);
      continue;
    }
    const Var<T>& x = xs.at(k++);
    if (r[i] == "input") in.input = x;
    else if (r[i] == "target") in.target = x;
    else if (r[i] == "weight") in.weight = x;
    else FAIL("unknown role " << r[i]);
  }
  return in;
}

template <class T>
std::function<Var<T>(const Var<T>&)> other_act(const Kwargs& kw) {
  const std::string name = kw.string("other_act", "");
  if (name.empty()) return {};
  REQUIRE(name == "tanh");
  return [](const Var<T>& x) { return tanh(x); };
}

template <class T>
losses::DiceLossOptions<T> dice_options(const Kwargs& kw, const Var<T>& weight) {
  return {.include_background = kw.flag("include_background", true), .to_onehot_y = kw.flag("to_onehot_y", false),
          .sigmoid = kw.flag("sigmoid", false), .softmax = kw.flag("softmax", false), .other_act = other_act<T>(kw),
          .squared_pred = kw.flag("squared_pred", false), .jaccard = kw.flag("jaccard", false),
          .reduction = losses::reduction_from_string(kw.string("reduction", "mean")),
          .smooth_nr = kw.real("smooth_nr", 1e-5), .smooth_dr = kw.real("smooth_dr", 1e-5),
          .batch = kw.flag("batch", false), .weight = weight, .soft_label = kw.flag("soft_label", false)};
}
template <class T>
losses::GeneralizedDiceLossOptions<T> gdl_options(const Kwargs& kw) {
  return {.include_background = kw.flag("include_background", true), .to_onehot_y = kw.flag("to_onehot_y", false),
          .sigmoid = kw.flag("sigmoid", false), .softmax = kw.flag("softmax", false), .other_act = other_act<T>(kw),
          .w_type = losses::dice_weight_from_string(kw.string("w_type", "square")),
          .reduction = losses::reduction_from_string(kw.string("reduction", "mean")),
          .smooth_nr = kw.real("smooth_nr", 1e-5), .smooth_dr = kw.real("smooth_dr", 1e-5),
          .batch = kw.flag("batch", false), .soft_label = kw.flag("soft_label", false)};
}
template <class T>
losses::DiceCELossOptions<T> dice_ce_options(const Kwargs& kw, const Var<T>& weight) {
  return {.include_background = kw.flag("include_background", true), .to_onehot_y = kw.flag("to_onehot_y", false),
          .sigmoid = kw.flag("sigmoid", false), .softmax = kw.flag("softmax", false), .other_act = other_act<T>(kw),
          .squared_pred = kw.flag("squared_pred", false), .jaccard = kw.flag("jaccard", false),
          .reduction = losses::reduction_from_string(kw.string("reduction", "mean")),
          .smooth_nr = kw.real("smooth_nr", 1e-5), .smooth_dr = kw.real("smooth_dr", 1e-5),
          .batch = kw.flag("batch", false), .weight = weight, .lambda_dice = kw.real("lambda_dice", 1.0),
          .lambda_ce = kw.real("lambda_ce", 1.0), .label_smoothing = kw.real("label_smoothing", 0.0)};
}
template <class T>
losses::FocalLossOptions<T> focal_options(const Kwargs& kw, const Var<T>& weight) {
  losses::FocalLossOptions<T> o{.include_background = kw.flag("include_background", true),
                                .to_onehot_y = kw.flag("to_onehot_y", false), .gamma = kw.real("gamma", 2.0),
                                .weight = weight,
                                .reduction = losses::reduction_from_string(kw.string("reduction", "mean")),
                                .use_softmax = kw.flag("use_softmax", false)};
  if (kw.has("alpha")) o.alpha = kw.real("alpha", 0.0);
  return o;
}

// The loss of case c on the float inputs xs, with the target passed in `form`.
template <class T>
Var<T> run_loss(const FixtureCase& c, const std::vector<Var<T>>& xs, TargetForm form) {
  const SegInputs<T> in = assign(c, xs);
  const Kwargs kw{&c.param("kwargs")};
  const std::string op = c.op();
  const auto call = [&](const auto& target) -> Var<T> {
    if (op == "dice_loss") return losses::dice_loss(in.input, target, dice_options<T>(kw, in.weight));
    if (op == "generalized_dice_loss") return losses::generalized_dice_loss(in.input, target, gdl_options<T>(kw));
    if (op == "dice_ce_loss") return losses::dice_ce_loss(in.input, target, dice_ce_options<T>(kw, in.weight));
    REQUIRE(op == "focal_loss");
    return losses::focal_loss(in.input, target, focal_options<T>(kw, in.weight));
  };
  switch (form) {
    case TargetForm::var: return call(in.target);
    case TargetForm::indices_with_channel: return call(in.labels);
    case TargetForm::indices_without_channel: return call(in.labels.squeeze(1));
    default: return call(Var<T>(ops::cast<T>(in.labels)));
  }
}

// The target forms a case supports: a float target as is; class indices with and without their
// channel dim, and as float labels where MONAI itself takes them (to_onehot_y, or one channel).
std::vector<TargetForm> forms(const FixtureCase& c) {
  if (c.string("target_kind") != "labels") return {TargetForm::var};
  std::vector<TargetForm> out{TargetForm::indices_with_channel, TargetForm::indices_without_channel};
  const Kwargs kw{&c.param("kwargs")};
  const bool one_channel = c.input<double>(0).shape()[1] == 1;
  if (kw.flag("to_onehot_y", false) || one_channel) out.push_back(TargetForm::float_labels);
  return out;
}

template <class T>
void check_against_monai(const FixtureCase& c) {
  for (const TargetForm form : forms(c)) {
    INFO("case " << c.name() << " (" << (std::is_same_v<T, float> ? "float" : "double") << "), target form "
                 << static_cast<int>(form));
    const std::vector<Var<T>> xs = float_inputs<T>(c);
    const Var<T> loss = run_loss(c, xs, form);
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
}

Var<double> randn_var(const Shape& s, bool requires_grad = true) {
  return Var<double>(randn<double>(s, default_generator()), requires_grad);
}

}  // namespace

TEMPLATE_TEST_CASE("segmentation losses: values and gradients match MONAI", "[models][losses]", float, double) {
  int cases = 0;
  for (const char* op : kOps)
    for (const auto& c : test::fixture_cases(kFile, op)) {
      check_against_monai<TestType>(c);
      ++cases;
    }
  CHECK(cases == 2 * (11 + 7 + 6 + 7) + 2 * 7);
}

TEST_CASE("segmentation losses: gradcheck and gradgradcheck on the fixture cases", "[models][losses][gradcheck]") {
  int cases = 0;
  for (const char* op : kOps)
    for (const auto& c : test::fixture_cases(kFile, op)) {
      INFO("case " << c.name());
      const std::vector<Var<double>> xs = float_inputs<double>(c);
      const TargetForm form = forms(c).front();
      test::check_gradients([&](const std::vector<Var<double>>& v) { return run_loss(c, v, form); }, xs);
      ++cases;
    }
  CHECK(cases == 76);
}

TEST_CASE("segmentation losses: gradients reach a probability target of GeneralizedDice", "[models][losses][gradcheck]") {
  // MONAI edits its weights in place and cannot do this; here the weights are differentiable too.
  const Var<double> x = randn_var({2, 3, 4, 3});
  const Var<double> t(softmax(randn_var({2, 3, 4, 3}, false), 1).value(), true);
  const auto f = [](const std::vector<Var<double>>& v) {
    return losses::generalized_dice_loss(v[0], v[1], {.softmax = true, .reduction = losses::Reduction::none});
  };
  test::check_gradients(f, {x, t});
}

TEST_CASE("segmentation losses: a perfect prediction gives a zero Dice loss", "[models][losses]") {
  const Tensor<int64_t> labels = from_vector<int64_t>({0, 1, 2, 1, 0, 2, 2, 1}, {2, 1, 2, 2});
  const Var<double> onehot(ops::cast<double>(ops::one_hot<int64_t>(labels.squeeze(1), 3).permute({0, 3, 1, 2})).contiguous());
  CHECK(losses::dice_loss(onehot, labels).item() == Approx(0).margin(1e-9));
  CHECK(losses::dice_loss(onehot, labels, {.jaccard = true}).item() == Approx(0).margin(1e-9));
  CHECK(losses::generalized_dice_loss(onehot, labels).item() == Approx(0).margin(1e-9));
  // Logits far apart: softmax gives the one-hot map.
  const Var<double> logits(ops::mul(onehot.value(), 60.0));
  CHECK(losses::dice_ce_loss(logits, labels, {.softmax = true}).item() == Approx(0).margin(1e-9));
  CHECK(losses::focal_loss(logits, labels, {.use_softmax = true}).item() == Approx(0).margin(1e-12));
}

TEST_CASE("segmentation losses: errors name the loss, the shapes and the option", "[models][losses]") {
  const Var<double> x = randn_var({2, 3, 4, 4});
  const Var<double> t(softmax(randn_var({2, 3, 4, 4}, false), 1).value());
  const Var<double> t2(softmax(randn_var({2, 3, 4, 5}, false), 1).value());
  REQUIRE_THROWS_WITH(losses::dice_loss(x, t2),
                      Contains("dice_loss: ground truth has different shape [2, 3, 4, 5] from input [2, 3, 4, 4]"));
  REQUIRE_THROWS_WITH(losses::dice_loss(x, t, {.sigmoid = true, .softmax = true}),
                      Contains("dice_loss: more than one of sigmoid, softmax and other_act is set"));
  REQUIRE_THROWS_WITH(losses::dice_loss(x, t, {.weight = Var<double>(from_vector<double>({1.0, 2.0}))}),
                      Contains("dice_loss: weight of shape [2] does not give one value per class: expected [3]"));
  REQUIRE_THROWS_WITH(losses::dice_loss(x, t, {.weight = Var<double>(from_vector<double>({1.0, -2.0, 1.0}))}),
                      Contains("dice_loss: class weights must be non-negative, got -2"));
  REQUIRE_THROWS_WITH(losses::dice_loss(x, t, {.include_background = false,
                                               .weight = Var<double>(from_vector<double>({1.0, 2.0, 3.0}))}),
                      Contains("expected [2] (without include_background"));
  // Class indices: out of range, wrong shape, a non-binary mask for one channel.
  const Tensor<int64_t> bad = from_vector<int64_t>({0, 1, 3, 1, 0, 2, 2, 1}, {2, 1, 2, 2});
  const Var<double> small = randn_var({2, 3, 2, 2});
  REQUIRE_THROWS_WITH(losses::dice_loss(small, bad),
                      Contains("dice_loss: class index 3 is outside [0, 3) for an input with 3 channels"));
  {  // float labels with to_onehot_y: NaN and out-of-range values are errors, not an undefined cast
    Tensor<double> nan_labels = zeros<double>({2, 1, 2, 2});
    nan_labels.data()[5] = std::numeric_limits<double>::quiet_NaN();
    REQUIRE_THROWS_WITH(losses::dice_loss(small, Var<double>(nan_labels), {.to_onehot_y = true}),
                        Contains("dice_loss: label nan is not a class index in [0, 3)"));
    nan_labels.data()[5] = 1e300;
    REQUIRE_THROWS_WITH(losses::focal_loss(small, Var<double>(nan_labels), {.to_onehot_y = true}),
                        Contains("focal_loss: label 1e+300 is not a class index in [0, 3)"));
  }
  REQUIRE_THROWS_WITH(losses::focal_loss(small, Tensor<int64_t>(zeros<int64_t>({2, 1, 2, 3}))),
                      Contains("focal_loss: class-index target of shape [2, 1, 2, 3] does not match input of shape "
                               "[2, 3, 2, 2] (expected [2, 1, 2, 2] or that without dim 1)"));
  REQUIRE_THROWS_WITH(losses::dice_loss(randn_var({2, 1, 2, 2}), bad),
                      Contains("with a single-channel input the class indices are a binary mask (0 or 1), got 3"));
  // to_onehot_y needs labels with one channel.
  REQUIRE_THROWS_WITH(losses::dice_loss(x, t, {.to_onehot_y = true}),
                      Contains("dice_loss: labels of shape [2, 3, 4, 4] must have a channel dim of size 1"));
  REQUIRE_THROWS_WITH(losses::dice_loss(randn_var({2, 3}), randn_var({2, 3})),
                      Contains("dice_loss: input of shape [2, 3] must be [N, C, spatial...]"));
  // Generalised Dice and Dice + CE.
  REQUIRE_THROWS_WITH(losses::dice_weight_from_string("cubic"),
                      Contains("generalized_dice_loss: w_type 'cubic' is not one of 'square', 'simple', 'uniform'"));
  REQUIRE_THROWS_WITH(losses::generalized_dice_loss(x, t2), Contains("generalized_dice_loss: ground truth has different shape"));
  REQUIRE_THROWS_WITH(losses::dice_ce_loss(x, t, {.reduction = losses::Reduction::none}),
                      Contains("dice_ce_loss: reduction 'none' is not supported"));
  REQUIRE_THROWS_WITH(losses::dice_ce_loss(x, t, {.lambda_ce = -1}), Contains("lambda_ce should be no less than 0.0"));
  REQUIRE_THROWS_WITH(losses::dice_ce_loss(x, t, {.lambda_dice = -1}), Contains("lambda_dice should be no less than 0.0"));
  REQUIRE_THROWS_WITH(losses::dice_ce_loss(x, randn_var({2, 2, 4, 4})),
                      Contains("dice_ce_loss: number of channels for target is neither 1 (without one-hot encoding) "
                               "nor the same as input, got shape [2, 3, 4, 4] and [2, 2, 4, 4]"));
  REQUIRE_THROWS_WITH(losses::dice_ce_loss(x, randn_var({2, 4, 4})),
                      Contains("dice_ce_loss: input of shape [2, 3, 4, 4] and target of shape [2, 4, 4] have different "
                               "numbers of dims"));
  // Labels [N, 1, ...] without to_onehot_y cannot be compared with three channels by the Dice part.
  REQUIRE_THROWS_WITH(losses::dice_ce_loss(x, Var<double>(zeros<double>({2, 1, 4, 4}))),
                      Contains("dice_ce_loss (Dice part): ground truth has different shape [2, 1, 4, 4] from input [2, 3, 4, 4]"));
  REQUIRE_THROWS_WITH(losses::dice_ce_loss(x, t, {.to_onehot_y = true}),
                      Contains("dice_ce_loss: to_onehot_y needs labels of shape [N, 1, spatial...], got a target of shape [2, 3, 4, 4]"));
  REQUIRE_THROWS_WITH(losses::dice_ce_loss(x, t, {.weight = Var<double>(from_vector<double>({1.0, 2.0}))}),
                      Contains("weight of shape [2] does not give one value per class"));
  REQUIRE_THROWS_WITH(losses::dice_ce_loss(x, t, {.label_smoothing = 1.5}), Contains("label_smoothing must be in [0, 1]"));
  // Focal.
  REQUIRE_THROWS_WITH(losses::focal_loss(x, t, {.alpha = 1.5}), Contains("focal_loss: alpha must be in [0, 1], got 1.5"));
  REQUIRE_THROWS_WITH(losses::focal_loss(x, t2), Contains("focal_loss: ground truth has different shape"));
  REQUIRE_THROWS_WITH(losses::focal_loss(x, t, {.weight = Var<double>(from_vector<double>({1.0, 2.0, 3.0, 4.0}))}),
                      Contains("focal_loss: weight of shape [4] does not give one value per class: expected [3]"));
}

TEST_CASE("segmentation losses: a small network learns with dice_ce", "[models][losses]") {
  // A per-voxel linear classifier (1x1 logits from an intensity feature) trained by plain gradient
  // descent on Dice + CE: the loss decreases and the Dice of the prediction grows.
  const Tensor<int64_t> labels = randint(0, 3, {1, 1, 6, 6}, default_generator());
  const Tensor<float> feature = ops::cast<float>(labels);
  Var<float> w(from_vector<float>({0.1f, -0.1f, 0.05f}, {1, 3, 1, 1}), true);
  Var<float> b(from_vector<float>({0.0f, 0.0f, 0.0f}, {1, 3, 1, 1}), true);
  float first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    const Var<float> logits = add(mul(Var<float>(feature.unsqueeze(0).reshape({1, 1, 6, 6})), w), b);
    const Var<float> loss = losses::dice_ce_loss(logits, labels, {.softmax = true});
    if (step == 0) first = loss.item();
    last = loss.item();
    w.zero_grad();
    b.zero_grad();
    loss.backward();
    w = Var<float>(ops::sub(w.value(), ops::mul(w.grad(), 0.5f)), true);
    b = Var<float>(ops::sub(b.value(), ops::mul(b.grad(), 0.5f)), true);
  }
  CHECK(last < 0.6f * first);
}
