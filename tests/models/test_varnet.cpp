// VarNet and its parts against facebookresearch/fastMRI@91f2df4 (fastmri 0.3.0) on the cases of
// tests/fixtures/gen_models_varnet.py: state_dict keys in fastMRI's order, weights loaded by name,
// outputs in float and double for random / equispaced (float) / shared masks, num_low_frequencies,
// mask_center off, a fully sampled mask, and fastMRI's Unet alone on odd sizes (reflect pad). VarNet3d
// against the generator's PyTorch mirror. Plus: option and shape errors, the centre band rules, the
// fully sampled sanity case (zero regularisers give the zero-filled image, the true magnitude on
// simulated data), and a few Adam steps on an L1 loss lowering it with gradients reaching every
// parameter (dc_weight included), in 2-D and 3-D.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/model_case.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/data/kspace_mask.hpp"
#include "voxnn/data/mri_simulation.hpp"
#include "voxnn/data/phantom.hpp"
#include "voxnn/losses/regression.hpp"
#include "voxnn/models/varnet.hpp"
#include "voxnn/optim/adam.hpp"

namespace {

using namespace voxnn;
using Catch::Contains;
using models::VarNet;
using models::VarNet3d;
using models::VarNetOptions;

template <class Dict>
std::vector<std::string> keys_of(const Dict& d) {
  std::vector<std::string> out;
  for (const auto& [k, v] : d) out.push_back(k);
  return out;
}

// The case's weights are the reference's state_dict in its order; no buffers here.
template <class Net>
void check_keys(const Net& net, const test::ModelCase& c) {
  std::vector<std::string> file_keys;
  for (const auto& e : c.file().entries())
    if (e.name.starts_with("weights.")) file_keys.push_back(e.name.substr(8));
  CHECK(keys_of(net.state_dict()) == file_keys);
  CHECK(keys_of(net.named_parameters()) == file_keys);
}

struct VarNetCase {
  const char* name;
  VarNetOptions options;
};

std::vector<VarNetCase> cases_2d() {
  return {
      {"random", {.num_cascades = 2, .sens_chans = 2, .sens_pools = 2, .chans = 4, .pools = 2}},
      {"equispaced", {.num_cascades = 2, .sens_chans = 2, .sens_pools = 3, .chans = 2, .pools = 3}},
      {"num_low", {.num_cascades = 3, .sens_chans = 3, .sens_pools = 1, .chans = 3, .pools = 1, .mask_center = true}},
      {"no_mask_center",
       {.num_cascades = 1, .sens_chans = 2, .sens_pools = 2, .chans = 3, .pools = 2, .mask_center = false}},
      {"full", {.num_cascades = 1, .sens_chans = 2, .sens_pools = 1, .chans = 2, .pools = 2}},
  };
}

std::vector<VarNetCase> cases_3d() {
  return {
      {"plane", {.num_cascades = 2, .sens_chans = 2, .sens_pools = 1, .chans = 2, .pools = 2}},
      {"column", {.num_cascades = 1, .sens_chans = 2, .sens_pools = 1, .chans = 2, .pools = 1}},
  };
}

template <class Net, Real T>
Var<T> run_net(Net& net, const test::ModelCase& c) {
  const Var<T> k(c.input<T>("masked_kspace"));
  std::optional<int64_t> num_low;
  const auto inputs = c.input_names();
  if (std::find(inputs.begin(), inputs.end(), "num_low_frequencies") != inputs.end())
    num_low = static_cast<int64_t>(c.input<double>("num_low_frequencies").item());
  if (c.file().entry("input.mask").dtype == io::DType::BOOL) return net(k, c.input<bool>("mask"), num_low);
  return net(k, c.input<T>("mask"), num_low);  // fastMRI's float mask
}

template <int N, Real T>
void run_varnet_case(const std::string& prefix, const VarNetCase& vc) {
  const test::ModelCase c(prefix + vc.name);
  models::VarNetNd<N, T> net(vc.options);
  check_keys(net, c);
  c.load_into(net);
  const Var<T> out = run_net<models::VarNetNd<N, T>, T>(net, c);
  c.require_output("output", out.value());
}

template <int N, Real T>
void run_unet_case(const std::string& name, const models::FastMriUnetOptions& o) {
  const test::ModelCase c(name);
  models::FastMriUnetNd<N, T> net(o);
  check_keys(net, c);
  c.load_into(net);
  c.require_output("output", net(Var<T>(c.input<T>("image"))).value());
}

// Simulated multi-coil data: the modified Shepp-Logan phantom times smooth coil maps, fft2c.
struct Simulated {
  Tensor<float> image;   // (1, H, W) magnitude
  Tensor<float> kspace;  // (1, coils, H, W, 2), fully sampled
};
Simulated simulate(int64_t h, int64_t w, int64_t coils) {
  const Tensor<float> phantom = data::ellipse_phantom<float>(h, w, data::shepp_logan_ellipses());
  const Tensor<float> maps = data::coil_sensitivity_maps<float>({.shape = {h, w}, .num_coils = coils});
  const Tensor<float> k = data::multicoil_kspace(data::to_complex(phantom), maps);
  return {phantom.reshape(Shape{1, h, w}), k.reshape(Shape{1, coils, h, w, 2})};
}

// A regulariser that returns zeros: the cascade is then the data-consistency step alone.
template <Real T>
class ZeroRegulariser : public nn::Module<T> {
 public:
  Var<T> forward(const Var<T>& x) override { return mul(x, T(0)); }
  std::string type_name() const override { return "ZeroRegulariser"; }
};

// Every parameter gets a non-zero gradient, except the first cascade's dc_weight: that cascade
// receives k = k0, so its data-consistency term and the gradient of dc_weight are exactly zero (in
// fastMRI too); the second cascade's dc_weight does learn.
template <int N>
void check_gradients(const models::VarNetNd<N, float>& net) {
  for (const auto& [name, p] : net.named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    double s = 0;
    for (float g : p.grad().to_vector()) s += std::abs(g);
    if (name == "cascades.0.dc_weight") CHECK(s == 0);
    else CHECK(s > 0);
  }
  CHECK(net.cascade(1).dc_weight.grad().item() != 0.0f);
}

}  // namespace

