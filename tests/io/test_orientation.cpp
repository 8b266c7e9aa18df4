// Orientation codes of a voxel grid: nibabel aff2axcodes / io_orientation on oblique, permuted,
// flipped, sheared and random affines (fixtures: tests/fixtures/gen_data_resample.py), closed forms,
// an axis without direction, and the closest orthogonal matrix (numpy.linalg.svd polar factor) that
// io_orientation and the NIfTI qform share.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "support/fixtures.hpp"
#include "voxnn/io/orientation.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;

namespace {

io::Affine affine_from(const Tensor<double>& t, int64_t index) {
  const Tensor<double> a = t.select(0, index);
  io::Affine out;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) out.m[r][c] = a.at({r, c});
  return out;
}

io::Affine rotated(double angle) {
  io::Affine r;
  r.m[0][0] = std::cos(angle), r.m[0][1] = -std::sin(angle);
  r.m[1][0] = std::sin(angle), r.m[1][1] = std::cos(angle);
  return r;
}

io::Affine linear(const io::Matrix3& m) {
  io::Affine a;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) a.m[r][c] = m[r][c];
  return a;
}

}  // namespace

TEST_CASE("axcodes: nibabel aff2axcodes on oblique, permuted, flipped, sheared and random affines",
          "[io][orientation]") {
  const io::TensorFile& f = test::fixture_file("data_resample.safetensors");
  const Tensor<double> affines = f.get<double>("axcodes.affines");
  const io::json::Value codes = io::json::parse(f.metadata.at("_axcodes"));
  REQUIRE(static_cast<int64_t>(codes.array().size()) == affines.size(0));
  for (int64_t i = 0; i < affines.size(0); ++i) {
    INFO("affine " << i);
    const io::Affine a = affine_from(affines, i);
    CHECK(io::axcodes_string(a) == codes.array()[static_cast<std::size_t>(i)].string());
    const auto arr = io::axcodes(a);
    CHECK(std::string(arr.begin(), arr.end()) == io::axcodes_string(a));
  }
}

TEST_CASE("axcodes: closed forms, a sheared affine, an axis without direction", "[io][orientation]") {
  CHECK(io::axcodes_string(io::Affine::identity()) == "RAS");
  CHECK(io::axcodes_string(io::Affine::from_spacing({-2, 2, 2})) == "LAS");   // anatomical.nii
  CHECK(io::axcodes_string(io::Affine::from_spacing({-1, -1, 1})) == "LPS");  // DICOM / ITK
  CHECK(io::axcodes_string(rotated(0.7)) == "RAS");                           // 40 degrees: still R
  CHECK(io::axcodes_string(rotated(0.9)) == "ALS");                           // 52 degrees: axis 0 goes A
  // Strongly sheared: nibabel (aff2axcodes) says LIP; picking the largest remaining direction cosine
  // first would say ILP.
  const io::Affine sheared =
      linear({{{-1.265, -0.623, 0.041}, {-2.325, -0.219, -1.246}, {-0.732, -0.544, -0.316}}});
  CHECK(io::axcodes_string(sheared) == "LIP");
  const auto o = io::io_orientation(sheared);
  CHECK(o[0].world_axis == 0);
  CHECK(o[0].sign == -1);
  CHECK(o[1].world_axis == 2);
  CHECK(o[2].world_axis == 1);
  // a zero column has no direction: '?', world axis -1
  const io::Affine flat = io::Affine::from_spacing({1, 0, 1});
  CHECK(io::axcodes_string(flat) == "R?S");
  CHECK(io::io_orientation(flat)[1].world_axis == -1);
  io::Affine bad;
  bad.m[1][1] = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_WITH(io::axcodes(bad), Contains("non-finite"));
}

TEST_CASE("closest_orthogonal: numpy's polar factor U V^T", "[io][orientation]") {
  // numpy: P, S, Q = numpy.linalg.svd(M); P @ Q
  const io::Matrix3 m{{{-1.265, -0.623, 0.041}, {-2.325, -0.219, -1.246}, {-0.732, -0.544, -0.316}}};
  const io::Matrix3 want{{{-0.6537871458702905, -0.36564648186519355, 0.6624688809252747},
                          {-0.7544935652645215, 0.24853005788053978, -0.6074308769764072},
                          {0.05746153382229729, -0.8969590072180009, -0.43836367493359507}}};
  const io::Matrix3 q = io::closest_orthogonal(m);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) CHECK(q[r][c] == Approx(want[r][c]).margin(1e-14));
  // a rotation is its own polar factor
  const io::Affine rot = rotated(0.3);
  const io::Matrix3 rm{{{rot.m[0][0], rot.m[0][1], 0}, {rot.m[1][0], rot.m[1][1], 0}, {0, 0, 1}}};
  const io::Matrix3 rq = io::closest_orthogonal(rm);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) CHECK(rq[r][c] == Approx(rm[r][c]).margin(1e-15));
  // rank deficient: the zero singular value's term is left out (numpy, thresholded as nibabel does)
  const io::Matrix3 z = io::closest_orthogonal({{{1, 0, 0}, {0, 0, 0}, {0, 0, 2}}});
  const io::Matrix3 zw{{{1, 0, 0}, {0, 0, 0}, {0, 0, 1}}};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) CHECK(z[r][c] == Approx(zw[r][c]).margin(1e-15));
  REQUIRE_THROWS_WITH(io::closest_orthogonal({{{INFINITY, 0, 0}, {0, 1, 0}, {0, 0, 1}}}), Contains("non-finite"));
}
