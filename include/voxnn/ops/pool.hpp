#pragma once
// Pooling kernels on Tensors (no autograd), one template over the number of spatial dims N (1, 2, 3):
// max pooling with PyTorch's indices, average pooling, adaptive average and max pooling, their
// backward passes, and the per-plane scatter / gather by index that max-pool backward and max_unpool
// are made of.
//
// Layout: input (N, C, spatial...) or, unbatched, (C, spatial...); every (n, c) plane is pooled on its
// own. An index is the flat position inside one input plane (d * H * W + h * W + w), as PyTorch's.
//
// The kernels walk one output row (all output dims but the last fixed) at a time: for each input row
// under the window (in the order PyTorch visits them), for each kernel column, one loop over the
// output row reads the input with the pooling stride. The inner loops are contiguous in the output,
// free of index division, and cover only the output columns whose window column lies inside the
// input, so padding costs nothing. Forward passes run in parallel over (plane, output row); backward
// passes, whose windows may overlap, in parallel over planes.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/ops/window.hpp"

namespace voxnn::ops {

// The sliding window of max / avg pooling, one entry per spatial dim.
template <int N>
struct PoolWindow {
  std::array<int64_t, N> kernel{};
  std::array<int64_t, N> stride{};
  std::array<int64_t, N> padding{};
  std::array<int64_t, N> dilation{};
  bool ceil_mode = false;
};

// Values and, when asked for, the int64 index of each value inside its input plane.
template <Real T>
struct PoolResult {
  Tensor<T> values;
  Tensor<int64_t> indices;
};

namespace pool_detail {

template <std::size_t N>
Shape as_shape(const std::array<int64_t, N>& a) {
  return Shape(std::span<const int64_t>(a.data(), N));
}

// The geometry of one pooling call.
template <int N>
struct PoolPlan {
  bool batched = true;
  int64_t planes = 0;                  // N * C
  std::array<int64_t, N> in{}, out{};  // spatial sizes
  int64_t in_plane = 1, out_plane = 1;
  Shape out_shape;
};

// Checks x as (N, C, spatial...) or (C, spatial...) with non-empty non-batch dims, and fills every
// field of the plan but `out` (and out_plane / out_shape, which finish_plan derives from it).
template <int N>
PoolPlan<N> start_plan(const Shape& x, const char* op) {
  PoolPlan<N> p;
  p.batched = check_spatial_input(x, N, op);
  for (int d = p.batched ? 1 : 0; d < x.size(); ++d)
    VOXNN_CHECK(x[d] > 0, op, ": input ", x, " has an empty non-batch dimension (dim ", d, ")");
  p.planes = 1;
  for (int d = 0; d < x.size() - N; ++d) p.planes *= x[d];
  for (int i = 0; i < N; ++i) {
    p.in[i] = x[x.size() - N + i];
    p.in_plane *= p.in[i];
  }
  return p;
}
template <int N>
void finish_plan(PoolPlan<N>& p, const Shape& x) {
  p.out_shape = x;
  p.out_plane = 1;
  for (int i = 0; i < N; ++i) {
    p.out_shape[x.size() - N + i] = p.out[i];
    p.out_plane *= p.out[i];
  }
}

template <int N>
PoolPlan<N> plan_pool(const Shape& x, const PoolWindow<N>& w, const char* op) {
  PoolPlan<N> p = start_plan<N>(x, op);
  for (int i = 0; i < N; ++i) {
    VOXNN_CHECK(w.kernel[i] > 0 && w.stride[i] > 0 && w.dilation[i] > 0 && w.padding[i] >= 0, op,
                ": kernel_size ", as_shape(w.kernel), ", stride ", as_shape(w.stride), " and dilation ",
                as_shape(w.dilation), " must be positive and padding ", as_shape(w.padding), " non-negative");
    VOXNN_CHECK(w.padding[i] <= w.kernel[i] / 2, op, ": padding ", as_shape(w.padding),
                " should be at most half of kernel_size ", as_shape(w.kernel));
  }
  bool ok = true;
  for (int i = 0; i < N; ++i) {
    p.out[i] = window_output_size(p.in[i], w.kernel[i], w.stride[i], w.padding[i], w.padding[i], w.dilation[i],
                                  w.ceil_mode);
    ok = ok && p.out[i] > 0;
  }
  VOXNN_CHECK(ok, op, ": input ", x, " is too small for kernel_size ", as_shape(w.kernel), ", stride ",
              as_shape(w.stride), ", padding ", as_shape(w.padding), " and dilation ", as_shape(w.dilation),
              ": the output size would be ", as_shape(p.out));
  finish_plan(p, x);
  return p;
}

// Per call: for each kernel column kw of the last dim, the output columns [lo, hi) whose input column
// ow * stride + off (off = kw * dilation - padding) lies inside the input.
struct ColumnRanges {
  std::vector<int64_t> lo, hi, off;
  std::vector<int64_t> first;  // per output column: its first input column inside the input
};
inline int64_t ceil_div_nonneg(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

inline ColumnRanges column_ranges(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad,
                                  int64_t dil) {
  ColumnRanges c;
  for (int64_t k = 0; k < kernel; ++k) {
    const int64_t off = k * dil - pad;
    const int64_t lo = ceil_div_nonneg(-off, stride);
    const int64_t hi = in - 1 - off < 0 ? 0 : std::min(out, (in - 1 - off) / stride + 1);
    c.lo.push_back(lo);
    c.hi.push_back(std::max(lo, hi));
    c.off.push_back(off);
  }
  c.first.resize(static_cast<std::size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t start = o * stride - pad;
    c.first[static_cast<std::size_t>(o)] = start + ceil_div_nonneg(-start, dil) * dil;
  }
  return c;
}

// The valid kernel offsets [lo, hi) of one output index along one dim, and the number of positions a
// count_include_pad average divides by (the window clipped to the padded input).
struct DimRange {
  int64_t lo, hi, padded_count;
};
inline DimRange dim_range(int64_t o, int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dil) {
  const int64_t start = o * stride - pad;
  const int64_t lo = ceil_div_nonneg(-start, dil);
  const int64_t hi = std::min(kernel, (in - 1 - start) / dil + 1);  // start < in always
  const int64_t padded = std::min(start + kernel, in + pad) - start;
  return {lo, std::max(lo, hi), padded};
}

// The leading (all but last) dims of one output row: the input row offsets (inside the plane) under
// the window, visited in lexicographic order by `fn(row_offset, code)`, where code is the row's
// position in the kernel (times the last kernel size: add the kernel column to get the position of
// an element in the window, in PyTorch's visiting order).
template <int N>
struct RowWindow {
  std::array<int64_t, N> lo{}, hi{}, start{}, dil{}, row_stride{}, code_stride{};
  int64_t padded_count = 1, count = 1;

  template <class Fn>
  void for_each_row(Fn&& fn) const {
    if constexpr (N == 1) {
      fn(int64_t{0}, int64_t{0});
    } else {
      for (int i = 0; i + 1 < N; ++i)
        if (lo[i] >= hi[i]) return;
      std::array<int64_t, N> k = lo;
      while (true) {
        int64_t off = 0, code = 0;
        for (int i = 0; i + 1 < N; ++i) {
          off += (start[i] + k[i] * dil[i]) * row_stride[i];
          code += k[i] * code_stride[i];
        }
        fn(off, code);
        int i = N - 2;
        while (i >= 0 && ++k[i] == hi[i]) {
          k[i] = lo[i];
          --i;
        }
        if (i < 0) return;
      }
    }
  }
  // The offset of the window's origin row (padding included) and the code of its first valid row.
  int64_t origin() const {
    int64_t off = 0;
    for (int i = 0; i + 1 < N; ++i) off += start[i] * row_stride[i];
    return off;
  }
  int64_t first_code() const {
    int64_t code = 0;
    for (int i = 0; i + 1 < N; ++i) code += lo[i] * code_stride[i];
    return code;
  }
  int64_t first_row() const {
    int64_t off = 0;
    for (int i = 0; i + 1 < N; ++i) off += (start[i] + lo[i] * dil[i]) * row_stride[i];
    return off;
  }
};

template <int N>
RowWindow<N> row_window(const PoolPlan<N>& p, const PoolWindow<N>& w, int64_t row) {
  RowWindow<N> r;
  int64_t stride = p.in[N - 1], code_stride = w.kernel[N - 1];
  for (int i = N - 2; i >= 0; --i) {
    const int64_t o = row % p.out[i];
    row /= p.out[i];
    const DimRange d = dim_range(o, p.in[i], w.kernel[i], w.stride[i], w.padding[i], w.dilation[i]);
    r.lo[i] = d.lo;
    r.hi[i] = d.hi;
    r.start[i] = o * w.stride[i] - w.padding[i];
    r.dil[i] = w.dilation[i];
    r.row_stride[i] = stride;
    r.code_stride[i] = code_stride;
    r.padded_count *= d.padded_count;
    r.count *= d.hi - d.lo;
    stride *= p.in[i];
    code_stride *= w.kernel[i];
  }
  return r;
}

template <int N>
int64_t rows_per_plane(const PoolPlan<N>& p) {
  int64_t r = 1;
  for (int i = 0; i + 1 < N; ++i) r *= p.out[i];
  return r;
}

// Units of `work` elements each: how many make one parallel grain.
inline int64_t grain_for(int64_t work) { return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, work)); }

// One output row of max pooling over input row `r` at kernel column offset `off`: a compile-time
// stride where it is 1 or 2 (the common cases), so that the strided loads vectorise. With indices, it
// records the position `code` of the element in the window (one 32-bit code per output, as wide as a
// float lane), turned into plane indices once the row is done.
template <int S, bool WithIndices, class T>
inline void max_row(const T* __restrict r, T* __restrict best, int32_t* __restrict codes, int64_t lo, int64_t hi,
                    int64_t stride, int64_t off, int32_t code) {
  const int64_t s = S > 0 ? S : stride;
  for (int64_t o = lo; o < hi; ++o) {
    const T v = r[o * s + off];
    const bool take = v > best[o] || v != v;  // NaN wins, as in PyTorch
    best[o] = take ? v : best[o];
    if constexpr (WithIndices) codes[o] = take ? code : codes[o];
  }
}
template <int S, class T>
inline void add_row(const T* __restrict r, T* __restrict acc, int64_t lo, int64_t hi, int64_t stride, int64_t off) {
  const int64_t s = S > 0 ? S : stride;
  for (int64_t o = lo; o < hi; ++o) acc[o] += r[o * s + off];
}
template <int S, class T>
inline void spread_row(T* __restrict r, const T* __restrict g, int64_t lo, int64_t hi, int64_t stride, int64_t off) {
  const int64_t s = S > 0 ? S : stride;
  for (int64_t o = lo; o < hi; ++o) r[o * s + off] += g[o];
}
template <class Fn>
inline void with_stride(int64_t stride, Fn&& fn) {
  if (stride == 1) fn(std::integral_constant<int, 1>{});
  else if (stride == 2) fn(std::integral_constant<int, 2>{});
  else fn(std::integral_constant<int, 0>{});
}

template <int N, bool WithIndices, Real T>
void max_pool_impl(const T* in, T* out, int64_t* indices, const PoolPlan<N>& p, const PoolWindow<N>& w) {
  const ColumnRanges cols =
      column_ranges(p.in[N - 1], p.out[N - 1], w.kernel[N - 1], w.stride[N - 1], w.padding[N - 1], w.dilation[N - 1]);
  const int64_t rows = rows_per_plane(p), ow = p.out[N - 1], kw = w.kernel[N - 1], s = w.stride[N - 1];
  // The plane offset of each window position relative to the window's origin (padding included).
  int64_t kvol = 1;
  for (int i = 0; i < N; ++i) kvol *= w.kernel[i];
  VOXNN_CHECK(kvol < (int64_t{1} << 31), "max_pool: kernel of ", kvol, " elements is too large");
  std::vector<int64_t> code_offset(static_cast<std::size_t>(kvol));
  for (int64_t c = 0; c < kvol; ++c) {
    int64_t rest = c, off = 0, stride = 1;
    for (int i = N - 1; i >= 0; --i) {
      off += (rest % w.kernel[i]) * w.dilation[i] * stride;
      rest /= w.kernel[i];
      stride *= p.in[i];
    }
    code_offset[static_cast<std::size_t>(c)] = off;
  }
  std::vector<int32_t> first_column(static_cast<std::size_t>(ow));  // the first kernel column inside the input
  for (int64_t o = 0; o < ow; ++o)
    first_column[static_cast<std::size_t>(o)] =
        static_cast<int32_t>((cols.first[static_cast<std::size_t>(o)] - (o * s - w.padding[N - 1])) / w.dilation[N - 1]);
  parallel_for(0, p.planes * rows, grain_for(ow * kvol), [&](int64_t begin, int64_t end) {
    std::vector<int32_t> codes(WithIndices ? static_cast<std::size_t>(ow) : 0);
    with_stride(s, [&](auto S) {
      for (int64_t u = begin; u < end; ++u) {
        const T* ip = in + (u / rows) * p.in_plane;
        T* best = out + u * ow;
        const RowWindow<N> rw = row_window(p, w, u % rows);
        std::fill(best, best + ow, -std::numeric_limits<T>::infinity());
        if constexpr (WithIndices) {  // an all -inf window reports its first position, as PyTorch
          const auto first = static_cast<int32_t>(rw.first_code());
          for (int64_t o = 0; o < ow; ++o) codes[static_cast<std::size_t>(o)] = first + first_column[static_cast<std::size_t>(o)];
        }
        rw.for_each_row([&](int64_t roff, int64_t code) {
          for (int64_t k = 0; k < kw; ++k) {
            const auto c = static_cast<std::size_t>(k);
            max_row<decltype(S)::value, WithIndices>(ip + roff, best, codes.data(), cols.lo[c], cols.hi[c], s,
                                                     cols.off[c], static_cast<int32_t>(code + k));
          }
        });
        if constexpr (WithIndices) {
          int64_t* idx = indices + u * ow;
          const int64_t origin = rw.origin() - w.padding[N - 1];
          for (int64_t o = 0; o < ow; ++o)
            idx[o] = origin + o * s + code_offset[static_cast<std::size_t>(codes[static_cast<std::size_t>(o)])];
        }
      }
    });
  });
}

}  // namespace pool_detail

