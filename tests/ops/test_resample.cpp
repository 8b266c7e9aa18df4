// Padding, cropping, interpolation, pixel/voxel shuffle and channel dropout: forward values and input
// gradients against PyTorch in float and double, gradcheck and gradgradcheck in double on the same
// cases, the modules (padding, Upsample, shuffles, Dropout1d/2d/3d, CenterCrop), and the errors.
// Fixtures: tests/fixtures/gen_ops_resample.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/autograd/functions/interpolate.hpp"
#include "voxnn/autograd/functions/pad.hpp"
#include "voxnn/autograd/functions/shuffle.hpp"
#include "voxnn/nn/dropout.hpp"
#include "voxnn/nn/padding.hpp"
#include "voxnn/nn/shuffle.hpp"
#include "voxnn/nn/upsample.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;
using test::FixtureCase;

namespace {

const char* const kFile = "ops_resample.safetensors";
const std::vector<const char*> kOps = {"pad",           "interpolate",     "pixel_shuffle",
                                       "pixel_unshuffle", "voxel_shuffle", "voxel_unshuffle"};


InterpolateOptions interpolate_options(const FixtureCase& c) {
  InterpolateOptions o;
  o.mode = c.string("mode");
  if (c.has("size")) {
    o.size = c.ints("size");
  } else {
    std::vector<double> s;
    for (const auto& v : c.param("scale_factor").array()) s.push_back(std::strtod(v.string().c_str(), nullptr));
    o.scale_factor = s;
  }
  if (c.has("align_corners")) o.align_corners = c.flag("align_corners");
  if (c.has("recompute_scale_factor")) o.recompute_scale_factor = c.flag("recompute_scale_factor");
  return o;
}

template <class T>
Var<T> run_op(const FixtureCase& c, const Var<T>& x) {
  const std::string op = c.op();
  if (op == "pad") return pad(x, c.ints("pad"), c.string("mode"), c.real("value"));
  if (op == "interpolate") return interpolate(x, interpolate_options(c));
  const int64_t r = c.integer("factor");
  if (op == "pixel_shuffle") return pixel_shuffle(x, r);
  if (op == "pixel_unshuffle") return pixel_unshuffle(x, r);
  if (op == "voxel_shuffle") return voxel_shuffle(x, r);
  if (op == "voxel_unshuffle") return voxel_unshuffle(x, r);
  FAIL("unknown op " << op);
  return x;
}

// The same op through the raw Tensor kernels.
template <class T>
Tensor<T> run_raw(const FixtureCase& c, const Tensor<T>& x) {
  const std::string op = c.op();
  if (op == "pad") return ops::pad(x, c.ints("pad"), c.string("mode"), c.real("value"));
  if (op == "interpolate") return ops::interpolate(x, interpolate_options(c));
  const int64_t r = c.integer("factor");
  if (op == "pixel_shuffle") return ops::pixel_shuffle(x, r);
  if (op == "pixel_unshuffle") return ops::pixel_unshuffle(x, r);
  if (op == "voxel_shuffle") return ops::voxel_shuffle(x, r);
  return ops::voxel_unshuffle(x, r);
}

std::vector<FixtureCase> all_cases() {
  std::vector<FixtureCase> out;
  for (const char* op : kOps)
    for (auto& c : test::fixture_cases(kFile, op)) out.push_back(std::move(c));
  return out;
}

// A padding module built from a pad case, when one matches it (N padded dims, a module's mode).
template <class T>
std::unique_ptr<nn::Module<T>> pad_module(const FixtureCase& c) {
  const std::vector<int64_t> p = c.ints("pad");
  const std::string mode = c.string("mode");
  const double value = c.real("value");
  auto make = [&]<int N>() -> std::unique_ptr<nn::Module<T>> {
    const ExpandingArray<2 * N> padding(p);
    if (mode == "constant") return std::make_unique<nn::PadNd<N, nn::PadKind::constant, T>>(nn::ConstantPadOptions<N>{padding, value});
    if (mode == "reflect") return std::make_unique<nn::PadNd<N, nn::PadKind::reflection, T>>(nn::PadOptions<N>{padding});
    if (mode == "replicate") return std::make_unique<nn::PadNd<N, nn::PadKind::replication, T>>(nn::PadOptions<N>{padding});
    return std::make_unique<nn::PadNd<N, nn::PadKind::circular, T>>(nn::PadOptions<N>{padding});
  };
  if (p.size() == 2) return make.template operator()<1>();
  if (p.size() == 4) return make.template operator()<2>();
  if (p.size() == 6) return make.template operator()<3>();
  return nullptr;
}

}  // namespace

