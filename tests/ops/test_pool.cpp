// Pooling against torch.nn.functional (PyTorch 1.13): max_pool, avg_pool, adaptive_avg_pool,
// adaptive_max_pool and max_unpool in 1d / 2d / 3d, values, input gradients and indices in float and
// double; gradcheck and gradgradcheck (through y * y, so that the backward ops are differentiated
// too); the modules; window_output_size against torch's output lengths; errors.
// Fixtures: tests/fixtures/gen_ops_pool.py.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/functions/pool.hpp"
#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/autograd/gradcheck.hpp"
#include "voxnn/nn/pool.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;
using test::FixtureCase;

namespace {

const char* const kFile = "ops_pool.safetensors";

const std::vector<std::string>& pool_ops() {
  static const std::vector<std::string> ops = [] {
    std::vector<std::string> v;
    for (const char* base : {"max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool", "max_unpool"})
      for (int n = 1; n <= 3; ++n) v.push_back(std::string(base) + std::to_string(n) + "d");
    return v;
  }();
  return ops;
}

template <class T>
struct Outcome {
  Var<T> values;
  Tensor<int64_t> indices;  // undefined for ops without
};

template <int N>
ExpandingArray<N> sizes(const FixtureCase& c, const char* key) {
  return ExpandingArray<N>(c.ints(key));
}
template <int N>
OptionalExpandingArray<N> stride_of(const FixtureCase& c) {
  if (!c.has("stride")) return std::nullopt;
  return sizes<N>(c, "stride");
}

// Runs the case's op through the <N> templates or the named 1d / 2d / 3d functions (alternating, so
// both are exercised).
template <int N, class T>
Outcome<T> run_nd(const FixtureCase& c, const Var<T>& x, const Tensor<int64_t>& unpool_indices) {
  const std::string op = c.op();
  const std::string base = op.substr(0, op.size() - 2);
  if (base == "max_pool") {
    auto r = max_pool_with_indices<N>(x, sizes<N>(c, "kernel_size"), stride_of<N>(c), sizes<N>(c, "padding"),
                                      sizes<N>(c, "dilation"), c.flag("ceil_mode"));
    return {r.values, r.indices};
  }
  if (base == "avg_pool") {
    std::optional<int64_t> div;
    if (c.has("divisor_override")) div = c.integer("divisor_override");
    return {avg_pool<N>(x, sizes<N>(c, "kernel_size"), stride_of<N>(c), sizes<N>(c, "padding"), c.flag("ceil_mode"),
                        c.flag("count_include_pad"), div),
            {}};
  }
  if (base == "adaptive_avg_pool") return {adaptive_avg_pool<N>(x, sizes<N>(c, "output_size")), {}};
  if (base == "adaptive_max_pool") {
    auto r = adaptive_max_pool_with_indices<N>(x, sizes<N>(c, "output_size"));
    return {r.values, r.indices};
  }
  if (base == "max_unpool") {
    std::optional<std::vector<int64_t>> size;
    if (c.has("output_size")) size = c.ints("output_size");
    return {max_unpool<N>(x, unpool_indices, sizes<N>(c, "kernel_size"), stride_of<N>(c), sizes<N>(c, "padding"), size),
            {}};
  }
  FAIL("unknown op " << op);
  return {};
}

// The same ops through their 1d / 2d / 3d names and default arguments where the case allows.
template <class T>
Outcome<T> run_named(const FixtureCase& c, const Var<T>& x, const Tensor<int64_t>& idx) {
  const std::string op = c.op();
  if (op == "max_pool3d" && !c.has("stride") && !c.flag("ceil_mode")) {
    auto r = max_pool3d_with_indices(x, sizes<3>(c, "kernel_size"), std::nullopt, sizes<3>(c, "padding"),
                                     sizes<3>(c, "dilation"));
    CHECK(test::compare(max_pool3d(x, sizes<3>(c, "kernel_size"), std::nullopt, sizes<3>(c, "padding"),
                                   sizes<3>(c, "dilation")).value(), r.values.value(), 0.0).ok);
    return {r.values, r.indices};
  }
  if (op == "max_pool2d") {
    auto r = max_pool2d_with_indices(x, sizes<2>(c, "kernel_size"), stride_of<2>(c), sizes<2>(c, "padding"),
                                     sizes<2>(c, "dilation"), c.flag("ceil_mode"));
    return {r.values, r.indices};
  }
  if (op == "max_pool1d") {
    auto r = max_pool1d_with_indices(x, sizes<1>(c, "kernel_size"), stride_of<1>(c), sizes<1>(c, "padding"),
                                     sizes<1>(c, "dilation"), c.flag("ceil_mode"));
    return {r.values, r.indices};
  }
  if (op == "avg_pool1d")
    return {avg_pool1d(x, sizes<1>(c, "kernel_size"), stride_of<1>(c), sizes<1>(c, "padding"), c.flag("ceil_mode"),
                       c.flag("count_include_pad")),
            {}};
  if (op == "avg_pool2d" && !c.has("divisor_override"))
    return {avg_pool2d(x, sizes<2>(c, "kernel_size"), stride_of<2>(c), sizes<2>(c, "padding"), c.flag("ceil_mode"),
                       c.flag("count_include_pad")),
            {}};
  if (op == "avg_pool3d" && c.has("divisor_override"))
    return {avg_pool3d(x, sizes<3>(c, "kernel_size"), stride_of<3>(c), sizes<3>(c, "padding"), c.flag("ceil_mode"),
                       c.flag("count_include_pad"), c.integer("divisor_override")),
            {}};
  if (op == "adaptive_avg_pool1d") return {adaptive_avg_pool1d(x, sizes<1>(c, "output_size")), {}};
  if (op == "adaptive_avg_pool2d") return {adaptive_avg_pool2d(x, sizes<2>(c, "output_size")), {}};
  if (op == "adaptive_avg_pool3d") return {adaptive_avg_pool3d(x, sizes<3>(c, "output_size")), {}};
  if (op == "adaptive_max_pool1d") {
    auto r = adaptive_max_pool1d_with_indices(x, sizes<1>(c, "output_size"));
    CHECK(test::compare(adaptive_max_pool1d(x, sizes<1>(c, "output_size")).value(), r.values.value(), 0.0).ok);
    return {r.values, r.indices};
  }
  if (op == "adaptive_max_pool2d") {
    auto r = adaptive_max_pool2d_with_indices(x, sizes<2>(c, "output_size"));
    return {r.values, r.indices};
  }
  if (op == "adaptive_max_pool3d") {
    auto r = adaptive_max_pool3d_with_indices(x, sizes<3>(c, "output_size"));
    CHECK(test::compare(adaptive_max_pool3d(x, sizes<3>(c, "output_size")).value(), r.values.value(), 0.0).ok);
    return {r.values, r.indices};
  }
  if (op == "max_unpool1d" && c.has("output_size"))
    return {max_unpool1d(x, idx, sizes<1>(c, "kernel_size"), stride_of<1>(c), sizes<1>(c, "padding"),
                         c.ints("output_size")),
            {}};
  if (op == "max_unpool2d" && !c.has("output_size"))
    return {max_unpool2d(x, idx, sizes<2>(c, "kernel_size"), stride_of<2>(c), sizes<2>(c, "padding")), {}};
  if (op == "max_unpool3d" && c.has("output_size"))
    return {max_unpool3d(x, idx, sizes<3>(c, "kernel_size"), stride_of<3>(c), sizes<3>(c, "padding"),
                         c.ints("output_size")),
            {}};
  const char n = op[op.size() - 2];
  return n == '1' ? run_nd<1>(c, x, idx) : n == '2' ? run_nd<2>(c, x, idx) : run_nd<3>(c, x, idx);
}

template <class T>
Outcome<T> run(const FixtureCase& c, const Var<T>& x, const Tensor<int64_t>& idx, bool named) {
  if (named) return run_named(c, x, idx);
  const std::string op = c.op();
  const char n = op[op.size() - 2];
  return n == '1' ? run_nd<1>(c, x, idx) : n == '2' ? run_nd<2>(c, x, idx) : run_nd<3>(c, x, idx);
}

bool is_unpool(const FixtureCase& c) { return c.op().rfind("max_unpool", 0) == 0; }


}  // namespace

