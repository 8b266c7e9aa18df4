// k-space undersampling masks: fastMRI's column masks (deterministic parts exactly against fastMRI
// 0.3.0, random parts statistically over many seeds, seeding rules), apply_mask, and the
// variable-density 2-D masks (Poisson-disc distance property, acceleration, calibration region;
// Gaussian density). Fixtures: tests/fixtures/gen_imaging_mri.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "voxnn/data/kspace_mask.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;
using test::FixtureCase;

namespace {

const char* const kFile = "imaging_mri.safetensors";

std::vector<bool> columns(const Tensor<bool>& mask) {
  const auto v = mask.contiguous().to_vector();
  return {v.begin(), v.end()};
}
int64_t count(const Tensor<bool>& mask) {
  int64_t n = 0;
  for (bool b : mask.to_vector()) n += b;
  return n;
}

}  // namespace

TEST_CASE("column masks match fastMRI for a given offset", "[imaging][kspace_mask]") {
  int cases = 0;
  std::map<std::string, int> kinds;
  for (const auto& c : test::fixture_cases(kFile, "mask")) {
    INFO("case " << c.name());
    ++cases;
    ++kinds[c.string("mask_type")];
    auto f = data::create_mask_for_mask_type(c.string("mask_type"),
                                             {.center_fractions = {c.real("center_fraction")},
                                              .accelerations = {c.real("acceleration")},
                                              .seed = 5});
    const data::KspaceMask m = (*f)(Shape(c.ints("shape")), c.integer("offset"));
    c.check<bool>(m.mask, 0);
    CHECK(m.num_low_frequencies == c.expected<int64_t>(1).item());
    // the own generator plays no part when the offset is given: a per-call seed gives the same mask
    test::require_equal((*f)(Shape(c.ints("shape")), c.integer("offset"), 99).mask, m.mask);
  }
  CHECK(cases >= 36);
  CHECK(kinds.size() == 4);
}

TEST_CASE("the centre band is fastMRI's, random outer columns included", "[imaging][kspace_mask]") {
  int cases = 0;
  for (const auto& c : test::fixture_cases(kFile, "center_mask")) {
    INFO("case " << c.name());
    ++cases;
    const int64_t w = c.integer("num_cols");
    const double fraction = c.real("center_fraction");
    const auto band = data::MaskFunc::center_mask(w, c.expected<int64_t>(1).item());
    Tensor<bool> got(Shape{w});
    for (int64_t i = 0; i < w; ++i) got.data()[i] = band[static_cast<std::size_t>(i)];
    c.check<bool>(got, 0);
    // a random mask with that fraction holds the whole band and reports its width
    data::RandomMaskFunc f({.center_fractions = {fraction}, .accelerations = {4}, .seed = 1});
    for (uint64_t seed = 0; seed < 5; ++seed) {
      const data::KspaceMask m = f({3, w, 2}, std::nullopt, seed);
      CHECK(m.num_low_frequencies == c.expected<int64_t>(1).item());
      CHECK(m.mask.shape() == Shape{1, w, 1});
      const auto cols = columns(m.mask);
      for (int64_t i = 0; i < w; ++i)
        if (band[static_cast<std::size_t>(i)]) CHECK(cols[static_cast<std::size_t>(i)]);
    }
  }
  CHECK(cases >= 7);
}

TEST_CASE("apply_mask matches fastMRI", "[imaging][kspace_mask]") {
  for (const auto& c : test::fixture_cases(kFile, "apply_mask")) {
    INFO("case " << c.name());
    data::EquiSpacedMaskFunc f({.center_fractions = {c.real("center_fraction")}, .accelerations = {c.real("acceleration")}});
    const auto pad = c.ints("padding");
    const auto r = data::apply_mask(c.input<double>(0), f, c.integer("offset"), std::nullopt, std::array{pad[0], pad[1]});
    c.check<double>(r.kspace, 0);
    c.check<bool>(r.mask, 1);
    CHECK(r.num_low_frequencies == 2);  // round(25 * 0.1) = round(2.5)
    const auto rf = data::apply_mask(c.input<float>(0), f, c.integer("offset"), std::nullopt, std::array{pad[0], pad[1]});
    c.check<float>(rf.kspace, 0);
  }
}

