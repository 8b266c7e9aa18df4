#pragma once
// Identity and Flatten: parameter-free shape modules.
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/nn/module.hpp"

namespace voxnn::nn {

template <Real T, Device D = Cpu>
class Identity : public Module<T, D> {
 public:
  Identity() = default;
  Identity(Module<T, D>* parent, std::string name) : Module<T, D>(parent, std::move(name)) {}
  Var<T, D> forward(const Var<T, D>& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

struct FlattenOptions {
  int64_t start_dim = 1;
  int64_t end_dim = -1;
};

template <Real T, Device D = Cpu>
class Flatten : public ModuleWithOptions<T, D, FlattenOptions> {
 public:
  using ModuleWithOptions<T, D, FlattenOptions>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override {
    return flatten(x, this->options.start_dim, this->options.end_dim);
  }
  std::string type_name() const override { return "Flatten"; }
};

}  // namespace voxnn::nn
