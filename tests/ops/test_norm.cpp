// Normalisation: batch_norm, instance_norm, group_norm, layer_norm and their modules against PyTorch
// 1.13 (values and gradients in float and double, running statistics after training steps), gradcheck
// and gradgradcheck in double, module state and errors, and the raw kernels' paths.
// Fixtures: tests/fixtures/gen_ops_norm.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/functions/norm.hpp"
#include "voxnn/autograd/gradcheck.hpp"
#include "voxnn/nn/norm.hpp"
#include "voxnn/ops/norm.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;

namespace {

const char* const kFile = "ops_norm.safetensors";
const char* const kOps[] = {"batch_norm", "instance_norm", "group_norm", "layer_norm"};

// Sets the thread count for a scope: the kernels choose their cache-blocked or multi-pass path from it.
class ThreadsGuard {
 public:
  explicit ThreadsGuard(int n) : previous_(num_threads()) { set_num_threads(n); }
  ~ThreadsGuard() { set_num_threads(previous_); }
  ThreadsGuard(const ThreadsGuard&) = delete;
  ThreadsGuard& operator=(const ThreadsGuard&) = delete;

 private:
  int previous_;
};

// A functional case's inputs (see gen_ops_norm.py): x, [running_mean, running_var], [weight], [bias].
template <class T>
struct NormArgs {
  Var<T> x, weight, bias;
  Tensor<T> running_mean, running_var;
  int grad_output = 0;  // index of grad_output among the case's inputs
};

template <class T>
NormArgs<T> norm_args(const test::FixtureCase& c) {
  NormArgs<T> a;
  int i = 0;
  a.x = Var<T>(c.input<T>(i++), true);
  if (c.flag("running")) {
    a.running_mean = c.input<T>(i++).clone();
    a.running_var = c.input<T>(i++).clone();
  }
  if (c.flag("weight")) a.weight = Var<T>(c.input<T>(i++), true);
  if (c.flag("bias")) a.bias = Var<T>(c.input<T>(i++), true);
  a.grad_output = i;
  return a;
}

// The case's op on x, weight and bias; running statistics are copied so a call leaves them as stored.
template <class T>
Var<T> run_op(const test::FixtureCase& c, const Var<T>& x, const Tensor<T>& rm, const Tensor<T>& rv, const Var<T>& w,
              const Var<T>& b) {
  const std::string op = c.op();
  const Tensor<T> m = rm.defined() ? rm.clone() : Tensor<T>(), v = rv.defined() ? rv.clone() : Tensor<T>();
  if (op == "batch_norm") return batch_norm(x, m, v, w, b, c.flag("training"), c.real("momentum"), c.real("eps"));
  if (op == "instance_norm")
    return instance_norm(x, m, v, w, b, c.flag("use_input_stats"), c.real("momentum"), c.real("eps"));
  if (op == "group_norm") return group_norm(x, c.integer("num_groups"), w, b, c.real("eps"));
  if (op != "layer_norm") FAIL("unknown op " << op);
  return layer_norm(x, c.ints("normalized_shape"), w, b, c.real("eps"));
}

template <class T>
std::vector<Var<T>> wanted_of(const NormArgs<T>& a) {
  std::vector<Var<T>> wanted{a.x};
  if (a.weight.defined()) wanted.push_back(a.weight);
  if (a.bias.defined()) wanted.push_back(a.bias);
  return wanted;
}

}  // namespace

TEMPLATE_TEST_CASE("normalisation functions match torch.nn.functional, gradients included", "[ops][norm]", float,
                   double) {
  using T = TestType;
  int count = 0;
  // one thread: the cache-blocked path wherever it applies; 64: the multi-pass one everywhere here
  for (int threads : {1, 64}) {
    ThreadsGuard guard(threads);
    for (const char* op : kOps) {
      for (const auto& c : test::fixture_cases(kFile, op)) {
        INFO("case " << c.name() << ", " << threads << " thread(s)");
        ++count;
        const NormArgs<T> a = norm_args<T>(c);
        const std::vector<Var<T>> wanted = wanted_of(a);
        REQUIRE(static_cast<int>(wanted.size()) + 1 == c.num_outputs());
        const Tensor<T> go = c.input<T>(a.grad_output);
        {  // plain backward: the fused kernels
          const Var<T> y = run_op(c, a.x, a.running_mean, a.running_var, a.weight, a.bias);
          c.check<T>(y.value(), 0);
          const auto grads = grad<T, Cpu>({y}, wanted, {go});
          for (std::size_t k = 0; k < grads.size(); ++k) c.check<T>(grads[k].value(), static_cast<int>(k) + 1);
        }
        {  // create_graph: the same gradients built from differentiable ops
          const Var<T> y = run_op(c, a.x, a.running_mean, a.running_var, a.weight, a.bias);
          const auto grads = grad<T, Cpu>({y}, wanted, {go}, true, true);
          for (std::size_t k = 0; k < grads.size(); ++k) {
            INFO("create_graph gradient " << k);
            c.check<T>(grads[k].value(), static_cast<int>(k) + 1);
          }
        }
      }
    }
  }
  CHECK(count == 2 * 30);
}