TEMPLATE_TEST_CASE("resampling ops match PyTorch, input gradients included", "[ops][resample]", float, double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : all_cases()) {
    INFO("case " << c.name());
    ++count;
    const Var<T> x(c.input<T>(0), true);
    const Var<T> y = run_op(c, x);
    c.check<T>(y.value(), 0);
    c.check<T>(run_raw(c, c.input<T>(0)), 0);
    const auto grads = grad<T, Cpu>({y}, {x}, {c.input<T>(1)});
    REQUIRE(grads.size() == 1);
    if (!c.has("torch_grad_inconsistent")) c.check<T>(grads[0].value(), 1);
  }
  CHECK(count >= 55);
}

TEST_CASE("resampling ops: gradcheck and gradgradcheck on the fixture cases", "[ops][resample][gradcheck]") {
  const io::TensorFile& file = test::fixture_file(kFile);
  int count = 0;
  for (const auto& c : all_cases()) {
    INFO("case " << c.name());
    ++count;
    const std::string key = c.param("inputs").array().at(0).string();
    const auto& views = c.param("views").array().at(0);
    const GradcheckFn f = [&](const std::vector<Var<double>>& xs) { return run_op(c, test::apply_views_var(xs[0], views)); };
    const std::vector<Var<double>> inputs{Var<double>(file.get<double>(key), true)};
    test::check_gradients(f, inputs);
  }
  CHECK(count >= 55);
}

// The backward functions are linear, so gradgradcheck above cannot reach their own backward: check it
// directly, as gradcheck of grad_output -> gradient.
TEST_CASE("resampling ops: the backward functions differentiate again", "[ops][resample][gradcheck]") {
  int count = 0;
  for (const char* op : {"pad", "interpolate"})
    for (const auto& c : test::fixture_cases(kFile, op)) {
      INFO("case " << c.name());
      const Tensor<double> x = c.input<double>(0);
      const Var<double> g(c.input<double>(1), true);
      GradcheckFn f;
      if (c.op() == "pad") {
        if (c.string("mode") == "constant") continue;
        f = [&](const std::vector<Var<double>>& v) { return pad_backward(v[0], x.shape(), c.ints("pad"), c.string("mode")); };
      } else {
        const ops::InterpolatePlan plan = ops::plan_interpolate(x.shape(), interpolate_options(c));
        f = [plan](const std::vector<Var<double>>& v) { return interpolate_backward(v[0], plan); };
      }
      const GradcheckResult r = gradcheck(f, {g});
      INFO(r.message);
      CHECK(r.ok);
      ++count;
    }
  CHECK(count >= 40);
}

TEST_CASE("pad: backward is the adjoint and differentiates again", "[ops][resample]") {
  // <pad(x), g> == <x, pad_backward(g)> for every mode, on a 3-D input with mixed pads
  Generator gen(7);
  const Tensor<double> x = randn<double>({2, 2, 3, 4, 5}, gen);
  for (const char* mode : {"constant", "reflect", "replicate", "circular"}) {
    INFO(mode);
    const std::vector<int64_t> p{2, -1, 3, 1, -1, 2};
    const Tensor<double> y = ops::pad(x, p, mode);
    const Tensor<double> g = randn<double>(y.shape(), gen);
    const double lhs = ops::sum(ops::mul(y, g)).item();
    const double rhs = ops::sum(ops::mul(x, ops::pad_backward(g, x.shape(), p, mode))).item();
    CHECK(lhs == Approx(rhs).epsilon(1e-12));
  }
  // a second backward: the gradient of pad_backward is pad
  const Var<double> g(randn<double>({1, 1, 4, 9}, gen), true);
  const Var<double> back = pad_backward(g, Shape{1, 1, 3, 5}, {2, 2, 1, 0}, "reflect");
  const Var<double> w(randn<double>(back.shape(), gen));
  const auto gg = grad<double, Cpu>({sum(mul(back, w))}, {g});
  test::require_close(gg[0].value(), ops::pad(w.value(), {2, 2, 1, 0}, "reflect"), 1e-14);
}

