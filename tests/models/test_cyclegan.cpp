// models::ResnetGenerator (cyclegan.hpp) against junyanz/pytorch-CycleGAN-and-pix2pix's networks.py in
// 2D and with 3D modules swapped in (tests/fixtures/gen_models_cyclegan.py): keys, values in float and
// double for each padding type and norm, training-mode dropout, option and shape errors, and a
// short cycle-consistency training check.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "support/model_case.hpp"
#include "voxnn/losses/regression.hpp"
#include "voxnn/models/cyclegan.hpp"
#include "voxnn/optim/adam.hpp"

using namespace voxnn;
using test::state_keys;
using test::weight_keys;
using models::ResnetGenerator;

namespace {

models::ResnetGeneratorOptions case_options(const std::string& name) {
  if (name == "cyclegan_resnet.instance2d")
    return {.input_nc = 3, .output_nc = 3, .ngf = 2, .norm = "instance", .use_dropout = true, .n_blocks = 2,
            .padding_type = "reflect"};
  if (name == "cyclegan_resnet.batch2d_zero")
    return {.input_nc = 1, .output_nc = 2, .ngf = 2, .norm = "batch", .n_blocks = 1, .padding_type = "zero"};
  if (name == "cyclegan_resnet.instance3d_replicate")
    return {.input_nc = 1, .output_nc = 1, .ngf = 2, .norm = "instance", .n_blocks = 1, .padding_type = "replicate"};
  if (name == "cyclegan_resnet.instance_tracked2d")
    return {.input_nc = 1, .output_nc = 1, .ngf = 2, .norm = "instance_tracked", .n_blocks = 2, .padding_type = "reflect"};
  FAIL("no options for " << name);
  return {};
}

template <int Dim, Real T>
void check_case(const std::string& name) {
  const test::ModelCase c(name);
  ResnetGenerator<Dim, T> net(case_options(name));
  REQUIRE(state_keys(net) == weight_keys(c));
  c.load_into(net);
  c.require_output("out", net(Var<T>(c.input<T>("x"))).value());
}

}  // namespace

TEST_CASE("ResnetGenerator matches the reference in 2D and 3D", "[models][cyclegan]") {
  SECTION("instance2d reflect, float") { check_case<2, float>("cyclegan_resnet.instance2d"); }
  SECTION("instance2d reflect, double") { check_case<2, double>("cyclegan_resnet.instance2d"); }
  SECTION("batch2d zero, float") { check_case<2, float>("cyclegan_resnet.batch2d_zero"); }
  SECTION("batch2d zero, double") { check_case<2, double>("cyclegan_resnet.batch2d_zero"); }
  SECTION("instance3d replicate, float") { check_case<3, float>("cyclegan_resnet.instance3d_replicate"); }
  SECTION("instance3d replicate, double") { check_case<3, double>("cyclegan_resnet.instance3d_replicate"); }
  // get_norm_layer('instance') at 7891385: running statistics, which eval mode normalises with
  SECTION("instance_tracked2d, float") { check_case<2, float>("cyclegan_resnet.instance_tracked2d"); }
  SECTION("instance_tracked2d, double") { check_case<2, double>("cyclegan_resnet.instance_tracked2d"); }
}

TEST_CASE("ResnetGenerator names follow the reference", "[models][cyclegan]") {
  ResnetGenerator<2, float> g({.ngf = 2, .norm = "instance", .n_blocks = 9});  // CycleGAN's resnet_9blocks
  const auto keys = state_keys(g);
  CHECK(keys.front() == "model.1.weight");
  CHECK(keys[1] == "model.1.bias");  // instance norm: convs keep their bias
  CHECK(std::find(keys.begin(), keys.end(), "model.10.conv_block.1.weight") != keys.end());
  CHECK(std::find(keys.begin(), keys.end(), "model.18.conv_block.5.bias") != keys.end());
  CHECK(keys.back() == "model.26.bias");  // the final k7 conv after 9 blocks, 2 ups and the pad
  CHECK(g.model.size() == 28);
  ResnetGenerator<2, float> b({.ngf = 2, .n_blocks = 1, .padding_type = "zero"});
  const auto bkeys = state_keys(b);
  CHECK(bkeys.front() == "model.1.weight");
  CHECK(bkeys[1] == "model.2.weight");  // batch norm: no conv bias
  CHECK(std::find(bkeys.begin(), bkeys.end(), "model.10.conv_block.0.weight") != bkeys.end());  // no pad module
  ResnetGenerator<3, float> g3({.input_nc = 1, .output_nc = 1, .ngf = 1, .norm = "instance", .n_blocks = 1});
  CHECK(g3(Var<float>(zeros<float>({1, 1, 8, 12, 16}))).shape() == Shape{1, 1, 8, 12, 16});
}

