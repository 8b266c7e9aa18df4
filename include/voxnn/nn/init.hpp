#pragma once
// Initialisers with PyTorch's formulas (torch.nn.init), writing in place into a parameter's tensor.
#include <cmath>
#include <string>

#include "voxnn/core/factory.hpp"
#include "voxnn/ops/elementwise.hpp"

namespace voxnn::nn::init {

struct Fans {
  int64_t fan_in, fan_out;
};
// fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field (weights of rank >= 2).
inline Fans fans(const Shape& shape) {
  VOXNN_CHECK(shape.size() >= 2, "init: fan in and fan out need a tensor of rank >= 2, got shape ", shape);
  int64_t receptive = 1;
  for (int d = 2; d < shape.size(); ++d) receptive *= shape[d];
  return {shape[1] * receptive, shape[0] * receptive};
}

// The recommended gain for a nonlinearity (torch.nn.init.calculate_gain).
inline double calculate_gain(const std::string& nonlinearity, double param = 0.01) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity.rfind("conv", 0) == 0) return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  ::voxnn::detail::throw_error("calculate_gain: unsupported nonlinearity '", nonlinearity, "'");
}

template <Real T>
void uniform_(Tensor<T>& t, double low = 0.0, double high = 1.0, Generator& gen = default_generator()) {
  t.copy_(rand<T>(t.shape(), gen, static_cast<T>(low), static_cast<T>(high)));
}
template <Real T>
void normal_(Tensor<T>& t, double mean = 0.0, double std = 1.0, Generator& gen = default_generator()) {
  t.copy_(randn<T>(t.shape(), gen, static_cast<T>(mean), static_cast<T>(std)));
}
template <Real T>
void constant_(Tensor<T>& t, double value) {
  t.fill_(static_cast<T>(value));
}
template <Real T>
void zeros_(Tensor<T>& t) {
  t.fill_(T(0));
}
template <Real T>
void ones_(Tensor<T>& t) {
  t.fill_(T(1));
}

template <Real T>
void xavier_uniform_(Tensor<T>& t, double gain = 1.0, Generator& gen = default_generator()) {
  const Fans f = fans(t.shape());
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(f.fan_in + f.fan_out));
  uniform_(t, -bound, bound, gen);
}
template <Real T>
void xavier_normal_(Tensor<T>& t, double gain = 1.0, Generator& gen = default_generator()) {
  const Fans f = fans(t.shape());
  normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out)), gen);
}

struct KaimingOptions {
  double a = 0.0;                         // negative slope of the rectifier that follows
  std::string mode = "fan_in";            // or "fan_out"
  std::string nonlinearity = "leaky_relu";
};
inline double kaiming_std(const Shape& shape, const KaimingOptions& o) {
  VOXNN_CHECK(o.mode == "fan_in" || o.mode == "fan_out", "kaiming: mode must be fan_in or fan_out, got '", o.mode,
              "'");
  const Fans f = fans(shape);
  const double fan = static_cast<double>(o.mode == "fan_in" ? f.fan_in : f.fan_out);
  return calculate_gain(o.nonlinearity, o.a) / std::sqrt(fan);
}
template <Real T>
void kaiming_uniform_(Tensor<T>& t, const KaimingOptions& o = {}, Generator& gen = default_generator()) {
  const double bound = std::sqrt(3.0) * kaiming_std(t.shape(), o);
  uniform_(t, -bound, bound, gen);
}
template <Real T>
void kaiming_normal_(Tensor<T>& t, const KaimingOptions& o = {}, Generator& gen = default_generator()) {
  normal_(t, 0.0, kaiming_std(t.shape(), o), gen);
}

// PyTorch's default for Linear and ConvNd: kaiming_uniform_ with a = sqrt(5) on the weight (a bound
// of 1 / sqrt(fan_in)), and the bias uniform in +-1 / sqrt(fan_in).
template <Real T>
void default_weight_(Tensor<T>& weight, Generator& gen = default_generator()) {
  kaiming_uniform_(weight, {.a = std::sqrt(5.0)}, gen);
}
template <Real T>
void default_bias_(Tensor<T>& bias, const Shape& weight_shape, Generator& gen = default_generator()) {
  const int64_t fan_in = fans(weight_shape).fan_in;
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  uniform_(bias, -bound, bound, gen);
}

}  // namespace voxnn::nn::init
