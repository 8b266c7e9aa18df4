#pragma once
// Recurrent modules as torch.nn has them (PyTorch 1.13): GRU, LSTM (multi-layer, bidirectional,
// batch_first, dropout between layers in training), GRUCell and LSTMCell. Parameter names and shapes
// are PyTorch's, so state dicts load by name:
//   weight_ih_l{k}[_reverse]  [G * H, input_size (layer 0) or D * H]     G = 3 (GRU: r, z, n)
//   weight_hh_l{k}[_reverse]  [G * H, H]                                  G = 4 (LSTM: i, f, g, o)
//   bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse]  [G * H]
// and every parameter starts uniform in (-1/sqrt(H), 1/sqrt(H)).
//
//   nn::GRU<float> gru({.input_size = 64, .hidden_size = 128, .num_layers = 2, .batch_first = true});
//   auto [y, h_n] = gru(x, h0);            // h0 may be an undefined Var: zeros
//   nn::LSTM<float> lstm({.input_size = 32, .hidden_size = 128});
//   auto [y2, h2, c2] = lstm(x, {}, {});
//
// The single-input forward(x) (what Sequential calls) returns the output sequence only.
// LSTM's proj_size must be 0 (projections are not implemented).
#include <cmath>
#include <string>
#include <vector>

#include "voxnn/autograd/functions/rnn.hpp"
#include "voxnn/nn/init.hpp"
#include "voxnn/nn/module.hpp"

namespace voxnn::nn {

struct GRUOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;
  bool bidirectional = false;
};
struct LSTMOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;
  bool bidirectional = false;
  int64_t proj_size = 0;  // only 0 is supported
};
struct RNNCellOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  bool bias = true;
};
using GRUCellOptions = RNNCellOptions;
using LSTMCellOptions = RNNCellOptions;

namespace rnn_detail {

// What the sequence functions need of a module's options (GRUOptions or LSTMOptions) and mode.
template <class Options>
RnnOptions run_options(const Options& o, bool training) {
  return {.num_layers = o.num_layers, .bias = o.bias, .batch_first = o.batch_first, .dropout = o.dropout,
          .training = training, .bidirectional = o.bidirectional};
}

// The flat parameter list of GRU / LSTM, registered under PyTorch's names.
template <Real T, Device D>
class RecurrentBase : public Module<T, D> {
 public:
  // weight_ih_l{layer}{_reverse} etc.; `reverse` needs bidirectional.
  Var<T, D>& weight_ih(int64_t layer, bool reverse = false) { return param(layer, reverse, 0); }
  Var<T, D>& weight_hh(int64_t layer, bool reverse = false) { return param(layer, reverse, 1); }
  Var<T, D>& bias_ih(int64_t layer, bool reverse = false) { return param(layer, reverse, 2); }
  Var<T, D>& bias_hh(int64_t layer, bool reverse = false) { return param(layer, reverse, 3); }
  // In torch's _flat_weights order (what voxnn::gru / voxnn::lstm take).
  const std::vector<Var<T, D>>& flat_weights() const { return weights_; }

