// nn::Module against PyTorch: dotted names and state_dict order of a nested model, loading a
// PyTorch checkpoint exported to safetensors, load_state_dict errors, containers, train/eval,
// Dropout, default initialisation statistics, init helpers and seeding. Fixtures: gen_nn.py.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>


#include "support/fixtures.hpp"
#include "support/temp_file.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/io/safetensors.hpp"
#include "voxnn/nn/nn.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;

namespace {

// The model of tests/fixtures/gen_nn.py, member for member.
template <class T>
struct Block : nn::Module<T> {
  nn::Linear<T> fc;
  nn::PReLU<T> act;
  Tensor<T> offset;
  Block(nn::Module<T>* parent, std::string name, int64_t in, int64_t out)
      : nn::Module<T>(parent, std::move(name)),
        fc(this, "fc", {.in_features = in, .out_features = out}),
        act(this, "act", {.num_parameters = out}) {
    this->register_buffer("offset", &offset, zeros<T>({out}));
  }
  Var<T> forward(const Var<T>& x) override { return act(add(fc(x), constant(offset))); }
  std::string type_name() const override { return "Block"; }
};

template <class T>
struct Net : nn::Module<T> {
  nn::Linear<T> stem{this, "stem", {.in_features = 5, .out_features = 8}};
  nn::ModuleList<T> blocks{this, "blocks"};
  nn::Sequential<T> head{this, "head"};
  Var<T> scale;
  nn::LogSoftmax<T> out{this, "out", {.dim = 1}};
  Net() {
    blocks.template emplace_back<Block<T>>(8, 8);
    blocks.template emplace_back<Block<T>>(8, 6);
    head.template emplace_back<nn::Tanh<T>>();
    head.template emplace_back<nn::Dropout<T>>(nn::DropoutOptions{.p = 0.3});
    head.template emplace_back<nn::Linear<T>>(nn::LinearOptions{.in_features = 6, .out_features = 3, .bias = false});
    this->register_parameter("scale", &scale, randn<T>({3}));
  }
  Var<T> forward(const Var<T>& x) override {
    Var<T> h = stem(x);
    for (const auto& b : blocks) h = (*b)(h);
    return out(mul(head(h), scale));
  }
  std::string type_name() const override { return "Net"; }
};

std::vector<std::string> json_strings(const std::string& text) {
  const io::json::Value parsed = io::json::parse(text);
  std::vector<std::string> out;
  for (const auto& v : parsed.array()) out.push_back(v.string());
  return out;
}
template <class Pairs>
std::vector<std::string> names_of(const Pairs& pairs) {
  std::vector<std::string> out;
  for (const auto& p : pairs) out.push_back(p.first);
  return out;
}

template <class T>
nn::StateDict<T> to_state_dict(const io::TensorFile& file) {
  nn::StateDict<T> sd;
  for (const auto& name : file.names()) sd.insert(name, file.get<T>(name));
  return sd;
}
const io::TensorFile& nested_state() { return test::fixture_file("nn_nested_state.safetensors"); }

template <class T>
bool same_values(const Tensor<T>& a, const Tensor<T>& b) {
  return a.shape() == b.shape() && a.to_vector() == b.to_vector();
}

// Statistics of values that should be uniform on [-bound, bound]: 5-sigma bounds for the sample size.
void check_uniform(const std::vector<double>& v, double bound, const char* what) {
  INFO(what << ": " << v.size() << " values, bound " << bound);
  const double n = static_cast<double>(v.size());
  double sum = 0, sq = 0, max_abs = 0;
  for (double x : v) {
    sum += x;
    sq += x * x;
    max_abs = std::max(max_abs, std::abs(x));
  }
  const double mean = sum / n, var = sq / n - mean * mean;
  CHECK(max_abs <= bound);
  CHECK(max_abs >= bound * (1 - 25.0 / n));  // P(max below that) = (1 - 25/n)^n ~ e^-25
  CHECK(std::abs(mean) <= 5 * bound / std::sqrt(3 * n));
  // Var(x^2) = b^4 (1/5 - 1/9) for U(-b, b)
  CHECK(std::abs(var - bound * bound / 3) <= 5 * bound * bound * std::sqrt(4.0 / 45.0 / n) + 1e-12);
  if (n >= 1000) {  // ten equal bins, each within 5 sigma of a tenth
    std::vector<double> bins(10, 0);
    for (double x : v) bins[std::min<std::size_t>(9, static_cast<std::size_t>((x + bound) / (2 * bound) * 10))] += 1;
    for (double b : bins) CHECK(std::abs(b / n - 0.1) <= 5 * std::sqrt(0.09 / n));
  }
}

// The sample standard deviation, checked against `std` within 5 sigma (relative SE <= 0.75 / sqrt(n)).
void check_std(const std::vector<double>& v, double std, const char* what) {
  INFO(what << ": " << v.size() << " values, std " << std);
  const double n = static_cast<double>(v.size());
  double sum = 0, sq = 0;
  for (double x : v) {
    sum += x;
    sq += x * x;
  }
  const double mean = sum / n, sample_std = std::sqrt(sq / n - mean * mean);
  CHECK(std::abs(mean) <= 5 * std / std::sqrt(n));
  CHECK(std::abs(sample_std / std - 1) <= 5 * 0.75 / std::sqrt(n));
}

}  // namespace

