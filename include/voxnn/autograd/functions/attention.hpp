#pragma once
// Differentiable attention: scaled_dot_product_attention (torch.nn.functional's, PyTorch 2 semantics,
// with a variant that also returns the weights) and multi_head_attention_forward with the arguments and
// semantics of torch.nn.functional.multi_head_attention_forward in PyTorch 1.13.
//
// Masks (AttentionMask) are either boolean or additive real tensors, as PyTorch accepts both, and do
// not take gradients. Their boolean meaning differs between the two functions, as in PyTorch:
//   - scaled_dot_product_attention: true = the position TAKES PART (PyTorch 2's rule);
//   - multi_head_attention_forward (and nn::MultiheadAttention): true = the position is MASKED OUT.
// An additive mask is added to the scaled scores before the softmax (-inf removes a position). A row
// whose every position is masked gives NaN weights, as in PyTorch.
//
// Layouts are PyTorch's: multi_head_attention_forward takes sequence-first (L, N, E) inputs, or
// unbatched (L, E); heads split E into num_heads consecutive blocks of E / num_heads; the per-head
// batch index is n * num_heads + h (the layout of a 3-D attn_mask of shape (N * num_heads, L, S)).
//
// Everything is composed from differentiable Var ops (linear, matmul, softmax), so gradients of any
// order flow to query, key, value and every weight.
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/linalg.hpp"
#include "voxnn/core/random.hpp"

namespace voxnn {

// None, a boolean mask or an additive real mask (see the top of this file for the boolean meaning).
// Converts implicitly from Tensor<bool> and Tensor<T, D>, so `{}` passes none.
template <Real T, Device D = Cpu>
class AttentionMask {
 public:
  AttentionMask() = default;
  AttentionMask(Tensor<bool> mask) : boolean_(std::move(mask)) {}  // NOLINT: implicit
  AttentionMask(Tensor<T, D> mask) : additive_(std::move(mask)) {}  // NOLINT: implicit

  bool defined() const { return boolean_.defined() || additive_.defined(); }
  bool is_bool() const { return boolean_.defined(); }
  const Tensor<bool>& boolean() const { return boolean_; }
  const Tensor<T, D>& additive() const { return additive_; }
  const Shape& shape() const { return is_bool() ? boolean_.shape() : additive_.shape(); }
  int dim() const { return shape().size(); }

  // As an additive mask: a boolean one becomes -inf where it equals `masked_value`, 0 elsewhere.
  Tensor<T, D> to_additive(bool masked_value) const {
    if (!is_bool()) return additive_;
    const T inf = std::numeric_limits<T>::infinity();
    return ops::map<T>(boolean_, [masked_value, inf](bool m) { return m == masked_value ? -inf : T(0); }, "attention mask");
  }