TEST_CASE("normalisation functions pass gradcheck and gradgradcheck", "[ops][norm][gradcheck]") {
  for (const char* op : kOps) {
    for (const auto& c : test::fixture_cases(kFile, op)) {
      INFO("case " << c.name());
      const NormArgs<double> a = norm_args<double>(c);
      const bool has_w = a.weight.defined(), has_b = a.bias.defined();
      const GradcheckFn f = [&](const std::vector<Var<double>>& in) {
        std::size_t i = 1;
        const Var<double> w = has_w ? in[i++] : Var<double>();
        const Var<double> b = has_b ? in[i++] : Var<double>();
        return run_op(c, in[0], a.running_mean, a.running_var, w, b);
      };
      const auto inputs = wanted_of(a);
      test::check_gradients(f, inputs);
    }
  }
}

namespace {

template <class T>
std::unique_ptr<nn::Module<T>> make_module(const test::FixtureCase& c) {
  const std::string name = c.string("module");
  const double eps = c.real("eps");
  if (name == "GroupNorm")
    return std::make_unique<nn::GroupNorm<T>>(
        nn::GroupNormOptions{.num_groups = c.integer("num_groups"), .num_channels = c.integer("num_channels"), .eps = eps});
  if (name == "LayerNorm")
    return std::make_unique<nn::LayerNorm<T>>(nn::LayerNormOptions{.normalized_shape = c.ints("normalized_shape"), .eps = eps});
  const int64_t features = c.integer("num_features");
  const bool affine = c.flag("affine"), track = c.flag("track_running_stats");
  if (name.rfind("BatchNorm", 0) == 0) {
    const std::optional<double> momentum =
        c.param("momentum").is_integer() || c.string("momentum") != "none" ? std::optional(c.real("momentum")) : std::nullopt;
    const nn::BatchNormOptions o{.num_features = features, .eps = eps, .momentum = momentum, .affine = affine,
                                 .track_running_stats = track};
    if (name == "BatchNorm1d") return std::make_unique<nn::BatchNorm1d<T>>(o);
    if (name == "BatchNorm2d") return std::make_unique<nn::BatchNorm2d<T>>(o);
    if (name == "BatchNorm3d") return std::make_unique<nn::BatchNorm3d<T>>(o);
  }
  const nn::InstanceNormOptions o{.num_features = features, .eps = eps, .momentum = c.real("momentum"),
                                  .affine = affine, .track_running_stats = track};
  if (name == "InstanceNorm1d") return std::make_unique<nn::InstanceNorm1d<T>>(o);
  if (name == "InstanceNorm2d") return std::make_unique<nn::InstanceNorm2d<T>>(o);
  if (name == "InstanceNorm3d") return std::make_unique<nn::InstanceNorm3d<T>>(o);
  FAIL("no module for " << name);
  return nullptr;
}

template <class T>
Tensor<T> buffer(const nn::Module<T>& m, const std::string& name) {
  for (const auto& [n, b] : m.named_buffers())
    if (n == name) return b;
  FAIL("no buffer " << name);
  return {};
}

}  // namespace