TEST_CASE("VarNet matches fastMRI's VarNet", "[models][varnet]") {
  for (const VarNetCase& vc : cases_2d()) {
    DYNAMIC_SECTION(vc.name << " float") { run_varnet_case<2, float>("varnet.", vc); }
    DYNAMIC_SECTION(vc.name << " double") { run_varnet_case<2, double>("varnet.", vc); }
  }
}

TEST_CASE("FastMriUnet matches fastMRI's Unet on odd sizes", "[models][varnet]") {
  const models::FastMriUnetOptions o{.in_chans = 2, .out_chans = 3, .chans = 3, .num_pool_layers = 2, .drop_prob = 0.1};
  run_unet_case<2, float>("fastmri_unet.odd", o);
  run_unet_case<2, double>("fastmri_unet.odd", o);
}

TEST_CASE("VarNet3d matches its PyTorch mirror", "[models][varnet]") {
  for (const VarNetCase& vc : cases_3d()) {
    DYNAMIC_SECTION(vc.name << " float") { run_varnet_case<3, float>("varnet3d.", vc); }
    DYNAMIC_SECTION(vc.name << " double") { run_varnet_case<3, double>("varnet3d.", vc); }
  }
  const models::FastMriUnetOptions o{.in_chans = 2, .out_chans = 3, .chans = 2, .num_pool_layers = 2};
  run_unet_case<3, float>("varnet3d.unet_odd", o);
  run_unet_case<3, double>("varnet3d.unet_odd", o);
}

TEST_CASE("VarNet: parameter layout and defaults", "[models][varnet]") {
  const VarNetOptions d{};  // fastMRI's defaults
  CHECK(d.num_cascades == 12);
  CHECK(d.sens_chans == 8);
  CHECK(d.sens_pools == 4);
  CHECK(d.chans == 18);
  CHECK(d.pools == 4);
  CHECK(d.mask_center);
  VarNet<float> net({.num_cascades = 1});  // the default U-Nets, one cascade (the full model is 30M parameters)
  const auto named = net.named_parameters();
  CHECK(named.front().first == "sens_net.norm_unet.unet.down_sample_layers.0.layers.0.weight");
  CHECK(named.front().second.shape() == Shape{8, 2, 3, 3});
  std::vector<std::string> cascade0;
  int64_t sens = 0, unet = 0;
  for (const auto& [k, v] : named) {
    if (k.starts_with("cascades.0.")) cascade0.push_back(k);
    if (k.starts_with("cascades.0.model.")) unet += v.numel();
    if (k.starts_with("sens_net.")) sens += v.numel();
  }
  REQUIRE(cascade0.size() == 1 + 24);  // dc_weight, then the U-Net's 9 conv blocks x 2, 4 transposed convs, 1x1 conv
  CHECK(cascade0.front() == "cascades.0.dc_weight");
  CHECK(cascade0.back() == "cascades.0.model.unet.up_transpose_conv.3.layers.0.weight");
  CHECK(std::find(cascade0.begin(), cascade0.end(), "cascades.0.model.unet.up_conv.3.1.bias") != cascade0.end());
  CHECK(net.cascade(0).dc_weight.value().item() == 1.0f);
  CHECK(unet == 2454338);                             // NormUnet(18, 4)
  CHECK(sens + 12 * (unet + 1) == 29936966);          // sum(p.numel() for p in fastmri.models.VarNet().parameters())

  // pools 0 builds fastMRI's one-level U-Net, the same as pools 1.
  VarNet<float> zero({.num_cascades = 1, .sens_chans = 2, .sens_pools = 0, .chans = 2, .pools = 0});
  VarNet<float> one({.num_cascades = 1, .sens_chans = 2, .sens_pools = 1, .chans = 2, .pools = 1});
  CHECK(keys_of(zero.state_dict()) == keys_of(one.state_dict()));
  zero.load_state_dict(one.state_dict());
  const Var<float> k(randn<float>({1, 2, 8, 6, 2}));
  const Tensor<bool> m = ones<bool>({1, 1, 1, 6, 1});
  test::require_close(zero(k, m).value(), one(k, m).value(), 0, "pools 0 == pools 1");
}

