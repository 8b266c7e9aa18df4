#pragma once
// One example on its way to a network, and the shape of the transforms that change it.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "voxnn/core/random.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::data {

// Channel-first, like MONAI's dictionaries after EnsureChannelFirst: image [C, X, Y, Z]; the label,
// when present, is [L, X, Y, Z] on the same voxel grid (L = 1 for a label-index map, K when one-hot),
// so a spatial transform moves both together. `affine` is the grid's voxel-to-world map and spatial
// transforms keep it true; `target` holds per-example values such as an age; `id` says where the
// example came from (a path or an index) for logs.
template <Real T = float>
struct Sample {
  Tensor<T> image;
  std::optional<Tensor<T>> label;
  std::vector<T> target;
  io::Affine affine;
  std::string id;
};

// A transform changes a sample in place. Random ones draw only from the generator they are given,
// so a sample's augmentation depends on its seed, not on which thread ran it or when.
template <Real T = float>
using Transform = std::function<void(Sample<T>&, Generator&)>;

}  // namespace voxnn::data
