// The sample transforms' properties: the affine stays true under every spatial transform, image and
// label stay aligned and labels keep their values, random transforms reproduce the deterministic
// ones for the same draw and the same seed gives the same sample on 1 or 2 threads; closed forms for
// identities, integer shifts and quarter turns through the resampler; noise and bias-field
// statistics; one-hot; and the errors for bad shapes and options.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <set>
#include <string>

#include "support/fixtures.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/data/transforms.hpp"

using namespace voxnn;

namespace {

// A sample whose image channels 0..2 hold each voxel's world position (plus 1000, so that padding
// zeros stand out) under a rotated, anisotropic, shifted affine, and a label of indices 0..3.
data::Sample<double> world_sample(int64_t X, int64_t Y, int64_t Z) {
  data::Sample<double> s;
  io::Affine a = io::Affine::from_spacing({0.8, 1.5, 2.0}, {-10, 5, 30});
  a.m[0][1] = 0.3;  // a little shear, so that axes are not interchangeable
  a.m[2][0] = -0.2;
  s.affine = a;
  s.image = Tensor<double>({3, X, Y, Z});
  s.label = Tensor<double>({1, X, Y, Z});
  for (int64_t x = 0; x < X; ++x)
    for (int64_t y = 0; y < Y; ++y)
      for (int64_t z = 0; z < Z; ++z) {
        const auto w = a.apply({double(x), double(y), double(z)});
        for (int64_t c = 0; c < 3; ++c) s.image.at({c, x, y, z}) = w[static_cast<std::size_t>(c)] + 1000;
        s.label->at({0, x, y, z}) = double((x + 2 * y + 3 * z) % 4);
      }
  return s;
}

// Every voxel that is not padding holds the world position that the sample's affine gives it.
void require_affine_true(const data::Sample<double>& s, const std::string& what) {
  INFO(what);
  REQUIRE(s.image.dim() == 4);
  int64_t checked = 0;
  double worst = 0;
  for (int64_t x = 0; x < s.image.size(1); ++x)
    for (int64_t y = 0; y < s.image.size(2); ++y)
      for (int64_t z = 0; z < s.image.size(3); ++z) {
        if (s.image.at({0, x, y, z}) == 0) continue;  // padding
        const auto w = s.affine.apply({double(x), double(y), double(z)});
        for (int64_t c = 0; c < 3; ++c)
          worst = std::max(worst, std::abs(s.image.at({c, x, y, z}) - 1000 - w[static_cast<std::size_t>(c)]));
        ++checked;
      }
  CHECK(checked > 0);
  CHECK(worst < 1e-9);
}

template <class T>
std::set<T> values(const Tensor<T>& t) {
  const auto v = t.to_vector();
  return {v.begin(), v.end()};
}

// A smooth random image [1, X, Y, Z] and its threshold at 0.5 as the label.
data::Sample<float> threshold_sample(int64_t n, uint64_t seed) {
  Generator g(seed);
  data::Sample<float> s;
  Tensor<float> noise = rand<float>({1, n, n, n}, g);
  s.image = Tensor<float>({1, n, n, n});
  for (int64_t x = 0; x < n; ++x)
    for (int64_t y = 0; y < n; ++y)
      for (int64_t z = 0; z < n; ++z)
        s.image.at({0, x, y, z}) = 0.5f + 0.4f * std::sin(0.4f * float(x) + 0.3f * float(y)) * std::cos(0.35f * float(z)) +
                                   0.05f * noise.at({0, x, y, z});
  s.label = Tensor<float>({1, n, n, n});
  const auto v = s.image.to_vector();
  for (std::size_t i = 0; i < v.size(); ++i) s.label->data()[i] = v[i] > 0.5f ? 1.0f : 0.0f;
  return s;
}

void require_aligned(const data::Sample<float>& s, const std::string& what) {
  INFO(what);
  REQUIRE(s.label.has_value());
  REQUIRE(s.label->shape() == s.image.shape());
  const auto img = s.image.to_vector(), lab = s.label->to_vector();
  int64_t bad = 0;
  for (std::size_t i = 0; i < img.size(); ++i) bad += (img[i] > 0.5f ? 1.0f : 0.0f) != lab[i];
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("Compose applies transforms in order and converts to Transform", "[data][transforms]") {
  data::Sample<float> s;
  s.image = full<float>({1, 2, 2, 2}, 2.0f);
  std::vector<int> order;
  data::Compose<float> c{data::ScaleIntensityRange{.a_min = 0, .a_max = 4},
                         [&](data::Sample<float>& x, Generator&) { order.push_back(int(x.image.at({0, 0, 0, 0}) * 10)); },
                         data::ClipIntensity{.a_min = 0, .a_max = 0.25}};
  c.then([&](data::Sample<float>& x, Generator&) { order.push_back(int(x.image.at({0, 0, 0, 0}) * 100)); });
  Generator g(3);
  const Tensor<float> before = s.image;
  const auto out = c.apply(s, g);
  CHECK(order == std::vector<int>{5, 25});
  CHECK(out.image.at({0, 1, 1, 1}) == 0.25f);
  CHECK(before.at({0, 0, 0, 0}) == 2.0f);  // the input's tensor is not modified
  auto d = data::compose<double>(data::Flip{}, data::RandFlip{.prob = 1.0});
  CHECK(d.size() == 2);
  REQUIRE_THROWS_WITH(data::Compose<float>({data::Transform<float>()}), Catch::Contains("Compose: transform 0 is empty"));
}

TEST_CASE("spatial transforms keep the affine true", "[data][transforms]") {
  Generator g(11);
  auto run = [&](auto t, const std::string& what, int64_t X = 9, int64_t Y = 7, int64_t Z = 6) {
    auto s = world_sample(X, Y, Z);
    t(s, g);
    require_affine_true(s, what);
    return s;
  };
  run(data::SpatialPad{.spatial_size = {12, 9, 9}}, "SpatialPad");
  run(data::CenterSpatialCrop{.roi_size = {4, 5, 3}}, "CenterSpatialCrop");
  run(data::ResizeWithPadOrCrop{.spatial_size = {5, 10, 4}}, "ResizeWithPadOrCrop");
  run(data::DivisiblePad{.k = {4, 4, 4}}, "DivisiblePad");
  for (int axis = 0; axis < 3; ++axis) run(data::Flip{.spatial_axis = {axis}}, "Flip " + std::to_string(axis));
  run(data::Flip{}, "Flip all");
  for (int k = 1; k <= 3; ++k)
    for (auto axes : {std::array<int, 2>{0, 1}, std::array<int, 2>{0, 2}, std::array<int, 2>{2, 1}})
      run(data::Rotate90{.k = k, .spatial_axes = axes}, "Rotate90 k=" + std::to_string(k));
  for (int i = 0; i < 5; ++i) {
    run(data::RandSpatialCrop{.roi_size = {4, 3, 5}}, "RandSpatialCrop");
    run(data::RandSpatialCrop{.roi_size = {2, 2, 2}, .random_size = true}, "RandSpatialCrop random_size");
    run(data::RandCropByPosNegLabel{.spatial_size = {3, 4, 5}}, "RandCropByPosNegLabel");
    run(data::RandFlip{.prob = 0.5}, "RandFlip");
    run(data::RandRotate90{.prob = 0.7, .spatial_axes = {1, 2}}, "RandRotate90");
  }
  // CropForeground on a blob: the crop box with margins and k, padded past the edges
  auto s = world_sample(9, 7, 6);
  data::Sample<double> t = s;
  t.image = s.image.clone();
  t.label = zeros<double>({1, 9, 7, 6});
  t.label->at({0, 1, 2, 3}) = 1;
  t.label->at({0, 3, 2, 4}) = 2;
  data::CropForeground{.source = "label", .margin = {1, 1, 1}, .allow_smaller = false, .k_divisible = {4, 4, 4}}(t, g);
  CHECK(t.image.shape() == Shape{3, 8, 4, 4});
  require_affine_true(t, "CropForeground");
}

TEST_CASE("RandFlip and RandRotate90 are the deterministic ones for the same draw", "[data][transforms]") {
  const auto base = world_sample(5, 5, 4);
  int flips = 0, rotations = 0;
  for (uint64_t seed = 0; seed < 24; ++seed) {
    Generator g(seed), replay(seed);
    auto s = base;
    data::RandFlip{.prob = 0.5, .spatial_axis = {0, 2}}(s, g);
    auto want = base;
    if (data::detail::draws(replay).uniform() < 0.5) {
      data::Flip{.spatial_axis = {0, 2}}(want, replay);
      ++flips;
    }
    test::require_equal(s.image, want.image, "RandFlip image");
    test::require_equal(*s.label, *want.label, "RandFlip label");
    CHECK(s.affine == want.affine);

    auto r = base;
    data::RandRotate90{.prob = 0.5, .max_k = 3, .spatial_axes = {0, 1}}(r, g);
    auto wr = base;
    const bool run = data::detail::draws(replay).uniform() < 0.5;
    const int k = 1 + int(data::detail::draws(replay).integer(3));
    if (run) {
      data::Rotate90{.k = k, .spatial_axes = {0, 1}}(wr, replay);
      ++rotations;
    }
    test::require_equal(r.image, wr.image, "RandRotate90 image");
    test::require_equal(*r.label, *wr.label, "RandRotate90 label");
    CHECK(r.affine == wr.affine);
  }
  CHECK(flips > 4);
  CHECK(flips < 20);
  CHECK(rotations > 4);
  CHECK(rotations < 20);
}

TEST_CASE("the resampler: identity, integer shifts and quarter turns are exact", "[data][transforms]") {
  Generator g(2);
  data::Sample<float> s;
  s.image = randn<float>({2, 8, 8, 5}, g);
  s.label = Tensor<float>({1, 8, 8, 5});
  for (int64_t i = 0; i < s.label->numel(); ++i) s.label->data()[i] = float(i % 3);
  SECTION("zero ranges: identity") {
    auto t = s;
    data::RandAffine{.prob = 1.0}(t, g);
    test::require_equal(t.image, s.image);
    auto e = s;
    data::Rand3DElastic{.sigma_range = {2, 3}, .magnitude_range = {0, 0}, .prob = 1.0}(e, g);
    test::require_equal(e.image, s.image);
    test::require_equal(*e.label, *s.label);
  }
  SECTION("an integer translation is a shift with zero padding") {
    auto t = s;
    data::Affine3D{.translate_params = {2, -1, 0}, .padding_mode = "zeros"}(t, g);
    for (int64_t x = 0; x < 8; ++x)
      for (int64_t y = 0; y < 8; ++y)
        for (int64_t z = 0; z < 5; ++z) {
          const int64_t sx = x + 2, sy = y - 1;
          const bool in = sx < 8 && sy >= 0;
          for (int64_t c = 0; c < 2; ++c)
            REQUIRE(t.image.at({c, x, y, z}) == (in ? s.image.at({c, sx, sy, z}) : 0.0f));
          REQUIRE(t.label->at({0, x, y, z}) == (in ? s.label->at({0, sx, sy, z}) : 0.0f));
        }
  }
  SECTION("a quarter turn about Z is Rotate90 k = 3 in the (X, Y) plane") {
    auto t = s, r = s;
    data::Affine3D{.rotate_params = {0, 0, std::numbers::pi / 2}}(t, g);
    data::Rotate90{.k = 3, .spatial_axes = {0, 1}}(r, g);
    test::require_close(t.image, r.image, 1e-5);
    test::require_equal(*t.label, *r.label);
    CHECK(t.affine == s.affine);  // resampled on the same grid
  }
}

TEST_CASE("labels keep their values and stay aligned with the image", "[data][transforms]") {
  const auto base = threshold_sample(20, 4);
  Generator g(21);
  auto check = [&](auto t, const std::string& what) {
    auto s = base;
    t(s, g);
    require_aligned(s, what);
  };
  for (std::string pad : {"zeros", "border", "reflection"}) {
    check(data::RandAffine{.prob = 1.0, .rotate_range = {0.4, 0.4, 0.4}, .shear_range = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1},
                           .translate_range = {3, 3, 3}, .scale_range = {0.2, 0.2, 0.2}, .mode = "nearest",
                           .padding_mode = pad},
          "RandAffine nearest " + pad);
    check(data::Rand3DElastic{.sigma_range = {2, 3}, .magnitude_range = {3, 6}, .prob = 1.0,
                              .rotate_range = {0.2, 0.2, 0.2}, .mode = "nearest", .padding_mode = pad},
          "Rand3DElastic nearest " + pad);
  }
  check(data::RandSpatialCrop{.roi_size = {9, 11, 7}}, "RandSpatialCrop");
  check(data::RandCropByPosNegLabel{.spatial_size = {9, 11, 7}}, "RandCropByPosNegLabel");
  check(data::RandFlip{.prob = 1.0}, "RandFlip");
  check(data::RandRotate90{.prob = 1.0}, "RandRotate90");
  check(data::CropForeground{.source = "label", .margin = {2, 2, 2}}, "CropForeground");
  // bilinear image: the label (nearest) keeps exactly the values it had
  auto s = world_sample(10, 9, 8);
  data::Rand3DElastic{.sigma_range = {2, 3}, .magnitude_range = {2, 4}, .prob = 1.0, .rotate_range = {0.3, 0.3, 0.3}}(s, g);
  for (double v : values(*s.label)) CHECK((v == 0 || v == 1 || v == 2 || v == 3));
  data::RandAffine{.prob = 1.0, .rotate_range = {0.5, 0.5, 0.5}, .scale_range = {0.3, 0.3, 0.3}}(s, g);
  CHECK(values(*s.label).size() == 4);
  for (double v : values(*s.label)) CHECK((v == 0 || v == 1 || v == 2 || v == 3));
}

TEST_CASE("the same seed gives the same sample on 1 and 2 threads", "[data][transforms]") {
  const auto base = threshold_sample(40, 9);
  data::Compose<float> pipeline{
      data::NormalizeIntensity{.nonzero = true},
      data::RandCropByPosNegLabel{.spatial_size = {32, 30, 28}},
      data::RandFlip{.prob = 0.5},
      data::RandRotate90{.prob = 0.5},
      data::RandAffine{.prob = 1.0, .rotate_range = {0.3, 0.3, 0.3}, .scale_range = {0.1, 0.1, 0.1}},
      data::Rand3DElastic{.sigma_range = {3, 4}, .magnitude_range = {2, 5}, .prob = 1.0},
      data::RandGaussianNoise{.prob = 1.0},
      data::RandRicianNoise{.prob = 1.0, .std = 0.1},
      data::RandBiasField{.prob = 1.0},
      data::ScaleIntensityRangePercentiles{.lower = 1, .upper = 99, .b_min = 0.0, .b_max = 1.0}};
  const int threads = num_threads();
  auto run = [&](int n, uint64_t seed) {
    set_num_threads(n);
    Generator g(seed);
    return pipeline.apply(base, g);
  };
  const auto a = run(1, 77), b = run(2, 77), c = run(2, 78);
  set_num_threads(threads);
  test::require_equal(a.image, b.image, "image, 1 vs 2 threads");
  test::require_equal(*a.label, *b.label, "label, 1 vs 2 threads");
  CHECK(a.affine == b.affine);
  CHECK(!(a.image.to_vector() == c.image.to_vector()));
}

TEST_CASE("noise statistics", "[data][transforms]") {
  Generator g(5);
  data::Sample<double> s;
  s.image = zeros<double>({1, 40, 40, 40});
  SECTION("Gaussian: mean and standard deviation") {
    data::RandGaussianNoise{.prob = 1.0, .mean = 0.2, .std = 0.5, .sample_std = false}(s, g);
    const auto v = s.image.to_vector();
    double m = 0, q = 0;
    for (double x : v) m += x;
    m /= double(v.size());
    for (double x : v) q += (x - m) * (x - m);
    CHECK(m == Approx(0.2).margin(0.005));
    CHECK(std::sqrt(q / double(v.size())) == Approx(0.5).epsilon(0.01));
  }
  SECTION("Gaussian: a sampled standard deviation stays below std") {
    Generator replay = g;  // the same draws: prob, then sigma uniform in [0, std)
    data::detail::draws(replay).bernoulli(1.0);
    const double sigma = data::detail::draws(replay).uniform(0, 0.5);
    data::RandGaussianNoise{.prob = 1.0, .std = 0.5}(s, g);
    double q = 0;
    for (double x : s.image.to_vector()) q += x * x;
    const double rms = std::sqrt(q / 64000);
    CHECK(rms > 0);
    CHECK(rms < 0.51);
    CHECK(sigma < 0.5);
    CHECK(rms == Approx(sigma).epsilon(0.02));  // 64000 normals: the rms is within ~0.3% of sigma
  }
  SECTION("Rician: Rayleigh mean at zero signal, E[x^2] = nu^2 + 2 sigma^2") {
    auto t = s;
    data::RandRicianNoise{.prob = 1.0, .std = 2.0, .sample_std = false}(t, g);
    double m = 0;
    for (double x : t.image.to_vector()) {
      CHECK(x >= 0);
      m += x;
    }
    CHECK(m / 64000 == Approx(2.0 * std::sqrt(std::numbers::pi / 2)).epsilon(0.01));
    auto u = s;
    u.image.fill_(3.0);
    data::RandRicianNoise{.prob = 1.0, .std = 1.0, .sample_std = false}(u, g);
    double q = 0;
    for (double x : u.image.to_vector()) q += x * x;
    CHECK(q / 64000 == Approx(9 + 2).epsilon(0.01));
  }
  SECTION("prob 0 leaves the image alone") {
    const Tensor<double> before = s.image;
    data::RandGaussianNoise{.prob = 0.0}(s, g);
    data::RandRicianNoise{.prob = 0.0}(s, g);
    CHECK(s.image.shares_storage_with(before));
  }
}

TEST_CASE("RandBiasField multiplies by exp of the polynomial of its draws", "[data][transforms]") {
  data::Sample<double> s;
  s.image = full<double>({2, 12, 10, 9}, 2.0);
  Generator g(8), replay(8);
  data::RandBiasField{.degree = 3, .coeff_range = {-0.2, 0.3}, .prob = 1.0}(s, g);
  CHECK(data::detail::draws(replay).uniform() < 1.0);
  std::vector<double> coeff(20);
  for (auto& c : coeff) c = data::detail::draws(replay).uniform(-0.2, 0.3);
  const Tensor<double> f = data::bias_field<double>({12, 10, 9}, 3, coeff);
  double worst = 0, max_d4 = 0;
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t x = 0; x < 12; ++x)
      for (int64_t y = 0; y < 10; ++y)
        for (int64_t z = 0; z < 9; ++z) {
          const double v = s.image.at({c, x, y, z});
          CHECK(v > 0);
          worst = std::max(worst, std::abs(v - 2.0 * std::exp(f.at({x, y, z}))));
          if (z >= 4) {  // log of the field: a cubic along each axis, so its 4th difference is 0
            double d4 = 0;
            const double binom[5] = {1, -4, 6, -4, 1};
            for (int k = 0; k < 5; ++k) d4 += binom[k] * std::log(s.image.at({c, x, y, z - k}));
            max_d4 = std::max(max_d4, std::abs(d4));
          }
        }
  CHECK(worst < 1e-12);
  CHECK(max_d4 < 1e-10);  // smooth
}

