// models::UnetGenerator and models::NLayerDiscriminator (pix2pix.hpp) against
// junyanz/pytorch-CycleGAN-and-pix2pix's networks.py in 2D and with 3D modules swapped in
// (tests/fixtures/gen_models_pix2pix.py): keys, values in float and double, training-mode batch norm
// and dropout, option and shape errors, and a short training check.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "support/model_case.hpp"
#include "voxnn/losses/regression.hpp"
#include "voxnn/models/pix2pix.hpp"
#include "voxnn/optim/adam.hpp"

using namespace voxnn;
using test::state_keys;
using test::weight_keys;
using test::max_abs_diff;
using models::NLayerDiscriminator;
using models::UnetGenerator;

namespace {

models::UnetGeneratorOptions unet_options(const std::string& name) {
  if (name == "pix2pix_unet.batch2d")
    return {.input_nc = 1, .output_nc = 1, .num_downs = 6, .ngf = 1, .norm = "batch", .use_dropout = true};
  if (name == "pix2pix_unet.instance3d")
    return {.input_nc = 1, .output_nc = 1, .num_downs = 5, .ngf = 1, .norm = "instance"};
  if (name == "pix2pix_unet.train_batch2d")
    return {.input_nc = 2, .output_nc = 1, .num_downs = 5, .ngf = 1, .norm = "batch"};
  if (name == "pix2pix_unet.instance_tracked2d")
    return {.input_nc = 1, .output_nc = 1, .num_downs = 5, .ngf = 1, .norm = "instance_tracked"};
  FAIL("no options for " << name);
  return {};
}
models::NLayerDiscriminatorOptions patchgan_options(const std::string& name) {
  if (name == "patchgan.batch2d") return {.input_nc = 3, .ndf = 2, .n_layers = 3, .norm = "batch"};
  if (name == "patchgan.instance3d") return {.input_nc = 2, .ndf = 2, .n_layers = 2, .norm = "instance"};
  if (name == "patchgan.instance_tracked3d")
    return {.input_nc = 2, .ndf = 2, .n_layers = 2, .norm = "instance_tracked"};
  if (name == "patchgan.none2d_sigmoid")
    return {.input_nc = 1, .ndf = 2, .n_layers = 1, .norm = "none", .use_sigmoid = true};
  FAIL("no options for " << name);
  return {};
}

// The generator's formula input: ((i * 7919) mod 2003) / 1001.5 - 1 over the flat index, in float32.
template <Real T>
Tensor<T> formula_input(const Tensor<int64_t>& shape_tensor) {
  const std::vector<int64_t> dims = shape_tensor.to_vector();
  const Shape shape(dims);
  std::vector<T> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<T>(static_cast<float>(static_cast<double>((static_cast<int64_t>(i) * 7919) % 2003) / 1001.5 - 1.0));
  return from_vector(v, shape);
}

template <int Dim, Real T>
void check_unet(const std::string& name) {
  const test::ModelCase c(name);
  UnetGenerator<Dim, T> net(unet_options(name));
  REQUIRE(state_keys(net) == weight_keys(c));
  c.load_into(net);
  if (name == "pix2pix_unet.instance3d") {
    const Var<T> out = net(Var<T>(formula_input<T>(c.input<int64_t>("x_shape"))));
    Var<T> sub = out;
    for (int d = 2; d < 5; ++d) sub = slice(sub, d, 0, out.size(d), 2);
    c.require_output("out_sub", sub.value().contiguous());
  } else {
    if (name == "pix2pix_unet.train_batch2d") net.train();
    c.require_output("out", net(Var<T>(c.input<T>("x"))).value());
  }
}

template <int Dim, Real T>
void check_patchgan(const std::string& name) {
  const test::ModelCase c(name);
  NLayerDiscriminator<Dim, T> net(patchgan_options(name));
  REQUIRE(state_keys(net) == weight_keys(c));
  c.load_into(net);
  c.require_output("out", net(Var<T>(c.input<T>("x"))).value());
}

}  // namespace

