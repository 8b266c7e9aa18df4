// voxnn::metrics against MONAI 1.3.2, fastmri 0.3.0, scikit-image and scipy themselves
// (tests/fixtures/gen_models_metrics.py -> models_metrics.safetensors), plus closed forms and a brute-force
// check of the exact distance transform.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/metrics/metrics.hpp"

using namespace voxnn;

namespace {

constexpr const char* kFile = "models_metrics.safetensors";

std::vector<double> reals(const test::FixtureCase& c, std::string_view key) {
  std::vector<double> out;
  for (const auto& v : c.param(key).array())
    out.push_back(v.is_integer() ? static_cast<double>(v.integer()) : std::strtod(v.string().c_str(), nullptr));
  return out;
}

metrics::HausdorffOptions hausdorff_options(const test::FixtureCase& c) {
  metrics::HausdorffOptions o;
  o.include_background = c.flag("include_background");
  o.distance_metric = metrics::distance_metric_from_string(c.string("distance_metric"));
  if (c.real("percentile") >= 0) o.percentile = c.real("percentile");
  o.directed = c.flag("directed");
  o.spacing = reals(c, "spacing");
  for (const auto& row : c.param("spacing_per_sample").array()) {
    std::vector<double> s;
    for (const auto& v : row.array()) s.push_back(std::strtod(v.string().c_str(), nullptr));
    o.spacing_per_sample.push_back(s);
  }
  return o;
}

// Results that MONAI computes in float32 whatever the input: held to the case's float32 tolerance.
void check_float32_reference(const test::FixtureCase& c, const Tensor<double>& actual, int k = 0) {
  test::check_close(actual, c.expected<double>(k), c.float_tolerance(), c.name());
}

double brute_force_distance(const std::vector<std::array<int64_t, 3>>& to, const std::array<int64_t, 3>& p,
                            const std::array<double, 3>& s) {
  double best = std::numeric_limits<double>::infinity();
  for (const auto& q : to) {
    double d = 0;
    for (int a = 0; a < 3; ++a) d += (s[a] * static_cast<double>(p[a] - q[a])) * (s[a] * static_cast<double>(p[a] - q[a]));
    best = std::min(best, d);
  }
  return std::sqrt(best);
}

}  // namespace

TEMPLATE_TEST_CASE("dice matches MONAI compute_dice", "[models][metrics]", float, double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "dice")) {
    INFO("case " << c.name());
    metrics::DiceMetricOptions o{.include_background = c.flag("include_background"),
                                 .ignore_empty = c.flag("ignore_empty")};
    if (c.integer("num_classes") >= 0) o.num_classes = c.integer("num_classes");
    // MONAI returns float32 scores even for double input: the float32 tolerance.
    check_float32_reference(c, metrics::dice(c.input<T>(0), c.input<T>(1), o));
    // The same targets as int64 (labels or 0/1) give the same scores.
    if (c.name() != "dice.soft_target") check_float32_reference(c, metrics::dice(c.input<T>(0), c.input<int64_t>(1), o));
    ++count;
  }
  CHECK(count == 9);
}

TEST_CASE("dice: label maps without a channel dim, one_hot and dice_per_class", "[models][metrics]") {
  const auto c = test::fixture_cases(kFile, "dice");
  for (const auto& k : c) {
    if (k.name() != "dice.labels3d") continue;
    const Tensor<int64_t> p = k.input<int64_t>(0), t = k.input<int64_t>(1);
    check_float32_reference(k, metrics::dice_labels(p.squeeze(1), t.squeeze(1), 4));
    // One-hot both: the same scores.
    check_float32_reference(k, metrics::dice(metrics::one_hot<float>(p, 4), metrics::one_hot<float>(t, 4)));
    // mean_batch: NaN left out; class 3 has no score at all -> 0, as MONAI.
    const Tensor<double> per_class = metrics::dice_per_class(k.expected<double>());
    const Tensor<double> e = k.expected<double>();
    REQUIRE(per_class.numel() == 4);
    for (int64_t j = 0; j < 3; ++j) CHECK(per_class.data()[j] == Approx((e.data()[j] + e.data()[4 + j]) / 2));
    CHECK(per_class.data()[3] == 0.0);
  }
  CHECK_THROWS_WITH(metrics::one_hot<float>(from_vector<int64_t>({0, 5}, {1, 1, 2}), 3),
                    Catch::Contains("one_hot: label 5"));
  CHECK_THROWS_WITH(metrics::one_hot<float>(from_vector<double>({0, std::nan("")}, {1, 1, 2}), 3),
                    Catch::Contains("one_hot: label nan is not a class index"));
  CHECK_THROWS_WITH(metrics::dice(zeros<float>({1, 3, 4, 4}), zeros<float>({1, 2, 4, 4})),
                    Catch::Contains("dice: target of shape [1, 2, 4, 4] has 2 channels"));
  CHECK_THROWS_WITH(metrics::dice(zeros<float>({1, 3, 4, 4}), zeros<float>({1, 3, 4, 5})),
                    Catch::Contains("differ in spatial size"));
  CHECK_THROWS_WITH(metrics::dice(zeros<float>({1, 3}), zeros<float>({1, 3})), Catch::Contains("at least one spatial"));
}

