// ops::nanquantile / nanpercentile against numpy 1.24 (values computed once with
// numpy.nanpercentile / numpy.nanquantile, method="linear", and written here): NaN left out, ties,
// q = 0 and 100, several quantiles at once in any order, integers, float, strided tensors, sampling,
// inf next to the interpolation point, and the errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "voxnn/core/factory.hpp"
#include "voxnn/ops/quantile.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
}  // namespace

TEST_CASE("nanpercentile equals numpy.nanpercentile bit for bit on doubles", "[ops][quantile]") {
  // a = [3.5, nan, -1.25, 7.0, 3.5, nan, 0.1, 2.0, 3.5, 9.75, -4.0]
  const std::vector<double> a{3.5, kNaN, -1.25, 7.0, 3.5, kNaN, 0.1, 2.0, 3.5, 9.75, -4.0};
  const Tensor<double> t = from_vector(a, {11});
  // np.nanpercentile(a, [0, 0.1, 12.5, 33.3, 50, 66.7, 90, 99.9, 100])
  const std::vector<double> p{0, 0.1, 12.5, 33.3, 50, 66.7, 90, 99.9, 100};
  const std::vector<double> want{-4.0, -3.978, -1.25, 1.3615999999999995, 3.5, 3.5, 7.550000000000001,
                                 9.728000000000002, 9.75};
  CHECK(ops::nanpercentile(t, p) == want);
  // any order of q, one at a time or together
  const std::vector<double> reversed(p.rbegin(), p.rend()), want_reversed(want.rbegin(), want.rend());
  CHECK(ops::nanpercentile(t, reversed) == want_reversed);
  for (std::size_t i = 0; i < p.size(); ++i) CHECK(ops::nanpercentile(t, p[i]) == want[i]);
  // np.nanquantile(a, [0, 0.25, 0.5, 0.75, 1, 0.3])
  CHECK(ops::nanquantile(t, {0.0, 0.25, 0.5, 0.75, 1.0, 0.3}) ==
        std::vector<double>{-4.0, 0.1, 3.5, 3.5, 9.75, 0.8599999999999998});
  CHECK(ops::nanquantile(a.data(), 11, {0.5}) == std::vector<double>{3.5});
  // the input is not modified
  CHECK(t.at({0}) == 3.5);
  CHECK(std::isnan(t.at({1})));
}

TEST_CASE("nanpercentile: ties, integers, float, strided tensors", "[ops][quantile]") {
  // np.nanpercentile([2, 2, 2, 2, 5], [0, 25, 50, 75, 80, 90, 100])
  const Tensor<double> ties = from_vector<double>({2, 2, 2, 2, 5}, {5});
  CHECK(ops::nanpercentile(ties, {0, 25, 50, 75, 80, 90, 100}) ==
        std::vector<double>{2.0, 2.0, 2.0, 2.0, 2.6000000000000005, 3.8000000000000003, 5.0});
  // np.percentile(np.array([5, 1, 9, 3, 7, 3]), [10, 50, 95])
  const Tensor<int64_t> ints = from_vector<int64_t>({5, 1, 9, 3, 7, 3}, {2, 3});
  CHECK(ops::nanpercentile(ints, {10, 50, 95}) == std::vector<double>{2.0, 4.0, 8.5});
  // float32 values: numpy on the same values as float64
  const Tensor<float> f = from_vector<float>({0.1f, 0.7f, 0.3f, std::numeric_limits<float>::quiet_NaN(), 0.9f}, {5});
  const auto fp = ops::nanpercentile(f, {5, 50, 95});
  CHECK(fp[0] == Approx(0.13000000305473805).epsilon(1e-15));
  CHECK(fp[1] == 0.5);
  CHECK(fp[2] == Approx(0.8699999779462814).epsilon(1e-15));
  // a transposed (non-contiguous) view gives the same as its contiguous copy
  Tensor<double> m({3, 4});
  for (int64_t i = 0; i < 12; ++i) m.data()[i] = static_cast<double>((i * 7) % 12) - 3.5;
  CHECK(ops::nanpercentile(m.transpose(0, 1), {10, 50, 90}) == ops::nanpercentile(m, {10, 50, 90}));
  // np.nanpercentile(np.arange(1000)[::-1] * 0.37, [0.5, 99.5])
  Tensor<double> c({1000});
  for (int64_t i = 0; i < 1000; ++i) c.data()[i] = static_cast<double>(999 - i) * 0.37;
  CHECK(ops::nanpercentile(c, {0.5, 99.5}) == std::vector<double>{1.8481500000000002, 367.78184999999996});
}

TEST_CASE("nanquantile: empty and all-NaN give NaN; inf as numpy; sampling; errors", "[ops][quantile]") {
  CHECK(std::isnan(ops::nanquantile(Tensor<double>({0}), 0.5)));
  CHECK(std::isnan(ops::nanquantile(from_vector<double>({kNaN, kNaN}, {2}), 0.5)));
  // np.nanpercentile([nan, 4.0], [0, 37, 100]) = [4, 4, 4]
  CHECK(ops::nanpercentile(from_vector<double>({kNaN, 4.0}, {2}), {0, 37, 100}) == std::vector<double>{4, 4, 4});
  // np.nanpercentile([-inf, 1, inf], [0, 25, 50, 100]) = [nan, -inf, nan, nan] (numpy's lerp: inf * 0, inf - inf)
  const auto inf = ops::nanpercentile(from_vector<double>({kInf, 1, -kInf}, {3}), {0, 25, 50, 100});
  CHECK(std::isnan(inf[0]));
  CHECK(inf[1] == -kInf);
  CHECK(std::isnan(inf[2]));
  CHECK(std::isnan(inf[3]));
  // sampling: 10 values, at most 4 -> step 3 (odd): values 0, 3, 6, 9; at most 3 -> step 4 -> 5: values 0, 5
  Tensor<double> ten({10});
  for (int64_t i = 0; i < 10; ++i) ten.data()[i] = static_cast<double>(i);
  CHECK(ops::nanquantile(ten, {0.0, 1.0 / 3, 1.0}, 4) == std::vector<double>{0, 3, 9});
  CHECK(ops::nanquantile(ten, {0.0, 1.0}, 3) == std::vector<double>{0, 5});
  CHECK(ops::nanquantile(ten, {0.0, 1.0}, 10) == std::vector<double>{0, 9});  // fits: every value
  CHECK(ops::detail::quantile_sample_step(1 << 24, 1 << 20) == 17);
  REQUIRE_THROWS_WITH(ops::nanquantile(ten, 1.5), Contains("nanquantile: q = 1.5 is outside [0, 1]"));
  REQUIRE_THROWS_WITH(ops::nanpercentile(ten, -1), Contains("nanpercentile: q = -1 is outside [0, 100]"));
  REQUIRE_THROWS_WITH(ops::nanpercentile(ten, kNaN), Contains("nanpercentile"));
}
