// Attention and set pooling: nn::MultiheadAttention and multi_head_attention_forward against
// torch.nn.MultiheadAttention 1.13 (self / cross attention, kdim / vdim, batch_first, bias, bias_kv,
// zero attention, every mask kind and 1.13 combination, need_weights, per-head weights, unbatched):
// values and gradients of query, key, value and every parameter in float and double, gradcheck in
// double; scaled_dot_product_attention against PyTorch's; the reference's PooledAttention and PMA
// against torch; mean / max set pooling with masks; dropout, initialisation, names and errors.
// Fixtures: tests/fixtures/gen_imaging_attention.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/functions/attention.hpp"
#include "voxnn/nn/attention.hpp"
#include "voxnn/nn/set_pooling.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;
using test::FixtureCase;

namespace {

const char* const kFile = "imaging_attention.safetensors";

// Input index of each role of a case.
std::map<std::string, int> roles_of(const FixtureCase& c) {
  std::map<std::string, int> out;
  int i = 0;
  for (const auto& r : c.param("roles").array()) out[r.string()] = i++;
  return out;
}
std::vector<std::string> strings(const io::json::Value& v) {
  std::vector<std::string> out;
  for (const auto& s : v.array()) out.push_back(s.string());
  return out;
}
// The parameter roles of a case: every role that is not data, a mask or a gradient.
std::vector<std::string> parameter_roles(const FixtureCase& c) {
  std::vector<std::string> out;
  for (const auto& r : strings(c.param("roles")))
    if (r != "x" && r != "query" && r != "key" && r != "value" && r != "key_padding_mask" && r != "attn_mask" &&
        r.rfind("grad_out", 0) != 0)
      out.push_back(r);
  return out;
}
int num_outputs(const FixtureCase& c) { return static_cast<int>(c.param("outputs").array().size()); }

template <class T>
AttentionMask<T> mask_input(const FixtureCase& c, const std::map<std::string, int>& roles, const std::string& role,
                            bool boolean) {
  const auto it = roles.find(role);
  if (it == roles.end()) return {};
  if (boolean) return AttentionMask<T>(c.input<bool>(it->second));
  return AttentionMask<T>(c.input<T>(it->second));
}

// The inputs of a case as Vars (data and parameters require grad), by role.
template <class T>
std::map<std::string, Var<T>> vars_of(const FixtureCase& c) {
  std::map<std::string, Var<T>> out;
  const auto grad_roles = strings(c.param("grad_roles"));
  for (const auto& [role, i] : roles_of(c)) {
    if (role == "key_padding_mask" || role == "attn_mask" || role.rfind("grad_out", 0) == 0) continue;
    out[role] = Var<T>(c.input<T>(i), true);
  }
  return out;
}

template <class T>
std::vector<Tensor<T>> grad_outputs(const FixtureCase& c) {
  const auto roles = roles_of(c);
  std::vector<Tensor<T>> out;
  for (int k = 0; k < num_outputs(c); ++k) out.push_back(c.input<T>(roles.at("grad_out" + std::to_string(k))));
  return out;
}

// Compares outputs and the gradients of every grad role with the case.
template <class T>
void check_case(const FixtureCase& c, const std::vector<Var<T>>& outputs, const std::map<std::string, Var<T>>& wrt) {
  const int nout = num_outputs(c);
  REQUIRE(static_cast<int>(outputs.size()) == nout);
  for (int k = 0; k < nout; ++k) c.check<T>(outputs[static_cast<std::size_t>(k)].value(), k);
  const auto grad_roles = strings(c.param("grad_roles"));
  std::vector<Var<T>> inputs;
  for (const auto& r : grad_roles) inputs.push_back(wrt.at(r));
  const auto grads = grad<T, Cpu>(outputs, inputs, grad_outputs<T>(c));
  for (std::size_t i = 0; i < grads.size(); ++i) {
    INFO("gradient of " << grad_roles[i]);
    c.check<T>(grads[i].value(), nout + static_cast<int>(i));
  }
}

// ---- MultiheadAttention ---------------------------------------------------------------------------------

nn::MultiheadAttentionOptions mha_options(const FixtureCase& c) {
  nn::MultiheadAttentionOptions o;
  o.embed_dim = c.integer("embed_dim");
  o.num_heads = c.integer("num_heads");
  if (c.has("bias")) o.bias = c.flag("bias");
  if (c.has("add_bias_kv")) o.add_bias_kv = c.flag("add_bias_kv");
  if (c.has("add_zero_attn")) o.add_zero_attn = c.flag("add_zero_attn");
  if (c.has("kdim")) o.kdim = c.integer("kdim");
  if (c.has("vdim")) o.vdim = c.integer("vdim");
  if (c.has("batch_first")) o.batch_first = c.flag("batch_first");
  return o;
}

// query, key, value of a case (one Var for self-attention, key reused as value for kv_same).
template <class T>
std::array<Var<T>, 3> qkv(const FixtureCase& c, const std::map<std::string, Var<T>>& v) {
  const std::string mode = c.string("mode");
  if (mode == "self") return {v.at("x"), v.at("x"), v.at("x")};
  if (mode == "kv_same") return {v.at("query"), v.at("key"), v.at("key")};
  return {v.at("query"), v.at("key"), v.at("value")};
}

template <class T>
std::vector<Var<T>> as_outputs(const std::pair<Var<T>, Var<T>>& r) {
  std::vector<Var<T>> out{r.first};
  if (r.second.defined()) out.push_back(r.second);
  return out;
}

// The case through the module, its parameters loaded from the case.
template <class T>
std::vector<Var<T>> run_mha_module(const FixtureCase& c, nn::MultiheadAttention<T>& m, std::map<std::string, Var<T>>& v) {
  nn::StateDict<T> dict;
  for (const auto& name : parameter_roles(c)) dict.insert(name, v.at(name).value());
  m.load_state_dict(dict);
  for (auto& [name, p] : m.named_parameters()) v[name] = p;  // gradients are taken w.r.t. the module's own
  const auto roles = roles_of(c);
  const auto [q, k, val] = qkv(c, v);
  return as_outputs(m(q, k, val, mask_input<T>(c, roles, "key_padding_mask", c.string("kpm") == "bool"),
                      c.flag("need_weights"),
                      mask_input<T>(c, roles, "attn_mask", c.string("attn_mask").rfind("bool", 0) == 0),
                      c.flag("average_attn_weights")));
}

// The case through multi_head_attention_forward, parameters given as Vars.
template <class T>
std::vector<Var<T>> run_mha_function(const FixtureCase& c, const std::map<std::string, Var<T>>& v) {
  const auto roles = roles_of(c);
  const nn::MultiheadAttentionOptions o = mha_options(c);
  auto param = [&](const char* name) { return v.count(name) ? v.at(name) : Var<T>(); };
  MultiHeadAttentionArgs<T> a;
  a.embed_dim_to_check = o.embed_dim;
  a.num_heads = o.num_heads;
  a.in_proj_weight = param("in_proj_weight");
  a.in_proj_bias = param("in_proj_bias");
  a.bias_k = param("bias_k");
  a.bias_v = param("bias_v");
  a.add_zero_attn = o.add_zero_attn;
  a.out_proj_weight = param("out_proj.weight");
  a.out_proj_bias = param("out_proj.bias");
  a.key_padding_mask = mask_input<T>(c, roles, "key_padding_mask", c.string("kpm") == "bool");
  a.need_weights = c.flag("need_weights");
  a.attn_mask = mask_input<T>(c, roles, "attn_mask", c.string("attn_mask").rfind("bool", 0) == 0);
  a.use_separate_proj_weight = v.count("q_proj_weight") > 0;
  a.q_proj_weight = param("q_proj_weight");
  a.k_proj_weight = param("k_proj_weight");
  a.v_proj_weight = param("v_proj_weight");
  a.average_attn_weights = c.flag("average_attn_weights");
  auto [q, k, val] = qkv(c, v);
  const bool flip = o.batch_first && q.dim() == 3;
  if (flip) {
    const bool self = q.id() == k.id(), kv = k.id() == val.id();
    q = transpose(q, 0, 1);
    k = self ? q : transpose(k, 0, 1);
    val = kv ? k : transpose(val, 0, 1);
  }
  auto r = multi_head_attention_forward(q, k, val, a);
  if (flip) r.first = transpose(r.first, 0, 1);
  return as_outputs(r);
}

}  // namespace

