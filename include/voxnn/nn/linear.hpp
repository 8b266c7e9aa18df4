#pragma once
// Linear: y = x W^T + b with weight [out_features, in_features], as torch.nn.Linear.
#include "voxnn/autograd/functions/linalg.hpp"
#include "voxnn/nn/init.hpp"
#include "voxnn/nn/module.hpp"

namespace voxnn::nn {

struct LinearOptions {
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool bias = true;
};

template <Real T, Device D = Cpu>
class Linear : public Module<T, D> {
 public:
  using Options = LinearOptions;
  Var<T, D> weight, bias;

  explicit Linear(const Options& o) : Linear(nullptr, "", o) {}
  Linear(Module<T, D>* parent, std::string name, const Options& o) : Module<T, D>(parent, std::move(name)), options(o) {
    VOXNN_CHECK(o.in_features > 0 && o.out_features > 0, "Linear: in_features and out_features must be positive, got ",
                o.in_features, " and ", o.out_features);
    this->register_parameter("weight", &weight, empty<T, D>({o.out_features, o.in_features}));
    init::default_weight_(weight.mutable_value());
    if (o.bias) {
      this->register_parameter("bias", &bias, empty<T, D>({o.out_features}));
      init::default_bias_(bias.mutable_value(), weight.shape());
    }
  }
  Var<T, D> forward(const Var<T, D>& x) override {
    VOXNN_CHECK(x.dim() >= 1 && x.shape()[x.dim() - 1] == options.in_features, "Linear: input of shape ", x.shape(),
                " does not end in in_features = ", options.in_features);
    return linear(x, weight, bias);
  }
  std::string type_name() const override { return "Linear"; }

  const Options options;
};

}  // namespace voxnn::nn
