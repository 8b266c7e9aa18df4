#pragma once
// Thin OpenMP wrappers: a build without OpenMP runs the same loops on one thread.
#include <algorithm>
#include <cstdint>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace voxnn {

inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline void set_num_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n > 0 ? n : 1);
#else
  (void)n;
#endif
}

// The calling thread's index inside a parallel region (0 outside one).
inline int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

inline bool in_parallel_region() {
#ifdef _OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}

// Below this many elements of simple work a loop stays on one thread: forking costs more than it saves.
inline constexpr int64_t kParallelGrain = 32768;

// Splits [begin, end) into one contiguous chunk per thread and calls body(chunk_begin, chunk_end).
// Runs serially when the range is shorter than `grain` or when already inside a parallel region.
template <class Body>
void parallel_for(int64_t begin, int64_t end, int64_t grain, Body&& body) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int threads = num_threads();
  if (threads <= 1 || n < grain || in_parallel_region()) {
    body(begin, end);
    return;
  }
#ifdef _OPENMP
  const int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t b = begin + n * c / chunks, e = begin + n * (c + 1) / chunks;
    body(b, e);
  }
#endif
}

// Calls body(i) for each i in [begin, end), handing items to threads one at a time as they finish: for
// few, heavy items (a convolution's tiles), where a static split would leave every thread waiting
// for the slowest one, e.g. one sharing its core with another process.
template <class Body>
void parallel_for_each_dynamic(int64_t begin, int64_t end, Body&& body) {
  if (end - begin <= 1 || num_threads() <= 1 || in_parallel_region()) {
    for (int64_t i = begin; i < end; ++i) body(i);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = begin; i < end; ++i) body(i);
#endif
}

}  // namespace voxnn