TEMPLATE_TEST_CASE("modules: names and order as PyTorch's, and a PyTorch state dict gives PyTorch's outputs",
                   "[nn]", float, double) {
  using T = TestType;
  const io::TensorFile& file = nested_state();
  Net<T> net;

  // dotted names, in PyTorch's order (own parameters and buffers before children's)
  CHECK(names_of(net.named_parameters()) == json_strings(file.metadata.at("named_parameters")));
  CHECK(names_of(net.named_buffers()) == json_strings(file.metadata.at("named_buffers")));
  CHECK(names_of(net.named_modules()) == json_strings(file.metadata.at("named_modules")));
  CHECK(names_of(net.state_dict()) == file.names());
  CHECK(net.num_parameters() == 3 + 8 * 5 + 8 + (8 * 8 + 8 + 8) + (6 * 8 + 6 + 6) + 3 * 6);
  CHECK(names_of(net.blocks[1].named_parameters()) == std::vector<std::string>{"fc.weight", "fc.bias", "act.weight"});
  CHECK(names_of(net.blocks[1].named_parameters(false)).empty());
  CHECK(names_of(net.named_parameters(false)) == std::vector<std::string>{"scale"});
  CHECK(names_of(net.named_children()) == std::vector<std::string>{"stem", "blocks", "head", "out"});
  for (const auto& p : net.parameters()) CHECK(p.requires_grad());

  // load the exported checkpoint; forward and every gradient as PyTorch's
  const nn::LoadResult r = net.load_state_dict(to_state_dict<T>(file));
  CHECK(r.ok());
  for (const auto& [name, value] : net.state_dict()) CHECK(same_values(value, file.get<T>(name)));
  net.eval();
  const auto cases = test::fixture_cases("nn_modules.safetensors", "nested");
  for (const auto& c : cases) {
    INFO("case " << c.name());
    const Var<T> x(c.input<T>(0), true);
    const Var<T> y = net(x);
    c.check<T>(y.value(), 0);
    std::vector<Var<T>> wanted{x};
    const auto params = net.named_parameters();
    std::vector<std::string> torch_order;
    for (const auto& v : c.param("params").array()) torch_order.push_back(v.string());
    REQUIRE(names_of(params) == torch_order);
    for (const auto& [name, p] : params) wanted.push_back(p);
    const auto grads = grad<T, Cpu>({y}, wanted, {c.input<T>(1)}, /*retain_graph=*/true);
    for (std::size_t k = 0; k < grads.size(); ++k) {
      INFO((k == 0 ? std::string("d/dx") : "d/d" + params[k - 1].first));
      c.check<T>(grads[k].value(), static_cast<int>(k) + 1);
    }
    // backward() accumulates the same values into each parameter's .grad
    net.zero_grad();
    y.backward(c.input<T>(1));
    for (std::size_t k = 0; k < params.size(); ++k) {
      INFO(params[k].first);
      c.check<T>(params[k].second.grad(), static_cast<int>(k) + 2);
    }
  }

  // train() reaches every descendant, eval() too; a subtree can be switched on its own
  net.train();
  for (const auto& [name, m] : net.named_modules()) CHECK(m->is_training());
  net.head.eval();
  CHECK(net.is_training());
  CHECK_FALSE(net.head.is_training());
  CHECK_FALSE(net.head[1].is_training());
  CHECK(net.blocks[0].is_training());
  net.eval();
  for (const auto& [name, m] : net.named_modules()) CHECK_FALSE(m->is_training());
}