TEST_CASE("reduce_metric matches MONAI do_metric_reduction", "[models][metrics]") {
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "reduce")) {
    INFO("case " << c.name());
    const auto r = metrics::reduce_metric(c.input<double>(0), metrics::metric_reduction_from_string(c.string("reduction")));
    // MONAI reduces in float32 and gives "mean" the shape [1]; voxnn gives a scalar [].
    check_float32_reference(c, r.value.reshape(c.expected<double>(0).shape()), 0);
    check_float32_reference(c, r.not_nans.reshape(c.expected<double>(1).shape()), 1);
    ++count;
  }
  CHECK(count == 7);
  CHECK_THROWS_WITH(metrics::metric_reduction_from_string("avg"), Catch::Contains("'avg' is not one of"));
}

TEMPLATE_TEST_CASE("hausdorff_distance matches MONAI compute_hausdorff_distance", "[models][metrics]", float, bool) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "hausdorff")) {
    INFO("case " << c.name());
    const auto o = hausdorff_options(c);
    check_float32_reference(c, metrics::hausdorff_distance(c.input<T>(0), c.input<T>(1), o));
    if (o.percentile && *o.percentile == 95) {
      auto plain = o;
      plain.percentile.reset();
      check_float32_reference(c, metrics::hd95(c.input<T>(0), c.input<T>(1), plain));
    }
    ++count;
  }
  CHECK(count == 20);
}

TEST_CASE("average_surface_distance matches MONAI compute_average_surface_distance", "[models][metrics]") {
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "asd")) {
    INFO("case " << c.name());
    metrics::SurfaceDistanceOptions o;
    o.include_background = c.flag("include_background");
    o.symmetric = c.flag("symmetric");
    o.distance_metric = metrics::distance_metric_from_string(c.string("distance_metric"));
    o.spacing = reals(c, "spacing");
    check_float32_reference(c, metrics::average_surface_distance(c.input<bool>(0), c.input<bool>(1), o));
    ++count;
  }
  CHECK(count == 5);
}

TEST_CASE("distance_transform_edt matches scipy.ndimage and a brute force", "[models][metrics]") {
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "edt")) {
    INFO("case " << c.name());
    c.check<double>(metrics::distance_transform_edt(c.input<bool>(0), reals(c, "sampling")));
    ++count;
  }
  CHECK(count == 4);

  // Brute force on a sparse random 3-D feature set with anisotropic voxels.
  Generator gen(7);
  const Tensor<float> u = rand<float>({11, 9, 13}, gen);
  Tensor<bool> mask(u.shape());
  std::vector<std::array<int64_t, 3>> features;
  for (int64_t i = 0; i < u.numel(); ++i) {
    mask.data()[i] = u.data()[i] > 0.03f;
    if (!mask.data()[i]) features.push_back({i / (9 * 13), (i / 13) % 9, i % 13});
  }
  REQUIRE(!features.empty());
  const std::array<double, 3> s{2.5, 0.7, 1.3};
  const Tensor<double> d = metrics::distance_transform_edt(mask, {s[0], s[1], s[2]});
  double worst = 0;
  for (int64_t i = 0; i < u.numel(); ++i)
    worst = std::max(worst, std::abs(d.data()[i] - brute_force_distance(features, {i / (9 * 13), (i / 13) % 9, i % 13}, s)));
  CHECK(worst < 1e-12);
  // No zero voxel at all: +inf everywhere.
  CHECK(std::isinf(metrics::distance_transform_edt(ones<float>({3, 4})).data()[5]));
  CHECK_THROWS_WITH(metrics::distance_transform_edt(ones<float>({3, 4}), {1.0, 2.0, 3.0}),
                    Catch::Contains("spacing has 3 values"));
}