 private:
  Tensor<bool> boolean_;
  Tensor<T, D> additive_;
};

namespace autograd::detail {

// softmax(q k^T * scale + mask) v with q (..., L, E), k (..., S, E), v (..., S, Ev) and `mask` additive,
// broadcastable to (..., L, S) (undefined: none); dropout with probability p on the weights. Returns
// (output (..., L, Ev), weights (..., L, S)), the weights after dropout as PyTorch returns them.
template <class T, class D>
std::pair<Var<T, D>, Var<T, D>> attention(const Var<T, D>& q, const Var<T, D>& k, const Var<T, D>& v,
                                          const Tensor<T, D>& mask, T scale, double dropout_p, Generator& gen) {
  Var<T, D> scores = matmul(mul(q, scale), transpose(k, -2, -1));
  if (mask.defined()) scores = add(scores, constant(mask));
  Var<T, D> weights = softmax(scores, -1);
  if (dropout_p > 0) weights = dropout(weights, dropout_p, true, gen);
  return {matmul(weights, v), weights};
}

// t (..., S) with `extra` zero columns appended to its last dim.
template <class T, class D>
Tensor<T, D> pad_last(const Tensor<T, D>& t, int64_t extra = 1) {
  Shape s = t.shape();
  s[s.size() - 1] += extra;
  Tensor<T, D> out = zeros<T, D>(s);
  out.narrow(s.size() - 1, 0, t.shape()[t.dim() - 1]).copy_(t);
  return out;
}

}  // namespace autograd::detail

// torch.nn.functional.scaled_dot_product_attention (PyTorch 2): query (..., L, E), key (..., S, E),
// value (..., S, Ev) -> (..., L, Ev). attn_mask broadcasts to (..., L, S): boolean true = takes part,
// additive = added to the scores. is_causal masks position j > i (not with attn_mask). scale defaults
// to 1 / sqrt(E). Dropout with dropout_p on the weights (always, as PyTorch's function does).
template <Real T, Device D>
std::pair<Var<T, D>, Var<T, D>> scaled_dot_product_attention_with_weights(
    const Var<T, D>& query, const Var<T, D>& key, const Var<T, D>& value, const AttentionMask<T, D>& attn_mask = {},
    double dropout_p = 0.0, bool is_causal = false, std::optional<double> scale = std::nullopt,
    Generator& gen = default_generator()) {
  const char* op = "scaled_dot_product_attention";
  VOXNN_CHECK(query.dim() >= 2 && key.dim() >= 2 && value.dim() >= 2, op, ": query ", query.shape(), ", key ",
              key.shape(), " and value ", value.shape(), " need at least 2 dims (..., L, E)");
  const int64_t e = query.size(-1), l = query.size(-2), s = key.size(-2);
  VOXNN_CHECK(key.size(-1) == e, op, ": key ", key.shape(), " does not end in the query's embedding size ", e,
              " (query ", query.shape(), ")");
  VOXNN_CHECK(value.size(-2) == s, op, ": value ", value.shape(), " does not have the key's ", s,
              " positions (key ", key.shape(), ")");
  VOXNN_CHECK(dropout_p >= 0 && dropout_p <= 1, op, ": dropout_p must be in [0, 1], got ", dropout_p);
  VOXNN_CHECK(!(is_causal && attn_mask.defined()), op, ": is_causal and attn_mask are exclusive");
  Tensor<T, D> mask;
  if (attn_mask.defined()) {
    mask = attn_mask.to_additive(false);
    Shape batch_q, batch_k;
    for (int i = 0; i < query.dim() - 2; ++i) batch_q.push_back(query.shape()[i]);
    for (int i = 0; i < key.dim() - 2; ++i) batch_k.push_back(key.shape()[i]);
    Shape scores = broadcast_shapes(batch_q, batch_k, op);
    scores.push_back(l);
    scores.push_back(s);
    bool fits = mask.dim() <= scores.size();
    for (int i = 1; fits && i <= mask.dim(); ++i) {
      const int64_t m = mask.shape()[mask.dim() - i];
      fits = m == 1 || m == scores[scores.size() - i];
    }
    VOXNN_CHECK(fits, op, ": attn_mask ", attn_mask.shape(), " does not broadcast to the scores ", scores,
                " of query ", query.shape(), " and key ", key.shape());
  } else if (is_causal) {
    const T inf = std::numeric_limits<T>::infinity();
    mask = zeros<T, D>({l, s});
    for (int64_t i = 0; i < l; ++i)
      for (int64_t j = i + 1; j < s; ++j) mask.data()[i * s + j] = -inf;
  }
  const T sc = static_cast<T>(scale.value_or(1.0 / std::sqrt(static_cast<double>(e))));
  return autograd::detail::attention(query, key, value, mask, sc, dropout_p, gen);
}

template <Real T, Device D>
Var<T, D> scaled_dot_product_attention(const Var<T, D>& query, const Var<T, D>& key, const Var<T, D>& value,
                                       const AttentionMask<T, D>& attn_mask = {}, double dropout_p = 0.0,
                                       bool is_causal = false, std::optional<double> scale = std::nullopt,
                                       Generator& gen = default_generator()) {
  return scaled_dot_product_attention_with_weights(query, key, value, attn_mask, dropout_p, is_causal, scale, gen).first;
}

// The arguments of torch.nn.functional.multi_head_attention_forward after query, key and value, by
// PyTorch's names; absent tensors (None) are undefined. E.g.
//   auto [out, w] = multi_head_attention_forward(q, k, v, {.embed_dim_to_check = 8, .num_heads = 2,
//       .in_proj_weight = w_in, .in_proj_bias = b_in, .out_proj_weight = w_out, .out_proj_bias = b_out});
template <Real T, Device D = Cpu>
struct MultiHeadAttentionArgs {
  int64_t embed_dim_to_check = 0;
  int64_t num_heads = 1;
  Var<T, D> in_proj_weight{}, in_proj_bias{};  // (3E, E) and (3E)
  Var<T, D> bias_k{}, bias_v{};                // (1, 1, E): appended to the keys and values
  bool add_zero_attn = false;
  double dropout_p = 0.0;
  Var<T, D> out_proj_weight{}, out_proj_bias{};  // (E, E) and (E)
  bool training = true;
  AttentionMask<T, D> key_padding_mask{};  // (N, S) or (S) unbatched; true / additive
  bool need_weights = true;
  AttentionMask<T, D> attn_mask{};  // (L, S) or (N * num_heads, L, S); true = masked out
  bool use_separate_proj_weight = false;
  Var<T, D> q_proj_weight{}, k_proj_weight{}, v_proj_weight{};  // (E, E), (E, kdim), (E, vdim)
  Var<T, D> static_k{}, static_v{};                             // (N * num_heads, S, E / num_heads)
  bool average_attn_weights = true;
  Generator* generator = nullptr;  // dropout's; default_generator() when null
};

// torch.nn.functional.multi_head_attention_forward (PyTorch 1.13): query (L, N, E), key (S, N, kdim),
// value (S, N, vdim), or unbatched (L, E), (S, kdim), (S, vdim). Returns (attn_output (L, N, E) or
// (L, E), attn_output_weights): (N, L, S') averaged over heads, (N, num_heads, L, S') per head, without
// the batch dim when unbatched, undefined when need_weights is false (S' counts bias_k and the zero
// attention position). Mask merging follows 1.13: a boolean attn_mask ORs with the key padding mask (a
// real-valued key padding mask counts where non-zero), an additive attn_mask gets -inf where a boolean
// key padding mask is true; two additive masks add (1.13 raises there).
template <Real T, Device D>
std::pair<Var<T, D>, Var<T, D>> multi_head_attention_forward(const Var<T, D>& query, const Var<T, D>& key,
                                                             const Var<T, D>& value,
                                                             const std::type_identity_t<MultiHeadAttentionArgs<T, D>>& a) {
  const char* op = "multi_head_attention_forward";
  const bool batched = query.dim() == 3;
  VOXNN_CHECK(batched || query.dim() == 2, op, ": query has ", query.dim(), " dims ", query.shape(),
              "; expected 3 (L, N, E) or 2 (L, E) unbatched");
  VOXNN_CHECK(key.dim() == query.dim() && value.dim() == query.dim(), op, ": for a ", query.dim(), "-dim query ",
              query.shape(), ", key and value must be ", query.dim(), "-dim too; got key ", key.shape(), " and value ",
              value.shape());
  if (a.key_padding_mask.defined())
    VOXNN_CHECK(a.key_padding_mask.dim() == (batched ? 2 : 1), op, ": key_padding_mask ", a.key_padding_mask.shape(),
                " must be ", batched ? "2-dim (N, S)" : "1-dim (S)", " for query ", query.shape());
  if (a.attn_mask.defined())
    VOXNN_CHECK(a.attn_mask.dim() == 2 || a.attn_mask.dim() == 3, op, ": attn_mask ", a.attn_mask.shape(),
                " must be 2-dim (L, S) or 3-dim (N * num_heads, L, S)");

  const Var<T, D> q_in = batched ? query : unsqueeze(query, 1);
  const Var<T, D> k_in = batched ? key : unsqueeze(key, 1);
  const Var<T, D> v_in = batched ? value : unsqueeze(value, 1);
  const int64_t tgt_len = q_in.size(0), bsz = q_in.size(1), embed_dim = q_in.size(2);
  const int64_t heads = a.num_heads;
  VOXNN_CHECK(embed_dim == a.embed_dim_to_check, op, ": query ", query.shape(), " has embedding size ", embed_dim,
              "; expected embed_dim_to_check = ", a.embed_dim_to_check);
  VOXNN_CHECK(heads > 0 && embed_dim % heads == 0, op, ": embed_dim ", embed_dim, " is not divisible by num_heads ",
              heads);
  const int64_t head_dim = embed_dim / heads;
  VOXNN_CHECK(k_in.size(1) == bsz && v_in.size(1) == bsz, op, ": key ", key.shape(), " and value ", value.shape(),
              " must have query ", query.shape(), "'s batch size ", bsz);
  if (a.use_separate_proj_weight)
    VOXNN_CHECK(k_in.size(0) == v_in.size(0), op, ": key ", key.shape(), " and value ", value.shape(),
                " differ in sequence length");
  else
    VOXNN_CHECK(key.shape() == value.shape(), op, ": key shape ", key.shape(), " does not match value shape ",
                value.shape());

  // ---- in-projection ----
  const bool self_attention = query.id() == key.id() && key.id() == value.id();
  Var<T, D> q, k, v;
  auto bias_part = [&](int64_t i) { return a.in_proj_bias.defined() ? narrow(a.in_proj_bias, 0, i * embed_dim, embed_dim) : Var<T, D>(); };
  if (a.in_proj_bias.defined())
    VOXNN_CHECK(a.in_proj_bias.dim() == 1 && a.in_proj_bias.size(0) == 3 * embed_dim, op, ": in_proj_bias ",
                a.in_proj_bias.shape(), " must be (3 * embed_dim) = (", 3 * embed_dim, ")");
  if (!a.use_separate_proj_weight) {
    VOXNN_CHECK(a.in_proj_weight.defined(), op, ": use_separate_proj_weight is false but in_proj_weight is undefined");
    VOXNN_CHECK(a.in_proj_weight.shape() == Shape({3 * embed_dim, embed_dim}), op, ": in_proj_weight ",
                a.in_proj_weight.shape(), " must be (3 * embed_dim, embed_dim) = (", 3 * embed_dim, ", ", embed_dim, ")");
    VOXNN_CHECK(k_in.size(2) == embed_dim, op, ": key ", key.shape(), " must end in embed_dim ", embed_dim,
                " with packed in-projection weights (use separate weights for kdim / vdim)");
    if (self_attention) {
      const auto parts = chunk(linear(q_in, a.in_proj_weight, a.in_proj_bias), 3, -1);
      q = parts[0], k = parts[1], v = parts[2];
    } else {
      auto w = [&](int64_t i) { return narrow(a.in_proj_weight, 0, i * embed_dim, embed_dim); };
      q = linear(q_in, w(0), bias_part(0));
      k = linear(k_in, w(1), bias_part(1));
      v = linear(v_in, w(2), bias_part(2));
    }
  } else {
    VOXNN_CHECK(a.q_proj_weight.defined() && a.k_proj_weight.defined() && a.v_proj_weight.defined(), op,
                ": use_separate_proj_weight is true but q_proj_weight, k_proj_weight or v_proj_weight is undefined");
    const Shape wq{embed_dim, embed_dim}, wk{embed_dim, k_in.size(2)}, wv{embed_dim, v_in.size(2)};
    VOXNN_CHECK(a.q_proj_weight.shape() == wq && a.k_proj_weight.shape() == wk && a.v_proj_weight.shape() == wv, op,
                ": projection weights q ", a.q_proj_weight.shape(), ", k ", a.k_proj_weight.shape(), ", v ",
                a.v_proj_weight.shape(), " must be ", wq, ", ", wk, ", ", wv, " for query ", query.shape(), ", key ",
                key.shape(), ", value ", value.shape());
    q = linear(q_in, a.q_proj_weight, bias_part(0));
    k = linear(k_in, a.k_proj_weight, bias_part(1));
    v = linear(v_in, a.v_proj_weight, bias_part(2));
  }

  // ---- masks, as additive tensors: attn (1 or N * heads, L, S), key padding (N, S) ----
  int64_t src_len = k_in.size(0);
  Tensor<T, D> attn, padding;
  if (a.attn_mask.defined()) {
    const Shape& m = a.attn_mask.shape();
    if (a.attn_mask.dim() == 2) {
      VOXNN_CHECK(m == Shape({tgt_len, src_len}), op, ": the 2-dim attn_mask has shape ", m, "; expected (L, S) = (",
                  tgt_len, ", ", src_len, ")");
    } else if (batched) {
      VOXNN_CHECK(m == Shape({bsz * heads, tgt_len, src_len}), op, ": the 3-dim attn_mask has shape ", m,
                  "; expected (N * num_heads, L, S) = (", bsz * heads, ", ", tgt_len, ", ", src_len, ")");
    } else {
      VOXNN_CHECK(m == Shape({heads, tgt_len, src_len}), op, ": the 3-dim attn_mask has shape ", m,
                  "; expected (num_heads, L, S) = (", heads, ", ", tgt_len, ", ", src_len, ") for an unbatched query");
    }
    attn = a.attn_mask.to_additive(true);
    if (attn.dim() == 2) attn = attn.unsqueeze(0);
  }
  if (a.key_padding_mask.defined()) {
    if (a.attn_mask.defined() && a.attn_mask.is_bool() && !a.key_padding_mask.is_bool()) {
      // 1.13 ORs a boolean attn_mask with the padding mask: a real padding value counts where non-zero
      const T inf = std::numeric_limits<T>::infinity();
      padding = ops::map<T>(a.key_padding_mask.additive(), [inf](T x) { return x != T(0) ? -inf : T(0); },
                            "key_padding_mask");
    } else {
      padding = a.key_padding_mask.to_additive(true);
    }
    if (!batched) padding = padding.unsqueeze(0);
    VOXNN_CHECK(padding.shape() == Shape({bsz, src_len}), op, ": key_padding_mask ", a.key_padding_mask.shape(),
                " must be (N, S) = (", bsz, ", ", src_len, ")", batched ? "" : " without N for an unbatched query");
  }

  // ---- bias_k / bias_v: one more key and value position ----
  if (a.bias_k.defined() || a.bias_v.defined()) {
    VOXNN_CHECK(a.bias_k.defined() && a.bias_v.defined(), op, ": bias_k and bias_v must be given together");
    VOXNN_CHECK(!a.static_k.defined() && !a.static_v.defined(), op, ": bias_k / bias_v cannot be added to static_k / static_v");
    const Shape bs{1, 1, embed_dim};
    VOXNN_CHECK(a.bias_k.shape() == bs && a.bias_v.shape() == bs, op, ": bias_k ", a.bias_k.shape(), " and bias_v ",
                a.bias_v.shape(), " must be (1, 1, embed_dim) = ", bs);
    k = cat(std::vector<Var<T, D>>{k, expand(a.bias_k, {1, bsz, embed_dim})}, 0);
    v = cat(std::vector<Var<T, D>>{v, expand(a.bias_v, {1, bsz, embed_dim})}, 0);
    if (attn.defined()) attn = autograd::detail::pad_last(attn);
    if (padding.defined()) padding = autograd::detail::pad_last(padding);
  }

  // ---- heads: (L, N, E) -> (N, heads, L, head_dim); per-head batch index n * heads + h ----
  auto split_heads = [&](const Var<T, D>& x) {
    return permute(reshape(x, {x.size(0), bsz, heads, head_dim}), {1, 2, 0, 3});
  };
  q = split_heads(q);
  auto static_view = [&](const Var<T, D>& s, const char* name) {
    VOXNN_CHECK(s.dim() == 3 && s.size(0) == bsz * heads && s.size(2) == head_dim, op, ": ", name, " ", s.shape(),
                " must be (N * num_heads, S, head_dim) with N * num_heads = ", bsz * heads, " and head_dim = ", head_dim);
    return reshape(s, {bsz, heads, s.size(1), head_dim});
  };
  k = a.static_k.defined() ? static_view(a.static_k, "static_k") : split_heads(k);
  v = a.static_v.defined() ? static_view(a.static_v, "static_v") : split_heads(v);
  VOXNN_CHECK(k.size(2) == v.size(2), op, ": keys have ", k.size(2), " positions but values ", v.size(2));

  if (a.add_zero_attn) {
    const Var<T, D> zero(zeros<T, D>({bsz, heads, 1, head_dim}));
    k = cat(std::vector<Var<T, D>>{k, zero}, 2);
    v = cat(std::vector<Var<T, D>>{v, zero}, 2);
    if (attn.defined()) attn = autograd::detail::pad_last(attn);
    if (padding.defined()) padding = autograd::detail::pad_last(padding);
  }
  src_len = k.size(2);

  // ---- merged additive mask, broadcastable to (N, heads, L, S) ----
  Tensor<T, D> mask;
  if (attn.defined()) {
    VOXNN_CHECK(attn.shape()[2] == src_len, op, ": attn_mask covers ", attn.shape()[2], " key positions; the keys have ",
                src_len, " (static_k changes the key length)");
    mask = attn.shape()[0] == 1 ? attn.unsqueeze(0) : attn.reshape({bsz, heads, tgt_len, src_len});
  }
  if (padding.defined()) {
    VOXNN_CHECK(padding.shape()[1] == src_len, op, ": key_padding_mask covers ", padding.shape()[1],
                " key positions; the keys have ", src_len);
    const Tensor<T, D> p = padding.reshape({bsz, 1, 1, src_len});
    mask = mask.defined() ? ops::add(mask, p) : p;
  }

  VOXNN_CHECK(a.dropout_p >= 0 && a.dropout_p <= 1, op, ": dropout_p must be in [0, 1], got ", a.dropout_p);
  const double p = a.training ? a.dropout_p : 0.0;
  Generator& gen = a.generator ? *a.generator : default_generator();
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  auto [heads_out, weights] = autograd::detail::attention(q, k, v, mask, scale, p, gen);

  // ---- (N, heads, L, head_dim) -> (L, N, E), out-projection ----
  VOXNN_CHECK(a.out_proj_weight.defined() && a.out_proj_weight.shape() == Shape({embed_dim, embed_dim}), op,
              ": out_proj_weight ", a.out_proj_weight.defined() ? a.out_proj_weight.shape() : Shape{},
              " must be (embed_dim, embed_dim) = (", embed_dim, ", ", embed_dim, ")");
  Var<T, D> out = reshape(permute(heads_out, {2, 0, 1, 3}), {tgt_len, bsz, embed_dim});
  out = linear(out, a.out_proj_weight, a.out_proj_bias);
  if (!batched) out = squeeze(out, 1);
  if (!a.need_weights) return {out, Var<T, D>()};
  if (a.average_attn_weights) weights = mul(sum(weights, {1}), static_cast<T>(T(1) / static_cast<T>(heads)));
  if (!batched) weights = squeeze(weights, 0);
  return {out, weights};
}

}  // namespace voxnn
