// matmul in every torch.matmul case (1-D promotion on either side, broadcast batch dims, transposed,
// permuted, strided and expanded operands, k = 0), mm and bmm, against PyTorch
// (tests/fixtures/core_matmul.safetensors); then shape errors.
#include <catch2/catch.hpp>

#include <voxnn/core/factory.hpp>
#include <voxnn/ops/linalg.hpp>

#include "support/fixtures.hpp"

using namespace voxnn;
using test::FixtureCase;
using test::fixture_cases;
using Catch::Contains;

namespace {
constexpr const char* kFile = "core_matmul.safetensors";
}

TEMPLATE_TEST_CASE("matmul, mm and bmm match PyTorch", "[core][ops][fixtures]", float, double) {
  using T = TestType;
  SECTION("matmul") {
    for (const FixtureCase& c : fixture_cases(kFile, "matmul")) c.check<T>(ops::matmul(c.input<T>(0), c.input<T>(1)));
  }
  SECTION("mm") {
    for (const FixtureCase& c : fixture_cases(kFile, "mm")) c.check<T>(ops::mm(c.input<T>(0), c.input<T>(1)));
  }
  SECTION("bmm") {
    for (const FixtureCase& c : fixture_cases(kFile, "bmm")) c.check<T>(ops::bmm(c.input<T>(0), c.input<T>(1)));
  }
}

TEST_CASE("matmul errors name the op and both shapes", "[core][ops][errors]") {
  const auto a = zeros<float>({2, 3}), b = zeros<float>({4, 5});
  REQUIRE_THROWS_WITH(ops::matmul(a, b), Contains("matmul") && Contains("[2, 3]") && Contains("[4, 5]"));
  REQUIRE_THROWS_WITH(ops::matmul(zeros<float>({3}), zeros<float>({4})), Contains("matmul") && Contains("[3]"));
  REQUIRE_THROWS_WITH(ops::matmul(scalar_tensor(1.0f), a), Contains("matmul") && Contains("at least one dim"));
  REQUIRE_THROWS_WITH(ops::matmul(zeros<float>({2, 2, 3}), zeros<float>({3, 3, 4})),
                      Contains("matmul") && Contains("broadcast"));
  REQUIRE_THROWS_WITH(ops::mm(a, b), Contains("mm") && Contains("[2, 3]") && Contains("[4, 5]"));
  REQUIRE_THROWS_WITH(ops::mm(zeros<float>({2, 3, 1}), b), Contains("mm") && Contains("[2, 3, 1]"));
  REQUIRE_THROWS_WITH(ops::bmm(a, b), Contains("bmm") && Contains("3-D"));
  REQUIRE_THROWS_WITH(ops::bmm(zeros<float>({2, 3, 4}), zeros<float>({3, 4, 5})),
                      Contains("bmm") && Contains("[2, 3, 4]") && Contains("[3, 4, 5]"));
}

TEST_CASE("matmul results are fresh contiguous tensors", "[core][ops]") {
  const auto a = arange<double>(6).reshape({2, 3}), b = arange<double>(12).reshape({3, 4});
  const auto c = ops::matmul(a, b);
  CHECK(c.is_contiguous());
  CHECK_FALSE(c.shares_storage_with(a));
  // [[0 1 2] [3 4 5]] x [[0 1 2 3] [4 5 6 7] [8 9 10 11]]
  CHECK(c.to_vector() == std::vector<double>{20, 23, 26, 29, 56, 68, 80, 92});
  CHECK(ops::matmul(from_vector<double>({1, 2, 3}), from_vector<double>({4, 5, 6})).item() == 32.0);
}
