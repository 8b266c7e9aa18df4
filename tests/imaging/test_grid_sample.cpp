// grid_sample and affine_grid: values and gradients (input and grid; theta) against PyTorch in float
// and double, gradcheck in double (gradgradcheck through the input gradient), the adjoint identity
// and thread-count independence on larger inputs, closed forms (integer shifts, the identity affine
// grid), NaN / infinite grid points, and the errors. Fixtures: tests/fixtures/gen_imaging_grid.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/autograd/functions/grid_sample.hpp"
#include "voxnn/core/random.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;
using test::FixtureCase;

namespace {

const char* const kFile = "imaging_grid.safetensors";

GridSampleOptions options_of(const FixtureCase& c) {
  return {.mode = c.string("mode"), .padding_mode = c.string("padding_mode"), .align_corners = c.flag("align_corners")};
}

double dot(const Tensor<double>& a, const Tensor<double>& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  REQUIRE(va.size() == vb.size());
  double s = 0;
  for (std::size_t i = 0; i < va.size(); ++i) s += va[i] * vb[i];
  return s;
}

// identity grid (align_corners = true) of a 3-D input of spatial size (D, H, W), shifted by whole voxels
Tensor<double> shifted_identity(int64_t D, int64_t H, int64_t W, int64_t sz, int64_t sy, int64_t sx) {
  Tensor<double> g(Shape{1, D, H, W, 3});
  for (int64_t d = 0; d < D; ++d)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w) {
        g.at({0, d, h, w, 0}) = 2.0 * static_cast<double>(w + sx) / static_cast<double>(W - 1) - 1.0;
        g.at({0, d, h, w, 1}) = 2.0 * static_cast<double>(h + sy) / static_cast<double>(H - 1) - 1.0;
        g.at({0, d, h, w, 2}) = 2.0 * static_cast<double>(d + sz) / static_cast<double>(D - 1) - 1.0;
      }
  return g;
}

}  // namespace

TEMPLATE_TEST_CASE("grid_sample matches PyTorch, input and grid gradients included", "[imaging][grid_sample]", float,
                   double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "grid_sample")) {
    INFO("case " << c.name());
    ++count;
    const Var<T> x(c.input<T>(0), true), g(c.input<T>(1), true);
    const GridSampleOptions o = options_of(c);
    const Var<T> y = grid_sample(x, g, o);
    c.check<T>(y.value(), 0);
    c.check<T>(ops::grid_sample(c.input<T>(0), c.input<T>(1), o), 0);
    const auto grads = grad<T, Cpu>({y}, {x, g}, {c.input<T>(2)});
    REQUIRE(grads.size() == 2);
    c.check<T>(grads[0].value(), 1);
    c.check<T>(grads[1].value(), 2);
    // each gradient alone (the kernels skip the other)
    const Var<T> xc(c.input<T>(0)), gc(c.input<T>(1));
    c.check<T>(grad<T, Cpu>({grid_sample(x, gc, o)}, {x}, {c.input<T>(2)})[0].value(), 1);
    c.check<T>(grad<T, Cpu>({grid_sample(xc, g, o)}, {g}, {c.input<T>(2)})[0].value(), 2);
  }
  CHECK(count >= 51);
}

TEMPLATE_TEST_CASE("affine_grid matches PyTorch, theta gradient included", "[imaging][grid_sample]", float, double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "affine_grid")) {
    INFO("case " << c.name());
    ++count;
    const Var<T> theta(c.input<T>(0), true);
    const std::vector<int64_t> size = c.ints("size");
    const Var<T> y = affine_grid(theta, size, c.flag("align_corners"));
    c.check<T>(y.value(), 0);
    c.check<T>(ops::affine_grid(c.input<T>(0), size, c.flag("align_corners")), 0);
    const auto grads = grad<T, Cpu>({y}, {theta}, {c.input<T>(1)});
    c.check<T>(grads[0].value(), 1);
  }
  CHECK(count == 6);
}