TEMPLATE_TEST_CASE("MultiheadAttention matches torch.nn.MultiheadAttention 1.13, gradients included",
                   "[imaging][attention]", float, double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "multihead_attention")) {
    INFO("case " << c.name());
    ++count;
    {
      auto v = vars_of<T>(c);
      nn::MultiheadAttention<T> m(mha_options(c));
      // PyTorch's parameter names, in its order
      std::vector<std::string> names;
      for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
      CHECK(names == parameter_roles(c));
      const auto outputs = run_mha_module(c, m, v);
      check_case(c, outputs, v);
    }
    {
      const auto v = vars_of<T>(c);
      check_case(c, run_mha_function(c, v), v);
    }
  }
  CHECK(count >= 18);
}

TEST_CASE("multi_head_attention_forward: gradcheck on the fixture cases", "[imaging][attention][gradcheck]") {
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "multihead_attention")) {
    INFO("case " << c.name());
    const auto base = vars_of<double>(c);
    std::vector<std::string> order;
    std::vector<Var<double>> inputs;
    for (const auto& [role, var] : base) {
      order.push_back(role);
      inputs.push_back(var);
    }
    const GradcheckFn f = [&](const std::vector<Var<double>>& xs) {
      std::map<std::string, Var<double>> v;
      for (std::size_t i = 0; i < xs.size(); ++i) v[order[i]] = xs[i];
      std::vector<Var<double>> parts;
      for (const auto& o : run_mha_function(c, v)) parts.push_back(reshape(o, {-1}));
      return cat(parts, 0);
    };
    ++count;
    test::check_gradients(f, inputs, /*first_order_only=*/count % 4 != 1);  // gradgradcheck on a few
  }
  CHECK(count >= 18);
}

