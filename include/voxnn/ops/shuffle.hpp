#pragma once
// Sub-pixel rearrangements: pixel_shuffle / pixel_unshuffle (torch.nn.functional, 2-D) and their
// volumetric analogue voxel_shuffle / voxel_unshuffle.
//
// pixel_shuffle(x, r): (*, C * r^2, H, W) -> (*, C, H * r, W * r), channel c * r^2 + i * r + j going
// to out[c, h * r + i, w * r + j], as PyTorch's.
// voxel_shuffle(x, r): (*, C * r^3, D, H, W) -> (*, C, D * r, H * r, W * r), the same rule with the
// channel split ordered (C, r_d, r_h, r_w): channel ((c * r + i) * r + j) * r + k goes to
// out[c, d * r + i, h * r + j, w * r + k], i.e.
//   x.reshape(*, C, r, r, r, D, H, W).permute(*, C, D, r_d, H, r_h, W, r_w).reshape(*, C, D*r, H*r, W*r).
// `*` is any number of leading (batch) dims, none included. The unshuffles are the inverses.
#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>

#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::ops {

namespace detail {

// The common geometry: leading dims flattened to B, spatial dims padded to three (size 1, factor 1).
struct ShuffleGeometry {
  int64_t batch = 1, channels = 1;  // of the input
  int64_t d = 1, h = 1, w = 1;      // spatial size of the input
  int64_t rd = 1, rh = 1, rw = 1;   // factors per axis
  Shape out;
};

inline ShuffleGeometry shuffle_geometry(const Shape& in, int64_t r, int spatial, bool unshuffle, const char* op) {
  VOXNN_CHECK(r > 0, op, ": the factor must be positive, got ", r);
  const char* layout = spatial == 2 ? "(*, C, H, W)" : "(*, C, D, H, W)";
  VOXNN_CHECK(in.size() >= spatial + 1, op, ": input has ", in.size(), " dims ", in, "; expected at least ",
              spatial + 1, " ", layout);
  ShuffleGeometry g;
  const int c = in.size() - spatial - 1;
  for (int i = 0; i < c; ++i) g.batch *= in[i];
  g.channels = in[c];
  int64_t block = 1;
  for (int i = 0; i < spatial; ++i) block *= r;
  std::array<int64_t, 3> size{1, 1, 1}, factor{1, 1, 1};
  for (int i = 0; i < spatial; ++i) {
    size[static_cast<std::size_t>(3 - spatial + i)] = in[c + 1 + i];
    factor[static_cast<std::size_t>(3 - spatial + i)] = r;
  }
  g.d = size[0], g.h = size[1], g.w = size[2];
  g.rd = factor[0], g.rh = factor[1], g.rw = factor[2];
  g.out = in;
  if (!unshuffle) {
    VOXNN_CHECK(g.channels % block == 0, op, ": the ", g.channels, " channels of input ", in,
                " are not divisible by the factor ", r, " to the power ", spatial, " (", block, ")");
    g.out[c] = g.channels / block;
    for (int i = 0; i < spatial; ++i) g.out[c + 1 + i] = in[c + 1 + i] * r;
  } else {
    for (int i = 0; i < spatial; ++i)
      VOXNN_CHECK(in[c + 1 + i] % r == 0, op, ": the spatial dims of input ", in, " are not divisible by the factor ",
                  r);
    g.out[c] = g.channels * block;
    for (int i = 0; i < spatial; ++i) g.out[c + 1 + i] = in[c + 1 + i] / r;
  }
  return g;
}

template <class T>
Tensor<T> shuffle(const Tensor<T>& input, int64_t r, int spatial, const char* op) {
  const ShuffleGeometry g = shuffle_geometry(input.shape(), r, spatial, false, op);
  const Tensor<T> x = input.contiguous();
  Tensor<T> out(g.out);
  const int64_t cout = g.channels / (g.rd * g.rh * g.rw);
  const int64_t Do = g.d * g.rd, Ho = g.h * g.rh, Wo = g.w * g.rw;
  const int64_t rows = g.batch * cout * Do * Ho;
  const T* px = x.data();
  T* po = out.data();
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(Wo, 1)), [&](int64_t rb, int64_t re) {
    for (int64_t row = rb; row < re; ++row) {
      const int64_t oh = row % Ho, od = row / Ho % Do, bc = row / Ho / Do;  // bc = b * cout + c
      const int64_t id = od / g.rd, i = od % g.rd, ih = oh / g.rh, j = oh % g.rh;
      T* o = po + row * Wo;
      for (int64_t k = 0; k < g.rw; ++k) {
        const int64_t ch = ((bc * g.rd + i) * g.rh + j) * g.rw + k;  // b * channels + channel
        const T* s = px + (ch * g.d + id) * g.h * g.w + ih * g.w;
        for (int64_t w = 0; w < g.w; ++w) o[w * g.rw + k] = s[w];
      }
    }
  });
  return out;
}

template <class T>
Tensor<T> unshuffle(const Tensor<T>& input, int64_t r, int spatial, const char* op) {
  const ShuffleGeometry g = shuffle_geometry(input.shape(), r, spatial, true, op);
  const Tensor<T> x = input.contiguous();
  Tensor<T> out(g.out);
  const int64_t Do = g.d / g.rd, Ho = g.h / g.rh, Wo = g.w / g.rw;
  const int64_t block = g.rd * g.rh * g.rw;
  const int64_t rows = g.batch * g.channels * block * Do * Ho;
  const T* px = x.data();
  T* po = out.data();
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(Wo, 1)), [&](int64_t rb, int64_t re) {
    for (int64_t row = rb; row < re; ++row) {
      const int64_t h = row % Ho, d = row / Ho % Do, bch = row / Ho / Do;  // b * channels * block + channel
      const int64_t k = bch % g.rw, j = bch / g.rw % g.rh, i = bch / g.rw / g.rh % g.rd, bc = bch / block;
      const T* s = px + (bc * g.d + d * g.rd + i) * g.h * g.w + (h * g.rh + j) * g.w + k;
      T* o = po + row * Wo;
      for (int64_t w = 0; w < Wo; ++w) o[w] = s[w * g.rw];
    }
  });
  return out;
}

}  // namespace detail

template <Real T, Device D>
Tensor<T, D> pixel_shuffle(const Tensor<T, D>& x, int64_t upscale_factor) {
  static_assert(std::is_same_v<D, Cpu>, "ops::pixel_shuffle: CPU only for now");
  return detail::shuffle(x, upscale_factor, 2, "pixel_shuffle");
}
template <Real T, Device D>
Tensor<T, D> pixel_unshuffle(const Tensor<T, D>& x, int64_t downscale_factor) {
  static_assert(std::is_same_v<D, Cpu>, "ops::pixel_unshuffle: CPU only for now");
  return detail::unshuffle(x, downscale_factor, 2, "pixel_unshuffle");
}
template <Real T, Device D>
Tensor<T, D> voxel_shuffle(const Tensor<T, D>& x, int64_t upscale_factor) {
  static_assert(std::is_same_v<D, Cpu>, "ops::voxel_shuffle: CPU only for now");
  return detail::shuffle(x, upscale_factor, 3, "voxel_shuffle");
}
template <Real T, Device D>
Tensor<T, D> voxel_unshuffle(const Tensor<T, D>& x, int64_t downscale_factor) {
  static_assert(std::is_same_v<D, Cpu>, "ops::voxel_unshuffle: CPU only for now");
  return detail::unshuffle(x, downscale_factor, 3, "voxel_unshuffle");
}

}  // namespace voxnn::ops
