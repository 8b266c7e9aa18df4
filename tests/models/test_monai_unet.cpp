// models::BasicUNet and models::MonaiUNet against MONAI itself (tests/fixtures/gen_models_monai.py):
// state_dict keys, eval outputs in float and double for every case, a training-mode case, MONAI's
// building blocks (ADN ordering, layer specs), option and shape errors, and a few Adam steps.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "support/model_case.hpp"
#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/models/basic_unet.hpp"
#include "voxnn/models/monai_unet.hpp"
#include "voxnn/optim/adam.hpp"

using namespace voxnn;
using test::state_keys;
using test::weight_keys;
using test::max_abs_diff;
using models::monai::LayerSpec;

namespace {

// The C++ options of each case (its config holds the same values under MONAI's names).
models::BasicUNetOptions basic_options(const std::string& name) {
  if (name == "basic_unet.3d_small")
    return {.spatial_dims = 3, .in_channels = 1, .out_channels = 1, .features = {2, 3, 4, 4, 6, 2}};
  if (name == "basic_unet.2d_batch_nontrainable")
    return {.spatial_dims = 2, .in_channels = 2, .out_channels = 3, .features = {4, 4, 6, 6, 8, 4}, .act = "relu",
            .norm = "batch", .bias = false, .upsample = "nontrainable"};
  if (name == "basic_unet.2d_odd")
    return {.spatial_dims = 2, .in_channels = 1, .out_channels = 2, .features = {4, 4, 6, 6, 8, 4}, .dropout = 0.1};
  if (name == "basic_unet.2d_pixelshuffle_group")
    return {.spatial_dims = 2, .in_channels = 1, .out_channels = 2, .features = {4, 4, 6, 6, 8, 4},
            .act = LayerSpec{"prelu", {{"num_parameters", 1}, {"init", 0.1}}},
            .norm = LayerSpec{"group", {{"num_groups", 2}}}, .upsample = "pixelshuffle"};
  if (name == "basic_unet.1d_deconvgroup")
    return {.spatial_dims = 1, .in_channels = 2, .out_channels = 2, .features = {4, 4, 6, 6, 8, 4},
            .act = LayerSpec{"gelu", {{"approximate", "tanh"}}},
            .norm = LayerSpec{"instance", {{"affine", true}, {"eps", 1e-3}}}, .upsample = "deconvgroup"};
  FAIL("no options for case " << name);
  return {};
}

models::MonaiUNetOptions unet_options(const std::string& name) {
  if (name == "monai_unet.3d_res0")
    return {.spatial_dims = 3, .in_channels = 1, .out_channels = 2, .channels = {4, 8, 16}, .strides = {2, 2}};
  if (name == "monai_unet.3d_res2")
    return {.spatial_dims = 3, .in_channels = 1, .out_channels = 2, .channels = {3, 4, 6, 8}, .strides = {2, 2, 1},
            .num_res_units = 2};
  if (name == "monai_unet.2d_batch_aniso")
    return {.spatial_dims = 2, .in_channels = 2, .out_channels = 3, .channels = {4, 8, 16}, .strides = {2, {1, 2}},
            .kernel_size = 5, .up_kernel_size = {3, 1}, .num_res_units = 1,
            .act = LayerSpec{"leakyrelu", {{"negative_slope", 0.2}}}, .norm = "batch", .dropout = 0.1,
            .adn_ordering = "NA"};
  if (name == "monai_unet.2d_stride3_group")
    return {.spatial_dims = 2, .in_channels = 1, .out_channels = 1, .channels = {4, 8, 8}, .strides = {3, 2},
            .act = "relu", .norm = LayerSpec{"group", {{"num_groups", 2}, {"eps", 1e-4}}}, .bias = false,
            .adn_ordering = "ADN"};
  if (name == "monai_unet_training.batch_res1")
    return {.spatial_dims = 2, .in_channels = 1, .out_channels = 2, .channels = {4, 8}, .strides = {2},
            .num_res_units = 1, .norm = "batch"};
  FAIL("no options for case " << name);
  return {};
}

template <class Net, class Options>
void check_eval_case(const std::string& name, const Options& options) {
  using T = typename Net::value_type;
  const test::ModelCase c(name);
  Net net(options);
  REQUIRE(state_keys(net) == weight_keys(c));
  c.load_into(net);
  const Var<T> out = net(Var<T>(c.input<T>("x")));
  c.require_output("out", out.value());
}

bool has_key(const std::vector<std::string>& keys, const std::string& k) {
  return std::find(keys.begin(), keys.end(), k) != keys.end();
}

}  // namespace

