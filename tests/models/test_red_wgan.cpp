// RED-WGAN generator and critic against the reference (Deep-Imaging-Group/RED-WGAN@79718eb model5.py,
// cases from tests/fixtures/gen_models_gan.py), and the adversarial losses of losses/adversarial.hpp:
// the WGAN-GP penalty and its gradient with respect to the critic's parameters against PyTorch's double
// backward, gradcheck in double, and a few WGAN-GP training steps.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "support/model_case.hpp"
#include "voxnn/autograd/gradcheck.hpp"
#include "voxnn/losses/adversarial.hpp"
#include "voxnn/losses/regression.hpp"
#include "voxnn/models/red_wgan.hpp"
#include "voxnn/optim/adam.hpp"

using namespace voxnn;
using test::max_abs_diff;
using Catch::Contains;

namespace {

template <class M, class StateDictT>
std::vector<std::string> keys_of(const StateDictT& dict) {
  std::vector<std::string> out;
  for (const auto& [k, v] : dict) out.push_back(k);
  return out;
}

template <Real T, class M>
void require_reference_keys(const M& model, const test::ModelCase& c) {
  REQUIRE(keys_of<M>(model.state_dict()) == keys_of<M>(c.weights<T>()));
}

template <Real T>
void run_generator_case(const std::string& variant, std::array<int64_t, 4> features) {
  const test::ModelCase c("red_wgan_generator." + variant);
  REQUIRE(c.config_json() == "{}");
  models::RedWganGenerator<T> net({.features = features});
  require_reference_keys<T>(net, c);
  c.load_into(net);
  NoGradGuard no_grad;
  const Var<T> out = net(Var<T>(c.input<T>("input")));
  c.require_output("output", out.value());
}

// The critic's parameters as the Vars the module holds, in named_parameters() order.
template <Real T>
std::vector<Var<T>*> critic_parameter_slots(models::RedWganCritic<T>& critic) {
  std::vector<Var<T>*> out;
  for (nn::Sequential<T>* s : {&critic.conv1, &critic.conv2, &critic.conv3}) {
    auto& conv = s->template at<nn::Conv3d<T>>(0);
    out.push_back(&conv.weight);
    out.push_back(&conv.bias);
  }
  out.push_back(&critic.fc.weight);
  out.push_back(&critic.fc.bias);
  return out;
}

}  // namespace

TEST_CASE("RedWganGenerator matches model5.py:GeneratorNet", "[models][gan]") {
  SECTION("6 x 32 x 32 patch, float") { run_generator_case<float>("patch", {4, 8, 8, 16}); }
  SECTION("6 x 32 x 32 patch, double") { run_generator_case<double>("patch", {4, 8, 8, 16}); }
  SECTION("batch of 2, odd sizes, float") { run_generator_case<float>("batch2", {3, 4, 6, 8}); }
  SECTION("batch of 2, odd sizes, double") { run_generator_case<double>("batch2", {3, 4, 6, 8}); }
}

TEST_CASE("RedWganGenerator at the reference's widths has its layout", "[models][gan]") {
  models::RedWganGenerator<float> net;
  const auto sd = net.state_dict();
  REQUIRE(sd.size() == 51);
  REQUIRE(net.num_parameters() == 2326273);  // GeneratorNet().parameters() in PyTorch
  REQUIRE(sd.find("conv4.0.weight")->shape() == Shape{256, 128, 3, 3, 3});
  REQUIRE(sd.find("deConv1_1.weight")->shape() == Shape{128, 256, 3, 3, 3});
  REQUIRE(sd.find("deConv3.0.num_batches_tracked")->shape() == Shape{});
  REQUIRE(sd.find("deConv4_1.bias")->shape() == Shape{1});
  REQUIRE(keys_of<int>(sd).back() == "deConv4_1.bias");

  models::RedWganCritic<float> critic;
  REQUIRE(keys_of<int>(critic.state_dict()) ==
          std::vector<std::string>{"conv1.0.weight", "conv1.0.bias", "conv2.0.weight", "conv2.0.bias",
                                   "conv3.0.weight", "conv3.0.bias", "fc.weight", "fc.bias"});
  REQUIRE(critic.num_parameters() == 1064001);  // DiscriminatorNet(): fc over 128 x 6 x 32 x 32
}