TEST_CASE("grid_sample: gradcheck on the fixture cases, gradgradcheck through the input", "[imaging][grid_sample][gradcheck]") {
  const io::TensorFile& file = test::fixture_file(kFile);
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "grid_sample")) {
    if (c.has("nogradcheck")) continue;
    INFO("case " << c.name());
    ++count;
    const auto& inputs = c.param("inputs").array();
    const auto& views = c.param("views").array();
    const GridSampleOptions o = options_of(c);
    const Var<double> x(file.get<double>(inputs.at(0).string()), true), g(file.get<double>(inputs.at(1).string()), true);
    // both inputs; to second order except for bicubic (whose grid gradient has no derivative)
    const GradcheckFn both = [&](const std::vector<Var<double>>& v) {
      return grid_sample(test::apply_views_var(v[0], views.at(0)), test::apply_views_var(v[1], views.at(1)), o);
    };
    test::check_gradients(both, {x, g}, o.mode == "bicubic");
    // the input alone, to second order: the input gradient is the adjoint, differentiable again
    const Var<double> fixed = test::apply_views_var(Var<double>(g.value()), views.at(1));
    const GradcheckFn input_only = [&](const std::vector<Var<double>>& v) {
      return grid_sample(test::apply_views_var(v[0], views.at(0)), fixed, o);
    };
    test::check_gradients(input_only, {x});
    // the adjoint itself in (grad_output, grid)
    const ops::GridSamplePlan plan = ops::plan_grid_sample(c.input<double>(0).shape(), fixed.shape(), o);
    const GradcheckFn adjoint = [&](const std::vector<Var<double>>& v) {
      return grid_sample_input_grad(v[0], test::apply_views_var(v[1], views.at(1)), plan);
    };
    test::check_gradients(adjoint, {Var<double>(c.input<double>(2), true), g}, true);
  }
  CHECK(count >= 38);
}

TEST_CASE("affine_grid: gradcheck and gradgradcheck", "[imaging][grid_sample][gradcheck]") {
  for (const auto& c : test::fixture_cases(kFile, "affine_grid")) {
    INFO("case " << c.name());
    const std::vector<int64_t> size = c.ints("size");
    const bool align = c.flag("align_corners");
    const GradcheckFn f = [&](const std::vector<Var<double>>& v) { return affine_grid(v[0], size, align); };
    test::check_gradients(f, {Var<double>(c.input<double>(0), true)});
    const GradcheckFn b = [&](const std::vector<Var<double>>& v) { return affine_grid_backward(v[0], size, align); };
    test::check_gradients(b, {Var<double>(c.expected<double>(0), true)});
  }
}

TEST_CASE("grid_sample: second derivatives through the grid gradient; what is not provided throws", "[imaging][grid_sample]") {
  Generator gen(3);
  const Var<double> x(randn<double>({1, 2, 4, 5}, gen), true);
  const Var<double> g(rand<double>({1, 3, 3, 2}, gen, -1.0, 1.0), true);
  for (const char* mode : {"bilinear", "bicubic"}) {
    INFO(mode);
    const Var<double> y = sum(square(grid_sample(x, g, {.mode = mode})));
    const auto first = grad<double, Cpu>({y}, {x, g}, {}, false, true);
    REQUIRE(first.size() == 2);
    // through the input gradient: fine (it is the adjoint, differentiable in grad_output and grid)
    CHECK_NOTHROW(grad<double, Cpu>({sum(square(first[0]))}, {x, g}, {}, true, false));
    const Var<double> penalty = sum(square(first[1]));
    auto second = [&](bool create) { return grad<double, Cpu>({penalty}, {x, g}, {}, true, create); };
    if (std::string(mode) == "bicubic") {
      CHECK_THROWS_WITH(second(false), Contains("grid_sample") && Contains("double backward") &&
                                           Contains("bicubic") && Contains("[1, 3, 3, 2]"));
      continue;
    }
    CHECK_NOTHROW(second(false));
    // a third derivative through the grid gradient is not provided
    const auto gg = second(true);
    const Var<double> third = sum(square(gg[1]));
    auto run_third = [&] { return grad<double, Cpu>({third}, {x, g}); };
    CHECK_THROWS_WITH(run_third(), Contains("grid_sample") && Contains("third derivative"));
  }
}

