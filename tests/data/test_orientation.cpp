// Reorientation against nibabel io_orientation/apply_orientation (cross-checked in the generator with
// as_closest_canonical and MONAI Orientation), world positions kept, round trips, trailing and leading
// dims, and the errors. Fixtures: tests/fixtures/gen_data_resample.py. The orientation codes
// themselves (io::axcodes, io::io_orientation): tests/io/test_orientation.cpp.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "support/fixtures.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/data/orientation.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;
using test::FixtureCase;

namespace {

const char* const kFile = "data_resample.safetensors";

io::Affine affine_from(const Tensor<double>& t, int64_t index = -1) {
  const Tensor<double> a = index < 0 ? t : t.select(0, index);
  io::Affine out;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) out.m[r][c] = a.at({r, c});
  return out;
}

io::Affine affine_param(const FixtureCase& c, const char* key) {
  const auto& v = c.param(key).array();
  REQUIRE(v.size() == 16);
  io::Affine out;
  for (int i = 0; i < 16; ++i) out.m[i / 4][i % 4] = std::strtod(v[static_cast<std::size_t>(i)].string().c_str(), nullptr);
  return out;
}

void require_affine_close(const io::Affine& a, const io::Affine& b, double tol) {
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      INFO("affine entry (" << r << ", " << c << ")");
      REQUIRE(std::abs(a.m[r][c] - b.m[r][c]) <= tol);
    }
}

io::Affine rotated(double angle, const std::array<double, 3>& spacing, const std::array<double, 3>& origin) {
  io::Affine a = io::Affine::from_spacing(spacing, origin);
  io::Affine r;
  r.m[0][0] = std::cos(angle), r.m[0][1] = -std::sin(angle);
  r.m[1][0] = std::sin(angle), r.m[1][1] = std::cos(angle);
  return r * a;
}

}  // namespace

TEST_CASE("reorient: an axis without direction is refused", "[data][orientation]") {
  io::Volume<float> v{zeros<float>({2, 2, 2}), io::Affine::from_spacing({1, 0, 1})};
  REQUIRE_THROWS_WITH(data::reorient(v), Contains("voxel axis 1") && Contains("no direction"));
}

TEST_CASE("reorient: nibabel io_orientation + apply_orientation, MONAI Orientation", "[data][orientation]") {
  for (const FixtureCase& c : test::fixture_cases(kFile, "reorient")) {
    SECTION(c.name()) {
      const io::Affine a = affine_param(c, "affine");
      const std::string codes = c.string("codes");
      const Tensor<double> in = c.input<double>(0);
      const auto out = data::reorient(io::Volume<double>{in, a}, codes);
      test::require_equal(out.data, c.expected<double>(0), c.name());
      require_affine_close(out.affine, affine_from(c.expected<double>(1)), 1e-9);
      CHECK(io::axcodes_string(out.affine) == codes);
      // Any element type moves the same way (integers, here).
      Tensor<int64_t> ints(in.shape());
      const auto values = in.to_vector();
      for (int64_t i = 0; i < in.numel(); ++i) ints.data()[i] = static_cast<int64_t>(values[static_cast<std::size_t>(i)]);
      const auto out_int = data::reorient(io::Volume<int64_t>{ints, a}, codes);
      const auto want = c.expected<double>(0).to_vector();
      const auto got = out_int.data.to_vector();
      REQUIRE(got.size() == want.size());
      for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(static_cast<double>(got[i]) == want[i]);
    }
  }
}

