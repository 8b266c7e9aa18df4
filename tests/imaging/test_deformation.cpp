// Registration layers and deformation utilities: values and gradients against voxelmorph 0.2's torch
// layers (SpatialTransformer, VecInt, ResizeTransform, py/utils.jacobian_determinant), MONAI 1.3.2's
// Warp and DVF2DDF and a PyTorch composition, in float and double; gradcheck in double; closed forms
// (integer shifts, constant and affine fields, affine Jacobians); the modules' state and the errors.
// Fixtures: tests/fixtures/gen_imaging_deformation.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/functions/deformation.hpp"
#include "voxnn/autograd/functions/grid_sample.hpp"
#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/nn/spatial_transformer.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;
using test::FixtureCase;

namespace {

const char* const kFile = "imaging_deformation.safetensors";
const std::vector<const char*> kGradOps = {"spatial_transformer", "warp",    "vec_int",
                                           "dvf2ddf",             "resize_transform", "compose",
                                           "jacobian_determinant"};

template <class T>
std::vector<int64_t> spatial(const Var<T>& x) {
  return std::vector<int64_t>(x.shape().begin() + 2, x.shape().end());
}

// The case's op through the free functions.
template <class T>
Var<T> run_function(const FixtureCase& c, const std::vector<Var<T>>& x) {
  const std::string op = c.op();
  if (op == "spatial_transformer") return spatial_transform(x[0], x[1], c.string("mode"));
  if (op == "warp") return spatial_transform(x[0], x[1], c.string("mode"), c.string("padding_mode"));
  if (op == "vec_int" || op == "dvf2ddf") return vec_int(x[0], c.integer("nsteps"));
  if (op == "resize_transform") return resize_displacement(x[0], c.real("factor"));
  if (op == "compose") return compose_displacements(x[0], x[1], c.string("mode"), c.string("padding_mode"));
  if (op == "jacobian_determinant") return jacobian_determinant(x[0]);
  FAIL("unknown op " << op);
  return x[0];
}

// The case's op through the voxelmorph modules, where one exists (else undefined).
template <class T>
Var<T> run_module(const FixtureCase& c, const std::vector<Var<T>>& x) {
  const std::string op = c.op();
  if (op == "spatial_transformer") {
    nn::SpatialTransformer<T> m({.size = spatial(x[1]), .mode = c.string("mode")});
    return m(x[0], x[1]);
  }
  if (op == "vec_int") {
    nn::VecInt<T> m({.inshape = spatial(x[0]), .nsteps = c.integer("nsteps")});
    return m(x[0]);
  }
  if (op == "resize_transform") {
    nn::ResizeTransform<T> m({.vel_resize = c.real("vel_resize"), .ndims = x[0].dim() - 2});
    return m(x[0]);
  }
  return {};
}

std::vector<FixtureCase> grad_cases() {
  std::vector<FixtureCase> out;
  for (const char* op : kGradOps)
    for (auto& c : test::fixture_cases(kFile, op)) out.push_back(std::move(c));
  return out;
}

// The differentiable inputs of a gradient case (all but the trailing grad_output).
int num_args(const FixtureCase& c) { return c.num_inputs() - 1; }

}  // namespace

