#pragma once
// The grid the 3D examples put their generated brain phantoms on: n^3 voxels over a 192 mm field of
// view, rendered at twice the resolution and averaged (partial volume at the edges), written to NIfTI
// with an affine that viewers show the right way up.
#include <cstdint>

#include "voxnn/core/factory.hpp"
#include "voxnn/io/nifti.hpp"

namespace voxnn::examples {

// Voxel to world for the phantom's array axes (z, y downwards, x): 192 mm field of view, centred;
// i runs towards superior, j towards posterior, k towards the subject's right.
inline io::Affine phantom_affine(int64_t n) {
  const double s = 192.0 / static_cast<double>(n), c = (static_cast<double>(n) - 1) / 2;
  io::Affine a;
  a.m = {{{0, 0, s, -s * c}, {0, -s, 0, s * c}, {s, 0, 0, -s * c}, {0, 0, 0, 1}}};
  return a;
}

// A phantom-grid tensor of n^3 values (any leading dims of size 1) as a volume to write.
template <class T>
io::Volume<T> phantom_volume(const Tensor<T>& t, int64_t n) {
  return {t.contiguous().reshape({n, n, n}), phantom_affine(n)};
}

// Partial volume: each voxel of the (n, n, n) result is the mean of its 2x2x2 voxels of `fine`, a
// contiguous (2n)^3 array.
inline Tensor<float> average_2x2x2(const float* fine, int64_t n) {
  Tensor<float> out = zeros<float>({n, n, n});
  float* o = out.data();
  const int64_t m = 2 * n;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < n; ++k) {
        float s = 0;
        for (int64_t a = 0; a < 2; ++a)
          for (int64_t b = 0; b < 2; ++b)
            for (int64_t c = 0; c < 2; ++c) s += fine[((2 * i + a) * m + 2 * j + b) * m + 2 * k + c];
        o[(i * n + j) * n + k] = s / 8;
      }
  return out;
}

}  // namespace voxnn::examples