TEST_CASE("mask_edges: the voxels a cross-shaped erosion removes", "[models][metrics]") {
  Tensor<float> m = zeros<float>({5, 6});
  for (int64_t y = 1; y < 4; ++y)
    for (int64_t x = 1; x < 5; ++x) m.at({y, x}) = 1;
  const Tensor<bool> e = metrics::mask_edges(m);
  int64_t n = 0;
  for (int64_t i = 0; i < e.numel(); ++i) n += e.data()[i];
  CHECK(n == 10);  // a 3 x 4 block keeps its 2 interior voxels
  CHECK(!e.at({2, 2}));
  CHECK(!e.at({2, 3}));
  // At the image border the outside counts as background.
  const Tensor<bool> full = metrics::mask_edges(ones<float>({3, 3, 3}));
  int64_t f = 0;
  for (int64_t i = 0; i < full.numel(); ++i) f += full.data()[i];
  CHECK(f == 26);
}

TEST_CASE("hausdorff_distance: closed forms, empty masks and errors", "[models][metrics]") {
  // Two single voxels 3 rows and 4 columns apart: HD = 5, with spacing (2, 1): sqrt(36 + 16).
  Tensor<float> p = zeros<float>({1, 2, 8, 8}), t = zeros<float>({1, 2, 8, 8});
  p.at({0, 1, 1, 1}) = 1;
  t.at({0, 1, 4, 5}) = 1;
  CHECK(metrics::hausdorff_distance(p, t).item() == Approx(5.0));
  CHECK(metrics::hausdorff_distance(p, t, {.spacing = {2.0, 1.0}}).item() == Approx(std::sqrt(52.0)));
  CHECK(metrics::hausdorff_distance(p, t, {.distance_metric = metrics::DistanceMetric::chessboard}).item() == 4.0);
  CHECK(metrics::hausdorff_distance(p, t, {.distance_metric = metrics::DistanceMetric::taxicab}).item() == 7.0);
  CHECK(metrics::average_surface_distance(p, t).item() == Approx(5.0));
  // Identical masks: 0.
  CHECK(metrics::hd95(t, t).item() == 0.0);
  // Empty prediction: +inf; both empty: NaN; HD95 of an empty prediction: NaN (as MONAI).
  const Tensor<float> e = zeros<float>({1, 2, 8, 8});
  CHECK(std::isinf(metrics::hausdorff_distance(e, t).item()));
  CHECK(std::isnan(metrics::hausdorff_distance(e, e).item()));
  CHECK(std::isnan(metrics::hd95(e, t).item()));
  // 1-D works too.
  Tensor<float> a = zeros<float>({1, 1, 10}), b = zeros<float>({1, 1, 10});
  a.at({0, 0, 2}) = 1;
  b.at({0, 0, 7}) = 1;
  CHECK(metrics::hausdorff_distance(a, b, {.spacing = {0.5}}).item() == Approx(2.5));

  CHECK_THROWS_WITH(metrics::hausdorff_distance(p, t, {.percentile = 101.0}), Catch::Contains("percentile should be in [0, 100]"));
  CHECK_THROWS_WITH(metrics::hausdorff_distance(p, zeros<float>({1, 2, 8, 9})), Catch::Contains("differ"));
  CHECK_THROWS_WITH(metrics::hausdorff_distance(p, t, {.spacing = {1.0, 1.0, 1.0}}), Catch::Contains("spacing has 3 values"));
  CHECK_THROWS_WITH(metrics::hausdorff_distance(p, t, {.spacing = {1.0, -1.0}}), Catch::Contains("positive"));
  CHECK_THROWS_WITH(metrics::hausdorff_distance(p, t, {.spacing_per_sample = {{1.0}, {1.0}}}),
                    Catch::Contains("spacing_per_sample has 2 entries for a batch of 1"));
  CHECK_THROWS_WITH(metrics::hausdorff_distance(zeros<float>({1, 1, 2, 2, 2, 2}), zeros<float>({1, 1, 2, 2, 2, 2})),
                    Catch::Contains("1, 2 or 3 spatial dims"));
  CHECK_THROWS_WITH(metrics::distance_metric_from_string("manhattan"), Catch::Contains("'manhattan' is not one of"));
}