 protected:
  RecurrentBase(Module<T, D>* parent, std::string name, const char* type, int64_t gates, int64_t input_size,
                int64_t hidden_size, int64_t num_layers, bool bias, double dropout, bool bidirectional)
      : Module<T, D>(parent, std::move(name)), type_(type), layers_(num_layers), dirs_(bidirectional ? 2 : 1),
        per_(bias ? 4 : 2) {
    VOXNN_CHECK(input_size > 0 && hidden_size > 0, type, ": input_size and hidden_size must be positive, got ",
                input_size, " and ", hidden_size);
    VOXNN_CHECK(num_layers >= 1, type, ": num_layers must be at least 1, got ", num_layers);
    VOXNN_CHECK(dropout >= 0 && dropout <= 1, type, ": dropout must be in [0, 1], got ", dropout);
    weights_.resize(static_cast<std::size_t>(layers_ * dirs_ * per_));  // never resized again: registered by address
    const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
    static const char* const kNames[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    for (int64_t layer = 0; layer < layers_; ++layer) {
      const int64_t in = layer == 0 ? input_size : dirs_ * hidden_size;
      for (int64_t dir = 0; dir < dirs_; ++dir) {
        for (int64_t k = 0; k < per_; ++k) {
          const Shape shape = k == 0   ? Shape{gates * hidden_size, in}
                              : k == 1 ? Shape{gates * hidden_size, hidden_size}
                                       : Shape{gates * hidden_size};
          Var<T, D>& w = weights_[static_cast<std::size_t>((layer * dirs_ + dir) * per_ + k)];
          this->register_parameter(::voxnn::rnn_detail::param_name(kNames[k], layer, dir == 1), &w,
                                   empty<T, D>(shape));
          init::uniform_(w.mutable_value(), -bound, bound);
        }
      }
    }
  }

 private:
  Var<T, D>& param(int64_t layer, bool reverse, int64_t k) {
    VOXNN_CHECK(layer >= 0 && layer < layers_ && (!reverse || dirs_ == 2) && k < per_, type_, ": no parameter ",
                k < 2 ? (k == 0 ? "weight_ih" : "weight_hh") : (k == 2 ? "bias_ih" : "bias_hh"), "_l", layer,
                reverse ? "_reverse" : "", " (num_layers = ", layers_, ", bidirectional = ", dirs_ == 2,
                ", bias = ", per_ == 4, ")");
    return weights_[static_cast<std::size_t>((layer * dirs_ + (reverse ? 1 : 0)) * per_ + k)];
  }

  const char* type_;
  int64_t layers_, dirs_, per_;
  std::vector<Var<T, D>> weights_;
};

// A cell's four parameters (weight_ih, weight_hh, bias_ih, bias_hh), initialised as torch does.
template <Real T, Device D>
class CellBase : public Module<T, D> {
 public:
  Var<T, D> weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  CellBase(Module<T, D>* parent, std::string name, const char* type, int64_t gates, const RNNCellOptions& o)
      : Module<T, D>(parent, std::move(name)) {
    VOXNN_CHECK(o.input_size > 0 && o.hidden_size > 0, type, ": input_size and hidden_size must be positive, got ",
                o.input_size, " and ", o.hidden_size);
    const int64_t G = gates * o.hidden_size;
    this->register_parameter("weight_ih", &weight_ih, empty<T, D>({G, o.input_size}));
    this->register_parameter("weight_hh", &weight_hh, empty<T, D>({G, o.hidden_size}));
    if (o.bias) {
      this->register_parameter("bias_ih", &bias_ih, empty<T, D>({G}));
      this->register_parameter("bias_hh", &bias_hh, empty<T, D>({G}));
    }
    const double bound = 1.0 / std::sqrt(static_cast<double>(o.hidden_size));
    for (auto& [name, p] : this->named_parameters(false)) init::uniform_(p.mutable_value(), -bound, bound);
  }
};

}  // namespace rnn_detail

template <Real T, Device D = Cpu>
class GRU : public rnn_detail::RecurrentBase<T, D> {
 public:
  using Options = GRUOptions;
  using Result = GruResult<T, D>;

  explicit GRU(const Options& o) : GRU(nullptr, "", o) {}
  GRU(Module<T, D>* parent, std::string name, const Options& o)
      : rnn_detail::RecurrentBase<T, D>(parent, std::move(name), "GRU", 3, o.input_size, o.hidden_size, o.num_layers,
                                        o.bias, o.dropout, o.bidirectional),
        options(o) {}

  // input (T, B, I) / (B, T, I) with batch_first / unbatched (T, I); h0 (num_layers * D, B, H) or undefined.
  Result forward(const Var<T, D>& input, const Var<T, D>& h0) {
    VOXNN_CHECK(input.dim() >= 1 && input.size(-1) == options.input_size, "GRU: input of shape ", input.shape(),
                " does not end in input_size = ", options.input_size);
    return gru(input, h0, this->flat_weights(), rnn_detail::run_options(options, this->is_training()),
               default_generator());
  }
  Var<T, D> forward(const Var<T, D>& input) override { return forward(input, Var<T, D>()).output; }
  using Module<T, D>::operator();
  Result operator()(const Var<T, D>& input, const Var<T, D>& h0) { return forward(input, h0); }
  std::string type_name() const override { return "GRU"; }

