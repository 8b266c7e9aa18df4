#pragma once
// Aggregation over a set (the slices of a volume in a 2D-slice set network): mean and max pooling
// with an optional mask for padded sets, the reference's pooled attention, and the set transformer's
// pooling by multihead attention (PMA).
//
//   set_mean_pool, set_max_pool    the functions below them (autograd/functions/set_pooling.hpp)
//   SetMeanPool, SetMaxPool        modules; forward(x (N, S, E)) -> (N, 1, E) as the reference's
//                                  MeanPool / MaxPool (keepdim), which return (pooled, None)
//   PooledAttention                the reference's PooledAttention (umgupta/2d-slice-set-networks,
//                                  src/arch/slice_cnn_utils.py): one learned query over the set
//   PMA                            k learned seed vectors attending over the set with
//                                  MultiheadAttention, optional LayerNorm and row-wise feed-forward
//
// key_padding_mask follows nn::MultiheadAttention: shape (N, S) (the dims of x up to the set dim),
// true = a padding element that takes no part. A set whose every element is padding pools to NaN
// (mean: 0 / 0) or -inf (max), and gets no weight in attention (NaN, as PyTorch).
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/attention.hpp"
#include "voxnn/autograd/functions/set_pooling.hpp"
#include "voxnn/nn/attention.hpp"
#include "voxnn/nn/init.hpp"
#include "voxnn/nn/linear.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/norm.hpp"

namespace voxnn::nn {

struct SetPoolOptions {
  int64_t dim = 1;       // the set dim
  bool keepdim = true;   // the reference keeps it: (N, S, E) -> (N, 1, E)
};

// Mean over the set: the reference's MeanPool (X.mean(dim=1, keepdim=True)).
template <Real T, Device D = Cpu>
class SetMeanPool : public ModuleWithOptions<T, D, SetPoolOptions> {
 public:
  using ModuleWithOptions<T, D, SetPoolOptions>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override { return forward(x, {}); }
  Var<T, D> forward(const Var<T, D>& x, const Tensor<bool>& key_padding_mask) {
    return set_mean_pool(x, this->options.dim, key_padding_mask, this->options.keepdim);
  }
  std::string type_name() const override { return "SetMeanPool"; }
};

// Maximum over the set: the reference's MaxPool (X.max(dim=1, keepdim=True)[0]).
template <Real T, Device D = Cpu>
class SetMaxPool : public ModuleWithOptions<T, D, SetPoolOptions> {
 public:
  using ModuleWithOptions<T, D, SetPoolOptions>::ModuleWithOptions;
  Var<T, D> forward(const Var<T, D>& x) override { return forward(x, {}); }
  Var<T, D> forward(const Var<T, D>& x, const Tensor<bool>& key_padding_mask) {
    return set_max_pool(x, this->options.dim, key_padding_mask, this->options.keepdim);
  }
  std::string type_name() const override { return "SetMaxPool"; }
};

// ---- the reference's pooled attention -------------------------------------------------------------

struct PooledAttentionOptions {
  int64_t input_dim = 0;
  int64_t dim_v = 0;
  int64_t dim_k = 0;  // must equal dim_v: the reference splits query, keys and values alike
  int64_t num_heads = 1;
  bool ln = false;
};

// The reference's PooledAttention (2D-slice set networks). Input X (B, C, H): B sets of C elements
// (slices) of H = input_dim features. One learned query S (1, dim_k), not projected; keys and values
// by linear maps fc_k, fc_v; heads split dim_v into num_heads blocks of d = dim_v / num_heads;
// A = softmax(S_h K_h^T / sqrt(d)) over the set; the heads' outputs A V_h concatenated; LayerNorm ln0
// (when ln); linear fc_o. forward returns (O (B, 1, dim_v), A (num_heads * B, 1, C)), A in the
// reference's head-major order (row h * B + b). Parameters, as the reference's state dict names them:
//   S (1, dim_k), fc_k.{weight,bias}, fc_v.{weight,bias}, ln0.{weight,bias} (when ln), fc_o.{weight,bias}
// (under "pooled_attention." in the reference's MRI2DSlice). S is initialised with xavier_uniform_ as
// the reference does, the linear maps as Linear's default (MRI2DSlice re-initialises them itself).
// An optional key_padding_mask (B, C), true = padding, extends the reference to padded sets.
template <Real T, Device D = Cpu>
class PooledAttention : public ModuleWithOptions<T, D, PooledAttentionOptions> {
  using Base = ModuleWithOptions<T, D, PooledAttentionOptions>;

