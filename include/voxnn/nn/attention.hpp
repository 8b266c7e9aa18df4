#pragma once
// MultiheadAttention as torch.nn.MultiheadAttention (PyTorch 1.13).
//
// Parameters, in PyTorch's order and with its names and shapes:
//   in_proj_weight (3E, E)                          when kdim == vdim == embed_dim
//   q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim)   otherwise
//   in_proj_bias (3E)                               when bias
//   bias_k, bias_v (1, 1, E)                        when add_bias_kv
//   out_proj.weight (E, E), out_proj.bias (E)       out_proj is a Linear child (bias when bias)
// Initialisation as PyTorch: xavier_uniform_ on the in-projection weights, zero in_proj_bias and
// out_proj.bias, out_proj.weight as Linear's default, xavier_normal_ on bias_k and bias_v.
//
// forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights) returns
// (attn_output, attn_output_weights) exactly as PyTorch's (see multi_head_attention_forward in
// autograd/functions/attention.hpp for the shapes and the mask rules: boolean true = masked out).
// batch_first takes (N, L, E) inputs and returns (N, L, E); it does not apply to unbatched (L, E)
// inputs. Dropout (probability `dropout`) acts on the attention weights in training mode only, drawing
// from `generator` (default_generator() when null), so a seeded generator reproduces a run.
#include <string>
#include <utility>

#include "voxnn/autograd/functions/attention.hpp"
#include "voxnn/nn/init.hpp"
#include "voxnn/nn/linear.hpp"
#include "voxnn/nn/module.hpp"

namespace voxnn::nn {

struct MultiheadAttentionOptions {
  int64_t embed_dim = 0;
  int64_t num_heads = 1;
  double dropout = 0.0;
  bool bias = true;
  bool add_bias_kv = false;
  bool add_zero_attn = false;
  int64_t kdim = 0;  // 0: embed_dim (PyTorch's None)
  int64_t vdim = 0;  // 0: embed_dim
  bool batch_first = false;
};

template <Real T, Device D = Cpu>
class MultiheadAttention : public ModuleWithOptions<T, D, MultiheadAttentionOptions> {
  using Base = ModuleWithOptions<T, D, MultiheadAttentionOptions>;

 public:
  using Options = MultiheadAttentionOptions;
  Var<T, D> in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias, bias_k, bias_v;
  Generator* generator = nullptr;  // dropout's; default_generator() when null

  explicit MultiheadAttention(const Options& o) : MultiheadAttention(nullptr, "", o) {}
  MultiheadAttention(Module<T, D>* parent, std::string name, const Options& o)
      : Base(parent, std::move(name), checked(o)), out_proj(this, "out_proj", {o.embed_dim, o.embed_dim, o.bias}) {
    const int64_t e = o.embed_dim, kd = kdim(), vd = vdim();
    if (qkv_same_embed_dim()) {
      this->register_parameter("in_proj_weight", &in_proj_weight, empty<T, D>({3 * e, e}));
    } else {
      this->register_parameter("q_proj_weight", &q_proj_weight, empty<T, D>({e, e}));
      this->register_parameter("k_proj_weight", &k_proj_weight, empty<T, D>({e, kd}));
      this->register_parameter("v_proj_weight", &v_proj_weight, empty<T, D>({e, vd}));
    }
    if (o.bias) this->register_parameter("in_proj_bias", &in_proj_bias, empty<T, D>({3 * e}));
    if (o.add_bias_kv) {
      this->register_parameter("bias_k", &bias_k, empty<T, D>({1, 1, e}));
      this->register_parameter("bias_v", &bias_v, empty<T, D>({1, 1, e}));
    }
    reset_parameters();
  }

  // PyTorch's _reset_parameters.
  void reset_parameters() {
    if (qkv_same_embed_dim()) {
      init::xavier_uniform_(in_proj_weight.mutable_value());
    } else {
      init::xavier_uniform_(q_proj_weight.mutable_value());
      init::xavier_uniform_(k_proj_weight.mutable_value());
      init::xavier_uniform_(v_proj_weight.mutable_value());
    }
    if (in_proj_bias.defined()) {
      in_proj_bias.mutable_value().fill_(T(0));
      out_proj.bias.mutable_value().fill_(T(0));
    }
    if (bias_k.defined()) {
      init::xavier_normal_(bias_k.mutable_value());
      init::xavier_normal_(bias_v.mutable_value());
    }
  }

