// DeepPET (include/voxnn/models/deeppet.hpp) against its PyTorch mirror (tests/fixtures/gen_models_pet.py),
// BatchNorm's train/eval behaviour, a few Adam steps on simulated PET sinograms, and option checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "support/model_case.hpp"
#include "voxnn/data/pet.hpp"
#include "voxnn/data/phantom.hpp"
#include "voxnn/losses/regression.hpp"
#include "voxnn/models/deeppet.hpp"
#include "voxnn/optim/adam.hpp"

using namespace voxnn;
using Catch::Contains;

namespace {

template <class Dict>
std::vector<std::string> keys_of(const Dict& dict) {
  std::vector<std::string> out;
  for (const auto& [k, v] : dict) out.push_back(k);
  return out;
}

const models::DeepPETOptions kSmall{
    .sinogram_size = {16, 24}, .image_size = 16, .in_channels = 1, .base_channels = 4, .num_levels = 2};
const models::DeepPETOptions kLevels3{
    .sinogram_size = {20, 13}, .image_size = 24, .in_channels = 2, .base_channels = 3, .num_levels = 3};

template <Real T>
void run_case(const std::string& variant, const models::DeepPETOptions& o) {
  const test::ModelCase c("deeppet." + variant);
  models::DeepPET<T> net(o);
  REQUIRE(keys_of(net.state_dict()) == keys_of(c.weights<T>()));
  c.load_into(net);
  NoGradGuard no_grad;
  const Var<T> out = net(Var<T>(c.input<T>("x")));
  REQUIRE(out.shape() == Shape{c.input<T>("x").size(0), 1, o.image_size, o.image_size});
  c.require_output("out", out.value());
}

}  // namespace

TEST_CASE("DeepPET matches its PyTorch mirror", "[models][pet]") {
  SECTION("small, float") { run_case<float>("small", kSmall); }
  SECTION("small, double") { run_case<double>("small", kSmall); }
  SECTION("three levels, two channels, float") { run_case<float>("levels3", kLevels3); }
  SECTION("three levels, two channels, double") { run_case<double>("levels3", kLevels3); }
}

TEST_CASE("DeepPET at the paper's size has 32 to 512 channels and a 128 x 128 output grid", "[models][pet]") {
  models::DeepPET<float> net;
  const auto sd = net.state_dict();
  REQUIRE(sd.find("encoder.0.conv.weight")->shape() == Shape{32, 1, 7, 7});
  REQUIRE(sd.find("encoder.2.conv.weight")->shape() == Shape{64, 32, 5, 5});
  REQUIRE(sd.find("encoder.4.conv.weight")->shape() == Shape{128, 64, 3, 3});
  REQUIRE(sd.find("encoder.9.conv.weight")->shape() == Shape{512, 512, 3, 3});
  REQUIRE(sd.find("encoder.9.bn.num_batches_tracked")->shape() == Shape{});
  REQUIRE(sd.find("decoder.0.conv.weight")->shape() == Shape{256, 512, 3, 3});
  REQUIRE(sd.find("decoder.7.conv.weight")->shape() == Shape{32, 32, 3, 3});
  REQUIRE(sd.find("head.weight")->shape() == Shape{1, 32, 3, 3});
  REQUIRE(keys_of(sd).back() == "head.bias");
  REQUIRE(net.encoder.size() == 10);
  REQUIRE(net.decoder.size() == 8);
}

TEST_CASE("DeepPET: train mode normalises with batch statistics and updates the running ones", "[models][pet]") {
  const test::ModelCase c("deeppet.small");
  models::DeepPET<float> net(kSmall);
  c.load_into(net);
  const Var<float> x(c.input<float>("x"));
  NoGradGuard no_grad;
  const Tensor<float> eval_out = net(x).value();
  const Tensor<float> mean_before = net.decoder.at<models::DeepPETBlock<float>>(1).bn.running_mean.clone();
  net.train();
  const Tensor<float> train_out = net(x).value();
  double diff = 0;
  const auto a = eval_out.to_vector(), b = train_out.to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
  REQUIRE(diff > 1e-3);
  auto& bn = net.decoder.at<models::DeepPETBlock<float>>(1).bn;
  REQUIRE(bn.num_batches_tracked.item() == 6.0f);  // 5 loaded + 1
  REQUIRE(bn.running_mean.to_vector() != mean_before.to_vector());
  net.eval();
  REQUIRE(net(x).value().to_vector() != eval_out.to_vector());  // the running statistics moved
}