  const Options options;
};

template <Real T, Device D = Cpu>
class LSTM : public rnn_detail::RecurrentBase<T, D> {
 public:
  using Options = LSTMOptions;
  using Result = LstmResult<T, D>;

  explicit LSTM(const Options& o) : LSTM(nullptr, "", o) {}
  LSTM(Module<T, D>* parent, std::string name, const Options& o)
      : rnn_detail::RecurrentBase<T, D>(parent, std::move(name), "LSTM", 4, o.input_size, o.hidden_size,
                                        checked_layers(o), o.bias, o.dropout, o.bidirectional),
        options(o) {}

  // h0 and c0: (num_layers * D, B, H), or undefined for zeros.
  Result forward(const Var<T, D>& input, const Var<T, D>& h0, const Var<T, D>& c0) {
    VOXNN_CHECK(input.dim() >= 1 && input.size(-1) == options.input_size, "LSTM: input of shape ", input.shape(),
                " does not end in input_size = ", options.input_size);
    return lstm(input, h0, c0, this->flat_weights(), rnn_detail::run_options(options, this->is_training()),
                default_generator());
  }
  Var<T, D> forward(const Var<T, D>& input) override { return forward(input, Var<T, D>(), Var<T, D>()).output; }
  using Module<T, D>::operator();
  Result operator()(const Var<T, D>& input, const Var<T, D>& h0, const Var<T, D>& c0) { return forward(input, h0, c0); }
  std::string type_name() const override { return "LSTM"; }

  const Options options;

 private:
  static int64_t checked_layers(const Options& o) {
    VOXNN_CHECK(o.proj_size == 0, "LSTM: proj_size = ", o.proj_size,
                " is not supported (projections are not implemented; use proj_size = 0)");
    return o.num_layers;
  }
};

template <Real T, Device D = Cpu>
class GRUCell : public rnn_detail::CellBase<T, D> {
 public:
  using Options = GRUCellOptions;
  explicit GRUCell(const Options& o) : GRUCell(nullptr, "", o) {}
  GRUCell(Module<T, D>* parent, std::string name, const Options& o)
      : rnn_detail::CellBase<T, D>(parent, std::move(name), "GRUCell", 3, o), options(o) {}

  // input (B, I) or (I); hx (B, H) / (H) or undefined -> h'.
  Var<T, D> forward(const Var<T, D>& input, const Var<T, D>& hx) {
    return gru_cell(input, hx, this->weight_ih, this->weight_hh, this->bias_ih, this->bias_hh);
  }
  Var<T, D> forward(const Var<T, D>& input) override { return forward(input, Var<T, D>()); }
  using Module<T, D>::operator();
  Var<T, D> operator()(const Var<T, D>& input, const Var<T, D>& hx) { return forward(input, hx); }
  std::string type_name() const override { return "GRUCell"; }

  const Options options;
};

template <Real T, Device D = Cpu>
class LSTMCell : public rnn_detail::CellBase<T, D> {
 public:
  using Options = LSTMCellOptions;
  using Result = LstmCellResult<T, D>;
  explicit LSTMCell(const Options& o) : LSTMCell(nullptr, "", o) {}
  LSTMCell(Module<T, D>* parent, std::string name, const Options& o)
      : rnn_detail::CellBase<T, D>(parent, std::move(name), "LSTMCell", 4, o), options(o) {}

  // input (B, I) or (I); hx, cx (B, H) / (H) or undefined -> {h', c'}.
  Result forward(const Var<T, D>& input, const Var<T, D>& hx, const Var<T, D>& cx) {
    return lstm_cell(input, hx, cx, this->weight_ih, this->weight_hh, this->bias_ih, this->bias_hh);
  }
  // The single-input forward returns h'.
  Var<T, D> forward(const Var<T, D>& input) override { return forward(input, Var<T, D>(), Var<T, D>()).h; }
  using Module<T, D>::operator();
  Result operator()(const Var<T, D>& input, const Var<T, D>& hx, const Var<T, D>& cx) { return forward(input, hx, cx); }
  std::string type_name() const override { return "LSTMCell"; }

  const Options options;
};

}  // namespace voxnn::nn
