#pragma once
// PixelShuffle / PixelUnshuffle (torch.nn, 2-D) and VoxelShuffle / VoxelUnshuffle (3-D): sub-pixel
// rearrangement between channels and space; channel order in include/voxnn/ops/shuffle.hpp.
//   nn::VoxelShuffle<float> up({.upscale_factor = 2});   // (N, 8C, D, H, W) -> (N, C, 2D, 2H, 2W)
#include <string>
#include <type_traits>

#include "voxnn/autograd/functions/shuffle.hpp"
#include "voxnn/nn/module.hpp"

namespace voxnn::nn {

struct PixelShuffleOptions {
  int64_t upscale_factor = 0;
};
struct PixelUnshuffleOptions {
  int64_t downscale_factor = 0;
};

// Shuffle (Up = true) or unshuffle over N = 2 (pixel) or 3 (voxel) spatial dims.
template <int N, bool Up, Real T, Device D = Cpu>
class ShuffleNd : public ModuleWithOptions<T, D, std::conditional_t<Up, PixelShuffleOptions, PixelUnshuffleOptions>> {
  static_assert(N == 2 || N == 3, "ShuffleNd: 2 (pixel) or 3 (voxel) spatial dims");
  using Base = ModuleWithOptions<T, D, std::conditional_t<Up, PixelShuffleOptions, PixelUnshuffleOptions>>;

 public:
  explicit ShuffleNd(const typename Base::Options& o = {}) : ShuffleNd(nullptr, "", o) {}
  ShuffleNd(Module<T, D>* parent, std::string name, const typename Base::Options& o = {})
      : Base(parent, std::move(name), o) {
    VOXNN_CHECK(factor() > 0, type_name(), ": the factor must be positive, got ", factor());
  }
  Var<T, D> forward(const Var<T, D>& x) override {
    if constexpr (N == 2) return Up ? pixel_shuffle(x, factor()) : pixel_unshuffle(x, factor());
    else return Up ? voxel_shuffle(x, factor()) : voxel_unshuffle(x, factor());
  }
  std::string type_name() const override {
    return std::string(N == 2 ? "Pixel" : "Voxel") + (Up ? "Shuffle" : "Unshuffle");
  }

 private:
  int64_t factor() const {
    if constexpr (Up) return this->options.upscale_factor;
    else return this->options.downscale_factor;
  }
};

template <Real T, Device D = Cpu> using PixelShuffle = ShuffleNd<2, true, T, D>;
template <Real T, Device D = Cpu> using PixelUnshuffle = ShuffleNd<2, false, T, D>;
template <Real T, Device D = Cpu> using VoxelShuffle = ShuffleNd<3, true, T, D>;
template <Real T, Device D = Cpu> using VoxelUnshuffle = ShuffleNd<3, false, T, D>;

}  // namespace voxnn::nn
