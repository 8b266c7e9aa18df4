// The brain-age slice networks against the reference (umgupta/2d-slice-set-networks@4c361a9: MRI2DSlice,
// MRI_LSTM and the 3D CNN Model; cases from tests/fixtures/gen_models_slice.py, which narrows the 2D / 3D
// encoder blocks with the reference's own block functions to keep the files small): state_dict keys,
// float and double outputs; the reference-size layouts; option and shape errors; train / eval; and
// a few Adam steps that reach every parameter.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "support/model_case.hpp"
#include "voxnn/autograd/grad_mode.hpp"
#include "voxnn/models/brain_age_cnn3d.hpp"
#include "voxnn/models/slice_lstm.hpp"
#include "voxnn/models/slice_set_net.hpp"
#include "voxnn/optim/adam.hpp"

using namespace voxnn;
using test::max_abs_diff;
using Catch::Contains;

namespace {

template <class Dict>
std::vector<std::string> keys_of(const Dict& dict) {
  std::vector<std::string> out;
  for (const auto& [k, v] : dict) out.push_back(k);
  return out;
}

// The double runs agree with the reference's float64 run to rounding (the weights and inputs are float32
// values, so both start from the same numbers); 1e-11 of the output's magnitude leaves room for summation order.
constexpr double kDoubleRel = 1e-11;

// The case's weights and the model's state dict name the same tensors, in the reference's order.
template <Real T, class M>
void require_reference_keys(const M& model, const test::ModelCase& c) {
  REQUIRE(keys_of(model.state_dict()) == keys_of(c.weights<T>()));
}

// Each case's C++ options, equal to its config (the reference keywords plus encoder_channels).
models::SliceSetNetOptions set_options(const std::string& variant) {
  if (variant == "mean")
    return {.attn_num_heads = 1, .attn_dim = 6, .agg_fn = "mean", .slice_dim = 1, .initialization = "default",
            .encoder_channels = {4, 6}};
  if (variant == "max") return {.attn_num_heads = 1, .attn_dim = 5, .agg_fn = "max", .slice_dim = 2, .encoder_channels = {3, 5}};
  if (variant == "attention")
    return {.attn_num_heads = 1, .attn_dim = 8, .attn_drop = true, .agg_fn = "attention", .slice_dim = 1,
            .encoder_channels = {4, 6}};
  if (variant == "heads4_dim3")
    return {.attn_num_heads = 4, .attn_dim = 2, .in_channel = 3, .slice_dim = 3, .encoder_channels = {4, 6}};
  if (variant == "posenc_dim2")
    return {.attn_num_heads = 2, .attn_dim = 3, .slice_dim = 2, .use_position_encoding = true, .encoder_channels = {4, 6}};
  REQUIRE(variant == "posenc_dim3");
  return {.attn_num_heads = 1, .attn_dim = 4, .agg_fn = "mean", .slice_dim = 3, .use_position_encoding = true,
          .encoder_channels = {3, 4}};
}

template <Real T>
void run_set_case(const std::string& variant) {
  const test::ModelCase c("slice_set_net." + variant);
  const models::SliceSetNetOptions o = set_options(variant);
  models::SliceSetNet<T> net(o);
  require_reference_keys<T>(net, c);
  c.load_into(net);
  NoGradGuard no_grad;
  const auto out = net(Var<T>(c.input<T>("x")));
  c.require_output("y_pred", out.y_pred.value(), kDoubleRel);
  const auto outputs = c.output_names();
  const bool has_attention = std::find(outputs.begin(), outputs.end(), "attention") != outputs.end();
  REQUIRE(has_attention == (o.agg_fn == "attention"));
  REQUIRE(out.attention.defined() == has_attention);
  if (has_attention) c.require_output("attention", out.attention.value(), kDoubleRel);
}

models::SliceLstmOptions lstm_options(const std::string& variant) {
  if (variant == "dim1") return {.lstm_feat_dim = 3, .lstm_latent_dim = 5, .slice_dim = 1, .encoder_channels = {3, 4, 4, 4, 5}};
  REQUIRE(variant == "dim3");
  return {.lstm_feat_dim = 2, .lstm_latent_dim = 6, .slice_dim = 3, .encoder_channels = {4, 6}};
}

template <Real T>
void run_lstm_case(const std::string& variant) {
  const test::ModelCase c("slice_lstm." + variant);
  models::SliceLstm<T> net(lstm_options(variant));
  require_reference_keys<T>(net, c);
  c.load_into(net);
  NoGradGuard no_grad;
  c.require_output("y_pred", net(Var<T>(c.input<T>("x"))).value(), kDoubleRel);
}

models::BrainAgeCnn3dOptions cnn3d_options(const std::string& variant) {
  if (variant == "small") return {.initialization = "default", .channels = {3, 4, 5}};
  REQUIRE(variant == "custom");
  return {.initialization = "custom", .channels = {4, 5}};
}

template <Real T>
void run_cnn3d_case(const std::string& variant) {
  const test::ModelCase c("brain_age_cnn3d." + variant);
  models::BrainAgeCnn3d<T> net(cnn3d_options(variant));
  require_reference_keys<T>(net, c);
  c.load_into(net);
  NoGradGuard no_grad;
  c.require_output("y_pred", net(Var<T>(c.input<T>("x"))).value(), kDoubleRel);
}

// A few Adam steps on an MSE loss lower it, and every parameter gets a non-zero gradient.
template <class M>
void require_trains(M& net, const Var<float>& x, const Tensor<float>& target) {
  optim::Adam<float> opt(net.parameters(), {.lr = 3e-3});
  auto loss_of = [&] {
    const Var<float> d = sub(net.forward(x), constant(target));
    return mean(mul(d, d));
  };
  const float first = loss_of().value().item();
  for (int step = 0; step < 8; ++step) {
    opt.zero_grad();
    Var<float> loss = loss_of();
    loss.backward();
    if (step == 0)
      for (const auto& [name, p] : net.named_parameters()) {
        INFO(name);
        REQUIRE(p.grad().defined());
        double norm = 0;
        for (float g : p.grad().to_vector()) norm += std::abs(g);
        REQUIRE(norm > 0);
      }
    opt.step();
  }
  REQUIRE(loss_of().value().item() < first);
}

}  // namespace

