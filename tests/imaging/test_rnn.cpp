// Recurrent layers: nn::GRU, nn::LSTM, nn::GRUCell, nn::LSTMCell against torch.nn (PyTorch 1.13):
// outputs and the gradients of input, h0, c0 and every parameter in float and double, parameter
// names, the create_graph path, gradcheck and gradgradcheck in double, dropout between layers
// (inactive in eval, seeded and Bernoulli(p) in training), the fused layer against the same layer
// built from Var ops, and errors. Fixtures: tests/fixtures/gen_imaging_rnn.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/functions/rnn.hpp"
#include "voxnn/autograd/gradcheck.hpp"
#include "voxnn/nn/rnn.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;

namespace {

const char* const kFile = "imaging_rnn.safetensors";

// A module from a fixture case, and how to call it on (x, h0, c0) -> its forward outputs.
template <class T>
struct UnderTest {
  std::unique_ptr<nn::Module<T>> module;
  std::function<std::vector<Var<T>>(const Var<T>&, const Var<T>&, const Var<T>&)> run;
};

template <class T>
UnderTest<T> build(const test::FixtureCase& c) {
  const std::string m = c.string("module");
  const int64_t I = c.integer("input_size"), H = c.integer("hidden_size");
  UnderTest<T> u;
  if (m == "GRU" || m == "LSTM") {
    const int64_t L = c.integer("num_layers");
    const bool bias = c.flag("bias"), bf = c.flag("batch_first"), bi = c.flag("bidirectional");
    const double p = c.real("dropout");
    if (m == "GRU") {
      auto g = std::make_unique<nn::GRU<T>>(nn::GRUOptions{.input_size = I, .hidden_size = H, .num_layers = L,
                                                           .bias = bias, .batch_first = bf, .dropout = p,
                                                           .bidirectional = bi});
      auto* raw = g.get();
      u.run = [raw](const Var<T>& x, const Var<T>& h, const Var<T>&) {
        auto r = (*raw)(x, h);
        return std::vector<Var<T>>{r.output, r.h_n};
      };
      u.module = std::move(g);
    } else {
      auto l = std::make_unique<nn::LSTM<T>>(nn::LSTMOptions{.input_size = I, .hidden_size = H, .num_layers = L,
                                                             .bias = bias, .batch_first = bf, .dropout = p,
                                                             .bidirectional = bi});
      auto* raw = l.get();
      u.run = [raw](const Var<T>& x, const Var<T>& h, const Var<T>& cc) {
        auto r = (*raw)(x, h, cc);
        return std::vector<Var<T>>{r.output, r.h_n, r.c_n};
      };
      u.module = std::move(l);
    }
  } else if (m == "GRUCell") {
    auto g = std::make_unique<nn::GRUCell<T>>(nn::GRUCellOptions{.input_size = I, .hidden_size = H, .bias = c.flag("bias")});
    auto* raw = g.get();
    u.run = [raw](const Var<T>& x, const Var<T>& h, const Var<T>&) { return std::vector<Var<T>>{(*raw)(x, h)}; };
    u.module = std::move(g);
  } else {
    REQUIRE(m == "LSTMCell");
    auto l = std::make_unique<nn::LSTMCell<T>>(nn::LSTMCellOptions{.input_size = I, .hidden_size = H, .bias = c.flag("bias")});
    auto* raw = l.get();
    u.run = [raw](const Var<T>& x, const Var<T>& h, const Var<T>& cc) {
      auto r = (*raw)(x, h, cc);
      return std::vector<Var<T>>{r.h, r.c};
    };
    u.module = std::move(l);
  }
  return u;
}

template <class T>
void check_case(const test::FixtureCase& c, bool create_graph) {
  UnderTest<T> u = build<T>(c);
  u.module->eval();
  int i = 0;
  const Var<T> x(c.input<T>(i++), true);
  const Var<T> h0 = c.flag("has_h0") ? Var<T>(c.input<T>(i++), true) : Var<T>();
  const Var<T> c0 = c.flag("has_c0") ? Var<T>(c.input<T>(i++), true) : Var<T>();

  // parameter names and order exactly as torch's named_parameters()
  std::vector<std::string> names;
  for (const auto& n : c.param("params").array()) names.push_back(n.string());
  const auto params = u.module->named_parameters();
  REQUIRE(params.size() == names.size());
  nn::StateDict<T> dict;
  for (std::size_t k = 0; k < names.size(); ++k) {
    CHECK(params[k].first == names[k]);
    dict.insert(names[k], c.input<T>(i++));
  }
  u.module->load_state_dict(dict);

  const int nv = static_cast<int>(c.integer("nout_values"));
  std::vector<Tensor<T>> gouts;
  for (int k = 0; k < nv; ++k) gouts.push_back(c.input<T>(i++));
  const std::vector<Var<T>> outs = u.run(x, h0, c0);
  REQUIRE(static_cast<int>(outs.size()) == nv);
  for (int k = 0; k < nv; ++k) c.check<T>(outs[static_cast<std::size_t>(k)].value(), k);

  std::vector<Var<T>> wanted{x};
  if (h0.defined()) wanted.push_back(h0);
  if (c0.defined()) wanted.push_back(c0);
  for (const auto& [name, p] : params) wanted.push_back(p);
  REQUIRE(c.num_outputs() == nv + static_cast<int>(wanted.size()));
  const auto grads = grad<T, Cpu>(outs, wanted, gouts, create_graph, create_graph);
  for (std::size_t k = 0; k < grads.size(); ++k) {
    INFO("gradient " << k << (k < 3 ? "" : " (a parameter)"));
    c.check<T>(grads[k].value(), nv + static_cast<int>(k));
  }
}

// A tiny case's inputs for gradcheck: x and the weights of a 2-layer bidirectional stack.
std::vector<Var<double>> random_vars(const std::vector<Shape>& shapes, uint64_t seed) {
  Generator gen(seed);
  std::vector<Var<double>> out;
  for (const auto& s : shapes) out.emplace_back(randn<double>(s, gen, 0.0, 0.7), true);
  return out;
}

std::vector<Shape> stack_shapes(int64_t gates, int64_t L, bool bi, bool bias, int64_t I, int64_t H) {
  std::vector<Shape> shapes;
  const int64_t dirs = bi ? 2 : 1;
  for (int64_t l = 0; l < L; ++l)
    for (int64_t d = 0; d < dirs; ++d) {
      shapes.push_back({gates * H, l == 0 ? I : dirs * H});
      shapes.push_back({gates * H, H});
      if (bias) {
        shapes.push_back({gates * H});
        shapes.push_back({gates * H});
      }
    }
  return shapes;
}

Var<double> flat_cat(const std::vector<Var<double>>& parts) {
  std::vector<Var<double>> flat;
  for (const auto& p : parts) flat.push_back(reshape(p, {-1}));
  return cat(flat, 0);
}

}  // namespace