TEST_CASE("RedWganGenerator: train mode uses batch statistics, the output is non-negative", "[models][gan]") {
  const test::ModelCase c("red_wgan_generator.batch2");
  models::RedWganGenerator<float> net({.features = {3, 4, 6, 8}});
  c.load_into(net);
  const Var<float> x(c.input<float>("input"));
  NoGradGuard no_grad;
  const Tensor<float> eval_out = net(x).value();
  net.train();
  const Tensor<float> train_out = net(x).value();
  REQUIRE(max_abs_diff(eval_out, train_out) > 1e-3);
  for (float v : train_out.to_vector()) REQUIRE(v >= 0.0f);
  REQUIRE(net.conv1.at<nn::BatchNorm3d<float>>(1).num_batches_tracked.item() == 8.0f);  // 7 loaded + 1
}

TEST_CASE("RedWganCritic matches model5.py:DiscriminatorNet", "[models][gan]") {
  const test::ModelCase c("red_wgan_critic.patch");
  const models::RedWganCriticOptions o{.patch_size = {2, 8, 8}, .features = {4, 6, 8}};
  {
    models::RedWganCritic<float> critic(o);
    require_reference_keys<float>(critic, c);
    c.load_into(critic);
    const Var<float> s = critic(Var<float>(c.input<float>("input")));
    REQUIRE(s.shape() == Shape{3, 1});
    c.require_output("output", s.value());
  }
  {
    models::RedWganCritic<double> critic(o);
    c.load_into(critic);
    c.require_output("output", critic(Var<double>(c.input<double>("input"))).value());
  }
}

TEST_CASE("gradient_penalty and its critic-parameter gradient match PyTorch's double backward", "[models][gan]") {
  const test::ModelCase c("red_wgan_gp.patch");
  const models::RedWganCriticOptions o{.patch_size = {2, 8, 8}, .features = {4, 6, 8}};
  auto check = [&]<Real T>(T) {
    models::RedWganCritic<T> critic(o);
    c.load_into(critic);
    const Var<T> real(c.input<T>("real")), fake(c.input<T>("fake"));
    const Var<T> penalty = losses::gradient_penalty(critic, real, fake, c.input<T>("eps"), 10.0);
    REQUIRE(penalty.dim() == 0);
    c.require_output("penalty", penalty.value());
    const auto named = critic.named_parameters();
    std::vector<Var<T>> params;
    for (const auto& [name, p] : named) params.push_back(p);
    const auto grads = grad<T, Cpu>({penalty}, params, {}, false, false, true);
    for (std::size_t i = 0; i < named.size(); ++i) {
      const Tensor<T> g = grads[i].defined() ? grads[i].value() : zeros<T>(named[i].second.shape());
      c.require_output("grad." + named[i].first, g);
    }
  };
  SECTION("float") { check(0.0f); }
  SECTION("double") { check(0.0); }
}

TEST_CASE("gradient_penalty passes gradcheck in double with respect to the critic's parameters", "[models][gan]") {
  models::RedWganCritic<double> critic({.patch_size = {1, 3, 3}, .features = {2, 3, 2}});
  Generator gen(7);
  const Var<double> real(rand<double>(Shape{2, 1, 1, 3, 3}, gen, 0.0, 2.0));
  const Var<double> fake(randn<double>(Shape{2, 1, 1, 3, 3}, gen));
  const Tensor<double> eps = from_vector<double>({0.3, 0.8}, Shape{2});
  std::vector<Var<double>*> slots = critic_parameter_slots(critic);
  std::vector<Var<double>> start;
  for (Var<double>* p : slots) start.push_back(*p);
  const GradcheckFn f = [&](const std::vector<Var<double>>& xs) {
    EnableGradGuard with_grad;  // the penalty takes a gradient itself, also under gradcheck's NoGradGuard
    for (std::size_t i = 0; i < slots.size(); ++i) *slots[i] = xs[i];
    return losses::gradient_penalty(critic, real, fake, eps, 10.0);
  };
  const GradcheckResult r = gradcheck(f, start, {.eps = 1e-6, .atol = 1e-6, .rtol = 1e-4});
  INFO(r.message);
  REQUIRE(r.ok);
}