TEST_CASE("MultiheadAttention: initialisation, names and options", "[imaging][attention]") {
  nn::MultiheadAttention<double> m({.embed_dim = 8, .num_heads = 2, .add_bias_kv = true});
  std::vector<std::string> names;
  for (const auto& [name, p] : m.state_dict()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"in_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight",
                                          "out_proj.bias"});
  CHECK(m.in_proj_weight.shape() == Shape({24, 8}));
  CHECK(ops::amax(ops::abs(m.in_proj_bias.value())).item() == 0.0);
  CHECK(ops::amax(ops::abs(m.out_proj.bias.value())).item() == 0.0);
  const double bound = std::sqrt(6.0 / (8 + 24));  // xavier_uniform_ on (3E, E)
  CHECK(ops::amax(ops::abs(m.in_proj_weight.value())).item() <= bound);
  CHECK(ops::amax(ops::abs(m.in_proj_weight.value())).item() > 0.8 * bound);
  CHECK(ops::amax(ops::abs(m.bias_k.value())).item() > 0.0);

  nn::MultiheadAttention<float> sep({.embed_dim = 4, .num_heads = 1, .bias = false, .kdim = 3, .vdim = 5});
  names.clear();
  for (const auto& [name, p] : sep.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"});
  CHECK(sep.k_proj_weight.shape() == Shape({4, 3}));
  CHECK(sep.v_proj_weight.shape() == Shape({4, 5}));
  CHECK_FALSE(sep.out_proj.bias.defined());
}

TEST_CASE("MultiheadAttention: dropout on the weights in training only, seeded", "[imaging][attention]") {
  nn::MultiheadAttention<double> m({.embed_dim = 8, .num_heads = 2, .dropout = 0.5, .batch_first = true});
  const Var<double> x(randn<double>({2, 6, 8}, *std::make_unique<Generator>(3)));
  Generator gen(7);
  m.generator = &gen;
  m.eval();
  const auto [out_eval, w_eval] = m(x, x, x, {}, true, {}, false);
  m.train();
  gen.manual_seed(11);
  const auto [out1, w1] = m(x, x, x, {}, true, {}, false);
  gen.manual_seed(11);
  const auto [out2, w2] = m(x, x, x, {}, true, {}, false);
  test::require_equal(out1.value(), out2.value(), "same seed, same output");
  test::require_equal(w1.value(), w2.value(), "same seed, same weights");
  // each weight is dropped or scaled by 1 / (1 - p)
  const auto a = w1.value().to_vector(), b = w_eval.value().to_vector();
  int dropped = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == 0.0) ++dropped;
    else CHECK(a[i] == Approx(2 * b[i]).epsilon(1e-12));
  }
  CHECK(dropped > static_cast<int>(a.size()) / 4);
  CHECK(dropped < static_cast<int>(3 * a.size()) / 4);
  gen.manual_seed(12);
  const auto [out3, w3] = m(x, x, x);
  CHECK_FALSE(test::compare(out3.value(), out1.value(), 1e-12).ok);
  // a zero probability in training is the evaluation result
  nn::MultiheadAttention<double> plain({.embed_dim = 8, .num_heads = 2, .batch_first = true});
  plain.load_state_dict(m.state_dict());
  test::require_close(plain(x, x, x, {}, true, {}, false).first.value(), out_eval.value(), 1e-12);
  CHECK(plain(x).shape() == Shape({2, 6, 8}));  // single-input forward: self-attention output
}

