#pragma once
// Multi-coil MRI operators and data consistency, as fastMRI's VarNet uses them
// (fastmri/models/varnet.py, VarNetBlock). Complex tensors are real with a trailing dim of 2; the
// coil dim is dim 1 and the image dims are -3 and -2:
//
//   sens_expand(x, S)   E(x) = fft2c(x * S): an image (B, 1, H, W, 2) to coil k-space (B, C, H, W, 2)
//   sens_reduce(k, S)   R(k) = sum over coils (keepdim) of ifft2c(k) * conj(S): (B, C, H, W, 2) -> (B, 1, H, W, 2)
//
// R is the adjoint of E (fft2c with norm "ortho" is unitary): <E x, k> = <x, R k> in the real inner
// product. Extra dims between the coil dim and H (a slice dim, (B, C, D, H, W, 2)) are batch dims of
// the 2-D transforms, so a volume goes through slice by slice.
//
//   soft_data_consistency(k, k0, mask, w)   where(mask, k - k0, 0) * w     (VarNet's soft DC term)
//   hard_data_consistency(k, k0, mask)      where(mask, k0, k)             (measured lines replace k)
//
// The mask is boolean and broadcasts against k: fastMRI's (B, 1, 1, W, 1) column masks, or (H, W, 1)
// for 2-D undersampling. The learned weight is a one-element Var (nn::SoftDataConsistency holds it).
// Both run as one masked pass over k-space forward and backward (the mask looked up once per row of
// W samples), and build their gradients from where / mul / sum under create_graph.
#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "voxnn/autograd/functions/complex.hpp"
#include "voxnn/autograd/functions/fft.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/ops/complex.hpp"

namespace voxnn {

namespace coil_detail {
inline void check_coil_operands(const Shape& data, const Shape& maps, const char* op, const char* data_name,
                                const char* expected) {
  ops::check_complex(data, op, data_name, 5, expected);
  ops::check_complex(maps, op, "sens_maps", 5, "(B, C, H, W, 2)");
  VOXNN_CHECK(maps.size() == data.size(), op, ": sens_maps has shape ", maps,
              "; expected (B, C, H, W, 2) with the rank of ", data_name, " ", data);
  for (int d = 0; d < data.size(); ++d) {
    if (d == 1) continue;
    VOXNN_CHECK(data[d] == maps[d] || data[d] == 1 || maps[d] == 1, op, ": ", data_name, " of shape ", data,
                " and sens_maps of shape ", maps, " differ in dim ", d);
  }
}
}  // namespace coil_detail

// VarNetBlock.sens_expand: fft2c(complex_mul(x, sens_maps)), x (B, 1, H, W, 2) broadcast over the coils.
template <Real T, Device D>
Var<T, D> sens_expand(const Var<T, D>& x, const Var<T, D>& sens_maps) {
  coil_detail::check_coil_operands(x.shape(), sens_maps.shape(), "sens_expand", "x",
                                   "(B, 1, H, W, 2), a complex image with one channel");
  VOXNN_CHECK(x.shape()[1] == 1 || x.shape()[1] == sens_maps.shape()[1], "sens_expand: x of shape ", x.shape(),
              " has ", x.shape()[1], " channels; expected 1 (broadcast over the ", sens_maps.shape()[1],
              " coils of sens_maps ", sens_maps.shape(), ")");
  return fft2c(complex_mul_conj(x, sens_maps, false, "sens_expand"));
}

// VarNetBlock.sens_reduce: complex_mul(ifft2c(k), complex_conj(sens_maps)).sum(dim=1, keepdim=True).
template <Real T, Device D>
Var<T, D> sens_reduce(const Var<T, D>& k, const Var<T, D>& sens_maps) {
  coil_detail::check_coil_operands(k.shape(), sens_maps.shape(), "sens_reduce", "kspace",
                                   "(B, C, H, W, 2), complex multi-coil k-space");
  VOXNN_CHECK(k.shape()[1] == sens_maps.shape()[1] || sens_maps.shape()[1] == 1, "sens_reduce: kspace of shape ",
              k.shape(), " has ", k.shape()[1], " coils but sens_maps of shape ", sens_maps.shape(), " has ",
              sens_maps.shape()[1]);
  return sum(complex_mul_conj(ifft2c(k), sens_maps, true, "sens_reduce"), {1}, true);
}

namespace coil_detail {
inline void check_dc_operands(const Shape& k, const Shape& ref, const Shape& mask, const char* op) {
  ops::check_complex(k, op, "current_kspace", 2);
  VOXNN_CHECK(ref == k, op, ": ref_kspace has shape ", ref, "; expected the shape of current_kspace ", k);
  bool fits = mask.size() <= k.size();
  for (int i = 0; fits && i < mask.size(); ++i) {
    const int64_t m = mask[i], t = k[k.size() - mask.size() + i];
    fits = m == t || m == 1;
  }
  VOXNN_CHECK(fits, op, ": mask of shape ", mask, " does not broadcast to the k-space shape ", k,
              " (fastMRI's column masks are (B, 1, 1, W, 1))");
}

// Calls f(i, m) for each flat index i of a contiguous tensor of `shape` (rank >= 2), m the mask value
// broadcast to it. Rows are the dims before the last two; the mask offset is found once per row, so a
// column mask (B, 1, 1, W, 1) costs no more than a full one. Parallel over rows.
template <class F>
void for_each_masked(const Shape& shape, const Tensor<bool>& mask, F f) {
  const Tensor<bool> me = mask.expand(shape);
  const Shape& ms = me.strides();
  const bool* mp = me.data();
  const int r = shape.size();
  const int64_t w = shape[r - 2], c = shape[r - 1], row_len = w * c;
  const int64_t rows = row_len == 0 ? 0 : shape.numel() / row_len;
  const int64_t sw = ms[r - 2], sc = ms[r - 1];
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, row_len)), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      int64_t rest = row, moff = 0;
      for (int d = r - 3; d >= 0; --d) {
        moff += (rest % shape[d]) * ms[d];
        rest /= shape[d];
      }
      const int64_t base = row * row_len;
      for (int64_t j = 0; j < w; ++j)
        for (int64_t q = 0; q < c; ++q) f(base + j * c + q, mp[moff + j * sw + q * sc]);
    }
  });
}