TEMPLATE_TEST_CASE("deformation: values and gradients match voxelmorph, MONAI and PyTorch", "[imaging][deformation]",
                   float, double) {
  using T = TestType;
  int count = 0, modules = 0;
  for (const auto& c : grad_cases()) {
    INFO("case " << c.name());
    ++count;
    std::vector<Var<T>> x;
    for (int i = 0; i < num_args(c); ++i) x.emplace_back(c.input<T>(i), true);
    const Tensor<T> gout = c.input<T>(num_args(c));
    const std::vector<int64_t> wrt = c.ints("grad");
    std::vector<Var<T>> leaves;
    for (int64_t i : wrt) leaves.push_back(x[static_cast<std::size_t>(i)]);

    const Var<T> y = run_function(c, x);
    c.check<T>(y.value(), 0);
    const auto grads = grad<T, Cpu>({y}, leaves, {gout});
    REQUIRE(grads.size() == wrt.size());
    for (std::size_t k = 0; k < grads.size(); ++k) c.check<T>(grads[k].value(), static_cast<int>(k) + 1);

    const Var<T> ym = run_module(c, x);
    if (ym.defined()) {
      ++modules;
      c.check<T>(ym.value(), 0);
      const auto gm = grad<T, Cpu>({ym}, leaves, {gout});
      for (std::size_t k = 0; k < gm.size(); ++k) c.check<T>(gm[k].value(), static_cast<int>(k) + 1);
    }
    {  // without grad mode: no graph, same value
      NoGradGuard no_grad;
      const Var<T> plain = run_function(c, x);
      if (plain.id() != x[0].id()) CHECK_FALSE(plain.requires_grad());  // factor 1 returns its input
      c.check<T>(plain.value(), 0);
    }
  }
  CHECK(count >= 24);
  CHECK(modules >= 12);
}

TEMPLATE_TEST_CASE("deformation: folding fraction matches voxelmorph's Jacobian", "[imaging][deformation]", float,
                   double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "folding_fraction")) {
    INFO("case " << c.name());
    ++count;
    const Tensor<T> flow = c.input<T>(0);
    c.check<T>(folding_fraction(flow), 0);
    c.check<T>(folding_fraction(Var<T>(flow)), 0);
  }
  CHECK(count == 3);
}

TEST_CASE("deformation: gradcheck on the fixture cases", "[imaging][deformation][gradcheck]") {
  int count = 0;
  for (const auto& c : grad_cases()) {
    if (c.has("nogradcheck")) continue;
    INFO("case " << c.name());
    ++count;
    std::vector<Var<double>> inputs;
    for (int i = 0; i < num_args(c); ++i) inputs.emplace_back(c.input<double>(i), true);
    const GradcheckFn f = [&](const std::vector<Var<double>>& xs) { return run_function(c, xs); };
    // Second derivatives through grid_sample's grid gradient are not provided (grid_sample.hpp):
    // gradgradcheck only where no sampling location depends on an input.
    const std::string op = c.op();
    const bool linear_sampling = op == "resize_transform" || op == "jacobian_determinant";
    test::check_gradients(f, inputs, !linear_sampling);
  }
  CHECK(count >= 20);
}

TEST_CASE("deformation: second derivatives in the image and in the flow", "[imaging][deformation][gradcheck]") {
  Generator gen(5);
  // warping in the image with a fixed flow is linear: gradgradcheck in src
  for (const Shape& src_shape : {Shape{2, 2, 5, 7}, Shape{2, 1, 3, 5, 3}}) {
    INFO("src " << src_shape);
    Shape flow_shape = src_shape;
    flow_shape[1] = src_shape.size() - 2;
    const Var<double> flow(ops::mul(randn<double>(flow_shape, gen), 1.3));
    const Var<double> src(randn<double>(src_shape, gen), true);
    test::check_gradients([&](const auto& xs) { return spatial_transform(xs[0], flow); }, {src});
    const Var<double> a(randn<double>(flow_shape, gen), true);
    test::check_gradients([&](const auto& xs) { return compose_displacements(xs[0], flow); }, {a});
  }
  // through the flow as well: grid_sample's grid gradient is itself differentiable for bilinear sampling
  const Var<double> src(randn<double>({1, 1, 5, 7}, gen), true);
  const Var<double> flow(ops::mul(randn<double>({1, 2, 5, 7}, gen), 0.7), true);
  test::check_gradients([&](const auto& xs) { return spatial_transform(xs[0], xs[1]); }, {src, flow});
}

