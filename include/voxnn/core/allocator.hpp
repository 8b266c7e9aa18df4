#pragma once
// A caching host allocator: freed blocks are kept in size classes and handed out again, so a training
// loop that allocates the same activation sizes every step stops paying for page faults after step one.
#include <bit>
#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace voxnn {

class HostAllocator {
 public:
  static constexpr std::size_t kAlignment = 64;

  static HostAllocator& instance() {
    static HostAllocator* allocator = new HostAllocator;  // never destroyed: storages may outlive statics
    return *allocator;
  }

  void* allocate(std::size_t bytes) {
    const std::size_t size = size_class(bytes);
    {
      std::lock_guard lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= size;
        return p;
      }
    }
    void* p = std::aligned_alloc(kAlignment, size);
    if (!p) {
      empty_cache();
      p = std::aligned_alloc(kAlignment, size);
      if (!p) throw std::bad_alloc();
    }
    return p;
  }

  void deallocate(void* p, std::size_t bytes) {
    if (!p) return;
    const std::size_t size = size_class(bytes);
    {
      std::lock_guard lock(mutex_);
      if (cached_bytes_ + size <= cache_limit_) {
        free_[size].push_back(p);
        cached_bytes_ += size;
        return;
      }
    }
    std::free(p);
  }

  // Returns every cached block to the system.
  void empty_cache() {
    std::lock_guard lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    cached_bytes_ = 0;
  }

  std::size_t cached_bytes() const {
    std::lock_guard lock(mutex_);
    return cached_bytes_;
  }
  void set_cache_limit(std::size_t bytes) {
    std::lock_guard lock(mutex_);
    cache_limit_ = bytes;
  }

  // Sizes round up to 64 B, then to a quarter step of their power of two (waste below 25%),
  // so that nearly equal requests share a class.
  static std::size_t size_class(std::size_t bytes) {
    if (bytes <= 4096) return std::bit_ceil(bytes < kAlignment ? kAlignment : bytes);
    const std::size_t top = std::bit_floor(bytes);
    const std::size_t step = top / 4;
    return (bytes + step - 1) / step * step;
  }

 private:
  HostAllocator() = default;
  mutable std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_bytes_ = 0;
  std::size_t cache_limit_ = std::size_t{8} << 30;
};

}  // namespace voxnn
