// Digital phantoms: Shepp-Logan 2D and 3D values at known points against the tables, areas and
// volumes against the ellipses' closed forms, geometric symmetries of the ellipse sampler, and the
// random brain phantom (seeding, labels consistent with the image and mu-map, anatomy, 3D).
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>
#include <set>
#include <vector>

#include "voxnn/data/phantom.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;

namespace {

// The value at the pixel whose centre is nearest to (x, y) (the [-1, 1] coordinates).
template <class T>
double at2(const Tensor<T>& img, double x, double y) {
  const int64_t H = img.size(0), W = img.size(1);
  const auto j = static_cast<int64_t>(std::lround(((x + 1) * W - 1) / 2));
  const auto i = static_cast<int64_t>(std::lround(((1 - y) * H - 1) / 2));
  return static_cast<double>(img.data()[i * W + j]);
}
template <class T>
double at3(const Tensor<T>& vol, double x, double y, double z) {
  const int64_t D = vol.size(0), H = vol.size(1), W = vol.size(2);
  const auto j = static_cast<int64_t>(std::lround(((x + 1) * W - 1) / 2));
  const auto i = static_cast<int64_t>(std::lround(((1 - y) * H - 1) / 2));
  const auto k = static_cast<int64_t>(std::lround(((z + 1) * D - 1) / 2));
  return static_cast<double>(vol.data()[(k * H + i) * W + j]);
}

template <class T>
double total(const Tensor<T>& t) {
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += static_cast<double>(t.data()[i]);
  return s;
}

}  // namespace

TEST_CASE("Shepp-Logan 2D values at known points", "[imaging][phantom]") {
  const Tensor<double> orig = data::shepp_logan<double>(129, 129, {.modified = false});
  const Tensor<float> mod = data::shepp_logan<float>(129, 129);
  REQUIRE(orig.shape() == Shape{129, 129});
  struct Point {
    double x, y, original, modified;
  };
  // brain 2 - 0.98; ventricles (ellipses 3, 4) 1.02 - 0.02; ellipse 5 and the three small tumours
  // (6, 7, 8 at y = -0.1 and -0.605) 1.02 + 0.01; skull 2 (between ellipses 1 and 2); outside 0.
  const std::vector<Point> points = {{0, 0, 1.02, 0.2},         {0.22, 0, 1.0, 0.0},  {-0.22, 0, 1.0, 0.0},
                                     {0, 0.35, 1.03, 0.3},      {0, -0.1, 1.03, 0.3}, {-0.08, -0.605, 1.03, 0.3},
                                     {0.06, -0.605, 1.03, 0.3}, {0, 0.89, 2.0, 1.0},  {0, -0.8, 1.02, 0.2},
                                     {0.95, 0.95, 0, 0},        {-0.67, 0, 2.0, 1.0}};
  for (const auto& p : points) {
    INFO("(" << p.x << ", " << p.y << ")");
    CHECK(at2(orig, p.x, p.y) == Approx(p.original).margin(1e-12));
    CHECK(at2(mod, p.x, p.y) == Approx(p.modified).margin(1e-6));
  }
  // the tables themselves
  const auto t = data::shepp_logan_ellipses(false);
  REQUIRE(t.size() == 10);
  CHECK(t[2].x0 == 0.22);
  CHECK(t[2].phi == -18);
  CHECK(t[9].value == 0.01);
  CHECK(data::shepp_logan_ellipses(true)[1].value == -0.8);
}

TEST_CASE("Shepp-Logan 2D total matches the ellipse areas", "[imaging][phantom]") {
  // sum(values) * pixel area = sum(value_k * pi a_k b_k) in the [-1, 1]^2 square, to the
  // partial-volume error of a 4 x 4 supersampling.
  for (bool modified : {false, true}) {
    const Tensor<double> img = data::shepp_logan<double>(96, 80, {.modified = modified, .supersample = 4});
    double want = 0;
    for (const auto& e : data::shepp_logan_ellipses(modified)) want += e.value * std::numbers::pi * e.a * e.b;
    const double got = total(img) * (2.0 / 96) * (2.0 / 80);
    INFO("modified " << modified);
    CHECK(got == Approx(want).epsilon(2e-3));
  }
}