TEST_CASE("RandomMaskFunc meets the acceleration on average and is seeded", "[imaging][kspace_mask]") {
  const int64_t w = 368;
  data::RandomMaskFunc f({.center_fractions = {0.08}, .accelerations = {4}, .seed = 2});
  const int64_t num_low = 29;  // round(368 * 0.08) = round(29.44)
  const double prob = data::RandomMaskFunc::outer_probability(w, 4, num_low);
  CHECK(prob == Approx((92.0 - 29.0) / (368.0 - 29.0)));
  const int runs = 2000;
  double total = 0;
  std::vector<int> hits(static_cast<std::size_t>(w), 0);
  const auto band = data::MaskFunc::center_mask(w, num_low);
  for (int r = 0; r < runs; ++r) {
    const data::KspaceMask m = f({1, 640, w, 2}, std::nullopt, static_cast<uint64_t>(r));
    REQUIRE(m.num_low_frequencies == num_low);
    total += static_cast<double>(count(m.mask));
    const auto cols = columns(m.mask);
    for (int64_t i = 0; i < w; ++i) hits[static_cast<std::size_t>(i)] += cols[static_cast<std::size_t>(i)];
  }
  // the mean number of columns is W / acceleration: within 4 standard errors
  const double var = static_cast<double>(w - num_low) * prob * (1 - prob);
  CHECK(std::abs(total / runs - 92.0) < 4 * std::sqrt(var / runs));
  // each outer column is drawn with the same probability; the band always
  double outer_hits = 0;
  for (int64_t i = 0; i < w; ++i) {
    if (band[static_cast<std::size_t>(i)]) {
      CHECK(hits[static_cast<std::size_t>(i)] == runs);
    } else {
      outer_hits += hits[static_cast<std::size_t>(i)];
      CHECK(std::abs(hits[static_cast<std::size_t>(i)] / double(runs) - prob) < 5 * std::sqrt(prob * (1 - prob) / runs));
    }
  }
  CHECK(outer_hits / (runs * double(w - num_low)) == Approx(prob).margin(0.005));

  // seeding: a per-call seed repeats and leaves the own generator where it was
  data::RandomMaskFunc g({.center_fractions = {0.08}, .accelerations = {4}, .seed = 2});
  data::RandomMaskFunc h({.center_fractions = {0.08}, .accelerations = {4}, .seed = 2});
  const auto a1 = g({1, w, 2}), b1 = h({1, w, 2});
  test::require_equal(a1.mask, b1.mask, "same seed, same mask");
  test::require_equal(g({1, w, 2}, std::nullopt, 17).mask, h({1, w, 2}, std::nullopt, 17).mask);
  test::require_equal(g({1, w, 2}, std::nullopt, 17).mask, g({1, w, 2}, std::nullopt, 17).mask);
  const auto a2 = g({1, w, 2});  // h skipped the seeded call twice as often: still in step
  const auto b2 = h({1, w, 2});
  test::require_equal(a2.mask, b2.mask, "a per-call seed does not advance the generator");
  CHECK_FALSE(test::compare(a1.mask, a2.mask, 0.0).ok);
  CHECK_FALSE(test::compare(g({1, w, 2}, std::nullopt, 1).mask, g({1, w, 2}, std::nullopt, 2).mask, 0.0).ok);
}

TEST_CASE("column masks choose among fractions and offsets uniformly", "[imaging][kspace_mask]") {
  // pairs chosen together...
  data::RandomMaskFunc f({.center_fractions = {0.08, 0.04}, .accelerations = {4, 8}, .seed = 3});
  int first = 0;
  const int runs = 1000;
  for (int r = 0; r < runs; ++r) {
    const auto m = f({1, 368, 2});
    REQUIRE((m.num_low_frequencies == 29 || m.num_low_frequencies == 15));
    first += m.num_low_frequencies == 29;
  }
  CHECK(std::abs(first / double(runs) - 0.5) < 0.07);
  // ...or any combination
  data::EquiSpacedMaskFunc g({.center_fractions = {0.08, 0.04}, .accelerations = {4, 8, 2}, .allow_any_combination = true, .seed = 4});
  std::map<int64_t, int> lows;
  for (int r = 0; r < 600; ++r) ++lows[g({1, 100, 2}).num_low_frequencies];
  CHECK(lows.size() == 2);
  // a random equispaced offset is uniform on [0, acceleration)
  data::EquiSpacedMaskFunc e({.center_fractions = {0.0}, .accelerations = {4}, .seed = 5});
  std::vector<int> offsets(4, 0);
  for (int r = 0; r < 800; ++r) {
    const auto cols = columns(e({1, 40, 2}).mask);
    int off = 0;
    while (!cols[static_cast<std::size_t>(off)]) ++off;
    REQUIRE(off < 4);
    ++offsets[static_cast<std::size_t>(off)];
    for (int i = 0; i < 40; ++i) CHECK(cols[static_cast<std::size_t>(i)] == ((i - off) % 4 == 0 && i >= off));
  }
  for (int o : offsets) CHECK(std::abs(o / 800.0 - 0.25) < 0.06);
  // the fraction kind hits the target count of columns for every offset
  data::EquispacedMaskFractionFunc ef({.center_fractions = {0.08}, .accelerations = {4}, .seed = 6});
  for (int r = 0; r < 50; ++r) CHECK(std::abs(count(ef({1, 368, 2}).mask) - 92) <= 2);
}

