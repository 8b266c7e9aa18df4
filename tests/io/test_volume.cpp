// io::Affine and io::Volume: the inverse, spacing, origin and direction of an oblique affine against
// values worked out by hand, and the singular-matrix error.
#include <catch2/catch.hpp>

#include <cmath>

#include <voxnn/core/factory.hpp>
#include <voxnn/io/volume.hpp>

using namespace voxnn;
using Catch::Contains;

namespace {

// The moved-anatomy affine of ../shared/data/SOURCES.md: a rotation, 2 mm voxels and a flip of x.
io::Affine oblique() {
  io::Affine a;
  a.m = {{{-1.9503406544, -0.19568679, 0.3973386616, 34.940476978},
          {-0.307583996, 1.889404972, -0.5792589553, -24.2326838621},
          {0.3186901586, 0.6259836516, 1.8725867272, -27.5994093866},
          {0, 0, 0, 1}}};
  return a;
}

}  // namespace

TEST_CASE("Affine: inverse, product and point mapping", "[io][volume]") {
  const io::Affine a = oblique();
  const io::Affine product = a * a.inverse();
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) CHECK(product(r, c) == Approx(r == c ? 1.0 : 0.0).margin(1e-12));

  const std::array<double, 3> voxel{3, -2, 7.5};
  const auto world = a.apply(voxel);
  CHECK(world[0] == Approx(-1.9503406544 * 3 + 0.19568679 * 2 + 0.3973386616 * 7.5 + 34.940476978));
  const auto back = a.inverse().apply(world);
  for (int d = 0; d < 3; ++d) CHECK(back[d] == Approx(voxel[d]).margin(1e-12));
}

TEST_CASE("Affine: spacing, origin and direction of an oblique grid", "[io][volume]") {
  const io::Affine a = oblique();
  // The rigid part is a rotation, so every column has length 2 mm.
  for (double s : a.spacing()) CHECK(s == Approx(2.0).epsilon(1e-9));
  CHECK(a.origin() == std::array<double, 3>{34.940476978, -24.2326838621, -27.5994093866});
  const auto d = a.direction();
  for (int c = 0; c < 3; ++c) {
    double norm = 0, dot_next = 0;
    for (int r = 0; r < 3; ++r) {
      norm += d[r][c] * d[r][c];
      dot_next += d[r][c] * d[r][(c + 1) % 3];
    }
    CHECK(norm == Approx(1.0));
    CHECK(dot_next == Approx(0.0).margin(1e-9));
  }
  CHECK(d[0][0] == Approx(-1.9503406544 / 2).epsilon(1e-9));

  const auto grid = io::Affine::from_spacing({2, 3, 4}, {-10, 5, 1});
  CHECK(grid.spacing() == std::array<double, 3>{2, 3, 4});
  CHECK(grid.apply({1, 1, 1}) == std::array<double, 3>{-8, 8, 5});
}

TEST_CASE("Affine: a singular linear part is an error", "[io][volume]") {
  io::Affine flat = io::Affine::from_spacing({1, 0, 1});
  REQUIRE_THROWS_WITH(flat.inverse(), Contains("Affine::inverse") && Contains("singular"));
}

TEST_CASE("Volume: spatial shape and geometry", "[io][volume]") {
  io::Volume<float> v{zeros<float>({4, 5, 6, 2}), io::Affine::from_spacing({1.5, 1.5, 3})};
  CHECK(v.spatial_shape() == std::array<int64_t, 3>{4, 5, 6});
  CHECK(v.spacing() == std::array<double, 3>{1.5, 1.5, 3});
  io::Volume<float> flat{zeros<float>({4, 5}), {}};
  REQUIRE_THROWS_WITH(flat.spatial_shape(), Contains("Volume") && Contains("[4, 5]"));
}
