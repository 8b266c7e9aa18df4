#pragma once
// Differentiable pixel_shuffle / pixel_unshuffle (2-D, as torch.nn.functional) and voxel_shuffle /
// voxel_unshuffle (3-D); the channel order is documented in include/voxnn/ops/shuffle.hpp. Each is a
// permutation of elements, so its backward is the inverse rearrangement.
#include <vector>

#include "voxnn/autograd/var.hpp"
#include "voxnn/ops/shuffle.hpp"

namespace voxnn {

template <Real T, Device D>
Var<T, D> pixel_unshuffle(const Var<T, D>& x, int64_t downscale_factor);
template <Real T, Device D>
Var<T, D> voxel_unshuffle(const Var<T, D>& x, int64_t downscale_factor);

template <Real T, Device D>
Var<T, D> pixel_shuffle(const Var<T, D>& x, int64_t upscale_factor) {
  return autograd::make_result<T, D>(ops::pixel_shuffle(x.value(), upscale_factor), "pixel_shuffle", {x},
                                     [upscale_factor](const auto&, const auto&, const auto& g) {
                                       return std::vector{pixel_unshuffle(g, upscale_factor)};
                                     });
}
template <Real T, Device D>
Var<T, D> pixel_unshuffle(const Var<T, D>& x, int64_t downscale_factor) {
  return autograd::make_result<T, D>(ops::pixel_unshuffle(x.value(), downscale_factor), "pixel_unshuffle", {x},
                                     [downscale_factor](const auto&, const auto&, const auto& g) {
                                       return std::vector{pixel_shuffle(g, downscale_factor)};
                                     });
}
template <Real T, Device D>
Var<T, D> voxel_shuffle(const Var<T, D>& x, int64_t upscale_factor) {
  return autograd::make_result<T, D>(ops::voxel_shuffle(x.value(), upscale_factor), "voxel_shuffle", {x},
                                     [upscale_factor](const auto&, const auto&, const auto& g) {
                                       return std::vector{voxel_unshuffle(g, upscale_factor)};
                                     });
}
template <Real T, Device D>
Var<T, D> voxel_unshuffle(const Var<T, D>& x, int64_t downscale_factor) {
  return autograd::make_result<T, D>(ops::voxel_unshuffle(x.value(), downscale_factor), "voxel_unshuffle", {x},
                                     [downscale_factor](const auto&, const auto&, const auto& g) {
                                       return std::vector{voxel_shuffle(g, downscale_factor)};
                                     });
}

}  // namespace voxnn
