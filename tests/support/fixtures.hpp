#pragma once
// Test helpers shared by every layer: loading the PyTorch reference fixtures written by
// tests/fixtures/generate.py (conventions in tests/fixtures/README.md) and comparing tensors with a
// tolerance, reporting the worst element, its index and both shapes on failure.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "voxnn/core/tensor.hpp"
#include "voxnn/io/json_lite.hpp"
#include "voxnn/io/safetensors.hpp"

#ifndef VOXNN_TEST_FIXTURES
#error "VOXNN_TEST_FIXTURES must name the fixtures directory (tests/CMakeLists.txt defines it)"
#endif

namespace voxnn::test {

inline std::string fixture_path(std::string_view file) { return std::string(VOXNN_TEST_FIXTURES) + "/" + std::string(file); }

// A fixture file, loaded once per test process.
inline const io::TensorFile& fixture_file(std::string_view file) {
  static std::map<std::string, io::TensorFile, std::less<>> cache;
  auto it = cache.find(file);
  if (it == cache.end()) it = cache.emplace(std::string(file), io::load_safetensors(fixture_path(file))).first;
  return it->second;
}

// ---- comparing tensors ------------------------------------------------------------------------------

struct Closeness {
  bool ok = true;
  std::string report;
};

// Elementwise |actual - expected| <= tol; NaN matches NaN and equal infinities match.
template <class A, class E>
Closeness compare(const Tensor<A>& actual, const Tensor<E>& expected, double tol) {
  std::ostringstream os;
  if (!actual.defined() || !expected.defined()) return {false, "an operand is undefined"};
  if (!(actual.shape() == expected.shape())) {
    os << "shape mismatch: actual " << actual.shape() << ", expected " << expected.shape();
    return {false, os.str()};
  }
  const auto a = actual.to_vector();
  const auto e = expected.to_vector();
  double worst = 0;
  std::size_t worst_at = 0;
  bool ok = true;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = static_cast<double>(a[i]), y = static_cast<double>(e[i]);
    if (x == y || (std::isnan(x) && std::isnan(y))) continue;
    const double err = std::isfinite(x) && std::isfinite(y) ? std::abs(x - y) : INFINITY;
    if (!(err <= tol)) ok = false;
    if (!(err <= worst)) {
      worst = err;
      worst_at = i;
    }
  }
  os << "shape " << actual.shape() << ", max |actual - expected| = " << worst << " (tol " << tol << ")";
  if (!a.empty())
    os << " at flat index " << worst_at << ": actual " << +a[worst_at] << ", expected " << +e[worst_at];
  return {ok, os.str()};
}

template <class A, class E>
void require_close(const Tensor<A>& actual, const Tensor<E>& expected, double tol, std::string_view what = {}) {
  const Closeness c = compare(actual, expected, tol);
  INFO(what << (what.empty() ? "" : ": ") << c.report);
  REQUIRE(c.ok);
}
template <class A, class E>
void check_close(const Tensor<A>& actual, const Tensor<E>& expected, double tol, std::string_view what = {}) {
  const Closeness c = compare(actual, expected, tol);
  INFO(what << (what.empty() ? "" : ": ") << c.report);
  CHECK(c.ok);
}
template <class A, class E>
void require_equal(const Tensor<A>& actual, const Tensor<E>& expected, std::string_view what = {}) {
  require_close(actual, expected, 0.0, what);
}

// The tolerance a double result is held to: 1e-10 relative to the largest expected magnitude.
template <class E>
double double_tolerance(const Tensor<E>& expected) {
  double scale = 1.0;
  for (const auto v : expected.to_vector())
    if (std::isfinite(static_cast<double>(v))) scale = std::max(scale, std::abs(static_cast<double>(v)));
  return 1e-10 * scale;
}

// ---- views recorded by the generator ----------------------------------------------------------------

inline std::vector<int64_t> json_ints(const io::json::Value& v) {
  std::vector<int64_t> out;
  for (const auto& x : v.array()) out.push_back(x.integer());
  return out;
}

