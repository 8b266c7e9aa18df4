// cat, stack, split, chunk, index_select, gather, scatter_add and one_hot against PyTorch
// (tests/fixtures/core_join_index.safetensors), including views and negative dims; then errors.
#include <catch2/catch.hpp>

#include <voxnn/core/factory.hpp>
#include <voxnn/ops/indexing.hpp>
#include <voxnn/ops/join.hpp>

#include "support/fixtures.hpp"

using namespace voxnn;
using test::FixtureCase;
using test::fixture_cases;
using Catch::Contains;

namespace {
constexpr const char* kFile = "core_join_index.safetensors";

template <class T>
std::vector<Tensor<T>> all_inputs(const FixtureCase& c) {
  std::vector<Tensor<T>> out;
  for (int i = 0; i < c.num_inputs(); ++i) out.push_back(c.input<T>(i));
  return out;
}

template <class T>
void check_pieces(const FixtureCase& c, const std::vector<Tensor<T>>& pieces) {
  REQUIRE(static_cast<int>(pieces.size()) == c.num_outputs());
  for (int k = 0; k < c.num_outputs(); ++k) c.check<T>(pieces[static_cast<std::size_t>(k)], k);
}
}  // namespace

TEMPLATE_TEST_CASE("joins and splits match PyTorch", "[core][ops][fixtures]", float, double) {
  using T = TestType;
  SECTION("cat") {
    for (const FixtureCase& c : fixture_cases(kFile, "cat")) c.check<T>(ops::cat(all_inputs<T>(c), c.integer("dim")));
  }
  SECTION("stack") {
    for (const FixtureCase& c : fixture_cases(kFile, "stack"))
      c.check<T>(ops::stack(all_inputs<T>(c), c.integer("dim")));
  }
  SECTION("split, split_with_sizes and chunk give views") {
    for (const FixtureCase& c : fixture_cases(kFile, "split")) {
      const auto x = c.input<T>(0);
      const auto pieces = c.has("sizes") ? ops::split_with_sizes(x, c.ints("sizes"), c.integer("dim"))
                                         : ops::split(x, c.integer("size"), c.integer("dim"));
      check_pieces(c, pieces);
      for (const auto& p : pieces) CHECK(p.shares_storage_with(x));
    }
    for (const FixtureCase& c : fixture_cases(kFile, "chunk"))
      check_pieces(c, ops::chunk(c.input<T>(0), c.integer("chunks"), c.integer("dim")));
  }
}

TEMPLATE_TEST_CASE("indexing ops match PyTorch", "[core][ops][fixtures]", float, double) {
  using T = TestType;
  SECTION("index_select") {
    for (const FixtureCase& c : fixture_cases(kFile, "index_select"))
      c.check<T>(ops::index_select(c.input<T>(0), c.integer("dim"), c.input<int64_t>(1)));
  }
  SECTION("gather") {
    for (const FixtureCase& c : fixture_cases(kFile, "gather"))
      c.check<T>(ops::gather(c.input<T>(0), c.integer("dim"), c.input<int64_t>(1)));
  }
  SECTION("scatter_add and its in-place form") {
    for (const FixtureCase& c : fixture_cases(kFile, "scatter_add")) {
      const auto x = c.input<T>(0), src = c.input<T>(2);
      const auto index = c.input<int64_t>(1);
      c.check<T>(ops::scatter_add(x, c.integer("dim"), index, src));
      ops::scatter_add_(x, c.integer("dim"), index, src);
      c.check<T>(x);
    }
  }
  SECTION("one_hot") {
    for (const FixtureCase& c : fixture_cases(kFile, "one_hot"))
      c.check<T>(ops::one_hot(c.input<int64_t>(0), c.integer("num_classes")));
  }
}

TEST_CASE("join and indexing errors name the op and the shapes", "[core][ops][errors]") {
  const auto a = zeros<float>({2, 3}), b = zeros<float>({2, 4});
  REQUIRE_THROWS_WITH(ops::cat<float>({a, b}, 0), Contains("cat") && Contains("[2, 4]") && Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(ops::cat<float>({a, zeros<float>({6})}), Contains("cat") && Contains("[6]"));
  REQUIRE_THROWS_WITH(ops::cat<float>({}), Contains("cat") && Contains("at least one"));
  REQUIRE_THROWS_WITH(ops::cat<float>({a, a}, 2), Contains("cat") && Contains("dim 2"));
  REQUIRE_THROWS_WITH(ops::stack<float>({a, b}), Contains("stack") && Contains("[2, 3]") && Contains("[2, 4]"));
  REQUIRE_THROWS_WITH(ops::split_with_sizes(a, {1, 1}, 1), Contains("split") && Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(ops::split(a, 0), Contains("split") && Contains("positive"));
  REQUIRE_THROWS_WITH(ops::chunk(a, 0), Contains("chunk") && Contains("positive"));

  const auto idx = from_vector<int64_t>({0, 5});
  REQUIRE_THROWS_WITH(ops::index_select(a, 1, idx), Contains("index_select") && Contains("index 5") && Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(ops::index_select(a, 0, zeros<int64_t>({2, 2})), Contains("index_select") && Contains("1-D"));
  REQUIRE_THROWS_WITH(ops::gather(a, 1, zeros<int64_t>({2})), Contains("gather") && Contains("rank"));
  REQUIRE_THROWS_WITH(ops::gather(a, 1, zeros<int64_t>({3, 1})), Contains("gather") && Contains("[3, 1]"));
  REQUIRE_THROWS_WITH(ops::gather(a, 1, full<int64_t>({2, 1}, 3)), Contains("gather") && Contains("index 3"));
  REQUIRE_THROWS_WITH(ops::scatter_add(a, 0, zeros<int64_t>({2, 3}), zeros<float>({1, 3})),
                      Contains("scatter_add") && Contains("[1, 3]"));
  REQUIRE_THROWS_WITH(ops::one_hot(from_vector<int64_t>({0, 4}), 3), Contains("one_hot") && Contains("class 4"));
  REQUIRE_THROWS_WITH(ops::one_hot(from_vector<int64_t>({-1, 1})), Contains("one_hot") && Contains("class -1"));
}
