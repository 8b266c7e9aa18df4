// Elementwise ops against PyTorch (tests/fixtures/core_elementwise.safetensors), in float and double,
// on broadcast shapes and non-contiguous views; in-place and out= forms; error messages; and large
// inputs whose result must not depend on how the loop is split across threads.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include <voxnn/core/factory.hpp>
#include <voxnn/core/parallel.hpp>
#include <voxnn/ops/elementwise.hpp>

#include "support/fixtures.hpp"

using namespace voxnn;
using test::FixtureCase;
using test::fixture_cases;
using Catch::Contains;

namespace {
constexpr const char* kFile = "core_elementwise.safetensors";

template <class... Args>
auto arithmetic(std::string_view op, const Args&... args) {
  if (op == "add") return ops::add(args...);
  if (op == "sub") return ops::sub(args...);
  if (op == "mul") return ops::mul(args...);
  return ops::div(args...);
}

template <class T>
Tensor<T> unary(std::string_view op, const Tensor<T>& x) {
  if (op == "exp") return ops::exp(x);
  if (op == "log") return ops::log(x);
  if (op == "sqrt") return ops::sqrt(x);
  if (op == "rsqrt") return ops::rsqrt(x);
  if (op == "abs") return ops::abs(x);
  return ops::neg(x);
}
// The in-place form, applied to a copy.
template <class T>
Tensor<T> unary_inplace(std::string_view op, const Tensor<T>& x) {
  Tensor<T> y = x.clone();
  if (op == "exp") ops::exp_(y);
  else if (op == "log") ops::log_(y);
  else if (op == "sqrt") ops::sqrt_(y);
  else if (op == "rsqrt") ops::rsqrt_(y);
  else if (op == "abs") ops::abs_(y);
  else ops::neg_(y);
  return y;
}

template <class T>
Tensor<bool> compare(std::string_view op, const Tensor<T>& a, const auto& b) {
  if (op == "eq") return ops::eq(a, b);
  if (op == "ne") return ops::ne(a, b);
  if (op == "lt") return ops::lt(a, b);
  if (op == "le") return ops::le(a, b);
  if (op == "gt") return ops::gt(a, b);
  return ops::ge(a, b);
}
}  // namespace

