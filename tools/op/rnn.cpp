// `voxnn op` adapters: recurrent layers (include/voxnn/autograd/functions/rnn.hpp), as torch.nn.GRU /
// torch.nn.LSTM compute them.
//
//   gru   tensors: input, h0 (optional), and the module's parameters by their state-dict names
//                  weight_ih_l{k}[_reverse], weight_hh_l{k}[_reverse], bias_ih_l{k}[_reverse],
//                  bias_hh_l{k}[_reverse] (k < num_layers; _reverse with bidirectional; biases with bias)
//   lstm  the same plus c0 (optional)
// Config: the module's options input_size and hidden_size (optional; checked against the tensors when
// given), num_layers, bias, batch_first, dropout, bidirectional, proj_size (lstm; 0 only), and
// training (default false: the module in eval mode, so dropout is inactive; in training the dropout
// masks come from voxnn's generator, not PyTorch's). Outputs: out, out_h_n and, for lstm, out_c_n;
// with --backward each of them needs its gradient (gout, gout_h_n, gout_c_n).
#include <string>
#include <string_view>
#include <vector>

#include "op/adapter.hpp"
#include "voxnn/autograd/functions/rnn.hpp"

namespace voxnn::tools::op {
namespace {

constexpr int64_t kMaxLayers = 8;  // parameter names are listed for this many layers

// The tensor names an op takes: input, h0 [, c0], then every parameter name up to kMaxLayers layers.
std::vector<std::string_view> rnn_tensors(bool lstm) {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (int64_t layer = 0; layer < kMaxLayers; ++layer)
      for (bool reverse : {false, true})
        for (const char* what : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"})
          out.push_back(rnn_detail::param_name(what, layer, reverse));
    return out;
  }();
  std::vector<std::string_view> out{"input", "h0"};
  if (lstm) out.push_back("c0");
  for (const auto& n : names) out.emplace_back(n);
  return out;
}

const std::vector<std::string_view> kConfig{"input_size", "hidden_size", "num_layers", "bias",     "batch_first",
                                            "dropout",    "bidirectional", "proj_size", "training"};

// The options and the flat parameter list (torch's order) of one call; rejects parameters that the
// options leave unused.
template <Real T>
std::vector<Var<T>> rnn_params(Call<T>& c, RnnOptions& o) {
  o.num_layers = arg<int64_t>(c, "num_layers", 1);
  o.bias = arg<bool>(c, "bias", true);
  o.batch_first = arg<bool>(c, "batch_first", false);
  o.dropout = arg<double>(c, "dropout", 0.0);
  o.bidirectional = arg<bool>(c, "bidirectional", false);
  o.training = arg<bool>(c, "training", false);
  if (o.num_layers < 1 || o.num_layers > kMaxLayers)
    c.fail("config 'num_layers' must be in [1, ", kMaxLayers, "], got ", o.num_layers);
  std::vector<Var<T>> params;
  for (int64_t layer = 0; layer < kMaxLayers; ++layer)
    for (bool reverse : {false, true})
      for (int k = 0; k < 4; ++k) {
        static const char* const what[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
        const std::string name = rnn_detail::param_name(what[k], layer, reverse);
        const bool used = layer < o.num_layers && (!reverse || o.bidirectional) && (k < 2 || o.bias);
        if (used) {
          params.push_back(c.var(name));
        } else if (c.has_tensor(name)) {
          c.fail("tensor '", name, "' is not a parameter with num_layers = ", o.num_layers,
                 ", bidirectional = ", o.bidirectional, ", bias = ", o.bias);
        }
      }
  const Var<T>& w_ih = params[0];
  const Var<T>& w_hh = params[1];
  if (const int64_t h = arg<int64_t>(c, "hidden_size", -1); h != -1 && (w_hh.dim() != 2 || w_hh.size(1) != h))
    c.fail("config 'hidden_size' is ", h, " but weight_hh_l0 has shape ", w_hh.shape());
  if (const int64_t i = arg<int64_t>(c, "input_size", -1); i != -1 && (w_ih.dim() != 2 || w_ih.size(1) != i))
    c.fail("config 'input_size' is ", i, " but weight_ih_l0 has shape ", w_ih.shape());
  return params;
}

}  // namespace

void add_rnn_ops(std::vector<OpSpec>& t) {
  t.push_back(make_op("gru", rnn_tensors(false), kConfig, [](auto& c) {
    using T = real_t<decltype(c)>;
    if (c.find("proj_size")) c.fail("config 'proj_size' is an LSTM option");
    RnnOptions o;
    const Var<T> x = c.var("input");
    const Var<T> h0 = c.optional_var("h0");
    const std::vector<Var<T>> params = rnn_params(c, o);
    const auto r = gru(x, h0, params, o);
    Outputs<T> out(r.output);
    out.add("out_h_n", r.h_n);
    return out;
  }));
  t.push_back(make_op("lstm", rnn_tensors(true), kConfig, [](auto& c) {
    using T = real_t<decltype(c)>;
    if (const int64_t p = arg<int64_t>(c, "proj_size", 0); p != 0)
      c.fail("config 'proj_size' = ", p, " is not supported (projections are not implemented; use 0)");
    RnnOptions o;
    const Var<T> x = c.var("input");
    const Var<T> h0 = c.optional_var("h0");
    const Var<T> c0 = c.optional_var("c0");
    const std::vector<Var<T>> params = rnn_params(c, o);
    const auto r = lstm(x, h0, c0, params, o);
    Outputs<T> out(r.output);
    out.add("out_h_n", r.h_n);
    out.add("out_c_n", r.c_n);
    return out;
  }));
}

}  // namespace voxnn::tools::op
