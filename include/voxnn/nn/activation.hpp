#pragma once
// Activation modules: ReLU, LeakyReLU, PReLU (learned slope), ELU, GELU, SiLU, Sigmoid, Tanh,
// Softmax, LogSoftmax. Each wraps the differentiable function of the same name.
#include <string>

#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/nn/module.hpp"

namespace voxnn::nn {

// A parameter-free module whose forward is one function of its input.
#define VOXNN_ACTIVATION_MODULE(Name, call)                                                               \
  template <Real T, Device D = Cpu>                                                                       \
  class Name : public Module<T, D> {                                                                      \
   public:                                                                                                \
    Name() = default;                                                                                     \
    Name(Module<T, D>* parent, std::string name) : Module<T, D>(parent, std::move(name)) {}               \
    Var<T, D> forward(const Var<T, D>& x) override { return call; }                                       \
    std::string type_name() const override { return #Name; }                                              \
  };

VOXNN_ACTIVATION_MODULE(ReLU, relu(x))
VOXNN_ACTIVATION_MODULE(Sigmoid, sigmoid(x))
VOXNN_ACTIVATION_MODULE(Tanh, tanh(x))
VOXNN_ACTIVATION_MODULE(SiLU, silu(x))
#undef VOXNN_ACTIVATION_MODULE

struct LeakyReLUOptions {
  double negative_slope = 0.01;
};
template <Real T, Device D = Cpu>
class LeakyReLU : public ModuleWithOptions<T, D, LeakyReLUOptions> {
 public:
  using ModuleWithOptions<T, D, LeakyReLUOptions>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override { return leaky_relu(x, this->options.negative_slope); }
  std::string type_name() const override { return "LeakyReLU"; }
};

struct ELUOptions {
  double alpha = 1.0;
};
template <Real T, Device D = Cpu>
class ELU : public ModuleWithOptions<T, D, ELUOptions> {
 public:
  using ModuleWithOptions<T, D, ELUOptions>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override { return elu(x, this->options.alpha); }
  std::string type_name() const override { return "ELU"; }
};

struct GELUOptions {
  std::string approximate = "none";  // or "tanh"
};
template <Real T, Device D = Cpu>
class GELU : public ModuleWithOptions<T, D, GELUOptions> {
 public:
  using ModuleWithOptions<T, D, GELUOptions>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override { return gelu(x, this->options.approximate); }
  std::string type_name() const override { return "GELU"; }
};

// PReLU: one learned slope, or one per channel (dim 1), initialised to `init`.
struct PReLUOptions {
  int64_t num_parameters = 1;
  double init = 0.25;
};
template <Real T, Device D = Cpu>
class PReLU : public Module<T, D> {
 public:
  using Options = PReLUOptions;
  Var<T, D> weight;
  explicit PReLU(const Options& o = {}) : PReLU(nullptr, "", o) {}
  PReLU(Module<T, D>* parent, std::string name, const Options& o = {})
      : Module<T, D>(parent, std::move(name)), options(o) {
    VOXNN_CHECK(o.num_parameters > 0, "PReLU: num_parameters must be positive, got ", o.num_parameters);
    this->register_parameter("weight", &weight, full<T, D>({o.num_parameters}, static_cast<T>(o.init)));
  }
  Var<T, D> forward(const Var<T, D>& x) override { return prelu(x, weight); }
  std::string type_name() const override { return "PReLU"; }
  const Options options;
};

struct SoftmaxOptions {
  int64_t dim = 1;
};
template <Real T, Device D = Cpu>
class Softmax : public ModuleWithOptions<T, D, SoftmaxOptions> {
 public:
  using ModuleWithOptions<T, D, SoftmaxOptions>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override { return softmax(x, this->options.dim); }
  std::string type_name() const override { return "Softmax"; }
};
template <Real T, Device D = Cpu>
class LogSoftmax : public ModuleWithOptions<T, D, SoftmaxOptions> {
 public:
  using ModuleWithOptions<T, D, SoftmaxOptions>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override { return log_softmax(x, this->options.dim); }
  std::string type_name() const override { return "LogSoftmax"; }
};

}  // namespace voxnn::nn
