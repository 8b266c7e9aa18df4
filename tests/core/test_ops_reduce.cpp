// Reductions against PyTorch (tests/fixtures/core_reduce.safetensors): sum, mean, var/std with and
// without Bessel's correction, amax/amin, argmax (first index on ties), p-norms; over single dims,
// dim sets that need one, two or three runs (NCDHW (0, 2, 3, 4), (0, 2, 4)), all dims, negative dims,
// keepdim both ways and non-contiguous inputs. Then the split-reduction path against closed forms.
#include <catch2/catch.hpp>

#include <voxnn/core/factory.hpp>
#include <voxnn/core/parallel.hpp>
#include <voxnn/ops/reduce.hpp>

#include "support/fixtures.hpp"

using namespace voxnn;
using test::FixtureCase;
using test::fixture_cases;
using Catch::Contains;

namespace {
constexpr const char* kFile = "core_reduce.safetensors";
}

TEMPLATE_TEST_CASE("reductions match PyTorch", "[core][ops][fixtures]", float, double) {
  using T = TestType;

  SECTION("sum and mean") {
    for (const FixtureCase& c : fixture_cases(kFile, "sum"))
      c.check<T>(ops::sum(c.input<T>(0), c.ints("dims"), c.flag("keepdim")));
    for (const FixtureCase& c : fixture_cases(kFile, "mean"))
      c.check<T>(ops::mean(c.input<T>(0), c.ints("dims"), c.flag("keepdim")));
  }
  SECTION("var and std, unbiased or not") {
    for (const FixtureCase& c : fixture_cases(kFile, "var"))
      c.check<T>(ops::var(c.input<T>(0), c.ints("dims"), c.flag("unbiased"), c.flag("keepdim")));
    for (const FixtureCase& c : fixture_cases(kFile, "std"))
      c.check<T>(ops::std(c.input<T>(0), c.ints("dims"), c.flag("unbiased"), c.flag("keepdim")));
  }
  SECTION("amax and amin") {
    for (const FixtureCase& c : fixture_cases(kFile, "amax"))
      c.check<T>(ops::amax(c.input<T>(0), c.ints("dims"), c.flag("keepdim")));
    for (const FixtureCase& c : fixture_cases(kFile, "amin"))
      c.check<T>(ops::amin(c.input<T>(0), c.ints("dims"), c.flag("keepdim")));
  }
  SECTION("argmax, ties going to the first index") {
    for (const FixtureCase& c : fixture_cases(kFile, "argmax")) {
      const auto x = c.input<T>(0);
      if (c.param("dim").is_string()) c.check<T>(ops::argmax(x));
      else c.check<T>(ops::argmax(x, c.integer("dim"), c.flag("keepdim")));
    }
  }
  SECTION("norm with p = 1, 2, 3, inf") {
    for (const FixtureCase& c : fixture_cases(kFile, "norm"))
      c.check<T>(ops::norm(c.input<T>(0), c.real("p"), c.ints("dims"), c.flag("keepdim")));
  }
  SECTION("max_dim and min_dim give values and indices") {
    const auto x = test::fixture_file(kFile).get<T>("reduce_input.cube");
    const auto [values, indices] = ops::max_dim(x, 1, true);
    test::require_equal(values, ops::amax(x, {1}, true));
    test::require_equal(indices, ops::argmax(x, 1, true));
    const auto [vmin, imin] = ops::min_dim(x, -1);
    test::require_equal(vmin, ops::amin(x, {-1}));
    test::require_equal(imin, ops::argmin(x, -1));
    CHECK(ops::max(x).item() == ops::amax(x).item());
    CHECK(ops::min(x).item() == ops::amin(x).item());
  }
}

