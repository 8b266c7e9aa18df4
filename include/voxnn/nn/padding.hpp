#pragma once
// Padding modules as torch.nn's: ConstantPad1d/2d/3d, ZeroPad1d/2d/3d, ReflectionPad1d/2d/3d,
// ReplicationPad1d/2d/3d and CircularPad1d/2d/3d (the last, and ZeroPad1d/3d, are from later PyTorch
// releases), all forwarding to pad(); plus CenterCrop. `padding` is one size for every side or 2 * N
// sizes in PyTorch's order (left, right, top, bottom, front, back):
//   nn::ReflectionPad3d<float> pad({.padding = 1});
//   nn::ConstantPad2d<float> pad({.padding = {1, 2, 0, 3}, .value = -1});
#include <string>
#include <type_traits>
#include <vector>

#include "voxnn/autograd/functions/pad.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/core/expanding_array.hpp"

namespace voxnn::nn {

template <int N>
struct PadOptions {
  ExpandingArray<2 * N> padding = 0;
};
template <int N>
struct ConstantPadOptions {
  ExpandingArray<2 * N> padding = 0;
  double value = 0;
};

enum class PadKind { constant, zero, reflection, replication, circular };

template <int N, PadKind K, Real T, Device D = Cpu>
class PadNd : public ModuleWithOptions<T, D, std::conditional_t<K == PadKind::constant, ConstantPadOptions<N>, PadOptions<N>>> {
  static_assert(N >= 1 && N <= 3, "PadNd: 1, 2 or 3 padded dims");
  using Base = ModuleWithOptions<T, D, std::conditional_t<K == PadKind::constant, ConstantPadOptions<N>, PadOptions<N>>>;

 public:
  using Base::Base;
  Var<T, D> forward(const Var<T, D>& x) override {
    const std::vector<int64_t> p = this->options.padding.vector();
    if constexpr (K == PadKind::constant) return pad(x, p, "constant", this->options.value);
    else if constexpr (K == PadKind::zero) return pad(x, p, "constant", 0);
    else if constexpr (K == PadKind::reflection) return pad(x, p, "reflect");
    else if constexpr (K == PadKind::replication) return pad(x, p, "replicate");
    else return pad(x, p, "circular");
  }
  std::string type_name() const override {
    const char* kind = K == PadKind::constant      ? "ConstantPad"
                       : K == PadKind::zero        ? "ZeroPad"
                       : K == PadKind::reflection  ? "ReflectionPad"
                       : K == PadKind::replication ? "ReplicationPad"
                                                   : "CircularPad";
    return kind + std::to_string(N) + "d";
  }
};

template <Real T, Device D = Cpu> using ConstantPad1d = PadNd<1, PadKind::constant, T, D>;
template <Real T, Device D = Cpu> using ConstantPad2d = PadNd<2, PadKind::constant, T, D>;
template <Real T, Device D = Cpu> using ConstantPad3d = PadNd<3, PadKind::constant, T, D>;
template <Real T, Device D = Cpu> using ZeroPad1d = PadNd<1, PadKind::zero, T, D>;
template <Real T, Device D = Cpu> using ZeroPad2d = PadNd<2, PadKind::zero, T, D>;
template <Real T, Device D = Cpu> using ZeroPad3d = PadNd<3, PadKind::zero, T, D>;
template <Real T, Device D = Cpu> using ReflectionPad1d = PadNd<1, PadKind::reflection, T, D>;
template <Real T, Device D = Cpu> using ReflectionPad2d = PadNd<2, PadKind::reflection, T, D>;
template <Real T, Device D = Cpu> using ReflectionPad3d = PadNd<3, PadKind::reflection, T, D>;
template <Real T, Device D = Cpu> using ReplicationPad1d = PadNd<1, PadKind::replication, T, D>;
template <Real T, Device D = Cpu> using ReplicationPad2d = PadNd<2, PadKind::replication, T, D>;
template <Real T, Device D = Cpu> using ReplicationPad3d = PadNd<3, PadKind::replication, T, D>;
template <Real T, Device D = Cpu> using CircularPad1d = PadNd<1, PadKind::circular, T, D>;
template <Real T, Device D = Cpu> using CircularPad2d = PadNd<2, PadKind::circular, T, D>;
template <Real T, Device D = Cpu> using CircularPad3d = PadNd<3, PadKind::circular, T, D>;

// CenterCrop: the centred crop of the trailing size.size() dims (start floor((in - size) / 2)), a
// view; e.g. cropping an encoder feature map to its decoder partner in a U-Net without padding.
struct CenterCropOptions {
  std::vector<int64_t> size{};
};
template <Real T, Device D = Cpu>
class CenterCrop : public ModuleWithOptions<T, D, CenterCropOptions> {
 public:
  using ModuleWithOptions<T, D, CenterCropOptions>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override { return center_crop(x, this->options.size); }
  std::string type_name() const override { return "CenterCrop"; }
};

}  // namespace voxnn::nn
