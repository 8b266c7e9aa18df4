#pragma once
// Shape: a small fixed-capacity list of extents (rank <= 8). Strides use the same type.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <vector>

#include "voxnn/core/error.hpp"

namespace voxnn {

inline constexpr int kMaxRank = 8;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(std::span<const int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }

  int size() const { return rank_; }
  bool empty() const { return rank_ == 0; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  int64_t back() const { return dims_[rank_ - 1]; }
  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + rank_; }
  int64_t* begin() { return dims_.data(); }
  int64_t* end() { return dims_.data() + rank_; }

  void push_back(int64_t d) {
    VOXNN_CHECK(rank_ < kMaxRank, "Shape: rank above the maximum of ", kMaxRank);
    dims_[rank_++] = d;
  }
  void insert(int pos, int64_t d) {
    push_back(0);
    for (int i = rank_ - 1; i > pos; --i) dims_[i] = dims_[i - 1];
    dims_[pos] = d;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < rank_; ++i) dims_[i] = dims_[i + 1];
    --rank_;
  }

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }
  std::vector<int64_t> vec() const { return {begin(), end()}; }

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }

  friend std::ostream& operator<<(std::ostream& os, const Shape& s) {
    os << '[';
    for (int i = 0; i < s.rank_; ++i) os << (i ? ", " : "") << s.dims_[i];
    return os << ']';
  }

 private:
  template <class It>
  void assign(It first, It last) {
    for (; first != last; ++first) push_back(*first);
  }
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

inline Shape contiguous_strides(const Shape& shape) {
  Shape strides = shape;
  int64_t s = 1;
  for (int i = shape.size() - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i] > 1 ? shape[i] : 1;
  }
  return strides;
}

// Wraps a possibly negative dim into [0, rank) as PyTorch does, naming the op on failure.
inline int wrap_dim(int64_t dim, int rank, const char* op) {
  const int r = rank == 0 ? 1 : rank;
  VOXNN_CHECK(dim >= -r && dim < r, op, ": dim ", dim, " out of range for a tensor of rank ", rank);
  return static_cast<int>(dim < 0 ? dim + r : dim);
}

// NumPy broadcasting of two shapes.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int rank = a.size() > b.size() ? a.size() : b.size();
  Shape out;
  for (int i = 0; i < rank; ++i) {
    const int ia = i - (rank - a.size()), ib = i - (rank - b.size());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    VOXNN_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
                " cannot be broadcast together (dim ", i, ")");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

}  // namespace voxnn
