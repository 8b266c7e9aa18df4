// The deterministic sample transforms against MONAI 1.3.2 (tests/fixtures/gen_data_transforms.py):
// intensity scaling and z-scores, pads and crops, foreground crops, flips, 90-degree rotations, the
// affine resampler (every padding mode, bilinear and nearest) and the bias field's polynomial.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "voxnn/data/transforms.hpp"

using namespace voxnn;

namespace {

const char* kFile = "data_transforms.safetensors";

template <class T>
data::Sample<T> input(const std::string& name = "image") {
  data::Sample<T> s;
  s.image = test::fixture_file(kFile).get<T>(name);
  return s;
}

template <class T>
Tensor<T> expected(const std::string& name) {
  return test::fixture_file(kFile).get<T>(name + ".out");
}

double scale_of(const Tensor<double>& t) {
  double m = 1;
  for (double v : t.to_vector()) m = std::max(m, std::abs(v));
  return m;
}

// Runs transform t on the fixture input in float and double and compares with the case's output:
// `rel` relative to the output's magnitude (MONAI computes several of these in float32).
template <class F>
void check_case(const std::string& name, F t, double rel_float, double rel_double, const std::string& in = "image") {
  Generator gen(1);
  const Tensor<double> want = expected<double>(name);
  const double scale = scale_of(want);
  {
    auto s = input<float>(in);
    t(s, gen);
    if (rel_float == 0)  // exact: the same float values moved around
      test::require_equal(s.image, expected<float>(name), name + " (float)");
    else
      test::require_close(s.image, want, rel_float * scale, name + " (float)");
  }
  {
    auto s = input<double>(in);
    t(s, gen);
    test::require_close(s.image, want, rel_double * scale, name + " (double)");
  }
}

}  // namespace

TEST_CASE("ScaleIntensityRange matches MONAI", "[data][transforms]") {
  check_case("scale_range.plain", data::ScaleIntensityRange{.a_min = -2.0, .a_max = 5.0}, 1e-6, 1e-6);
  check_case("scale_range.b", data::ScaleIntensityRange{.a_min = -2.0, .a_max = 5.0, .b_min = -1.0, .b_max = 3.0}, 1e-6,
             1e-6);
  check_case("scale_range.clip",
             data::ScaleIntensityRange{.a_min = -2.0, .a_max = 5.0, .b_min = 0.0, .b_max = 1.0, .clip = true}, 1e-6,
             1e-6);
  check_case("scale_range.zero", data::ScaleIntensityRange{.a_min = 2.0, .a_max = 2.0, .b_min = 0.5, .b_max = 1.0},
             1e-6, 1e-6);
}

TEST_CASE("ScaleIntensityRangePercentiles matches MONAI", "[data][transforms]") {
  using P = data::ScaleIntensityRangePercentiles;
  check_case("percentiles.plain", P{.lower = 5, .upper = 95, .b_min = 0.0, .b_max = 1.0}, 1e-6, 1e-6);
  check_case("percentiles.clip", P{.lower = 10, .upper = 90, .b_min = -1.0, .b_max = 1.0, .clip = true}, 1e-6, 1e-6);
  check_case("percentiles.relative", P{.lower = 2.5, .upper = 97.5, .b_min = 0.0, .b_max = 1.0, .relative = true},
             1e-6, 1e-6);
  check_case("percentiles.channel", P{.lower = 1, .upper = 99, .b_min = 0.0, .b_max = 1.0, .channel_wise = true},
             1e-6, 1e-6);
}

TEST_CASE("NormalizeIntensity matches MONAI", "[data][transforms]") {
  using N = data::NormalizeIntensity;
  check_case("normalize.plain", N{}, 1e-6, 1e-6);
  check_case("normalize.nonzero", N{.nonzero = true}, 1e-6, 1e-6);
  check_case("normalize.channel", N{.channel_wise = true}, 1e-6, 1e-6);
  check_case("normalize.nonzero_channel", N{.nonzero = true, .channel_wise = true}, 1e-6, 1e-6);
  check_case("normalize.given", N{.subtrahend = {1.0, -2.0}, .divisor = {2.0, 4.0}, .channel_wise = true}, 1e-6, 1e-6);
}

TEST_CASE("pads and crops match MONAI exactly", "[data][transforms]") {
  check_case("pad.symmetric", data::SpatialPad{.spatial_size = {10, 6, 8}}, 0, 0);
  check_case("pad.end", data::SpatialPad{.spatial_size = {8, 9, -1}, .method = "end"}, 0, 0);
  check_case("pad.reflect", data::SpatialPad{.spatial_size = {10, 8, 8}, .mode = "reflect"}, 0, 0);
  check_case("pad.replicate", data::SpatialPad{.spatial_size = {9, 9, 6}, .mode = "replicate"}, 0, 0);
  check_case("crop.center", data::CenterSpatialCrop{.roi_size = {4, 3, 2}}, 0, 0);
  check_case("crop.center_big", data::CenterSpatialCrop{.roi_size = {9, 5, -1}}, 0, 0);
  check_case("resize.pad_crop", data::ResizeWithPadOrCrop{.spatial_size = {4, 9, 6}}, 0, 0);
  check_case("divisible.k4", data::DivisiblePad{.k = {4, 4, 4}}, 0, 0);
  check_case("divisible.k325", data::DivisiblePad{.k = {3, 2, 5}, .method = "end"}, 0, 0);
}