TEST_CASE("modules: load_state_dict reports missing, unexpected and mis-shaped keys by name", "[nn]") {
  Net<double> net;
  const nn::StateDict<double> good = to_state_dict<double>(nested_state());
  const nn::StateDict<double> before = net.state_dict();
  auto snapshot = [&] {
    std::vector<std::vector<double>> out;
    for (const auto& [name, t] : net.state_dict()) out.push_back(t.to_vector());
    return out;
  };
  const auto original = snapshot();

  // good, minus blocks.1.fc.bias, plus blocks.2.fc.weight, with stem.weight of the wrong shape
  auto edited = [&](bool drop, bool extra, bool misshape) {
    nn::StateDict<double> sd;
    for (const auto& [name, t] : good) {
      if (drop && name == "blocks.1.fc.bias") continue;
      sd.insert(name, misshape && name == "stem.weight" ? zeros<double>({8, 4}) : t);
    }
    if (extra) sd.insert("blocks.2.fc.weight", zeros<double>({2, 2}));
    return sd;
  };

  SECTION("strict: one message names every offending key, and nothing is loaded") {
    try {
      net.load_state_dict(edited(true, true, true));
      FAIL("load_state_dict accepted a bad state dict");
    } catch (const Error& e) {
      const std::string msg = e.what();
      CHECK_THAT(msg, Contains("Net"));
      CHECK_THAT(msg, Contains("Missing key(s): \"blocks.1.fc.bias\""));
      CHECK_THAT(msg, Contains("Unexpected key(s): \"blocks.2.fc.weight\""));
      CHECK_THAT(msg, Contains("Size mismatch for: \"stem.weight: [8, 4] in the state dict vs [8, 5] in the module\""));
    }
    CHECK(snapshot() == original);
    CHECK_THROWS_WITH(net.load_state_dict(edited(true, false, false)),
                      Contains("blocks.1.fc.bias") && !Contains("Unexpected") && !Contains("Size mismatch"));
    CHECK_THROWS_WITH(net.load_state_dict(edited(false, true, false)),
                      Contains("Unexpected key(s): \"blocks.2.fc.weight\"") && !Contains("Missing"));
    CHECK(snapshot() == original);
  }
  SECTION("non-strict: missing and unexpected keys are returned, the rest is loaded") {
    const nn::LoadResult r = net.load_state_dict(edited(true, true, false), /*strict=*/false);
    CHECK_FALSE(r.ok());
    CHECK(r.missing_keys == std::vector<std::string>{"blocks.1.fc.bias"});
    CHECK(r.unexpected_keys == std::vector<std::string>{"blocks.2.fc.weight"});
    CHECK(r.mismatched_keys.empty());
    CHECK(same_values(net.stem.weight.value(), good.at("stem.weight")));
    CHECK(same_values(net.blocks.at<Block<double>>(1).fc.bias.value(), before.at("blocks.1.fc.bias")));
    CHECK(same_values(net.blocks.at<Block<double>>(0).offset, good.at("blocks.0.offset")));  // buffers load too
  }
  SECTION("non-strict still refuses a shape mismatch, as PyTorch does") {
    CHECK_THROWS_WITH(net.load_state_dict(edited(false, false, true), false),
                      Contains("stem.weight: [8, 4] in the state dict vs [8, 5]") && !Contains("Missing"));
    CHECK(snapshot() == original);
  }
  SECTION("a loaded value is a copy, not an alias of the dict's tensor") {
    nn::StateDict<double> sd = edited(false, false, false);
    net.load_state_dict(sd);
    const_cast<Tensor<double>&>(sd.at("scale")).fill_(42.0);
    CHECK(net.scale.value().to_vector() != std::vector<double>(3, 42.0));
  }
}