TEST_CASE("BasicUNet matches MONAI in eval mode", "[models][monai]") {
  for (const char* name : {"basic_unet.3d_small", "basic_unet.2d_batch_nontrainable", "basic_unet.2d_odd",
                           "basic_unet.2d_pixelshuffle_group", "basic_unet.1d_deconvgroup"}) {
    DYNAMIC_SECTION(name << " float") { check_eval_case<models::BasicUNet<float>>(name, basic_options(name)); }
    DYNAMIC_SECTION(name << " double") { check_eval_case<models::BasicUNet<double>>(name, basic_options(name)); }
  }
}

TEST_CASE("MonaiUNet matches MONAI's UNet in eval mode", "[models][monai]") {
  for (const char* name : {"monai_unet.3d_res0", "monai_unet.3d_res2", "monai_unet.2d_batch_aniso",
                           "monai_unet.2d_stride3_group"}) {
    DYNAMIC_SECTION(name << " float") { check_eval_case<models::MonaiUNet<float>>(name, unet_options(name)); }
    DYNAMIC_SECTION(name << " double") { check_eval_case<models::MonaiUNet<double>>(name, unet_options(name)); }
  }
}

TEST_CASE("MonaiUNet in training mode uses batch statistics as MONAI does", "[models][monai]") {
  const std::string name = "monai_unet_training.batch_res1";
  const test::ModelCase c(name);
  models::MonaiUNet<double> net(unet_options(name));
  REQUIRE(state_keys(net) == weight_keys(c));
  net.load_state_dict(c.weights<double>());
  net.train();
  c.require_output("out", net(Var<double>(c.input<double>("x"))).value());
  models::MonaiUNet<float> netf(unet_options(name));
  netf.load_state_dict(c.weights<float>());
  const Tensor<float> train_out = netf(Var<float>(c.input<float>("x"))).value();
  c.require_output("out", train_out);
  netf.eval();
  CHECK(max_abs_diff(train_out, netf(Var<float>(c.input<float>("x"))).value()) > 1e-3);
}

TEST_CASE("BasicUNet and MonaiUNet name their parameters as MONAI does", "[models][monai]") {
  models::BasicUNet<float> basic({.features = {4, 4, 4, 4, 4, 4}});
  const auto keys = state_keys(basic);
  CHECK(keys.front() == "conv_0.conv_0.conv.weight");
  CHECK(keys.back() == "final_conv.bias");
  for (const char* k : {"conv_0.conv_0.adn.N.weight", "down_1.convs.conv_1.conv.bias", "upcat_4.upsample.deconv.weight",
                        "upcat_1.convs.conv_0.conv.weight", "final_conv.weight"}) {
    INFO(k);
    CHECK(has_key(keys, k));
  }
  CHECK(basic.upcat_4.upsample.named_children().front().first == "deconv");
  CHECK(basic.down_2.max_pooling().type_name() == "MaxPool3d");
  CHECK(basic.conv_0.conv_0.adn()->layer('D') != nullptr);  // dropout 0.0 still adds a Dropout, as in MONAI

  models::MonaiUNet<float> unet({.spatial_dims = 2, .in_channels = 1, .out_channels = 2, .channels = {4, 8, 16},
                                 .strides = {2, 2}, .num_res_units = 2});
  const auto ukeys = state_keys(unet);
  for (const char* k : {"model.0.conv.unit0.conv.weight", "model.0.conv.unit0.adn.A.weight",
                        "model.0.conv.unit1.adn.A.weight", "model.0.residual.weight",
                        "model.1.submodule.0.conv.unit0.conv.weight", "model.1.submodule.1.submodule.residual.weight",
                        "model.1.submodule.2.0.conv.weight", "model.1.submodule.2.1.conv.unit0.adn.A.weight",
                        "model.2.0.conv.weight", "model.2.0.adn.A.weight", "model.2.1.conv.unit0.conv.bias"}) {
    INFO(k);
    CHECK(has_key(ukeys, k));
  }
  CHECK_FALSE(has_key(ukeys, "model.2.1.conv.unit0.adn.A.weight"));  // the top level ends with a bare conv
  CHECK_FALSE(has_key(ukeys, "model.2.1.residual.weight"));          // in == out, stride 1: Identity
  // default instance norm has no affine parameters; the transposed conv is [in, out, k, k]
  CHECK_FALSE(has_key(ukeys, "model.0.conv.unit0.adn.N.weight"));
  const auto& top_up = unet.model().at<nn::Sequential<float>>(2).at<models::monai::Convolution<float>>(0);
  CHECK(dynamic_cast<nn::ConvTranspose2d<float>&>(top_up.conv()).weight.shape() == Shape{8, 2, 3, 3});
  models::MonaiUNet<float> plain({.spatial_dims = 3, .in_channels = 1, .out_channels = 2, .channels = {4, 8},
                                  .strides = {2}});
  const auto pkeys = state_keys(plain);
  CHECK(pkeys == std::vector<std::string>{"model.0.conv.weight", "model.0.conv.bias", "model.0.adn.A.weight",
                                          "model.1.submodule.conv.weight", "model.1.submodule.conv.bias",
                                          "model.1.submodule.adn.A.weight", "model.2.conv.weight",
                                          "model.2.conv.bias"});
}