TEST_CASE("CropForeground matches MONAI exactly", "[data][transforms]") {
  using CF = data::CropForeground;
  check_case("foreground.plain", CF{}, 0, 0, "fg_image");
  check_case("foreground.margin", CF{.margin = {1, 2, 3}}, 0, 0, "fg_image");
  check_case("foreground.k", CF{.margin = {1, 1, 1}, .k_divisible = {4, 3, 5}}, 0, 0, "fg_image");
  check_case("foreground.outside", CF{.margin = {3, 0, 2}, .allow_smaller = false, .k_divisible = {4, 4, 4}}, 0, 0,
             "fg_image");
}

TEST_CASE("Flip and Rotate90 match MONAI exactly", "[data][transforms]") {
  check_case("flip.x", data::Flip{.spatial_axis = {0}}, 0, 0);
  check_case("flip.yz", data::Flip{.spatial_axis = {1, 2}}, 0, 0);
  check_case("flip.all", data::Flip{}, 0, 0);
  check_case("rot90.k1_01", data::Rotate90{.k = 1, .spatial_axes = {0, 1}}, 0, 0);
  check_case("rot90.k2_02", data::Rotate90{.k = 2, .spatial_axes = {0, 2}}, 0, 0);
  check_case("rot90.k3_12", data::Rotate90{.k = 3, .spatial_axes = {1, 2}}, 0, 0);
  check_case("rot90.k1_20", data::Rotate90{.k = 1, .spatial_axes = {2, 0}}, 0, 0);
}

TEST_CASE("Affine3D matches MONAI's Affine in every padding mode", "[data][transforms]") {
  for (std::string pad : {"zeros", "border", "reflection"}) {
    const data::Affine3D bilinear{.rotate_params = {0.3, -0.2, 0.5},
                                  .shear_params = {0.1, 0.0, -0.05, 0.02, 0.0, 0.1},
                                  .translate_params = {0.7, -1.2, 0.4},
                                  .scale_params = {1.1, 0.9, 1.2},
                                  .mode = "bilinear",
                                  .padding_mode = pad};
    check_case("affine.bilinear_" + pad, bilinear, 1e-5, 1e-6);
    data::Affine3D nearest = bilinear;
    nearest.mode = "nearest";
    check_case("affine.nearest_" + pad, nearest, 0, 0, "label");
  }
}

TEST_CASE("bias_field equals numpy's leggrid3d", "[data][transforms]") {
  const Tensor<double> coeff = test::fixture_file(kFile).get<double>("bias.degree3.coeff");
  const Tensor<double> want = expected<double>("bias.degree3");
  test::require_close(data::bias_field<double>({7, 6, 5}, 3, coeff.to_vector()), want, 1e-12);
  test::require_close(data::bias_field<float>({7, 6, 5}, 3, coeff.to_vector()), want, 1e-6);
}

TEST_CASE("ScaleIntensityRangePercentiles leaves NaN voxels out of the percentiles (numpy.nanpercentile)",
          "[data][transforms]") {
  // x = [0.5, nan, 3, -2, 7.25, nan, 1, 4, 4, 10, nan, 2.5]; np.nanpercentile(x, [10, 90]) =
  // [1.1102230246251565e-16, 7.800000000000001]; then (x - lo) / (hi - lo) clipped to [0, 1].
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> x{0.5, nan, 3.0, -2.0, 7.25, nan, 1.0, 4.0, 4.0, 10.0, nan, 2.5};
  const std::vector<double> want{0.06410256410256408, nan, 0.3846153846153846, 0.0, 0.9294871794871794, nan,
                                 0.12820512820512817, 0.5128205128205128, 0.5128205128205128, 1.0, nan,
                                 0.3205128205128205};
  data::Sample<double> s;
  s.image = from_vector<double>(x, {1, 2, 2, 3});
  Generator gen(1);
  data::ScaleIntensityRangePercentiles{.lower = 10, .upper = 90, .b_min = 0.0, .b_max = 1.0, .clip = true}(s, gen);
  const std::vector<double> got = s.image.to_vector();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("voxel " << i);
    if (std::isnan(want[i])) CHECK(std::isnan(got[i]));
    else CHECK(got[i] == Approx(want[i]).margin(1e-12));
  }
}
