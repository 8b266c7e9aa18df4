#pragma once
// Per-dimension sizes as PyTorch's int-or-tuple arguments take them: ExpandingArray<N> holds N sizes
// given as one number or N (`.kernel_size = 3`, `.kernel_size = {1, 3, 3}`), OptionalExpandingArray<N>
// may also be absent (PyTorch's None). Used by the option structs of the spatial ops and modules.
#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include "voxnn/core/error.hpp"

namespace voxnn {

// N sizes, one per spatial dimension; a single number fills all N (as LibTorch's ExpandingArray).
template <int N>
class ExpandingArray {
 public:
  template <std::integral I>
  ExpandingArray(I v) {  // NOLINT: implicit, so `.kernel_size = 3` works
    values_.fill(static_cast<int64_t>(v));
  }
  ExpandingArray(std::initializer_list<int64_t> list) : ExpandingArray(std::vector<int64_t>(list)) {}
  ExpandingArray(const std::array<int64_t, N>& a) : values_(a) {}  // NOLINT
  ExpandingArray(const std::vector<int64_t>& v) {                  // NOLINT
    VOXNN_CHECK(v.size() == 1 || v.size() == static_cast<std::size_t>(N), "expected 1 or ", N,
                " values, got ", v.size());
    for (int i = 0; i < N; ++i) values_[i] = v[v.size() == 1 ? 0 : static_cast<std::size_t>(i)];
  }
  int64_t operator[](int i) const { return values_[static_cast<std::size_t>(i)]; }
  int64_t& operator[](int i) { return values_[static_cast<std::size_t>(i)]; }
  const std::array<int64_t, N>& array() const { return values_; }
  std::vector<int64_t> vector() const { return {values_.begin(), values_.end()}; }
  bool all(int64_t v) const {
    return std::all_of(values_.begin(), values_.end(), [v](int64_t x) { return x == v; });
  }
  bool operator==(const ExpandingArray&) const = default;

 private:
  std::array<int64_t, N> values_{};
};

// Per-dimension sizes that may be absent (PyTorch's None), e.g. a pooling stride that defaults to the
// kernel size: `.stride = 2`, `.stride = {1, 2, 2}` and leaving it out all work.
template <int N>
class OptionalExpandingArray {
 public:
  OptionalExpandingArray() = default;
  OptionalExpandingArray(std::nullopt_t) {}                                                      // NOLINT
  template <std::integral I>
  OptionalExpandingArray(I v) : value_(ExpandingArray<N>(static_cast<int64_t>(v))) {}            // NOLINT
  OptionalExpandingArray(std::initializer_list<int64_t> list) : value_(ExpandingArray<N>(list)) {}  // NOLINT
  OptionalExpandingArray(const ExpandingArray<N>& a) : value_(a) {}                              // NOLINT
  OptionalExpandingArray(const std::array<int64_t, N>& a) : value_(ExpandingArray<N>(a)) {}      // NOLINT
  OptionalExpandingArray(const std::vector<int64_t>& v) : value_(ExpandingArray<N>(v)) {}        // NOLINT
  bool has_value() const { return value_.has_value(); }
  const ExpandingArray<N>& value() const { return value_.value(); }
  ExpandingArray<N> value_or(const ExpandingArray<N>& fallback) const { return value_ ? *value_ : fallback; }
  bool operator==(const OptionalExpandingArray&) const = default;

 private:
  std::optional<ExpandingArray<N>> value_;
};

}  // namespace voxnn
