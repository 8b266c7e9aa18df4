// `voxnn run slice_set_net` and `voxnn run slice_lstm`: the brain-age 2D-slice networks
// (include/voxnn/models/slice_set_net.hpp, slice_lstm.hpp), compatible with
// umgupta/2d-slice-set-networks@4c361a9 src/arch/ukbb/brain_age_slice_set.py:MRI2DSlice and
// src/arch/ukbb/brain_age_slice_lstm.py:MRI_LSTM. The config holds the reference constructor's keywords;
// the 2D encoder's block widths, which the reference hard-codes as 32/64/128/256/256, are read from the
// weights' shapes, so that narrower encoders with the same layout (voxnn's `encoder_channels`) run too.
#include <cstdint>
#include <string>
#include <vector>

#include "run/adapter.hpp"
#include "voxnn/models/slice_lstm.hpp"
#include "voxnn/models/slice_set_net.hpp"

namespace voxnn::tools::run {

namespace {

// A stand-in model that ModelCall::load hands the weights to, so their shapes can be read before the
// real model is built.
template <Real T>
struct SliceWeights {
  nn::StateDict<T> dict;
  void load_state_dict(const nn::StateDict<T>& d) { dict = d; }
  void eval() {}
};

// The output channels of the blocks "<prefix>0.0.weight", "<prefix>1.0.weight", ... (Conv2d weights).
template <Real T, class Call>
std::vector<int64_t> block_widths(const Call& c, const nn::StateDict<T>& dict, const std::string& prefix) {
  std::vector<int64_t> out;
  for (;;) {
    const std::string key = prefix + std::to_string(out.size()) + ".0.weight";
    const Tensor<T>* t = dict.find(key);
    if (!t) break;
    if (t->dim() != 4) c.fail("weight '", key, "' has shape ", t->shape(), "; expected a Conv2d weight");
    out.push_back(t->size(0));
  }
  if (out.empty()) c.fail("missing weight '", prefix, "0.0.weight' (the first block of the 2D slice encoder)");
  return out;
}

template <Real T>
Outputs<T> run_slice_set_net(ModelCall<T>& c) {
  models::SliceSetNetOptions o;
  o.attn_num_heads = c.template required<int64_t>("attn_num_heads");
  o.attn_dim = c.template required<int64_t>("attn_dim");
  o.attn_drop = c.kwarg("attn_drop", false);
  o.agg_fn = c.kwarg("agg_fn", std::string("attention"));
  o.in_channel = c.kwarg("in_channel", int64_t{1});
  o.slice_dim = c.kwarg("slice_dim", int64_t{1});
  o.use_position_encoding = c.kwarg("use_position_encoding", false);
  if (!c.find("encoder_2d"))
    c.unsupported("encoder_2d", "the reference's default None builds no encoder (MRI2DSlice fails on it); pass \"encoder1\"");
  o.encoder_2d = c.kwarg("encoder_2d", std::string());
  if (o.encoder_2d.find("resnet") != std::string::npos)
    c.unsupported("encoder_2d", "the ResNet slice encoders (torchvision's resnet18/34/50) are not implemented; use \"encoder1\"");
  (void)c.kwarg("resnet_module", std::string("resnet18"));      // unused by the reference too
  (void)c.kwarg("load_pretrained_encoder", false);             // only for the ResNet encoders
  // only the initial weights depend on it, and any value but "default" is "custom" in the reference
  o.initialization = c.kwarg("initialization", std::string("custom")) == "default" ? "default" : "custom";
  SliceWeights<T> w;
  c.load(w);
  o.encoder_channels = block_widths<T>(c, w.dict, "encoder_2d.encoder_2d.");
  models::SliceSetNet<T> net(o);
  net.load_state_dict(w.dict);
  net.eval();
  const auto out = net(Var<T>(c.input("x")));
  Outputs<T> result{{"y_pred", out.y_pred.value()}};
  if (out.attention.defined()) result.emplace_back("attention", out.attention.value());
  return result;
}

template <Real T>
Outputs<T> run_slice_lstm(ModelCall<T>& c) {
  models::SliceLstmOptions o;
  o.lstm_feat_dim = c.template required<int64_t>("lstm_feat_dim");
  o.lstm_latent_dim = c.template required<int64_t>("lstm_latent_dim");
  o.slice_dim = c.template required<int64_t>("slice_dim");
  SliceWeights<T> w;
  c.load(w);
  o.encoder_channels = block_widths<T>(c, w.dict, "encoder.");
  models::SliceLstm<T> net(o);
  net.load_state_dict(w.dict);
  net.eval();
  return Outputs<T>{{"y_pred", net(Var<T>(c.input("x"))).value()}};
}

}  // namespace

void add_slice_models(std::vector<ModelSpec>& table) {
  table.push_back(make_model("slice_set_net",
                             "umgupta/2d-slice-set-networks@4c361a9 src/arch/ukbb/brain_age_slice_set.py:MRI2DSlice",
                             {"attn_num_heads", "attn_dim", "attn_drop", "agg_fn", "in_channel", "slice_dim",
                              "use_position_encoding", "encoder_2d", "resnet_module", "load_pretrained_encoder",
                              "initialization"},
                             {"x"}, {"y_pred", "attention"}, [](auto& c) { return run_slice_set_net(c); }));
  table.push_back(make_model("slice_lstm",
                             "umgupta/2d-slice-set-networks@4c361a9 src/arch/ukbb/brain_age_slice_lstm.py:MRI_LSTM",
                             {"lstm_feat_dim", "lstm_latent_dim", "slice_dim"}, {"x"}, {"y_pred"},
                             [](auto& c) { return run_slice_lstm(c); }));
}

}  // namespace voxnn::tools::run