TEST_CASE("SliceSetNet matches brain_age_slice_set.py:MRI2DSlice", "[models][slice]") {
  for (const char* v : {"mean", "max", "attention", "heads4_dim3", "posenc_dim2", "posenc_dim3"}) {
    DYNAMIC_SECTION(v << ", float") { run_set_case<float>(v); }
    DYNAMIC_SECTION(v << ", double") { run_set_case<double>(v); }
  }
}

TEST_CASE("SliceLstm matches brain_age_slice_lstm.py:MRI_LSTM", "[models][slice]") {
  for (const char* v : {"dim1", "dim3"}) {
    DYNAMIC_SECTION(v << ", float") { run_lstm_case<float>(v); }
    DYNAMIC_SECTION(v << ", double") { run_lstm_case<double>(v); }
  }
}

TEST_CASE("BrainAgeCnn3d matches brain_age_3d.py:Model", "[models][slice]") {
  for (const char* v : {"small", "custom"}) {
    DYNAMIC_SECTION(v << ", float") { run_cnn3d_case<float>(v); }
    DYNAMIC_SECTION(v << ", double") { run_cnn3d_case<double>(v); }
  }
}

TEST_CASE("slice networks at the reference's widths have its layouts", "[models][slice]") {
  // parameter counts and keys of MRI2DSlice(1, 32, encoder_2d="encoder1"), MRI_LSTM(2, 128, 1) and Model()
  models::SliceSetNet<float> net;
  const auto keys = keys_of(net.state_dict());
  REQUIRE(net.num_parameters() == 1001889);
  REQUIRE(keys.size() == 27);
  REQUIRE(keys.front() == "encoder_2d.encoder_2d.0.0.weight");
  REQUIRE(keys[12] == "encoder_2d.post_position_encoding.1.weight");
  REQUIRE(keys[14] == "pooled_attention.S");
  REQUIRE(keys.back() == "regressor.1.bias");
  // the regressor's bias starts near the mean age, the attention's linear maps small
  REQUIRE(net.regressor.at<nn::Linear<float>>(1).bias.value().item() == Approx(62.68f));

  models::SliceSetNet<float> pe({.attn_num_heads = 4, .attn_dim = 8, .slice_dim = 2, .use_position_encoding = true});
  REQUIRE(pe.num_parameters() == 1022817);
  const auto sd = pe.state_dict();
  REQUIRE(sd.find("encoder_2d.position_encoder.position_encoding")->shape() == Shape{1, 64, 1, 109, 1});
  REQUIRE(sd.find("encoder_2d.position_encoder.ln.weight")->shape() == Shape{64, 1, 109, 1});
  REQUIRE(keys_of(sd)[12] == "encoder_2d.position_encoder.position_encoding");

  models::SliceLstm<float> lstm;
  REQUIRE(lstm.num_parameters() == 1070403);
  REQUIRE(keys_of(lstm.state_dict()) ==
          std::vector<std::string>{"encoder.0.0.weight", "encoder.0.0.bias", "encoder.1.0.weight", "encoder.1.0.bias",
                                   "encoder.2.0.weight", "encoder.2.0.bias", "encoder.3.0.weight", "encoder.3.0.bias",
                                   "encoder.4.0.weight", "encoder.4.0.bias", "post_proc.0.weight", "post_proc.0.bias",
                                   "post_proc.5.weight", "post_proc.5.bias", "lstm.weight_ih_l0", "lstm.weight_hh_l0",
                                   "lstm.bias_ih_l0", "lstm.bias_hh_l0", "lstm_post.weight", "lstm_post.bias",
                                   "regressor.1.weight", "regressor.1.bias"});

  models::BrainAgeCnn3d<float> cnn;
  REQUIRE(cnn.num_parameters() == 2948801);
  REQUIRE(keys_of(cnn.state_dict()) ==
          std::vector<std::string>{"conv1.0.weight", "conv1.0.bias", "conv2.0.weight", "conv2.0.bias", "conv3.0.weight",
                                   "conv3.0.bias", "conv4.0.weight", "conv4.0.bias", "conv5.0.weight", "conv5.0.bias",
                                   "conv6.0.weight", "conv6.0.bias", "output.weight", "output.bias"});
  REQUIRE(cnn.output.bias.value().item() == Approx(62.68f));
}