TEST_CASE("MONAI blocks: ADN ordering, layer specs and convolution geometry", "[models][monai]") {
  using namespace models::monai;
  ADN<float> adn({.ordering = "ADN", .in_channels = 3, .act = LayerSpec{"prelu", {{"num_parameters", 3}}},
                  .norm = "BATCH", .norm_dim = 2, .dropout = 0.2});
  std::vector<std::string> names;
  for (const auto& [n, m] : adn.named_children()) names.push_back(n + ":" + m->type_name());
  CHECK(names == std::vector<std::string>{"A:PReLU", "D:Dropout2d", "N:BatchNorm2d"});
  CHECK(state_keys(adn) == std::vector<std::string>{"A.weight", "N.weight", "N.bias", "N.running_mean",
                                                    "N.running_var", "N.num_batches_tracked"});

  // stride 2 halves (ceil), the transposed conv with output_padding = stride - 1 doubles
  Convolution<float> down({.spatial_dims = 3, .in_channels = 2, .out_channels = 4, .strides = 2, .act = "relu"});
  Convolution<float> up({.spatial_dims = 3, .in_channels = 4, .out_channels = 2, .strides = {2, 1, 3},
                         .kernel_size = {3, 1, 5}, .conv_only = true, .is_transposed = true});
  const Var<float> x(randn<float>({1, 2, 6, 5, 4}));
  const Var<float> y = down(x);
  CHECK(y.shape() == Shape{1, 4, 3, 3, 2});
  CHECK(up(y).shape() == Shape{1, 2, 6, 3, 6});
  CHECK(up.adn() == nullptr);

  // layer norm over fixed trailing sizes, ELU / ReLU6 / SELU / CELU / swish forms
  Convolution<float> ln({.spatial_dims = 2, .in_channels = 1, .out_channels = 2,
                         .act = LayerSpec{"elu", {{"alpha", 0.5}}},
                         .norm = LayerSpec{"layer", {{"normalized_shape", {2, 4, 4}}}}});
  CHECK(ln(Var<float>(randn<float>({3, 1, 4, 4}))).shape() == Shape{3, 2, 4, 4});
  CHECK(state_keys(ln) ==
        std::vector<std::string>{"conv.weight", "conv.bias", "adn.N.weight", "adn.N.bias"});
  const Tensor<float> v = from_vector<float>({-2.0f, -0.5f, 0.0f, 1.0f, 7.0f}, {5});
  auto act = [&](const LayerSpec& spec) {
    ADN<float> a({.act = spec});
    return a(Var<float>(v)).value().to_vector();
  };
  CHECK(act("relu6") == std::vector<float>{0, 0, 0, 1, 6});
  CHECK(act(LayerSpec{"celu", {{"alpha", 2.0}}})[0] == Approx(2 * (std::exp(-1.0) - 1)));
  CHECK(act("selu")[3] == Approx(1.0507009873554804934));
  CHECK(act(LayerSpec{"swish", {{"alpha", 2.0}}})[3] == Approx(1 / (1 + std::exp(-2.0))));
  CHECK(act("memswish")[3] == Approx(1 / (1 + std::exp(-1.0))));
  CHECK(act(LayerSpec("")) == v.to_vector());  // MONAI's "" is Identity

  // residual unit: strided conv residual, 1x1 when only the channels change
  ResidualUnit<float> ru({.spatial_dims = 2, .in_channels = 2, .out_channels = 3, .strides = 2, .subunits = 3});
  CHECK(ru.residual().type_name() == "Conv2d");
  CHECK(dynamic_cast<nn::Conv2d<float>&>(ru.residual()).weight.shape() == Shape{3, 2, 3, 3});
  CHECK(ru(Var<float>(randn<float>({1, 2, 6, 6}))).shape() == Shape{1, 3, 3, 3});
  ResidualUnit<float> ru1({.spatial_dims = 2, .in_channels = 2, .out_channels = 3, .subunits = 0});
  CHECK(dynamic_cast<nn::Conv2d<float>&>(ru1.residual()).weight.shape() == Shape{3, 2, 1, 1});
  CHECK(ru1.conv.named_children().size() == 1);  // subunits = max(1, subunits)
}