TEMPLATE_TEST_CASE("image metrics match fastMRI, scikit-image and MONAI", "[models][metrics]", float, double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases(kFile, "image")) {
    INFO("case " << c.name());
    const Tensor<T> gt = c.input<T>(0), pred = c.input<T>(1);
    const std::string m = c.string("metric");
    metrics::SsimOptions o;
    if (c.has("data_range")) o.data_range = c.real("data_range");
    if (c.has("win_size")) o.win_size = c.integer("win_size");
    if (c.has("k1")) o.k1 = c.real("k1");
    if (c.has("k2")) o.k2 = c.real("k2");
    if (c.has("gaussian_weights")) o.gaussian_weights = c.flag("gaussian_weights");
    if (c.has("use_sample_covariance")) o.use_sample_covariance = c.flag("use_sample_covariance");
    auto scalar = [](double v) { return scalar_tensor<double>(v); };
    if (m == "mse") c.check<T>(scalar(metrics::mse(gt, pred)));
    else if (m == "nmse") c.check<T>(scalar(metrics::nmse(gt, pred)));
    else if (m == "psnr") c.check<T>(scalar(metrics::psnr(gt, pred, o.data_range)));
    else if (m == "ssim") c.check<T>(scalar(metrics::ssim(gt, pred, o)));
    else if (m == "structural_similarity") c.check<T>(scalar(metrics::structural_similarity(gt, pred, o)));
    else if (m == "ssim3d") c.check<T>(scalar(metrics::ssim3d(gt, pred, o)));
    else if (m == "mse_per_sample") c.check<T>(metrics::mse_per_sample(gt, pred));
    else if (m == "mae_per_sample") c.check<T>(metrics::mae_per_sample(gt, pred));
    else if (m == "rmse_per_sample") c.check<T>(metrics::rmse_per_sample(gt, pred));
    else if (m == "psnr_per_sample") c.check<T>(metrics::psnr_per_sample(gt, pred, *o.data_range));
    else FAIL("unknown metric " << m);
    ++count;
  }
  CHECK(count == 13);
}

TEST_CASE("image metrics: closed forms and errors", "[models][metrics]") {
  const Tensor<double> a = from_vector<double>({1, 2, 3, 4}, {2, 2}), b = from_vector<double>({1, 2, 3, 6}, {2, 2});
  CHECK(metrics::mse(a, b) == Approx(1.0));
  CHECK(metrics::mae(a, b) == Approx(0.5));
  CHECK(metrics::rmse(a, b) == Approx(1.0));
  CHECK(metrics::nmse(a, b) == Approx(4.0 / 30.0));
  CHECK(metrics::psnr(a, b) == Approx(10 * std::log10(16.0)));
  CHECK(metrics::psnr(a, b, 2.0) == Approx(10 * std::log10(4.0)));
  Generator gen(3);
  const Tensor<float> img = rand<float>({2, 12, 13}, gen);
  CHECK(metrics::ssim(img, img) == Approx(1.0));
  const Tensor<float> vol = rand<float>({8, 9, 10}, gen);
  CHECK(metrics::ssim3d(vol, vol) == Approx(1.0));
  CHECK(metrics::ssim3d(vol.unsqueeze(0), vol.unsqueeze(0), {.win_size = 3}) == Approx(1.0));
  CHECK_THROWS_WITH(metrics::ssim(img, rand<float>({2, 12, 12}, gen)), Catch::Contains("ssim: gt of shape [2, 12, 13] and pred of shape [2, 12, 12] differ"));
  CHECK_THROWS_WITH(metrics::ssim(img, img, {.win_size = 4}), Catch::Contains("win_size must be odd"));
  CHECK_THROWS_WITH(metrics::ssim(img, img, {.win_size = 15}), Catch::Contains("window exceeds the image"));
  CHECK_THROWS_WITH(metrics::ssim(img.reshape({2, 12, 13, 1}), img.reshape({2, 12, 13, 1})), Catch::Contains("use ssim3d"));
  CHECK_THROWS_WITH(metrics::structural_similarity(img, img, {}), Catch::Contains("data_range is required"));
  CHECK_THROWS_WITH(metrics::ssim(img, img, {.win_size = 7, .gaussian_weights = true}),
                    Catch::Contains("with gaussian_weights the window is 2 * int(3.5 sigma + 0.5) + 1 = 11"));
}
