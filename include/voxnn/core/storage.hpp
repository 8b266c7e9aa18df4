#pragma once
// Storage: a reference-counted buffer of elements, shared by a tensor and all of its views.
#include <cstdint>
#include <memory>

#include "voxnn/core/allocator.hpp"
#include "voxnn/core/device.hpp"

namespace voxnn {

template <class D>
struct DeviceMemory;  // allocate(bytes) / deallocate(p, bytes) per device; Cuda's lives in backend/cuda

template <>
struct DeviceMemory<Cpu> {
  static void* allocate(std::size_t bytes) { return HostAllocator::instance().allocate(bytes); }
  static void deallocate(void* p, std::size_t bytes) { HostAllocator::instance().deallocate(p, bytes); }
};

template <class T, class D = Cpu>
class Storage {
 public:
  Storage() = default;
  explicit Storage(int64_t count) : size_(count) {
    const std::size_t bytes = static_cast<std::size_t>(count > 0 ? count : 1) * sizeof(T);
    T* p = static_cast<T*>(DeviceMemory<D>::allocate(bytes));
    data_ = std::shared_ptr<T>(p, [bytes](T* q) { DeviceMemory<D>::deallocate(q, bytes); });
  }
  T* data() const { return data_.get(); }
  int64_t size() const { return size_; }
  bool defined() const { return data_ != nullptr; }
  long use_count() const { return data_.use_count(); }

 private:
  std::shared_ptr<T> data_;
  int64_t size_ = 0;
};

}  // namespace voxnn
