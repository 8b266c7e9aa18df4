// data::sliding_window_inference against MONAI 1.3.2 (tests/fixtures/gen_data_sliding_window.py): window
// positions, the importance map, blended outputs with a conv predictor (windows disagree near their
// borders) over odd sizes, rois bigger than the image, every overlap and padding mode; plus properties.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>

#include "support/fixtures.hpp"
#include "voxnn/autograd/grad_mode.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/data/sliding_window.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/ops/conv.hpp"

using namespace voxnn;

namespace {

constexpr const char* kFile = "data_sliding_window.safetensors";

std::array<int64_t, 3> three(const std::vector<int64_t>& v) { return {v.at(0), v.at(1), v.at(2)}; }

data::AxisValues axis_values(const test::FixtureCase& c, std::string_view key) {
  const auto& a = c.param(key).array();
  auto real = [](const io::json::Value& v) {
    return v.is_integer() ? static_cast<double>(v.integer()) : std::strtod(v.string().c_str(), nullptr);
  };
  return {real(a.at(0)), real(a.at(1)), real(a.at(2))};
}

template <class T>
Tensor<T> conv_same(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) {
  ops::ConvParams<3> p{.stride = {1, 1, 1}, .pad_left = {1, 1, 1}, .pad_right = {1, 1, 1}, .dilation = {1, 1, 1}};
  return ops::conv_forward<3>(x, w, b, p);
}

template <class T>
Tensor<T> run_case(const test::FixtureCase& c, int64_t* calls = nullptr) {
  const Tensor<T> x = c.input<T>(0), w = c.input<T>(1), b = c.input<T>(2);
  const bool affine = c.string("predictor") == "affine";
  data::SlidingWindowOptions opt{.overlap = axis_values(c, "overlap"),
                                 .mode = c.string("mode"),
                                 .sigma_scale = axis_values(c, "sigma_scale"),
                                 .padding_mode = c.string("padding_mode"),
                                 .cval = c.real("cval")};
  return data::sliding_window_inference(
      x, three(c.ints("roi")), c.integer("sw_batch_size"),
      [&](const Tensor<T>& win) {
        if (calls) ++*calls;
        if (!affine) return conv_same(win, w, b);
        Tensor<T> y = win.clone();
        for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] = y.data()[i] * T(2) + T(1);
        return y;
      },
      opt);
}

}  // namespace

TEST_CASE("sliding window positions match MONAI's dense_patch_slices", "[data][sliding_window]") {
  for (const auto& c : test::fixture_cases(kFile, "positions")) {
    const auto plan = data::plan_sliding_window(three(c.ints("image")), three(c.ints("roi")), c.real("overlap"));
    const Tensor<int64_t> want = c.expected<int64_t>();
    INFO(c.name());
    REQUIRE(static_cast<int64_t>(plan.starts.size()) == want.size(0));
    for (int64_t i = 0; i < want.size(0); ++i)
      for (int64_t d = 0; d < 3; ++d) CHECK(plan.starts[static_cast<std::size_t>(i)][d] == want.at({i, d}));
  }
  // The benchmark's volume: 2 x 3 x 2 windows at overlap 0.25, 3 x 3 x 3 at 0.5.
  CHECK(data::plan_sliding_window({160, 192, 160}, {96, 96, 96}, 0.25).starts.size() == 12);
  CHECK(data::plan_sliding_window({160, 192, 160}, {96, 96, 96}, 0.5).starts.size() == 27);
}

TEST_CASE("the Gaussian importance map matches MONAI's compute_importance_map", "[data][sliding_window]") {
  for (const auto& c : test::fixture_cases(kFile, "importance_map")) {
    const auto roi = three(c.ints("roi"));
    const Tensor<double> want = c.expected<double>();
    // MONAI computes the map in float32 whatever the requested dtype.
    const double tol = 2e-7;
    test::check_close(data::compute_importance_map<double>(roi, c.string("mode"), c.real("sigma_scale")), want, tol,
                      c.name() + " (double)");
    test::check_close(data::compute_importance_map<float>(roi, c.string("mode"), c.real("sigma_scale")), want, tol,
                      c.name() + " (float)");
  }
}

TEST_CASE("sliding_window_inference matches MONAI's sliding_window_inference", "[data][sliding_window]") {
  for (const auto& c : test::fixture_cases(kFile, "sliding_window")) {
    int64_t calls = 0;
    const Tensor<float> out32 = run_case<float>(c, &calls);
    const Tensor<double> out64 = run_case<double>(c);
    if (c.string("weight_map") == "monai") {
      // MONAI's own map is float32 even for float64 inputs: its float64 result carries that rounding.
      const Tensor<double> want = c.expected<double>();
      const double scale = test::double_tolerance(want) * 1e10;
      test::check_close(out32, want, std::max(c.float_tolerance(), 2e-6 * scale), c.name() + " (float)");
      test::check_close(out64, want, 1e-6 * scale, c.name() + " (double)");
    } else {
      c.check<float>(out32);
      c.check<double>(out64);
    }
    // One predictor call per sw_batch_size windows over all batch elements.
    const Tensor<double> x = c.input<double>(0);
    const auto plan = data::plan_sliding_window({x.size(2), x.size(3), x.size(4)}, three(c.ints("roi")),
                                                axis_values(c, "overlap"));
    const int64_t total = static_cast<int64_t>(plan.starts.size()) * x.size(0), sw = c.integer("sw_batch_size");
    CHECK(calls == (total + sw - 1) / sw);
  }
}

