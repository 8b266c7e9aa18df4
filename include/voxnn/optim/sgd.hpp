#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
// following torch.optim.SGD's update rule step for step:
//   d = grad (negated when maximizing) + weight_decay * p
//   buf = d on a parameter's first step, else momentum * buf + (1 - dampening) * d
//   d = d + momentum * buf with Nesterov, else buf          (only when momentum != 0)
//   p = p - lr * d
#include <limits>

#include "voxnn/optim/optimizer.hpp"

namespace voxnn::optim {

struct SGDOptions {
  double lr = std::numeric_limits<double>::quiet_NaN();  // required, as in PyTorch
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;
};

template <Real T, Device D = Cpu>
class SGD : public Optimizer<T, D> {
 public:
  using typename Optimizer<T, D>::ParamState;

  SGD(std::vector<Var<T, D>> params, const SGDOptions& options)
      : Optimizer<T, D>(std::move(params), checked(options).lr, "SGD"), options_(options) {}

  const SGDOptions& options() const { return options_; }

 private:
  static const SGDOptions& checked(const SGDOptions& o) {
    VOXNN_CHECK(o.lr == o.lr, "SGD: options.lr is required (there is no default learning rate)");
    VOXNN_CHECK(o.momentum >= 0, "SGD: invalid momentum ", o.momentum);
    VOXNN_CHECK(o.weight_decay >= 0, "SGD: invalid weight_decay ", o.weight_decay);
    VOXNN_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
                "SGD: Nesterov momentum requires a momentum and zero dampening (momentum ", o.momentum,
                ", dampening ", o.dampening, ")");
    return o;
  }

  void update(Tensor<T, D>& value, const Tensor<T, D>& grad, ParamState& state) override {
    const T lr = static_cast<T>(this->lr()), wd = static_cast<T>(options_.weight_decay);
    const T sign = options_.maximize ? T(-1) : T(1);
    const T momentum = static_cast<T>(options_.momentum), keep = static_cast<T>(1 - options_.dampening);
    const bool first = !state.buffers.contains("momentum_buffer");
    T* buffer = options_.momentum != 0 ? state.buffer("momentum_buffer", value.shape()).data() : nullptr;
    const bool nesterov = options_.nesterov;
    T* param = value.data();
    const T* gradient = grad.data();
    detail::for_each_tile(value.numel(), [&](int64_t at, int64_t n) {
      detail::ArrayMap<T> p(param + at, n);
      alignas(64) T scratch[detail::kUpdateTile];
      detail::with_effective_grad<T>({gradient + at, n}, p, sign, wd, scratch, [&](const auto& d) {
        if (!buffer) {
          p -= lr * d;
          return;
        }
        detail::ArrayMap<T> buf(buffer + at, n);
        if (first) buf = d;
        else buf = momentum * buf + keep * d;
        if (nesterov) p -= lr * (d + momentum * buf);
        else p -= lr * buf;
      });
    });
  }

  SGDOptions options_;
};

template <Real T, Device D>
SGD(std::vector<Var<T, D>>, const SGDOptions&) -> SGD<T, D>;

}  // namespace voxnn::optim
