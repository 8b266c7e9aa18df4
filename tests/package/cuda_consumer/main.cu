// Compiles the CPU umbrella and the CUDA kernels with the consumer's nvcc. Without a GPU, building
// and linking is the test (and device_count() must report 0 rather than throw); with one, a
// kernel runs and its result is checked.
#include <voxnn/voxnn.hpp>
#include <voxnn/backend/cuda/kernels.cuh>

#include <cstdio>
#include <vector>

int main() {
  auto t = voxnn::ones<float>({2, 3});
  if (voxnn::ops::sum(t).item() != 6.0f) return 1;

  if (voxnn::cuda::device_count() == 0) {
    std::printf("cuda_consumer: built and linked; no CUDA device, kernels not run\n");
    return 0;
  }
  auto& alloc = voxnn::cuda::DeviceAllocator::instance();
  const int n = 1000;
  auto* x = static_cast<float*>(alloc.allocate(n * sizeof(float)));
  voxnn::cuda::fill(x, 2.0f, n);
  std::vector<float> host(n);
  VOXNN_CUDA_CHECK(cudaMemcpy(host.data(), x, n * sizeof(float), cudaMemcpyDeviceToHost));
  alloc.deallocate(x);
  for (float v : host)
    if (v != 2.0f) return 1;
  std::printf("cuda_consumer: fill ran on %d device(s)\n", voxnn::cuda::device_count());
  return 0;
}
