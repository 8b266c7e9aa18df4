// Core throughput benchmarks: elementwise add / mul-add on 64 Mi floats against the copy bandwidth this
// same binary measures, and a 2048^3 float matmul against the raw GEMMs the build links (Eigen, and
// OpenBLAS's cblas_sgemm when VOXNN_USE_CBLAS is defined).
//
// Protocol (docs/benchmarks.md, defaults in protocol.hpp): every benchmark warms up for 0.3 s, runs 5
// repetitions and reports the median (plus mean/stddev/cv) of wall-clock time. Threads: voxnn::num_threads()
// for voxnn and the copy references, the library default for the GEMMs; all are printed in the context.
// Each benchmark sets `bytes` (bytes moved per iteration, reads + writes) or `flops` (per iteration) as a
// plain counter, so bench/compare_pytorch.py can recompute rates from the median time.
//
// Build: as voxnn_bench_core by bench/CMakeLists.txt, or by hand:
//   g++ -std=c++20 -O3 -march=native -fopenmp -Iinclude -I/usr/include/eigen3 bench/bench_core.cpp
//       -lbenchmark -lpthread -o /tmp/bench_core   (OpenBLAS: add -DVOXNN_USE_CBLAS ... -lopenblas)
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include <Eigen/Core>

#include "voxnn/voxnn.hpp"

#include "protocol.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace {

using voxnn::Tensor;
namespace ops = voxnn::ops;

constexpr int64_t kElems = int64_t{64} << 20;  // 64 Mi floats = 256 MiB per tensor
constexpr double kTensorBytes = static_cast<double>(kElems) * sizeof(float);
constexpr int64_t kGemm = 2048;
constexpr double kGemmFlops = 2.0 * kGemm * kGemm * kGemm;

// Operands are created once and shared: four 64 Mi-float tensors (1 GiB) and three 2048^2 matrices.
struct Elementwise {
  Tensor<float> a, b, c, out;
  Elementwise() {
    voxnn::Generator gen(1234);
    a = voxnn::rand<float>({kElems}, gen);
    b = voxnn::rand<float>({kElems}, gen);
    c = voxnn::rand<float>({kElems}, gen);
    out = voxnn::zeros<float>({kElems});  // touched, so page faults are not timed
  }
  static Elementwise& get() {
    static Elementwise e;
    return e;
  }
};

struct Gemm {
  Tensor<float> a, b, c;
  Gemm() {
    voxnn::Generator gen(99);
    a = voxnn::randn<float>({kGemm, kGemm}, gen);
    b = voxnn::randn<float>({kGemm, kGemm}, gen);
    c = voxnn::zeros<float>({kGemm, kGemm});
  }
  static Gemm& get() {
    static Gemm g;
    return g;
  }
};

void set_bytes(benchmark::State& state, double bytes_per_iter) {
  state.SetBytesProcessed(static_cast<int64_t>(bytes_per_iter) * state.iterations());
  state.counters["bytes"] = bytes_per_iter;
  state.counters["nthreads"] = voxnn::num_threads();
}
void set_flops(benchmark::State& state, double flops_per_iter, int threads) {
  state.counters["flops"] = flops_per_iter;
  state.counters["GFLOPS"] = benchmark::Counter(flops_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["nthreads"] = threads;
}

// ---- copy-bandwidth references ----------------------------------------------------------------------
// memcpy over voxnn::num_threads() threads, one contiguous part per thread. Bytes: one read + one write
// per element. (On the 2-core Zen 4 guest of docs/benchmarks.md glibc's memcpy reaches only about
// 60 % of the streaming copy below.)
void BM_copy_memcpy_threads(benchmark::State& state) {
  auto& e = Elementwise::get();
  const float* src = e.a.data();
  float* dst = e.out.data();
  const int threads = voxnn::num_threads();
  for (auto _ : state) {
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
      const int t = 0, nt = 1;
#endif
      const int64_t b = kElems * t / nt, en = kElems * (t + 1) / nt;
      std::memcpy(dst + b, src + b, static_cast<std::size_t>(en - b) * sizeof(float));
    }
    benchmark::ClobberMemory();
  }
  set_bytes(state, 2 * kTensorBytes);
}

// A streaming copy: aligned vector loads and non-temporal stores, which skip the read-for-ownership of
// the destination. Usually the fastest copy a program can do, so the strictest reference.
void BM_copy_stream_threads(benchmark::State& state) {
  auto& e = Elementwise::get();
  const float* src = e.a.data();  // 64-byte aligned by the host allocator
  float* dst = e.out.data();
  for (auto _ : state) {
#if defined(__AVX__)
    constexpr int64_t kStep = 8;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < kElems; i += kStep) _mm256_stream_ps(dst + i, _mm256_load_ps(src + i));
    _mm_sfence();
#elif defined(__SSE2__)
    constexpr int64_t kStep = 4;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < kElems; i += kStep) _mm_stream_ps(dst + i, _mm_load_ps(src + i));
    _mm_sfence();
#else
    std::memcpy(dst, src, static_cast<std::size_t>(kElems) * sizeof(float));
#endif
    benchmark::ClobberMemory();
  }
  set_bytes(state, 2 * kTensorBytes);
}

void BM_copy_memcpy_1thread(benchmark::State& state) {
  auto& e = Elementwise::get();
  for (auto _ : state) {
    std::memcpy(e.out.data(), e.a.data(), static_cast<std::size_t>(kElems) * sizeof(float));
    benchmark::ClobberMemory();
  }
  set_bytes(state, 2 * kTensorBytes);
  state.counters["nthreads"] = 1;
}