TEST_CASE("grid_sample: adjoint identity, fused and separate gradients, any thread count", "[imaging][grid_sample]") {
  Generator gen(5);
  struct Setup {
    Shape input, grid;
  };
  const Setup setups[] = {{{1, 3, 9, 11, 13}, {1, 7, 12, 10, 3}}, {{3, 2, 8, 9, 10}, {3, 5, 6, 9, 3}},
                          {{1, 2, 33, 41}, {1, 29, 37, 2}}, {{2, 1, 17, 19}, {2, 13, 30, 2}}};
  const int threads = num_threads();
  for (const auto& s : setups) {
    const Tensor<double> x = randn<double>(s.input, gen);
    const Tensor<double> grid = rand<double>(s.grid, gen, -1.15, 1.15);
    for (const char* mode : {"bilinear", "nearest", "bicubic"})
      for (const char* padding : {"zeros", "border", "reflection"})
        for (bool align : {false, true}) {
          if (std::string(mode) == "bicubic" && s.input.size() == 5) continue;
          INFO(s.input << " " << mode << " " << padding << " " << align);
          const GridSampleOptions o{.mode = mode, .padding_mode = padding, .align_corners = align};
          const ops::GridSamplePlan plan = ops::plan_grid_sample(s.input, s.grid, o);
          const Tensor<double> y = ops::grid_sample_forward(x, grid, plan);
          const Tensor<double> go = randn<double>(y.shape(), gen);
          const auto [gi, gg] = ops::grid_sample_backward(go, x, grid, plan, true, true);
          CHECK(dot(y, go) == Approx(dot(x, gi)).epsilon(1e-12));
          const auto only_in = ops::grid_sample_backward(go, x, grid, plan, true, false);
          const auto only_grid = ops::grid_sample_backward(go, x, grid, plan, false, true);
          CHECK(!only_in.second.defined());
          CHECK(!only_grid.first.defined());
          test::require_close(only_in.first, gi, 1e-13);
          test::require_close(only_grid.second, gg, 1e-12);  // the fused pass may contract differently
          set_num_threads(1);
          const Tensor<double> y1 = ops::grid_sample_forward(x, grid, plan);
          const auto [gi1, gg1] = ops::grid_sample_backward(go, x, grid, plan, true, true);
          set_num_threads(threads);
          test::require_equal(y1, y);
          test::require_equal(gg1, gg);
          test::require_close(gi1, gi, 1e-13);
        }
  }
  // a displacement field (identity + up to a voxel): threads scatter straight into the result
  const Tensor<double> x = randn<double>({1, 2, 24, 20, 22}, gen);
  Tensor<double> grid = rand<double>({1, 24, 20, 22, 3}, gen, -1.0, 1.0);
  const int64_t size[3] = {22, 20, 24};
  for (int64_t d = 0; d < 24; ++d)
    for (int64_t h = 0; h < 20; ++h)
      for (int64_t w = 0; w < 22; ++w) {
        const int64_t pos[3] = {w, h, d};
        for (int64_t k = 0; k < 3; ++k) {
          double& v = grid.at({0, d, h, w, k});
          v = 2.0 * (static_cast<double>(pos[k]) + v) / static_cast<double>(size[k] - 1) - 1.0;
        }
      }
  for (bool align : {false, true}) {
    const ops::GridSamplePlan plan = ops::plan_grid_sample(x.shape(), grid.shape(), {.align_corners = align});
    const Tensor<double> go = randn<double>(x.shape(), gen);
    const auto [gi, gg] = ops::grid_sample_backward(go, x, grid, plan, true, true);
    set_num_threads(1);
    const auto [gi1, gg1] = ops::grid_sample_backward(go, x, grid, plan, true, true);
    set_num_threads(threads);
    test::require_close(gi1, gi, 1e-13);  // the segments' sums meet in another order
    test::require_equal(gg1, gg);
    CHECK(dot(ops::grid_sample_forward(x, grid, plan), go) == Approx(dot(x, gi)).epsilon(1e-12));
  }
}