TEST_CASE("resampling kernels: threaded runs on large inputs equal one thread, adjoints hold", "[ops][resample]") {
  Generator gen(11);
  const Tensor<double> x = randn<double>({2, 3, 21, 24, 27}, gen);
  const InterpolateOptions opts[] = {{.scale_factor = 2, .mode = "trilinear", .align_corners = false},
                                     {.size = {17, 30, 13}, .mode = "trilinear", .align_corners = true},
                                     {.scale_factor = {1.7, 0.6, 2.0}, .mode = "nearest"}};
  const int threads = num_threads();
  for (const auto& o : opts) {
    const ops::InterpolatePlan plan = ops::plan_interpolate(x.shape(), o);
    const Tensor<double> y = ops::interpolate_forward(x, plan);
    const Tensor<double> g = randn<double>(y.shape(), gen);
    const Tensor<double> gx = ops::interpolate_backward(g, plan);
    set_num_threads(1);
    const Tensor<double> y1 = ops::interpolate_forward(x, plan), gx1 = ops::interpolate_backward(g, plan);
    set_num_threads(threads);
    test::require_equal(y, y1, "interpolate forward");
    test::require_equal(gx, gx1, "interpolate backward");
    CHECK(ops::sum(ops::mul(y, g)).item() == Approx(ops::sum(ops::mul(x, gx)).item()).epsilon(1e-12));
  }
  for (const char* mode : {"constant", "reflect", "replicate", "circular"}) {
    const std::vector<int64_t> p{3, -2, 1, 4, 5, 0};
    const Tensor<double> y = ops::pad(x, p, mode, 0);
    const Tensor<double> g = randn<double>(y.shape(), gen);
    const Tensor<double> gx = ops::pad_backward(g, x.shape(), p, mode);
    set_num_threads(1);
    const Tensor<double> y1 = ops::pad(x, p, mode, 0), gx1 = ops::pad_backward(g, x.shape(), p, mode);
    set_num_threads(threads);
    test::require_equal(y, y1, mode);
    test::require_equal(gx, gx1, mode);
    CHECK(ops::sum(ops::mul(y, g)).item() == Approx(ops::sum(ops::mul(x, gx)).item()).epsilon(1e-12));
  }
  const Tensor<double> s = randn<double>({2, 16, 10, 12, 14}, gen);
  test::require_equal(ops::voxel_unshuffle(ops::voxel_shuffle(s, 2), 2), s, "voxel shuffle round trip");
}

TEST_CASE("pad: values of each mode on a small row", "[ops][resample]") {
  const Tensor<double> x = arange<double>(5).reshape({1, 1, 5});
  auto row = [&](std::vector<int64_t> p, const char* mode, double value = 0) {
    return ops::pad(x, p, mode, value).to_vector();
  };
  CHECK(row({2, 1}, "constant", 9) == std::vector<double>{9, 9, 0, 1, 2, 3, 4, 9});
  CHECK(row({2, 2}, "reflect") == std::vector<double>{2, 1, 0, 1, 2, 3, 4, 3, 2});
  CHECK(row({-3, 4}, "reflect") == std::vector<double>{3, 4, 3, 2, 1, 0});
  CHECK(row({2, 3}, "replicate") == std::vector<double>{0, 0, 0, 1, 2, 3, 4, 4, 4, 4});
  CHECK(row({2, 1}, "circular") == std::vector<double>{3, 4, 0, 1, 2, 3, 4, 0});
  CHECK(row({3, -1}, "circular") == std::vector<double>{1, 2, 3, 0, 1, 2, 3});  // cropped, then wrapped
  CHECK(row({-2, -3}, "constant").empty());
  CHECK(ops::pad(x, {}, "constant").to_vector() == x.to_vector());
  // constant mode pads leading dims too
  CHECK(ops::pad(x, {0, 0, 1, 0, 0, 1}).shape() == Shape{2, 2, 5});
}

