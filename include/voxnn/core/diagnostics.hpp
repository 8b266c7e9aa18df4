#pragma once
// Silences GCC's -Wmaybe-uninitialized around code that inlines Eigen's AVX-512 math: GCC 12 sees the
// intrinsics' undefined pass-through operand (e.g. rsqrt14) as maybe uninitialised, though every
// lane is defined. Used as a BEGIN/END pair around the affected definitions.
#if defined(__GNUC__) && !defined(__clang__)
#define VOXNN_EIGEN_AVX512_WARNINGS_BEGIN \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define VOXNN_EIGEN_AVX512_WARNINGS_END _Pragma("GCC diagnostic pop")
#else
#define VOXNN_EIGEN_AVX512_WARNINGS_BEGIN
#define VOXNN_EIGEN_AVX512_WARNINGS_END
#endif
