#pragma once
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
