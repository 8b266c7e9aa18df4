// VxmDense and its U-Net against voxelmorph/voxelmorph@ca28315 (voxelmorph 0.2 torch backend) on the
// cases of tests/fixtures/gen_models_vxm.py: state_dict keys, weights loaded by name with or without the
// derived grid buffers, registration outputs (moved, flow) in float and double, and the training-mode
// outputs (y_source, y_target, preint_flow) of a bidirectional model. Plus initialisation, option and
// shape errors, the 1-D U-Net, and a few training steps with MSE + 0.01 * Grad(l2) lowering the loss.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/model_case.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/models/vxm_dense.hpp"
#include "voxnn/optim/adam.hpp"

namespace {

using namespace voxnn;
using Catch::Contains;
using models::VxmDense;
using models::VxmDenseOptions;
using models::VxmUnet;
using models::VxmUnetOptions;

struct VxmCase {
  const char* name;
  VxmDenseOptions options;
};

const std::vector<int64_t> kShape3{8, 8, 12};
const models::VxmUnetFeatures kSmall3{{4, 8}, {8, 8, 4, 4}};

std::vector<VxmCase> cases() {
  return {
      {"plain", {.inshape = kShape3, .nb_unet_features = kSmall3, .int_steps = 0}},
      {"diffeo", {.inshape = kShape3, .nb_unet_features = kSmall3}},
      {"bidir", {.inshape = kShape3, .nb_unet_features = kSmall3, .int_steps = 3, .int_downsize = 1, .bidir = true}},
      {"half_res", {.inshape = kShape3, .nb_unet_features = kSmall3, .unet_half_res = true}},
      {"2d",
       {.inshape = {16, 24}, .nb_unet_features = 4, .nb_unet_levels = 3, .unet_feat_mult = 1.5,
        .nb_unet_conv_per_level = 2, .int_steps = 4}},
      {"custom",
       {.inshape = kShape3, .nb_unet_features = {{4, 4, 6, 6}, {6, 6, 6, 4, 4, 4, 4}}, .nb_unet_conv_per_level = 2,
        .int_steps = 4, .src_feats = 2}},
  };
}

template <class Dict>
std::vector<std::string> keys_of(const Dict& d) {
  std::vector<std::string> out;
  for (const auto& [k, v] : d) out.push_back(k);
  return out;
}

bool is_grid(const std::string& key) { return key == "transformer.grid" || key == "integrate.transformer.grid"; }

// The case's weights are the reference's state_dict, in its order, less the grids it may drop.
template <class Net>
void check_keys(const Net& net, const test::ModelCase& c) {
  std::vector<std::string> file_keys;
  for (const auto& e : c.file().entries())
    if (e.name.starts_with("weights.")) file_keys.push_back(e.name.substr(8));
  const std::vector<std::string> ours = keys_of(net.state_dict());
  std::vector<std::string> ours_in_file;
  for (const auto& k : ours) {
    if (std::find(file_keys.begin(), file_keys.end(), k) != file_keys.end()) ours_in_file.push_back(k);
    else CHECK(is_grid(k));  // only derived buffers may be missing from the file
  }
  CHECK(ours_in_file == file_keys);
  std::vector<std::string> params;
  for (const auto& k : ours)
    if (!is_grid(k)) params.push_back(k);
  CHECK(keys_of(net.named_parameters()) == params);
}

template <Real T>
void run_case(const VxmCase& vc) {
  const test::ModelCase c(std::string("vxm_dense.") + vc.name);
  VxmDense<T> net(vc.options);
  check_keys(net, c);
  c.load_into(net);
  const Var<T> source(c.input<T>("source")), target(c.input<T>("target"));
  auto [moved, flow] = net.register_pair(source, target);
  c.require_output("moved", moved.value());
  c.require_output("flow", flow.value());
  // the full forward agrees with the registration outputs
  const auto all = net(source, target);
  c.require_output("moved", all.y_source.value());
  c.require_output("flow", all.pos_flow.value());
  CHECK(all.y_target.defined() == vc.options.bidir);
  CHECK(all.neg_flow.defined() == vc.options.bidir);
}

// Grad(l2) of voxelmorph's losses: mean squared forward difference along each spatial axis, averaged.
template <Real T>
Var<T> grad_l2(const Var<T>& flow) {
  const int nd = flow.dim() - 2;
  Var<T> total;
  for (int a = 0; a < nd; ++a) {
    const int64_t n = flow.shape()[a + 2];
    const Var<T> d = sub(slice(flow, a + 2, 1, n), slice(flow, a + 2, 0, n - 1));
    const Var<T> m = mean(square(d));
    total = total.defined() ? add(total, m) : m;
  }
  return mul(total, static_cast<T>(1.0 / nd));
}

}  // namespace