TEST_CASE("ellipse sampler symmetries", "[imaging][phantom]") {
  const int64_t H = 41, W = 37;
  // mirroring x turns phi into -phi and x0 into -x0
  const Tensor<double> a =
      data::ellipse_phantom<double>(H, W, {{.x0 = 0.2, .y0 = -0.1, .a = 0.5, .b = 0.2, .phi = 30}});
  const Tensor<double> b =
      data::ellipse_phantom<double>(H, W, {{.x0 = -0.2, .y0 = -0.1, .a = 0.5, .b = 0.2, .phi = -30}});
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < W; ++j) CHECK(a.data()[i * W + j] == b.data()[i * W + W - 1 - j]);
  // phi = 90 with the axes swapped is phi = 0
  const Tensor<double> c = data::ellipse_phantom<double>(H, W, {{.a = 0.3, .b = 0.6, .phi = 0}});
  const Tensor<double> d = data::ellipse_phantom<double>(H, W, {{.a = 0.6, .b = 0.3, .phi = 90}});
  int64_t differ = 0;
  for (int64_t i = 0; i < c.numel(); ++i) differ += c.data()[i] != d.data()[i];
  CHECK(differ == 0);
  CHECK(total(c) > 0);
  // a planar table sampled in 3D with thick ellipsoids gives the 2D image in every central slice
  const Tensor<double> v =
      data::ellipsoid_phantom<double>(3, H, W, {{.x0 = 0.2, .y0 = -0.1, .a = 0.5, .b = 0.2, .c = 1e6, .phi = 30}});
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t i = 0; i < H * W; ++i) CHECK(v.data()[k * H * W + i] == a.data()[i]);
}

TEST_CASE("Shepp-Logan 3D values and volume", "[imaging][phantom]") {
  const Tensor<double> orig = data::shepp_logan_3d<double>(65, 65, 65, {.modified = false});
  const Tensor<double> mod = data::shepp_logan_3d<double>(65, 65, 65);
  REQUIRE(orig.shape() == Shape{65, 65, 65});
  struct Point {
    double x, y, z, original, modified;
  };
  const std::vector<Point> points = {
      {0, 0, 0, 1.02, 0.2},         // inside ellipsoids 1 and 2
      {0, 0.35, -0.25, 1.04, 0.4},  // ellipsoid 5
      {-0.22, 0, -0.25, 1.0, 0.0},  // ellipsoid 3
      {0.22, 0, -0.25, 1.0, 0.0},   // ellipsoid 4
      {0, 0.1, 0.625, 1.0, 0.0},    // ellipsoid 10
      {0, 0, 0.89, 2.0, 1.0},       // shell between ellipsoids 1 and 2 (top)
      {0.9, 0.9, 0.9, 0, 0},        // outside
  };
  for (const auto& p : points) {
    INFO("(" << p.x << ", " << p.y << ", " << p.z << ")");
    CHECK(at3(orig, p.x, p.y, p.z) == Approx(p.original).margin(1e-12));
    CHECK(at3(mod, p.x, p.y, p.z) == Approx(p.modified).margin(1e-12));
  }
  const Tensor<double> fine = data::shepp_logan_3d<double>(48, 56, 52, {.supersample = 3});
  double want = 0;
  for (const auto& e : data::shepp_logan_ellipsoids(true))
    want += e.value * 4.0 / 3.0 * std::numbers::pi * e.a * e.b * e.c;
  CHECK(total(fine) * (2.0 / 48) * (2.0 / 56) * (2.0 / 52) == Approx(want).epsilon(5e-3));
}

TEST_CASE("brain phantom is seeded", "[imaging][phantom]") {
  const auto a = data::brain_phantom<float>({.size = {64, 72}, .seed = 5});
  const auto b = data::brain_phantom<float>({.size = {64, 72}, .seed = 5});
  const auto c = data::brain_phantom<float>({.size = {64, 72}, .seed = 6});
  REQUIRE(a.image.shape() == Shape{64, 72});
  REQUIRE(a.labels.shape() == Shape{64, 72});
  int64_t same = 0, differ = 0;
  for (int64_t i = 0; i < a.image.numel(); ++i) {
    same += a.image.data()[i] == b.image.data()[i] && a.labels.data()[i] == b.labels.data()[i];
    differ += a.labels.data()[i] != c.labels.data()[i];
  }
  CHECK(same == a.image.numel());
  CHECK(differ > 50);
}