 public:
  using Options = PooledAttentionOptions;
  Var<T, D> S;

  explicit PooledAttention(const Options& o) : PooledAttention(nullptr, "", o) {}
  PooledAttention(Module<T, D>* parent, std::string name, const Options& o)
      : Base(parent, std::move(name), checked(o)),
        fc_k(this, "fc_k", {o.input_dim, o.dim_k}),
        fc_v(this, "fc_v", {o.input_dim, o.dim_v}),
        ln0(o.ln ? std::make_unique<LayerNorm<T, D>>(this, "ln0", LayerNormOptions{{o.dim_v}}) : nullptr),
        fc_o(this, "fc_o", {o.dim_v, o.dim_v}) {
    this->register_parameter("S", &S, empty<T, D>({1, o.dim_k}));
    init::xavier_uniform_(S.mutable_value());
  }

  // (O, A) as described above.
  std::pair<Var<T, D>, Var<T, D>> forward(const Var<T, D>& x, const Tensor<bool>& key_padding_mask) {
    auto [pooled, attention] = attend(x, key_padding_mask);
    if (ln0) pooled = (*ln0)(pooled);
    return {fc_o(pooled), attention};
  }
  // O alone (for containers).
  Var<T, D> forward(const Var<T, D>& x) override { return forward(x, {}).first; }
  // The attention weights A (num_heads * B, 1, C), as the reference's get_attention.
  Var<T, D> get_attention(const Var<T, D>& x, const Tensor<bool>& key_padding_mask = {}) {
    return attend(x, key_padding_mask).second;
  }
  std::string type_name() const override { return "PooledAttention"; }

  Linear<T, D> fc_k, fc_v;
  std::unique_ptr<LayerNorm<T, D>> ln0;  // null without ln
  Linear<T, D> fc_o;

 private:
  static const Options& checked(const Options& o) {
    VOXNN_CHECK(o.input_dim > 0 && o.dim_v > 0 && o.num_heads > 0, "PooledAttention: input_dim, dim_v and num_heads must be positive, got ",
                o.input_dim, ", ", o.dim_v, " and ", o.num_heads);
    VOXNN_CHECK(o.dim_k == o.dim_v, "PooledAttention: dim_k ", o.dim_k, " must equal dim_v ", o.dim_v,
                " (the query, keys and values split into the same heads)");
    VOXNN_CHECK(o.dim_v % o.num_heads == 0, "PooledAttention: dim_v ", o.dim_v, " must be divisible by num_heads ",
                o.num_heads);
    return o;
  }
  // Heads' outputs concatenated (B, 1, dim_v) before ln0 / fc_o, and A.
  std::pair<Var<T, D>, Var<T, D>> attend(const Var<T, D>& x, const Tensor<bool>& key_padding_mask) {
    const Options& o = this->options;
    VOXNN_CHECK(x.dim() == 3 && x.size(2) == o.input_dim, type_name(), ": input ", x.shape(),
                " must be (B, C, input_dim) with input_dim = ", o.input_dim);
    const int64_t b = x.size(0), c = x.size(1), h = o.num_heads, d = o.dim_v / h;
    // (B, C, dim) -> (heads, B, C, d): head h takes features [h d, (h + 1) d)
    auto heads_of = [&](const Var<T, D>& t) { return permute(reshape(t, {b, c, h, d}), {2, 0, 1, 3}); };
    const Var<T, D> k = heads_of(fc_k(x)), v = heads_of(fc_v(x));
    const Var<T, D> q = reshape(S, {h, 1, 1, d});
    Var<T, D> scores = mul(matmul(q, transpose(k, -2, -1)), static_cast<T>(1.0 / std::sqrt(static_cast<double>(d))));
    if (key_padding_mask.defined()) {
      VOXNN_CHECK(key_padding_mask.shape() == Shape({b, c}), type_name(), ": key_padding_mask ",
                  key_padding_mask.shape(), " must be (B, C) = (", b, ", ", c, ") for input ", x.shape());
      const AttentionMask<T, D> m(key_padding_mask);
      scores = add(scores, constant(m.to_additive(true).reshape({1, b, 1, c})));
    }
    const Var<T, D> a = softmax(scores, -1);  // (heads, B, 1, C)
    const Var<T, D> pooled = reshape(permute(matmul(a, v), {1, 2, 0, 3}), {b, 1, o.dim_v});
    return {pooled, reshape(a, {h * b, 1, c})};
  }
};

// ---- the set transformer's PMA --------------------------------------------------------------------

struct PMAOptions {
  int64_t embed_dim = 0;
  int64_t num_heads = 1;
  int64_t num_seeds = 1;  // k: the number of pooled outputs per set
  int64_t input_dim = 0;  // features of the set's elements; 0: embed_dim (MultiheadAttention's kdim, vdim)
  bool ln = false;        // LayerNorm after the attention and after the feed-forward
  bool rff = true;        // the row-wise feed-forward step H + relu(fc_o(H))
  double dropout = 0.0;   // on the attention weights, in training
};

// Pooling by multihead attention (Lee et al., Set Transformer, 2019), built on MultiheadAttention:
// k learned seeds S (1, k, E) attend over the set X (N, S, input_dim):
//   H = S + attn(S, X, X);  H = ln0(H) (when ln);  H = H + relu(fc_o(H)) (when rff);  H = ln1(H) (when ln)
// forward returns (H (N, k, E), the attention weights averaged over heads (N, k, S)). Parameters:
//   S (1, k, E) (xavier_uniform_), attn.* (a batch-first MultiheadAttention), ln0.*, fc_o.*, ln1.*
// The set transformer's own MAB differs (it adds the projected query and has no out-projection); this
// is the variant commonly written with torch.nn.MultiheadAttention.
template <Real T, Device D = Cpu>
class PMA : public ModuleWithOptions<T, D, PMAOptions> {
  using Base = ModuleWithOptions<T, D, PMAOptions>;