TEST_CASE("random crops: sizes, positions and the label balance", "[data][transforms]") {
  Generator g(13);
  const auto base = world_sample(9, 7, 6);
  std::set<int64_t> starts;
  for (int i = 0; i < 200; ++i) {
    auto s = base;
    data::RandSpatialCrop{.roi_size = {4, 7, 9}}(s, g);
    REQUIRE(s.image.shape() == Shape{3, 4, 7, 6});  // larger than the image: not cropped
    starts.insert(std::lround(s.affine.apply({0, 0, 0})[0] * 1000));
    auto r = base;
    data::RandSpatialCrop{.roi_size = {2, 3, 4}, .max_roi_size = {5, -1, 4}, .random_size = true}(r, g);
    CHECK((r.image.size(1) >= 2 && r.image.size(1) <= 5 && r.image.size(2) >= 3 && r.image.size(2) <= 7 &&
           r.image.size(3) == 4));
  }
  CHECK(starts.size() == 6);  // every start 0..5 along X
  // one foreground voxel: pos-only crops always contain it, neg-only crops centre on background
  data::Sample<float> s;
  s.image = ones<float>({1, 20, 20, 20});
  s.label = zeros<float>({1, 20, 20, 20});
  s.label->at({0, 17, 2, 9}) = 1;
  for (int i = 0; i < 20; ++i) {
    auto p = s;
    data::RandCropByPosNegLabel{.spatial_size = {6, 6, 6}, .pos = 1, .neg = 0}(p, g);
    REQUIRE(p.image.shape() == Shape{1, 6, 6, 6});
    CHECK(values(*p.label).count(1.0f) == 1);
    CHECK(p.affine.apply({0, 0, 0})[0] == 14);  // clamped so the box fits: start 17 - 3 = 14
    auto n = s;
    data::RandCropByPosNegLabel{.spatial_size = {5, 5, 5}, .pos = 0, .neg = 1}(n, g);
    CHECK(n.label->at({0, 2, 2, 2}) == 0);
  }
  REQUIRE_THROWS_WITH((data::RandCropByPosNegLabel{.spatial_size = {30, 6, 6}}(s, g)),
                      Catch::Contains("RandCropByPosNegLabel: spatial_size 30 on axis 0 is larger than the image"));
  auto small = s;
  data::RandCropByPosNegLabel{.spatial_size = {30, 6, 6}, .allow_smaller = true}(small, g);
  CHECK(small.image.shape() == Shape{1, 20, 6, 6});
}

