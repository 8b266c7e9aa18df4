#pragma once
// matmul with torch.matmul's rules (1-D promotion, broadcast batch dims), bmm, and mm.
#include <vector>

#include "voxnn/backend/cpu/gemm.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::ops {

namespace detail {
// A 2-D view GEMM can read directly: row-major (unit column stride) or transposed (unit row stride).
template <class T>
struct GemmOperand {
  Tensor<T> holder;  // keeps a copy alive when one was needed
  bool trans = false;
  int64_t ld = 0;
};
template <class T>
GemmOperand<T> gemm_operand(const Tensor<T>& m) {
  const int64_t rows = m.shape()[0], cols = m.shape()[1];
  const int64_t s0 = m.strides()[0], s1 = m.strides()[1];
  if ((s1 == 1 || cols == 1) && s0 >= std::max<int64_t>(cols, 1)) return {m, false, std::max<int64_t>(s0, 1)};
  if ((s0 == 1 || rows == 1) && s1 >= std::max<int64_t>(rows, 1)) return {m, true, std::max<int64_t>(s1, 1)};
  Tensor<T> c = m.clone();
  return {c, false, std::max<int64_t>(cols, 1)};
}

// out[M, N] = a[M, K] * b[K, N] for 2-D views (any strides); out is contiguous.
template <Real T>
void mm_into(T* out, const Tensor<T>& a, const Tensor<T>& b, T beta = T(0)) {
  const auto A = gemm_operand(a), B = gemm_operand(b);
  const int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  backend::cpu::gemm<T>(A.trans, B.trans, m, n, k, T(1), A.holder.data(), A.ld, B.holder.data(), B.ld, beta, out,
                        std::max<int64_t>(n, 1));
}
}  // namespace detail

template <Real T>
Tensor<T> mm(const Tensor<T>& a, const Tensor<T>& b) {
  VOXNN_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expects two matrices, got shapes ", a.shape(), " and ", b.shape());
  VOXNN_CHECK(a.shape()[1] == b.shape()[0], "mm: shapes ", a.shape(), " and ", b.shape(),
              " cannot be multiplied (", a.shape()[1], " != ", b.shape()[0], ")");
  Tensor<T> out({a.shape()[0], b.shape()[1]});
  detail::mm_into(out.data(), a, b);
  return out;
}

// Batched product of [B, n, m] and [B, m, p].
template <Real T>
Tensor<T> bmm(const Tensor<T>& a, const Tensor<T>& b) {
  VOXNN_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expects 3-D tensors, got shapes ", a.shape(), " and ", b.shape());
  VOXNN_CHECK(a.shape()[0] == b.shape()[0] && a.shape()[2] == b.shape()[1], "bmm: shapes ", a.shape(), " and ",
              b.shape(), " do not match as [B, n, m] x [B, m, p]");
  const int64_t batch = a.shape()[0], n = a.shape()[1], p = b.shape()[2];
  Tensor<T> out({batch, n, p});
  for (int64_t i = 0; i < batch; ++i) detail::mm_into(out.data() + i * n * p, a.select(0, i), b.select(0, i));
  return out;
}

// torch.matmul: 1-D operands are promoted to matrices and the added dim removed afterwards; leading
// (batch) dims broadcast.
template <Real T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b) {
  VOXNN_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least one dim, got shapes ", a.shape(),
              " and ", b.shape());
  const Tensor<T> A = a.dim() == 1 ? a.unsqueeze(0) : a;
  const Tensor<T> B = b.dim() == 1 ? b.unsqueeze(1) : b;
  const int64_t n = A.size(-2), k = A.size(-1), k2 = B.size(-2), p = B.size(-1);
  VOXNN_CHECK(k == k2, "matmul: shapes ", a.shape(), " and ", b.shape(), " cannot be multiplied (", k, " != ", k2,
              ")");
  Shape batch_a, batch_b;
  for (int d = 0; d < A.dim() - 2; ++d) batch_a.push_back(A.shape()[d]);
  for (int d = 0; d < B.dim() - 2; ++d) batch_b.push_back(B.shape()[d]);
  const Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");

  Shape out_shape = batch;
  out_shape.push_back(n);
  out_shape.push_back(p);
  Tensor<T> out(out_shape);
  // Explicit batch counts, not -1: with k = 0 the element count cannot infer them.
  const int64_t batches = batch.numel();
  if (batch_b.empty() && A.is_contiguous()) {
    // [..., n, k] x [k, p] is one GEMM over all rows.
    detail::mm_into(out.data(), A.reshape({batches * n, k}), B);
  } else {
    Shape ea = batch, eb = batch;
    ea.push_back(n), ea.push_back(k);
    eb.push_back(k), eb.push_back(p);
    const Tensor<T> xa = A.expand(ea).reshape({batches, n, k}), xb = B.expand(eb).reshape({batches, k, p});
    for (int64_t i = 0; i < batches; ++i) detail::mm_into(out.data() + i * n * p, xa.select(0, i), xb.select(0, i));
  }
  Shape final_shape = batch;
  if (a.dim() > 1) final_shape.push_back(n);
  if (b.dim() > 1) final_shape.push_back(p);
  return out.view(final_shape);
}

}  // namespace voxnn::ops
