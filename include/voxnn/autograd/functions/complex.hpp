#pragma once
// Differentiable complex arithmetic on real tensors whose last dimension (size 2) holds the real and
// imaginary parts, as fastMRI stores complex data (fastmri/math.py, fastmri/coil_combine.py):
//
//   complex_mul(x, y)         x * y, broadcasting over every dim but the last
//   complex_conj(x)           (re, -im)
//   complex_abs(x)            sqrt(re^2 + im^2), the trailing 2 removed
//   complex_abs_sq(x)         re^2 + im^2
//   rss(x, dim = 0)           sqrt(sum over dim of x^2)          (root-sum-of-squares over coils)
//   rss_complex(x, dim = 0)   sqrt(sum over dim of |x|^2); dim indexes the shape without the trailing 2
//
// Gradients are the real-linear adjoints (the gradient of x in x * y is grad * conj(y)), written with
// these same functions, so every op differentiates to any order. Where PyTorch's sqrt gives an infinite
// or NaN gradient (complex_abs, rss and rss_complex at an all-zero value) the gradient here is 0, the
// subgradient torch.linalg.norm uses. The raw kernels run on the CPU on any strides.
#include <array>
#include <concepts>
#include <cmath>
#include <cstdint>
#include <vector>

#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/core/strided_loop.hpp"