TEST_CASE("VarNet: option and shape errors", "[models][varnet]") {
  CHECK_THROWS_WITH(VarNet<float>({.num_cascades = -1}), Contains("VarNet: num_cascades must be non-negative"));
  CHECK_THROWS_WITH(VarNet<float>({.sens_chans = 0}), Contains("VarNet: sens_chans must be positive"));
  CHECK_THROWS_WITH(VarNet<float>({.pools = -1}), Contains("VarNet: pools must be in [0, 16], got -1"));
  CHECK_THROWS_WITH(VarNet3d<float>({.chans = -2}), Contains("VarNet3d: chans must be positive"));
  CHECK_THROWS_WITH(models::FastMriUnet<float>({.in_chans = 0, .out_chans = 1}),
                    Contains("FastMriUnet: in_chans must be positive"));
  CHECK_THROWS_WITH(models::FastMriUnet<float>({.in_chans = 1, .out_chans = 1, .drop_prob = 2}),
                    Contains("FastMriUnet: drop_prob must be in [0, 1]"));
  CHECK_THROWS_WITH(models::NormUnet<float>({.chans = 4, .num_pools = 2, .in_chans = 3}),
                    Contains("NormUnet: in_chans must be a positive even number"));
  CHECK_THROWS_WITH(models::NormUnet<float>({.chans = 4, .num_pools = 2, .out_chans = 4}),
                    Contains("NormUnet: out_chans must be 2"));
  CHECK_THROWS_WITH(models::SensitivityModel<float>({.chans = 0, .num_pools = 2}),
                    Contains("SensitivityModel: chans must be positive"));

  VarNet<float> net({.num_cascades = 1, .sens_chans = 2, .sens_pools = 1, .chans = 2, .pools = 1});
  const Var<float> k(randn<float>({2, 3, 8, 10, 2}));
  Tensor<bool> mask = ones<bool>({2, 1, 1, 10, 1});
  CHECK_THROWS_WITH(net(Var<float>(randn<float>({2, 3, 8, 10})), mask),
                    Contains("VarNet: masked_kspace has shape [2, 3, 8, 10]; expected (B, coils, H, W, 2)"));
  CHECK_THROWS_WITH(net(k, ones<bool>({2, 1, 1, 9, 1})), Contains("VarNet: mask has shape [2, 1, 1, 9, 1]"));
  CHECK_THROWS_WITH(net(k, ones<bool>({3, 1, 1, 10, 1})), Contains("expected (B or 1, 1, 1, W, 1) with W = 10"));
  CHECK_THROWS_WITH(net(k, mask, 11), Contains("VarNet: num_low_frequencies = 11 must be in [0, W = 10]"));
  CHECK_THROWS_WITH(models::FastMriUnet<float>({.in_chans = 2, .out_chans = 2, .chans = 2, .num_pool_layers = 3})(
                        Var<float>(randn<float>({1, 2, 16, 7}))),
                    Contains("FastMriUnet: input has shape [1, 2, 16, 7]; each spatial size must be at least "
                             "2^(pooling levels) = 8"));
  CHECK_THROWS_WITH(models::FastMriUnet<float>({.in_chans = 2, .out_chans = 2, .chans = 2})(
                        Var<float>(randn<float>({1, 3, 16, 16}))),
                    Contains("FastMriUnet: input has shape [1, 3, 16, 16]; expected (B, 2, H, W)"));
  VarNet3d<float> net3({.num_cascades = 1, .sens_chans = 2, .sens_pools = 1, .chans = 2, .pools = 1});
  CHECK_THROWS_WITH(net3(Var<float>(randn<float>({1, 2, 4, 4, 4, 2})), ones<bool>({1, 1, 1, 4, 1})),
                    Contains("VarNet3d: mask has shape [1, 1, 1, 4, 1]"));
}