TEMPLATE_TEST_CASE("pooling matches torch.nn.functional: values, indices, input gradients", "[ops][pool]", float,
                   double) {
  using T = TestType;
  int count = 0;
  for (const std::string& op : pool_ops()) {
    for (const auto& c : test::fixture_cases(kFile, op)) {
      INFO("case " << c.name());
      const bool unpool = is_unpool(c);
      const Tensor<int64_t> idx = unpool ? c.input<int64_t>(1) : Tensor<int64_t>();
      const Tensor<T> gout = c.input<T>(c.num_inputs() - 1);
      for (bool named : {false, true}) {
        INFO((named ? "named 1d/2d/3d function" : "<N> template"));
        const Var<T> x(c.input<T>(0), true);
        const Outcome<T> r = run(c, x, idx, named);
        c.check<T>(r.values.value(), 0);
        if (c.flag("indices")) {
          REQUIRE(r.indices.defined());
          c.check<T>(r.indices, 2);
        }
        const auto grads = grad<T, Cpu>({r.values}, {x}, {gout});
        c.check<T>(grads[0].value(), 1);
      }
      // without a graph the values are the same (max pooling then skips the indices)
      {
        NoGradGuard no_grad;
        const Outcome<T> r = run(c, Var<T>(c.input<T>(0)), idx, false);
        c.check<T>(r.values.value(), 0);
      }
      ++count;
    }
  }
  CHECK(count >= 60);
}