TEST_CASE("deformation: the linear pieces are adjoint pairs", "[imaging][deformation]") {
  Generator gen(9);
  for (const Shape& s : {Shape{2, 2, 5, 7}, Shape{2, 3, 3, 5, 4}, Shape{1, 2, 2, 2}}) {
    INFO("flow " << s);
    const Tensor<double> flow = randn<double>(s, gen);
    // locations (linear part) and its adjoint
    const Tensor<double> loc = deformation_detail::locations_kernel(flow, Tensor<double>(), false);
    const Tensor<double> gl = randn<double>(loc.shape(), gen);
    const double lhs = ops::sum(ops::mul(loc, gl)).item();
    const double rhs = ops::sum(ops::mul(flow, deformation_detail::locations_adjoint_kernel(gl, s))).item();
    CHECK(lhs == Approx(rhs).epsilon(1e-12));
    // numpy.gradient differences and their adjoint
    const Tensor<double> jac = deformation_detail::flow_gradient_kernel(flow, "test");
    const Tensor<double> gj = randn<double>(jac.shape(), gen);
    const double lhs2 = ops::sum(ops::mul(jac, gj)).item();
    const double rhs2 = ops::sum(ops::mul(flow, deformation_detail::flow_gradient_adjoint_kernel(gj, s, "test"))).item();
    CHECK(lhs2 == Approx(rhs2).epsilon(1e-12));
    // and the adjoint's own backward (gradcheck of a linear map in its input)
    const Var<double> g(gj, true);
    const GradcheckResult r = gradcheck(
        [&](const auto& v) { return deformation_detail::flow_gradient_adjoint(v[0], s); }, {g});
    INFO(r.message);
    CHECK(r.ok);
    const Var<double> gv(gl, true);
    const GradcheckResult r2 =
        gradcheck([&](const auto& v) { return deformation_detail::locations_adjoint(v[0], s); }, {gv});
    INFO(r2.message);
    CHECK(r2.ok);
  }
}

TEMPLATE_TEST_CASE("deformation: integer shifts with zero padding are exact", "[imaging][deformation]", float, double) {
  using T = TestType;
  Generator gen(3);
  // 2D: flow (dy, dx) = (1, -2) everywhere: out[y, x] = src[y + 1, x - 2], 0 outside
  const Tensor<T> src = randn<T>({2, 3, 5, 7}, gen);
  Tensor<T> flow = zeros<T>({2, 2, 5, 7});
  flow.select(1, 0).fill_(T(1));
  flow.select(1, 1).fill_(T(-2));
  const Tensor<T> out = spatial_transform(Var<T>(src), Var<T>(flow)).value();
  Tensor<T> want = zeros<T>(src.shape());
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 5; ++y)
        for (int64_t x = 0; x < 7; ++x)
          if (y + 1 < 5 && x - 2 >= 0) want.at({n, c, y, x}) = src.at({n, c, y + 1, x - 2});
  test::require_close(out, want, std::is_same_v<T, float> ? 1e-6 : 1e-13, "2D shift");
  // nearest agrees
  test::require_close(spatial_transform(Var<T>(src), Var<T>(flow), "nearest").value(), want, 0.0, "2D shift nearest");

  // 3D: (dz, dy, dx) = (-1, 2, 1), and a constant flow of k voxels along one axis moves the image by k
  const Tensor<T> vol = randn<T>({2, 2, 3, 5, 4}, gen);
  Tensor<T> f3 = zeros<T>({2, 3, 3, 5, 4});
  f3.select(1, 0).fill_(T(-1));
  f3.select(1, 1).fill_(T(2));
  f3.select(1, 2).fill_(T(1));
  const Tensor<T> out3 = spatial_transform(Var<T>(vol), Var<T>(f3)).value();
  Tensor<T> want3 = zeros<T>(vol.shape());
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t z = 0; z < 3; ++z)
        for (int64_t y = 0; y < 5; ++y)
          for (int64_t x = 0; x < 4; ++x)
            if (z - 1 >= 0 && y + 2 < 5 && x + 1 < 4) want3.at({n, c, z, y, x}) = vol.at({n, c, z - 1, y + 2, x + 1});
  test::require_close(out3, want3, std::is_same_v<T, float> ? 1e-6 : 1e-13, "3D shift");

  // a fractional constant flow on a linear ramp: the ramp moves by exactly that much inside
  Tensor<T> ramp = empty<T>({1, 1, 5, 7});
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t x = 0; x < 7; ++x) ramp.at({0, 0, y, x}) = T(0.5) * T(y) - T(0.25) * T(x) + T(1);
  Tensor<T> half = zeros<T>({1, 2, 5, 7});
  half.select(1, 0).fill_(T(0.5));
  half.select(1, 1).fill_(T(1.5));
  const Tensor<T> moved = spatial_transform(Var<T>(ramp), Var<T>(half)).value();
  for (int64_t y = 0; y + 1 < 5; ++y)
    for (int64_t x = 0; x + 2 < 7; ++x)
      CHECK(moved.at({0, 0, y, x}) ==
            Approx(T(0.5) * (T(y) + T(0.5)) - T(0.25) * (T(x) + T(1.5)) + T(1)).margin(1e-6));
}

