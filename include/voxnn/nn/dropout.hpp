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

// Dropout1d / Dropout2d / Dropout3d: channel dropout (dropout1d / dropout2d / dropout3d), zeroing whole
// channels in training mode only. Dropout2d keeps PyTorch 1.13's reading of a 3-dim input as (N, C, L).
template <int N, Real T, Device D = Cpu>
class DropoutNd : public Module<T, D> {
  static_assert(N >= 1 && N <= 3, "DropoutNd: 1, 2 or 3 spatial dims");

 public:
  using Options = DropoutOptions;
  explicit DropoutNd(const Options& o = {}) : DropoutNd(nullptr, "", o) {}
  DropoutNd(Module<T, D>* parent, std::string name, const Options& o = {})
      : Module<T, D>(parent, std::move(name)), options(o) {
    VOXNN_CHECK(o.p >= 0 && o.p <= 1, type_name(), ": p must be in [0, 1], got ", o.p);
  }
  Var<T, D> forward(const Var<T, D>& x) override {
    if constexpr (N == 1) return dropout1d(x, options.p, this->is_training());
    else if constexpr (N == 2) return dropout2d(x, options.p, this->is_training());
    else return dropout3d(x, options.p, this->is_training());
  }
  std::string type_name() const override { return "Dropout" + std::to_string(N) + "d"; }
  const Options options;
};
template <Real T, Device D = Cpu>
using Dropout1d = DropoutNd<1, T, D>;
template <Real T, Device D = Cpu>
using Dropout2d = DropoutNd<2, T, D>;
template <Real T, Device D = Cpu>
using Dropout3d = DropoutNd<3, T, D>;

}  // namespace voxnn::nn
