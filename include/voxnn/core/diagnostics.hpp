#pragma once
// Compiler-specific pragmas behind macros, so that one header serves g++, clang and nvcc.
// Silences GCC's -W(maybe-)uninitialized around code that inlines Eigen's AVX-512 packets: GCC 12
// sees the intrinsics' undefined pass-through operand (rsqrt14, unaligned loads) as uninitialised,
// though every lane is defined. Used as a BEGIN/END pair around the affected definitions.
#if defined(__GNUC__) && !defined(__clang__)
#define VOXNN_EIGEN_AVX512_WARNINGS_BEGIN \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"") \
      _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#define VOXNN_EIGEN_AVX512_WARNINGS_END _Pragma("GCC diagnostic pop")
#else
#define VOXNN_EIGEN_AVX512_WARNINGS_BEGIN
#define VOXNN_EIGEN_AVX512_WARNINGS_END
#endif

// VOXNN_UNROLL(n): asks GCC to unroll the next loop n times (register-blocked micro-kernels, whose
// accumulator arrays must become registers). Empty elsewhere: nvcc's front end warns about the GCC
// pragma in host code, and other compilers unroll such constant-bound loops on their own.
#define VOXNN_PRAGMA(x) _Pragma(#x)
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define VOXNN_UNROLL(n) VOXNN_PRAGMA(GCC unroll n)
#else
#define VOXNN_UNROLL(n)
#endif