TEST_CASE("OneHot and percentiles", "[data][transforms]") {
  data::Sample<float> s;
  s.image = zeros<float>({1, 2, 2, 1});
  s.label = from_vector<float>({0, 2, 1, 2}, {1, 2, 2, 1});
  Generator g(1);
  data::OneHot{.num_classes = 3}(s, g);
  test::require_equal(*s.label, from_vector<float>({1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1}, {3, 2, 2, 1}));
  s.label = from_vector<float>({0, 2.5f, 1, 2}, {1, 2, 2, 1});
  REQUIRE_THROWS_WITH(data::OneHot{.num_classes = 3}(s, g),
                      Catch::Contains("OneHot: label value 2.5 at voxel 1 is not an integer in [0, 3)"));
  s.label = from_vector<float>({0, 3, 1, 2}, {1, 2, 2, 1});
  REQUIRE_THROWS_WITH(data::OneHot{.num_classes = 3}(s, g), Catch::Contains("label value 3 at voxel 1"));
  const std::vector<double> v{4, 1, 3, 2};
  CHECK(data::detail::percentile(v.data(), 4, 50) == 2.5);  // numpy.percentile([4, 1, 3, 2], 50)
  CHECK(data::detail::percentile(v.data(), 4, 10) == Approx(1.3));
  CHECK(data::detail::percentile(v.data(), 4, 100) == 4);
}