TEST_CASE("deformation: an affine displacement field warps as grid_sample with affine_grid",
          "[imaging][deformation]") {
  Generator gen(4);
  for (int nd : {2, 3}) {
    INFO(nd << "D");
    const std::vector<int64_t> sz = nd == 2 ? std::vector<int64_t>{2, 2, 6, 7} : std::vector<int64_t>{2, 1, 4, 5, 6};
    const Shape size(sz);
    Tensor<double> theta = ops::mul(randn<double>({2, nd, nd + 1}, gen), 0.2);
    for (int64_t n = 0; n < 2; ++n)
      for (int i = 0; i < nd; ++i) theta.at({n, i, i}) += 0.9;
    const Tensor<double> src = randn<double>(size, gen);
    const Var<double> grid = affine_grid(Var<double>(theta), std::span<const int64_t>(sz), true);
    const Tensor<double> want =
        grid_sample(Var<double>(src), grid, GridSampleOptions{.padding_mode = "zeros", .align_corners = true}).value();
    // the same grid as a displacement in voxels: axis c of (D, H, W) is grid entry nd - 1 - c
    Shape fs = size;
    fs[1] = nd;
    Tensor<double> flow = empty<double>(fs);
    const Tensor<double> g = grid.value();
    const int64_t V = size.numel() / (size[0] * size[1]);
    for (int64_t n = 0; n < 2; ++n)
      for (int c = 0; c < nd; ++c) {
        const double len = static_cast<double>(size[2 + c]);
        for (int64_t v = 0; v < V; ++v) {
          int64_t rest = v, coord = 0;
          for (int a = nd - 1; a >= 0; --a) {
            if (a == c) coord = rest % size[2 + a];
            rest /= size[2 + a];
          }
          const double loc = (g.data()[(n * V + v) * nd + (nd - 1 - c)] + 1) / 2 * (len - 1);
          flow.data()[(n * nd + c) * V + v] = loc - static_cast<double>(coord);
        }
      }
    test::require_close(spatial_transform(Var<double>(src), Var<double>(flow)).value(), want, 1e-12, "affine warp");

    // the Jacobian of an affine map is det(A) everywhere; folding where det(A) <= 0
    Tensor<double> a = ops::mul(randn<double>({nd, nd}, gen), 0.5);
    for (int i = 0; i < nd; ++i) a.at({i, i}) += 1.0;
    double det = 0;
    if (nd == 2) {
      det = a.at({0, 0}) * a.at({1, 1}) - a.at({0, 1}) * a.at({1, 0});
    } else {
      det = a.at({0, 0}) * (a.at({1, 1}) * a.at({2, 2}) - a.at({1, 2}) * a.at({2, 1})) -
            a.at({0, 1}) * (a.at({1, 0}) * a.at({2, 2}) - a.at({1, 2}) * a.at({2, 0})) +
            a.at({0, 2}) * (a.at({1, 0}) * a.at({2, 1}) - a.at({1, 1}) * a.at({2, 0}));
    }
    // phi_c(x) = sum_i A[c][i] x_i + t_c, flow_c = phi_c(x) - x_c
    Tensor<double> aff = empty<double>(fs);
    for (int64_t n = 0; n < 2; ++n)
      for (int c = 0; c < nd; ++c)
        for (int64_t v = 0; v < V; ++v) {
          std::vector<double> x(static_cast<std::size_t>(nd));
          int64_t rest = v;
          for (int ax = nd - 1; ax >= 0; --ax) {
            x[static_cast<std::size_t>(ax)] = static_cast<double>(rest % size[2 + ax]);
            rest /= size[2 + ax];
          }
          double phi = 0.7 * c - 0.3 * static_cast<double>(n);
          for (int i = 0; i < nd; ++i) phi += a.at({c, i}) * x[static_cast<std::size_t>(i)];
          aff.data()[(n * nd + c) * V + v] = phi - x[static_cast<std::size_t>(c)];
        }
    const Tensor<double> jd = jacobian_determinant(Var<double>(aff)).value();
    test::require_close(jd, full<double>(jd.shape(), det), 1e-12, "affine Jacobian");
    const Tensor<double> frac = folding_fraction(aff);
    CHECK(frac.at({0}) == (det <= 0 ? 1.0 : 0.0));
    // a reflection folds everything
    Tensor<double> mirror = zeros<double>(fs);
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t v = 0; v < V; ++v) mirror.data()[(n * nd + 0) * V + v] = -2.0 * static_cast<double>(v / (V / size[2]));
    test::require_close(jacobian_determinant(Var<double>(mirror)).value(), full<double>(jd.shape(), -1.0), 1e-12,
                        "mirror Jacobian");
    test::require_close(folding_fraction(mirror), full<double>(Shape{2}, 1.0), 0.0, "mirror folding");
    test::require_close(folding_fraction(zeros<double>(fs)), zeros<double>(Shape{2}), 0.0, "identity folding");
  }
}