TEST_CASE("pooling: gradcheck and gradgradcheck of y * y on the fixture cases", "[ops][pool][gradcheck]") {
  const io::TensorFile& file = test::fixture_file(kFile);
  int count = 0;
  for (const std::string& op : pool_ops()) {
    for (const auto& c : test::fixture_cases(kFile, op)) {
      if (c.has("nogradcheck") && c.flag("nogradcheck")) continue;
      INFO("case " << c.name());
      const auto& views = c.param("views").array().at(0);
      const Tensor<int64_t> idx = is_unpool(c) ? c.input<int64_t>(1) : Tensor<int64_t>();
      const std::string key = c.param("inputs").array().at(0).string();
      const GradcheckFn f = [&](const std::vector<Var<double>>& xs) {
        const Var<double> y = run(c, test::apply_views_var(xs[0], views), idx, false).values;
        return mul(y, y);  // the square makes the backward ops' own backward matter
      };
      const std::vector<Var<double>> inputs{Var<double>(file.get<double>(key), true)};
      test::check_gradients(f, inputs);
      ++count;
    }
  }
  CHECK(count >= 55);
}

TEST_CASE("pooling: scatter_add_planes and gather_planes are adjoint and differentiate to any order",
          "[ops][pool][gradcheck]") {
  const Tensor<int64_t> index = from_vector<int64_t>({0, 5, 5, 11, 3, 3, 0, 7}, {2, 1, 2, 2});
  const Var<double> src(randn<double>({2, 1, 2, 2}), true);
  const Var<double> x(randn<double>({2, 1, 3, 4}), true);
  // <scatter(src), x> == <src, gather(x)>
  const double lhs = sum(mul(scatter_add_planes(src, index, x.shape(), 2), x)).item();
  const double rhs = sum(mul(src, gather_planes(x, index, 2))).item();
  CHECK(lhs == Approx(rhs).epsilon(1e-12));
  // repeated indices accumulate
  const Tensor<double> s = ops::scatter_add_planes(ones<double>({1, 3}), from_vector<int64_t>({1, 1, 2}, {1, 3}),
                                                   Shape{1, 4}, 1);
  CHECK(s.to_vector() == std::vector<double>{0, 2, 1, 0});
  const auto squared_scatter = [&](const std::vector<Var<double>>& v) {
    const Var<double> y = scatter_add_planes(v[0], index, Shape{2, 1, 3, 4}, 2);
    return mul(y, y);
  };
  const auto squared_gather = [&](const std::vector<Var<double>>& v) {
    const Var<double> y = gather_planes(v[0], index, 2);
    return mul(y, y);
  };
  CHECK(gradcheck(squared_scatter, {src}).ok);
  CHECK(gradgradcheck(squared_scatter, {src}).ok);
  CHECK(gradcheck(squared_gather, {x}).ok);
  CHECK(gradgradcheck(squared_gather, {x}).ok);
}

