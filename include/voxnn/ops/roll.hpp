#pragma once
// Circular shifts of a tensor along chosen dims: roll (torch.roll with as many shifts as dims),
// fftshift and ifftshift (fastMRI's, on real tensors: dims index the tensor as given, so for a complex
// tensor stored with a trailing dim of 2 the spatial dims are -3, -2, ...).
//
//   roll(x, {s0, s1}, {d0, d1}):  out[..., i_d0, ..., i_d1, ...] = x[..., (i_d0 - s0) mod n_d0, ...]
//   fftshift(x, dims)  = roll(x, n // 2 per dim, dims)        (zero frequency to the centre)
//   ifftshift(x, dims) = roll(x, (n + 1) // 2 per dim, dims)  (its inverse)
//
// A dim may repeat (its shifts add up); shifts may be negative or exceed the size. The result is a new
// contiguous tensor (a zero shift everywhere still copies, so the result never aliases x).
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::ops {

namespace roll_detail {

inline std::vector<int> wrap_dims(const std::vector<int64_t>& dims, int rank, const char* op) {
  std::vector<int> out;
  out.reserve(dims.size());
  for (int64_t d : dims) out.push_back(wrap_dim(d, rank, op));
  return out;
}

}  // namespace roll_detail

// out = x rolled by shifts[k] along dims[k]; shifts.size() == dims.size().
template <class T, class D>
Tensor<T, D> roll(const Tensor<T, D>& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims,
                  const char* op = "roll") {
  static_assert(std::is_same_v<D, Cpu>, "roll is implemented on the CPU only");
  VOXNN_CHECK(shifts.size() == dims.size(), op, ": ", shifts.size(), " shifts for ", dims.size(),
              " dims on a tensor of shape ", x.shape(), "; expected one shift per dim");
  const Shape& shape = x.shape();
  const int rank = shape.size();
  const std::vector<int> wd = roll_detail::wrap_dims(dims, rank, op);
  Tensor<T, D> out(shape);
  if (x.numel() == 0) return out;
  if (rank == 0) {
    *out.data() = *x.data();
    return out;
  }
  // Net shift per dim in [0, n).
  std::array<int64_t, kMaxRank> shift{};
  for (std::size_t k = 0; k < wd.size(); ++k) {
    const int64_t n = shape[wd[k]];
    shift[static_cast<std::size_t>(wd[k])] = ((shift[static_cast<std::size_t>(wd[k])] + shifts[k]) % n + n) % n;
  }
  const int64_t inner = shape[rank - 1];
  const int64_t rows = x.numel() / inner;
  const int64_t s_last = shift[static_cast<std::size_t>(rank - 1)];
  const int64_t xs_last = x.strides()[rank - 1];
  const T* src = x.data();
  T* dst = out.data();
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      // Source offset of output row r: each index i of a shifted dim reads (i - shift) mod n.
      int64_t rest = r, off = 0;
      for (int d = rank - 2; d >= 0; --d) {
        const int64_t n = shape[d];
        const int64_t i = rest % n;
        rest /= n;
        int64_t j = i - shift[static_cast<std::size_t>(d)];
        if (j < 0) j += n;
        off += j * x.strides()[d];
      }
      const T* s = src + off;
      T* o = dst + r * inner;
      // out[i] = s[(i - s_last) mod inner]: the tail of the source row first, then its head.
      if (xs_last == 1) {
        std::copy(s + (inner - s_last), s + inner, o);
        std::copy(s, s + (inner - s_last), o + s_last);
      } else {
        for (int64_t i = 0; i < s_last; ++i) o[i] = s[(inner - s_last + i) * xs_last];
        for (int64_t i = s_last; i < inner; ++i) o[i] = s[(i - s_last) * xs_last];
      }
    }
  });
  return out;
}

// The rolls of fftshift (n // 2 per dim) or, with inverse, ifftshift ((n + 1) // 2) on a tensor of
// `shape`: fills an empty dims with every dim (fastMRI's dim=None) and returns one shift per dim.
inline std::vector<int64_t> fftshift_shifts(const Shape& shape, std::vector<int64_t>& dims, bool inverse,
                                            const char* op) {
  const int rank = shape.size();
  if (dims.empty())
    for (int d = 0; d < rank; ++d) dims.push_back(d);
  std::vector<int64_t> shifts;
  shifts.reserve(dims.size());
  for (int64_t d : dims) shifts.push_back((shape[wrap_dim(d, rank, op)] + (inverse ? 1 : 0)) / 2);
  return shifts;
}

// fftshift / ifftshift over dims (all dims when dims is empty, as fastMRI's dim=None).
template <class T, class D>
Tensor<T, D> fftshift(const Tensor<T, D>& x, std::vector<int64_t> dims = {}, const char* op = "fftshift") {
  const std::vector<int64_t> shifts = fftshift_shifts(x.shape(), dims, false, op);
  return roll(x, shifts, dims, op);
}
template <class T, class D>
Tensor<T, D> ifftshift(const Tensor<T, D>& x, std::vector<int64_t> dims = {}, const char* op = "ifftshift") {
  const std::vector<int64_t> shifts = fftshift_shifts(x.shape(), dims, true, op);
  return roll(x, shifts, dims, op);
}

}  // namespace voxnn::ops