TEST_CASE("multi_head_attention_forward: static_k / static_v replace the projected keys and values",
          "[imaging][attention]") {
  Generator gen(5);
  nn::MultiheadAttention<double> m({.embed_dim = 6, .num_heads = 3});
  const Var<double> q(randn<double>({2, 2, 6}, gen)), kv(randn<double>({4, 2, 6}, gen));
  const auto [ref, wref] = m(q, kv, kv);
  // the projected keys and values in the (N * heads, S, head_dim) layout
  auto project = [&](int part) {
    const Var<double> w = narrow(m.in_proj_weight, 0, 6 * part, 6), b = narrow(m.in_proj_bias, 0, 6 * part, 6);
    return reshape(transpose(reshape(linear(kv, w, b), {4, 6, 2}), 0, 1), {6, 4, 2});
  };
  MultiHeadAttentionArgs<double> a{.embed_dim_to_check = 6, .num_heads = 3, .in_proj_weight = m.in_proj_weight,
                                   .in_proj_bias = m.in_proj_bias, .out_proj_weight = m.out_proj.weight,
                                   .out_proj_bias = m.out_proj.bias};
  a.static_k = project(1);
  a.static_v = project(2);
  const Var<double> unused(zeros<double>({4, 2, 6}));
  const auto [out, w] = multi_head_attention_forward(q, unused, unused, a);
  test::require_close(out.value(), ref.value(), 1e-12, "static_k / static_v");
  test::require_close(w.value(), wref.value(), 1e-12, "weights");
}

TEST_CASE("MultiheadAttention: errors name the op and the shapes", "[imaging][attention]") {
  nn::MultiheadAttention<float> m({.embed_dim = 4, .num_heads = 2});
  const Var<float> q(zeros<float>({3, 2, 4})), kv(zeros<float>({5, 2, 4}));
  REQUIRE_THROWS_WITH(m(Var<float>(zeros<float>({3, 2, 5})), kv, kv),
                      Contains("MultiheadAttention") && Contains("[3, 2, 5]") && Contains("embed_dim = 4"));
  REQUIRE_THROWS_WITH(m(q, kv, kv, {}, true, AttentionMask<float>(zeros<float>({3, 4}))),
                      Contains("multi_head_attention_forward") && Contains("2-dim attn_mask") &&
                          Contains("[3, 4]") && Contains("(3, 5)"));
  REQUIRE_THROWS_WITH(m(q, kv, kv, {}, true, AttentionMask<float>(Tensor<bool>({2, 3, 5}))),
                      Contains("3-dim attn_mask") && Contains("[2, 3, 5]") && Contains("(4, 3, 5)"));
  REQUIRE_THROWS_WITH(m(q, kv, kv, AttentionMask<float>(Tensor<bool>({2, 4}))),
                      Contains("key_padding_mask") && Contains("[2, 4]") && Contains("(2, 5)"));
  REQUIRE_THROWS_WITH(m(q, kv, Var<float>(zeros<float>({4, 2, 4}))),
                      Contains("key shape [5, 2, 4] does not match value shape [4, 2, 4]"));
  REQUIRE_THROWS_WITH(m(q, Var<float>(zeros<float>({5, 3, 4})), Var<float>(zeros<float>({5, 3, 4}))),
                      Contains("batch size"));
  REQUIRE_THROWS_WITH(m(Var<float>(zeros<float>({3, 4})), kv, kv), Contains("must be 2-dim too"));
  REQUIRE_THROWS_WITH((nn::MultiheadAttention<float>({.embed_dim = 6, .num_heads = 4})),
                      Contains("embed_dim 6 must be divisible by num_heads 4"));
  REQUIRE_THROWS_WITH(scaled_dot_product_attention(q, kv, Var<float>(zeros<float>({5, 3, 4}))),
                      Contains("scaled_dot_product_attention") && Contains("[5, 3, 4]"));
}

// ---- scaled_dot_product_attention ------------------------------------------------------------------------

namespace {
template <class T>
std::vector<Var<T>> run_sdpa(const FixtureCase& c, const std::map<std::string, Var<T>>& v) {
  const auto roles = roles_of(c);
  const auto mask = mask_input<T>(c, roles, "attn_mask", c.string("mask") == "bool");
  auto [out, w] = scaled_dot_product_attention_with_weights(v.at("query"), v.at("key"), v.at("value"), mask, 0.0,
                                                            c.flag("is_causal"));
  return {out, w};
}
}  // namespace