// Max pooling of x (N, C, spatial...) or (C, spatial...): padding counts as -inf, NaN propagates, a
// tie reports the first maximum. With `with_indices`, also the int64 index of each maximum inside its
// input plane (as PyTorch's return_indices).
template <int N, Real T>
PoolResult<T> max_pool(const Tensor<T>& x, const PoolWindow<N>& w, bool with_indices, const char* op = "max_pool") {
  const pool_detail::PoolPlan<N> p = pool_detail::plan_pool<N>(x.shape(), w, op);
  const Tensor<T> in = x.contiguous();
  PoolResult<T> r{Tensor<T>(p.out_shape), {}};
  if (with_indices) {
    r.indices = Tensor<int64_t>(p.out_shape);
    if (p.planes > 0) pool_detail::max_pool_impl<N, true>(in.data(), r.values.data(), r.indices.data(), p, w);
  } else if (p.planes > 0) {
    pool_detail::max_pool_impl<N, false>(in.data(), r.values.data(), static_cast<int64_t*>(nullptr), p, w);
  }
  return r;
}

// Average pooling (dilation 1). The divisor is divisor_override when given, else the window's size clipped to the
// padded input (count_include_pad) or to the input.
template <int N, Real T>
Tensor<T> avg_pool(const Tensor<T>& x, const PoolWindow<N>& w, bool count_include_pad,
                   std::optional<int64_t> divisor_override, const char* op = "avg_pool") {
  VOXNN_CHECK(!divisor_override || *divisor_override != 0, op, ": divisor_override must be non-zero");
  for (int i = 0; i < N; ++i) VOXNN_CHECK(w.dilation[i] == 1, op, ": average pooling has no dilation");
  const pool_detail::PoolPlan<N> p = pool_detail::plan_pool<N>(x.shape(), w, op);
  const Tensor<T> in = x.contiguous();
  Tensor<T> out(p.out_shape);
  if (p.planes == 0) return out;
  const pool_detail::ColumnRanges cols = pool_detail::column_ranges(p.in[N - 1], p.out[N - 1], w.kernel[N - 1], w.stride[N - 1],
                                                          w.padding[N - 1], w.dilation[N - 1]);
  std::vector<int64_t> col_count(static_cast<std::size_t>(p.out[N - 1]));  // per output column
  for (int64_t o = 0; o < p.out[N - 1]; ++o) {
    const auto d = pool_detail::dim_range(o, p.in[N - 1], w.kernel[N - 1], w.stride[N - 1], w.padding[N - 1],
                                     w.dilation[N - 1]);
    col_count[static_cast<std::size_t>(o)] = count_include_pad ? d.padded_count : d.hi - d.lo;
  }
  const int64_t rows = pool_detail::rows_per_plane(p), ow = p.out[N - 1], s = w.stride[N - 1];
  int64_t kvol = 1;
  for (int i = 0; i < N; ++i) kvol *= w.kernel[i];
  const T* ip0 = in.data();
  T* op0 = out.data();
  parallel_for(0, p.planes * rows, pool_detail::grain_for(ow * kvol), [&](int64_t begin, int64_t end) {
    pool_detail::with_stride(s, [&](auto S) {
      for (int64_t u = begin; u < end; ++u) {
        const T* ip = ip0 + (u / rows) * p.in_plane;
        T* acc = op0 + u * ow;
        const pool_detail::RowWindow<N> rw = pool_detail::row_window(p, w, u % rows);
        std::fill(acc, acc + ow, T(0));
        rw.for_each_row([&](int64_t roff, int64_t) {
          for (std::size_t k = 0; k < cols.off.size(); ++k)
            pool_detail::add_row<decltype(S)::value>(ip + roff, acc, cols.lo[k], cols.hi[k], s, cols.off[k]);
        });
        const int64_t lead = count_include_pad ? rw.padded_count : rw.count;
        for (int64_t o = 0; o < ow; ++o) {
          const int64_t div = divisor_override ? *divisor_override : lead * col_count[static_cast<std::size_t>(o)];
          acc[o] /= static_cast<T>(div);
        }
      }
    });
  });
  return out;
}