TEST_CASE("column masks: errors name the class and the values", "[imaging][kspace_mask][errors]") {
  CHECK_THROWS_WITH(data::RandomMaskFunc({.center_fractions = {0.08, 0.04}, .accelerations = {4}}),
                    Contains("RandomMaskFunc: 2 center fractions but 1 accelerations"));
  CHECK_THROWS_WITH(data::RandomMaskFunc({.center_fractions = {}, .accelerations = {}}), Contains("must not be empty"));
  CHECK_THROWS_WITH(data::RandomMaskFunc({.center_fractions = {1.5}, .accelerations = {4}}), Contains("center fraction 1.5"));
  data::EquiSpacedMaskFunc f({.center_fractions = {0.08}, .accelerations = {2.5}});
  CHECK_THROWS_WITH(f({1, 32, 2}, 0), Contains("EquiSpacedMaskFunc: acceleration 2.5 must be a positive integer"));
  data::RandomMaskFunc r({.center_fractions = {0.08}, .accelerations = {4}});
  CHECK_THROWS_WITH(r({32, 2}), Contains("RandomMaskFunc: k-space shape [32, 2] has fewer than 3 dims"));
  CHECK_THROWS_WITH(r({1, 32, 2}, -1), Contains("offset -1"));
  data::MagicMaskFractionFunc m({.center_fractions = {0.3}, .accelerations = {4}});
  CHECK_THROWS_WITH(m({1, 33, 2}, 0), Contains("MagicMaskFractionFunc: the adjusted acceleration is 0"));
  CHECK_THROWS_WITH(data::create_mask_for_mask_type("spiral", {.center_fractions = {0.1}, .accelerations = {4}}),
                    Contains("unknown mask type 'spiral'"));
}

