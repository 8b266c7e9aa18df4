// The backward engine: accumulation, shared subgraphs, retain_graph, grad mode, detach,
// higher-order gradients (closed forms and a WGAN-GP penalty against PyTorch), allow_unused, error
// messages, dropout's mask, and gradcheck / gradgradcheck themselves catching wrong derivatives.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "support/fixtures.hpp"
#include "voxnn/autograd/autograd.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;

namespace {

template <class T>
Tensor<T> values(std::vector<T> v, Shape shape = {}) {
  return from_vector<T>(v, shape);
}

// |a - b| <= tol elementwise (a small wrapper: shapes must match exactly).
template <class T>
void require_near(const Tensor<T>& actual, const Tensor<T>& expected, double tol, const char* what) {
  test::require_close(actual, expected, tol, what);
}

// A deliberately wrong op for testing gradcheck: y = x^2 whose backward says 2.1 x.
Var<double> bad_square(const Var<double>& x) {
  return autograd::make_result<double, Cpu>(ops::mul(x.value(), x.value()), "bad_square", {x},
                                            [](const auto& in, const auto&, const auto& g) {
                                              return std::vector{mul(mul(g, in[0]), 2.1)};
                                            });
}
// y = x^3 with a correct first derivative that is not differentiable again: 3 x^2 as a constant.
Var<double> frozen_cube(const Var<double>& x) {
  return autograd::make_result<double, Cpu>(
      ops::mul(ops::mul(x.value(), x.value()), x.value()), "frozen_cube", {x},
      [](const auto& in, const auto&, const auto& g) {
        const Tensor<double> d = ops::mul(ops::mul(in[0].value(), in[0].value()), 3.0);
        return std::vector{mul(g, constant(d))};
      });
}

}  // namespace