TEST_CASE("UnetGenerator matches the reference in 2D and 3D", "[models][pix2pix]") {
  SECTION("batch2d float") { check_unet<2, float>("pix2pix_unet.batch2d"); }
  SECTION("batch2d double") { check_unet<2, double>("pix2pix_unet.batch2d"); }
  SECTION("instance3d float") { check_unet<3, float>("pix2pix_unet.instance3d"); }
  SECTION("instance3d double") { check_unet<3, double>("pix2pix_unet.instance3d"); }
  SECTION("training-mode batch norm, float") { check_unet<2, float>("pix2pix_unet.train_batch2d"); }
  SECTION("training-mode batch norm, double") { check_unet<2, double>("pix2pix_unet.train_batch2d"); }
  // get_norm_layer('instance') at 7891385: running statistics, which eval mode normalises with
  SECTION("instance_tracked2d float") { check_unet<2, float>("pix2pix_unet.instance_tracked2d"); }
  SECTION("instance_tracked2d double") { check_unet<2, double>("pix2pix_unet.instance_tracked2d"); }
}

TEST_CASE("NLayerDiscriminator (PatchGAN) matches the reference in 2D and 3D", "[models][pix2pix]") {
  SECTION("batch2d float") { check_patchgan<2, float>("patchgan.batch2d"); }
  SECTION("batch2d double") { check_patchgan<2, double>("patchgan.batch2d"); }
  SECTION("instance3d float") { check_patchgan<3, float>("patchgan.instance3d"); }
  SECTION("instance3d double") { check_patchgan<3, double>("patchgan.instance3d"); }
  SECTION("none2d_sigmoid float") { check_patchgan<2, float>("patchgan.none2d_sigmoid"); }
  SECTION("none2d_sigmoid double") { check_patchgan<2, double>("patchgan.none2d_sigmoid"); }
  SECTION("instance_tracked3d float") { check_patchgan<3, float>("patchgan.instance_tracked3d"); }
  SECTION("instance_tracked3d double") { check_patchgan<3, double>("patchgan.instance_tracked3d"); }
}

TEST_CASE("pix2pix names and aliases", "[models][pix2pix]") {
  // unet_256 with ngf 2: 8 levels, dropout in the 3 middle blocks below 8 ngf
  UnetGenerator<2, float> g({.num_downs = 8, .ngf = 2, .use_dropout = true});
  const auto keys = state_keys(g);
  CHECK(keys.front() == "model.model.0.weight");  // outermost down conv: no bias with batch norm
  CHECK(keys[1] == "model.model.1.model.1.weight");
  CHECK(keys.back() == "model.model.3.bias");  // outermost up conv keeps its bias
  int dropouts = 0;
  for (auto& [name, m] : g.named_modules()) dropouts += m->type_name() == "Dropout";
  CHECK(dropouts == 3);
  models::Pix2Pix3dGenerator<float> g3({.input_nc = 1, .output_nc = 2, .num_downs = 5, .ngf = 1, .norm = "instance"});
  CHECK(g3.model.model.at<nn::Conv3d<float>>(0).bias.defined());  // instance norm: convs keep their bias
  CHECK(g3(Var<float>(zeros<float>({1, 1, 32, 32, 64}))).shape() == Shape{1, 2, 32, 32, 64});
  models::PatchGan3d<float> d({.input_nc = 2, .ndf = 1, .n_layers = 2});
  CHECK(d(Var<float>(zeros<float>({2, 2, 16, 16, 24}))).shape() == Shape{2, 1, 2, 2, 4});
  models::PatchGan<float> basic({.n_layers = 3});  // the 70x70 PatchGAN: 256^2 -> 30^2
  CHECK(basic.model.size() == 12);
  CHECK(state_keys(basic).size() == 2 + 3 * (1 + 5) + 2);
}

TEST_CASE("pix2pix dropout is active in training mode only", "[models][pix2pix]") {
  for (bool use_dropout : {true, false}) {
    UnetGenerator<2, double> g({.input_nc = 1, .output_nc = 1, .num_downs = 6, .ngf = 1, .use_dropout = use_dropout});
    const Var<double> x(from_vector(std::vector<double>(64 * 64 * 2, 0.5), {2, 1, 64, 64}));
    g.train();
    const double train_diff = max_abs_diff(g(x).value(), g(x).value());  // batch statistics both times
    g.eval();
    const double eval_diff = max_abs_diff(g(x).value(), g(x).value());
    CHECK(eval_diff == 0);
    if (use_dropout) CHECK(train_diff > 1e-6);
    else CHECK(train_diff == 0);
  }
}