TEST_CASE("pad: errors name the op, the pads and the shape", "[ops][resample]") {
  const Var<double> x(zeros<double>({1, 2, 5}));
  CHECK_THROWS_WITH(pad(x, {1}), Contains("pad") && Contains("odd length"));
  CHECK_THROWS_WITH(pad(x, {1, 1, 1, 1, 1, 1, 1, 1}), Contains("pads 4 dims") && Contains("[1, 2, 5]"));
  CHECK_THROWS_WITH(pad(x, {-3, -3}), Contains("negative size") && Contains("[1, 2, 5]"));
  CHECK_THROWS_WITH(pad(x, {5, 0}, "reflect"), Contains("reflect") && Contains("smaller than the dim's size 5"));
  CHECK_THROWS_WITH(pad(x, {-3, -2}, "reflect"), Contains("empty dim"));
  CHECK_THROWS_WITH(pad(x, {6, 0}, "circular"), Contains("wrap around more than once"));
  CHECK_THROWS_WITH(pad(x, {1, 1}, "reflect", 1.0), Contains("takes no fill value"));
  CHECK_THROWS_WITH(pad(x, {1, 1}, "wrap"), Contains("unknown padding mode 'wrap'"));
  CHECK_THROWS_WITH(pad(x, {1, 1, 1, 1}, "circular"), Contains("circular") && Contains("needs an input of 4 dims"));
  CHECK_THROWS_WITH(pad(Var<double>(zeros<double>({5})), {1, 1}, "replicate"), Contains("[5]"));
  CHECK_NOTHROW(pad(Var<double>(zeros<double>({2, 5})), {1, 1}, "replicate"));  // unbatched
  CHECK_THROWS_WITH(pad(Var<double>(zeros<double>({2, 5})), {1, 1}, "circular"), Contains("needs an input of 3 dims"));
}

TEST_CASE("crop and center_crop: views, gradients and errors", "[ops][resample]") {
  const Tensor<double> base = arange<double>(2 * 5 * 6).reshape({2, 5, 6});
  const Tensor<double> c = ops::crop(base, {1, 2}, {3, 2});
  CHECK(c.shape() == Shape{2, 3, 2});
  CHECK(c.shares_storage_with(base));
  CHECK(c.at({1, 0, 0}) == base.at({1, 1, 2}));
  CHECK(ops::center_crop(base, {3, 3}).at({0, 0, 0}) == base.at({0, 1, 1}));  // floor((5-3)/2), floor((6-3)/2)
  CHECK(ops::center_crop(base, {4}).at({0, 0, 0}) == base.at({0, 0, 1}));
  CHECK(ops::center_crop(base, {5, 6}).to_vector() == base.to_vector());

  const Var<double> x(base, true);
  const Var<double> y = center_crop(x, {2, 4});
  CHECK(y.shape() == Shape{2, 2, 4});
  CHECK(y.value().at({0, 0, 0}) == base.at({0, 1, 1}));
  // the gradient is the crop region's indicator
  const auto g = grad<double, Cpu>({sum(y)}, {x});
  CHECK(ops::sum(g[0].value()).item() == 16.0);
  CHECK(g[0].value().at({1, 1, 1}) == 1.0);
  CHECK(g[0].value().at({1, 0, 1}) == 0.0);
  const GradcheckFn f = [](const std::vector<Var<double>>& v) { return crop(v[0], {1, 0}, {2, 3}); };
  CHECK(gradcheck(f, {Var<double>(randn<double>({2, 4, 3}), true)}).ok);

  CHECK_THROWS_WITH(ops::crop(base, {1, 2}, {5, 2}), Contains("crop") && Contains("[2, 5, 6]"));
  CHECK_THROWS_WITH(ops::crop(base, {1}, {5, 2}), Contains("crop: 1 start values but 2 sizes"));
  CHECK_THROWS_WITH(center_crop(x, {6, 6}), Contains("center_crop") && Contains("larger") && Contains("[2, 5, 6]"));
  CHECK_THROWS_WITH(center_crop(x, {1, 1, 1, 1}), Contains("has only 3"));

  nn::CenterCrop<double> crop_module({.size = {3, 3}});
  CHECK(crop_module.type_name() == "CenterCrop");
  CHECK(crop_module(x).value().to_vector() == ops::center_crop(base, {3, 3}).contiguous().to_vector());
}