TEMPLATE_TEST_CASE("engine: accumulation, shared inputs, retain_graph, grad mode and detach", "[autograd]", float,
                   double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  const Tensor<T> xv = values<T>({-1.5, 0.25, 2.0, 0.75}, {2, 2});

  SECTION("gradients accumulate over two backward calls until zero_grad") {
    Var<T> x(xv.clone(), true);
    sum(mul(x, x)).backward();
    require_near(x.grad(), ops::mul(xv, T(2)), tol, "first backward");
    sum(mul(x, T(3))).backward();
    require_near(x.grad(), ops::add(ops::mul(xv, T(2)), T(3)), tol, "accumulated");
    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
    sum(x).backward();
    require_near(x.grad(), ones<T>({2, 2}), tol, "after zero_grad");
  }

  SECTION("a Var used several times (a diamond) sums its gradients") {
    Var<T> x(xv.clone(), true);
    const Var<T> a = mul(x, T(2));          // shared intermediate
    const Var<T> y = sum(add(mul(a, a), exp(x)) + a);  // d/dx = 8x + exp(x) + 2
    y.backward();
    require_near(x.grad(), ops::add(ops::add(ops::mul(xv, T(8)), ops::exp(xv)), T(2)), tol * 10, "diamond");
    // the same Var as both operands of one op
    Var<T> z(xv.clone(), true);
    sum(mul(z, z) / z).backward();  // = sum(z), gradient 1 through three uses
    require_near(z.grad(), ones<T>({2, 2}), tol, "z*z/z");
  }

  SECTION("retain_graph allows a second backward; without it the second one names retain_graph") {
    Var<T> x(xv.clone(), true);
    const Var<T> y = sum(mul(exp(x), x));
    y.backward({}, /*retain_graph=*/true);
    const Tensor<T> once = x.grad().clone();
    y.backward();
    require_near(x.grad(), ops::mul(once, T(2)), tol * 10, "two backwards");
    CHECK_THROWS_AS(y.backward(), Error);
    CHECK_THROWS_WITH(y.backward(), Contains("retain_graph") && Contains("second time"));

    Var<T> w(xv.clone(), true);
    const Var<T> h = tanh(w);  // intermediate shared by two roots
    sum(h).backward();
    CHECK_THROWS_WITH(sum(mul(h, h)).backward(), Contains("retain_graph") && Contains("tanh"));
  }

  SECTION("retain_grad keeps a non-leaf's gradient; leaves keep their own copy") {
    Var<T> x(xv.clone(), true);
    Var<T> h = mul(x, T(3));
    h.retain_grad();
    sum(mul(h, h)).backward();
    require_near(h.grad(), ops::mul(ops::mul(xv, T(3)), T(2)), tol * 10, "retained");
    require_near(x.grad(), ops::mul(xv, T(18)), tol * 10, "leaf");
    // a and b receive the same upstream gradient; editing one leaf's .grad must not reach the other
    Var<T> a(xv.clone(), true), b(xv.clone(), true);
    sum(add(a, b)).backward();
    a.grad().fill_(T(7));
    require_near(b.grad(), ones<T>({2, 2}), 0.0, "b after editing a's grad");
    // the same with create_graph, where the upstream gradient is a broadcast (stride-0) view
    Var<T> c(xv.clone(), true), d(xv.clone(), true);
    sum(add(c, d)).backward({}, false, /*create_graph=*/true);
    CHECK(c.grad().is_contiguous());
    CHECK_FALSE(c.grad().shares_storage_with(d.grad()));
    c.grad().fill_(T(7));
    require_near(d.grad(), ones<T>({2, 2}), 0.0, "d after editing c's grad (create_graph)");
  }

  SECTION("NoGradGuard records nothing; EnableGradGuard turns recording back on") {
    Var<T> x(xv.clone(), true);
    {
      NoGradGuard no_grad;
      CHECK_FALSE(GradMode::enabled());
      const Var<T> y = sum(exp(mul(x, x)));
      CHECK_FALSE(y.requires_grad());
      CHECK(y.node() == nullptr);
      CHECK_THROWS_WITH(y.backward(), Contains("does not require grad"));
      {
        EnableGradGuard with_grad;
        const Var<T> z = mul(x, x);
        CHECK(z.requires_grad());
        CHECK(z.node() != nullptr);
      }
      CHECK_FALSE(GradMode::enabled());
    }
    CHECK(GradMode::enabled());
    CHECK(mul(x, x).requires_grad());
    // inputs that need no grad give results that need none
    const Var<T> c(xv.clone());
    CHECK_FALSE(exp(mul(c, c)).requires_grad());
  }

  SECTION("detach shares the value and cuts the graph") {
    Var<T> x(xv.clone(), true);
    const Var<T> d = exp(x).detach();
    CHECK_FALSE(d.requires_grad());
    CHECK(d.is_leaf());
    const Var<T> y = sum(mul(d, x));  // d is a constant here: gradient exp(x)
    y.backward();
    require_near(x.grad(), ops::exp(xv), tol, "through detach");
    const Var<T> e = x.detach();
    CHECK(e.value().shares_storage_with(x.value()));
  }

  SECTION("several outputs and explicit grad_outputs") {
    Var<T> x(xv.clone(), true);
    const Var<T> y1 = mul(x, T(2));
    const Var<T> y2 = sum(mul(x, x));
    const Tensor<T> g1 = values<T>({1, -1, 0.5, 2}, {2, 2});
    const auto g = grad<T, Cpu>({y1, y2}, {x}, {g1, Tensor<T>()});
    require_near(g[0].value(), ops::add(ops::mul(g1, T(2)), ops::mul(xv, T(2))), tol, "sum over outputs");
    CHECK_FALSE(x.grad().defined());  // grad() does not touch .grad
  }
}

