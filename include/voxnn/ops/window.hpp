#pragma once
// Sliding-window geometry shared by convolution and pooling: per-dimension sizes given as one
// number or one per spatial dimension (PyTorch's int-or-tuple arguments), and the output-size rule.
#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <variant>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/shape.hpp"

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

// Convolution padding: explicit sizes, or "same" / "valid" as in torch.nn.Conv*d.
template <int N>
class ConvPadding {
 public:
  // integral, not int64_t: a literal 0 must not be read as a null `const char*`
  template <std::integral I>
  ConvPadding(I v) : value_(ExpandingArray<N>(v)) {}                                        // NOLINT
  ConvPadding(std::initializer_list<int64_t> list) : value_(ExpandingArray<N>(list)) {}     // NOLINT
  ConvPadding(const ExpandingArray<N>& a) : value_(a) {}                                    // NOLINT
  ConvPadding(const char* mode) : ConvPadding(std::string(mode)) {}                         // NOLINT
  ConvPadding(const std::string& mode) : value_(mode) {                                     // NOLINT
    VOXNN_CHECK(mode == "same" || mode == "valid", "padding must be a size, 'same' or 'valid', got '", mode, "'");
  }
  bool is_same() const { return std::holds_alternative<std::string>(value_) && std::get<std::string>(value_) == "same"; }
  bool is_valid() const { return std::holds_alternative<std::string>(value_) && std::get<std::string>(value_) == "valid"; }
  bool is_explicit() const { return std::holds_alternative<ExpandingArray<N>>(value_); }
  const ExpandingArray<N>& sizes() const { return std::get<ExpandingArray<N>>(value_); }

 private:
  std::variant<ExpandingArray<N>, std::string> value_;
};

namespace ops {

// Output length of a window sliding over `in` elements (PyTorch's formula; ceil_mode as pooling has
// it: a last window may start in the right padding, but never beyond the input).
inline int64_t window_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad_left, int64_t pad_right,
                                  int64_t dilation, bool ceil_mode = false) {
  // floor((span + (ceil_mode ? stride - 1 : 0)) / stride) + 1, rounding down also for a negative span:
  // in ceil_mode a window longer than the padded input still gives one output (PyTorch's div_rtn).
  const int64_t span = in + pad_left + pad_right - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  if (span < 0) return 0;
  int64_t out = span / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_left) --out;
  return out;
}

// Checks `x` is (C, spatial...) or (N, C, spatial...) with N spatial dims and returns whether it has
// the batch dimension; `op` and `layout` name the error ("conv3d", "(N, C, D, H, W)").
inline bool check_spatial_input(const Shape& x, int spatial, const char* op, bool allow_unbatched = true) {
  const bool batched = x.size() == spatial + 2;
  VOXNN_CHECK(batched || (allow_unbatched && x.size() == spatial + 1), op, ": input has ", x.size(), " dims ", x,
              "; expected ", spatial + 2, " (N, C, ", spatial, " spatial)",
              allow_unbatched ? " or " + std::to_string(spatial + 1) + " without the batch" : std::string());
  return batched;
}

}  // namespace ops
}  // namespace voxnn