TEMPLATE_TEST_CASE("GRU, LSTM and their cells match torch.nn, gradients included", "[imaging][rnn]", float, double) {
  using T = TestType;
  int count = 0;
  for (const char* module : {"GRU", "LSTM", "GRUCell", "LSTMCell"}) {
    for (const auto& c : test::fixture_cases(kFile, module)) {
      for (bool create_graph : {false, true}) {
        INFO("case " << c.name() << (create_graph ? " (create_graph)" : ""));
        check_case<T>(c, create_graph);
      }
      ++count;
    }
  }
  CHECK(count == 20);
}

TEST_CASE("recurrent functions pass gradcheck and gradgradcheck", "[imaging][rnn][gradcheck]") {
  const int64_t T = 3, B = 2, I = 3, H = 2;
  SECTION("gru: two layers, bidirectional, h0") {
    auto in = random_vars({{T, B, I}, {4, B, H}}, 1);
    const auto w = random_vars(stack_shapes(3, 2, true, true, I, H), 2);
    in.insert(in.end(), w.begin(), w.end());
    test::check_gradients(
        [](const std::vector<Var<double>>& v) {
          const std::vector<Var<double>> p(v.begin() + 2, v.end());
          auto r = gru(v[0], v[1], p, {.num_layers = 2, .bidirectional = true});
          return flat_cat({r.output, r.h_n});
        },
        in);
  }
  SECTION("lstm: two layers, bidirectional, h0 and c0") {
    auto in = random_vars({{T, B, I}, {4, B, H}, {4, B, H}}, 3);
    const auto w = random_vars(stack_shapes(4, 2, true, true, I, H), 4);
    in.insert(in.end(), w.begin(), w.end());
    test::check_gradients(
        [](const std::vector<Var<double>>& v) {
          const std::vector<Var<double>> p(v.begin() + 3, v.end());
          auto r = lstm(v[0], v[1], v[2], p, {.num_layers = 2, .bidirectional = true});
          return flat_cat({r.output, r.h_n, r.c_n});
        },
        in);
  }
  SECTION("gru and lstm: batch_first, no bias, no state") {
    auto in = random_vars({{B, T, I}}, 5);
    const auto wg = random_vars(stack_shapes(3, 1, false, false, I, H), 6);
    const auto wl = random_vars(stack_shapes(4, 1, false, false, I, H), 7);
    in.insert(in.end(), wg.begin(), wg.end());
    in.insert(in.end(), wl.begin(), wl.end());
    test::check_gradients(
        [](const std::vector<Var<double>>& v) {
          auto g = gru(v[0], Var<double>(), {v[1], v[2]}, {.bias = false, .batch_first = true});
          auto l = lstm(v[0], Var<double>(), Var<double>(), {v[3], v[4]}, {.bias = false, .batch_first = true});
          return flat_cat({g.output, g.h_n, l.output, l.h_n, l.c_n});
        },
        in);
  }
  SECTION("cells, unbatched and batched") {
    auto in = random_vars({{B, I}, {B, H}, {B, H}, {I}, {H}}, 8);
    const auto wg = random_vars({{3 * H, I}, {3 * H, H}, {3 * H}, {3 * H}}, 9);
    const auto wl = random_vars({{4 * H, I}, {4 * H, H}, {4 * H}, {4 * H}}, 10);
    in.insert(in.end(), wg.begin(), wg.end());
    in.insert(in.end(), wl.begin(), wl.end());
    test::check_gradients(
        [](const std::vector<Var<double>>& v) {
          const Var<double> g = gru_cell(v[0], v[1], v[5], v[6], v[7], v[8]);
          const Var<double> gu = gru_cell(v[3], v[4], v[5], v[6], v[7], v[8]);
          auto l = lstm_cell(v[0], v[1], v[2], v[9], v[10], v[11], v[12]);
          auto lu = lstm_cell(v[3], v[4], Var<double>(), v[9], v[10], v[11], v[12]);
          return flat_cat({g, gu, l.h, l.c, lu.h, lu.c});
        },
        in);
  }
}