TEST_CASE("ResnetGenerator dropout is active in training mode only", "[models][cyclegan]") {
  ResnetGenerator<2, double> g({.input_nc = 1, .output_nc = 1, .ngf = 2, .norm = "instance", .use_dropout = true,
                                .n_blocks = 1});
  std::vector<double> xs(16 * 16);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = std::sin(0.3 * static_cast<double>(i));
  const Var<double> x(from_vector(xs, {1, 1, 16, 16}));
  auto diff = [](const Tensor<double>& a, const Tensor<double>& b) {
    double d = 0;
    const auto va = a.to_vector(), vb = b.to_vector();
    for (std::size_t i = 0; i < va.size(); ++i) d = std::max(d, std::abs(va[i] - vb[i]));
    return d;
  };
  CHECK(diff(g(x).value(), g(x).value()) > 1e-6);
  g.eval();
  CHECK(diff(g(x).value(), g(x).value()) == 0);
}

TEST_CASE("ResnetGenerator rejects bad options and inputs with clear messages", "[models][cyclegan]") {
  using Catch::Contains;
  using G2 = ResnetGenerator<2, float>;
  using G3 = ResnetGenerator<3, float>;
  REQUIRE_THROWS_WITH(G2({.padding_type = "circular"}),
                      Contains("ResnetGenerator: padding_type must be reflect, replicate or zero, got 'circular'"));
  REQUIRE_THROWS_WITH(G2({.norm = "group"}), Contains("ResnetGenerator: norm must be batch, instance, instance_tracked or none"));
  REQUIRE_THROWS_WITH(G2({.n_blocks = -1}), Contains("n_blocks must be non-negative"));
  REQUIRE_THROWS_WITH(G2({.ngf = 0}), Contains("must be positive"));
  G3 g({.input_nc = 1, .output_nc = 1, .ngf = 1, .n_blocks = 0});
  REQUIRE_THROWS_WITH(g(Var<float>(zeros<float>({1, 1, 8, 3, 8}))), Contains("every spatial size > 3"));
  models::CycleGanGenerator3d<float> blocks({.input_nc = 1, .output_nc = 1, .ngf = 1, .n_blocks = 1});
  REQUIRE_THROWS_WITH(blocks(Var<float>(zeros<float>({1, 1, 8, 4, 8}))),
                      Contains("the reflect padding of the ResnetBlocks, at a quarter of the size, needs every spatial "
                               "size >= 5"));
  CHECK(blocks(Var<float>(zeros<float>({1, 1, 8, 5, 8}))).shape() == Shape{1, 1, 8, 8, 8});
  REQUIRE_THROWS_WITH(g(Var<float>(zeros<float>({1, 2, 8, 8, 8}))), Contains("expected input_nc = 1"));
  REQUIRE_THROWS_WITH(g(Var<float>(zeros<float>({1, 8, 8, 8}))), Contains("expected 5 (N, C, D, H, W)"));
}

TEST_CASE("CycleGAN generators train: the cycle loss falls and gradients reach every parameter",
          "[models][cyclegan]") {
  std::vector<float> xs(2 * 12 * 12);
  for (std::size_t i = 0; i < xs.size(); ++i)
    xs[i] = 0.8f * std::sin(0.45f * static_cast<float>(i % 12)) * std::cos(0.3f * static_cast<float>(i / 12));
  const Var<float> a(from_vector(xs, {2, 1, 12, 12}));
  manual_seed(5);  // the default initialisation draws from the global generator
  const models::ResnetGeneratorOptions o{.input_nc = 1, .output_nc = 1, .ngf = 2, .norm = "instance", .n_blocks = 1};
  ResnetGenerator<2, float> g_ab(o), g_ba(o);
  std::vector<Var<float>> params = g_ab.parameters();
  for (const auto& p : g_ba.parameters()) params.push_back(p);
  optim::Adam<float> opt(params, {.lr = 5e-3});
  std::vector<double> cycle;
  for (int step = 0; step < 12; ++step) {
    opt.zero_grad();
    Var<float> loss = losses::l1_loss(g_ba(g_ab(a)), a);
    loss.backward();
    if (step == 0)
      for (const auto& p : params) REQUIRE(p.has_grad());
    cycle.push_back(loss.item());
    opt.step();
  }
  INFO("first cycle loss " << cycle.front() << ", last " << cycle.back());
  CHECK(cycle.back() < 0.7 * cycle.front());
}