TEST_CASE("pooling: results split over threads equal one thread's", "[ops][pool]") {
  const Tensor<float> x = randn<float>({2, 5, 17, 18, 19});
  const Tensor<float> g = randn<float>({2, 5, 9, 10, 10});
  const ops::PoolWindow<3> w{{3, 3, 2}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, true};
  auto run_all = [&] {
    const auto m = ops::max_pool<3>(x, w, true);
    const auto a = ops::adaptive_max_pool<3>(x, {4, 5, 6}, true);
    return std::vector<Tensor<float>>{m.values,
                                      ops::avg_pool<3>(x, w, false, std::nullopt),
                                      ops::avg_pool_backward<3>(g, x.shape(), w, false, std::nullopt),
                                      ops::scatter_add_planes(g, m.indices, x.shape(), 3),
                                      ops::adaptive_avg_pool<3>(x, {4, 5, 6}),
                                      a.values,
                                      ops::gather_planes(x, a.indices, 3)};
  };
  const int threads = num_threads();
  set_num_threads(1);
  const auto serial = run_all();
  set_num_threads(std::max(threads, 2));
  const auto parallel = run_all();
  set_num_threads(threads);
  REQUIRE(serial[0].shape() == g.shape());
  for (std::size_t i = 0; i < serial.size(); ++i) {
    INFO("result " << i);
    CHECK(test::compare(parallel[i], serial[i], 0.0).ok);
  }
  // the max-pool gradient sums to the output gradient's sum, and so does the average-pool one when the
  // divisor counts only the input (count_include_pad off)
  CHECK(ops::sum(serial[3]).item() == Approx(ops::sum(g).item()).epsilon(1e-4));
  CHECK(ops::sum(serial[2]).item() == Approx(ops::sum(g).item()).epsilon(1e-4));
}

TEST_CASE("pooling: window_output_size matches torch's output lengths", "[ops][pool]") {
  const auto cases = test::fixture_cases(kFile, "window_output_size");
  REQUIRE(cases.size() == 1);
  const Tensor<int64_t> table = cases[0].input<int64_t>(0);
  const Tensor<int64_t> want = cases[0].expected<int64_t>();
  const int64_t rows = table.shape()[0];
  REQUIRE(rows > 500);
  const auto t = table.to_vector();
  const auto w = want.to_vector();
  int ceil_rows = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t* row = t.data() + r * 8;
    const int64_t in = row[0], k = row[1], s = row[2], p = row[3], d = row[4];
    const bool ceil = row[5] != 0;
    INFO("in " << in << " kernel " << k << " stride " << s << " padding " << p << " dilation " << d << " ceil "
               << ceil);
    const int64_t got = ops::window_output_size(in, k, s, p, p, d, ceil);
    CHECK(got == w[static_cast<std::size_t>(2 * r)]);  // torch errors (stored as 0) where this is 0
    if (w[static_cast<std::size_t>(2 * r + 1)] >= 0) CHECK(got == w[static_cast<std::size_t>(2 * r + 1)]);
    ceil_rows += ceil;
    // and the op agrees: a valid geometry pools to that length, an invalid one throws
    const Tensor<double> x = zeros<double>({1, 1, in});
    if (got > 0) CHECK(ops::max_pool<1>(x, {{k}, {s}, {p}, {d}, ceil}, false).values.shape()[2] == got);
    else CHECK_THROWS_WITH(ops::max_pool<1>(x, {{k}, {s}, {p}, {d}, ceil}, false), Contains("too small"));
  }
  CHECK(ceil_rows * 2 == rows);
}