// The adjoint of avg_pool: each output gradient spread evenly (by the same divisor) over its window.
template <int N, Real T>
Tensor<T> avg_pool_backward(const Tensor<T>& grad_out, const Shape& input_shape, const PoolWindow<N>& w,
                            bool count_include_pad, std::optional<int64_t> divisor_override,
                            const char* op = "avg_pool") {
  const pool_detail::PoolPlan<N> p = pool_detail::plan_pool<N>(input_shape, w, op);
  VOXNN_CHECK(grad_out.shape() == p.out_shape, op, " backward: gradient of shape ", grad_out.shape(),
              " for an output of shape ", p.out_shape);
  const Tensor<T> g = grad_out.contiguous();
  Tensor<T> gin(input_shape);
  if (p.planes == 0) return gin;
  const pool_detail::ColumnRanges cols = pool_detail::column_ranges(p.in[N - 1], p.out[N - 1], w.kernel[N - 1], w.stride[N - 1],
                                                          w.padding[N - 1], w.dilation[N - 1]);
  std::vector<int64_t> col_count(static_cast<std::size_t>(p.out[N - 1]));
  for (int64_t o = 0; o < p.out[N - 1]; ++o) {
    const auto d = pool_detail::dim_range(o, p.in[N - 1], w.kernel[N - 1], w.stride[N - 1], w.padding[N - 1],
                                     w.dilation[N - 1]);
    col_count[static_cast<std::size_t>(o)] = count_include_pad ? d.padded_count : d.hi - d.lo;
  }
  const int64_t rows = pool_detail::rows_per_plane(p), ow = p.out[N - 1], s = w.stride[N - 1];
  const T* g0 = g.data();
  T* gi0 = gin.data();
  parallel_for(0, p.planes, pool_detail::grain_for(p.in_plane + p.out_plane * 8), [&](int64_t begin, int64_t end) {
    std::vector<T> scaled(static_cast<std::size_t>(ow));
    pool_detail::with_stride(s, [&](auto S) {
      for (int64_t plane = begin; plane < end; ++plane) {
        T* gi = gi0 + plane * p.in_plane;
        std::fill(gi, gi + p.in_plane, T(0));
        for (int64_t row = 0; row < rows; ++row) {
          const T* go = g0 + (plane * rows + row) * ow;
          const pool_detail::RowWindow<N> rw = pool_detail::row_window(p, w, row);
          const int64_t lead = count_include_pad ? rw.padded_count : rw.count;
          for (int64_t o = 0; o < ow; ++o) {
            const int64_t div = divisor_override ? *divisor_override : lead * col_count[static_cast<std::size_t>(o)];
            scaled[static_cast<std::size_t>(o)] = go[o] / static_cast<T>(div);
          }
          rw.for_each_row([&](int64_t roff, int64_t) {
            for (std::size_t k = 0; k < cols.off.size(); ++k)
              pool_detail::spread_row<decltype(S)::value>(gi + roff, scaled.data(), cols.lo[k], cols.hi[k], s, cols.off[k]);
          });
        }
      }
    });
  });
  return gin;
}

