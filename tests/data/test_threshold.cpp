// data::otsu_threshold against scikit-image's threshold_otsu (tests/fixtures/gen_data_threshold.py).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "support/fixtures.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/data/threshold.hpp"

using namespace voxnn;

TEST_CASE("otsu_threshold matches scikit-image", "[data][threshold]") {
  const io::TensorFile& f = test::fixture_file("data_threshold.safetensors");
  for (const char* name : {"bimodal", "bimodal_16_bins", "gamma_volume", "integers", "two_values"}) {
    INFO(name);
    const std::string n = name;
    const int64_t nbins = n == "bimodal_16_bins" ? 16 : 256;
    const Tensor<double> image = f.get<double>(n + ".image");
    const double want = f.get<double>(n + ".threshold").item();
    CHECK(data::otsu_threshold(image, nbins) == Approx(want).margin(1e-12));
    CHECK(data::otsu_threshold(f.get<float>(n + ".image"), nbins) == Approx(want).epsilon(1e-6));
  }
}

TEST_CASE("otsu_threshold ignores NaN and rejects empty input", "[data][threshold]") {
  Tensor<float> x = from_vector<float>({0.f, 0.f, 1.f, 9.f, 10.f, 10.f, std::nanf("")}, {7});
  const double t = data::otsu_threshold(x);
  CHECK(t > 0.99);  // the centre of the bin holding 1 (scikit-image's rule)
  CHECK(t < 9.0);
  CHECK(data::otsu_threshold(full<float>({3}, 2.f)) == 2.0);
  REQUIRE_THROWS_WITH(data::otsu_threshold(full<float>({2}, std::numeric_limits<float>::quiet_NaN())),
                      Catch::Contains("otsu_threshold: the image [2] has no finite value"));
  REQUIRE_THROWS_WITH(data::otsu_threshold(zeros<float>({2}), 1), Catch::Contains("nbins must be at least 2"));
}
