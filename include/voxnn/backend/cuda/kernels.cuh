#pragma once
// Elementwise CUDA kernels on raw device pointers (no Tensor, no autograd) and their host
// launchers. Compiled by the user's nvcc: include from .cu files that link voxnn::cuda.
#ifndef __CUDACC__
#error "voxnn/backend/cuda/kernels.cuh holds __global__ kernels: include it from a .cu file"
#endif

#include <algorithm>
#include <cstdint>

#include <voxnn/backend/cuda/namespace.cuh>
#include <voxnn/backend/cuda/runtime.hpp>
#include <voxnn/core/device.hpp>

VOXNN_CUDA_NAMESPACE_BEGIN

namespace kernels {

// Grid-stride loops: any n works with a capped grid, and one thread handles several elements.
template <class T>
__global__ void fill(T* out, T value, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{blockDim.x} * gridDim.x)
    out[i] = value;
}

// y = alpha * x + y
template <class T>
__global__ void axpy(T alpha, const T* x, T* y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{blockDim.x} * gridDim.x)
    y[i] = alpha * x[i] + y[i];
}

// out = a + b (out may alias a or b)
template <class T>
__global__ void add(const T* a, const T* b, T* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{blockDim.x} * gridDim.x)
    out[i] = a[i] + b[i];
}

}  // namespace kernels

namespace detail {
inline constexpr int kThreads = 256;
// Enough blocks to fill any current GPU several times over; the grid-stride loop does the rest.
inline unsigned blocks_for(std::int64_t n) {
  return static_cast<unsigned>(std::min<std::int64_t>((n + kThreads - 1) / kThreads, 65535));
}
}  // namespace detail

// Host launchers: asynchronous on `stream`; launch errors throw voxnn::Error at once.
template <Real T>
void fill(T* out, T value, std::int64_t n, cudaStream_t stream = nullptr) {
  if (n <= 0) return;
  kernels::fill<<<detail::blocks_for(n), detail::kThreads, 0, stream>>>(out, value, n);
  check(cudaGetLastError(), "voxnn::cuda::fill launch");
}

template <Real T>
void axpy(T alpha, const T* x, T* y, std::int64_t n, cudaStream_t stream = nullptr) {
  if (n <= 0) return;
  kernels::axpy<<<detail::blocks_for(n), detail::kThreads, 0, stream>>>(alpha, x, y, n);
  check(cudaGetLastError(), "voxnn::cuda::axpy launch");
}

template <Real T>
void add(const T* a, const T* b, T* out, std::int64_t n, cudaStream_t stream = nullptr) {
  if (n <= 0) return;
  kernels::add<<<detail::blocks_for(n), detail::kThreads, 0, stream>>>(a, b, out, n);
  check(cudaGetLastError(), "voxnn::cuda::add launch");
}

VOXNN_CUDA_NAMESPACE_END