// ---- adaptive pooling -----------------------------------------------------------------------------------
// Output index o of a dim of size `in` pooled to `out` covers [floor(o * in / out), ceil((o + 1) * in / out)).

namespace pool_detail {

template <int N>
PoolPlan<N> plan_adaptive(const Shape& x, const std::array<int64_t, N>& output_size, const char* op) {
  PoolPlan<N> p = start_plan<N>(x, op);
  for (int i = 0; i < N; ++i) p.out[i] = output_size[i] < 0 ? p.in[i] : output_size[i];  // negative: keep (None)
  finish_plan(p, x);
  return p;
}
inline int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return o * in / out; }
inline int64_t adaptive_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

// The leading dims of one adaptive output row as a RowWindow (kernel offsets are input positions).
template <int N>
RowWindow<N> adaptive_row_window(const PoolPlan<N>& p, int64_t row) {
  RowWindow<N> r;
  int64_t stride = p.in[N - 1];
  for (int i = N - 2; i >= 0; --i) {
    const int64_t o = row % p.out[i];
    row /= p.out[i];
    r.lo[i] = adaptive_start(o, p.in[i], p.out[i]);
    r.hi[i] = adaptive_end(o, p.in[i], p.out[i]);
    r.dil[i] = 1;
    r.row_stride[i] = stride;
    r.count *= r.hi[i] - r.lo[i];
    stride *= p.in[i];
  }
  r.padded_count = r.count;
  return r;
}

}  // namespace pool_detail