TEST_CASE("reduction errors name the op and the shapes", "[core][ops][errors]") {
  const auto x = zeros<double>({2, 3});
  REQUIRE_THROWS_WITH(ops::sum(x, {2}), Contains("sum") && Contains("dim 2") && Contains("rank 2"));
  REQUIRE_THROWS_WITH(ops::mean(x, {-3}), Contains("mean") && Contains("dim -3"));
  REQUIRE_THROWS_WITH(ops::var(x, {1, -1}), Contains("var") && Contains("twice") && Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(ops::amax(zeros<double>({0, 3})), Contains("amax") && Contains("empty") && Contains("[0, 3]"));
  REQUIRE_THROWS_WITH(ops::argmax(zeros<double>({0})), Contains("argmax") && Contains("[0]"));
  REQUIRE_THROWS_WITH(ops::argmax(x, 2), Contains("argmax") && Contains("dim 2"));
  REQUIRE_THROWS_WITH(ops::sum_to(x, {4, 1}), Contains("sum_to"));
}

TEST_CASE("reduction edge cases", "[core][ops]") {
  SECTION("empty reductions give torch's identities") {
    const auto e = zeros<double>({0, 3});
    CHECK(ops::sum(e).item() == 0.0);
    CHECK(ops::sum(e, {0}).to_vector() == std::vector<double>{0, 0, 0});
    CHECK(std::isnan(ops::mean(e).item()));
    CHECK(std::isnan(ops::var(from_vector<double>({1.5})).item()));  // one sample, unbiased
    CHECK(ops::var(from_vector<double>({1.5}), {}, false).item() == 0.0);
  }
  SECTION("zero-dim inputs") {
    const auto s = scalar_tensor(-2.0);
    CHECK(ops::sum(s).item() == -2.0);
    CHECK(ops::sum(s, {0}).dim() == 0);
    CHECK(ops::norm(s, 1.0).item() == 2.0);
    CHECK(ops::argmax(s).item() == 0);
  }
  SECTION("NaN propagates through amax and wins argmax, as in torch") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const auto x = from_vector<double>({1, nan, 3, nan});
    CHECK(std::isnan(ops::amax(x).item()));
    CHECK(std::isnan(ops::amin(x).item()));
    CHECK(ops::argmax(x).item() == 1);
    CHECK(ops::argmin(x).item() == 1);
  }
  SECTION("integer sums") {
    CHECK(ops::sum(arange<int64_t>(10)).item() == 45);
    CHECK(ops::amax(arange<int64_t>(10).reshape({2, 5}), {1}).to_vector() == std::vector<int64_t>{4, 9});
  }
  SECTION("sum_to folds a broadcast result back") {
    const auto g = ones<double>({2, 3, 4});
    test::require_equal(ops::sum_to(g, {3, 1}), full<double>({3, 1}, 8.0));
    test::require_equal(ops::sum_to(g, {4}), full<double>({4}, 6.0));
    test::require_equal(ops::sum_to(g, {}), scalar_tensor(24.0));
    CHECK(ops::sum_to(g, {2, 3, 4}).shares_storage_with(g));
  }
}

TEMPLATE_TEST_CASE("long reductions split across threads agree with closed forms", "[core][ops][parallel]", float,
                   double) {
  using T = TestType;
  const int saved = num_threads();
  // Few outputs and long rows take the path that splits each reduction across threads and merges
  // partial results; more threads than cores is fine for correctness.
  const int64_t n = 100003;  // odd, so partial ranges are uneven
  const auto x = arange<T>(2.0 * n).reshape({2, n});
  for (int threads : {1, 2, 3, 7}) {
    set_num_threads(threads);
    INFO("threads " << threads);
    const auto s = ops::sum(x, {1}).to_vector();
    const double row0 = double(n) * (n - 1) / 2;
    CHECK(s[0] == Approx(row0).epsilon(1e-6));
    CHECK(s[1] == Approx(row0 + double(n) * n).epsilon(1e-6));
    // var of 0..n-1 (unbiased) is n (n + 1) / 12
    const auto v = ops::var(x, {-1}).to_vector();
    CHECK(v[0] == Approx(double(n) * (n + 1) / 12).epsilon(1e-5));
    CHECK(v[1] == Approx(v[0]).epsilon(1e-6));
    // ties across partial ranges: the first maximum wins
    auto y = zeros<T>({2, n});
    y.at({0, 5}) = T(1);
    y.at({0, n - 3}) = T(1);
    y.at({1, n - 1}) = T(2);
    y.at({1, n / 2}) = T(2);
    CHECK(ops::argmax(y, 1).to_vector() == std::vector<int64_t>{5, n / 2});
    CHECK(ops::amax(y, {1}).to_vector() == std::vector<T>{1, 2});
    CHECK(ops::argmin(ops::neg(y), -1).to_vector() == std::vector<int64_t>{5, n / 2});
    CHECK(ops::norm(y, 2.0, {1}).to_vector() == std::vector<T>{T(std::sqrt(2.0)), T(std::sqrt(8.0))});
  }
  set_num_threads(saved);
}