TEMPLATE_TEST_CASE("engine: higher-order gradients", "[autograd]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-11;
  const Tensor<T> xv = values<T>({-1.5, 0.5, 2.0, 1.25, -0.75});

  SECTION("d/dx, d2/dx2 and d3/dx3 of x^3 are 3x^2, 6x and 6") {
    for (int form = 0; form < 2; ++form) {
      INFO((form ? "pow(x, 3)" : "x * x * x"));
      Var<T> x(xv.clone(), true);
      const Var<T> y = sum(form ? pow(x, T(3)) : mul(mul(x, x), x));
      const Var<T> d1 = grad<T, Cpu>({y}, {x}, {}, false, true)[0];
      CHECK(d1.requires_grad());
      require_near(d1.value(), ops::mul(ops::mul(xv, xv), T(3)), tol, "first");
      const Var<T> d2 = grad<T, Cpu>({sum(d1)}, {x}, {}, false, true)[0];
      require_near(d2.value(), ops::mul(xv, T(6)), tol, "second");
      const Var<T> d3 = grad<T, Cpu>({sum(d2)}, {x}, {}, false, false)[0];
      require_near(d3.value(), full<T>({5}, T(6)), tol, "third");
      CHECK_FALSE(d3.requires_grad());
    }
  }

  SECTION("backward(create_graph) leaves a differentiable .grad") {
    Var<T> x(xv.clone(), true);
    sum(mul(mul(x, x), x)).backward({}, false, true);
    const Var<T> g = x.grad_var();
    REQUIRE(g.requires_grad());
    x.zero_grad();
    sum(g).backward();  // d/dx sum(3 x^2) = 6x
    require_near(x.grad(), ops::mul(xv, T(6)), tol, "grad of grad");
  }

  SECTION("WGAN-GP penalty through torch.autograd.grad(create_graph=True)") {
    const auto cases = test::fixture_cases("autograd_nn.safetensors", "wgan_gp");
    for (const auto& c : cases) {
      INFO("case " << c.name());
      Var<T> x(c.input<T>(0), true), w1(c.input<T>(1), true), b1(c.input<T>(2), true), w2(c.input<T>(3), true),
          b2(c.input<T>(4), true);
      const Var<T> out = linear(tanh(linear(x, w1, b1)), w2, b2);
      c.check<T>(out.value(), 0);
      const Var<T> gx = grad<T, Cpu>({out}, {x}, {ones<T>(out.shape())}, false, true)[0];
      c.check<T>(gx.value(), 1);
      const Var<T> gp = mean(square(norm(gx, 2.0, {1}) - T(1)));
      c.check<T>(gp.value(), 2);
      CHECK_THROWS_WITH((grad<T, Cpu>({gp}, {w1, b1, w2, b2}, {}, true)),
                        Contains("input 3") && Contains("allow_unused"));
      const auto g = grad<T, Cpu>({gp}, {w1, b1, w2, b2}, {}, false, false, /*allow_unused=*/true);
      REQUIRE(g.size() == 4);
      CHECK_FALSE(g[3].defined());  // b2 does not reach the penalty
      for (int k = 0; k < 3; ++k) {
        REQUIRE(g[static_cast<std::size_t>(k)].defined());
        c.check<T>(g[static_cast<std::size_t>(k)].value(), 3 + k);
      }
      if constexpr (std::is_same_v<T, double>) {
        // the penalty's parameter gradient (a third-order graph) against finite differences
        const GradcheckFn penalty = [&](const std::vector<Var<double>>& p) {
          EnableGradGuard with_grad;  // gradcheck evaluates f under NoGradGuard; the inner grad needs a graph
          const Var<double> xx(x.value(), true);
          const Var<double> o = linear(tanh(linear(xx, p[0], p[1])), p[2], b2.detach());
          const Var<double> d = grad<double, Cpu>({o}, {xx}, {ones<double>(o.shape())}, false, true)[0];
          return mean(square(norm(d, 2.0, {1}) - 1.0));
        };
        const auto r = gradcheck(penalty, {w1.detach().requires_grad_(), b1.detach().requires_grad_(),
                                           w2.detach().requires_grad_()});
        INFO(r.message);
        CHECK(r.ok);
      }
    }
  }
}