TEMPLATE_TEST_CASE("normalisation modules match torch.nn through training steps and evaluation", "[ops][norm][nn]",
                   float, double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "module")) {
    INFO("case " << c.name());
    ++count;
    const auto m = make_module<T>(c);
    CHECK(m->type_name() == c.string("module"));
    if (c.flag("affine")) {
      nn::StateDict<T> sd;
      sd.insert("weight", c.input<T>(3));
      sd.insert("bias", c.input<T>(4));
      const nn::LoadResult r = m->load_state_dict(sd, /*strict=*/false);
      CHECK(r.unexpected_keys.empty());
    } else {
      CHECK(m->named_parameters().empty());
    }
    const bool track = c.has("track_running_stats") && c.flag("track_running_stats");
    CHECK(m->named_buffers().size() == (track ? 3u : 0u));
    m->train();
    for (int step = 0; step < 2; ++step) {
      INFO("training step " << step + 1);
      const Var<T> y = (*m)(Var<T>(c.input<T>(step), true));
      c.check<T>(y.value(), step);
      if (track) {
        c.check<T>(buffer(*m, "running_mean"), 3 + 3 * step);
        c.check<T>(buffer(*m, "running_var"), 4 + 3 * step);
        c.check<T>(buffer(*m, "num_batches_tracked"), 5 + 3 * step);
      }
    }
    m->eval();
    const auto before = m->state_dict();
    c.check<T>((*m)(Var<T>(c.input<T>(2))).value(), 2);
    for (const auto& [name, t] : m->state_dict()) {  // evaluation leaves the buffers alone
      INFO(name);
      CHECK(test::compare(t, before.at(name), 0.0).ok);
    }
  }
  CHECK(count == 9);
}