TEST_CASE("interpolate: coordinate rules in closed form", "[ops][resample]") {
  const Tensor<double> x = arange<double>(4).reshape({1, 1, 4});  // 0 1 2 3
  auto run = [&](const InterpolateOptions& o) { return ops::interpolate(x, o).to_vector(); };
  CHECK(run({.size = 8}) == std::vector<double>{0, 0, 1, 1, 2, 2, 3, 3});
  CHECK(run({.size = 2}) == std::vector<double>{0, 2});
  CHECK(run({.size = 7, .mode = "linear", .align_corners = true}) ==
        std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5, 3});
  // align_corners false: src = (dst + 0.5) / 2 - 0.5, clamped at 0 and at the last input
  CHECK(run({.scale_factor = 2, .mode = "linear"}) == std::vector<double>{0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3});
  // a given scale factor sets the ratio (1 / 1.5) unless recomputed from the sizes (4 / 6)
  const auto given = run({.scale_factor = 1.5, .mode = "linear", .align_corners = false});
  const auto recomputed = run({.scale_factor = 1.5, .mode = "linear", .recompute_scale_factor = true});
  REQUIRE(given.size() == 6);
  CHECK(given[1] == Approx(1.5 / 1.5 - 0.5));
  CHECK(recomputed[1] == Approx(1.5 * 4 / 6 - 0.5));
  CHECK(run({.size = 1, .mode = "linear", .align_corners = true}) == std::vector<double>{0});
}

TEST_CASE("interpolate: errors", "[ops][resample]") {
  const Var<double> x(zeros<double>({1, 2, 3, 4}));
  CHECK_THROWS_WITH(interpolate(x, {.size = 8, .align_corners = false}), Contains("align_corners") && Contains("nearest"));
  CHECK_THROWS_WITH(interpolate(x, {.size = 8, .mode = "trilinear"}), Contains("needs a 5-dim input") && Contains("[1, 2, 3, 4]"));
  CHECK_THROWS_WITH(interpolate(x, {.size = 8, .mode = "bicubic"}), Contains("unsupported mode 'bicubic'"));
  CHECK_THROWS_WITH(interpolate(x, {.mode = "bilinear"}), Contains("exactly one of size and scale_factor"));
  CHECK_THROWS_WITH(interpolate(x, {.size = 8, .scale_factor = 2}), Contains("exactly one of size and scale_factor"));
  CHECK_THROWS_WITH(interpolate(x, {.size = {8, 8, 8}}), Contains("3 values for the 2 spatial dims"));
  CHECK_THROWS_WITH(interpolate(x, {.size = 4, .recompute_scale_factor = true}), Contains("recompute_scale_factor"));
  CHECK_THROWS_WITH(interpolate(x, {.scale_factor = 0.1}), Contains("greater than 0"));
  CHECK_THROWS_WITH(interpolate(x, {.scale_factor = -2}), Contains("positive"));
  CHECK_THROWS_WITH(interpolate(Var<double>(zeros<double>({2, 3})), {.size = 4}), Contains("input has 2 dims [2, 3]"));
  CHECK_THROWS_WITH(nn::Upsample<double>({.mode = "bilinear"}), Contains("Upsample"));
}

TEST_CASE("Upsample module matches the interpolate cases", "[ops][resample][nn]") {
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "interpolate")) {
    INFO("case " << c.name());
    nn::Upsample<double> up(interpolate_options(c));
    CHECK(up.type_name() == "Upsample");
    CHECK(up.named_parameters().empty());
    c.check<double>(up(Var<double>(c.input<double>(0))).value(), 0);
    ++count;
  }
  CHECK(count >= 25);
  struct Holder : nn::Module<float> {
    nn::Upsample<float> up{this, "up", {.scale_factor = 2, .mode = "trilinear", .align_corners = false}};
  } holder;
  CHECK(holder.named_modules().size() == 2);
  CHECK(holder.up(Var<float>(ones<float>({1, 1, 2, 2, 2}))).shape() == Shape{1, 1, 4, 4, 4});
}

TEST_CASE("padding modules match the pad cases", "[ops][resample][nn]") {
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "pad")) {
    auto module = pad_module<double>(c);
    if (!module) continue;
    INFO("case " << c.name() << " through " << module->type_name());
    c.check<double>((*module)(Var<double>(c.input<double>(0))).value(), 0);
    ++count;
  }
  CHECK(count >= 15);
  CHECK(nn::ReflectionPad3d<float>({.padding = 1}).type_name() == "ReflectionPad3d");
  CHECK(nn::ReplicationPad1d<float>({.padding = 1}).type_name() == "ReplicationPad1d");
  CHECK(nn::ConstantPad2d<float>({.padding = 1, .value = 3}).type_name() == "ConstantPad2d");
  CHECK(nn::CircularPad2d<float>({.padding = 1}).type_name() == "CircularPad2d");
  nn::ZeroPad2d<double> zero({.padding = {1, 0, 2, 0}});
  CHECK(zero.type_name() == "ZeroPad2d");
  CHECK(zero.options.padding.vector() == std::vector<int64_t>{1, 0, 2, 0});
  const Var<double> y = zero(Var<double>(ones<double>({1, 1, 2, 2})));
  CHECK(y.shape() == Shape{1, 1, 4, 3});
  CHECK(ops::sum(y.value()).item() == 4.0);
  nn::ConstantPad3d<double> constant({.padding = 1, .value = 2.5});
  CHECK(ops::sum(constant(Var<double>(zeros<double>({1, 1, 1, 1}))).value()).item() == 2.5 * 26);
  CHECK_THROWS_WITH(nn::ReflectionPad2d<double>({.padding = {1, 2, 3}}), Contains("expected 1 or 4 values"));
}