// voxnn's own copy (Tensor::copy_), for comparison with torch's copy_.
void BM_copy_voxnn(benchmark::State& state) {
  auto& e = Elementwise::get();
  for (auto _ : state) {
    e.out.copy_(e.a);
    benchmark::ClobberMemory();
  }
  set_bytes(state, 2 * kTensorBytes);
}

// ---- elementwise add --------------------------------------------------------------------------------
// Fresh output: a new tensor per call. The caching allocator hands back last iteration's block, which is
// the steady state of a training loop.
void BM_add_fresh(benchmark::State& state) {
  auto& e = Elementwise::get();
  for (auto _ : state) {
    Tensor<float> r = ops::add(e.a, e.b);
    benchmark::DoNotOptimize(r.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, 3 * kTensorBytes);
}

void BM_add_out(benchmark::State& state) {
  auto& e = Elementwise::get();
  for (auto _ : state) {
    ops::add_out(e.out, e.a, e.b);
    benchmark::ClobberMemory();
  }
  set_bytes(state, 3 * kTensorBytes);
}

void BM_add_inplace(benchmark::State& state) {
  auto& e = Elementwise::get();
  for (auto _ : state) {
    ops::add_(e.out, e.b);  // out += b: reads out and b, writes out
    benchmark::ClobberMemory();
  }
  set_bytes(state, 3 * kTensorBytes);
}

// ---- mul-add (addcmul: c + a * b) ----------------------------------------------------------------
void BM_addcmul_fresh(benchmark::State& state) {
  auto& e = Elementwise::get();
  for (auto _ : state) {
    Tensor<float> r = ops::addcmul(e.c, e.a, e.b, 0.5f);
    benchmark::DoNotOptimize(r.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, 4 * kTensorBytes);
}

void BM_addcmul_inplace(benchmark::State& state) {
  auto& e = Elementwise::get();
  for (auto _ : state) {
    ops::addcmul_(e.out, e.a, e.b, 0.5f);  // out += 0.5 * a * b: reads out, a, b, writes out
    benchmark::ClobberMemory();
  }
  set_bytes(state, 4 * kTensorBytes);
}

// ---- matmul 2048^3 ------------------------------------------------------------------------------
void BM_matmul_voxnn(benchmark::State& state) {
  auto& g = Gemm::get();
  for (auto _ : state) {
    Tensor<float> r = ops::matmul(g.a, g.b);
    benchmark::DoNotOptimize(r.data());
    benchmark::ClobberMemory();
  }
#ifdef VOXNN_USE_CBLAS
  set_flops(state, kGemmFlops, openblas_get_num_threads());
#else
  set_flops(state, kGemmFlops, Eigen::nbThreads());
#endif
}

// Raw Eigen product on the same buffers (what voxnn's gemm uses without VOXNN_USE_CBLAS).
void BM_gemm_eigen(benchmark::State& state) {
  auto& g = Gemm::get();
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const Mat> A(g.a.data(), kGemm, kGemm), B(g.b.data(), kGemm, kGemm);
  Eigen::Map<Mat> C(g.c.data(), kGemm, kGemm);
  for (auto _ : state) {
    C.noalias() = A * B;
    benchmark::ClobberMemory();
  }
  set_flops(state, kGemmFlops, Eigen::nbThreads());
}

#ifdef VOXNN_USE_CBLAS
void BM_gemm_cblas(benchmark::State& state) {
  auto& g = Gemm::get();
  const auto n = static_cast<blasint>(kGemm);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, g.a.data(), n, g.b.data(), n, 0.0f,
                g.c.data(), n);
    benchmark::ClobberMemory();
  }
  set_flops(state, kGemmFlops, openblas_get_num_threads());
}
#endif

// Warm-up, repetitions and aggregates come from protocol.hpp's default flags; wall-clock time because
// the work is spread over OpenMP (or OpenBLAS) threads.
#define VOXNN_BENCH(fn) BENCHMARK(fn)->UseRealTime()->Unit(benchmark::kMillisecond)

VOXNN_BENCH(BM_copy_memcpy_threads);
VOXNN_BENCH(BM_copy_memcpy_1thread);
VOXNN_BENCH(BM_copy_stream_threads);
VOXNN_BENCH(BM_copy_voxnn);
VOXNN_BENCH(BM_add_fresh);
VOXNN_BENCH(BM_add_out);
VOXNN_BENCH(BM_add_inplace);
VOXNN_BENCH(BM_addcmul_fresh);
VOXNN_BENCH(BM_addcmul_inplace);
VOXNN_BENCH(BM_matmul_voxnn);
VOXNN_BENCH(BM_gemm_eigen);
#ifdef VOXNN_USE_CBLAS
VOXNN_BENCH(BM_gemm_cblas);
#endif

std::string blas_name() {
#ifdef VOXNN_USE_CBLAS
#ifdef OPENBLAS_VERSION
  std::string config = openblas_get_config();
  return "OpenBLAS cblas_sgemm (" + config + ", " + std::to_string(openblas_get_num_threads()) + " threads)";
#else
  return "CBLAS cblas_sgemm";
#endif
#else
  return "Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
         std::to_string(EIGEN_MINOR_VERSION) + " (" + std::to_string(Eigen::nbThreads()) + " threads)";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::AddCustomContext("eigen_threads", std::to_string(Eigen::nbThreads()));
  benchmark::AddCustomContext("blas", blas_name());
  benchmark::AddCustomContext("elements", std::to_string(kElems) + " floats per elementwise operand");
  return voxnn::bench::run_main(argc, argv);
}