TEST_CASE("grid_sample: integer voxel shifts with align_corners are exact", "[imaging][grid_sample]") {
  Generator gen(9);
  // sizes with S - 1 a power of two, so the normalised grid is exact in binary
  const Tensor<double> x = randn<double>({1, 2, 5, 9, 3}, gen);
  const Tensor<double> g = shifted_identity(5, 9, 3, 1, -2, 1);
  for (const char* mode : {"bilinear", "nearest"}) {
    const Tensor<double> y = ops::grid_sample(x, g, {.mode = mode, .align_corners = true});
    const Tensor<float> yf = ops::grid_sample(ops::cast<float>(x), ops::cast<float>(g),
                                              {.mode = mode, .align_corners = true});
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t d = 0; d < 5; ++d)
        for (int64_t h = 0; h < 9; ++h)
          for (int64_t w = 0; w < 3; ++w) {
            const int64_t sd = d + 1, sh = h - 2, sw = w + 1;
            const bool in = sd < 5 && sh >= 0 && sw < 3;
            const double want = in ? x.at({0, c, sd, sh, sw}) : 0.0;
            REQUIRE(y.at({0, c, d, h, w}) == want);
            REQUIRE(yf.at({0, c, d, h, w}) == static_cast<float>(want));
          }
  }
  // 2-D, border padding: rows beyond the edge repeat the last one
  const Tensor<double> x2 = randn<double>({1, 1, 3, 5}, gen);
  Tensor<double> g2(Shape{1, 3, 5, 2});
  for (int64_t h = 0; h < 3; ++h)
    for (int64_t w = 0; w < 5; ++w) {
      g2.at({0, h, w, 0}) = 2.0 * static_cast<double>(w - 2) / 4.0 - 1.0;
      g2.at({0, h, w, 1}) = 2.0 * static_cast<double>(h) / 2.0 - 1.0;
    }
  const Tensor<double> y2 = ops::grid_sample(x2, g2, {.padding_mode = "border", .align_corners = true});
  for (int64_t h = 0; h < 3; ++h)
    for (int64_t w = 0; w < 5; ++w) REQUIRE(y2.at({0, 0, h, w}) == x2.at({0, 0, h, std::max<int64_t>(w - 2, 0)}));
}

TEST_CASE("grid_sample: the identity affine grid reproduces the input", "[imaging][grid_sample]") {
  Generator gen(13);
  for (bool align : {false, true}) {
    const Tensor<double> x3 = randn<double>({2, 3, 4, 6, 5}, gen);
    Tensor<double> t3 = zeros<double>({2, 3, 4});
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < 3; ++i) t3.at({n, i, i}) = 1.0;
    const std::vector<int64_t> size3{2, 3, 4, 6, 5};
    const Tensor<double> y3 = ops::grid_sample(x3, ops::affine_grid(t3, size3, align), {.align_corners = align});
    test::require_close(y3, x3, 1e-12);
    const Tensor<double> x2 = randn<double>({1, 2, 7, 4}, gen);
    Tensor<double> t2 = zeros<double>({1, 2, 3});
    t2.at({0, 0, 0}) = t2.at({0, 1, 1}) = 1.0;
    const Var<double> theta(t2);
    const Var<double> grid = affine_grid(theta, {1, 2, 7, 4}, align);
    test::require_close(grid_sample(Var<double>(x2), grid, {.mode = "bicubic", .align_corners = align}).value(), x2, 1e-12);
    test::require_close(grid_sample(Var<double>(x2), grid, {.mode = "nearest", .align_corners = align}).value(), x2, 0.0);
  }
}

TEST_CASE("grid_sample: NaN and infinite grid points read as out of bounds", "[imaging][grid_sample]") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> bad{nan, inf, -inf, 1e30, -1e30, 3e9};
  for (const char* padding : {"zeros", "border", "reflection"})
    for (const char* mode : {"bilinear", "nearest", "bicubic"})
      for (int dim : {2, 3}) {
        if (dim == 3 && std::string(mode) == "bicubic") continue;
        INFO(padding << " " << mode << " " << dim);
        const Shape in = dim == 2 ? Shape{1, 2, 4, 5} : Shape{1, 2, 3, 4, 5};
        const Var<double> x(ones<double>(in), true);
        const auto n = static_cast<int64_t>(bad.size());
        Tensor<double> gt = dim == 2 ? zeros<double>({1, 1, n, 2}) : zeros<double>({1, 1, 1, n, 3});
        for (int64_t i = 0; i < n; ++i) gt.data()[i * dim] = bad[static_cast<std::size_t>(i)];
        const Var<double> g(gt, true);
        const Var<double> y = grid_sample(x, g, {.mode = mode, .padding_mode = padding});
        const auto grads = grad<double, Cpu>({sum(y)}, {x, g});
        const auto v = y.value().to_vector();
        // NaN: no voxel, whatever the padding
        CHECK(v[0] == 0.0);
        CHECK(v[static_cast<std::size_t>(n)] == 0.0);
        for (double e : v) CHECK(std::isfinite(e));
        for (double e : grads[0].value().to_vector()) CHECK(std::isfinite(e));
        for (double e : grads[1].value().to_vector()) CHECK(std::isfinite(e));
        if (std::string(padding) == "zeros")
          for (double e : v) CHECK(e == 0.0);
        // border: +inf clips to the last column (all ones here)
        if (std::string(padding) == "border" && std::string(mode) != "bicubic") CHECK(v[1] == 1.0);
      }
}