TEST_CASE("pooling modules: options, names, forward and forward_with_indices", "[ops][pool][nn]") {
  const Var<double> x(randn<double>({2, 3, 6, 7, 5}), true);
  nn::MaxPool3d<double> pool({.kernel_size = 2});
  CHECK(pool.type_name() == "MaxPool3d");
  CHECK(!pool.options.stride.has_value());
  CHECK(pool.options.padding == ExpandingArray<3>(0));
  CHECK(pool.options.dilation == ExpandingArray<3>(1));
  CHECK(!pool.options.ceil_mode);
  CHECK(!pool.options.return_indices);
  CHECK(pool.named_parameters().empty());
  CHECK(pool.state_dict().size() == 0);
  const Var<double> y = pool(x);
  CHECK(y.shape() == Shape{2, 3, 3, 3, 2});
  const auto [values, indices] = pool.forward_with_indices(x);
  CHECK(test::compare(values.value(), y.value(), 0.0).ok);
  CHECK(test::compare(y.value(), max_pool3d(x, 2).value(), 0.0).ok);
  pool.eval();
  CHECK(test::compare(pool(x).value(), y.value(), 0.0).ok);

  nn::MaxPool2d<double> anisotropic({.kernel_size = {3, 2}, .stride = {1, 2}, .padding = {1, 0}, .ceil_mode = true});
  CHECK(anisotropic.type_name() == "MaxPool2d");
  CHECK(anisotropic.options.stride.value() == ExpandingArray<2>({1, 2}));
  CHECK(anisotropic(Var<double>(randn<double>({1, 4, 5}))).shape() == Shape{1, 4, 3});

  nn::MaxUnpool3d<double> unpool({.kernel_size = 2});
  CHECK(unpool.type_name() == "MaxUnpool3d");
  const Var<double> restored = unpool(values, indices, std::vector<int64_t>{6, 7, 5});
  CHECK(restored.shape() == x.shape());
  // every pooled maximum comes back at its place, zeros elsewhere
  CHECK(test::compare(gather_planes(restored, indices, 3).value(), values.value(), 0.0).ok);
  CHECK(test::compare(ops::sum(restored.value()), ops::sum(values.value()), 1e-12).ok);
  CHECK_THROWS_WITH(unpool(values), Contains("MaxUnpool3d") && Contains("no single-input forward"));

  nn::AvgPool1d<double> avg1({.kernel_size = 3, .stride = 2, .padding = 1, .count_include_pad = false});
  CHECK(avg1.type_name() == "AvgPool1d");
  CHECK(avg1.options.count_include_pad == false);
  CHECK(!avg1.options.divisor_override);
  const Var<double> s1(randn<double>({2, 9}));
  CHECK(test::compare(avg1(s1).value(), avg_pool1d(s1, 3, 2, 1, false, false).value(), 0.0).ok);
  nn::AvgPool3d<double> avg3({.kernel_size = 2, .divisor_override = 3});
  CHECK(test::compare(avg3(x).value(), avg_pool3d(x, 2, std::nullopt, 0, false, true, 3).value(), 0.0).ok);
  CHECK(nn::AvgPool2d<double>({.kernel_size = 2}).type_name() == "AvgPool2d");

  nn::AdaptiveAvgPool3d<double> gap({.output_size = 1});
  CHECK(gap.type_name() == "AdaptiveAvgPool3d");
  const Var<double> g = gap(x);
  CHECK(g.shape() == Shape{2, 3, 1, 1, 1});
  CHECK(g.value().to_vector()[0] == Approx(ops::mean(x.value().select(0, 0).select(0, 0)).item()));
  nn::AdaptiveMaxPool2d<double> amp({.output_size = {2, -1}, .return_indices = true});
  CHECK(amp.type_name() == "AdaptiveMaxPool2d");
  const Var<double> x2(randn<double>({3, 5, 4}));
  CHECK(amp(x2).shape() == Shape{3, 2, 4});
  const auto amp_both = amp.forward_with_indices(x2);
  CHECK(amp_both.indices.shape() == Shape{3, 2, 4});
  CHECK(nn::AdaptiveAvgPool1d<double>({.output_size = 3}).type_name() == "AdaptiveAvgPool1d");
  CHECK(nn::AdaptiveMaxPool3d<double>({.output_size = 3}).type_name() == "AdaptiveMaxPool3d");
  CHECK(nn::MaxPool1d<double>({.kernel_size = 3}).type_name() == "MaxPool1d");
  CHECK(nn::MaxUnpool1d<double>({.kernel_size = 3}).type_name() == "MaxUnpool1d");

  // as named children: no parameters, so nothing in the state dict
  struct Net : nn::Module<double> {
    nn::MaxPool3d<double> down{this, "down", {.kernel_size = 2}};
    nn::AdaptiveAvgPool3d<double> head{this, "head", {.output_size = 1}};
  } net;
  CHECK(net.named_children().size() == 2);
  CHECK(net.named_children()[0].first == "down");
  CHECK(net.state_dict().size() == 0);

  // float works through the modules as well
  nn::MaxPool3d<float> pool_f({.kernel_size = 2});
  const Var<float> xf(randn<float>({1, 2, 4, 4, 4}), true);
  sum(pool_f(xf)).backward();
  const auto gf = xf.grad().to_vector();
  double total = 0;
  for (float v : gf) total += v;
  CHECK(total == 2 * 8);  // one 1 per output
}

