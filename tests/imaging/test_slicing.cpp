// Volume <-> 2D slices: volume_to_slices against the reference's slicing (MRI2DSlice.encode of
// umgupta/2d-slice-set-networks, for slice_dim 1..3 and in_channel 1..2) and its regrouping of slice
// encodings into the set (B, S, E); exact round trips for every axis and order; the element rule with
// several channels and context; gradcheck and gradgradcheck; errors. Fixtures:
// tests/fixtures/gen_imaging_attention.py (op "reference_slices").
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/functions/slicing.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;

TEMPLATE_TEST_CASE("volume_to_slices and slices_to_set reproduce the reference's layout", "[imaging][slicing]", float,
                   double) {
  using T = TestType;
  int count = 0;
  for (const auto& c : test::fixture_cases("imaging_attention.safetensors", "reference_slices")) {
    INFO("case " << c.name());
    ++count;
    const int64_t slice_dim = c.integer("slice_dim"), batch = c.integer("batch");
    const Var<T> x(c.input<T>(0));
    // the reference's slice_dim k over its (B, 1, H, W, D) volume is volume dim k + 1
    const Var<T> slices = volume_to_slices(x, {.dim = slice_dim + 1, .context = c.integer("in_channel")});
    test::require_equal(slices.value(), c.expected<T>(0), "slices");
    const Tensor<T> enc = c.input<T>(1);  // per-slice encodings (S * B, E, 1, 1)
    const Var<T> set = slices_to_set(Var<T>(enc.reshape({enc.shape()[0], enc.shape()[1]})), batch);
    test::require_equal(set.value().contiguous(), c.expected<T>(1), "set view");
  }
  CHECK(count == 6);
}

TEST_CASE("volume_to_slices: element rule with channels and context, exact round trips", "[imaging][slicing]") {
  Generator gen(2);
  const Tensor<double> x = randn<double>({2, 3, 4, 5, 6}, gen);
  for (const std::string order : {"slice_major", "batch_major"}) {
    for (int64_t dim : {2, 3, 4, -3, -1}) {
      for (int64_t context : {1, 2, 3}) {
        INFO("order " << order << ", dim " << dim << ", context " << context);
        const int d = dim < 0 ? static_cast<int>(dim + 5) : static_cast<int>(dim);
        std::vector<int> rest;
        for (int i = 2; i < 5; ++i)
          if (i != d) rest.push_back(i);
        const int64_t n = 2, ch = 3, count = x.shape()[d] - context + 1;
        const Tensor<double> s = volume_to_slices(Var<double>(x), {.dim = dim, .context = context, .order = order}).value();
        REQUIRE(s.shape() == Shape({count * n, ch * context, x.shape()[rest[0]], x.shape()[rest[1]]}));
        bool ok = true;
        for (int64_t si = 0; si < count; ++si)
          for (int64_t b = 0; b < n; ++b)
            for (int64_t c = 0; c < ch; ++c)
              for (int64_t j = 0; j < context; ++j)
                for (int64_t u = 0; u < s.shape()[2]; ++u)
                  for (int64_t w = 0; w < s.shape()[3]; ++w) {
                    std::vector<int64_t> at{b, c, 0, 0, 0};
                    at[static_cast<std::size_t>(d)] = si + j;
                    at[static_cast<std::size_t>(rest[0])] = u;
                    at[static_cast<std::size_t>(rest[1])] = w;
                    const int64_t row = order == "slice_major" ? si * n + b : b * count + si;
                    const int64_t flat = (((at[0] * 3 + at[1]) * 4 + at[2]) * 5 + at[3]) * 6 + at[4];
                    ok = ok && s.at({row, c * context + j, u, w}) == x.data()[flat];
                  }
        CHECK(ok);
        if (context == 1) {
          const Var<double> back = slices_to_volume(Var<double>(s), n, {.dim = dim, .order = order});
          test::require_equal(back.value(), x, "round trip");
        }
        // the set view and back
        const Var<double> set = slices_to_set(Var<double>(s), n, order);
        REQUIRE(set.shape() == Shape({n, count, ch * context, s.shape()[2], s.shape()[3]}));
        CHECK(set.value().at({1, count - 1, 0, 0, 0}) == s.at({order == "slice_major" ? (count - 1) * n + 1 : 2 * count - 1, 0, 0, 0}));
        test::require_equal(set_to_slices(set, order).value(), s, "set round trip");
      }
    }
  }
}

TEST_CASE("slicing: gradcheck and gradgradcheck", "[imaging][slicing][gradcheck]") {
  Generator gen(3);
  const Var<double> x(randn<double>({2, 2, 3, 4, 2}, gen), true);
  for (int64_t dim : {2, 3, 4}) {
    INFO("dim " << dim);
    test::check_gradients([&](const auto& xs) { return volume_to_slices(xs[0], {.dim = dim, .context = 2}); }, {x});
    test::check_gradients(
        [&](const auto& xs) { return volume_to_slices(xs[0], {.dim = dim, .order = "batch_major"}); }, {x});
    const Var<double> s(volume_to_slices(x, {.dim = dim}).value(), true);
    test::check_gradients([&](const auto& xs) { return slices_to_volume(xs[0], 2, {.dim = dim}); }, {s});
    test::check_gradients([&](const auto& xs) { return set_to_slices(slices_to_set(xs[0], 2)); }, {s});
  }
}

TEST_CASE("slicing: errors name the op and the shapes", "[imaging][slicing]") {
  const Var<float> x(zeros<float>({2, 1, 4, 5, 3}));
  REQUIRE_THROWS_WITH(volume_to_slices(Var<float>(zeros<float>({2, 4, 5, 3}))),
                      Contains("volume_to_slices") && Contains("[2, 4, 5, 3]") && Contains("(N, C, D, H, W)"));
  REQUIRE_THROWS_WITH(volume_to_slices(x, {.dim = 1}), Contains("volume_to_slices: dim 1"));
  REQUIRE_THROWS_WITH(volume_to_slices(x, {.dim = 4, .context = 4}),
                      Contains("context 4 must be in [1, 3]") && Contains("[2, 1, 4, 5, 3]"));
  REQUIRE_THROWS_WITH(volume_to_slices(x, {.order = "rows"}), Contains("order must be"));
  const Var<float> s = volume_to_slices(x);
  REQUIRE_THROWS_WITH(slices_to_volume(s, 3), Contains("slices_to_volume") && Contains("do not split into batch 3"));
  REQUIRE_THROWS_WITH(slices_to_volume(s, 2, {.context = 2}), Contains("context 2"));
  REQUIRE_THROWS_WITH(slices_to_set(s, 5), Contains("slices_to_set") && Contains("[8, 1, 5, 3]"));
  REQUIRE_THROWS_WITH(set_to_slices(Var<float>(zeros<float>({4}))), Contains("set_to_slices") && Contains("[4]"));
}