TEST_CASE("normalisation modules: parameters, buffers and state dicts as PyTorch names them", "[ops][norm][nn]") {
  using Names = std::vector<std::string>;
  auto names = [](const auto& list) {
    Names out;
    for (const auto& [n, v] : list) out.push_back(n);
    return out;
  };
  nn::BatchNorm3d<float> bn({.num_features = 4});
  CHECK(names(bn.state_dict()) == Names{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"});
  CHECK(bn.weight.value().to_vector() == std::vector<float>(4, 1.0f));
  CHECK(bn.bias.value().to_vector() == std::vector<float>(4, 0.0f));
  CHECK(bn.running_mean.to_vector() == std::vector<float>(4, 0.0f));
  CHECK(bn.running_var.to_vector() == std::vector<float>(4, 1.0f));
  CHECK(bn.num_batches_tracked.shape() == Shape{});  // PyTorch's 0-dim int64 counter, held as T
  CHECK(bn.num_batches_tracked.item() == 0.0f);
  CHECK(bn.options.momentum == 0.1);
  CHECK(bn.options.eps == 1e-5);

  CHECK(names(nn::BatchNorm2d<double>({.num_features = 2, .affine = false}).state_dict()) ==
        Names{"running_mean", "running_var", "num_batches_tracked"});
  nn::BatchNorm1d<double> no_track({.num_features = 2, .track_running_stats = false});
  CHECK(names(no_track.state_dict()) == Names{"weight", "bias"});
  CHECK_FALSE(no_track.running_mean.defined());

  nn::InstanceNorm3d<double> in({.num_features = 3});
  CHECK(in.state_dict().size() == 0);  // affine and track_running_stats off by default
  CHECK(names(nn::InstanceNorm3d<double>({.num_features = 3, .affine = true, .track_running_stats = true}).state_dict()) ==
        Names{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"});
  CHECK(names(nn::GroupNorm<double>({.num_groups = 2, .num_channels = 4}).state_dict()) == Names{"weight", "bias"});
  CHECK(nn::GroupNorm<double>({.num_groups = 2, .num_channels = 4, .affine = false}).state_dict().size() == 0);
  nn::LayerNorm<double> ln({.normalized_shape = {3, 4}});
  CHECK(ln.weight.shape() == Shape{3, 4});
  CHECK(names(ln.state_dict()) == Names{"weight", "bias"});
  CHECK(nn::LayerNorm<double>({.normalized_shape = {3}, .elementwise_affine = false}).state_dict().size() == 0);

  // as children: dotted names
  struct Net : nn::Module<float> {
    nn::BatchNorm3d<float> norm{this, "norm", {.num_features = 2}};
    nn::GroupNorm<float> gn{this, "gn", {.num_groups = 1, .num_channels = 2}};
  } net;
  CHECK(names(net.state_dict()) == Names{"norm.weight", "norm.bias", "norm.running_mean", "norm.running_var",
                                         "norm.num_batches_tracked", "gn.weight", "gn.bias"});

  // A PyTorch checkpoint stores num_batches_tracked as an I64 scalar: it converts to T and loads by name.
  io::TensorFile file;
  file.add("weight", from_vector<float>({1, 2, 3, 4}));
  file.add("bias", from_vector<float>({0, 0, 1, 1}));
  file.add("running_mean", from_vector<float>({0.5f, 0, 0, 0}));
  file.add("running_var", from_vector<float>({2, 2, 2, 2}));
  file.add("num_batches_tracked", scalar_tensor<int64_t>(7));
  REQUIRE(file.entry("num_batches_tracked").dtype == io::DType::I64);
  nn::StateDict<float> sd;
  for (const char* key : {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"})
    sd.insert(key, file.get<float>(key));
  CHECK(bn.load_state_dict(sd).ok());
  CHECK(bn.num_batches_tracked.item() == 7.0f);
  CHECK(bn.running_mean.to_vector()[0] == 0.5f);
  bn.train();
  bn(Var<float>(randn<float>({2, 4, 3, 3, 3})));
  CHECK(bn.num_batches_tracked.item() == 8.0f);
  bn.reset_running_stats();
  CHECK(bn.num_batches_tracked.item() == 0.0f);
  CHECK(bn.running_var.to_vector() == std::vector<float>(4, 1.0f));
  CHECK(bn.weight.value().to_vector() == std::vector<float>{1, 2, 3, 4});
  bn.reset_parameters();
  CHECK(bn.weight.value().to_vector() == std::vector<float>(4, 1.0f));
}

TEST_CASE("normalisation modules: train and eval behaviour", "[ops][norm][nn]") {
  const Tensor<double> x = ops::add(ops::mul(randn<double>({4, 2, 3, 3}), 2.0), 1.0);
  // training normalises with the batch statistics: zero mean and (biased) unit variance per channel
  nn::BatchNorm2d<double> bn({.num_features = 2, .eps = 0.0});
  const Tensor<double> y = bn(Var<double>(x)).value();
  const Tensor<double> mean = ops::mean(y, {0, 2, 3}), var = ops::var(y, {0, 2, 3}, false);
  for (int c = 0; c < 2; ++c) {
    CHECK(mean.data()[c] == Approx(0.0).margin(1e-12));
    CHECK(var.data()[c] == Approx(1.0).epsilon(1e-12));
  }
  // running statistics: momentum 0.1 of the batch mean and unbiased variance
  const Tensor<double> bm = ops::mean(x, {0, 2, 3}), bv = ops::var(x, {0, 2, 3}, true);
  for (int c = 0; c < 2; ++c) {
    CHECK(bn.running_mean.data()[c] == Approx(0.1 * bm.data()[c]).epsilon(1e-12));
    CHECK(bn.running_var.data()[c] == Approx(0.9 + 0.1 * bv.data()[c]).epsilon(1e-12));
  }
  // evaluation uses the running statistics and leaves them and the counter alone
  bn.eval();
  const Tensor<double> e = bn(Var<double>(x)).value();
  const double expect = (x.data()[0] - bn.running_mean.data()[0]) / std::sqrt(bn.running_var.data()[0]);
  CHECK(e.data()[0] == Approx(expect).epsilon(1e-12));
  CHECK(bn.num_batches_tracked.item() == 1.0);
  // without running statistics the batch statistics normalise in both modes
  nn::BatchNorm2d<double> free({.num_features = 2, .track_running_stats = false});
  const Tensor<double> a = free(Var<double>(x)).value();
  free.eval();
  CHECK(test::compare(free(Var<double>(x)).value(), a, 0.0).ok);
  // an instance norm without running statistics is the same in both modes; with them, eval uses them
  nn::InstanceNorm2d<double> in({.num_features = 2, .track_running_stats = true});
  in(Var<double>(x));
  in.eval();
  const Tensor<double> ie = in(Var<double>(x)).value();
  const double iexpect = (x.data()[0] - in.running_mean.data()[0]) / std::sqrt(in.running_var.data()[0] + 1e-5);
  CHECK(ie.data()[0] == Approx(iexpect).epsilon(1e-12));
  // parameters get gradients through the module
  nn::GroupNorm<double> gn({.num_groups = 2, .num_channels = 2});
  sum(mul(gn(Var<double>(x)), Var<double>(x))).backward();
  CHECK(gn.weight.has_grad());
  CHECK(gn.bias.grad().to_vector() != std::vector<double>(2, 0.0));
}

TEST_CASE("normalisation errors name the op and the shapes", "[ops][norm]") {
  const Var<double> x4(randn<double>({2, 3, 4, 5}));
  nn::BatchNorm3d<double> bn3({.num_features = 3});
  CHECK_THROWS_WITH(bn3(x4), Contains("BatchNorm3d") && Contains("5-dim") && Contains("[2, 3, 4, 5]"));
  nn::BatchNorm1d<double> bn1({.num_features = 3});
  CHECK_THROWS_WITH(bn1(x4), Contains("BatchNorm1d") && Contains("(N, C, L)") && Contains("[2, 3, 4, 5]"));
  nn::BatchNorm2d<double> bn2({.num_features = 4});
  CHECK_THROWS_WITH(bn2(x4), Contains("BatchNorm2d") && Contains("[2, 3, 4, 5]") && Contains("num_features = 4"));
  CHECK_THROWS_WITH(bn1(Var<double>(randn<double>({1, 3}))),
                    Contains("batch_norm") && Contains("more than 1 value per channel") && Contains("[1, 3]"));
  CHECK_THROWS_WITH(batch_norm(x4, Tensor<double>(), Tensor<double>()), Contains("batch_norm") && Contains("running_mean"));
  CHECK_THROWS_WITH(batch_norm(x4, zeros<double>({4}), ones<double>({4}), {}, {}, true),
                    Contains("batch_norm") && Contains("running_mean") && Contains("[2, 3, 4, 5]"));
  CHECK_THROWS_WITH(batch_norm(x4, Tensor<double>(), Tensor<double>(), Var<double>(ones<double>({4})), {}, true),
                    Contains("weight") && Contains("[4]") && Contains("[2, 3, 4, 5]"));
  CHECK_THROWS_WITH(batch_norm(Var<double>(randn<double>({3})), Tensor<double>(), Tensor<double>(), {}, {}, true),
                    Contains("batch_norm") && Contains("[3]"));
  CHECK_THROWS_WITH(nn::BatchNorm2d<double>({.num_features = 0}), Contains("BatchNorm2d") && Contains("num_features"));

  CHECK_THROWS_WITH(instance_norm(Var<double>(randn<double>({2, 3, 1}))),
                    Contains("instance_norm") && Contains("spatial") && Contains("[2, 3, 1]"));
  CHECK_THROWS_WITH(instance_norm(x4, Tensor<double>(), Tensor<double>(), {}, {}, false),
                    Contains("instance_norm") && Contains("use_input_stats"));
  nn::InstanceNorm2d<double> in2({.num_features = 3});
  CHECK_THROWS_WITH(in2(Var<double>(randn<double>({4, 5}))), Contains("InstanceNorm2d") && Contains("[4, 5]"));
  nn::InstanceNorm2d<double> in2a({.num_features = 4, .affine = true});
  CHECK_THROWS_WITH(in2a(x4), Contains("InstanceNorm2d") && Contains("num_features = 4"));
  // without weights or running statistics PyTorch accepts other channel counts
  CHECK(in2(Var<double>(randn<double>({2, 5, 3, 3}))).shape() == Shape{2, 5, 3, 3});

  CHECK_THROWS_WITH(group_norm(Var<double>(randn<double>({2, 6, 1})), 4),
                    Contains("group_norm") && Contains("[2, 6, 1]") && Contains("num_groups = 4"));
  CHECK_THROWS_WITH(nn::GroupNorm<double>({.num_groups = 4, .num_channels = 6}),
                    Contains("GroupNorm") && Contains("divisible"));
  nn::GroupNorm<double> gn({.num_groups = 2, .num_channels = 4});
  CHECK_THROWS_WITH(gn(x4), Contains("GroupNorm") && Contains("[2, 3, 4, 5]") && Contains("num_channels = 4"));

  CHECK_THROWS_WITH(layer_norm(Var<double>(randn<double>({2, 3})), {4}),
                    Contains("layer_norm") && Contains("[4]") && Contains("[2, 3]"));
  CHECK_THROWS_WITH(layer_norm(x4, {4, 5}, Var<double>(ones<double>({5}))),
                    Contains("layer_norm") && Contains("weight") && Contains("[4, 5]"));
  nn::LayerNorm<double> ln({.normalized_shape = {5, 4}});
  CHECK_THROWS_WITH(ln(x4), Contains("layer_norm") && Contains("[5, 4]") && Contains("[2, 3, 4, 5]"));
}

TEST_CASE("norm kernels: blocked and multi-pass paths agree bit for bit; statistics stay accurate", "[ops][norm]") {
  // inner above kNormPiece: several pieces per plane, merged
  const int64_t inner = ops::kNormPiece * 2 + 1234;
  for (int64_t groups : {int64_t{0}, int64_t{2}, int64_t{4}}) {
    INFO("groups " << groups);
    const ops::NormLayout L{3, 4, groups == 0 ? 40 : inner / 8, groups};
    const Tensor<float> x = ops::add(randn<float>({L.outer, L.channels, L.inner}), 1000.0f);  // far from zero
    const Tensor<float> g = randn<float>(x.shape()), w = randn<float>({4}), b = randn<float>({4});
    ops::NormOutput<float> blocked, plain;
    ops::NormGrads<float> gb, gp;
    {
      ThreadsGuard one(1);
      REQUIRE(ops::detail::use_blocked(L, 2, sizeof(float)));
      blocked = ops::norm_forward(x, L, 1e-5, w, b);
      gb = ops::norm_backward(g, x, L, blocked.stats.mean, blocked.stats.invstd, w, true);
    }
    {
      ThreadsGuard many(64);
      REQUIRE_FALSE(ops::detail::use_blocked(L, 1, sizeof(float)));
      plain = ops::norm_forward(x, L, 1e-5, w, b);
      gp = ops::norm_backward(g, x, L, plain.stats.mean, plain.stats.invstd, w, true);
    }
    test::require_equal(blocked.output, plain.output, "output");
    test::require_equal(blocked.stats.var, plain.stats.var, "var");
    test::require_equal(gb.input, gp.input, "grad input");
    test::require_equal(gb.weight, gp.weight, "grad weight");
    test::require_equal(gb.bias, gp.bias, "grad bias");
    // the variance of data offset by 1000 is still accurate: compare with a two-pass double computation
    const int64_t K = L.num_stats();
    for (int64_t k = 0; k < K; ++k) {
      std::vector<double> values;
      for (int64_t p = 0; p < L.planes(); ++p)
        if (L.stat_of_plane(p) == k)
          for (int64_t s = 0; s < L.inner; ++s) values.push_back(x.data()[p * L.inner + s]);
      double mean = 0, m2 = 0;
      for (double v : values) mean += v;
      mean /= static_cast<double>(values.size());
      for (double v : values) m2 += (v - mean) * (v - mean);
      CHECK(plain.stats.mean.data()[k] == Approx(mean).epsilon(1e-7));
      CHECK(plain.stats.var.data()[k] == Approx(m2 / static_cast<double>(values.size())).epsilon(1e-6));
    }
  }
  // layer norm's fused and unfused forward
  const Tensor<double> x = randn<double>({6, 50});
  ops::NormOutput<double> fused, unfused;
  {
    ThreadsGuard one(1);
    fused = ops::layer_norm_forward(x, 6, 50, 1e-5);
  }
  {
    ThreadsGuard many(64);
    unfused = ops::layer_norm_forward(x, 6, 50, 1e-5);
  }
  test::require_equal(fused.output, unfused.output, "layer norm output");
}

TEST_CASE("norm kernels: outputs of 64 MiB and more (streaming stores) hold the right values", "[ops][norm]") {
  // 16 x 256 planes of 4096 floats: 64 MiB, instance statistics per plane
  const ops::NormLayout L{16, 256, 4096, 256};
  Tensor<float> x = empty<float>({L.outer, L.channels, L.inner});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>((i * 7919) % 1000) * 0.01f;
  const Tensor<float> w = ops::add(randn<float>({256}), 1.0f), b = randn<float>({256});
  for (int threads : {1, 64}) {
    INFO(threads << " thread(s)");
    ThreadsGuard guard(threads);
    const ops::NormOutput<float> r = ops::norm_forward(x, L, 1e-5, w, b);
    const ops::NormGrads<float> gr = ops::norm_backward(x, x, L, r.stats.mean, r.stats.invstd, w, true);
    for (int64_t i : {int64_t{0}, int64_t{4095}, int64_t{4096 * 1000 + 17}, x.numel() - 1}) {
      const int64_t p = i / L.inner, c = p % L.channels;
      const double xhat = (x.data()[i] - r.stats.mean.data()[p]) * static_cast<double>(r.stats.invstd.data()[p]);
      CHECK(r.output.data()[i] == Approx(xhat * w.data()[c] + b.data()[c]).margin(1e-4));
      // with g = x: sum g = count mean, sum g xhat = count / invstd, so dx = 0 up to rounding
      CHECK(gr.input.data()[i] == Approx(0.0).margin(1e-3));
    }
  }
}
