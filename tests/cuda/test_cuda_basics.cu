// The CUDA skeleton (runtime.hpp, kernels.cuh) against plain CPU loops.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include <voxnn/backend/cuda/kernels.cuh>
#include <voxnn/backend/cuda/runtime.hpp>

namespace vc = voxnn::cuda;

namespace {

// A device copy of a host vector, released through the allocator under test.
template <class T>
struct DeviceBuffer {
  vc::DeviceAllocator& alloc;
  std::int64_t n;
  T* ptr;
  DeviceBuffer(vc::DeviceAllocator& a, const std::vector<T>& host)
      : alloc(a), n(static_cast<std::int64_t>(host.size())),
        ptr(static_cast<T*>(a.allocate(host.size() * sizeof(T)))) {
    VOXNN_CUDA_CHECK(cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~DeviceBuffer() { alloc.deallocate(ptr); }
  std::vector<T> to_host() const {
    std::vector<T> host(n);
    VOXNN_CUDA_CHECK(cudaMemcpy(host.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
};

template <class T>
std::vector<T> ramp(std::int64_t n, T scale) {
  std::vector<T> v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = scale * static_cast<T>(i % 1000) - T(3);
  return v;
}

// One size below a block, one ragged size, and one beyond the 65535-block cap to exercise the
// grid-stride loop.
const std::int64_t kSizes[] = {7, 1000003, 65535LL * 256 + 333};

}  // namespace

TEST_CASE("device_count sees the GPU the runner checked for", "[runtime]") {
  REQUIRE(vc::device_count() > 0);
  REQUIRE(vc::current_device() >= 0);
}

TEST_CASE("check throws voxnn::Error naming the call and the CUDA error", "[runtime]") {
  const int bad = vc::device_count();
  REQUIRE_THROWS_WITH(VOXNN_CUDA_CHECK(cudaSetDevice(bad)),
                      Catch::Contains("cudaSetDevice") && Catch::Contains("cudaErrorInvalidDevice"));
  // The error was cleared: the next call succeeds.
  REQUIRE_NOTHROW(VOXNN_CUDA_CHECK(cudaSetDevice(0)));
}

TEMPLATE_TEST_CASE("fill matches a CPU loop", "[kernels]", float, double) {
  vc::DeviceAllocator alloc;
  for (std::int64_t n : kSizes) {
    DeviceBuffer<TestType> buf(alloc, std::vector<TestType>(n, TestType(0)));
    vc::fill(buf.ptr, TestType(2.5), n);
    const auto host = buf.to_host();
    std::int64_t wrong = 0;
    for (auto v : host) wrong += v != TestType(2.5);
    CAPTURE(n);
    REQUIRE(wrong == 0);
  }
}

TEMPLATE_TEST_CASE("axpy matches a CPU loop", "[kernels]", float, double) {
  vc::DeviceAllocator alloc;
  for (std::int64_t n : kSizes) {
    const auto x = ramp<TestType>(n, TestType(0.5));
    auto y = ramp<TestType>(n, TestType(-0.25));
    DeviceBuffer<TestType> dx(alloc, x), dy(alloc, y);
    vc::axpy(TestType(3), dx.ptr, dy.ptr, n);
    const auto got = dy.to_host();
    for (std::int64_t i = 0; i < n; ++i) y[i] = TestType(3) * x[i] + y[i];
    CAPTURE(n);
    REQUIRE(got == y);  // inputs are small multiples of 1/4: exact with or without FMA
  }
}

TEMPLATE_TEST_CASE("add matches a CPU loop, also in place", "[kernels]", float, double) {
  vc::DeviceAllocator alloc;
  for (std::int64_t n : kSizes) {
    const auto a = ramp<TestType>(n, TestType(1.5));
    const auto b = ramp<TestType>(n, TestType(0.125));
    DeviceBuffer<TestType> da(alloc, a), db(alloc, b), dout(alloc, std::vector<TestType>(n));
    vc::add(da.ptr, db.ptr, dout.ptr, n);
    vc::add(da.ptr, db.ptr, da.ptr, n);
    std::vector<TestType> want(n);
    for (std::int64_t i = 0; i < n; ++i) want[i] = a[i] + b[i];
    CAPTURE(n);
    REQUIRE(dout.to_host() == want);
    REQUIRE(da.to_host() == want);
  }
}

TEST_CASE("DeviceAllocator reuses freed blocks of the same size class", "[allocator]") {
  vc::DeviceAllocator alloc;
  void* p = alloc.allocate(1 << 20);
  REQUIRE(p != nullptr);
  REQUIRE(alloc.allocated_bytes() == std::size_t{1} << 20);
  alloc.deallocate(p);
  REQUIRE(alloc.cached_bytes() == std::size_t{1} << 20);

  void* q = alloc.allocate((1 << 20) - 100);  // same class: no new cudaMalloc
  REQUIRE(q == p);
  REQUIRE(alloc.cached_bytes() == 0);
  REQUIRE(alloc.allocated_bytes() == std::size_t{1} << 20);

  void* r = alloc.allocate(3 << 20);  // a different class
  REQUIRE(r != q);
  alloc.deallocate(q);
  alloc.deallocate(r);
  alloc.release_cached();
  REQUIRE(alloc.cached_bytes() == 0);
  REQUIRE(alloc.allocated_bytes() == 0);
}

TEST_CASE("DeviceAllocator rejects pointers it does not own", "[allocator]") {
  vc::DeviceAllocator alloc;
  int local = 0;
  REQUIRE_THROWS_AS(alloc.deallocate(&local), voxnn::Error);
  REQUIRE(alloc.allocate(0) == nullptr);
}
