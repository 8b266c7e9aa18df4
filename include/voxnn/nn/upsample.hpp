#pragma once
// Upsample as torch.nn.Upsample: interpolate() with fixed options (size or scale_factor, mode,
// align_corners, recompute_scale_factor), e.g.
//   nn::Upsample<float> up({.scale_factor = 2, .mode = "trilinear", .align_corners = false});
#include <string>

#include "voxnn/autograd/functions/interpolate.hpp"
#include "voxnn/nn/module.hpp"

namespace voxnn::nn {

using UpsampleOptions = InterpolateOptions;

template <Real T, Device D = Cpu>
class Upsample : public ModuleWithOptions<T, D, UpsampleOptions> {
  using Base = ModuleWithOptions<T, D, UpsampleOptions>;

 public:
  explicit Upsample(const UpsampleOptions& o = {}) : Upsample(nullptr, "", o) {}
  Upsample(Module<T, D>* parent, std::string name, const UpsampleOptions& o = {}) : Base(parent, std::move(name), o) {
    VOXNN_CHECK(o.size.empty() != o.scale_factor.empty(), "Upsample: give exactly one of size and scale_factor");
  }
  Var<T, D> forward(const Var<T, D>& x) override { return interpolate(x, this->options); }
  std::string type_name() const override { return "Upsample"; }
};

}  // namespace voxnn::nn
