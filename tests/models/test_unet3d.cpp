// models::UNet3d against the PyTorch mirror of tests/fixtures/gen_models_unet3d.py: parameter names,
// eval- and train-mode outputs in float and double, option and shape errors, and a few Adam steps
// of cross-entropy on a brain phantom.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "support/model_case.hpp"
#include "voxnn/data/phantom.hpp"
#include "voxnn/losses/classification.hpp"
#include "voxnn/models/unet3d.hpp"
#include "voxnn/optim/adam.hpp"

using namespace voxnn;
using test::state_keys;
using test::weight_keys;

namespace {

// The C++ options of each case (its config holds the same values under the same names).
models::UNet3dOptions case_options(const std::string& name) {
  if (name == "unet3d.batch")
    return {.in_channels = 1, .out_channels = 2, .features = {3, 6, 12}, .norm = "batch"};
  if (name == "unet3d.instance_cicek")
    return {.in_channels = 2, .out_channels = 3, .features = {2, 4, 8}, .norm = "instance", .cicek_channels = true};
  if (name == "unet3d.none") return {.in_channels = 1, .out_channels = 2, .features = {4, 8}, .norm = "none"};
  if (name == "unet3d_training.batch")
    return {.in_channels = 1, .out_channels = 2, .features = {4, 6}, .norm = "batch", .cicek_channels = true};
  FAIL("no options for case " << name);
  return {};
}

template <Real T>
void check_eval_case(const std::string& name) {
  const test::ModelCase c(name);
  models::UNet3d<T> net(case_options(name));
  REQUIRE(state_keys(net) == weight_keys(c));
  c.load_into(net);
  const Var<T> out = net(Var<T>(c.input<T>("x")));
  c.require_output("out", out.value());
}

}  // namespace

TEST_CASE("UNet3d matches the PyTorch mirror in eval mode", "[models][unet3d]") {
  for (const char* name : {"unet3d.batch", "unet3d.instance_cicek", "unet3d.none"}) {
    DYNAMIC_SECTION(name << " float") { check_eval_case<float>(name); }
    DYNAMIC_SECTION(name << " double") { check_eval_case<double>(name); }
  }
}