TEMPLATE_TEST_CASE("scaled_dot_product_attention matches PyTorch's, gradients included", "[imaging][attention]",
                   float, double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "sdpa")) {
    INFO("case " << c.name());
    ++count;
    const auto v = vars_of<T>(c);
    check_case(c, run_sdpa(c, v), v);
    // the output alone
    const auto roles = roles_of(c);
    const Var<T> out = scaled_dot_product_attention(v.at("query"), v.at("key"), v.at("value"),
                                                    mask_input<T>(c, roles, "attn_mask", c.string("mask") == "bool"),
                                                    0.0, c.flag("is_causal"));
    c.check<T>(out.value(), 0);
  }
  CHECK(count == 6);
}

TEST_CASE("scaled_dot_product_attention: gradcheck and gradgradcheck", "[imaging][attention][gradcheck]") {
  for (const auto& c : test::fixture_cases(kFile, "sdpa")) {
    INFO("case " << c.name());
    const auto base = vars_of<double>(c);
    const GradcheckFn f = [&](const std::vector<Var<double>>& xs) {
      const std::map<std::string, Var<double>> v{{"query", xs[0]}, {"key", xs[1]}, {"value", xs[2]}};
      const auto r = run_sdpa(c, v);
      return cat(std::vector<Var<double>>{reshape(r[0], {-1}), reshape(r[1], {-1})}, 0);
    };
    test::check_gradients(f, {base.at("query"), base.at("key"), base.at("value")});
  }
}

// ---- the reference's pooled attention and PMA ----------------------------------------------------------

TEMPLATE_TEST_CASE("PooledAttention matches the reference's, gradients included", "[imaging][attention]", float,
                   double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "pooled_attention")) {
    INFO("case " << c.name());
    ++count;
    auto v = vars_of<T>(c);
    nn::PooledAttention<T> m({.input_dim = c.integer("input_dim"), .dim_v = c.integer("dim_v"),
                              .dim_k = c.integer("dim_k"), .num_heads = c.integer("num_heads"), .ln = c.flag("ln")});
    std::vector<std::string> names;
    for (const auto& [name, p] : m.state_dict()) names.push_back(name);
    CHECK(names == parameter_roles(c));  // the reference's state dict names, in its order
    nn::StateDict<T> dict;
    for (const auto& name : parameter_roles(c)) dict.insert(name, v.at(name).value());
    m.load_state_dict(dict);
    for (auto& [name, p] : m.named_parameters()) v[name] = p;
    const auto [o, a] = m.forward(v.at("x"), {});
    check_case(c, {o, a}, v);
    c.check<T>(m.get_attention(v.at("x")).value(), 1);
    c.check<T>(m(v.at("x")).value(), 0);
  }
  CHECK(count == 3);
}

TEST_CASE("PooledAttention: gradcheck, padding mask, errors", "[imaging][attention][gradcheck]") {
  Generator gen(9);
  nn::PooledAttention<double> m({.input_dim = 5, .dim_v = 4, .dim_k = 4, .num_heads = 2, .ln = true});
  const Var<double> x(randn<double>({2, 6, 5}, gen), true);
  const GradcheckFn f = [&](const std::vector<Var<double>>& xs) { return m(xs[0]); };
  test::check_gradients(f, {x}, true);
  // a padded set equals the set without its padding
  Tensor<bool> pad({2, 6});
  pad.fill_(false);
  pad.data()[4] = pad.data()[5] = true;  // set 0 has 4 elements
  const auto [o_pad, a_pad] = m.forward(x, pad);
  const Var<double> x0 = narrow(narrow(x, 0, 0, 1), 1, 0, 4);
  const auto [o0, a0] = m.forward(x0, {});
  test::require_close(narrow(o_pad, 0, 0, 1).value(), o0.value(), 1e-12, "padded set");
  CHECK(a_pad.shape() == Shape({4, 1, 6}));
  CHECK(a_pad.value().at({0, 0, 5}) == 0.0);
  REQUIRE_THROWS_WITH((nn::PooledAttention<double>({.input_dim = 4, .dim_v = 8, .dim_k = 4, .num_heads = 2})),
                      Contains("dim_k 4 must equal dim_v 8"));
  REQUIRE_THROWS_WITH(m(Var<double>(zeros<double>({2, 6, 4}))),
                      Contains("PooledAttention") && Contains("[2, 6, 4]") && Contains("input_dim = 5"));
  REQUIRE_THROWS_WITH(m.forward(x, Tensor<bool>({2, 5})), Contains("key_padding_mask [2, 5]"));
}