TEST_CASE("brain phantom labels, image and mu agree", "[imaging][phantom]") {
  const data::BrainPhantomOptions o{.size = {96, 96}, .seed = 11, .num_lesions = 4};
  const auto p = data::brain_phantom<double>(o);
  std::set<int64_t> present;
  const int64_t H = 96, W = 96;
  for (int64_t i = 0; i < p.image.numel(); ++i) {
    const int64_t l = p.labels.data()[i];
    const double v = p.image.data()[i], mu = p.mu.data()[i];
    present.insert(l);
    REQUIRE(l >= 0);
    REQUIRE(l <= 5);
    switch (l) {
      case data::kBackground:
        CHECK(v == 0);
        CHECK(mu == 0);
        break;
      case data::kSkull:
        CHECK(v == o.skull);
        CHECK(mu == o.mu_bone);
        break;
      case data::kGreyMatter:
        CHECK(v == o.grey_matter);
        CHECK(mu == o.mu_tissue);
        break;
      case data::kWhiteMatter:
        CHECK(v == o.white_matter);
        CHECK(mu == o.mu_tissue);
        break;
      case data::kCsf:
        CHECK(v == o.csf);
        CHECK(mu == o.mu_tissue);
        break;
      default:
        CHECK(v >= o.lesion_min);
        CHECK(v <= o.lesion_max);
        CHECK(mu == o.mu_tissue);
    }
  }
  CHECK(present.size() == 6);
  CHECK(p.lesions.size() == 4);
  // the corners are background; the skull encloses the brain: walking out from any brain pixel along
  // its row or column meets skull before background
  CHECK(p.labels.data()[0] == data::kBackground);
  CHECK(p.labels.data()[H * W - 1] == data::kBackground);
  int64_t violations = 0;
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < W; ++j) {
      if (p.labels.data()[i * W + j] < data::kGreyMatter) continue;
      const int64_t di[4] = {0, 0, 1, -1}, dj[4] = {1, -1, 0, 0};
      for (int d = 0; d < 4; ++d) {
        int64_t y = i, x = j;
        while (y >= 0 && y < H && x >= 0 && x < W && p.labels.data()[y * W + x] != data::kSkull) {
          violations += p.labels.data()[y * W + x] == data::kBackground;
          y += di[d];
          x += dj[d];
        }
        violations += !(y >= 0 && y < H && x >= 0 && x < W);  // left the image without meeting skull
      }
    }
  CHECK(violations == 0);
  // each lesion's centre pixel is labelled lesion and holds its value (unless a later lesion covers it)
  const auto& last = p.lesions.back();
  CHECK(at2(p.labels, last.x0, last.y0) == static_cast<double>(data::kLesion));
  CHECK(at2(p.image, last.x0, last.y0) == Approx(last.value));
}

TEST_CASE("brain phantom in 3D", "[imaging][phantom]") {
  const auto p = data::brain_phantom<float>(
      {.size = {24, 40, 36}, .seed = 2, .num_lesions = 2, .lesion_radius_min = 0.1, .lesion_radius_max = 0.12});
  REQUIRE(p.image.shape() == Shape{24, 40, 36});
  REQUIRE(p.mu.shape() == Shape{24, 40, 36});
  std::set<int64_t> present;
  for (int64_t i = 0; i < p.labels.numel(); ++i) present.insert(p.labels.data()[i]);
  CHECK(present.size() == 6);
  // the top and bottom slices' centres are outside the brain (the head spans |z| < 0.88)
  CHECK(at3(p.labels, 0, 0, -0.99) == 0.0);
  CHECK(at3(p.labels, 0, 0, 0.99) == 0.0);
  // 2D and 3D share the sampler: the central row of a 1-slice volume exists and is labelled
  const auto q = data::brain_phantom<double>({.size = {1, 40, 36}, .seed = 2});
  CHECK(q.labels.shape() == Shape{1, 40, 36});
}

TEST_CASE("phantom errors", "[imaging][phantom]") {
  REQUIRE_THROWS_WITH(data::brain_phantom<float>({.size = {64}}), Contains("brain_phantom") && Contains("(H, W)"));
  REQUIRE_THROWS_WITH(data::brain_phantom<float>({.size = {0, 8}}), Contains("brain_phantom"));
  REQUIRE_THROWS_WITH(data::brain_phantom<float>({.lesion_radius_min = 0.2, .lesion_radius_max = 0.1}),
                      Contains("lesion radii"));
  REQUIRE_THROWS_WITH(data::shepp_logan<float>(0, 8), Contains("ellipse_phantom") && Contains("0 x 8"));
  REQUIRE_THROWS_WITH(data::shepp_logan_3d<float>(8, 8, 8, {.supersample = 0}), Contains("supersample"));
  const std::vector<data::Ellipsoid> flat{{.a = 0.5}, {.a = 0.5, .b = 0}};
  REQUIRE_THROWS_WITH(data::ellipse_phantom<float>(8, 8, flat), Contains("ellipse_phantom") && Contains("entry 1"));
  const std::vector<data::Ellipsoid> nan_centre{{.x0 = std::nan("")}};
  REQUIRE_THROWS_WITH(data::ellipsoid_phantom<float>(4, 4, 4, nan_centre),
                      Contains("ellipsoid_phantom") && Contains("finite"));
}