template <int N, Real T>
Tensor<T> adaptive_avg_pool(const Tensor<T>& x, const std::array<int64_t, N>& output_size,
                            const char* op = "adaptive_avg_pool") {
  const pool_detail::PoolPlan<N> p = pool_detail::plan_adaptive<N>(x.shape(), output_size, op);
  const Tensor<T> in = x.contiguous();
  Tensor<T> out(p.out_shape);
  if (p.planes == 0 || p.out_plane == 0) return out;
  const int64_t rows = pool_detail::rows_per_plane(p), ow = p.out[N - 1], iw = p.in[N - 1];
  const T* ip0 = in.data();
  T* op0 = out.data();
  const int64_t work = std::max<int64_t>(1, p.in_plane / std::max<int64_t>(1, rows)) + ow;
  parallel_for(0, p.planes * rows, pool_detail::grain_for(work), [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      const T* ip = ip0 + (u / rows) * p.in_plane;
      T* acc = op0 + u * ow;
      const pool_detail::RowWindow<N> rw = pool_detail::adaptive_row_window(p, u % rows);
      std::fill(acc, acc + ow, T(0));
      rw.for_each_row([&](int64_t roff, int64_t) {
        const T* r = ip + roff;
        for (int64_t o = 0; o < ow; ++o) {
          T sum = 0;
          for (int64_t c = pool_detail::adaptive_start(o, iw, ow), e = pool_detail::adaptive_end(o, iw, ow); c < e; ++c)
            sum += r[c];
          acc[o] += sum;
        }
      });
      for (int64_t o = 0; o < ow; ++o)
        acc[o] /= static_cast<T>(rw.count * (pool_detail::adaptive_end(o, iw, ow) - pool_detail::adaptive_start(o, iw, ow)));
    }
  });
  return out;
}

