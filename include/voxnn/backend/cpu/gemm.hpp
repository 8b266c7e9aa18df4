#pragma once
// Row-major GEMM, C = alpha * op(A) * op(B) + beta * C, on Eigen's product or, when the build
// defines VOXNN_USE_CBLAS (the project's option, never forced on consumers), on a CBLAS.
#include <cstdint>

#include <Eigen/Core>

#include "voxnn/core/device.hpp"
#include "voxnn/core/diagnostics.hpp"

#ifdef VOXNN_USE_CBLAS
#include <cblas.h>
#endif

VOXNN_EIGEN_AVX512_WARNINGS_BEGIN
namespace voxnn::backend::cpu {

template <Real T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
#ifdef VOXNN_USE_CBLAS
  const auto ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
  const auto M = static_cast<blasint>(m), N = static_cast<blasint>(n), K = static_cast<blasint>(k);
  if constexpr (sizeof(T) == 4)
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb),
                beta, c, static_cast<blasint>(ldc));
  else
    cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb),
                beta, c, static_cast<blasint>(ldc));
#else
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;
  Eigen::Map<Mat, 0, Stride> cm(c, m, n, Stride(ldc));
  if (beta == T(0)) cm.setZero();
  else if (beta != T(1)) cm *= beta;
  if (k == 0) return;
  // A transposed operand is the same memory seen as a column-major matrix.
  using ColMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  auto run = [&](const auto& am, const auto& bm) { cm.noalias() += alpha * am * bm; };
  Eigen::Map<const Mat, 0, Stride> a_rm(a, m, k, Stride(lda));
  Eigen::Map<const ColMat, 0, Stride> a_cm(a, m, k, Stride(lda));
  Eigen::Map<const Mat, 0, Stride> b_rm(b, k, n, Stride(ldb));
  Eigen::Map<const ColMat, 0, Stride> b_cm(b, k, n, Stride(ldb));
  if (!trans_a && !trans_b) run(a_rm, b_rm);
  else if (!trans_a) run(a_rm, b_cm);
  else if (!trans_b) run(a_cm, b_rm);
  else run(a_cm, b_cm);
#endif
}

}  // namespace voxnn::backend::cpu
VOXNN_EIGEN_AVX512_WARNINGS_END