TEST_CASE("pooling: errors name the op and the shapes", "[ops][pool]") {
  const Var<double> x(randn<double>({1, 2, 5, 6, 7}));
  CHECK_THROWS_WITH(max_pool3d(Var<double>(randn<double>({6, 7})), 2),
                    Contains("max_pool3d") && Contains("[6, 7]") && Contains("without the batch"));
  CHECK_THROWS_WITH(max_pool2d(x, 2), Contains("max_pool2d") && Contains("[1, 2, 5, 6, 7]"));
  CHECK_THROWS_WITH(max_pool3d(x, 2, 1, 2), Contains("max_pool3d") && Contains("at most half of kernel_size"));
  CHECK_THROWS_WITH(avg_pool3d(x, 3, 1, 2), Contains("avg_pool3d") && Contains("at most half of kernel_size"));
  CHECK_THROWS_WITH(max_pool3d(x, 6), Contains("max_pool3d") && Contains("too small") && Contains("[1, 2, 5, 6, 7]"));
  CHECK_THROWS_WITH(max_pool3d(x, 0), Contains("max_pool3d") && Contains("must be positive"));
  CHECK_THROWS_WITH(max_pool3d(x, 2, 0), Contains("must be positive"));
  CHECK_THROWS_WITH(max_pool3d(x, {2, 2}), Contains("expected 1 or 3 values"));
  CHECK_THROWS_WITH(avg_pool3d(x, 2, std::nullopt, 0, false, true, 0), Contains("avg_pool3d") && Contains("divisor_override"));
  CHECK_THROWS_WITH(adaptive_avg_pool2d(Var<double>(randn<double>({2, 0, 3, 3})), 2),
                    Contains("adaptive_avg_pool2d") && Contains("empty"));
  CHECK_THROWS_WITH(max_pool1d(Var<double>(randn<double>({2, 3, 0})), 1), Contains("max_pool1d") && Contains("empty"));
  // an empty batch is fine
  CHECK(max_pool2d(Var<double>(randn<double>({0, 2, 4, 4})), 2).shape() == Shape{0, 2, 2, 2});

  const auto [v, idx] = max_pool3d_with_indices(Var<double>(randn<double>({1, 1, 4, 4, 4})), 2);
  Tensor<int64_t> bad = idx.clone();
  bad.data()[0] = 1000;
  CHECK_THROWS_WITH(max_unpool3d(v, bad, 2), Contains("max_unpool3d") && Contains("invalid max index 1000") &&
                                                 Contains("4x4x4"));
  bad.data()[0] = -1;
  CHECK_THROWS_WITH(max_unpool3d(v, bad, 2), Contains("invalid max index -1"));
  CHECK_THROWS_WITH(max_unpool3d(v, idx, 2, std::nullopt, 0, std::vector<int64_t>{9, 9, 9}),
                    Contains("max_unpool3d") && Contains("invalid output_size") && Contains("between 3 and 5"));
  CHECK_THROWS_WITH(max_unpool3d(v, idx, 2, std::nullopt, 0, std::vector<int64_t>{4, 4}),
                    Contains("3 or 5 entries"));
  CHECK_THROWS_WITH(max_unpool3d(v, idx.reshape({1, 1, 2, 4, 1}), 2), Contains("max_unpool3d") && Contains("indices"));
  CHECK(max_unpool3d(v, idx, 2, std::nullopt, 0, std::vector<int64_t>{1, 1, 5, 5, 5}).shape() == Shape{1, 1, 5, 5, 5});
}