TEST_CASE("BasicUNet and MonaiUNet reject bad options and inputs with clear messages", "[models][monai]") {
  using Catch::Contains;
  using B = models::BasicUNetOptions;
  using U = models::MonaiUNetOptions;
  REQUIRE_THROWS_WITH(models::BasicUNet<float>(B{.features = {4, 4, 4, 4, 4}}),
                      Contains("BasicUNet: features needs six values"));
  REQUIRE_THROWS_WITH(models::BasicUNet<float>(B{.spatial_dims = 4}), Contains("spatial_dims must be 1, 2 or 3"));
  REQUIRE_THROWS_WITH(models::BasicUNet<float>(B{.features = {4, 4, 4, 4, 4, 4}, .act = "mish"}),
                      Contains("BasicUNet: act 'mish': unsupported activation 'mish'"));
  REQUIRE_THROWS_WITH(models::BasicUNet<float>(B{.features = {4, 4, 4, 4, 4, 4}, .norm = "group"}),
                      Contains("norm 'group': missing required keyword 'num_groups'"));
  REQUIRE_THROWS_WITH(models::BasicUNet<float>(B{.features = {4, 4, 4, 4, 4, 4},
                                                 .act = LayerSpec{"leakyrelu", {{"slope", 0.1}}}}),
                      Contains("unexpected keyword 'slope' (leakyrelu takes negative_slope, inplace)"));
  REQUIRE_THROWS_WITH(models::BasicUNet<float>(B{.features = {4, 4, 4, 4, 4, 4},
                                                 .norm = LayerSpec{"instance", {{"affine", 1}}}}),
                      Contains("'affine' must be True or False, got 1"));
  REQUIRE_THROWS_WITH(models::BasicUNet<float>(B{.features = {4, 4, 4, 4, 4, 4}, .norm = "localresponse"}),
                      Contains("unsupported normalisation 'localresponse'"));
  REQUIRE_THROWS_WITH(models::BasicUNet<float>(B{.features = {4, 4, 4, 4, 4, 4}, .dropout = LayerSpec("alphadropout")}),
                      Contains("unsupported dropout 'alphadropout'"));
  REQUIRE_THROWS_WITH(models::BasicUNet<float>(B{.features = {4, 4, 4, 4, 4, 4}, .upsample = "bicubic"}),
                      Contains("BasicUNet: upsample must be deconv, deconvgroup, nontrainable or pixelshuffle"));
  REQUIRE_THROWS_WITH(models::BasicUNet<float>(B{.features = {4, 4, 4, 4, 4, 4}, .dropout = 1.5}),
                      Contains("p must be in [0, 1], got 1.5"));

  REQUIRE_THROWS_WITH(models::MonaiUNet<float>(U{.spatial_dims = 2, .in_channels = 1, .out_channels = 1,
                                                 .channels = {4}, .strides = {}}),
                      Contains("MonaiUNet: the length of channels should be no less than 2"));
  REQUIRE_THROWS_WITH(models::MonaiUNet<float>(U{.spatial_dims = 2, .in_channels = 1, .out_channels = 1,
                                                 .channels = {4, 8}, .strides = {2}, .adn_ordering = "NXA"}),
                      Contains("MonaiUNet: adn_ordering must be a string of 'N', 'D' and 'A', got 'NXA'"));
  REQUIRE_THROWS_WITH(models::MonaiUNet<float>(U{.spatial_dims = 2, .in_channels = 1, .out_channels = 1,
                                                 .channels = {4, 8, 8}, .strides = {2}}),
                      Contains("the length of strides (1) should equal len(channels) - 1 = 2"));
  REQUIRE_THROWS_WITH(models::MonaiUNet<float>(U{.spatial_dims = 2, .in_channels = 1, .out_channels = 1,
                                                 .channels = {4, 8}, .strides = {2}, .kernel_size = 4}),
                      Contains("MonaiUNet: Convolution: same padding is not available for kernel_size=(4, 4)"));
  {  // MONAI pads (k - 1) / 2 * dilation in real numbers: k = 2, dilation 2 pads 1 and keeps the size
    models::monai::Convolution<float> conv({.spatial_dims = 2, .in_channels = 1, .out_channels = 1, .kernel_size = 2,
                                            .dilation = 2, .conv_only = true});
    REQUIRE(conv(Var<float>(zeros<float>({1, 1, 6, 7}))).shape() == Shape{1, 1, 6, 7});
  }
  REQUIRE_THROWS_WITH(models::MonaiUNet<float>(U{.spatial_dims = 2, .in_channels = 1, .out_channels = 1,
                                                 .channels = {4, 8}, .strides = {{2, 2, 2}}}),
                      Contains("strides[0] needs 1 or 2 values"));

  models::BasicUNet<float> basic({.spatial_dims = 2, .features = {2, 2, 2, 2, 2, 2}});
  REQUIRE_THROWS_WITH(basic(Var<float>(zeros<float>({1, 1, 16, 15}))),
                      Contains("every spatial size must be at least 16"));
  REQUIRE_THROWS_WITH(basic(Var<float>(zeros<float>({1, 2, 16, 16}))), Contains("expected in_channels = 1"));
  REQUIRE_THROWS_WITH(basic(Var<float>(zeros<float>({1, 16, 16}))), Contains("expected 4 dims"));
  models::MonaiUNet<float> unet({.spatial_dims = 2, .in_channels = 1, .out_channels = 1, .channels = {2, 2, 2},
                                 .strides = {2, 3}});
  REQUIRE_THROWS_WITH(unet(Var<float>(zeros<float>({1, 1, 12, 9}))),
                      Contains("spatial size 9 must be divisible by the product of the strides (2 at level 1)"));
  REQUIRE_THROWS_WITH(unet(Var<float>(zeros<float>({1, 1, 12, 8}))),
                      Contains("spatial size 8 must be divisible by the product of the strides (6 at level 2)"));
  CHECK(unet(Var<float>(zeros<float>({1, 1, 12, 6}))).shape() == Shape{1, 1, 12, 6});
}

