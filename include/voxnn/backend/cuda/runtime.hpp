#pragma once
// Host-side CUDA runtime helpers: error checking that throws voxnn::Error, device queries that are
// safe on machines without a GPU, and a caching device allocator. Host-only (no __global__), so
// g++-compiled files that link voxnn::cuda may include it as well as nvcc-compiled ones.
#ifndef VOXNN_WITH_CUDA
#error "voxnn/backend/cuda/runtime.hpp needs the voxnn::cuda CMake target (it defines VOXNN_WITH_CUDA)"
#endif

#include <cuda_runtime_api.h>

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <voxnn/backend/cuda/namespace.cuh>
#include <voxnn/core/allocator.hpp>
#include <voxnn/core/error.hpp>

VOXNN_CUDA_NAMESPACE_BEGIN

// Throws voxnn::Error naming the call and CUDA's own error name and text.
inline void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear it, so that the next unrelated check does not report it again
  throw Error(std::string("cuda: ") + what + " failed: " + cudaGetErrorName(status) + " (" +
              cudaGetErrorString(status) + ")");
}

// Number of usable devices; 0 (never an exception) when there is no GPU or no driver, so that
// callers and tests can decide to skip.
inline int device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

inline int current_device() {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  return device;
}

// Caches freed device blocks in size classes (the same classes as HostAllocator) per device, so a
// training loop stops calling cudaMalloc/cudaFree (which synchronise the device) after step one.
// Blocks are handed out again without synchronisation: correct as long as all voxnn work runs in
// one stream, which is the current design.
class DeviceAllocator {
 public:
  // The process-wide allocator. Never destroyed: freeing during static destruction would race
  // the CUDA runtime's own teardown.
  static DeviceAllocator& instance() {
    static DeviceAllocator* allocator = new DeviceAllocator;
    return *allocator;
  }

  DeviceAllocator() = default;
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;
  ~DeviceAllocator() { release_cached(); }

  // Allocates on the current device.
  void* allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    const int device = current_device();
    const std::size_t size = HostAllocator::size_class(bytes);
    std::lock_guard lock(mutex_);
    auto it = free_.find({device, size});
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= size;
      live_.emplace(p, Block{size, device});
      return p;
    }
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {  // the cache may be holding what we need
      cudaGetLastError();
      release_cached_locked();
      status = cudaMalloc(&p, size);
    }
    if (status != cudaSuccess)
      check(status, ("cudaMalloc of " + std::to_string(size) + " bytes on device " +
                     std::to_string(device))
                        .c_str());
    live_.emplace(p, Block{size, device});
    allocated_bytes_ += size;
    return p;
  }

  void deallocate(void* p) {
    if (!p) return;
    std::lock_guard lock(mutex_);
    auto it = live_.find(p);
    VOXNN_CHECK(it != live_.end(), "DeviceAllocator::deallocate: pointer was not allocated here");
    const Block block = it->second;
    live_.erase(it);
    free_[{block.device, block.size}].push_back(p);
    cached_bytes_ += block.size;
  }

  // Returns every cached block to CUDA (blocks in use are untouched).
  void release_cached() {
    std::lock_guard lock(mutex_);
    release_cached_locked();
  }

  std::size_t cached_bytes() const {
    std::lock_guard lock(mutex_);
    return cached_bytes_;
  }
  // Bytes obtained from cudaMalloc and not yet released, cached or in use.
  std::size_t allocated_bytes() const {
    std::lock_guard lock(mutex_);
    return allocated_bytes_;
  }

 private:
  struct Block {
    std::size_t size;
    int device;
  };

  void release_cached_locked() noexcept {
    for (auto& [key, blocks] : free_) {
      for (void* p : blocks) cudaFree(p);  // no throw: also runs from the destructor
      allocated_bytes_ -= key.second * blocks.size();
    }
    free_.clear();
    cached_bytes_ = 0;
  }

  mutable std::mutex mutex_;
  std::map<std::pair<int, std::size_t>, std::vector<void*>> free_;  // (device, size) -> blocks
  std::unordered_map<void*, Block> live_;
  std::size_t cached_bytes_ = 0;
  std::size_t allocated_bytes_ = 0;
};

VOXNN_CUDA_NAMESPACE_END

// Wraps a CUDA runtime call: VOXNN_CUDA_CHECK(cudaMemcpy(...)).
#define VOXNN_CUDA_CHECK(call) ::voxnn::cuda::check((call), #call)