TEST_CASE("engine: allow_unused and error messages", "[autograd]") {
  Var<double> x(values<double>({1, 2, 3, 4, 5, 6}, {2, 3}), true);
  Var<double> unused(values<double>({1, 2}), true);

  SECTION("an input the outputs do not depend on") {
    const Var<double> y = sum(mul(x, x));
    CHECK_THROWS_WITH((grad<double, Cpu>({y}, {x, unused}, {}, true)),
                      Contains("input 1") && Contains("[2]") && Contains("allow_unused"));
    const auto g = grad<double, Cpu>({y}, {x, unused}, {}, false, false, true);
    CHECK(g[0].defined());
    CHECK_FALSE(g[1].defined());
  }
  SECTION("backward on a non-scalar without a gradient names its shape") {
    const Var<double> y = mul(x, 2.0);
    CHECK_THROWS_AS(y.backward(), Error);
    CHECK_THROWS_WITH(y.backward(), Contains("[2, 3]") && Contains("gradient"));
    CHECK_THROWS_WITH((grad<double, Cpu>({y}, {x})), Contains("grad_output") && Contains("[2, 3]"));
  }
  SECTION("a gradient of the wrong shape") {
    const Var<double> y = mul(x, 2.0);
    CHECK_THROWS_WITH(y.backward(ones<double>({3, 2})), Contains("[3, 2]") && Contains("[2, 3]"));
    CHECK_THROWS_WITH((grad<double, Cpu>({y}, {x}, {ones<double>({6})})), Contains("[6]") && Contains("[2, 3]"));
  }
  SECTION("outputs and inputs that do not require grad") {
    const Var<double> c(ones<double>({2}));
    CHECK_THROWS_WITH(sum(c).backward(), Contains("does not require grad"));
    CHECK_THROWS_WITH((grad<double, Cpu>({sum(x)}, {c})), Contains("input 0") && Contains("does not require grad"));
  }
  SECTION("undefined Vars and non-leaf requires_grad_(false)") {
    const Var<double> none;
    CHECK_FALSE(none.defined());
    CHECK_THROWS_WITH(none.value(), Contains("undefined Var"));
    Var<double> h = mul(x, 2.0);
    CHECK_THROWS_WITH(h.requires_grad_(false), Contains("leaf"));
  }
  SECTION("op errors name the op and the shapes") {
    const Var<double> a(ones<double>({2, 3}), true), b(ones<double>({4, 5}), true);
    CHECK_THROWS_WITH(matmul(a, b), Contains("[2, 3]") && Contains("[4, 5]"));
    CHECK_THROWS_WITH(add(a, b), Contains("[2, 3]") && Contains("[4, 5]"));
    CHECK_THROWS_WITH(linear(a, b), Contains("linear") && Contains("[2, 3]") && Contains("[4, 5]"));
    CHECK_THROWS_WITH(bmm(a, b), Contains("bmm"));
    CHECK_THROWS_WITH(softmax(a, 2), Contains("softmax"));
    CHECK_THROWS_WITH(gelu(a, "fast"), Contains("gelu") && Contains("fast"));
    CHECK_THROWS_WITH(prelu(a, Var<double>(ones<double>({2}))), Contains("prelu") && Contains("[2, 3]"));
    CHECK_THROWS_WITH(dropout(a, 1.5, true), Contains("dropout") && Contains("1.5"));
  }
}