TEST_CASE("VxmDense: voxelmorph cases, float and double", "[models][vxm]") {
  for (const VxmCase& vc : cases()) {
    SECTION(vc.name) {
      run_case<float>(vc);
      run_case<double>(vc);
    }
  }
}

TEST_CASE("VxmDense: training-mode outputs of a bidirectional model", "[models][vxm]") {
  const test::ModelCase c("vxm_dense_training.bidir");
  const VxmDenseOptions o = cases()[2].options;
  REQUIRE(o.bidir);
  VxmDense<double> net(o);
  c.load_into(net);
  const auto out = net(Var<double>(c.input<double>("source")), Var<double>(c.input<double>("target")));
  c.require_output("y_source", out.y_source.value());
  c.require_output("y_target", out.y_target.value());
  c.require_output("preint_flow", out.preint_flow.value());
  VxmDense<float> netf(o);
  c.load_into(netf);
  const auto outf = netf(Var<float>(c.input<float>("source")), Var<float>(c.input<float>("target")));
  c.require_output("y_target", outf.y_target.value());
}

TEST_CASE("VxmDense: defaults, state and initialisation", "[models][vxm]") {
  VxmDense<float> net({.inshape = {32, 32, 32}});
  // voxelmorph's VxmDense(inshape=(32, 32, 32)): 327331 parameters and these 26 state_dict entries
  CHECK(net.num_parameters() == 327331);
  const std::vector<std::string> keys = keys_of(net.state_dict());
  REQUIRE(keys.size() == 26);
  CHECK(keys.front() == "unet_model.encoder.0.0.main.weight");
  CHECK(keys[16] == "unet_model.remaining.0.main.weight");
  CHECK(keys[22] == "flow.weight");
  CHECK(keys[24] == "integrate.transformer.grid");
  CHECK(keys[25] == "transformer.grid");
  CHECK(net.unet_model.final_nf() == 16);
  CHECK(net.unet_model.nb_levels() == 5);
  CHECK(net.resize != nullptr);
  CHECK(net.fullsize != nullptr);
  REQUIRE(net.integrate != nullptr);
  CHECK(net.integrate->options.inshape == std::vector<int64_t>{16, 16, 16});
  CHECK(net.transformer->grid.shape() == Shape{1, 3, 32, 32, 32});
  CHECK(VxmDense<float>({.inshape = {32, 32}}).num_parameters() == 109170);

  // flow layer: N(0, 1e-5) weights, zero bias
  const std::vector<float> w = net.flow_weight().value().to_vector();
  double ss = 0;
  for (float v : w) ss += double(v) * v;
  const double sd = std::sqrt(ss / static_cast<double>(w.size()));
  CHECK(sd > 0.8e-5);
  CHECK(sd < 1.2e-5);
  for (float v : net.flow_bias().value().to_vector()) CHECK(v == 0.0f);

  // reproducible from manual_seed without a seed, from the seed with one; two unseeded models differ
  const VxmDenseOptions small{.inshape = {8, 8}, .nb_unet_features = {{4}, {4, 4}}, .int_steps = 0};
  manual_seed(21);
  VxmDense<float> a(small), next(small);
  manual_seed(21);
  VxmDense<float> b(small);
  VxmDenseOptions seeded = small;
  seeded.seed = 7;
  VxmDense<float> c(seeded);
  manual_seed(99);
  VxmDense<float> d(seeded);
  const auto pa = a.named_parameters(), pb = b.named_parameters(), pc = c.named_parameters();
  const auto pn = next.named_parameters(), pd = d.named_parameters();
  bool differs = false, next_differs = false;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    test::require_equal(pa[i].second.value(), pb[i].second.value(), pa[i].first);
    test::require_equal(pc[i].second.value(), pd[i].second.value(), pc[i].first);
    differs = differs || pa[i].second.value().to_vector() != pc[i].second.value().to_vector();
    next_differs = next_differs || pa[i].second.value().to_vector() != pn[i].second.value().to_vector();
  }
  CHECK(differs);
  CHECK(next_differs);

  // the plain configuration has neither resize nor integration
  VxmDense<float> plain(small);
  CHECK(plain.resize == nullptr);
  CHECK(plain.fullsize == nullptr);
  CHECK(plain.integrate == nullptr);
  CHECK(keys_of(plain.state_dict()).back() == "transformer.grid");
  // half_res: no resize, but fullsize and integration
  VxmDense<float> half({.inshape = {8, 8}, .nb_unet_features = {{4}, {4, 4}}, .unet_half_res = true});
  CHECK(half.resize == nullptr);
  CHECK(half.fullsize != nullptr);
  CHECK(half.integrate != nullptr);
}