TEST_CASE("sliding_window_inference gives a pointwise predictor's output back", "[data][sliding_window]") {
  Generator gen(11);
  const Tensor<double> x = randn<double>({2, 3, 13, 8, 11}, gen);
  auto f = [](double v) { return std::sin(3 * v) + 0.5 * v; };
  auto predictor = [&](const Tensor<double>& win) {
    Tensor<double> y({win.size(0), 2, win.size(2), win.size(3), win.size(4)});
    const Tensor<double> c = win.contiguous();
    const int64_t vol = win.size(2) * win.size(3) * win.size(4);
    for (int64_t b = 0; b < win.size(0); ++b)
      for (int64_t v = 0; v < vol; ++v) {
        const double a = c.data()[(b * 3 + 0) * vol + v], e = c.data()[(b * 3 + 2) * vol + v];
        y.data()[(b * 2 + 0) * vol + v] = f(a);
        y.data()[(b * 2 + 1) * vol + v] = a * e;
      }
    return y;
  };
  Tensor<double> want({2, 2, 13, 8, 11});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 13; ++i)
      for (int64_t j = 0; j < 8; ++j)
        for (int64_t k = 0; k < 11; ++k) {
          want.at({n, 0, i, j, k}) = f(x.at({n, 0, i, j, k}));
          want.at({n, 1, i, j, k}) = x.at({n, 0, i, j, k}) * x.at({n, 2, i, j, k});
        }
  for (double overlap : {0.0, 0.25, 0.5, 0.8})
    for (const char* mode : {"constant", "gaussian"})
      for (std::array<int64_t, 3> roi : {std::array<int64_t, 3>{4, 5, 6}, {13, 3, 11}, {2, 2, 2}}) {
        const auto out = data::sliding_window_inference(x, roi, 4, predictor, {.overlap = overlap, .mode = mode});
        test::check_close(out, want, 1e-12, std::string("overlap ") + std::to_string(overlap) + " mode " + mode);
      }
  // Also with the roi bigger than the image (padded windows, cropped back) and a float volume.
  const Tensor<float> xf = randn<float>({1, 1, 5, 6, 7}, gen);
  const auto outf = data::sliding_window_inference(xf, {8, 3, 9}, 2, [](const Tensor<float>& w) {
    Tensor<float> y = w.clone();
    for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] = 3 * y.data()[i] - 1;
    return y;
  }, {.overlap = 0.5, .mode = "gaussian", .padding_mode = "reflect"});
  Tensor<float> wantf = xf.clone();
  for (int64_t i = 0; i < wantf.numel(); ++i) wantf.data()[i] = 3 * wantf.data()[i] - 1;
  test::check_close(outf, wantf, 1e-5, "roi bigger than the image");
}

TEST_CASE("sliding_window_inference runs a Module under NoGradGuard", "[data][sliding_window]") {
  struct Doubler : nn::Module<float> {
    bool grad_seen = true;
    Var<float> forward(const Var<float>& x) override {
      grad_seen = GradMode::enabled();
      Tensor<float> y = x.value().clone();
      for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] *= 2;
      return Var<float>(y);
    }
  } model;
  Generator gen(2);
  const Tensor<float> x = randn<float>({1, 1, 6, 6, 6}, gen);
  const Tensor<float> out = data::sliding_window_inference(x, {4, 4, 4}, 2, model);
  CHECK_FALSE(model.grad_seen);
  CHECK(GradMode::enabled());
  Tensor<float> want = x.clone();
  for (int64_t i = 0; i < want.numel(); ++i) want.data()[i] *= 2;
  test::check_close(out, want, 1e-6);
}

TEST_CASE("sliding_window_inference reports bad arguments", "[data][sliding_window]") {
  const Tensor<float> x = zeros<float>({1, 1, 8, 8, 8});
  auto id = [](const Tensor<float>& w) { return w; };
  REQUIRE_THROWS_WITH(data::sliding_window_inference(zeros<float>({1, 8, 8, 8}), {4, 4, 4}, 1, id),
                      Catch::Contains("expected [N, C, X, Y, Z]"));
  REQUIRE_THROWS_WITH(data::sliding_window_inference(x, {4, 4, 4}, 1, id, {.overlap = 1.0}),
                      Catch::Contains("overlap must be in [0, 1), got 1"));
  REQUIRE_THROWS_WITH(data::sliding_window_inference(x, {4, 4, 4}, 0, id), Catch::Contains("sw_batch_size"));
  REQUIRE_THROWS_WITH(data::sliding_window_inference(x, {4, 4, 4}, 1, id, {.mode = "triangle"}),
                      Catch::Contains("unknown blending mode 'triangle'"));
  REQUIRE_THROWS_WITH(data::sliding_window_inference(x, {4, 4, 4}, 1, id, {.padding_mode = "mirror"}),
                      Catch::Contains("unknown padding mode 'mirror'"));
  auto zoom = [](const Tensor<float>& w) { return zeros<float>({w.size(0), 1, 2, 2, 2}); };
  REQUIRE_THROWS_WITH(data::sliding_window_inference(x, {4, 4, 4}, 1, zoom),
                      Catch::Contains("predictor returned shape [1, 1, 2, 2, 2] for windows of shape [1, 1, 4, 4, 4]"));
}