// Replays the view steps of tests/fixtures/fixturelib.py:apply_views.
template <class T>
Tensor<T> apply_views(Tensor<T> t, const io::json::Value& steps) {
  for (const auto& step : steps.array()) {
    const auto& s = step.array();
    const std::string& kind = s.at(0).string();
    if (kind == "transpose") t = t.transpose(s.at(1).integer(), s.at(2).integer());
    else if (kind == "permute") t = t.permute(json_ints(s.at(1)));
    else if (kind == "slice") t = t.slice(s.at(1).integer(), s.at(2).integer(), s.at(3).integer(), s.at(4).integer());
    else if (kind == "select") t = t.select(s.at(1).integer(), s.at(2).integer());
    else if (kind == "expand") t = t.expand(Shape(json_ints(s.at(1))));
    else if (kind == "unsqueeze") t = t.unsqueeze(s.at(1).integer());
    else FAIL("unknown view step " << kind);
  }
  return t;
}

// ---- one case of a fixture file ---------------------------------------------------------------------

class FixtureCase {
 public:
  FixtureCase(const io::TensorFile& file, std::string name, const std::string& params)
      : file_(&file), name_(std::move(name)), params_(io::json::parse(params)) {}

  const std::string& name() const { return name_; }
  std::string op() const { return param("op").string(); }

  bool has(std::string_view key) const { return params_.find(key) != nullptr; }
  const io::json::Value& param(std::string_view key) const {
    const io::json::Value* v = params_.find(key);
    if (!v) FAIL("fixture case " << name_ << " has no parameter " << key);
    return *v;
  }
  int64_t integer(std::string_view key) const { return param(key).integer(); }
  bool flag(std::string_view key) const { return param(key).integer() != 0; }
  std::vector<int64_t> ints(std::string_view key) const { return json_ints(param(key)); }
  std::string string(std::string_view key) const { return param(key).string(); }
  // Floats travel as strings (repr in Python; "inf" included), integers as integers.
  double real(std::string_view key) const {
    const io::json::Value& v = param(key);
    return v.is_integer() ? static_cast<double>(v.integer()) : std::strtod(v.string().c_str(), nullptr);
  }

  int num_inputs() const { return static_cast<int>(param("inputs").array().size()); }
  // Input i converted to T, with its recorded views applied.
  template <class T>
  Tensor<T> input(int i) const {
    const std::string& key = param("inputs").array().at(static_cast<std::size_t>(i)).string();
    return apply_views(file_->get<T>(key), param("views").array().at(static_cast<std::size_t>(i)));
  }
  // Number of outputs; a single output is stored as <case>.out.
  int num_outputs() const { return std::max<int>(1, static_cast<int>(integer("nout"))); }
  template <class E>
  Tensor<E> expected(int k = 0) const {
    return file_->get<E>(integer("nout") == 0 ? name_ + ".out" : name_ + ".out" + std::to_string(k));
  }
  // The stored float32 tolerance of this case.
  double float_tolerance() const { return file_->get<double>(name_ + ".tol").item(); }

  // Compares a result computed in precision T (float or double) with output k: real outputs within
  // the float32 rule or 1e-10 relative, integer and boolean outputs exactly.
  template <class T, class R>
  void check(const Tensor<R>& actual, int k = 0) const {
    if constexpr (std::is_floating_point_v<R>) {
      const Tensor<double> want = expected<double>(k);
      const double tol = std::is_same_v<T, float> ? float_tolerance() : double_tolerance(want);
      check_close(actual, want, tol, name_ + " (" + (std::is_same_v<T, float> ? "float" : "double") + ")");
    } else {
      check_close(actual, expected<R>(k), 0.0, name_);
    }
  }

 private:
  const io::TensorFile* file_;
  std::string name_;
  io::json::Value params_;
};

// The cases of `file` whose op is `op`, in name order; fails when there are none, so that a renamed
// op cannot silently skip its tests.
inline std::vector<FixtureCase> fixture_cases(std::string_view file, std::string_view op) {
  const io::TensorFile& f = fixture_file(file);
  std::vector<FixtureCase> out;
  for (const auto& [key, value] : f.metadata) {
    if (key.empty() || key[0] == '_') continue;
    FixtureCase c(f, key, value);
    if (c.op() == op) out.push_back(std::move(c));
  }
  if (out.empty()) FAIL("no fixture cases for op " << op << " in " << file);
  return out;
}

}  // namespace voxnn::test