TEST_CASE("the fused layer equals the layer built from Var ops", "[imaging][rnn]") {
  const int64_t T = 7, I = 5;
  // batch 13 and hidden 20: the step product's 8-, 4- and 1-row blocks and its 2-vector, 1-vector and
  // scalar column paths; batch 37: the GEMM path of larger batches
  for (auto [B, H] : {std::pair<int64_t, int64_t>{2, 4}, {13, 20}, {37, 5}})
  for (bool reverse : {false, true}) {
    for (auto kind : {rnn_detail::Kind::gru, rnn_detail::Kind::lstm}) {
      const int64_t G = rnn_detail::gate_count(kind);
      INFO((kind == rnn_detail::Kind::gru ? "gru" : "lstm") << (reverse ? " reverse" : "") << " B " << B << " H " << H);
      // x is a transposed view: the layer must not assume contiguous input
      auto v = random_vars({{B, T, I}, {B, H}, {B, H}, {G * H, I}, {G * H, H}, {G * H}, {G * H}}, 20 + reverse);
      const Var<double> x = transpose(v[0], 0, 1);
      const Var<double> c0 = kind == rnn_detail::Kind::lstm ? v[2] : Var<double>();
      const Var<double> fused = rnn_detail::fused_layer(kind, x, v[1], c0, v[3], v[4], v[5], v[6], reverse);
      const Var<double> ref = rnn_detail::layer_graph(kind, x, v[1], c0, v[3], v[4], v[5], v[6], reverse);
      test::require_close(fused.value(), ref.value(), 1e-12, "value");
      const Tensor<double> g = randn<double>(fused.shape());
      std::vector<Var<double>> wanted{v[0], v[1], v[3], v[4], v[5], v[6]};
      if (c0.defined()) wanted.push_back(c0);
      const auto gf = grad<double, Cpu>({fused}, wanted, {g}, true);
      const auto gr = grad<double, Cpu>({ref}, wanted, {g});
      for (std::size_t k = 0; k < wanted.size(); ++k) test::require_close(gf[k].value(), gr[k].value(), 1e-12, "grad");
      // the float path too, against the double reference
      auto f32 = [](const Var<double>& d) { return d.defined() ? Var<float>(ops::cast<float>(d.value())) : Var<float>(); };
      const Var<float> ff = rnn_detail::fused_layer(kind, f32(x), f32(v[1]), f32(c0), f32(v[3]), f32(v[4]), f32(v[5]),
                                                    f32(v[6]), reverse);
      test::require_close(ff.value(), ref.value(), 2e-6, "float value");
    }
  }
}