namespace voxnn {

namespace complex_detail {

template <class D>
constexpr void require_cpu() {
  static_assert(std::same_as<D, Cpu>, "complex kernels are implemented on the CPU only for now");
}

inline void check_complex(const Shape& s, const char* op, const char* what) {
  VOXNN_CHECK(s.size() >= 1 && s.back() == 2, op, ": ", what, " has shape ", s,
              "; expected a complex tensor with a trailing dimension of 2 (real, imaginary)");
}

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

// x * y, or x * conj(y) with conj_y; x and y complex, broadcast over their leading dims.
template <Real T>
Tensor<T> mul(const Tensor<T>& x, const Tensor<T>& y, bool conj_y, const char* op) {
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
  const Shape so = drop_last(out.strides()), sx = batch_strides(x, batch), sy = batch_strides(y, batch);
  const int64_t cx = x.stride(-1), cy = y.stride(-1);
  const T sign = conj_y ? T(-1) : T(1);
  T* const po = out.data();
  const T* const px = x.data();
  const T* const py = y.data();
  detail::for_each_run<3>(
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

template <Real T>
Tensor<T> conj(const Tensor<T>& x) {
  Tensor<T> out = x.clone();
  Tensor<T> im = out.select(-1, 1);
  T* p = im.data();
  const int64_t n = im.numel();  // out is contiguous: the imaginary parts are every second element
  for (int64_t i = 0; i < n; ++i) p[2 * i] = -p[2 * i];
  return out;
}

// |x|^2 (square = true) or |x|, the trailing dim removed.
template <Real T>
Tensor<T> abs(const Tensor<T>& x, bool square) {
  const Shape batch = drop_last(x.shape());
  Tensor<T> out(batch);
  const int64_t cx = x.stride(-1);
  T* const po = out.data();
  const T* const px = x.data();
  detail::for_each_run<2>(batch, {out.strides(), drop_last(x.strides())}, [&](const auto& off, int64_t n, const auto& st) {
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

// x * y or, with conj_y, x * conj(y): the one differentiable product behind complex_mul and the coil
// operators. Its gradients are products of the same kind: d/dx = g * conj(y~), d/dy = g * conj(x)
// (x * conj(g) with conj_y), each summed back to the operand's broadcast shape.
template <Real T, Device D>
Var<T, D> complex_mul_conj(const Var<T, D>& x, const Var<T, D>& y, bool conj_y, const char* op = "complex_mul") {
  complex_detail::require_cpu<D>();
  return autograd::make_result<T, D>(
      complex_detail::mul(x.value(), y.value(), conj_y, op), op, {x, y},
      [conj_y, op](const auto& in, const auto&, const auto& g) {
        std::vector<Var<T, D>> grads(2);
        if (in[0].requires_grad()) grads[0] = sum_to(complex_mul_conj(g, in[1], !conj_y, op), in[0].shape());
        if (in[1].requires_grad())
          grads[1] = sum_to(conj_y ? complex_mul_conj(in[0], g, true, op) : complex_mul_conj(g, in[0], true, op),
                            in[1].shape());
        return grads;
      });
}

// fastmri.complex_mul: x * y with broadcasting over the leading dims.
template <Real T, Device D>
Var<T, D> complex_mul(const Var<T, D>& x, const Var<T, D>& y) {
  return complex_mul_conj(x, y, false, "complex_mul");
}

// fastmri.complex_conj.
template <Real T, Device D>
Var<T, D> complex_conj(const Var<T, D>& x) {
  complex_detail::require_cpu<D>();
  complex_detail::check_complex(x.shape(), "complex_conj", "input");
  return autograd::make_result<T, D>(complex_detail::conj(x.value()), "complex_conj", {x},
                                     [](const auto&, const auto&, const auto& g) { return std::vector{complex_conj(g)}; });
}

// fastmri.complex_abs_sq: re^2 + im^2.
template <Real T, Device D>
Var<T, D> complex_abs_sq(const Var<T, D>& x) {
  complex_detail::require_cpu<D>();
  complex_detail::check_complex(x.shape(), "complex_abs_sq", "input");
  return autograd::make_result<T, D>(complex_detail::abs(x.value(), true), "complex_abs_sq", {x},
                                     [](const auto& in, const auto&, const auto& g) {
                                       return std::vector{mul(mul(in[0], unsqueeze(g, -1)), T(2))};
                                     });
}

// fastmri.complex_abs: sqrt(re^2 + im^2); the gradient x / |x| * grad is 0 where x = 0.
template <Real T, Device D>
Var<T, D> complex_abs(const Var<T, D>& x) {
  complex_detail::require_cpu<D>();
  complex_detail::check_complex(x.shape(), "complex_abs", "input");
  return autograd::make_result<T, D>(
      complex_detail::abs(x.value(), false), "complex_abs", {x}, [](const auto& in, const auto& out, const auto& g) {
        if (!GradMode::enabled()) {  // a plain backward: one pass
          const Tensor<T> scale = ops::zip<T>(g.value(), out.value(), [](T gv, T r) { return r > 0 ? gv / r : T(0); },
                                              "complex_abs");
          return std::vector{constant(ops::mul(in[0].value(), scale.unsqueeze(-1)))};
        }
        const Tensor<bool> zero = ops::eq(out.value(), T(0));
        const Var<T, D> one(ones<T, D>(Shape{})), nil(zeros<T, D>(Shape{}));
        const Var<T, D> scale = where(zero, nil, div(g, where(zero, one, out)));
        return std::vector{mul(in[0], unsqueeze(scale, -1))};
      });
}

// fastmri.rss: sqrt((x^2).sum(dim)), the root-sum-of-squares over the coil dim.
template <Real T, Device D>
Var<T, D> rss(const Var<T, D>& x, int64_t dim = 0) {
  const int d = wrap_dim(dim, x.dim(), "rss");
  return autograd::root_of_sum(sum(mul(x, x), {d}), T(2));
}

// fastmri.rss_complex: sqrt(complex_abs_sq(x).sum(dim)); dim indexes the shape without the trailing 2.
template <Real T, Device D>
Var<T, D> rss_complex(const Var<T, D>& x, int64_t dim = 0) {
  complex_detail::check_complex(x.shape(), "rss_complex", "input");
  const int d = wrap_dim(dim, x.dim() - 1, "rss_complex");
  return autograd::root_of_sum(sum(complex_abs_sq(x), {d}), T(2));
}

}  // namespace voxnn