TEST_CASE("VxmDense: option and shape errors", "[models][vxm]") {
  using Opt = VxmDenseOptions;
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {16, 16}, .use_probs = true}),
                      Contains("use_probs = true is not supported"));
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {16}}), Contains("VxmDense: inshape [16] has 1 dims"));
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{}), Contains("VxmDense: inshape [] has 0 dims"));
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {16, 16}, .int_steps = -1}), Contains("int_steps"));
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {16, 16}, .int_downsize = 0}), Contains("int_downsize"));
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {16, 16}, .trg_feats = 0}), Contains("trg_feats"));
  // the poolings must divide inshape (default features: 4 poolings by 2)
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {24, 32}}), Contains("must be divisible by the poolings"));
  // int_downsize must divide inshape
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {12, 16}, .nb_unet_features = {{4}, {4, 4}}, .int_downsize = 8}),
                      Contains("leaves fewer than 2 voxels in a dim to integrate at"));
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {12, 16}, .nb_unet_features = {{4}, {4, 4}}, .int_downsize = 3}),
                      Contains("VxmDense: the flow reaches the warp at [12, 15] but the images are [12, 16]"));
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {12, 16}, .nb_unet_features = {{4}, {4, 4}}, .int_downsize = 5}),
                      Contains("VxmDense: the flow reaches the warp at [10, 15] but the images are [12, 16]"));
  // unet_half_res needs int_downsize 2 and integration
  REQUIRE_THROWS_WITH(
      VxmDense<float>(Opt{.inshape = {16, 16}, .nb_unet_features = {{4}, {4, 4}}, .int_steps = 0, .unet_half_res = true}),
      Contains("unet_half_res needs int_downsize 2"));
  REQUIRE_THROWS_WITH(
      VxmDense<float>(Opt{.inshape = {16, 16}, .nb_unet_features = {{4}, {4, 4}}, .int_downsize = 4, .unet_half_res = true}),
      Contains("the flow reaches the integration at [8, 8] but integrates at [4, 4]"));
  // the U-Net's own rules, as voxelmorph's
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {16, 16}, .nb_unet_features = 8}),
                      Contains("nb_levels is required when nb_features is an integer"));
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {16, 16}, .nb_unet_features = 0, .nb_unet_levels = 2}),
                      Contains("VxmUnet: nb_features must be positive, got 0"));
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {16, 16}, .nb_unet_levels = 3}),
                      Contains("can only be given with an integer nb_features"));
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {16, 16}, .nb_unet_features = {{4, 4}, {4}}}),
                      Contains("decoder features [4] are too few"));
  REQUIRE_THROWS_WITH(VxmDense<float>(Opt{.inshape = {16, 16}, .nb_unet_conv_per_level = 0}),
                      Contains("nb_conv_per_level must be at least 1"));

  VxmDense<float> net({.inshape = {8, 12}, .nb_unet_features = {{4}, {4, 4}}});
  const Var<float> ok(zeros<float>({1, 1, 8, 12}));
  REQUIRE_THROWS_WITH(net.register_pair(Var<float>(zeros<float>({1, 1, 8, 10})), ok),
                      Contains("VxmDense: source has shape [1, 1, 8, 10]; expected [N, 1, 8, 12] (src_feats = 1, "
                               "spatial size = inshape [8, 12])"));
  REQUIRE_THROWS_WITH(net.register_pair(ok, Var<float>(zeros<float>({1, 2, 8, 12}))),
                      Contains("VxmDense: target has shape [1, 2, 8, 12]"));
  REQUIRE_THROWS_WITH(net.register_pair(ok, Var<float>(zeros<float>({2, 1, 8, 12}))),
                      Contains("source has batch 1 but target has batch 2"));
  REQUIRE_THROWS_WITH(net.forward(ok), Contains("VxmDense: this module has no single-input forward"));
}