TEST_CASE("SensitivityModel: the centre band as fastMRI finds it", "[models][varnet]") {
  auto band = [](std::vector<int> cols, std::optional<int64_t> num_low = std::nullopt) {
    const int64_t w = static_cast<int64_t>(cols.size());
    Tensor<bool> m({1, 1, 1, w, 1});
    for (int64_t j = 0; j < w; ++j) m.data()[j] = cols[static_cast<std::size_t>(j)] != 0;
    const Tensor<bool> b = models::SensitivityModel<float>::center_mask(m, num_low);
    std::vector<int> out;
    for (int64_t j = 0; j < w; ++j) out.push_back(b.data()[j] ? 1 : 0);
    return out;
  };
  // W 10, centre 5: ones at 3..6 -> left 2, right 2 -> 4 columns from (10 - 4 + 1) / 2 = 3
  CHECK(band({1, 0, 0, 1, 1, 1, 1, 0, 1, 0}) == std::vector<int>{0, 0, 0, 1, 1, 1, 1, 0, 0, 0});
  // asymmetric run: left 1, right 3 -> 2 columns
  CHECK(band({0, 0, 0, 0, 1, 1, 1, 1, 0, 0}) == std::vector<int>{0, 0, 0, 0, 1, 1, 0, 0, 0, 0});
  // nothing sampled at the centre -> at least one column, (10 - 1 + 1) / 2 = 5
  CHECK(band({1, 1, 1, 0, 0, 0, 0, 1, 1, 1}) == std::vector<int>{0, 0, 0, 0, 0, 1, 0, 0, 0, 0});
  // fully sampled: argmin finds no zero and gives 0 -> a single column (fastMRI's behaviour)
  CHECK(band({1, 1, 1, 1, 1, 1, 1, 1, 1, 1}) == std::vector<int>{0, 0, 0, 0, 0, 1, 0, 0, 0, 0});
  // odd W 9, centre 4: left 2, right 3 -> 4 columns from (9 - 4 + 1) / 2 = 3
  CHECK(band({0, 0, 1, 1, 1, 1, 1, 0, 0}) == std::vector<int>{0, 0, 0, 1, 1, 1, 1, 0, 0});
  // num_low_frequencies replaces the search: 3 columns from (10 - 3 + 1) / 2 = 4
  CHECK(band({0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 3) == std::vector<int>{0, 0, 0, 0, 1, 1, 1, 0, 0, 0});
  CHECK(band({0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0) == std::vector<int>{0, 0, 0, 0, 0, 1, 0, 0, 0, 0});

  // 3-D: a fully sampled axis is kept whole; a masked plane gives a box.
  Tensor<bool> m3 = zeros<bool>({1, 1, 1, 6, 5, 1});
  for (int64_t i = 2; i < 5; ++i)
    for (int64_t j = 1; j < 4; ++j) m3.data()[i * 5 + j] = true;  // rows 2..4, cols 1..3
  const Tensor<bool> b3 = models::SensitivityModel3d<float>::center_mask(m3, std::nullopt);
  CHECK(b3.shape() == Shape{1, 1, 1, 6, 5, 1});
  // rows: centre 3, left 1 (row 2), right 2 (rows 3, 4) -> 2 rows from 2; cols: centre 2, left 1, right 2 -> 2 from 2
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 5; ++j) CHECK(b3.data()[i * 5 + j] == (i >= 2 && i < 4 && j >= 2 && j < 4));
  const Tensor<bool> full3 = models::SensitivityModel3d<float>::center_mask(ones<bool>({1, 1, 4, 1, 1, 1}), std::nullopt);
  CHECK(full3.to_vector() == std::vector<bool>{true, true, true, true});
}

TEST_CASE("VarNet: fully sampled sanity case", "[models][varnet]") {
  const Simulated sim = simulate(24, 20, 4);
  const Var<double> k(ops::cast<double>(sim.kspace));
  const Tensor<bool> full = ones<bool>({1, 1, 1, 20, 1});
  {
    // No cascades: the RSS of the fully sampled coil images, i.e. the phantom's magnitude (the
    // simulated coil maps have unit root-sum-of-squares).
    VarNet<double> net({.num_cascades = 0, .sens_chans = 2, .sens_pools = 1});
    NoGradGuard guard;
    // (k-space simulated in float: agreement to float precision)
    test::require_close(net(k, full).value(), ops::cast<double>(sim.image), 1e-6, "phantom magnitude");
  }
  {
    // A cascade without regulariser, dc_weight 1 and every line measured: any estimate goes back to
    // the measurement, and the measurement stays put.
    models::VarNetBlock<double> block(std::make_unique<ZeroRegulariser<double>>());
    const Var<double> maps(ops::cast<double>(data::coil_sensitivity_maps<float>({.shape = {24, 20}, .num_coils = 4})
                                                 .reshape(Shape{1, 4, 24, 20, 2})));
    const Var<double> other(randn<double>({1, 4, 24, 20, 2}));
    NoGradGuard guard;
    test::require_close(block(other, k, full, maps).value(), k.value(), 1e-12, "DC restores the measurement");
    test::require_close(block(k, k, full, maps).value(), k.value(), 1e-12, "measurement unchanged");
  }
  // fastMRI's VarNet on a fully sampled input (the "full" fixture case pins the single-column centre
  // band): finite, of the right shape, and the first cascade's data-consistency term is zero.
  VarNet<float> net({.num_cascades = 2, .sens_chans = 2, .sens_pools = 1, .chans = 2, .pools = 2});
  net.eval();
  const Var<float> out = net(Var<float>(sim.kspace), ones<bool>({1, 1, 1, 20, 1}));
  CHECK(out.shape() == Shape{1, 24, 20});
  for (float v : out.value().to_vector()) REQUIRE(std::isfinite(v));
}

TEST_CASE("VarNet trains: L1 loss falls and gradients reach every parameter", "[models][varnet]") {
  const Simulated sim = simulate(24, 20, 4);
  data::RandomMaskFunc mask_func({.center_fractions = {0.2}, .accelerations = {3}, .seed = 3});
  const data::KspaceMask m = mask_func(Shape{1, 1, 24, 20, 2});
  const Var<float> k0(ops::where(m.mask, sim.kspace, 0.0f));
  const Var<float> target(sim.image);

  VarNet<float> net({.num_cascades = 2, .sens_chans = 2, .sens_pools = 1, .chans = 4, .pools = 2});
  optim::Adam<float> opt(net.parameters(), {.lr = 3e-3});
  std::vector<double> losses;
  for (int step = 0; step < 6; ++step) {
    opt.zero_grad();
    const Var<float> loss = losses::l1_loss(net(k0, m.mask), target);
    loss.backward();
    if (step == 0) {
      check_gradients(net);
    }
    opt.step();
    losses.push_back(loss.value().item());
  }
  INFO("losses " << losses.front() << " -> " << losses.back());
  CHECK(losses.back() < 0.9 * losses.front());
}

TEST_CASE("VarNet3d trains and passes gradients to every parameter", "[models][varnet]") {
  Generator gen(5);
  const Tensor<float> k = randn<float>({1, 2, 4, 8, 6, 2}, gen);
  Tensor<bool> mask = zeros<bool>({1, 1, 1, 8, 6, 1});
  for (int64_t i = 0; i < 8; ++i)
    for (int64_t j = 0; j < 6; ++j) mask.data()[i * 6 + j] = (i >= 3 && i < 5 && j >= 2 && j < 4) || (i + j) % 3 == 0;
  const Var<float> k0(ops::where(mask, k, 0.0f));
  const Var<float> target(rss_complex(models::varnet_detail::ifft3c(Var<float>(k)), 1).value());

  VarNet3d<float> net({.num_cascades = 2, .sens_chans = 2, .sens_pools = 1, .chans = 2, .pools = 1});
  optim::Adam<float> opt(net.parameters(), {.lr = 3e-3});
  std::vector<double> losses;
  for (int step = 0; step < 6; ++step) {
    opt.zero_grad();
    const Var<float> out = net(k0, mask);
    REQUIRE(out.shape() == Shape{1, 4, 8, 6});
    const Var<float> loss = losses::l1_loss(out, target);
    loss.backward();
    if (step == 0) {
      check_gradients(net);
    }
    opt.step();
    losses.push_back(loss.value().item());
  }
  INFO("losses " << losses.front() << " -> " << losses.back());
  CHECK(losses.back() < 0.9 * losses.front());
}