TEST_CASE("pix2pix rejects bad options and inputs with clear messages", "[models][pix2pix]") {
  using Catch::Contains;
  using G2 = UnetGenerator<2, float>;
  using D2 = NLayerDiscriminator<2, float>;
  using D3 = NLayerDiscriminator<3, float>;
  using Block2 = models::UnetSkipConnectionBlock<2, float>;
  REQUIRE_THROWS_WITH(G2({.num_downs = 4}), Contains("UnetGenerator: num_downs must be in [5, 30]"));
  REQUIRE_THROWS_WITH(G2({.ngf = 0}), Contains("must be positive"));
  REQUIRE_THROWS_WITH(G2({.num_downs = 5, .ngf = 1, .norm = "group"}),
                      Contains("UnetGenerator: norm must be batch, instance, instance_tracked or none, got 'group'"));
  REQUIRE_THROWS_WITH(D3({.norm = "layer"}), Contains("NLayerDiscriminator: norm must be"));
  REQUIRE_THROWS_WITH(D2({.n_layers = -1}), Contains("n_layers must be in [0, 30]"));
  REQUIRE_THROWS_WITH(Block2(std::vector<models::UnetSkipConnectionBlockOptions>{
                          {.outer_nc = 2, .inner_nc = 2}}),
                      Contains("the innermost block must be the last level"));

  UnetGenerator<2, float> g({.input_nc = 1, .output_nc = 1, .num_downs = 5, .ngf = 1});
  REQUIRE_THROWS_WITH(g(Var<float>(zeros<float>({1, 1, 48, 32}))),
                      Contains("each spatial size must be a multiple of 32 (2^num_downs, num_downs = 5)"));
  REQUIRE_THROWS_WITH(g(Var<float>(zeros<float>({1, 3, 32, 32}))), Contains("expected input_nc = 1"));
  REQUIRE_THROWS_WITH(g(Var<float>(zeros<float>({1, 1, 32, 32, 32}))), Contains("expected 4 (N, C, H, W)"));
  NLayerDiscriminator<3, float> d({.input_nc = 2, .ndf = 1});
  REQUIRE_THROWS_WITH(d(Var<float>(zeros<float>({1, 2, 16, 16}))), Contains("expected 5 (N, C, D, H, W)"));
}

TEST_CASE("pix2pix trains: L1 falls and gradients reach every parameter", "[models][pix2pix]") {
  // a generator learning a fixed mapping and a critic seeing cat([input, output]); a few Adam steps
  std::vector<float> xs(2 * 32 * 32), ys(2 * 32 * 32);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    xs[i] = std::sin(0.37f * static_cast<float>(i % 32)) * std::cos(0.21f * static_cast<float>(i / 32));
    ys[i] = 0.5f * std::tanh(2.0f * xs[i]);
  }
  const Var<float> x(from_vector(xs, {2, 1, 32, 32})), y(from_vector(ys, {2, 1, 32, 32}));
  manual_seed(7);  // the default initialisation draws from the global generator
  UnetGenerator<2, float> g({.input_nc = 1, .output_nc = 1, .num_downs = 5, .ngf = 2, .norm = "instance"});
  NLayerDiscriminator<2, float> d({.input_nc = 2, .ndf = 2, .n_layers = 2, .norm = "instance"});
  optim::Adam<float> opt(g.parameters(), {.lr = 5e-3});
  std::vector<double> l1;
  for (int step = 0; step < 12; ++step) {
    opt.zero_grad();
    d.zero_grad();
    const Var<float> fake = g(x);
    Var<float> loss = add(losses::l1_loss(fake, y), mul(mean(d(cat<float, Cpu>({x, fake}, 1))), 1e-3f));
    loss.backward();
    if (step == 0) {
      for (const auto& [name, p] : g.named_parameters()) {
        INFO("generator " << name);
        REQUIRE(p.has_grad());
      }
      for (const auto& [name, p] : d.named_parameters()) {
        INFO("critic " << name);
        REQUIRE(p.has_grad());
      }
    }
    l1.push_back(loss.item());
    opt.step();
  }
  INFO("first L1 " << l1.front() << ", last " << l1.back());
  CHECK(l1.back() < 0.7 * l1.front());
}