TEST_CASE("VxmUnet: standalone, 1-D, integer features and its errors", "[models][vxm]") {
  // 1-D works in the U-Net (not in VxmDense)
  VxmUnet<double> u1({.inshape = {16}, .infeats = 3, .nb_features = {{4, 8}, {8, 8, 5}}});
  CHECK(u1.final_nf() == 5);
  const Var<double> y1 = u1(Var<double>(randn<double>({2, 3, 16})));
  CHECK(y1.shape() == Shape{2, 5, 16});
  // integer features: round(nb_features * feat_mult^level), as numpy rounds (half to even)
  VxmUnet<float> u({.inshape = {8, 8}, .infeats = 2, .nb_features = 2, .nb_levels = 3, .feat_mult = 1.25});
  // feats = round([2, 2.5, 3.125]) = [2, 2, 3]: encoder [2, 2], decoder [3, 2, 2]
  CHECK(u.plan().enc_nf == std::vector<int64_t>{2, 2});
  CHECK(u.plan().dec_nf == std::vector<int64_t>{3, 2});
  CHECK(u.plan().final_convs == std::vector<int64_t>{2});
  // half_res output
  VxmUnet<float> half({.inshape = {8, 8}, .infeats = 1, .nb_features = {{4, 4}, {4, 4, 4}}, .half_res = true});
  CHECK(half(Var<float>(zeros<float>({1, 1, 8, 8}))).shape() == Shape{1, 4, 4, 4});
  // per-level pooling: decoder level l upsamples by max_pool[l], as voxelmorph indexes it
  VxmUnet<float> pools({.inshape = {12}, .infeats = 1, .nb_features = {{2, 2}, {2, 2}}, .max_pool = {3, 3}});
  // no remaining convs: the output is the last concatenation, 2 + 2 channels
  CHECK(pools(Var<float>(zeros<float>({1, 1, 18}))).shape() == Shape{1, 4, 18});
  REQUIRE_THROWS_WITH(pools(Var<float>(zeros<float>({1, 1, 12}))), Contains("must be divisible by the poolings [3, 3]"));
  REQUIRE_THROWS_WITH(half(Var<float>(zeros<float>({1, 2, 8, 8}))),
                      Contains("VxmUnet: input has shape [1, 2, 8, 8]; expected [N, 1, 2 spatial dims]"));
  REQUIRE_THROWS_WITH(VxmUnet<float>(VxmUnetOptions{.inshape = {8, 8}}), Contains("infeats must be positive"));
  REQUIRE_THROWS_WITH(VxmUnet<float>(VxmUnetOptions{.inshape = {8, 8, 8, 8}, .infeats = 1}), Contains("has 4 dims"));
  REQUIRE_THROWS_WITH(
      VxmUnet<float>(VxmUnetOptions{.inshape = {8}, .infeats = 1, .nb_features = {{2, 2, 2}, {2, 2, 2}}, .max_pool = {2, 2}}),
      Contains("max_pool [2, 2] needs one value or one per pooling (3)"));
}

TEST_CASE("VxmDense: a few Adam steps on MSE + 0.01 * Grad(l2) lower the loss", "[models][vxm]") {
  VxmDense<float> net({.inshape = {16, 16}, .nb_unet_features = {{8, 8}, {8, 8, 8}}, .int_steps = 4, .seed = 3});
  // a blob and the same blob shifted by two pixels
  Tensor<float> src = zeros<float>({1, 1, 16, 16}), trg = zeros<float>({1, 1, 16, 16});
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      auto blob = [](double y, double x) { return static_cast<float>(std::exp(-(y * y + x * x) / 8.0)); };
      src.data()[i * 16 + j] = blob(i - 7.0, j - 7.0);
      trg.data()[i * 16 + j] = blob(i - 9.0, j - 8.0);
    }
  const Var<float> source(src), target(trg);
  optim::Adam<float> opt(net.parameters(), {.lr = 3e-3});
  auto loss_of = [&] {
    const auto out = net(source, target);
    return add(mean(square(sub(out.y_source, target))), mul(grad_l2(out.preint_flow), 0.01f));
  };
  std::vector<float> losses;
  for (int step = 0; step < 12; ++step) {
    opt.zero_grad();
    const Var<float> loss = loss_of();
    losses.push_back(loss.item());
    loss.backward();
    if (step == 0)
      for (const auto& [name, p] : net.named_parameters()) {
        INFO(name);
        REQUIRE(p.grad().defined());
        bool nonzero = false;
        for (float g : p.grad().to_vector()) nonzero = nonzero || g != 0.0f;
        CHECK(nonzero);
      }
    opt.step();
  }
  INFO("first loss " << losses.front() << ", last " << losses.back());
  CHECK(losses.back() < 0.8f * losses.front());
}