TEST_CASE("dropout between layers: none in eval, seeded Bernoulli(p) in training", "[imaging][rnn]") {
  const int64_t T = 50, B = 4, I = 3, H = 4;
  const double p = 0.5, w = 0.1;
  nn::GRU<double> gru_module({.input_size = I, .hidden_size = H, .num_layers = 2, .dropout = p});
  // Layer 1 passes its (dropped) input through: r and z rows of weight_ih_l1 zero, z biased to ~0 so
  // h' = n = tanh(w * x), weight_hh_l1 zero.
  Tensor<double> wih1 = zeros<double>({3 * H, H});
  for (int64_t j = 0; j < H; ++j) wih1.at({2 * H + j, j}) = w;
  gru_module.weight_ih(1).mutable_value().copy_(wih1);
  gru_module.weight_hh(1).mutable_value().zero_();
  gru_module.bias_hh(1).mutable_value().zero_();
  Tensor<double> bih1 = zeros<double>({3 * H});
  for (int64_t j = 0; j < H; ++j) bih1.at({H + j}) = -80;
  gru_module.bias_ih(1).mutable_value().copy_(bih1);

  Generator gen(3);
  const Var<double> x(randn<double>({T, B, I}, gen));
  // layer 0 alone
  const Tensor<double> x1 = gru_layer(x, Var<double>(), gru_module.weight_ih(0), gru_module.weight_hh(0),
                                      gru_module.bias_ih(0), gru_module.bias_hh(0))
                                .output.value();

  // eval: no dropout, output = tanh(w * x1)
  gru_module.eval();
  const Tensor<double> eval_out = gru_module(x, Var<double>()).output.value();
  test::require_close(eval_out, ops::tanh(ops::mul(x1, w)), 1e-12, "eval");

  gru_module.train();
  manual_seed(42);
  const Tensor<double> a = gru_module(x, Var<double>()).output.value();
  manual_seed(42);
  const Tensor<double> b = gru_module(x, Var<double>()).output.value();
  test::require_equal(a, b, "same seed");
  const Tensor<double> c = gru_module(x, Var<double>()).output.value();
  CHECK(test::compare(a, c, 0.0).ok == false);

  const auto av = a.to_vector(), xv = x1.to_vector();
  int64_t zeros_seen = 0;
  for (std::size_t k = 0; k < av.size(); ++k) {
    if (std::abs(av[k]) < 1e-20) {
      ++zeros_seen;
    } else {
      INFO("element " << k);
      REQUIRE(av[k] == Approx(std::tanh(w * xv[k] / (1 - p))).epsilon(1e-12).margin(1e-14));
    }
  }
  const double n = static_cast<double>(av.size()), sd = std::sqrt(n * p * (1 - p));
  CHECK(std::abs(static_cast<double>(zeros_seen) - n * p) < 5 * sd);
}