TEST_CASE("deformation: composition, integration and resizing in closed form", "[imaging][deformation]") {
  Generator gen(8);
  const Shape fs{2, 2, 5, 7};
  // constant shifts compose by adding (border padding keeps a constant field constant everywhere)
  Tensor<double> a = zeros<double>(fs), b = zeros<double>(fs);
  a.select(1, 0).fill_(0.75);
  a.select(1, 1).fill_(-1.25);
  b.select(1, 0).fill_(2.0);
  b.select(1, 1).fill_(0.5);
  test::require_close(compose_displacements(Var<double>(a), Var<double>(b)).value(), ops::add(a, b), 1e-12,
                      "shifts compose");
  // the zero field is neutral on either side
  const Tensor<double> r = randn<double>(fs, gen);
  const Var<double> zero(zeros<double>(fs));
  test::require_close(compose_displacements(Var<double>(r), zero).value(), r, 1e-12, "a then identity");
  test::require_close(compose_displacements(zero, Var<double>(r)).value(), r, 0.0, "identity then b");
  // warping twice equals warping once by the composition: exact for a linear ramp image and constant
  // fields, away from the borders (bilinear interpolation reproduces linear functions)
  Tensor<double> ramp = empty<double>({1, 1, 5, 7});
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t x = 0; x < 7; ++x) ramp.at({0, 0, y, x}) = 0.3 * static_cast<double>(y) + 0.2 * static_cast<double>(x);
  Tensor<double> sa = zeros<double>({1, 2, 5, 7}), sb = zeros<double>({1, 2, 5, 7});
  sa.select(1, 0).fill_(0.5);
  sb.select(1, 1).fill_(0.25);
  const Tensor<double> w2 =
      spatial_transform(spatial_transform(Var<double>(ramp), Var<double>(sa)), Var<double>(sb)).value();
  const Tensor<double> w1 =
      spatial_transform(Var<double>(ramp), compose_displacements(Var<double>(sa), Var<double>(sb))).value();
  for (int64_t y = 0; y + 1 < 5; ++y)
    for (int64_t x = 0; x + 1 < 7; ++x) CHECK(w2.at({0, 0, y, x}) == Approx(w1.at({0, 0, y, x})).margin(1e-12));

  // vec_int: no steps is the identity; a zero field stays zero
  const Var<double> v(randn<double>(fs, gen));
  test::require_close(vec_int(v, 0).value(), v.value(), 0.0, "vec_int 0 steps");
  test::require_close(vec_int(zero, 7).value(), zeros<double>(fs), 0.0, "vec_int of 0");
  // one step: v/2 + warp(v/2, v/2)
  const Var<double> h = mul(v, 0.5);
  test::require_close(vec_int(v, 1).value(), add(h, spatial_transform(h, h)).value(), 1e-14, "vec_int 1 step");

  // resize: factor 1 is the same Var; a constant field doubles in size and value
  CHECK(resize_displacement(v, 1.0).id() == v.id());
  const Tensor<double> up = resize_displacement(Var<double>(full<double>({2, 2, 3, 4}, 1.5)), 2.0).value();
  test::require_close(up, full<double>({2, 2, 6, 8}, 3.0), 1e-12, "resize x2");
  const Tensor<double> down = resize_displacement(Var<double>(full<double>({1, 3, 5, 7, 9}, 2.0)), 0.5).value();
  test::require_close(down, full<double>({1, 3, 2, 3, 4}, 1.0), 1e-12, "resize x0.5");
}