 public:
  using Options = PMAOptions;
  Var<T, D> S;

  explicit PMA(const Options& o) : PMA(nullptr, "", o) {}
  PMA(Module<T, D>* parent, std::string name, const Options& o)
      : Base(parent, std::move(name), checked(o)),
        attn(this, "attn",
             {.embed_dim = o.embed_dim, .num_heads = o.num_heads, .dropout = o.dropout, .kdim = input_dim(o),
              .vdim = input_dim(o), .batch_first = true}),
        ln0(o.ln ? std::make_unique<LayerNorm<T, D>>(this, "ln0", LayerNormOptions{{o.embed_dim}}) : nullptr),
        fc_o(o.rff ? std::make_unique<Linear<T, D>>(this, "fc_o", LinearOptions{o.embed_dim, o.embed_dim}) : nullptr),
        ln1(o.ln ? std::make_unique<LayerNorm<T, D>>(this, "ln1", LayerNormOptions{{o.embed_dim}}) : nullptr) {
    this->register_parameter("S", &S, empty<T, D>({1, o.num_seeds, o.embed_dim}));
    init::xavier_uniform_(S.mutable_value());
  }

  std::pair<Var<T, D>, Var<T, D>> forward(const Var<T, D>& x, const AttentionMask<T, D>& key_padding_mask) {
    const Options& o = this->options;
    VOXNN_CHECK(x.dim() == 3 && x.size(2) == input_dim(o), type_name(), ": input ", x.shape(),
                " must be (N, S, input_dim) with input_dim = ", input_dim(o));
    const Var<T, D> seeds = expand(S, {x.size(0), o.num_seeds, o.embed_dim});
    auto [attended, weights] = attn(seeds, x, x, key_padding_mask);
    Var<T, D> h = add(seeds, attended);
    if (ln0) h = (*ln0)(h);
    if (fc_o) h = add(h, relu((*fc_o)(h)));
    if (ln1) h = (*ln1)(h);
    return {h, weights};
  }
  Var<T, D> forward(const Var<T, D>& x) override { return forward(x, {}).first; }
  std::string type_name() const override { return "PMA"; }

  MultiheadAttention<T, D> attn;
  std::unique_ptr<LayerNorm<T, D>> ln0;
  std::unique_ptr<Linear<T, D>> fc_o;
  std::unique_ptr<LayerNorm<T, D>> ln1;

 private:
  static int64_t input_dim(const Options& o) { return o.input_dim > 0 ? o.input_dim : o.embed_dim; }
  static const Options& checked(const Options& o) {
    VOXNN_CHECK(o.embed_dim > 0 && o.num_heads > 0 && o.num_seeds > 0 && o.input_dim >= 0,
                "PMA: embed_dim, num_heads and num_seeds must be positive, got ", o.embed_dim, ", ", o.num_heads,
                " and ", o.num_seeds);
    return o;
  }
};

}  // namespace voxnn::nn