// where(mask, (a - b) * scale, 0) on contiguous tensors of one shape.
template <Real T>
Tensor<T> masked_diff(const Tensor<T>& a, const Tensor<T>& b, const Tensor<bool>& mask, T scale) {
  const Tensor<T> ac = a.contiguous(), bc = b.contiguous();
  Tensor<T> out(a.shape());
  T* o = out.data();
  const T* pa = ac.data();
  const T* pb = bc.data();
  for_each_masked(a.shape(), mask, [&](int64_t i, bool m) { o[i] = m ? (pa[i] - pb[i]) * scale : T(0); });
  return out;
}
// where(mask, a, b) on tensors of one shape.
template <Real T>
Tensor<T> masked_select(const Tensor<T>& a, const Tensor<T>& b, const Tensor<bool>& mask) {
  const Tensor<T> ac = a.contiguous(), bc = b.contiguous();
  Tensor<T> out(a.shape());
  T* o = out.data();
  const T* pa = ac.data();
  const T* pb = bc.data();
  for_each_masked(a.shape(), mask, [&](int64_t i, bool m) { o[i] = m ? pa[i] : pb[i]; });
  return out;
}
// where(mask, a * scale, 0), or where(mask, 0, a) with keep_masked false.
template <Real T>
Tensor<T> masked_scale(const Tensor<T>& a, const Tensor<bool>& mask, T scale, bool keep_masked) {
  const Tensor<T> ac = a.contiguous();
  Tensor<T> out(a.shape());
  T* o = out.data();
  const T* pa = ac.data();
  if (keep_masked)
    for_each_masked(a.shape(), mask, [&](int64_t i, bool m) { o[i] = m ? pa[i] * scale : T(0); });
  else
    for_each_masked(a.shape(), mask, [&](int64_t i, bool m) { o[i] = m ? T(0) : pa[i]; });
  return out;
}
// sum over the masked entries of g * (a - b).
template <Real T>
double masked_dot(const Tensor<T>& g, const Tensor<T>& a, const Tensor<T>& b, const Tensor<bool>& mask) {
  const Tensor<T> gc = g.contiguous(), ac = a.contiguous(), bc = b.contiguous();
  const T* pg = gc.data();
  const T* pa = ac.data();
  const T* pb = bc.data();
  // Terms first, summed after: threads write disjoint entries, and the sum does not depend on which
  // thread ran which rows.
  std::vector<double> terms(static_cast<std::size_t>(g.numel()));
  for_each_masked(g.shape(), mask, [&](int64_t i, bool m) {
    terms[static_cast<std::size_t>(i)] = m ? static_cast<double>(pg[i]) * static_cast<double>(pa[i] - pb[i]) : 0.0;
  });
  return std::accumulate(terms.begin(), terms.end(), 0.0);
}
}  // namespace coil_detail