TEST_CASE("gradient_penalty draws eps per sample and checks its arguments", "[models][gan]") {
  models::RedWganCritic<float> critic({.patch_size = {1, 4, 4}, .features = {2, 2, 2}});
  const Var<float> real(ones<float>(Shape{3, 1, 1, 4, 4})), fake(zeros<float>(Shape{3, 1, 1, 4, 4}));
  Generator a(5), b(5);
  const float pa = losses::gradient_penalty(critic, real, fake, a).value().item();
  const float pb = losses::gradient_penalty(critic, real, fake, b).value().item();
  REQUIRE(pa == pb);
  Generator c(5);
  const Tensor<float> eps = rand<float>(Shape{3}, c);
  REQUIRE(losses::gradient_penalty(critic, real, fake, eps).value().item() == pa);
  REQUIRE(losses::gradient_penalty(critic, real, fake, eps, 1.0).value().item() == Approx(pa / 10).epsilon(1e-5));

  REQUIRE_THROWS_WITH(losses::gradient_penalty(critic, real, Var<float>(zeros<float>(Shape{2, 1, 1, 4, 4})), eps),
                      Contains("gradient_penalty") && Contains("same shape"));
  REQUIRE_THROWS_WITH(losses::gradient_penalty(critic, real, fake, zeros<float>(Shape{2})),
                      Contains("one weight per sample (3)"));
}

TEST_CASE("GAN losses: BCE, least squares and Wasserstein", "[models][gan]") {
  const std::vector<double> x{0.5, -1.0, 2.0, 0.0};
  const Var<double> logits(from_vector<double>(x, Shape{2, 2}), true);
  double bce_real = 0, bce_fake = 0, ls_real = 0, ls_fake = 0, m = 0;
  for (double v : x) {
    bce_real += std::log1p(std::exp(-v)) / 4;
    bce_fake += std::log1p(std::exp(v)) / 4;
    ls_real += (v - 1) * (v - 1) / 4;
    ls_fake += v * v / 4;
    m += v / 4;
  }
  REQUIRE(losses::gan_bce_loss(logits, true).value().item() == Approx(bce_real).epsilon(1e-12));
  REQUIRE(losses::gan_bce_loss(logits, false).value().item() == Approx(bce_fake).epsilon(1e-12));
  REQUIRE(losses::lsgan_loss(logits, true).value().item() == Approx(ls_real).epsilon(1e-12));
  REQUIRE(losses::lsgan_loss(logits, false).value().item() == Approx(ls_fake).epsilon(1e-12));
  const Var<double> real(from_vector<double>({1.0, 3.0}, Shape{2, 1}), true);
  REQUIRE(losses::wgan_critic_loss(real, logits).value().item() == Approx(m - 2.0).epsilon(1e-12));
  REQUIRE(losses::wgan_generator_loss(logits).value().item() == Approx(-m).epsilon(1e-12));

  // d/dx of the BCE against ones: (sigmoid(x) - 1) / n
  losses::gan_bce_loss(logits, true).backward();
  const auto g = logits.grad().to_vector();
  for (std::size_t i = 0; i < x.size(); ++i) REQUIRE(g[i] == Approx((1 / (1 + std::exp(-x[i])) - 1) / 4));
  losses::wgan_critic_loss(real, logits).backward();
  REQUIRE(real.grad().to_vector() == std::vector<double>{-0.5, -0.5});

  REQUIRE_THROWS_WITH(losses::gan_bce_loss(Var<double>(zeros<double>(Shape{0})), true), Contains("gan_bce_loss"));
}