template <int N, Real T>
Tensor<T> adaptive_avg_pool_backward(const Tensor<T>& grad_out, const Shape& input_shape,
                                     const char* op = "adaptive_avg_pool") {
  VOXNN_CHECK(grad_out.dim() == input_shape.size() && grad_out.dim() >= N, op, " backward: gradient of shape ",
              grad_out.shape(), " for an input of shape ", input_shape);
  std::array<int64_t, N> size{};
  for (int i = 0; i < N; ++i) size[i] = grad_out.shape()[grad_out.dim() - N + i];
  const pool_detail::PoolPlan<N> p = pool_detail::plan_adaptive<N>(input_shape, size, op);
  VOXNN_CHECK(grad_out.shape() == p.out_shape, op, " backward: gradient of shape ", grad_out.shape(),
              " for an output of shape ", p.out_shape);
  const Tensor<T> g = grad_out.contiguous();
  Tensor<T> gin(input_shape);
  if (p.planes == 0) return gin;
  const int64_t rows = pool_detail::rows_per_plane(p), ow = p.out[N - 1], iw = p.in[N - 1];
  const T* g0 = g.data();
  T* gi0 = gin.data();
  parallel_for(0, p.planes, pool_detail::grain_for(p.in_plane + p.out_plane), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      T* gi = gi0 + plane * p.in_plane;
      std::fill(gi, gi + p.in_plane, T(0));
      if (p.out_plane == 0) continue;
      for (int64_t row = 0; row < rows; ++row) {
        const T* go = g0 + (plane * rows + row) * ow;
        const pool_detail::RowWindow<N> rw = pool_detail::adaptive_row_window(p, row);
        rw.for_each_row([&](int64_t roff, int64_t) {
          T* r = gi + roff;
          for (int64_t o = 0; o < ow; ++o) {
            const int64_t b = pool_detail::adaptive_start(o, iw, ow), e = pool_detail::adaptive_end(o, iw, ow);
            const T v = go[o] / static_cast<T>(rw.count * (e - b));
            for (int64_t c = b; c < e; ++c) r[c] += v;
          }
        });
      }
    }
  });
  return gin;
}

// Adaptive max pooling with the index of each maximum inside its input plane (ties: the first; NaN
// propagates).
template <int N, Real T>
PoolResult<T> adaptive_max_pool(const Tensor<T>& x, const std::array<int64_t, N>& output_size, bool with_indices,
                                const char* op = "adaptive_max_pool") {
  const pool_detail::PoolPlan<N> p = pool_detail::plan_adaptive<N>(x.shape(), output_size, op);
  const Tensor<T> in = x.contiguous();
  PoolResult<T> r{Tensor<T>(p.out_shape), with_indices ? Tensor<int64_t>(p.out_shape) : Tensor<int64_t>()};
  if (p.planes == 0 || p.out_plane == 0) return r;
  const int64_t rows = pool_detail::rows_per_plane(p), ow = p.out[N - 1], iw = p.in[N - 1];
  const T* ip0 = in.data();
  T* op0 = r.values.data();
  int64_t* ix0 = with_indices ? r.indices.data() : nullptr;
  const int64_t work = std::max<int64_t>(1, p.in_plane / std::max<int64_t>(1, rows)) + ow;
  parallel_for(0, p.planes * rows, pool_detail::grain_for(work), [&](int64_t begin, int64_t end) {
    std::vector<int64_t> local(static_cast<std::size_t>(ow));
    for (int64_t u = begin; u < end; ++u) {
      const T* ip = ip0 + (u / rows) * p.in_plane;
      T* best = op0 + u * ow;
      int64_t* idx = ix0 ? ix0 + u * ow : local.data();
      const pool_detail::RowWindow<N> rw = pool_detail::adaptive_row_window(p, u % rows);
      const int64_t first = rw.first_row();
      for (int64_t o = 0; o < ow; ++o) {
        best[o] = -std::numeric_limits<T>::infinity();
        idx[o] = first + pool_detail::adaptive_start(o, iw, ow);
      }
      rw.for_each_row([&](int64_t roff, int64_t) {
        const T* row = ip + roff;
        for (int64_t o = 0; o < ow; ++o) {
          T b = best[o];
          int64_t at = idx[o];
          for (int64_t c = pool_detail::adaptive_start(o, iw, ow), e = pool_detail::adaptive_end(o, iw, ow); c < e; ++c) {
            const T v = row[c];
            if (v > b || v != v) {
              b = v;
              at = roff + c;
            }
          }
          best[o] = b;
          idx[o] = at;
        }
      });
    }
  });
  return r;
}