TEST_CASE("transforms reject bad shapes and options", "[data][transforms]") {
  Generator g(1);
  data::Sample<float> s;
  s.image = zeros<float>({4, 4, 4});
  REQUIRE_THROWS_WITH(data::RandFlip{}(s, g), Catch::Contains("RandFlip: image has shape [4, 4, 4]; expected [C, X, Y, Z]"));
  s.image = zeros<float>({1, 4, 4, 4});
  s.label = zeros<float>({1, 4, 4, 3});
  REQUIRE_THROWS_WITH((data::SpatialPad{.spatial_size = {6, 6, 6}}(s, g)),
                      Catch::Contains("SpatialPad: label has shape [1, 4, 4, 3]; expected [L, 4, 4, 4]"));
  s.label.reset();
  REQUIRE_THROWS_WITH(data::RandAffine{.prob = 1.5}(s, g), Catch::Contains("RandAffine: prob 1.5 is outside [0, 1]"));
  REQUIRE_THROWS_WITH(data::RandAffine{.mode = "bicubic"}(s, g), Catch::Contains("RandAffine: unknown mode 'bicubic'"));
  REQUIRE_THROWS_WITH(data::RandAffine{.padding_mode = "wrap"}(s, g), Catch::Contains("unknown padding_mode 'wrap'"));
  REQUIRE_THROWS_WITH((data::RandAffine{.rotate_range = {-1, 0, 0}}(s, g)), Catch::Contains("rotate_range -1"));
  REQUIRE_THROWS_WITH(data::ScaleIntensityRange{}(s, g), Catch::Contains("ScaleIntensityRange: a_min (nan)"));
  REQUIRE_THROWS_WITH((data::ScaleIntensityRange{.a_min = 0, .a_max = 1, .clip = true}(s, g)),
                      Catch::Contains("clip needs b_min and b_max"));
  REQUIRE_THROWS_WITH((data::ScaleIntensityRangePercentiles{.lower = 90, .upper = 10}(s, g)),
                      Catch::Contains("lower 90 and upper 10"));
  REQUIRE_THROWS_WITH((data::NormalizeIntensity{.subtrahend = {1, 2}}(s, g)),
                      Catch::Contains("NormalizeIntensity: subtrahend has 2 values"));
  REQUIRE_THROWS_WITH((data::Flip{.spatial_axis = {3}}(s, g)), Catch::Contains("Flip: spatial axis 3"));
  REQUIRE_THROWS_WITH((data::Rotate90{.spatial_axes = {1, 1}}(s, g)), Catch::Contains("name the same axis twice"));
  REQUIRE_THROWS_WITH(data::RandRotate90{.max_k = 0}(s, g), Catch::Contains("max_k 0 is below 1"));
  REQUIRE_THROWS_WITH((data::SpatialPad{.spatial_size = {6, 6, 6}, .mode = "mirror"}(s, g)),
                      Catch::Contains("SpatialPad: unknown pad mode 'mirror'"));
  REQUIRE_THROWS_WITH((data::SpatialPad{.spatial_size = {12, 6, 6}, .mode = "reflect"}(s, g)),
                      Catch::Contains("SpatialPad: pad: reflect pads"));
  REQUIRE_THROWS_WITH((data::SpatialPad{.spatial_size = {6, 6, 6}, .method = "middle"}(s, g)),
                      Catch::Contains("unknown method 'middle'"));
  REQUIRE_THROWS_WITH(data::CropForeground{.source = "label"}(s, g), Catch::Contains("source is the label but the sample has none"));
  REQUIRE_THROWS_WITH((data::CropForeground{.k_divisible = {0, 1, 1}}(s, g)), Catch::Contains("k_divisible 0"));
  REQUIRE_THROWS_WITH(data::RandCropByPosNegLabel{}(s, g), Catch::Contains("RandCropByPosNegLabel: the sample has no label"));
  REQUIRE_THROWS_WITH(data::Rand3DElastic{}(s, g), Catch::Contains("Rand3DElastic: sigma_range (nan, nan) must be set"));
  REQUIRE_THROWS_WITH((data::RandBiasField{.degree = -1}(s, g)), Catch::Contains("degree -1"));
  REQUIRE_THROWS_WITH(data::OneHot{.num_classes = 2}(s, g), Catch::Contains("OneHot: the sample has no label"));
  s.label = zeros<float>({1, 4, 4, 4});
  REQUIRE_THROWS_WITH((data::RandCropByPosNegLabel{.image_threshold = 5}(s, g)),
                      Catch::Contains("no foreground or background voxel"));
  // A relative Rician sigma needs a standard deviation: not of one voxel (it would be NaN), whatever prob draws.
  data::Sample<float> one;
  one.image = zeros<float>({2, 1, 1, 1});
  REQUIRE_THROWS_WITH((data::RandRicianNoise{.prob = 0.0, .channel_wise = true, .relative = true}(one, g)),
                      Catch::Contains("RandRicianNoise: relative needs the standard deviation of at least 2 voxels "
                                      "per channel, got 1"));
  data::RandRicianNoise{.prob = 1.0, .relative = true}(one, g);  // 2 voxels over the whole image: defined
  for (float v : one.image.to_vector()) CHECK(std::isfinite(v));
}