TEST_CASE("deformation: modules carry voxelmorph's state names; the grid may be absent", "[imaging][deformation]") {
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "state_dict")) {
    INFO("case " << c.name());
    ++count;
    const std::vector<int64_t> size = c.ints("size");
    std::vector<std::string> keys;
    for (const auto& k : c.param("keys").array()) keys.push_back(k.string());
    std::unique_ptr<nn::Module<double>> m;
    if (c.string("module") == "SpatialTransformer")
      m = std::make_unique<nn::SpatialTransformer<double>>(nn::SpatialTransformerOptions{.size = size});
    else
      m = std::make_unique<nn::VecInt<double>>(nn::VecIntOptions{.inshape = size, .nsteps = 7});
    const auto dict = m->state_dict();
    std::vector<std::string> ours;
    for (const auto& [k, v] : dict) ours.push_back(k);
    CHECK(ours == keys);
    REQUIRE(keys.size() == 1);
    test::require_equal(*dict.find(keys[0]), c.expected<double>(), "grid buffer");

    // loads with the grid, and without it (derived), but not with a mis-shaped one
    nn::StateDict<double> with_grid;
    with_grid.insert(keys[0], c.expected<double>());
    CHECK(m->load_state_dict(with_grid).missing_keys.empty());
    const nn::StateDict<double> empty_dict;
    CHECK(m->load_state_dict(empty_dict).missing_keys.empty());
    nn::StateDict<double> wrong;
    wrong.insert(keys[0], zeros<double>({1, 2, 3}));
    CHECK_THROWS_WITH(m->load_state_dict(wrong), Contains(keys[0]) && Contains("[1, 2, 3]"));
  }
  CHECK(count == 3);

  // a loaded grid is the one used, as in voxelmorph
  nn::SpatialTransformer<double> st({.size = {5, 7}});
  Generator gen(2);
  const Var<double> src(randn<double>({1, 1, 5, 7}, gen));
  const Var<double> zero(zeros<double>({1, 2, 5, 7}));
  test::require_close(st(src, zero).value(), src.value(), 1e-13, "identity warp");
  nn::StateDict<double> shifted;
  Tensor<double> g = st.grid.clone();
  g.select(1, 1).copy_(ops::add(g.select(1, 1), 1.0));
  shifted.insert("grid", g);
  st.load_state_dict(shifted);
  Tensor<double> one = zeros<double>({1, 2, 5, 7});
  one.select(1, 1).fill_(1.0);
  test::require_close(st(src, zero).value(), spatial_transform(src, Var<double>(one)).value(), 1e-13, "loaded grid");

  // nested: a VecInt inside a parent, and ResizeTransform without state
  struct Net : nn::Module<double> {
    nn::ResizeTransform<double> resize{this, "resize", {.vel_resize = 2, .ndims = 2}};
    nn::VecInt<double> integrate{this, "integrate", {.inshape = {3, 4}, .nsteps = 2}};
  } net;
  const auto d = net.state_dict();
  REQUIRE(d.size() == 1);
  CHECK(d.find("integrate.transformer.grid") != nullptr);
  CHECK(net.named_buffers().size() == 1);
  CHECK(net.parameters().empty());
  CHECK(net.load_state_dict(nn::StateDict<double>()).missing_keys.empty());
  CHECK(net.resize.factor() == 0.5);
  CHECK(net.integrate.transformer.grid.shape() == Shape{1, 2, 3, 4});
  CHECK_THROWS_WITH(st.forward(src), Contains("SpatialTransformer") && Contains("single-input"));
}