TEST_CASE("UNet3d parameter names follow the documented layout", "[models][unet3d]") {
  models::UNet3d<float> net({.features = {4, 8, 16}});
  const auto keys = state_keys(net);
  REQUIRE(keys.front() == "encoders.0.conv1.weight");
  REQUIRE(keys.back() == "final_conv.bias");
  auto has = [&](const std::string& k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  CHECK(has("encoders.1.norm2.num_batches_tracked"));
  CHECK(has("bottleneck.conv2.weight"));
  CHECK(has("upconvs.1.weight"));
  CHECK(has("decoders.0.norm1.running_var"));
  CHECK_FALSE(has("encoders.2.conv1.weight"));  // the last level is the bottleneck
  CHECK(net.named_parameters().size() == 5 * 8 + 2 * 2 + 2);  // 5 blocks, 2 up-convs, final conv
  models::UNet3d<float> plain({.features = {4, 8}, .norm = "none"});
  CHECK(plain.state_dict().size() == 4 + 4 + 2 + 4 + 2);
  // the paper's channels (there {64, 128, 256, 512}): 1 -> f/2 -> f at the top, up-convs keep theirs
  models::UNet3d<float> cicek({.in_channels = 1, .features = {8, 16, 32, 64}, .cicek_channels = true});
  CHECK(cicek.encoders.at<models::UNet3dBlock<float>>(0).conv1.weight.shape() == Shape{4, 1, 3, 3, 3});
  CHECK(cicek.encoders.at<models::UNet3dBlock<float>>(0).conv2->weight.shape() == Shape{8, 4, 3, 3, 3});
  CHECK(cicek.bottleneck->conv1.weight.shape() == Shape{32, 32, 3, 3, 3});
  CHECK(cicek.upconvs.at<nn::ConvTranspose3d<float>>(2).weight.shape() == Shape{64, 64, 2, 2, 2});
  CHECK(cicek.decoders.at<models::UNet3dBlock<float>>(2).conv1.weight.shape() == Shape{32, 96, 3, 3, 3});
}

TEST_CASE("UNet3d in training mode uses batch statistics and updates the running ones", "[models][unet3d]") {
  const std::string name = "unet3d_training.batch";
  const test::ModelCase c(name);
  models::UNet3d<double> net(case_options(name));
  REQUIRE(state_keys(net) == weight_keys(c));
  net.load_state_dict(c.weights<double>());
  const Var<double> x(c.input<double>("x"));
  net.eval();
  const Tensor<double> eval_out = net(x).value();
  net.train();
  const Tensor<double> train_out = net(x).value();
  c.require_output("out", train_out);
  // the eval output used the running statistics, which differ from the batch's
  double diff = 0;
  const auto a = eval_out.to_vector(), b = train_out.to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
  CHECK(diff > 1e-3);
  const auto& bn = net.encoders.at<models::UNet3dBlock<double>>(0);
  CHECK(dynamic_cast<nn::BatchNorm3d<double>&>(*bn.norm1).num_batches_tracked.item() == 8);  // 7 + 1

  models::UNet3d<float> netf(case_options(name));
  netf.load_state_dict(c.weights<float>());
  netf.train();
  c.require_output("out", netf(Var<float>(c.input<float>("x"))).value());
}

TEST_CASE("UNet3d rejects bad options and input shapes with clear messages", "[models][unet3d]") {
  using Catch::Contains;
  using O = models::UNet3dOptions;
  REQUIRE_THROWS_WITH(models::UNet3d<float>(O{.features = {}}), Contains("UNet3d: features needs 1 to 16 levels"));
  REQUIRE_THROWS_WITH(models::UNet3d<float>(O{.features = {4, 0}}), Contains("features must be positive"));
  REQUIRE_THROWS_WITH(models::UNet3d<float>(O{.norm = "group"}), Contains("norm must be batch, instance or none"));
  REQUIRE_THROWS_WITH(models::UNet3d<float>(O{.features = {4, 6, 9}, .cicek_channels = true}),
                      Contains("features must be even"));
  REQUIRE_THROWS_WITH(models::UNet3d<float>(O{.out_channels = 0}), Contains("in_channels and out_channels"));

  models::UNet3d<float> net({.features = {2, 4, 8}, .norm = "none"});
  REQUIRE_THROWS_WITH(net(Var<float>(zeros<float>({1, 1, 6, 8, 8}))),
                      Contains("each spatial size must be a positive multiple of 4 (2^2 for 3 levels)"));
  REQUIRE_THROWS_WITH(net(Var<float>(zeros<float>({1, 2, 8, 8, 8}))), Contains("expected in_channels = 1"));
  REQUIRE_THROWS_WITH(net(Var<float>(zeros<float>({1, 8, 8, 8}))), Contains("expected 5 (N, C, D, H, W)"));
  CHECK(net(Var<float>(zeros<float>({1, 1, 4, 8, 12}))).shape() == Shape{1, 2, 4, 8, 12});
}

TEST_CASE("UNet3d learns a phantom segmentation: cross-entropy falls over a few Adam steps", "[models][unet3d]") {
  // two 12^3 brain phantoms; classes background / skull+csf / grey+white matter and lesions
  std::vector<float> image;
  std::vector<int64_t> labels;
  for (uint64_t seed : {3u, 4u}) {
    const auto p = data::brain_phantom<float>({.size = {12, 12, 12}, .seed = seed});
    for (float v : p.image.to_vector()) image.push_back(v / 4.0f);
    for (int64_t l : p.labels.to_vector())
      labels.push_back(l == data::kBackground ? 0 : (l == data::kSkull || l == data::kCsf) ? 1 : 2);
  }
  const Var<float> x(from_vector(image, {2, 1, 12, 12, 12}));
  const Tensor<int64_t> target = from_vector(labels, {2, 12, 12, 12});

  manual_seed(11);  // the default initialisation draws from the global generator
  models::UNet3d<float> net({.in_channels = 1, .out_channels = 3, .features = {4, 8}});
  optim::Adam<float> opt(net.parameters(), {.lr = 1e-2});
  std::vector<double> losses;
  for (int step = 0; step < 12; ++step) {
    opt.zero_grad();
    Var<float> loss = losses::cross_entropy(net(x), target);
    loss.backward();
    if (step == 0)
      for (const auto& [name, p] : net.named_parameters()) {
        INFO(name);
        REQUIRE(p.has_grad());
      }
    losses.push_back(loss.item());
    opt.step();
  }
  INFO("first loss " << losses.front() << ", last " << losses.back());
  CHECK(losses.back() < 0.7 * losses.front());
}