TEST_CASE("dropout: statistics, scaling and the same mask forward and backward", "[autograd]") {
  const int64_t n = 200000;
  for (double p : {0.1, 0.5, 0.8}) {
    INFO("p = " << p);
    Generator gen(42);
    Var<double> x(full<double>({n}, 2.0), true);
    const Var<double> y = dropout(x, p, true, gen);
    const std::vector<double> out = y.value().to_vector();
    const double scale = 1.0 / (1.0 - p);
    int64_t zeros_count = 0;
    bool values_ok = true;
    for (double v : out) {
      if (v == 0) ++zeros_count;
      else values_ok = values_ok && std::abs(v - 2.0 * scale) < 1e-12;
    }
    CHECK(values_ok);  // survivors are scaled by 1 / (1 - p)
    // The dropped fraction is binomial: within 5 standard deviations of p.
    const double frac = static_cast<double>(zeros_count) / static_cast<double>(n);
    CHECK(std::abs(frac - p) < 5 * std::sqrt(p * (1 - p) / static_cast<double>(n)));
    // The gradient uses the forward mask: d sum(y) / dx = y / x elementwise.
    sum(y).backward();
    const std::vector<double> gx = x.grad().to_vector();
    bool same_mask = true;
    for (int64_t i = 0; i < n; ++i)
      same_mask = same_mask && gx[static_cast<std::size_t>(i)] == out[static_cast<std::size_t>(i)] / 2.0;
    CHECK(same_mask);
    // the same seed gives the same mask; the generator advances between draws
    Generator again(42);
    const Var<double> y2 = dropout(Var<double>(full<double>({n}, 2.0)), p, true, again);
    CHECK(y2.value().to_vector() == out);
    const Var<double> y3 = dropout(Var<double>(full<double>({n}, 2.0)), p, true, again);
    CHECK(y3.value().to_vector() != out);
  }
  Var<double> x(values<double>({1, -2, 3}), true);
  SECTION("evaluation mode and p = 0 are the identity; p = 1 drops everything") {
    const Var<double> e = dropout(x, 0.5, false);
    CHECK(e.value().to_vector() == x.value().to_vector());
    CHECK(dropout(x, 0.0, true).value().to_vector() == x.value().to_vector());
    const Var<double> all = dropout(x, 1.0, true);
    CHECK(all.value().to_vector() == std::vector<double>{0, 0, 0});
    sum(all).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{0, 0, 0});
  }
  SECTION("with a fixed mask dropout passes gradcheck and gradgradcheck") {
    const GradcheckFn f = [](const std::vector<Var<double>>& v) {
      Generator gen(3);  // the same mask on every evaluation
      return dropout(mul(v[0], v[0]), 0.4, true, gen);
    };
    const Var<double> in(randn<double>({4, 5}), true);
    CHECK(gradcheck(f, {in}).ok);
    CHECK(gradgradcheck(f, {in}).ok);
  }
  SECTION("float draws too") {
    Generator gen(7);
    const Var<float> y = dropout(Var<float>(ones<float>({10000}), true), 0.25, true, gen);
    int64_t kept = 0;
    for (float v : y.value().to_vector()) kept += v != 0;
    CHECK(std::abs(static_cast<double>(kept) / 10000.0 - 0.75) < 5 * std::sqrt(0.25 * 0.75 / 10000.0));
  }
}

TEST_CASE("engine: a very deep graph is freed without exhausting the stack", "[autograd]") {
  // A million-link chain never given to backward (say, a loss summed over many steps in grad mode):
  // freeing it recursively would overflow the stack.
  Var<float> x(ones<float>({1}), true);
  {
    Var<float> y = x;
    for (int i = 0; i < 1000000; ++i) y = add(y, 1.0f);
    CHECK(y.item() == 1000001.0f);
  }
  // and a deep chain still backpropagates
  Var<float> y = x;
  for (int i = 0; i < 100000; ++i) y = mul(y, 1.0f);
  y.backward();
  CHECK(x.grad().item() == 1.0f);
}

TEST_CASE("gradcheck and gradgradcheck catch wrong derivatives", "[autograd][gradcheck]") {
  const Var<double> x(values<double>({0.5, -1.25, 2.0}), true);
  SECTION("a wrong first derivative") {
    const auto r = gradcheck([](const auto& v) { return bad_square(v[0]); }, {x});
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.message, Contains("input 0") && Contains("[3]"));
    CHECK(r.max_abs_error > 0.01);
    CHECK(gradcheck([](const auto& v) { return mul(v[0], v[0]); }, {x}).ok);
  }
  SECTION("a first derivative that is right but not differentiable again") {
    const auto f = [](const std::vector<Var<double>>& v) { return frozen_cube(v[0]); };
    CHECK(gradcheck(f, {x}).ok);
    const auto r = gradgradcheck(f, {x});
    CHECK_FALSE(r.ok);
    CHECK(gradgradcheck([](const auto& v) { return mul(mul(v[0], v[0]), v[0]); }, {x}).ok);
  }
  SECTION("inputs that do not require grad are left alone") {
    const Var<double> c(values<double>({1.0, 2.0, 3.0}));
    const auto r = gradcheck([](const auto& v) { return mul(v[0], v[1]); }, {x, c});
    CHECK(r.ok);
  }
}