TEST_CASE("WGAN-GP steps on a tiny denoising problem run and move both networks", "[models][gan]") {
  Generator gen(11);
  models::RedWganGenerator<float> g({.features = {3, 4, 4, 6}});
  models::RedWganCritic<float> critic({.patch_size = {2, 6, 6}, .features = {3, 4, 4}});
  models::red_wgan_init_(g, gen);
  models::red_wgan_init_(critic, gen);
  const Tensor<float> clean = rand<float>(Shape{4, 1, 2, 6, 6}, gen, 0.2f, 1.0f);
  const Tensor<float> noisy = ops::add(clean, randn<float>(clean.shape(), gen, 0.0f, 0.2f));
  optim::Adam<float> opt_g(g.parameters(), {.lr = 1e-3, .betas = {0.5, 0.9}});
  optim::Adam<float> opt_d(critic.parameters(), {.lr = 1e-3, .betas = {0.5, 0.9}});
  const Tensor<float> critic_start = critic.fc.weight.value().clone();
  const Tensor<float> g_start = g.deConv4_1.weight.value().clone();
  const Var<float> x(noisy), y(clean);
  float first_mse = 0, last_mse = 0;
  for (int step = 0; step < 4; ++step) {
    for (int k = 0; k < 2; ++k) {  // critic steps (d_iter = 5 in the reference)
      opt_d.zero_grad();
      Var<float> fake;
      {
        NoGradGuard no_grad;
        fake = g(x);
      }
      const Var<float> d_loss = add(losses::wgan_critic_loss(critic(y), critic(fake)),
                                    losses::gradient_penalty(critic, y, fake, gen, 10.0));
      REQUIRE(std::isfinite(d_loss.value().item()));
      d_loss.backward();
      for (const auto& p : critic.parameters()) REQUIRE(p.grad().defined());
      opt_d.step();
    }
    opt_g.zero_grad();
    const Var<float> out = g(x);
    const Var<float> mse = losses::mse_loss(out, y);
    const Var<float> g_loss = add(mse, mul(losses::wgan_generator_loss(critic(out)), 1e-3f));
    g_loss.backward();
    opt_g.step();
    (step == 0 ? first_mse : last_mse) = mse.value().item();
  }
  REQUIRE(max_abs_diff(critic.fc.weight.value(), critic_start) > 0);
  REQUIRE(max_abs_diff(g.deConv4_1.weight.value(), g_start) > 0);
  REQUIRE(std::isfinite(last_mse));
  REQUIRE(last_mse < first_mse);
}

TEST_CASE("red_wgan_init_ is the reference's kaiming initialisation, reproducible", "[models][gan]") {
  models::RedWganCritic<double> a({.patch_size = {1, 4, 4}, .features = {4, 4, 4}}), b(a.options);
  Generator g1(3), g2(3);
  models::red_wgan_init_(a, g1);
  models::red_wgan_init_(b, g2);
  REQUIRE(a.conv2.at<nn::Conv3d<double>>(0).weight.value().to_vector() ==
          b.conv2.at<nn::Conv3d<double>>(0).weight.value().to_vector());
  for (double v : a.conv2.at<nn::Conv3d<double>>(0).bias.value().to_vector()) REQUIRE(v == 0.0);
  models::RedWganGenerator<double> net({.features = {2, 2, 2, 2}});
  models::red_wgan_init_(net, g1);
  for (double v : net.deConv2.at<nn::BatchNorm3d<double>>(0).weight.value().to_vector()) REQUIRE(v == 1.0);
}

TEST_CASE("RED-WGAN options and shapes are checked", "[models][gan]") {
  REQUIRE_THROWS_WITH(models::RedWganGenerator<float>({.features = {4, 0, 8, 8}}),
                      Contains("RedWganGenerator") && Contains("features[1] = 0"));
  REQUIRE_THROWS_WITH(models::RedWganCritic<float>({.patch_size = {6, -1, 32}}),
                      Contains("RedWganCritic") && Contains("patch_size[1] = -1"));
  models::RedWganGenerator<float> g({.features = {2, 2, 2, 2}});
  REQUIRE_THROWS_WITH(g(Var<float>(zeros<float>(Shape{1, 2, 4, 4, 4}))),
                      Contains("RedWganGenerator: input has shape [1, 2, 4, 4, 4]"));
  REQUIRE_THROWS_WITH(g(Var<float>(zeros<float>(Shape{1, 4, 4, 4}))), Contains("(N, 1, D, H, W)"));
  models::RedWganCritic<float> critic({.patch_size = {2, 4, 4}, .features = {2, 2, 2}});
  REQUIRE_THROWS_WITH(critic(Var<float>(zeros<float>(Shape{1, 1, 2, 4, 5}))),
                      Contains("RedWganCritic") && Contains("patch_size [2, 4, 4]"));
}