TEMPLATE_TEST_CASE("PMA matches a torch PMA over nn.MultiheadAttention, gradients included", "[imaging][attention]",
                   float, double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "pma")) {
    INFO("case " << c.name());
    ++count;
    auto v = vars_of<T>(c);
    nn::PMA<T> m({.embed_dim = c.integer("embed_dim"), .num_heads = c.integer("num_heads"),
                  .num_seeds = c.integer("num_seeds"), .input_dim = c.integer("input_dim"), .ln = c.flag("ln"),
                  .rff = c.flag("rff")});
    std::vector<std::string> names;
    for (const auto& [name, p] : m.state_dict()) names.push_back(name);
    CHECK(names == parameter_roles(c));
    nn::StateDict<T> dict;
    for (const auto& name : parameter_roles(c)) dict.insert(name, v.at(name).value());
    m.load_state_dict(dict);
    for (auto& [name, p] : m.named_parameters()) v[name] = p;
    const auto roles = roles_of(c);
    const auto [o, w] = m.forward(v.at("x"), mask_input<T>(c, roles, "key_padding_mask", true));
    check_case(c, {o, w}, v);
  }
  CHECK(count == 2);
}

// ---- set pooling ----------------------------------------------------------------------------------------

TEST_CASE("set_mean_pool / set_max_pool: masked sets, modules, gradients", "[imaging][attention][gradcheck]") {
  Generator gen(4);
  const Tensor<double> xt = randn<double>({2, 5, 3}, gen);
  Tensor<bool> pad({2, 5});
  pad.fill_(false);
  pad.data()[3] = pad.data()[4] = true;  // set 0: elements 0..2; set 1: all five
  const Var<double> x(xt, true);
  const Var<double> mean_p = set_mean_pool(x, 1, pad), max_p = set_max_pool(x, 1, pad);
  CHECK(mean_p.shape() == Shape({2, 3}));
  for (int64_t e = 0; e < 3; ++e) {
    double s0 = 0, s1 = 0, m0 = -INFINITY, m1 = -INFINITY;
    for (int64_t i = 0; i < 5; ++i) {
      const double a = xt.at({0, i, e}), b = xt.at({1, i, e});
      if (i < 3) s0 += a, m0 = std::max(m0, a);
      s1 += b, m1 = std::max(m1, b);
    }
    CHECK(mean_p.value().at({0, e}) == Approx(s0 / 3).epsilon(1e-14));
    CHECK(mean_p.value().at({1, e}) == Approx(s1 / 5).epsilon(1e-14));
    CHECK(max_p.value().at({0, e}) == m0);
    CHECK(max_p.value().at({1, e}) == m1);
  }
  test::check_gradients([&](const std::vector<Var<double>>& xs) { return set_mean_pool(xs[0], 1, pad); }, {x});
  test::check_gradients([&](const std::vector<Var<double>>& xs) { return set_max_pool(xs[0], 1, pad); }, {x});
  // the padded elements get no gradient
  const auto g = grad<double, Cpu>({sum(set_max_pool(x, 1, pad))}, {x})[0];
  CHECK(g.value().at({0, 3, 0}) == 0.0);
  CHECK(g.value().at({0, 4, 2}) == 0.0);

  // the reference's MeanPool / MaxPool: (N, S, E) -> (N, 1, E)
  nn::SetMeanPool<double> mean_mod;
  nn::SetMaxPool<double> max_mod;
  test::require_close(mean_mod(x).value(), ops::mean(xt, {1}, true), 1e-14);
  test::require_equal(max_mod(x).value(), ops::amax(xt, {1}, true));
  test::require_close(mean_mod.forward(x, pad).value(), mean_p.value().unsqueeze(1), 0.0);
  // a fully padded set
  Tensor<bool> all({2, 5});
  all.fill_(true);
  CHECK(std::isnan(set_mean_pool(x, 1, all).value().at({0, 0})));
  CHECK(set_max_pool(x, 1, all).value().at({1, 2}) == -INFINITY);
  REQUIRE_THROWS_WITH(set_mean_pool(x, 1, Tensor<bool>({5, 2})),
                      Contains("set_mean_pool") && Contains("[5, 2]") && Contains("[2, 5]"));
  REQUIRE_THROWS_WITH(set_max_pool(x, 3), Contains("set_max_pool"));
}