// ---- scatter and gather by plane index --------------------------------------------------------------------
// `spatial` trailing dims form a plane; src / index share a shape whose leading dims match the target's.

namespace pool_detail {

inline int64_t plane_numel(const Shape& s, int spatial) {
  int64_t n = 1;
  for (int d = s.size() - spatial; d < s.size(); ++d) n *= s[d];
  return n;
}
inline void check_plane_layout(const Shape& src, const Shape& index, const Shape& target, int spatial,
                               const char* op) {
  VOXNN_CHECK(src == index, op, ": indices of shape ", index, " for values of shape ", src);
  bool ok = src.size() == target.size() && src.size() >= spatial;
  for (int d = 0; ok && d < src.size() - spatial; ++d) ok = src[d] == target[d];
  VOXNN_CHECK(ok, op, ": values of shape ", src, " do not match the leading dims of ", target);
}
inline constexpr int64_t kNoBadIndex = std::numeric_limits<int64_t>::min();
[[noreturn]] inline void bad_index(const char* op, int64_t index, const Shape& target, int spatial) {
  std::ostringstream sizes;
  for (int d = target.size() - spatial; d < target.size(); ++d) sizes << (d > target.size() - spatial ? "x" : "") << target[d];
  ::voxnn::detail::throw_error(op, ": found an invalid max index ", index, " (output volumes are of size ",
                               sizes.str(), ")");
}

// Writes (Accumulate: adds) src[o] at target[plane][index[o]]; an index outside the plane is an error.
template <bool Accumulate, Real T>
Tensor<T> scatter_planes(const Tensor<T>& src, const Tensor<int64_t>& index, const Shape& target, int spatial,
                         const char* op) {
  check_plane_layout(src.shape(), index.shape(), target, spatial, op);
  const Tensor<T> s = src.contiguous();
  const Tensor<int64_t> ix = index.contiguous();
  Tensor<T> out(target);
  const int64_t tplane = plane_numel(target, spatial), splane = plane_numel(src.shape(), spatial);
  const int64_t planes = tplane == 0 ? 0 : out.numel() / tplane;
  std::atomic<int64_t> bad{kNoBadIndex};
  const T* s0 = s.data();
  const int64_t* i0 = ix.data();
  T* o0 = out.data();
  parallel_for(0, planes, grain_for(tplane + splane), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      T* o = o0 + plane * tplane;
      const T* sp = s0 + plane * splane;
      const int64_t* ip = i0 + plane * splane;
      std::fill(o, o + tplane, T(0));
      for (int64_t k = 0; k < splane; ++k) {
        const int64_t at = ip[k];
        if (static_cast<uint64_t>(at) >= static_cast<uint64_t>(tplane)) {
          int64_t none = kNoBadIndex;
          bad.compare_exchange_strong(none, at);
          continue;
        }
        if constexpr (Accumulate) o[at] += sp[k];
        else o[at] = sp[k];
      }
    }
  });
  if (bad.load() != kNoBadIndex) bad_index(op, bad.load(), target, spatial);
  return out;
}

}  // namespace pool_detail