TEST_CASE("recurrent modules: parameters, options and the single-input forward", "[imaging][rnn]") {
  nn::LSTM<float> lstm_module({.input_size = 4, .hidden_size = 3, .num_layers = 2, .bidirectional = true});
  const auto names = lstm_module.named_parameters();
  REQUIRE(names.size() == 16);
  CHECK(names[0].first == "weight_ih_l0");
  CHECK(names[4].first == "weight_ih_l0_reverse");
  CHECK(names[8].first == "weight_ih_l1");
  CHECK(names[15].first == "bias_hh_l1_reverse");
  CHECK(names[8].second.shape() == Shape({12, 6}));
  CHECK(names[9].second.shape() == Shape({12, 3}));
  const float bound = 1.0f / std::sqrt(3.0f);
  for (const auto& [name, p] : names)
    for (float v : p.value().to_vector()) REQUIRE(std::abs(v) <= bound);
  CHECK(&lstm_module.weight_hh(1, true) == &lstm_module.flat_weights()[13]);
  REQUIRE_THROWS_WITH(lstm_module.weight_ih(2), Contains("LSTM") && Contains("weight_ih_l2"));

  nn::GRU<float> gru_module({.input_size = 4, .hidden_size = 3, .bias = false, .batch_first = true});
  CHECK(gru_module.named_parameters().size() == 2);
  const Var<float> x(randn<float>({2, 5, 4}));
  const Var<float> y = gru_module(x);  // the single-input forward: the output only
  CHECK(y.shape() == Shape({2, 5, 3}));
  const auto full = gru_module(x, Var<float>());
  test::require_equal(y.value(), full.output.value());
  CHECK(full.h_n.shape() == Shape({1, 2, 3}));

  nn::GRUCell<float> cell({.input_size = 4, .hidden_size = 3});
  CHECK(cell.named_parameters().size() == 4);
  CHECK(cell(Var<float>(randn<float>({4}))).shape() == Shape({3}));
}

TEST_CASE("recurrent layers report bad arguments by op and shape", "[imaging][rnn]") {
  nn::GRU<float> g({.input_size = 4, .hidden_size = 3});
  const Var<float> x(randn<float>({5, 2, 4}));
  REQUIRE_THROWS_WITH(g(Var<float>(randn<float>({5, 2, 7})), Var<float>()),
                      Contains("GRU") && Contains("[5, 2, 7]") && Contains("input_size = 4"));
  REQUIRE_THROWS_WITH(g(x, Var<float>(randn<float>({2, 2, 3}))),
                      Contains("gru: h0 has shape [2, 2, 3]") && Contains("expected [1, 2, 3]"));
  REQUIRE_THROWS_WITH(g(x, Var<float>(randn<float>({1, 3}))), Contains("gru: h0 has shape [1, 3]"));
  REQUIRE_THROWS_WITH(g(Var<float>(randn<float>({1, 5, 2, 4})), Var<float>()), Contains("gru: input has shape [1, 5, 2, 4]"));

  nn::LSTM<float> l({.input_size = 4, .hidden_size = 3, .num_layers = 2});
  REQUIRE_THROWS_WITH(l(x, Var<float>(), Var<float>(randn<float>({2, 2, 4}))),
                      Contains("lstm: c0 has shape [2, 2, 4]") && Contains("expected [2, 2, 3]"));
  REQUIRE_THROWS_WITH(nn::LSTM<float>({.input_size = 4, .hidden_size = 3, .proj_size = 2}), Contains("proj_size"));
  REQUIRE_THROWS_WITH(nn::GRU<float>({.input_size = 0, .hidden_size = 3}), Contains("GRU: input_size"));

  const std::vector<Var<float>> params(g.flat_weights().begin(), g.flat_weights().end() - 1);
  REQUIRE_THROWS_WITH(gru(x, Var<float>(), params), Contains("gru: expected 4 weight tensors") && Contains("got 3"));
  REQUIRE_THROWS_WITH(gru(Var<float>(randn<float>({5, 2, 6})), Var<float>(), g.flat_weights()),
                      Contains("gru: input of shape [5, 2, 6] has input_size 6; expected 4"));
  std::vector<Var<float>> bad = g.flat_weights();
  bad[1] = Var<float>(randn<float>({6, 3}));
  REQUIRE_THROWS_WITH(gru(x, Var<float>(), bad), Contains("gru: weight_hh_l0 has shape [6, 3]; expected [9, 3]"));

  nn::LSTMCell<float> cell({.input_size = 4, .hidden_size = 3});
  REQUIRE_THROWS_WITH(cell(Var<float>(randn<float>({2, 5})), Var<float>(), Var<float>()),
                      Contains("lstm_cell: input of shape [2, 5] has input_size 5"));
  REQUIRE_THROWS_WITH(cell(Var<float>(randn<float>({2, 4})), Var<float>(randn<float>({3})), Var<float>()),
                      Contains("lstm_cell: hx has shape [3]") && Contains("[2, 4]"));
  REQUIRE_THROWS_WITH(cell(Var<float>(randn<float>({2, 4})), Var<float>(randn<float>({2, 5})), Var<float>()),
                      Contains("lstm_cell: hx has shape [2, 5]; expected [batch, hidden_size] = [2, 3]"));
}