TEST_CASE("slice networks: initialisation is the reference's and reproducible from the seed", "[models][slice]") {
  models::SliceSetNet<float> a({.attn_dim = 4, .encoder_channels = {4, 4}, .seed = 3});
  models::SliceSetNet<float> b({.attn_dim = 4, .encoder_channels = {4, 4}, .seed = 3});
  models::SliceSetNet<float> c({.attn_dim = 4, .encoder_channels = {4, 4}, .seed = 4});
  REQUIRE(max_abs_diff(a.attn_post.weight.value(), b.attn_post.weight.value()) == 0);
  REQUIRE(max_abs_diff(a.attn_post.weight.value(), c.attn_post.weight.value()) > 0);
  // without a seed, manual_seed decides, and two models in a row differ
  manual_seed(8);
  models::SliceSetNet<float> u({.attn_dim = 4, .encoder_channels = {4, 4}});
  models::SliceSetNet<float> v({.attn_dim = 4, .encoder_channels = {4, 4}});
  manual_seed(8);
  models::SliceSetNet<float> w({.attn_dim = 4, .encoder_channels = {4, 4}});
  REQUIRE(max_abs_diff(u.attn_post.weight.value(), w.attn_post.weight.value()) == 0);
  REQUIRE(max_abs_diff(u.attn_post.weight.value(), v.attn_post.weight.value()) > 0);
  // custom: conv biases 0, linear maps N(0, 0.01) with zero bias
  auto& conv = a.encoder_2d.encoder_2d.at<nn::Sequential<float>>(0).at<nn::Conv2d<float>>(0);
  for (float v : conv.bias.value().to_vector()) REQUIRE(v == 0.0f);
  for (float v : a.attn_post.bias.value().to_vector()) REQUIRE(v == 0.0f);
  for (float v : a.attn_post.weight.value().to_vector()) REQUIRE(std::abs(v) < 0.06f);
  // default: PyTorch's uniform biases
  models::SliceSetNet<float> d({.attn_dim = 4, .initialization = "default", .encoder_channels = {4, 4}});
  double sum = 0;
  for (float v : d.attn_post.bias.value().to_vector()) sum += std::abs(v);
  REQUIRE(sum > 0);
}

