#pragma once
// RMSprop, following torch.optim.RMSprop (1.13):
//   g = grad (negated when maximizing) + weight_decay * p
//   s = alpha * s + (1 - alpha) * g * g
//   centered: a = alpha * a + (1 - alpha) * g;  avg = sqrt(s - a * a) + eps;  else avg = sqrt(s) + eps
//   momentum > 0: buf = momentum * buf + g / avg;  p = p - lr * buf;  else p = p - lr * g / avg
// The eps goes outside the square root, as in PyTorch (TensorFlow puts it inside).
#include <cmath>

#include "voxnn/core/diagnostics.hpp"
#include "voxnn/optim/optimizer.hpp"

VOXNN_EIGEN_AVX512_WARNINGS_BEGIN

namespace voxnn::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  bool maximize = false;
};

template <Real T, Device D = Cpu>
class RMSprop : public Optimizer<T, D> {
 public:
  using typename Optimizer<T, D>::ParamState;

  explicit RMSprop(std::vector<Var<T, D>> params, const RMSpropOptions& options = {})
      : Optimizer<T, D>(std::move(params), checked(options).lr, "RMSprop"), options_(options) {}

  const RMSpropOptions& options() const { return options_; }

 private:
  static const RMSpropOptions& checked(const RMSpropOptions& o) {
    VOXNN_CHECK(o.lr >= 0, "RMSprop: invalid learning rate ", o.lr);
    VOXNN_CHECK(o.eps >= 0, "RMSprop: invalid eps ", o.eps);
    VOXNN_CHECK(o.momentum >= 0, "RMSprop: invalid momentum ", o.momentum);
    VOXNN_CHECK(o.weight_decay >= 0, "RMSprop: invalid weight_decay ", o.weight_decay);
    VOXNN_CHECK(o.alpha >= 0, "RMSprop: invalid alpha ", o.alpha);
    return o;
  }

  void update(Tensor<T, D>& value, const Tensor<T, D>& grad, ParamState& state) override {
    const T lr = static_cast<T>(this->lr()), wd = static_cast<T>(options_.weight_decay);
    const T alpha = static_cast<T>(options_.alpha), one_minus_alpha = static_cast<T>(1 - options_.alpha);
    const T eps = static_cast<T>(options_.eps), momentum = static_cast<T>(options_.momentum);
    const T sign = options_.maximize ? T(-1) : T(1);
    const Shape& shape = value.shape();
    T* param = value.data();
    const T* gradient = grad.data();
    T* square_avg = state.buffer("square_avg", shape).data();
    T* grad_avg = options_.centered ? state.buffer("grad_avg", shape).data() : nullptr;
    T* momentum_buffer =
        options_.momentum > 0 ? state.buffer("momentum_buffer", shape).data() : nullptr;
    detail::for_each_tile(value.numel(), [&](int64_t at, int64_t n) {
      detail::ArrayMap<T> p(param + at, n), s(square_avg + at, n);
      alignas(64) T scratch[detail::kUpdateTile];
      detail::with_effective_grad<T>({gradient + at, n}, p, sign, wd, scratch, [&](const auto& g) {
        s = alpha * s + one_minus_alpha * g.square();
        auto descend = [&](const auto& avg) {
          if (!momentum_buffer) {
            p -= lr * (g / avg);
            return;
          }
          detail::ArrayMap<T> buf(momentum_buffer + at, n);
          buf = momentum * buf + g / avg;
          p -= lr * buf;
        };
        if (grad_avg) {
          detail::ArrayMap<T> a(grad_avg + at, n);
          a = alpha * a + one_minus_alpha * g;
          descend((s - a.square()).sqrt() + eps);
        } else {
          descend(s.sqrt() + eps);
        }
      });
    });
  }

  RMSpropOptions options_;
};

template <Real T, Device D>
RMSprop(std::vector<Var<T, D>>, const RMSpropOptions&) -> RMSprop<T, D>;
template <Real T, Device D>
RMSprop(std::vector<Var<T, D>>) -> RMSprop<T, D>;

}  // namespace voxnn::optim

VOXNN_EIGEN_AVX512_WARNINGS_END