TEST_CASE("BasicUNet and MonaiUNet train: gradients reach every parameter and the loss falls", "[models][monai]") {
  const Var<float> x(randn<float>({2, 1, 16, 16}));
  const Var<float> target(randn<float>({2, 2, 16, 16}));
  auto train = [&](nn::Module<float>& net) {
    optim::Adam<float> opt(net.parameters(), {.lr = 1e-2});
    std::vector<double> losses;
    for (int step = 0; step < 8; ++step) {
      opt.zero_grad();
      Var<float> loss = mean(square(net(x) - target));
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
    CHECK(losses.back() < 0.9 * losses.front());
  };
  SECTION("BasicUNet, batch norm, nontrainable upsampling") {
    models::BasicUNet<float> net({.spatial_dims = 2, .features = {4, 4, 4, 4, 4, 4}, .norm = "batch",
                                  .upsample = "nontrainable"});
    train(net);
  }
  SECTION("MonaiUNet with residual units and dropout: train and eval differ") {
    models::MonaiUNet<float> net({.spatial_dims = 2, .in_channels = 1, .out_channels = 2, .channels = {4, 8, 8},
                                  .strides = {2, 2}, .num_res_units = 1, .dropout = 0.3});
    train(net);
    net.eval();
    const Tensor<float> a = net(x).value();
    CHECK(max_abs_diff(a, net(x).value()) == 0);  // eval is deterministic
    net.train();
    CHECK(max_abs_diff(a, net(x).value()) > 1e-4);
  }
}