TEST_CASE("reorient: every voxel keeps its world position; round trips; lower-case codes", "[data][orientation]") {
  const io::Affine a = rotated(0.3, {-1.5, 2.0, 0.8}, {10, -5, 3}) * io::Affine{};
  io::Affine permuted;  // voxel axes (j, k, i) of a
  permuted.m = {{{a.m[0][1], a.m[0][2], a.m[0][0], a.m[0][3]},
                 {a.m[1][1], a.m[1][2], a.m[1][0], a.m[1][3]},
                 {a.m[2][1], a.m[2][2], a.m[2][0], a.m[2][3]},
                 {0, 0, 0, 1}}};
  const int64_t n0 = 4, n1 = 5, n2 = 3;
  Tensor<float> data({n0, n1, n2});
  for (int64_t i = 0; i < data.numel(); ++i) data.data()[i] = static_cast<float>(i);
  const io::Volume<float> v{data, permuted};
  for (const char* codes : {"RAS", "LPS", "PLI", "SAR", "ial"}) {
    INFO("codes " << codes);
    const auto out = data::reorient(v, codes);
    // Each output voxel's value names the input voxel it came from; both must sit at the same world point.
    const auto s = out.data.shape();
    for (int64_t i = 0; i < s[0]; ++i)
      for (int64_t j = 0; j < s[1]; ++j)
        for (int64_t k = 0; k < s[2]; ++k) {
          const auto src = static_cast<int64_t>(out.data.at({i, j, k}));
          const std::array<double, 3> p_in{static_cast<double>(src / (n1 * n2)), static_cast<double>((src / n2) % n1),
                                           static_cast<double>(src % n2)};
          const auto w_in = v.affine.apply(p_in);
          const auto w_out = out.affine.apply({static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)});
          for (int d = 0; d < 3; ++d) REQUIRE(std::abs(w_in[d] - w_out[d]) < 1e-9);
        }
    const auto back = data::reorient(out, io::axcodes_string(v.affine));
    test::require_equal(back.data, v.data, "round trip");
    require_affine_close(back.affine, v.affine, 1e-12);
  }
}

TEST_CASE("reorient: trailing dims follow; channel-first tensors through apply_orientation", "[data][orientation]") {
  const io::Affine a = io::Affine::from_spacing({-2, 2, -3}, {5, 6, 7});  // LAI
  Tensor<double> v4({3, 4, 2, 5});
  for (int64_t i = 0; i < v4.numel(); ++i) v4.data()[i] = static_cast<double>(i);
  const auto out = data::reorient(io::Volume<double>{v4, a}, "RAS");
  REQUIRE(out.data.shape() == Shape{3, 4, 2, 5});
  for (int64_t t = 0; t < 5; ++t) CHECK(out.data.at({0, 0, 0, t}) == v4.at({2, 0, 1, t}));
  CHECK(out.data.at({1, 3, 0, 4}) == v4.at({1, 3, 1, 4}));
  CHECK(io::axcodes_string(out.affine) == "RAS");

  // Channel first: [C, X, Y, Z], as a Sample holds it.
  const auto t = data::orientation_transform(a, {3, 4, 2}, "RAS");
  const Tensor<double> cf = v4.permute({3, 0, 1, 2});
  const Tensor<double> got = data::apply_orientation(cf, t, 1);
  test::require_equal(got, out.data.permute({3, 0, 1, 2}), "channel first");
  REQUIRE_THROWS_WITH(data::apply_orientation(cf, t, 2), Contains("apply_orientation") && Contains("do not exist"));
  REQUIRE_THROWS_WITH(data::apply_orientation(v4, t, 1), Contains("does not match"));

  // Already in the requested orientation: an equal copy, not a view.
  const io::Volume<double> ras{v4, io::Affine::from_spacing({1, 1, 1})};
  const auto same = data::reorient(ras, "RAS");
  test::require_equal(same.data, v4);
  CHECK_FALSE(same.data.shares_storage_with(v4));
}

TEST_CASE("reorient: invalid axis codes", "[data][orientation]") {
  const io::Volume<float> v{zeros<float>({2, 2, 2}), io::Affine::identity()};
  REQUIRE_THROWS_WITH(data::reorient(v, "RA"), Contains("must be 3 letters"));
  REQUIRE_THROWS_WITH(data::reorient(v, "RAX"), Contains("'X' is not one of"));
  REQUIRE_THROWS_WITH(data::reorient(v, "RLS"), Contains("x axis twice"));
  const io::Volume<float> flat{zeros<float>({2, 2}), io::Affine::identity()};
  REQUIRE_THROWS_WITH(data::reorient(flat), Contains("at least 3 dims"));
}