TEST_CASE("slice networks: option errors", "[models][slice]") {
  using O = models::SliceSetNetOptions;
  auto make = [](O o) { models::SliceSetNet<float> net(o); };
  REQUIRE_THROWS_WITH(make({.agg_fn = "sum"}), Contains("SliceSetNet: agg_fn 'sum' is invalid"));
  REQUIRE_THROWS_WITH(make({.slice_dim = 4}), Contains("SliceSetNet: slice_dim 4 is invalid"));
  REQUIRE_THROWS_WITH(make({.encoder_2d = "resnet18"}), Contains("ResNet slice encoders"));
  REQUIRE_THROWS_WITH(make({.encoder_2d = ""}), Contains("encoder_2d '' is invalid"));
  REQUIRE_THROWS_WITH(make({.attn_num_heads = 0}), Contains("attn_num_heads 0 and attn_dim 32 must be positive"));
  REQUIRE_THROWS_WITH(make({.initialization = "xavier"}), Contains("initialization 'xavier' is invalid"));
  REQUIRE_THROWS_WITH(make({.in_channel = 92}), Contains("in_channel 92 must be in [1, 91]"));
  REQUIRE_THROWS_WITH(make({.encoder_channels = {}}), Contains("encoder_channels must name at least one block"));
  REQUIRE_THROWS_WITH(models::SliceLstm<float>({.lstm_latent_dim = 0}), Contains("SliceLstm: lstm_feat_dim 2 and lstm_latent_dim 0"));
  REQUIRE_THROWS_WITH(models::SliceLstm<float>({.slice_dim = 0}), Contains("SliceLstm: slice_dim 0 is invalid"));
  REQUIRE_THROWS_WITH(models::BrainAgeCnn3d<float>({.initialization = "x"}), Contains("BrainAgeCnn3d: initialization 'x'"));
  REQUIRE_THROWS_WITH(models::BrainAgeCnn3d<float>({.channels = {1, 2, 3, 4, 5, 6}}), Contains("1 to 5 blocks"));
}

TEST_CASE("slice networks: input shape errors", "[models][slice]") {
  NoGradGuard no_grad;
  models::SliceSetNet<float> net({.attn_dim = 2, .slice_dim = 1, .encoder_channels = {2, 2}, .num_slices = 4});
  REQUIRE(net(Var<float>(zeros<float>({1, 1, 4, 12, 8}))).y_pred.shape() == Shape{1, 1});
  REQUIRE_THROWS_WITH(net(Var<float>(zeros<float>({1, 2, 4, 12, 8}))), Contains("SliceSetNet: input [1, 2, 4, 12, 8] must be (B, 1, H, W, D)"));
  REQUIRE_THROWS_WITH(net(Var<float>(zeros<float>({1, 1, 3, 12, 8}))), Contains("has 3 slices along slice_dim 1; the model uses the first 4"));
  REQUIRE_THROWS_WITH(net(Var<float>(zeros<float>({1, 1, 4, 24, 8}))),
                      Contains("slices of 24 x 8 encode to 6 x 2 after 2 max-pools, which the average pool [3, 2] does "
                               "not reduce to 1 x 1; slices must be 12..23 x 8..15"));
  models::SliceLstm<float> lstm({.lstm_latent_dim = 3, .slice_dim = 2, .encoder_channels = {2}});
  REQUIRE(lstm(Var<float>(zeros<float>({2, 1, 4, 5, 5}))).shape() == Shape{2, 1});
  REQUIRE_THROWS_WITH(lstm(Var<float>(zeros<float>({2, 1, 4, 5, 8}))), Contains("SliceLstm: slices of 4 x 8 encode to 2 x 4"));
  models::BrainAgeCnn3d<float> cnn({.channels = {2}});
  REQUIRE_THROWS_WITH(cnn(Var<float>(zeros<float>({1, 1, 4, 5, 4}))), Contains("BrainAgeCnn3d: input [1, 1, 4, 5, 4] is too small"));
}