TEMPLATE_TEST_CASE("elementwise ops match PyTorch", "[core][ops][fixtures]", float, double) {
  using T = TestType;

  SECTION("add, sub, mul, div with broadcasting, views and scalars") {
    for (const char* op : {"add", "sub", "mul", "div"}) {
      for (const FixtureCase& c : fixture_cases(kFile, op)) {
        if (c.num_inputs() == 2) {
          const auto a = c.input<T>(0), b = c.input<T>(1);
          c.check<T>(arithmetic(op, a, b));
          // in place and out= agree when the output has a's shape
          if (broadcast_shapes(a.shape(), b.shape(), op) == a.shape()) {
            Tensor<T> inplace = c.input<T>(0);  // a fresh (possibly non-contiguous) view
            if (std::string_view(op) == "add") ops::add_(inplace, b);
            else if (std::string_view(op) == "sub") ops::sub_(inplace, b);
            else if (std::string_view(op) == "mul") ops::mul_(inplace, b);
            else ops::div_(inplace, b);
            c.check<T>(inplace);
          }
          Tensor<T> out(broadcast_shapes(a.shape(), b.shape(), op));
          if (std::string_view(op) == "add") ops::add_out(out, a, b);
          else if (std::string_view(op) == "sub") ops::sub_out(out, a, b);
          else if (std::string_view(op) == "mul") ops::mul_out(out, a, b);
          else ops::div_out(out, a, b);
          c.check<T>(out);
        } else {
          const auto x = c.input<T>(0);
          const T s = static_cast<T>(c.real("scalar"));
          c.check<T>(c.string("side") == "right" ? arithmetic(op, x, s) : arithmetic(op, s, x));
        }
      }
    }
  }
  SECTION("operators forward to the ops") {
    const auto c = fixture_cases(kFile, "add")[0];
    const auto a = c.input<T>(0), b = c.input<T>(1);
    test::require_equal(a + b, ops::add(a, b));
    test::require_equal(a - b, ops::sub(a, b));
    test::require_equal(a * b, ops::mul(a, b));
    test::require_equal(a / b, ops::div(a, b));
    test::require_equal(-a, ops::neg(a));
    test::require_equal(T(2) * a, ops::mul(a, T(2)));
    test::require_equal(a / T(4), ops::mul(a, T(0.25)));
  }
  SECTION("pow") {
    for (const FixtureCase& c : fixture_cases(kFile, "pow")) {
      const std::string form = c.string("form");
      if (form == "tensor_scalar") c.check<T>(ops::pow(c.input<T>(0), static_cast<T>(c.real("exponent"))));
      else if (form == "scalar_tensor") c.check<T>(ops::pow(static_cast<T>(c.real("base")), c.input<T>(0)));
      else c.check<T>(ops::pow(c.input<T>(0), c.input<T>(1)));
    }
  }
  SECTION("exp, log, sqrt, rsqrt, abs, neg and their in-place forms") {
    for (const char* op : {"exp", "log", "sqrt", "rsqrt", "abs", "neg"}) {
      for (const FixtureCase& c : fixture_cases(kFile, op)) {
        c.check<T>(unary(op, c.input<T>(0)));
        c.check<T>(unary_inplace(op, c.input<T>(0)));
      }
    }
  }
  SECTION("clamp") {
    for (const FixtureCase& c : fixture_cases(kFile, "clamp")) {
      const T lo = static_cast<T>(c.real("lo")), hi = static_cast<T>(c.real("hi"));
      c.check<T>(ops::clamp(c.input<T>(0), lo, hi));
      Tensor<T> y = c.input<T>(0).clone();
      ops::clamp_(y, lo, hi);
      c.check<T>(y);
    }
    const auto nan = std::numeric_limits<T>::quiet_NaN();
    CHECK(std::isnan(ops::clamp(from_vector<T>({nan}), T(0), T(1)).item()));
  }
  SECTION("where") {
    for (const FixtureCase& c : fixture_cases(kFile, "where")) {
      const auto cond = c.input<bool>(0);
      if (c.num_inputs() == 3) c.check<T>(ops::where(cond, c.input<T>(1), c.input<T>(2)));
      else c.check<T>(ops::where(cond, c.input<T>(1), static_cast<T>(c.real("other"))));
    }
  }
  SECTION("comparisons") {
    for (const char* op : {"eq", "ne", "lt", "le", "gt", "ge"}) {
      for (const FixtureCase& c : fixture_cases(kFile, op)) {
        if (c.num_inputs() == 2) c.check<T>(compare(op, c.input<T>(0), c.input<T>(1)));
        else c.check<T>(compare(op, c.input<T>(0), static_cast<T>(c.real("scalar"))));
      }
    }
  }
}

TEMPLATE_TEST_CASE("exp underflows to denormals and 0 as std::exp", "[core][ops][exp]", float, double) {
  using T = TestType;
  const T inf = std::numeric_limits<T>::infinity();
  // Contiguous, so the vectorised path runs; 37 entries put some in Eigen's packets and some in the tail.
  std::vector<T> v;
  for (double x : {-std::numeric_limits<double>::infinity(), -1000.0, -800.0, -745.2, -745.0, -720.0, -709.5, -708.5,
                   -708.0, -104.0, -88.0, -20.0, 0.0, 1.5, 80.0})
    v.push_back(static_cast<T>(x));
  while (v.size() < 37) v.push_back(static_cast<T>(-0.25 * static_cast<double>(v.size())));
  const auto x = from_vector<T>(v, {static_cast<int64_t>(v.size())});
  const auto y = ops::exp(x);
  auto y_ = x.clone();
  ops::exp_(y_);
  test::require_equal(y_, y, "exp_");
  // In place on a view one element past the allocation's start: the head runs apart from the packets.
  auto w = x.clone();
  ops::exp_(w.narrow(0, 1, static_cast<int64_t>(v.size()) - 1));
  for (const auto& [r, first] : {std::pair{y, std::size_t{0}}, std::pair{w, std::size_t{1}}}) {
    CHECK(r.data()[1] == T(0));
    for (std::size_t i = first; i < v.size(); ++i) {
      const double want = std::exp(static_cast<double>(v[i]));
      INFO("x = " << v[i] << ", from " << first);
      if (std::is_same_v<T, double>) {
        if (v[i] < -708.4) CHECK(r.data()[i] == std::exp(v[i]));  // the denormal range, exactly std::exp
        else CHECK(std::abs(r.data()[i] - want) <= 4e-16 * want);
      } else {
        // float: below the normal range (x < -87.34) anything in [0, std::exp(x)] (Eigen flushes to 0)
        if (v[i] < -87.34f) CHECK((r.data()[i] >= 0 && r.data()[i] <= std::numeric_limits<T>::min()));
        else CHECK(std::abs(r.data()[i] - want) <= 3e-7 * want);
      }
    }
  }
  CHECK(y.data()[0] == T(0));  // exp(-inf)
  if (std::is_same_v<T, double>) {
    CHECK(y.data()[3] == 0);      // -745.2: below the smallest denormal, as std::exp
    CHECK(y.data()[4] > 0);       // -745.0: the smallest denormal
    CHECK(y.data()[5] < 1e-312);  // -720, not Eigen's clamp 5.6e-309
  }
  // An entry in the denormal range leaves the values of the others bit for bit unchanged.
  auto z = x.clone();
  for (int i = 0; i < 12; ++i) z.data()[i] = T(-3);
  const auto yz = ops::exp(z);
  for (std::size_t i = 12; i < v.size(); ++i) CHECK(yz.data()[i] == y.data()[i]);
  CHECK(ops::exp(full<T>({5}, -inf)).to_vector() == std::vector<T>(5, T(0)));
}