  int64_t kdim() const { return this->options.kdim > 0 ? this->options.kdim : this->options.embed_dim; }
  int64_t vdim() const { return this->options.vdim > 0 ? this->options.vdim : this->options.embed_dim; }
  int64_t head_dim() const { return this->options.embed_dim / this->options.num_heads; }
  bool qkv_same_embed_dim() const { return kdim() == this->options.embed_dim && vdim() == this->options.embed_dim; }

  std::pair<Var<T, D>, Var<T, D>> forward(const Var<T, D>& query, const Var<T, D>& key, const Var<T, D>& value,
                                          const AttentionMask<T, D>& key_padding_mask = {}, bool need_weights = true,
                                          const AttentionMask<T, D>& attn_mask = {}, bool average_attn_weights = true) {
    const Options& o = this->options;
    VOXNN_CHECK(query.dim() == 2 || query.dim() == 3, type_name(), ": query ", query.shape(), " must be ",
                o.batch_first ? "(N, L, E)" : "(L, N, E)", " or unbatched (L, E)");
    VOXNN_CHECK(query.size(-1) == o.embed_dim && key.dim() >= 1 && key.size(-1) == kdim() && value.dim() >= 1 &&
                    value.size(-1) == vdim(),
                type_name(), ": query ", query.shape(), ", key ", key.shape(), " and value ", value.shape(),
                " must end in embed_dim = ", o.embed_dim, ", kdim = ", kdim(), " and vdim = ", vdim());
    const bool flip = o.batch_first && query.dim() == 3;
    Var<T, D> q = query, k = key, v = value;
    if (flip) {  // keep self-attention recognisable: transpose each distinct input once
      q = transpose(query, 0, 1);
      k = key.id() == query.id() ? q : transpose(key, 0, 1);
      v = value.id() == query.id() ? q : value.id() == key.id() ? k : transpose(value, 0, 1);
    }
    MultiHeadAttentionArgs<T, D> args;
    args.embed_dim_to_check = o.embed_dim;
    args.num_heads = o.num_heads;
    args.in_proj_weight = in_proj_weight;
    args.in_proj_bias = in_proj_bias;
    args.bias_k = bias_k;
    args.bias_v = bias_v;
    args.add_zero_attn = o.add_zero_attn;
    args.dropout_p = o.dropout;
    args.out_proj_weight = out_proj.weight;
    args.out_proj_bias = out_proj.bias;
    args.training = this->is_training();
    args.key_padding_mask = key_padding_mask;
    args.need_weights = need_weights;
    args.attn_mask = attn_mask;
    args.use_separate_proj_weight = !qkv_same_embed_dim();
    args.q_proj_weight = q_proj_weight;
    args.k_proj_weight = k_proj_weight;
    args.v_proj_weight = v_proj_weight;
    args.average_attn_weights = average_attn_weights;
    args.generator = generator;
    auto [out, weights] = multi_head_attention_forward(q, k, v, args);
    if (flip) out = transpose(out, 0, 1);
    return {out, weights};
  }
  std::pair<Var<T, D>, Var<T, D>> operator()(const Var<T, D>& query, const Var<T, D>& key, const Var<T, D>& value,
                                             const AttentionMask<T, D>& key_padding_mask = {}, bool need_weights = true,
                                             const AttentionMask<T, D>& attn_mask = {},
                                             bool average_attn_weights = true) {
    return forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights);
  }
  // Self-attention output of x (for containers): forward(x, x, x) without weights.
  Var<T, D> forward(const Var<T, D>& x) override { return forward(x, x, x, {}, false).first; }
  using Module<T, D>::operator();
  std::string type_name() const override { return "MultiheadAttention"; }

  Linear<T, D> out_proj;

 private:
  static const Options& checked(const Options& o) {
    VOXNN_CHECK(o.embed_dim > 0 && o.num_heads > 0, "MultiheadAttention: embed_dim and num_heads must be positive, got ",
                o.embed_dim, " and ", o.num_heads);
    VOXNN_CHECK(o.embed_dim % o.num_heads == 0, "MultiheadAttention: embed_dim ", o.embed_dim,
                " must be divisible by num_heads ", o.num_heads);
    VOXNN_CHECK(o.kdim >= 0 && o.vdim >= 0, "MultiheadAttention: kdim ", o.kdim, " and vdim ", o.vdim,
                " must be positive (0: embed_dim)");
    VOXNN_CHECK(o.dropout >= 0 && o.dropout <= 1, "MultiheadAttention: dropout must be in [0, 1], got ", o.dropout);
    return o;
  }
};

}  // namespace voxnn::nn