TEST_CASE("SliceSetNet: more slices than num_slices are ignored, as the reference's collation", "[models][slice]") {
  // the "attention" case's input has 92 slices along H; the reference uses the first 91
  const test::ModelCase c("slice_set_net.attention");
  models::SliceSetNet<float> net(set_options("attention"));
  c.load_into(net);
  const Tensor<float> x = c.input<float>("x");
  REQUIRE(x.size(2) == 92);
  NoGradGuard no_grad;
  const auto out = net(Var<float>(x));
  REQUIRE(out.attention.shape() == Shape{1, 1, 91});
  float total = 0;
  for (float a : out.attention.value().to_vector()) total += a;
  REQUIRE(total == Approx(1.0f).epsilon(1e-5));
}

TEST_CASE("slice networks: dropout acts in train mode only", "[models][slice]") {
  const test::ModelCase c("slice_set_net.attention");  // attn_drop: Dropout(0.5) in the encoder
  models::SliceSetNet<float> net(set_options("attention"));
  c.load_into(net);
  const Var<float> x(c.input<float>("x"));
  NoGradGuard no_grad;
  const Tensor<float> eval_out = net(x).y_pred.value();
  REQUIRE(max_abs_diff(eval_out, net(x).y_pred.value()) == 0);
  net.train();
  REQUIRE(max_abs_diff(eval_out, net(x).y_pred.value()) > 1e-4);

  const test::ModelCase l("slice_lstm.dim3");  // MRI_LSTM always has Dropout(0.5) in post_proc
  models::SliceLstm<float> lstm(lstm_options("dim3"));
  l.load_into(lstm);
  const Var<float> y(l.input<float>("x"));
  const Tensor<float> lstm_eval = lstm(y).value();
  lstm.train();
  REQUIRE(max_abs_diff(lstm_eval, lstm(y).value()) > 1e-5);
}

TEST_CASE("slice networks train: Adam lowers an MSE loss, gradients reach every parameter", "[models][slice]") {
  Generator gen(5);
  const Tensor<float> target = full<float>(Shape{2, 1}, 60.0f);
  SECTION("SliceSetNet, attention with position encoding") {
    models::SliceSetNet<float> net({.attn_num_heads = 2, .attn_dim = 2, .slice_dim = 3, .use_position_encoding = true,
                                    .encoder_channels = {3}, .num_slices = 5, .seed = 1});
    require_trains(net, Var<float>(randn<float>({2, 1, 4, 6, 5}, gen)), target);
  }
  SECTION("SliceSetNet, max") {
    models::SliceSetNet<float> net({.attn_dim = 3, .agg_fn = "max", .slice_dim = 2, .encoder_channels = {3},
                                    .num_slices = 5, .seed = 2});
    require_trains(net, Var<float>(randn<float>({2, 1, 4, 5, 5}, gen)), target);
  }
  SECTION("SliceLstm") {
    models::SliceLstm<float> net({.lstm_feat_dim = 2, .lstm_latent_dim = 3, .slice_dim = 1, .encoder_channels = {3}, .seed = 3});
    net.eval();  // the reference's Dropout(0.5) would make single steps noisy
    require_trains(net, Var<float>(randn<float>({2, 1, 3, 6, 4}, gen)), target);
  }
  SECTION("BrainAgeCnn3d") {
    models::BrainAgeCnn3d<float> net({.channels = {2}, .seed = 4});
    require_trains(net, Var<float>(randn<float>({2, 1, 4, 6, 4}, gen)), full<float>(Shape{2, 1, 1, 1, 1}, 60.0f));
  }
}