TEST_CASE("elementwise errors name the op and the shapes", "[core][ops][errors]") {
  const auto a = zeros<float>({2, 3}), b = zeros<float>({4});
  REQUIRE_THROWS_WITH(ops::add(a, b), Contains("add") && Contains("[2, 3]") && Contains("[4]"));
  REQUIRE_THROWS_WITH(ops::mul(a, zeros<float>({3, 3})), Contains("mul") && Contains("[2, 3]") && Contains("[3, 3]"));
  REQUIRE_THROWS_WITH(ops::pow(a, b), Contains("pow") && Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(ops::where(zeros<bool>({5}), a, a), Contains("where") && Contains("[5]"));
  REQUIRE_THROWS_WITH(ops::lt(a, b), Contains("lt") && Contains("[4]"));
  // in place: the result must keep a's shape
  REQUIRE_THROWS_WITH(ops::add_(zeros<float>({3}), zeros<float>({2, 3})), Contains("add_") && Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(ops::sub_out(zeros<float>({2, 2}), a, a), Contains("sub_out") && Contains("[2, 2]"));
}

TEMPLATE_TEST_CASE("large elementwise ops do not depend on the thread count", "[core][ops][parallel]", float,
                   double) {
  using T = TestType;
  const int saved = num_threads();
  // 150000 outputs, well above the parallel grain, through a transposed operand and a broadcast one,
  // so that thread chunks start in the middle of runs.
  const auto a = arange<T>(150000).reshape({500, 300}).t();  // [300, 500], a[i, j] = j * 300 + i
  const auto b = arange<T>(500).reshape({1, 500});
  std::vector<Tensor<T>> results;
  for (int threads : {1, 2, 3, 8}) {
    set_num_threads(threads);
    results.push_back(ops::sub(ops::mul(a, T(2)), b));
  }
  set_num_threads(saved);
  const auto r = results[0];
  CHECK(r.at({7, 11}) == T(2 * (11 * 300 + 7) - 11));
  CHECK(r.at({299, 499}) == T(2 * (499 * 300 + 299) - 499));
  for (const auto& other : results) test::require_equal(other, r);
}

TEST_CASE("outputs above the streaming-store threshold are written exactly", "[core][ops][streaming]") {
  // 17 Mi floats (68 MiB) is above ops::detail::kStreamingStoreBytes, so fresh and out= results go
  // through non-temporal stores. One operand starts off a cache line (narrow by 3) and the other is
  // broadcast, so every thread's chunk has an unaligned head and tail. Values stay below 2^24 so
  // float holds them exactly.
  constexpr int64_t rows = 17 * 1024, cols = 1024;
  static_assert(rows * cols * sizeof(float) >= ops::detail::kStreamingStoreBytes);
  const auto base = ops::map<float>(arange<int64_t>(rows * cols + 3), [](int64_t v) { return float(v % 4099); });
  const auto a = base.narrow(0, 3, rows * cols).reshape({rows, cols});
  const auto b = arange<float>(cols).reshape({1, cols});
  auto count_wrong = [&](const Tensor<float>& r) {
    int64_t wrong = 0;
    const float* p = r.data();
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        wrong += p[i * cols + j] != float((i * cols + j + 3) % 4099 + j);
    return wrong;
  };
  CHECK(count_wrong(ops::add(a, b)) == 0);
  auto out = empty<float>({rows, cols});
  ops::add_out(out, a, b);
  CHECK(count_wrong(out) == 0);
}