// VarNetBlock's soft data consistency term: where(mask, current_kspace - ref_kspace, 0) * dc_weight.
// The forward and the plain backward are one masked pass each; under create_graph the gradients are
// built from where / mul / sum, so they differentiate again.
template <Real T, Device D>
Var<T, D> soft_data_consistency(const Var<T, D>& current_kspace, const Var<T, D>& ref_kspace, const Tensor<bool>& mask,
                                const Var<T, D>& dc_weight) {
  require_cpu<D>();
  const char* op = "soft_data_consistency";
  coil_detail::check_dc_operands(current_kspace.shape(), ref_kspace.shape(), mask.shape(), op);
  VOXNN_CHECK(dc_weight.numel() == 1, op, ": dc_weight has shape ", dc_weight.shape(), "; expected one element");
  const T w = dc_weight.value().contiguous().data()[0];
  return autograd::make_result<T, D>(
      coil_detail::masked_diff(current_kspace.value(), ref_kspace.value(), mask, w), op,
      {current_kspace, ref_kspace, dc_weight}, [mask](const auto& in, const auto&, const auto& g) {
        std::vector<Var<T, D>> grads(3);
        if (!GradMode::enabled()) {
          const T wv = in[2].value().contiguous().data()[0];
          if (in[0].requires_grad() || in[1].requires_grad()) {
            const Tensor<T> gk = coil_detail::masked_scale(g.value(), mask, wv, true);
            if (in[0].requires_grad()) grads[0] = constant(gk);
            if (in[1].requires_grad()) grads[1] = constant(ops::neg(gk));
          }
          if (in[2].requires_grad())
            grads[2] = constant(full<T>(in[2].shape(), static_cast<T>(coil_detail::masked_dot(
                                                            g.value(), in[0].value(), in[1].value(), mask))));
          return grads;
        }
        const Var<T, D> zero(zeros<T, D>(Shape{}));
        const Var<T, D> gm = where(mask, g, zero);
        const Var<T, D> gk = mul(gm, reshape(in[2], Shape{}));
        if (in[0].requires_grad()) grads[0] = gk;
        if (in[1].requires_grad()) grads[1] = neg(gk);
        if (in[2].requires_grad()) grads[2] = reshape(sum(mul(gm, sub(in[0], in[1]))), in[2].shape());
        return grads;
      });
}

// Hard data consistency: the measured samples replace the estimate, where(mask, ref_kspace, kspace).
template <Real T, Device D>
Var<T, D> hard_data_consistency(const Var<T, D>& kspace, const Var<T, D>& ref_kspace, const Tensor<bool>& mask) {
  require_cpu<D>();
  const char* op = "hard_data_consistency";
  coil_detail::check_dc_operands(kspace.shape(), ref_kspace.shape(), mask.shape(), op);
  return autograd::make_result<T, D>(
      coil_detail::masked_select(ref_kspace.value(), kspace.value(), mask), op, {kspace, ref_kspace},
      [mask](const auto& in, const auto&, const auto& g) {
        std::vector<Var<T, D>> grads(2);
        if (!GradMode::enabled()) {
          if (in[0].requires_grad()) grads[0] = constant(coil_detail::masked_scale(g.value(), mask, T(1), false));
          if (in[1].requires_grad()) grads[1] = constant(coil_detail::masked_scale(g.value(), mask, T(1), true));
          return grads;
        }
        const Var<T, D> zero(zeros<T, D>(Shape{}));
        if (in[0].requires_grad()) grads[0] = where(mask, zero, g);
        if (in[1].requires_grad()) grads[1] = where(mask, g, zero);
        return grads;
      });
}

}  // namespace voxnn
