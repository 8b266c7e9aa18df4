#pragma once
// Dropout: active in training mode only, with its own generator so runs are reproducible.
#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/nn/module.hpp"

namespace voxnn::nn {

struct DropoutOptions {
  double p = 0.5;
};

template <Real T, Device D = Cpu>
class Dropout : public Module<T, D> {
 public:
  using Options = DropoutOptions;
  explicit Dropout(const Options& o = {}) : Dropout(nullptr, "", o) {}
  Dropout(Module<T, D>* parent, std::string name, const Options& o = {})
      : Module<T, D>(parent, std::move(name)), options(o) {
    VOXNN_CHECK(o.p >= 0 && o.p <= 1, "Dropout: p must be in [0, 1], got ", o.p);
  }
  Var<T, D> forward(const Var<T, D>& x) override { return dropout(x, options.p, this->is_training()); }
  std::string type_name() const override { return "Dropout"; }
  const Options options;
};

}  // namespace voxnn::nn