TEST_CASE("Poisson-disc masks: distance property, acceleration, calibration", "[imaging][kspace_mask][poisson]") {
  for (double accel : {3.0, 6.0}) {
    INFO("acceleration " << accel);
    const data::PoissonDiscMask p =
        data::poisson_disc_mask({.shape = {64, 50}, .acceleration = accel, .calibration = {12, 9}, .seed = 7});
    REQUIRE(p.mask.shape() == Shape{64, 50, 1});
    const int64_t n = count(p.mask);
    CHECK(p.acceleration == Approx(64.0 * 50.0 / n));
    CHECK(std::abs(p.acceleration - accel) <= 0.05 * accel);
    const auto cols = columns(p.mask);
    auto at = [&](int64_t r, int64_t c) { return cols[static_cast<std::size_t>(r * 50 + c)]; };
    // the calibration block (rows 26..37, cols 21..29) is fully sampled
    for (int64_t r = (64 - 12 + 1) / 2; r < (64 - 12 + 1) / 2 + 12; ++r)
      for (int64_t c = (50 - 9 + 1) / 2; c < (50 - 9 + 1) / 2 + 9; ++c) CHECK(at(r, c));
    // any two samples outside it are at least the smaller of their radii apart
    std::vector<std::array<int64_t, 2>> pts;
    for (int64_t r = 0; r < 64; ++r)
      for (int64_t c = 0; c < 50; ++c)
        if (at(r, c) && !(r >= 26 && r < 38 && c >= 21 && c < 30)) pts.push_back({r, c});
    int violations = 0;
    for (std::size_t i = 0; i < pts.size(); ++i)
      for (std::size_t j = i + 1; j < pts.size(); ++j) {
        const double dy = double(pts[i][0] - pts[j][0]), dx = double(pts[i][1] - pts[j][1]);
        const double ri = p.radius.at({pts[i][0], pts[i][1]}), rj = p.radius.at({pts[j][0], pts[j][1]});
        violations += std::sqrt(dy * dy + dx * dx) < std::min(ri, rj) - 1e-12;
      }
    CHECK(violations == 0);
    // variable density: denser near the centre than at the edge
    auto density = [&](double lo, double hi) {
      int64_t in = 0, all = 0;
      for (int64_t r = 0; r < 64; ++r)
        for (int64_t c = 0; c < 50; ++c) {
          const double y = (r - 32) / 32.0, x = (c - 25) / 25.0, d = std::sqrt(x * x + y * y);
          if (d >= lo && d < hi) {
            ++all;
            in += at(r, c);
          }
        }
      return double(in) / double(all);
    };
    INFO("density inner " << density(0.3, 0.5) << " outer " << density(0.8, 1.0));
    CHECK(density(0.3, 0.5) > (accel > 4 ? 1.5 : 1.2) * density(0.8, 1.0));
    // seeded
    test::require_equal(data::poisson_disc_mask({.shape = {64, 50}, .acceleration = accel, .calibration = {12, 9}, .seed = 7}).mask,
                        p.mask, "same seed");
  }
  // crop_corner leaves the corners outside the inscribed ellipse empty
  const auto cropped = data::poisson_disc_mask({.shape = {40, 40}, .acceleration = 3, .calibration = 6, .crop_corner = true, .seed = 1});
  const auto cols = columns(cropped.mask);
  for (int64_t r = 0; r < 40; ++r)
    for (int64_t c = 0; c < 40; ++c) {
      const double y = (r - 20) / 20.0, x = (c - 20) / 20.0;
      if (x * x + y * y > 1.0) CHECK_FALSE(cols[static_cast<std::size_t>(r * 40 + c)]);
    }
  CHECK(std::abs(cropped.acceleration - 3) <= 0.15);
  CHECK_THROWS_WITH(data::poisson_disc_mask({.shape = {16, 16}, .acceleration = 8, .calibration = 8}),
                    Contains("poisson_disc_mask: the calibration region (8, 8) alone holds more than"));
  CHECK_THROWS_WITH(data::poisson_disc_mask({.shape = {16, 16}, .acceleration = 2, .calibration = {20, 4}}),
                    Contains("poisson_disc_mask: calibration region (20, 4) does not fit the shape (16, 16)"));
}

TEST_CASE("Gaussian variable-density masks meet the acceleration on average", "[imaging][kspace_mask]") {
  const int64_t h = 48, w = 40;
  double mean_accel = 0;
  const int runs = 60;
  for (int s = 0; s < runs; ++s) {
    const auto g = data::gaussian_mask({.shape = {h, w}, .acceleration = 5, .calibration = {8, 6}, .seed = static_cast<uint64_t>(s)});
    REQUIRE(g.mask.shape() == Shape{h, w, 1});
    mean_accel += double(count(g.mask));
    const auto cols = columns(g.mask);
    for (int64_t r = 20; r < 28; ++r)
      for (int64_t c = 17; c < 23; ++c) CHECK(cols[static_cast<std::size_t>(r * w + c)]);
    if (s == 0) {
      double expected = 0;
      for (double v : g.probability.to_vector()) expected += v;
      CHECK(expected == Approx(double(h * w) / 5).epsilon(1e-9));
      CHECK(g.probability.at({24, 5}) > g.probability.at({24, 0}));
      CHECK(g.probability.at({10, 20}) > g.probability.at({0, 20}));
      test::require_equal(data::gaussian_mask({.shape = {h, w}, .acceleration = 5, .calibration = {8, 6}, .seed = 0}).mask, g.mask);
    }
  }
  mean_accel /= runs;  // mean number of samples
  CHECK(std::abs(mean_accel - double(h * w) / 5) < 0.02 * double(h * w) / 5);
  CHECK_THROWS_WITH(data::gaussian_mask({.shape = {16, 16}, .acceleration = 4, .std = -1}), Contains("gaussian_mask: std -1"));
}