TEMPLATE_TEST_CASE("modules: state_dict round trip through safetensors", "[nn]", float, double) {
  using T = TestType;
  manual_seed(11);
  Net<T> a;
  a.blocks.template at<Block<T>>(1).offset.copy_(randn<T>({6}));
  manual_seed(12);
  Net<T> b;
  a.eval();
  b.eval();
  const Var<T> x(randn<T>({7, 5}));
  CHECK_FALSE(same_values(a(x).value(), b(x).value()));

  test::TempFile tmp(".safetensors");
  io::save_safetensors(tmp.path, a.state_dict());
  const io::TensorFile file = io::load_safetensors(tmp.path);
  CHECK(file.names() == names_of(a.state_dict()));
  CHECK(b.load_state_dict(nn::load_state_dict<T>(tmp.path)).ok());  // straight from the file
  for (const auto& [name, value] : a.state_dict()) {
    INFO(name);
    CHECK(same_values(value, b.state_dict().at(name)));
  }
  CHECK(same_values(a(x).value(), b(x).value()));
}

TEST_CASE("modules: Sequential and ModuleList", "[nn]") {
  nn::Sequential<double> seq;
  auto& l0 = seq.emplace_back<nn::Linear<double>>(nn::LinearOptions{.in_features = 3, .out_features = 4});
  seq.emplace_back<nn::ReLU<double>>();
  seq.push_back(std::make_unique<nn::Linear<double>>(nn::LinearOptions{.in_features = 4, .out_features = 2}));
  CHECK(seq.size() == 3);
  CHECK(names_of(seq.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(names_of(seq.named_modules()) == std::vector<std::string>{"", "0", "1", "2"});
  CHECK(&seq[0] == &l0);
  CHECK(seq[1].type_name() == "ReLU");

  // forward chains the children
  const Var<double> x(randn<double>({5, 3}));
  auto& l2 = seq.at<nn::Linear<double>>(2);
  const Var<double> manual = linear(relu(linear(x, l0.weight, l0.bias)), l2.weight, l2.bias);
  CHECK(same_values(seq(x).value(), manual.value()));

  CHECK_THROWS_WITH(seq[3], Contains("index 3") && Contains("3 modules"));
  CHECK_THROWS_WITH(seq.at<nn::ReLU<double>>(0), Contains("Linear") && Contains("not the type"));
  CHECK_THROWS_WITH(seq.push_back(nullptr), Contains("null"));

  // nested containers name through every level
  struct Holder : nn::Module<double> {
    nn::ModuleList<double> layers{this, "layers"};
    Holder() {
      auto& inner = layers.emplace_back<nn::Sequential<double>>();
      inner.emplace_back<nn::Identity<double>>();
      inner.emplace_back<nn::PReLU<double>>(nn::PReLUOptions{.num_parameters = 2});
      layers.emplace_back<nn::Linear<double>>(nn::LinearOptions{.in_features = 2, .out_features = 2, .bias = false});
    }
  } holder;
  CHECK(names_of(holder.named_parameters()) == std::vector<std::string>{"layers.0.1.weight", "layers.1.weight"});
  CHECK_THROWS_WITH(holder.layers(x), Contains("ModuleList") && Contains("no single-input forward"));
}

TEST_CASE("modules: registry errors", "[nn]") {
  struct Twice : nn::Module<double> {
    Var<double> a, b;
    explicit Twice(const std::string& second) {
      register_parameter("w", &a, zeros<double>({1}));
      register_parameter(second, &b, zeros<double>({1}));
    }
  };
  CHECK_THROWS_WITH(Twice("w"), Contains("'w'") && Contains("registered twice"));
  CHECK_THROWS_WITH(Twice("x.y"), Contains("invalid name") && Contains("x.y"));
  CHECK_THROWS_WITH(Twice(""), Contains("invalid name"));
  CHECK_THROWS_WITH(nn::Linear<double>({.in_features = 0, .out_features = 2}), Contains("in_features"));
  CHECK_THROWS_WITH(nn::Dropout<double>({.p = 1.5}), Contains("Dropout") && Contains("1.5"));
  nn::Linear<double> lin({.in_features = 3, .out_features = 2});
  CHECK_THROWS_WITH(lin(Var<double>(ones<double>({4, 2}))), Contains("[4, 2]") && Contains("in_features = 3"));
}

TEST_CASE("modules: non-persistent buffers stay out of state dicts, derived ones may be absent on load", "[nn]") {
  struct Buffers : nn::Module<double> {
    Tensor<double> stats, scratch, grid;
    Buffers() {
      register_buffer("stats", &stats, zeros<double>({2}));
      register_buffer("scratch", &scratch, zeros<double>({3}), nn::BufferKind::non_persistent);
      register_buffer("grid", &grid, full<double>({2}, 7.0), nn::BufferKind::derived);
    }
  };
  Buffers m;
  CHECK(m.named_buffers().size() == 3);
  const auto dict = m.state_dict();
  CHECK(dict.size() == 2);
  CHECK(dict.find("scratch") == nullptr);
  REQUIRE(dict.find("grid") != nullptr);

  nn::StateDict<double> without_grid;
  without_grid.insert("stats", full<double>({2}, 3.0));
  const auto result = m.load_state_dict(without_grid);  // strict, yet no error
  CHECK(result.missing_keys.empty());
  CHECK(m.stats.at({1}) == 3.0);
  CHECK(m.grid.at({0}) == 7.0);

  nn::StateDict<double> with_grid = without_grid;
  with_grid.insert("grid", full<double>({2}, 1.0));
  m.load_state_dict(with_grid);
  CHECK(m.grid.at({1}) == 1.0);
  with_grid.insert("scratch", zeros<double>({3}));  // not part of the state: unexpected, as in PyTorch
  CHECK_THROWS_WITH(m.load_state_dict(with_grid), Contains("Unexpected") && Contains("scratch"));
  nn::StateDict<double> without_stats;
  CHECK_THROWS_WITH(m.load_state_dict(without_stats), Contains("Missing") && Contains("\"stats\""));
}

TEST_CASE("modules: Dropout follows train() and eval()", "[nn]") {
  nn::Sequential<double> seq;
  seq.emplace_back<nn::Dropout<double>>(nn::DropoutOptions{.p = 0.5});
  const int64_t n = 100000;
  const Var<double> x(ones<double>({n}));
  CHECK(seq.is_training());
  const std::vector<double> y = seq(x).value().to_vector();
  const auto zeros_count = std::count(y.begin(), y.end(), 0.0);
  const auto twos = std::count(y.begin(), y.end(), 2.0);
  CHECK(zeros_count + twos == n);
  CHECK(std::abs(static_cast<double>(zeros_count) / n - 0.5) < 5 * std::sqrt(0.25 / n));
  CHECK(seq(x).value().to_vector() != y);  // a fresh mask per call
  seq.eval();
  CHECK_FALSE(seq[0].is_training());
  CHECK(seq(x).value().to_vector() == x.value().to_vector());
  seq.train();
  CHECK(seq(x).value().to_vector() != x.value().to_vector());
  // masks come from the default generator: manual_seed replays them
  manual_seed(77);
  const auto first = seq(x).value().to_vector();
  manual_seed(77);
  CHECK(seq(x).value().to_vector() == first);
}

TEMPLATE_TEST_CASE("init: default Linear initialisation is PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in))", "[nn]",
                   float, double) {
  using T = TestType;
  manual_seed(2024);
  nn::Linear<T> big({.in_features = 400, .out_features = 500});
  const double bound = 1.0 / std::sqrt(400.0);
  auto as_double = [](const Tensor<T>& t) {
    std::vector<double> out;
    for (T v : t.to_vector()) out.push_back(static_cast<double>(v));
    return out;
  };
  check_uniform(as_double(big.weight.value()), bound, "weight");
  check_uniform(as_double(big.bias.value()), bound, "bias");
  // a 3-d weight uses fan_in = shape[1] * receptive field
  Tensor<T> w = empty<T>({6, 5, 3, 3, 3});
  nn::init::default_weight_(w);
  check_uniform(as_double(w), 1.0 / std::sqrt(5.0 * 27.0), "5-d weight");
  Tensor<T> b = empty<T>({3000});
  nn::init::default_bias_(b, w.shape());
  check_uniform(as_double(b), 1.0 / std::sqrt(5.0 * 27.0), "bias of a 5-d weight");
  nn::Linear<T> no_bias({.in_features = 2, .out_features = 2, .bias = false});
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(names_of(no_bias.named_parameters()) == std::vector<std::string>{"weight"});
}

TEST_CASE("init: calculate_gain, kaiming and xavier against PyTorch's numbers", "[nn]") {
  const io::TensorFile& file = test::fixture_file("nn_init.safetensors");
  const auto gain_args = io::json::parse(file.metadata.at("gain_args")).array();
  const std::vector<double> gains = file.get<double>("gains").to_vector();
  REQUIRE(gain_args.size() == gains.size());
  for (std::size_t i = 0; i < gains.size(); ++i) {
    const std::string name = gain_args[i].array()[0].string();
    const double param = std::strtod(gain_args[i].array()[1].string().c_str(), nullptr);
    INFO(name << " " << param);
    CHECK(nn::init::calculate_gain(name, param) == Approx(gains[i]).epsilon(1e-14));
  }
  CHECK_THROWS_WITH(nn::init::calculate_gain("swish"), Contains("swish"));

  const auto init_args = io::json::parse(file.metadata.at("init_args")).array();
  const std::vector<double> stds = file.get<double>("init_std").to_vector();
  const std::vector<double> bounds = file.get<double>("init_bound").to_vector();
  for (std::size_t i = 0; i < init_args.size(); ++i) {
    const auto& a = init_args[i].array();
    const std::string kind = a[0].string();
    const Shape shape(test::json_ints(a[1]));
    const double param = std::strtod(a[2].string().c_str(), nullptr);
    const nn::init::KaimingOptions ko{.a = param, .mode = a[3].string(), .nonlinearity = a[4].string()};
    INFO(kind << " " << shape << " " << param);
    if (kind.rfind("kaiming", 0) == 0) CHECK(nn::init::kaiming_std(shape, ko) == Approx(stds[i]).epsilon(1e-14));
    // draw until there are >= 20000 values, then check the bound and the spread
    Generator gen(100 + i);
    std::vector<double> values;
    Tensor<double> t = empty<double>(shape);
    while (values.size() < 20000) {
      if (kind == "kaiming_uniform") nn::init::kaiming_uniform_(t, ko, gen);
      else if (kind == "kaiming_normal") nn::init::kaiming_normal_(t, ko, gen);
      else if (kind == "xavier_uniform") nn::init::xavier_uniform_(t, param, gen);
      else if (kind == "xavier_normal") nn::init::xavier_normal_(t, param, gen);
      else FAIL("unknown init " << kind);
      for (double v : t.to_vector()) values.push_back(v);
    }
    if (bounds[i] > 0) check_uniform(values, bounds[i], kind.c_str());
    else check_std(values, stds[i], kind.c_str());
  }
  const auto f = nn::init::fans({16, 8, 3, 3, 3});
  CHECK(f.fan_in == 8 * 27);
  CHECK(f.fan_out == 16 * 27);
  CHECK_THROWS_WITH(nn::init::fans({5}), Contains("[5]"));
  CHECK_THROWS_WITH(nn::init::kaiming_std({4, 4}, {.mode = "fan_avg"}), Contains("fan_avg"));

  Tensor<float> t = empty<float>({3, 4});
  nn::init::constant_(t, 0.5);
  CHECK(t.to_vector() == std::vector<float>(12, 0.5f));
  nn::init::zeros_(t);
  CHECK(t.to_vector() == std::vector<float>(12, 0.0f));
  nn::init::ones_(t);
  CHECK(t.to_vector() == std::vector<float>(12, 1.0f));
}

TEST_CASE("init: manual_seed makes models reproducible", "[nn]") {
  auto values = [](const Net<float>& net) {
    std::vector<std::vector<float>> out;
    for (const auto& [name, t] : net.state_dict()) out.push_back(t.to_vector());
    return out;
  };
  manual_seed(123);
  Net<float> a;
  manual_seed(123);
  Net<float> b;
  Net<float> c;  // the generator has moved on
  manual_seed(124);
  Net<float> d;
  CHECK(values(a) == values(b));
  CHECK(values(a) != values(c));
  CHECK(values(a) != values(d));
  // a Generator passed explicitly is independent of the default one
  Generator g1(5), g2(5);
  Tensor<float> w1 = empty<float>({4, 4}), w2 = empty<float>({4, 4});
  nn::init::xavier_uniform_(w1, 1.0, g1);
  manual_seed(999);
  nn::init::xavier_uniform_(w2, 1.0, g2);
  CHECK(w1.to_vector() == w2.to_vector());
}