// Zeros of `target` with src[o] added at index[o] of its plane (the backward of max pooling).
template <Real T>
Tensor<T> scatter_add_planes(const Tensor<T>& src, const Tensor<int64_t>& index, const Shape& target, int spatial,
                             const char* op = "max_pool backward") {
  return pool_detail::scatter_planes<true>(src, index, target, spatial, op);
}
// Zeros of `target` with src[o] written at index[o] of its plane; a repeated index keeps the last write
// (max_unpool).
template <Real T>
Tensor<T> scatter_planes(const Tensor<T>& src, const Tensor<int64_t>& index, const Shape& target, int spatial,
                         const char* op = "max_unpool") {
  return pool_detail::scatter_planes<false>(src, index, target, spatial, op);
}
// out[o] = x[plane][index[o]]: the adjoint of both scatters.
template <Real T>
Tensor<T> gather_planes(const Tensor<T>& x, const Tensor<int64_t>& index, int spatial,
                        const char* op = "gather_planes") {
  bool ok = index.dim() == x.dim() && x.dim() >= spatial;
  for (int d = 0; ok && d < x.dim() - spatial; ++d) ok = index.shape()[d] == x.shape()[d];
  VOXNN_CHECK(ok, op, ": indices of shape ", index.shape(), " do not match the leading dims of ", x.shape());
  const Tensor<T> xs = x.contiguous();
  const Tensor<int64_t> ix = index.contiguous();
  Tensor<T> out(index.shape());
  const int64_t xplane = pool_detail::plane_numel(x.shape(), spatial), oplane = pool_detail::plane_numel(index.shape(), spatial);
  const int64_t planes = oplane == 0 ? 0 : out.numel() / oplane;
  std::atomic<int64_t> bad{pool_detail::kNoBadIndex};
  const T* x0 = xs.data();
  const int64_t* i0 = ix.data();
  T* o0 = out.data();
  parallel_for(0, planes, pool_detail::grain_for(oplane), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const T* xp = x0 + plane * xplane;
      const int64_t* ip = i0 + plane * oplane;
      T* o = o0 + plane * oplane;
      for (int64_t k = 0; k < oplane; ++k) {
        const int64_t at = ip[k];
        if (static_cast<uint64_t>(at) >= static_cast<uint64_t>(xplane)) {
          int64_t none = pool_detail::kNoBadIndex;
          bad.compare_exchange_strong(none, at);
          o[k] = T(0);
          continue;
        }
        o[k] = xp[at];
      }
    }
  });
  if (bad.load() != pool_detail::kNoBadIndex) pool_detail::bad_index(op, bad.load(), x.shape(), spatial);
  return out;
}

// max_unpool's output size: (in - 1) * stride - 2 * padding + kernel per dim, or output_size (N or
// N + 2 entries), which must lie strictly within one stride of that default.
template <int N>
std::array<int64_t, N> unpool_output_size(const Shape& x, const PoolWindow<N>& w,
                                          const std::optional<std::vector<int64_t>>& output_size, const char* op) {
  std::array<int64_t, N> def{}, out{};
  for (int i = 0; i < N; ++i) {
    VOXNN_CHECK(w.kernel[i] > 0 && w.stride[i] > 0 && w.padding[i] >= 0, op, ": kernel_size ",
                pool_detail::as_shape(w.kernel), " and stride ", pool_detail::as_shape(w.stride),
                " must be positive and padding ", pool_detail::as_shape(w.padding), " non-negative");
    def[i] = (x[x.size() - N + i] - 1) * w.stride[i] - 2 * w.padding[i] + w.kernel[i];
  }
  if (!output_size) {
    for (int i = 0; i < N; ++i)
      VOXNN_CHECK(def[i] > 0, op, ": input ", x, " gives a non-positive output size ", pool_detail::as_shape(def));
    return def;
  }
  const auto& os = *output_size;
  VOXNN_CHECK(os.size() == static_cast<std::size_t>(N) || os.size() == static_cast<std::size_t>(N + 2), op,
              ": output_size must have ", N, " or ", N + 2, " entries, got ", os.size());
  const std::size_t skip = os.size() - static_cast<std::size_t>(N);
  for (int i = 0; i < N; ++i) {
    out[i] = os[skip + static_cast<std::size_t>(i)];
    VOXNN_CHECK(out[i] > def[i] - w.stride[i] && out[i] < def[i] + w.stride[i], op, ": invalid output_size ",
                pool_detail::as_shape(out), " for input ", x, " (dim ", i, " must be between ", def[i] - w.stride[i] + 1,
                " and ", def[i] + w.stride[i] - 1, ")");
  }
  return out;
}

// max_unpool: zeros of the output size with x written at indices (the inverse of max pooling).
template <int N, Real T>
Tensor<T> max_unpool(const Tensor<T>& x, const Tensor<int64_t>& indices, const PoolWindow<N>& w,
                     const std::optional<std::vector<int64_t>>& output_size, const char* op = "max_unpool") {
  const bool batched = check_spatial_input(x.shape(), N, op);
  (void)batched;
  VOXNN_CHECK(indices.shape() == x.shape(), op, ": indices of shape ", indices.shape(), " for an input of shape ",
              x.shape());
  const std::array<int64_t, N> size = unpool_output_size<N>(x.shape(), w, output_size, op);
  Shape target = x.shape();
  for (int i = 0; i < N; ++i) target[target.size() - N + i] = size[i];
  return scatter_planes(x, indices, target, N, op);
}

}  // namespace voxnn::ops
