// `voxnn op` adapters: multi_head_attention_forward (torch.nn.functional's, PyTorch 1.13 arguments),
// scaled_dot_product_attention (PyTorch 2's), and the slicing helpers volume_to_slices,
// slices_to_volume, slices_to_set and set_to_slices (autograd/functions/slicing.hpp).
//
// Masks (key_padding_mask, attn_mask) are real tensors (F32/F64: added to the scores) or integer ones
// (U8/I64: non-zero = true, as PyTorch's byte masks; true = masked out in multi_head_attention_forward,
// = takes part in scaled_dot_product_attention). multi_head_attention_forward writes `out` and, with
// need_weights, `out_attn_output_weights`.
#include "op/adapter.hpp"
#include "voxnn/autograd/functions/attention.hpp"
#include "voxnn/autograd/functions/slicing.hpp"

namespace voxnn::tools::op {
namespace {

// An optional mask argument: real (additive) or integer (boolean, non-zero = true).
template <Real T>
AttentionMask<T> mask_arg(Call<T>& c, std::string_view name) {
  if (!c.has_tensor(name)) return {};
  if (c.is_real_tensor(name)) return AttentionMask<T>(c.buffer(name));
  return AttentionMask<T>(c.mask(name));
}

template <Real T>
SliceOptions slice_options(const Call<T>& c) {
  return {.dim = arg<int64_t>(c, "dim", 2), .context = arg<int64_t>(c, "context", 1),
          .order = arg<std::string>(c, "order", "slice_major")};
}

}  // namespace

void add_attention_ops(std::vector<OpSpec>& t) {
  t.push_back(make_op(
      "multi_head_attention_forward",
      {"query", "key", "value", "in_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj_weight",
       "out_proj_bias", "q_proj_weight", "k_proj_weight", "v_proj_weight", "static_k", "static_v",
       "key_padding_mask", "attn_mask"},
      {"embed_dim_to_check", "num_heads", "add_zero_attn", "dropout_p", "training", "need_weights",
       "use_separate_proj_weight", "average_attn_weights"},
      [](auto& c) {
        using T = real_t<decltype(c)>;
        const Var<T> query = c.var("query");
        // PyTorch's self-attention path (query is key is value) cannot be spelled in a file: three
        // separate tensors take the general path, which gives the same values.
        const Var<T> key = c.var("key"), value = c.var("value");
        MultiHeadAttentionArgs<T> a;
        a.embed_dim_to_check = required<int64_t>(c, "embed_dim_to_check");
        a.num_heads = required<int64_t>(c, "num_heads");
        a.in_proj_weight = c.optional_var("in_proj_weight");
        a.in_proj_bias = c.optional_var("in_proj_bias");
        a.bias_k = c.optional_var("bias_k");
        a.bias_v = c.optional_var("bias_v");
        a.add_zero_attn = arg<bool>(c, "add_zero_attn", false);
        a.dropout_p = arg<double>(c, "dropout_p", 0.0);
        a.out_proj_weight = c.var("out_proj_weight");
        a.out_proj_bias = c.optional_var("out_proj_bias");
        a.training = arg<bool>(c, "training", true);
        a.key_padding_mask = mask_arg(c, "key_padding_mask");
        a.need_weights = arg<bool>(c, "need_weights", true);
        a.attn_mask = mask_arg(c, "attn_mask");
        a.use_separate_proj_weight = arg<bool>(c, "use_separate_proj_weight", false);
        a.q_proj_weight = c.optional_var("q_proj_weight");
        a.k_proj_weight = c.optional_var("k_proj_weight");
        a.v_proj_weight = c.optional_var("v_proj_weight");
        a.static_k = c.optional_var("static_k");
        a.static_v = c.optional_var("static_v");
        a.average_attn_weights = arg<bool>(c, "average_attn_weights", true);
        auto [out, weights] = multi_head_attention_forward(query, key, value, a);
        Outputs<T> result(out);
        if (weights.defined()) result.add("out_attn_output_weights", weights);
        return result;
      }));
  t.push_back(make_op("scaled_dot_product_attention", {"query", "key", "value", "attn_mask"},
                      {"dropout_p", "is_causal", "scale"}, [](auto& c) {
                        const auto q = c.var("query"), k = c.var("key"), v = c.var("value");
                        return scaled_dot_product_attention(q, k, v, mask_arg(c, "attn_mask"),
                                                            arg<double>(c, "dropout_p", 0.0),
                                                            arg<bool>(c, "is_causal", false),
                                                            arg<std::optional<double>>(c, "scale", std::nullopt));
                      }));

  t.push_back(make_op("volume_to_slices", {"input"}, {"dim", "context", "order"},
                      [](auto& c) { return volume_to_slices(c.var("input"), slice_options(c)); }));
  t.push_back(make_op("slices_to_volume", {"input"}, {"batch", "dim", "context", "order"}, [](auto& c) {
    return slices_to_volume(c.var("input"), required<int64_t>(c, "batch"), slice_options(c));
  }));
  t.push_back(make_op("slices_to_set", {"input"}, {"batch", "order"}, [](auto& c) {
    return slices_to_set(c.var("input"), required<int64_t>(c, "batch"), arg<std::string>(c, "order", "slice_major"));
  }));
  t.push_back(make_op("set_to_slices", {"input"}, {"order"}, [](auto& c) {
    return set_to_slices(c.var("input"), arg<std::string>(c, "order", "slice_major"));
  }));
}

}  // namespace voxnn::tools::op