TEST_CASE("pixel and voxel shuffle: channel order, inverses, modules and errors", "[ops][resample][nn]") {
  // voxel_shuffle: channel ((c * r + i) * r + j) * r + k lands at (c, d * r + i, h * r + j, w * r + k)
  const int64_t r = 2;
  const Tensor<double> x = arange<double>(2 * 16 * 2 * 1 * 3).reshape({2, 16, 2, 1, 3});
  const Tensor<double> y = ops::voxel_shuffle(x, r);
  REQUIRE(y.shape() == Shape{2, 2, 4, 2, 6});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < r; ++j)
          for (int64_t k = 0; k < r; ++k)
            for (int64_t d = 0; d < 2; ++d)
              for (int64_t w = 0; w < 3; ++w)
                CHECK(y.at({n, c, d * r + i, j, w * r + k}) == x.at({n, ((c * r + i) * r + j) * r + k, d, 0, w}));
  CHECK(ops::voxel_unshuffle(y, r).to_vector() == x.to_vector());
  const Tensor<double> p = arange<double>(3 * 9 * 2 * 2).reshape({3, 9, 2, 2});
  CHECK(ops::pixel_unshuffle(ops::pixel_shuffle(p, 3), 3).to_vector() == p.to_vector());

  nn::VoxelShuffle<double> up({.upscale_factor = 2});
  nn::VoxelUnshuffle<double> down({.downscale_factor = 2});
  nn::PixelShuffle<double> pixel_up({.upscale_factor = 3});
  nn::PixelUnshuffle<double> pixel_down({.downscale_factor = 3});
  CHECK(up.type_name() == "VoxelShuffle");
  CHECK(down.type_name() == "VoxelUnshuffle");
  CHECK(pixel_up.type_name() == "PixelShuffle");
  CHECK(pixel_down.type_name() == "PixelUnshuffle");
  CHECK(up(Var<double>(x)).value().to_vector() == y.to_vector());
  CHECK(down(Var<double>(y)).value().to_vector() == x.to_vector());
  CHECK(pixel_down(pixel_up(Var<double>(p))).value().to_vector() == p.to_vector());

  CHECK_THROWS_WITH(nn::VoxelShuffle<double>(), Contains("VoxelShuffle: the factor must be positive"));
  CHECK_THROWS_WITH(ops::voxel_shuffle(zeros<double>({1, 12, 2, 2, 2}), 2),
                    Contains("voxel_shuffle") && Contains("12 channels") && Contains("[1, 12, 2, 2, 2]"));
  CHECK_THROWS_WITH(ops::pixel_shuffle(zeros<double>({4, 2}), 2), Contains("pixel_shuffle: input has 2 dims"));
  CHECK_THROWS_WITH(ops::voxel_unshuffle(zeros<double>({1, 1, 2, 3, 2}), 2),
                    Contains("voxel_unshuffle") && Contains("not divisible"));
}

