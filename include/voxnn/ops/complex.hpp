#pragma once
// Complex arithmetic kernels on Tensors (no autograd), for real tensors whose last dimension (size 2)
// holds the real and imaginary parts, as fastMRI stores complex data:
//
//   check_complex(shape, op, what)      throws unless shape is complex (a trailing dimension of 2)
//   complex_mul(x, y, conj_y)           x * y, or x * conj(y), broadcasting over every dim but the last
//   complex_conj(x)                     (re, -im)
//   complex_abs(x), complex_abs_sq(x)   sqrt(re^2 + im^2) and re^2 + im^2, the trailing 2 removed
//
// The kernels run on the CPU on any strides and return new contiguous tensors. The differentiable
// versions are in include/voxnn/autograd/functions/complex.hpp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "voxnn/core/device.hpp"
#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/shape.hpp"
#include "voxnn/core/strided_loop.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::ops {

// Throws unless `shape` is a complex tensor's: a trailing dimension of 2 and at least min_dims dims
// (counting it). The message names op, the operand (`what`), its shape and, when given, the expected
// layout, e.g. check_complex(s, "fft2c", "input", 3, "(..., H, W, 2)").
inline void check_complex(const Shape& shape, const char* op, const char* what, int min_dims = 1,
                          std::string_view layout = {}) {
  if (shape.size() >= std::max(min_dims, 1) && shape.back() == 2) return;
  std::string at_least;
  if (min_dims > 1) at_least = " of at least " + std::to_string(min_dims) + " dims";
  voxnn::detail::throw_error(op, ": ", what, " has shape ", shape, "; expected a complex tensor", at_least,
                             " with a trailing dimension of 2 (real, imaginary)", layout.empty() ? "" : ": ", layout);
}

namespace complex_detail {

// The shape without its trailing dim.
inline Shape drop_last(const Shape& s) {
  Shape out = s;
  out.erase(s.size() - 1);
  return out;
}
// Strides of t's leading dims after broadcasting t (complex) to batch + [2].
template <class T>
Shape batch_strides(const Tensor<T>& t, const Shape& batch) {
  Shape full = batch;
  full.push_back(2);
  return drop_last(t.expand(full).strides());
}

// |x|^2 (square = true) or |x|, the trailing dim removed.
template <Real T>
Tensor<T> abs(const Tensor<T>& x, bool square, const char* op) {
  check_complex(x.shape(), op, "input");
  const Shape batch = drop_last(x.shape());
  Tensor<T> out(batch);
  const int64_t cx = x.stride(-1);
  T* const po = out.data();
  const T* const px = x.data();
  voxnn::detail::for_each_run<2>(batch, {out.strides(), drop_last(x.strides())},
                                 [&](const auto& off, int64_t n, const auto& st) {
                                   T* o = po + off[0];
                                   const T* a = px + off[1];
                                   for (int64_t i = 0; i < n; ++i) {
                                     const T re = a[i * st[1]], im = a[i * st[1] + cx];
                                     const T s = re * re + im * im;
                                     o[i * st[0]] = square ? s : std::sqrt(s);
                                   }
                                 });
  return out;
}

}  // namespace complex_detail

// x * y, or x * conj(y) with conj_y; x and y complex, broadcast over their leading dims.
template <Real T>
Tensor<T> complex_mul(const Tensor<T>& x, const Tensor<T>& y, bool conj_y = false, const char* op = "complex_mul") {
  using complex_detail::drop_last;
  check_complex(x.shape(), op, "x");
  check_complex(y.shape(), op, "y");
  Shape batch;
  {
    // broadcast_shapes names the op but not the operands' roles: say which shapes failed.
    const Shape bx = drop_last(x.shape()), by = drop_last(y.shape());
    const int rank = std::max(bx.size(), by.size());
    for (int i = 0; i < rank; ++i) {
      const int ia = i - (rank - bx.size()), ib = i - (rank - by.size());
      const int64_t a = ia >= 0 ? bx[ia] : 1, b = ib >= 0 ? by[ib] : 1;
      VOXNN_CHECK(a == b || a == 1 || b == 1, op, ": x of shape ", x.shape(), " and y of shape ", y.shape(),
                  " do not broadcast (dim ", i, " of the complex shapes)");
    }
    batch = broadcast_shapes(bx, by, op);
  }
  Shape out_shape = batch;
  out_shape.push_back(2);
  Tensor<T> out(out_shape);
  const Shape so = drop_last(out.strides()), sx = complex_detail::batch_strides(x, batch),
              sy = complex_detail::batch_strides(y, batch);
  const int64_t cx = x.stride(-1), cy = y.stride(-1);
  const T sign = conj_y ? T(-1) : T(1);
  T* const po = out.data();
  const T* const px = x.data();
  const T* const py = y.data();
  voxnn::detail::for_each_run<3>(
      batch, {so, sx, sy},
      [&](const auto& off, int64_t n, const auto& st) {
        T* o = po + off[0];
        const T* a = px + off[1];
        const T* b = py + off[2];
        for (int64_t i = 0; i < n; ++i) {
          const T ar = a[i * st[1]], ai = a[i * st[1] + cx];
          const T br = b[i * st[2]], bi = sign * b[i * st[2] + cy];
          o[i * st[0]] = ar * br - ai * bi;
          o[i * st[0] + 1] = ar * bi + ai * br;
        }
      },
      kParallelGrain / 4);
  return out;
}

// (re, -im).
template <Real T>
Tensor<T> complex_conj(const Tensor<T>& x) {
  check_complex(x.shape(), "complex_conj", "input");
  Tensor<T> out = x.clone();
  Tensor<T> im = out.select(-1, 1);
  T* p = im.data();
  const int64_t n = im.numel();  // out is contiguous: the imaginary parts are every second element
  for (int64_t i = 0; i < n; ++i) p[2 * i] = -p[2 * i];
  return out;
}

// sqrt(re^2 + im^2), the trailing dim removed.
template <Real T>
Tensor<T> complex_abs(const Tensor<T>& x) {
  return complex_detail::abs(x, false, "complex_abs");
}

// re^2 + im^2, the trailing dim removed.
template <Real T>
Tensor<T> complex_abs_sq(const Tensor<T>& x) {
  return complex_detail::abs(x, true, "complex_abs_sq");
}

}  // namespace voxnn::ops