TEST_CASE("deformation: errors name the op and the shapes", "[imaging][deformation]") {
  const Var<double> src(zeros<double>({2, 1, 5, 7}));
  const Var<double> flow(zeros<double>({2, 2, 5, 7}));
  CHECK_THROWS_WITH(spatial_transform(src, Var<double>(zeros<double>({2, 2, 5, 6}))),
                    Contains("spatial_transform") && Contains("[2, 1, 5, 7]") && Contains("[2, 2, 5, 6]"));
  CHECK_THROWS_WITH(spatial_transform(src, Var<double>(zeros<double>({1, 2, 5, 7}))),
                    Contains("spatial_transform") && Contains("[1, 2, 5, 7]"));
  CHECK_THROWS_WITH(spatial_transform(src, Var<double>(zeros<double>({2, 3, 5, 7}))),
                    Contains("spatial_transform") && Contains("[2, 3, 5, 7]") && Contains("channels"));
  CHECK_THROWS_WITH(spatial_transform(Var<double>(zeros<double>({2, 1, 7})), Var<double>(zeros<double>({2, 1, 7}))),
                    Contains("spatial_transform") && Contains("[2, 1, 7]"));
  CHECK_THROWS_WITH(spatial_transform(Var<double>(zeros<double>({2, 1, 1, 7})), Var<double>(zeros<double>({2, 2, 1, 7}))),
                    Contains("spatial_transform") && Contains("at least 2"));
  CHECK_THROWS_WITH(spatial_transform(src, flow, "area"), Contains("spatial_transform") && Contains("area"));
  CHECK_THROWS_WITH(spatial_transform(Var<double>(zeros<double>({1, 1, 3, 4, 5})), Var<double>(zeros<double>({1, 3, 3, 4, 5})),
                                      "bicubic"),
                    Contains("spatial_transform") && Contains("bicubic") && Contains("3D"));
  CHECK_THROWS_WITH(spatial_transform(src, flow, "bilinear", "wrap"), Contains("spatial_transform") && Contains("wrap"));
  CHECK_THROWS_WITH(vec_int(flow, -1), Contains("vec_int") && Contains("-1"));
  CHECK_THROWS_WITH(vec_int(src, 3), Contains("vec_int") && Contains("[2, 1, 5, 7]"));
  CHECK_THROWS_WITH(resize_displacement(flow, 0.0), Contains("resize_displacement") && Contains("factor"));
  CHECK_THROWS_WITH(resize_displacement(Var<double>(zeros<double>({2, 7})), 2.0), Contains("resize_displacement") && Contains("[2, 7]"));
  CHECK_THROWS_WITH(compose_displacements(flow, Var<double>(zeros<double>({2, 2, 5, 6}))),
                    Contains("compose_displacements") && Contains("[2, 2, 5, 7]") && Contains("[2, 2, 5, 6]"));
  CHECK_THROWS_WITH(compose_displacements(flow, flow, "bilinear", "circular"),
                    Contains("compose_displacements") && Contains("circular"));
  CHECK_THROWS_WITH(jacobian_determinant(Var<double>(zeros<double>({2, 3, 5, 7}))),
                    Contains("jacobian_determinant") && Contains("[2, 3, 5, 7]"));
  CHECK_THROWS_WITH(jacobian_determinant(Var<double>(zeros<double>({2, 2, 5, 1}))),
                    Contains("jacobian_determinant") && Contains("at least 2"));
  CHECK_THROWS_WITH(folding_fraction(zeros<double>({2, 2, 5})), Contains("folding_fraction") && Contains("[2, 2, 5]"));

  CHECK_THROWS_WITH(nn::SpatialTransformer<double>({.size = {5}}), Contains("SpatialTransformer") && Contains("(5)"));
  CHECK_THROWS_WITH(nn::SpatialTransformer<double>({.size = {5, 1}}), Contains("SpatialTransformer") && Contains("at least 2"));
  CHECK_THROWS_WITH(nn::SpatialTransformer<double>({.size = {5, 7}, .mode = "area"}), Contains("area"));
  nn::SpatialTransformer<double> st({.size = {5, 6}});
  CHECK_THROWS_WITH(st(src, flow), Contains("SpatialTransformer") && Contains("[2, 2, 5, 7]") && Contains("(5, 6)"));
  CHECK_THROWS_WITH(nn::VecInt<double>({.inshape = {5, 7}, .nsteps = -2}), Contains("VecInt") && Contains("-2"));
  nn::VecInt<double> vi({.inshape = {5, 6}, .nsteps = 2});
  CHECK_THROWS_WITH(vi(flow), Contains("VecInt") && Contains("[2, 2, 5, 7]"));
  CHECK_THROWS_WITH(nn::ResizeTransform<double>({.vel_resize = -1, .ndims = 2}), Contains("ResizeTransform"));
  CHECK_THROWS_WITH(nn::ResizeTransform<double>({.vel_resize = 2, .ndims = 4}), Contains("ndims"));
  nn::ResizeTransform<double> rt({.vel_resize = 2, .ndims = 3});
  CHECK_THROWS_WITH(rt(flow), Contains("ResizeTransform") && Contains("[2, 2, 5, 7]"));
}