TEST_CASE("grid_sample and affine_grid: errors name the op and the shapes", "[imaging][grid_sample]") {
  const Var<double> x(zeros<double>({2, 3, 8, 8})), x3(zeros<double>({2, 3, 4, 8, 8}));
  CHECK_THROWS_WITH(grid_sample(Var<double>(zeros<double>({3, 8, 8})), Var<double>(zeros<double>({1, 4, 5, 2}))),
                    Contains("grid_sample: input has 3 dims [3, 8, 8]"));
  CHECK_THROWS_WITH(grid_sample(x, Var<double>(zeros<double>({1, 4, 5, 2}))),
                    Contains("grid_sample: grid has shape [1, 4, 5, 2]; expected [N, H_out, W_out, 2] with N = 2 as "
                             "input [2, 3, 8, 8]"));
  CHECK_THROWS_WITH(grid_sample(x, Var<double>(zeros<double>({2, 4, 5, 3}))), Contains("[2, 4, 5, 3]"));
  CHECK_THROWS_WITH(grid_sample(x3, Var<double>(zeros<double>({2, 4, 5, 2}))),
                    Contains("[N, D_out, H_out, W_out, 3]") && Contains("[2, 3, 4, 8, 8]"));
  CHECK_THROWS_WITH(grid_sample(x3, Var<double>(zeros<double>({2, 1, 4, 5, 2}))), Contains("[2, 1, 4, 5, 2]"));
  const Var<double> g(zeros<double>({2, 4, 5, 2})), g3(zeros<double>({2, 1, 4, 5, 3}));
  CHECK_THROWS_WITH(grid_sample(x, g, {.mode = "trilinear"}), Contains("unknown mode 'trilinear'") && Contains("[2, 3, 8, 8]"));
  CHECK_THROWS_WITH(grid_sample(x, g, {.padding_mode = "reflect"}), Contains("unknown padding_mode 'reflect'"));
  CHECK_THROWS_WITH(grid_sample(x3, g3, {.mode = "bicubic"}), Contains("bicubic") && Contains("[2, 3, 4, 8, 8]"));
  CHECK_THROWS_WITH(grid_sample(Var<double>(zeros<double>({2, 3, 0, 8})), g), Contains("empty spatial dim"));
  CHECK_NOTHROW(grid_sample(x3, g3, {.mode = "nearest", .padding_mode = "reflection", .align_corners = true}));

  const Var<double> t2(zeros<double>({2, 2, 3})), t3(zeros<double>({2, 3, 4}));
  CHECK_THROWS_WITH(affine_grid(t2, {2, 3, 4, 5, 6}), Contains("affine_grid: theta has shape [2, 2, 3]; expected [2, 3, 4]") &&
                                                          Contains("[2, 3, 4, 5, 6]"));
  CHECK_THROWS_WITH(affine_grid(t3, {2, 3, 4, 5}), Contains("expected [2, 2, 3]"));
  CHECK_THROWS_WITH(affine_grid(t2, {1, 3, 4, 5}), Contains("expected [1, 2, 3]"));
  CHECK_THROWS_WITH(affine_grid(t2, {2, 3, 4}), Contains("affine_grid: size [2, 3, 4] has 3 values"));
  CHECK(affine_grid(t3, {2, 1, 2, 3, 4}).shape() == Shape{2, 2, 3, 4, 3});
}