TEST_CASE("DeepPET learns from simulated PET sinograms: Adam steps lower the MSE", "[models][pet]") {
  // 8 random two-ellipse activity images 16 x 16, projected on 16 angles x 24 bins with Poisson noise.
  Generator gen(42);
  const int64_t n = 8, size = 16;
  Tensor<float> images(Shape{n, 1, size, size});
  const Tensor<float> u = rand<float>(Shape{n, 2, 5}, gen);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<data::Ellipsoid> table;
    for (int64_t e = 0; e < 2; ++e) {
      auto p = [&](int64_t k) { return static_cast<double>(u.data()[(i * 2 + e) * 5 + k]); };
      table.push_back({.x0 = p(0) - 0.5, .y0 = p(1) - 0.5, .a = 0.25 + 0.4 * p(2), .b = 0.2 + 0.3 * p(3),
                       .phi = 180 * p(4), .value = 1.0 + e});
    }
    const Tensor<float> img = data::ellipse_phantom<float>(size, size, table);
    std::copy(img.data(), img.data() + size * size, images.data() + i * size * size);
  }
  const ops::RadonGeometry g = ops::radon_geometry(size, size, {.num_angles = 16, .num_bins = 24});
  const data::PetData<float> pet = data::simulate_pet(images, Tensor<float>(), g, {.total_counts = 2e4}, gen);
  REQUIRE(pet.counts.shape() == Shape{n, 1, 16, 24});
  // counts scaled to order one; the target is the activity at the simulated count level, also scaled
  const float k = 1.0f / 100.0f;
  const Var<float> x(ops::mul(pet.counts, k));
  const Var<float> y(ops::mul(ops::mul(images, pet.scale), k * 8.0f));

  manual_seed(1);  // the modules' default initialisation draws from the default generator
  models::DeepPET<float> net(kSmall);
  optim::Adam<float> opt(net.parameters(), {.lr = 3e-3});
  std::vector<float> losses_seen;
  for (int step = 0; step < 20; ++step) {
    opt.zero_grad();
    const Var<float> loss = losses::mse_loss(net(x), y);
    loss.backward();
    if (step == 0)
      for (const auto& [name, p] : net.named_parameters()) {
        INFO(name);
        REQUIRE(p.grad().defined());
      }
    opt.step();
    losses_seen.push_back(loss.value().item());
  }
  INFO("first " << losses_seen.front() << ", last " << losses_seen.back());
  REQUIRE(std::isfinite(losses_seen.back()));
  REQUIRE(losses_seen.back() < 0.5f * losses_seen.front());
}

TEST_CASE("DeepPET options and input shapes are checked", "[models][pet]") {
  REQUIRE_THROWS_WITH(models::DeepPET<float>({.image_size = 100}),
                      Contains("DeepPET: image_size = 100") && Contains("2^num_levels = 16"));
  REQUIRE_THROWS_WITH(models::DeepPET<float>({.sinogram_size = {0, 10}}), Contains("DeepPET: sinogram_size [0, 10]"));
  REQUIRE_THROWS_WITH(models::DeepPET<float>({.base_channels = 0}), Contains("DeepPET: base_channels = 0"));
  REQUIRE_THROWS_WITH(models::DeepPET<float>({.num_levels = 0}), Contains("DeepPET: num_levels = 0"));
  REQUIRE_THROWS_WITH(models::DeepPET<float>({.in_channels = -1}), Contains("DeepPET: in_channels = -1"));
  models::DeepPET<float> net(kSmall);
  REQUIRE_THROWS_WITH(net(Var<float>(zeros<float>(Shape{1, 1, 24, 16}))),
                      Contains("DeepPET: sinogram has shape [1, 1, 24, 16]") && Contains("sinogram_size [16, 24]"));
  REQUIRE_THROWS_WITH(net(Var<float>(zeros<float>(Shape{1, 16, 24}))), Contains("expected (N, 1, 16, 24)"));
}
