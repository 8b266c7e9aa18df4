#pragma once
// The versioned inline namespace every voxnn CUDA symbol lives in (the trick CUB uses): two
// libraries built against different voxnn versions can be linked into one program without their
// kernels and launchers colliding as ODR violations, while users still spell voxnn::cuda::fill.
// Plain macros only, so host-only headers (runtime.hpp) may include it too.
#include <voxnn/version.hpp>

#define VOXNN_CUDA_NS_NAME_(major, minor, patch) v##major##_##minor##_##patch
#define VOXNN_CUDA_NS_NAME(major, minor, patch) VOXNN_CUDA_NS_NAME_(major, minor, patch)
#define VOXNN_CUDA_INLINE_NS \
  VOXNN_CUDA_NS_NAME(VOXNN_VERSION_MAJOR, VOXNN_VERSION_MINOR, VOXNN_VERSION_PATCH)

#define VOXNN_CUDA_NAMESPACE_BEGIN \
  namespace voxnn {                \
  namespace cuda {                 \
  inline namespace VOXNN_CUDA_INLINE_NS {
#define VOXNN_CUDA_NAMESPACE_END \
  }                              \
  }                              \
  }