TEST_CASE("channel dropout: whole channels, scaled survivors, mask gradient", "[ops][resample][dropout]") {
  const double p = 0.3;
  const int64_t n = 8, c = 250;  // 2000 channels
  Generator gen(2024);
  const Var<double> x(ops::add(rand<double>({n, c, 2, 3, 2}, gen), 1.0), true);  // values in [1, 2)
  const Var<double> y = dropout3d(x, p, true, gen);
  const Tensor<double> ratio = ops::div(y.value(), x.value());
  const double scale = 1 / (1 - p);
  int64_t dropped = 0;
  bool whole = true;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j) {
      const auto values = ratio.select(0, i).select(0, j).contiguous().to_vector();
      const bool zero = values[0] == 0;
      dropped += zero;
      for (double v : values) whole = whole && (zero ? v == 0 : std::abs(v - scale) < 1e-12);
    }
  CHECK(whole);
  // binomial(2000, 0.3): mean 600, sd 20.5; +-6 sd never fails by chance
  CHECK(dropped > 600 - 123);
  CHECK(dropped < 600 + 123);
  // the gradient is the mask itself
  const Tensor<double> g = grad<double, Cpu>({sum(y)}, {x})[0].value();
  test::require_close(g, ratio, 1e-12, "gradient equals the scaled mask");
  // with a fixed mask (a freshly seeded generator per call) it is an ordinary function of x
  const GradcheckFn fixed_mask = [](const std::vector<Var<double>>& v) {
    Generator gen(11);
    return dropout3d(v[0], 0.5, true, gen);
  };
  test::check_gradients(fixed_mask, {Var<double>(randn<double>({2, 4, 2, 3, 2}), true)});

  // eval mode and p = 0 are the identity; p = 1 zeroes everything
  CHECK(dropout2d(x, p, false).id() == x.id());
  CHECK(feature_dropout(x, 0.0, true).id() == x.id());
  CHECK(ops::sum(ops::abs(dropout1d(Var<double>(ones<double>({2, 3, 4})), 1.0, true).value())).item() == 0.0);

  // unbatched inputs: dropout1d (C, L) and dropout3d (C, D, H, W) drop along the first dim;
  // dropout2d keeps PyTorch 1.13's (N, C, L) reading of a 3-dim input, so each (dim 0, dim 1) pair
  auto groups_whole = [](const Tensor<double>& t, int lead) {
    const Tensor<double> flat = t.contiguous().reshape({lead > 1 ? t.shape()[0] * t.shape()[1] : t.shape()[0], -1});
    for (int64_t i = 0; i < flat.shape()[0]; ++i) {
      const auto v = flat.select(0, i).contiguous().to_vector();
      for (double e : v)
        if ((e == 0) != (v[0] == 0)) return false;
    }
    return true;
  };
  const Var<double> u1(ones<double>({400, 5}));
  const Tensor<double> d1 = dropout1d(u1, 0.5, true, gen).value();
  CHECK(d1.shape() == Shape{400, 5});
  CHECK(groups_whole(d1, 1));
  const Var<double> u3(ones<double>({300, 2, 2, 2}));
  const Tensor<double> d3 = dropout3d(u3, 0.5, true, gen).value();
  CHECK(d3.shape() == Shape{300, 2, 2, 2});
  CHECK(groups_whole(d3, 1));
  const Tensor<double> d2 = dropout2d(Var<double>(ones<double>({20, 20, 6})), 0.5, true, gen).value();
  CHECK(groups_whole(d2, 2));
  const double kept2 = ops::sum(d2).item() / 2.0 / 6.0;  // kept (dim 0, dim 1) pairs of 400
  CHECK(kept2 > 200 - 60);
  CHECK(kept2 < 200 + 60);

  CHECK_THROWS_WITH(dropout1d(Var<double>(ones<double>({2, 3, 4, 5})), 0.5), Contains("dropout1d: input has 4 dims"));
  CHECK_THROWS_WITH(feature_dropout(Var<double>(ones<double>({5})), 0.5, true), Contains("fewer than 2 dims"));
  CHECK_THROWS_WITH(dropout2d(x, 1.5), Contains("[0, 1]"));
}

TEST_CASE("Dropout1d/2d/3d modules: training only, names", "[ops][resample][dropout][nn]") {
  nn::Dropout3d<double> drop({.p = 0.5});
  CHECK(drop.type_name() == "Dropout3d");
  CHECK(nn::Dropout1d<float>().type_name() == "Dropout1d");
  CHECK(nn::Dropout2d<float>({.p = 0.2}).options.p == 0.2);
  CHECK_THROWS_WITH(nn::Dropout2d<float>({.p = 2}), Contains("Dropout2d: p must be in [0, 1]"));
  const Var<double> x(ones<double>({4, 50, 2, 2, 2}));
  const auto train = drop(x).value().to_vector();
  int64_t zeroed = 0;
  for (double v : train) {
    CHECK((v == 0 || v == 2));
    zeroed += v == 0;
  }
  CHECK(zeroed % 8 == 0);  // whole channels of 2 * 2 * 2
  CHECK(zeroed > 8 * 40);  // of 200 channels, 100 expected
  CHECK(zeroed < 8 * 160);
  drop.eval();
  CHECK(drop(x).id() == x.id());
}