TEST_CASE("deformation: threaded kernels on a larger field equal one thread", "[imaging][deformation]") {
  Generator gen(12);
  const Tensor<double> flow = ops::mul(randn<double>({2, 3, 20, 24, 28}, gen), 1.5);
  const Tensor<double> src = randn<double>({2, 2, 20, 24, 28}, gen);
  const Tensor<double> gout = randn<double>(src.shape(), gen);
  const Tensor<double> gdet = randn<double>({2, 20, 24, 28}, gen);
  auto run = [&] {
    const Var<double> s(src, true), f(flow, true);
    const auto gw = grad<double, Cpu>({spatial_transform(s, f)}, {s, f}, {gout});
    const Var<double> f2(flow, true);
    const auto gj = grad<double, Cpu>({jacobian_determinant(f2)}, {f2}, {gdet});
    return std::vector<Tensor<double>>{spatial_transform(Var<double>(src), Var<double>(flow)).value(),
                                       gw[0].value(),
                                       gw[1].value(),
                                       jacobian_determinant(Var<double>(flow)).value(),
                                       gj[0].value(),
                                       folding_fraction(flow)};
  };
  const int threads = num_threads();
  const auto many = run();
  set_num_threads(1);
  const auto one = run();
  set_num_threads(threads);
  for (std::size_t i = 0; i < many.size(); ++i) {
    INFO("result " << i);
    test::require_close(many[i], one[i], 1e-12);
  }
}
