#pragma once
// Differentiable recurrent layers with torch.nn.GRU / torch.nn.LSTM's semantics (PyTorch 1.13):
//
//   GRU   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)       gate rows of weight_ih / weight_hh: r, z, n
//         z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//         n = tanh(W_in x + b_in + r * (W_hn h + b_hn))    (b_hn inside the product)
//         h' = (1 - z) * n + z * h
//   LSTM  i, f, o = sigmoid(...), g = tanh(...)             gate rows: i, f, g, o
//         c' = f * c + i * g,  h' = o * tanh(c')
//
//   auto [y, h_n] = gru(x, h0, params, {.num_layers = 2, .bidirectional = true});
//   auto [y, h_n, c_n] = lstm(x, h0, c0, params, {.batch_first = true});
//   Var<float> h1 = gru_cell(x, h, w_ih, w_hh, b_ih, b_hh);
//
// `params` is PyTorch's flat weight list: for each layer, for each direction, weight_ih, weight_hh and
// (with bias) bias_ih, bias_hh. Inputs are (T, B, I), (B, T, I) with batch_first, or unbatched (T, I);
// an undefined h0 / c0 means zeros.
//
// Speed: one layer in one direction over the whole sequence is ONE graph node (gru_layer, lstm_layer).
// Its forward computes the input projection of all steps as one GEMM, then per step one small GEMM
// (h W_hh^T) and a fused gate kernel that keeps what backward needs (the activated gates). Its
// backward runs the recurrence in reverse with fused gate-gradient kernels and one small GEMM per
// step, then the weight and input gradients as one GEMM each over all steps. The node's value packs
// the hidden states of every step (and for the LSTM the cell states) with the initial state, so the
// output and h_n / c_n are views of it.
//
// Double backward (create_graph): the node's backward then rebuilds the layer from differentiable
// building blocks (linear, sigmoid, tanh, ...) and differentiates that graph, so gradients of
// gradients are exact (and slower than the fused path, as create_graph is rare for RNNs).
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "voxnn/autograd/engine.hpp"
#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/linalg.hpp"
#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/autograd/var.hpp"
#include "voxnn/backend/cpu/gemm.hpp"
#include "voxnn/backend/cpu/simd.hpp"
#include "voxnn/core/device.hpp"
#include "voxnn/core/diagnostics.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/random.hpp"

namespace voxnn {

// Options of the multi-layer functions gru() and lstm() (torch's _VF.gru / _VF.lstm arguments).
struct RnnOptions {
  int64_t num_layers = 1;
  bool bias = true;          // whether params holds bias_ih / bias_hh for each layer and direction
  bool batch_first = false;  // input and output (B, T, feature) instead of (T, B, feature)
  double dropout = 0.0;      // on each layer's output but the last, in training only
  bool training = false;
  bool bidirectional = false;
};

template <Real T, Device D = Cpu>
struct GruResult {
  Var<T, D> output;  // (T, B, D * H), (B, T, D * H) with batch_first, (T, D * H) unbatched
  Var<T, D> h_n;     // (num_layers * D, B, H), (num_layers * D, H) unbatched
};
template <Real T, Device D = Cpu>
struct LstmResult {
  Var<T, D> output, h_n, c_n;
};
template <Real T, Device D = Cpu>
struct LstmCellResult {
  Var<T, D> h, c;
};

namespace rnn_detail {

enum class Kind { gru, lstm };
inline constexpr int64_t gate_count(Kind k) { return k == Kind::gru ? 3 : 4; }
inline const char* kind_name(Kind k) { return k == Kind::gru ? "gru" : "lstm"; }

// ---- fused kernels on raw contiguous buffers ---------------------------------------------------------
//
// Layout of one layer-direction run with n steps, batch B, input I, hidden H, G = gates * H:
//   x      [n * B, I]                 input, step-major
//   gates  [n * B, G]                 the input projection, overwritten per step by the activated gates
//   hall   [(n + 1) * B, H]           block 0 = h0 and block t + 1 = h_t (forward); reversed runs keep
//                                     block t = h_t and block n = h0, so h_{prev} of step t is block t
//                                     (forward) or t + 1 (reverse) and the n previous states of all
//                                     steps are contiguous either way.
//   GRU    hn    [n * B, H]           W_hn h + b_hn per step (inside the r product)
//   LSTM   call  [(n + 1) * B, H]     cell states, laid out as hall; tanhc [n * B, H] = tanh(c_t)

struct Sizes {
  int64_t n, B, I, H;
  int64_t prev_block(int64_t t, bool reverse) const { return reverse ? t + 1 : t; }
  int64_t out_block(int64_t t, bool reverse) const { return reverse ? t : t + 1; }
};

template <class T>
using Arr = Eigen::Array<T, Eigen::Dynamic, 1>;
template <class T>
using Vec = Eigen::Map<Arr<T>>;
template <class T>
using CVec = Eigen::Map<const Arr<T>>;

template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T beta,
          T* c, int64_t ldc) {
  backend::cpu::gemm<T>(ta, tb, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
}

// out[c] (+)= sum over rows of a[rows, cols].
template <class T>
void column_sums(const T* a, int64_t rows, int64_t cols, T* out) {
  Vec<T> acc(out, cols);
  acc.setZero();
  for (int64_t r = 0; r < rows; ++r) acc += CVec<T>(a + r * cols, cols);
}

VOXNN_EIGEN_AVX512_WARNINGS_BEGIN

// p[0, n) = tanh(p[0, n)). For float as 2 * sigmoid(2x) - 1 (absolute error ~1e-7) on Eigen's logistic,
// which is always inlined: Eigen's float tanh is an out-of-line function once a translation unit calls it
// from two places, and GCC 12 then reports its AVX-512 intrinsics as uninitialised outside any guard.
template <class T>
void tanh_inplace(T* p, int64_t n) {
  Vec<T> v(p, n);
  if constexpr (std::is_same_v<T, float>) v = T(2) * (T(2) * v).logistic() - T(1);
  else v = v.tanh();
}

// ---- the per-step product: a few rows times a weight matrix -------------------------------------------
//
// out[M, N] (+)= a[M, K] * w[K, N], everything row-major, for the recurrent product of one step
// (M = batch, a few rows). A BLAS would pack w at every call and fork threads for a product this
// small; this kernel reads w in place and keeps an 8-row x 2-vector block of out in registers over
// the whole reduction, so each loaded w vector feeds 8 FMAs (measured at ~115 GFLOPS for 8 x 128 x 384
// on one Zen 4 core, twice Eigen's GEMM). It runs on the calling thread.

using backend::cpu::kLanes;
using backend::cpu::Packet;
// 8 rows x kNR vectors of accumulators, kNR loaded w vectors and one broadcast must fit the registers.
inline constexpr int kNR = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 2 : 1;

template <class T, int MR, int NR, bool Acc>
inline void product_block(int64_t K, const T* a, int64_t lda, const T* w, int64_t ldw, T* out, int64_t ldo) {
  namespace ei = Eigen::internal;
  using P = Packet<T>;
  constexpr int L = kLanes<T>;
  P acc[MR][NR];
VOXNN_UNROLL(8)
  for (int m = 0; m < MR; ++m)
VOXNN_UNROLL(2)
    for (int r = 0; r < NR; ++r) acc[m][r] = Acc ? ei::ploadu<P>(out + m * ldo + r * L) : ei::pset1<P>(T(0));
  for (int64_t k = 0; k < K; ++k) {
    P wv[NR];
VOXNN_UNROLL(2)
    for (int r = 0; r < NR; ++r) wv[r] = ei::ploadu<P>(w + k * ldw + r * L);
VOXNN_UNROLL(8)
    for (int m = 0; m < MR; ++m) {
      const P av = ei::pset1<P>(a[m * lda + k]);
VOXNN_UNROLL(2)
      for (int r = 0; r < NR; ++r) acc[m][r] = ei::pmadd(av, wv[r], acc[m][r]);
    }
  }
VOXNN_UNROLL(8)
  for (int m = 0; m < MR; ++m)
VOXNN_UNROLL(2)
    for (int r = 0; r < NR; ++r) ei::pstoreu(out + m * ldo + r * L, acc[m][r]);
}

template <class T, int MR, bool Acc>
void product_rows(int64_t K, int64_t N, const T* a, int64_t lda, const T* w, int64_t ldw, T* out, int64_t ldo) {
  constexpr int L = kLanes<T>;
  int64_t j = 0;
  for (; j + kNR * L <= N; j += kNR * L) product_block<T, MR, kNR, Acc>(K, a, lda, w + j, ldw, out + j, ldo);
  for (; j + L <= N; j += L) product_block<T, MR, 1, Acc>(K, a, lda, w + j, ldw, out + j, ldo);
  for (; j < N; ++j)
    for (int m = 0; m < MR; ++m) {
      T sum = Acc ? out[m * ldo + j] : T(0);
      for (int64_t k = 0; k < K; ++k) sum += a[m * lda + k] * w[k * ldw + j];
      out[m * ldo + j] = sum;
    }
}

// out[M, N] = a[M, K] * w[K, N] (+ out when accumulate), contiguous rows of K, N and N elements.
template <class T>
void step_product(int64_t M, int64_t K, int64_t N, const T* a, const T* w, bool accumulate, T* out) {
  if (M > 32) {  // enough rows for a packed, threaded GEMM to pay off
    gemm<T>(false, false, M, N, K, a, K, w, N, accumulate ? T(1) : T(0), out, N);
    return;
  }
  auto rows = [&](auto mr, int64_t b) {
    constexpr int MR = decltype(mr)::value;
    if (accumulate) product_rows<T, MR, true>(K, N, a + b * K, K, w, N, out + b * N, N);
    else product_rows<T, MR, false>(K, N, a + b * K, K, w, N, out + b * N, N);
  };
  int64_t b = 0;
  for (; b + 8 <= M; b += 8) rows(std::integral_constant<int, 8>{}, b);
  if (M - b >= 4) rows(std::integral_constant<int, 4>{}, b), b += 4;
  if (M - b >= 2) rows(std::integral_constant<int, 2>{}, b), b += 2;
  if (M - b >= 1) rows(std::integral_constant<int, 1>{}, b);
}

// GRU forward over n steps. w_hh_t is W_hh transposed ([H, 3H]); b_ih / b_hh are [3H] (zeros when the
// layer has no bias); scratch [B, 3H + 2H].
template <class T>
void gru_forward(const Sizes& s, bool reverse, const T* x, const T* w_ih, const T* w_hh_t, const T* b_ih,
                 const T* b_hh, T* hall, T* gates, T* hn, T* scratch) {
  const int64_t B = s.B, H = s.H, G = 3 * H;
  gemm<T>(false, true, s.n * B, G, s.I, x, s.I, w_ih, s.I, T(0), gates, G);
  T* gh = scratch;
  T* bias_rz = scratch + B * G;  // b_ih + b_hh for r and z
  Vec<T>(bias_rz, 2 * H) = CVec<T>(b_ih, 2 * H) + CVec<T>(b_hh, 2 * H);
  const CVec<T> b_in(b_ih + 2 * H, H), b_hn(b_hh + 2 * H, H), b_r(bias_rz, H), b_z(bias_rz + H, H);
  for (int64_t step = 0; step < s.n; ++step) {
    const int64_t t = reverse ? s.n - 1 - step : step;
    const T* hprev = hall + s.prev_block(t, reverse) * B * H;
    T* hout = hall + s.out_block(t, reverse) * B * H;
    step_product<T>(B, H, G, hprev, w_hh_t, false, gh);
    for (int64_t b = 0; b < B; ++b) {
      T* g = gates + (t * B + b) * G;
      const T* ghb = gh + b * G;
      Vec<T> r(g, H), z(g + H, H), nn(g + 2 * H, H), hnb(hn + (t * B + b) * H, H);
      r = (r + CVec<T>(ghb, H) + b_r).logistic();
      z = (z + CVec<T>(ghb + H, H) + b_z).logistic();
      hnb = CVec<T>(ghb + 2 * H, H) + b_hn;
      nn += b_in + r * hnb;
      tanh_inplace(nn.data(), H);
      Vec<T>(hout + b * H, H) = nn + z * (CVec<T>(hprev + b * H, H) - nn);
    }
  }
}

// GRU backward. g: gradient of hall. Writes dgi [n * B, 3H] (gradient of the input-side
// pre-activations) and dgh [n * B, 3H] (of the hidden-side ones, W_h. h + b_h.), and dh0 [B, H].
template <class T>
void gru_backward(const Sizes& s, bool reverse, const T* w_hh, const T* hall, const T* gates, const T* hn, const T* g,
                  T* dgi, T* dgh, T* dh0) {
  const int64_t B = s.B, H = s.H, G = 3 * H;
  T* dh = dh0;  // the running gradient of the hidden state, ending as dh0
  std::fill(dh, dh + B * H, T(0));
  for (int64_t step = 0; step < s.n; ++step) {
    const int64_t t = reverse ? step : s.n - 1 - step;
    const T* hprev = hall + s.prev_block(t, reverse) * B * H;
    const T* gout = g + s.out_block(t, reverse) * B * H;
    for (int64_t b = 0; b < B; ++b) {
      const T* gb = gates + (t * B + b) * G;
      const CVec<T> r(gb, H), z(gb + H, H), nn(gb + 2 * H, H), hnb(hn + (t * B + b) * H, H);
      Vec<T> d(dh + b * H, H);
      d += CVec<T>(gout + b * H, H);
      T* di = dgi + (t * B + b) * G;
      T* dhh = dgh + (t * B + b) * G;
      Vec<T> di_r(di, H), di_z(di + H, H), di_n(di + 2 * H, H);
      di_n = d * (T(1) - z) * (T(1) - nn * nn);
      di_r = di_n * hnb * r * (T(1) - r);
      di_z = d * (CVec<T>(hprev + b * H, H) - nn) * z * (T(1) - z);
      Vec<T>(dhh, 2 * H) = CVec<T>(di, 2 * H);
      Vec<T>(dhh + 2 * H, H) = di_n * r;
      d *= z;
    }
    step_product<T>(B, G, H, dgh + t * B * G, w_hh, true, dh);
  }
  Vec<T>(dh0, B * H) += CVec<T>(g + s.prev_block(reverse ? s.n - 1 : 0, reverse) * B * H, B * H);
}

// LSTM forward; w_hh_t is W_hh transposed ([H, 4H]); scratch [B, 4H + 4H].
template <class T>
void lstm_forward(const Sizes& s, bool reverse, const T* x, const T* w_ih, const T* w_hh_t, const T* b_ih,
                  const T* b_hh, T* hall, T* call, T* gates, T* tanhc, T* scratch) {
  const int64_t B = s.B, H = s.H, G = 4 * H;
  gemm<T>(false, true, s.n * B, G, s.I, x, s.I, w_ih, s.I, T(0), gates, G);
  T* gh = scratch;
  T* bias = scratch + B * G;
  Vec<T>(bias, G) = CVec<T>(b_ih, G) + CVec<T>(b_hh, G);
  const CVec<T> bi(bias, H), bf(bias + H, H), bg(bias + 2 * H, H), bo(bias + 3 * H, H);
  for (int64_t step = 0; step < s.n; ++step) {
    const int64_t t = reverse ? s.n - 1 - step : step;
    const int64_t pb = s.prev_block(t, reverse), ob = s.out_block(t, reverse);
    step_product<T>(B, H, G, hall + pb * B * H, w_hh_t, false, gh);
    for (int64_t b = 0; b < B; ++b) {
      T* gb = gates + (t * B + b) * G;
      const T* ghb = gh + b * G;
      Vec<T> i(gb, H), f(gb + H, H), gg(gb + 2 * H, H), o(gb + 3 * H, H), tc(tanhc + (t * B + b) * H, H);
      Vec<T> c(call + (ob * B + b) * H, H);
      i = (i + CVec<T>(ghb, H) + bi).logistic();
      f = (f + CVec<T>(ghb + H, H) + bf).logistic();
      gg += CVec<T>(ghb + 2 * H, H) + bg;
      tanh_inplace(gg.data(), H);
      o = (o + CVec<T>(ghb + 3 * H, H) + bo).logistic();
      c = f * CVec<T>(call + (pb * B + b) * H, H) + i * gg;
      tc = c;
      tanh_inplace(tc.data(), H);
      Vec<T>(hall + (ob * B + b) * H, H) = o * tc;
    }
  }
}

// LSTM backward. gh_all / gc_all: gradients of hall / call. Writes dgates [n * B, 4H] (gradient of the
// pre-activations, the same on the input and the hidden side), dh0 and dc0 [B, H].
template <class T>
void lstm_backward(const Sizes& s, bool reverse, const T* w_hh, const T* call, const T* gates, const T* tanhc,
                   const T* gh_all, const T* gc_all, T* dgates, T* dh0, T* dc0) {
  const int64_t B = s.B, H = s.H, G = 4 * H;
  T* dh = dh0;
  T* dc = dc0;
  std::fill(dh, dh + B * H, T(0));
  std::fill(dc, dc + B * H, T(0));
  for (int64_t step = 0; step < s.n; ++step) {
    const int64_t t = reverse ? step : s.n - 1 - step;
    const int64_t pb = s.prev_block(t, reverse), ob = s.out_block(t, reverse);
    for (int64_t b = 0; b < B; ++b) {
      const T* gb = gates + (t * B + b) * G;
      const CVec<T> i(gb, H), f(gb + H, H), gg(gb + 2 * H, H), o(gb + 3 * H, H), tc(tanhc + (t * B + b) * H, H);
      const CVec<T> cprev(call + (pb * B + b) * H, H);
      Vec<T> dhb(dh + b * H, H), dcb(dc + b * H, H);
      dhb += CVec<T>(gh_all + (ob * B + b) * H, H);
      dcb += CVec<T>(gc_all + (ob * B + b) * H, H) + dhb * o * (T(1) - tc * tc);
      T* dg = dgates + (t * B + b) * G;
      Vec<T>(dg, H) = dcb * gg * i * (T(1) - i);
      Vec<T>(dg + H, H) = dcb * cprev * f * (T(1) - f);
      Vec<T>(dg + 2 * H, H) = dcb * i * (T(1) - gg * gg);
      Vec<T>(dg + 3 * H, H) = dhb * tc * o * (T(1) - o);
      dcb *= f;
    }
    step_product<T>(B, G, H, dgates + t * B * G, w_hh, false, dh);
  }
  const int64_t first = s.prev_block(reverse ? s.n - 1 : 0, reverse);  // the block holding h0 / c0
  Vec<T>(dh0, B * H) += CVec<T>(gh_all + first * B * H, B * H);
  Vec<T>(dc0, B * H) += CVec<T>(gc_all + first * B * H, B * H);
}

VOXNN_EIGEN_AVX512_WARNINGS_END

// ---- the same layer from differentiable building blocks (create_graph, and a reference) -----------------

// The packed value of one layer-direction run, built step by step from Var ops: [n + 1, B, H] for the
// GRU, [2, n + 1, B, H] (hidden states, then cell states) for the LSTM, laid out as the fused kernels'.
template <Real T, Device D>
Var<T, D> layer_graph(Kind kind, const Var<T, D>& x, const Var<T, D>& h0, const Var<T, D>& c0, const Var<T, D>& w_ih,
                      const Var<T, D>& w_hh, const Var<T, D>& b_ih, const Var<T, D>& b_hh, bool reverse) {
  const int64_t n = x.size(0), H = w_hh.size(1);
  const Var<T, D> gi_all = linear(x, w_ih, b_ih);
  std::vector<Var<T, D>> hs(static_cast<std::size_t>(n + 1)), cs(kind == Kind::lstm ? hs.size() : 0);
  const Sizes s{n, x.size(1), x.size(2), H};
  Var<T, D> h = h0, c = c0;
  hs[static_cast<std::size_t>(s.prev_block(reverse ? n - 1 : 0, reverse))] = h;
  if (kind == Kind::lstm) cs[static_cast<std::size_t>(s.prev_block(reverse ? n - 1 : 0, reverse))] = c;
  for (int64_t step = 0; step < n; ++step) {
    const int64_t t = reverse ? n - 1 - step : step;
    const Var<T, D> gi = select(gi_all, 0, t), gh = linear(h, w_hh, b_hh);
    auto part = [H](const Var<T, D>& v, int64_t k) { return narrow(v, 1, k * H, H); };
    if (kind == Kind::gru) {
      const Var<T, D> r = sigmoid(part(gi, 0) + part(gh, 0)), z = sigmoid(part(gi, 1) + part(gh, 1));
      const Var<T, D> nn = tanh(part(gi, 2) + r * part(gh, 2));
      h = nn + z * (h - nn);
    } else {
      const Var<T, D> pre = gi + gh;
      const Var<T, D> i = sigmoid(part(pre, 0)), f = sigmoid(part(pre, 1)), g = tanh(part(pre, 2)),
                      o = sigmoid(part(pre, 3));
      c = f * c + i * g;
      h = o * tanh(c);
      cs[static_cast<std::size_t>(s.out_block(t, reverse))] = c;
    }
    hs[static_cast<std::size_t>(s.out_block(t, reverse))] = h;
  }
  if (kind == Kind::gru) return stack(hs, 0);
  return stack(std::vector<Var<T, D>>{stack(hs, 0), stack(cs, 0)}, 0);
}

// ---- differentiating a sub-graph in isolation (create_graph) ------------------------------------------

template <class T, class D>
using GraphFn = std::function<Var<T, D>(const std::vector<Var<T, D>>&)>;

template <class T, class D>
std::vector<Var<T, D>> isolated_vjp(const GraphFn<T, D>& f, const std::vector<Var<T, D>>& inputs, const Var<T, D>& g);

// f(inputs) as one node over `inputs`: f runs on leaf copies, so differentiating the node never walks
// out of f's own graph into the graph that produced the inputs (where it could meet the node that
// called it: a layer's gradient depends on that layer's own output once create_graph is on). The
// node's backward is isolated_vjp of f, itself such a node, so every order of derivative works.
template <class T, class D>
Var<T, D> isolated(const GraphFn<T, D>& f, const std::vector<Var<T, D>>& inputs, const char* name) {
  std::vector<Var<T, D>> leaves;
  for (const auto& v : inputs) leaves.push_back(v.defined() ? Var<T, D>(v.value(), v.requires_grad()) : Var<T, D>());
  Tensor<T, D> value;
  {
    NoGradGuard no_grad;
    value = f(leaves).value();
  }
  return autograd::make_result<T, D>(value, name, inputs, [f](const auto& in, const auto&, const auto& gg) {
    return isolated_vjp(f, in, gg);
  });
}

// The gradients of sum(f(inputs) * g) with respect to the inputs that require grad (undefined for the
// others), as Vars whose graph runs through one isolated node over (inputs, g).
template <class T, class D>
std::vector<Var<T, D>> isolated_vjp(const GraphFn<T, D>& f, const std::vector<Var<T, D>>& inputs, const Var<T, D>& g) {
  const std::size_t n = inputs.size();
  std::vector<std::size_t> wanted;
  for (std::size_t k = 0; k < n; ++k)
    if (inputs[k].requires_grad()) wanted.push_back(k);
  std::vector<Var<T, D>> grads(n);
  if (wanted.empty()) return grads;
  const GraphFn<T, D> vjp = [f, n, wanted](const std::vector<Var<T, D>>& v) {
    EnableGradGuard enable;
    const std::vector<Var<T, D>> xs(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n));
    std::vector<Var<T, D>> w;
    for (std::size_t k : wanted) w.push_back(xs[k]);
    const auto gs = grad<T, D>({sum(f(xs) * v[n])}, w, {}, true, true, true);
    std::vector<Var<T, D>> flat;
    for (std::size_t k = 0; k < gs.size(); ++k)
      flat.push_back(gs[k].defined() ? reshape(gs[k], {-1}) : Var<T, D>(zeros<T, D>({w[k].numel()})));
    return cat(flat, 0);
  };
  std::vector<Var<T, D>> all = inputs;
  all.push_back(g);
  const Var<T, D> packed = isolated(vjp, all, "rnn_backward");
  int64_t at = 0;
  for (std::size_t k : wanted) {
    const int64_t m = inputs[k].numel();
    grads[k] = reshape(narrow(packed, 0, at, m), inputs[k].shape());
    at += m;
  }
  return grads;
}

// ---- the fused node ----------------------------------------------------------------------------------

template <class T>
const T* data_or(const Tensor<T>& t, const Tensor<T>& fallback) {
  return t.defined() ? t.data() : fallback.data();
}

// One layer in one direction over the whole sequence as one graph node. x [n, B, I], h0 (and c0) [B, H]
// defined (zeros when the caller had none); biases may be undefined. Returns the packed value (see
// layer_graph).
template <Real T, Device D>
Var<T, D> fused_layer(Kind kind, const Var<T, D>& x, const Var<T, D>& h0, const Var<T, D>& c0, const Var<T, D>& w_ih,
                      const Var<T, D>& w_hh, const Var<T, D>& b_ih, const Var<T, D>& b_hh, bool reverse) {
  require_cpu<D>();
  const int64_t G = gate_count(kind);
  const Sizes s{x.size(0), x.size(1), x.size(2), w_hh.size(1)};
  const int64_t B = s.B, H = s.H, n = s.n;
  const Tensor<T> xv = x.value().contiguous(), wih = w_ih.value().contiguous();
  const Tensor<T> whh_t = w_hh.value().transpose(0, 1).contiguous();  // [H, G * H]: the step product's layout
  const Tensor<T> bih = b_ih.defined() ? b_ih.value().contiguous() : Tensor<T>();
  const Tensor<T> bhh = b_hh.defined() ? b_hh.value().contiguous() : Tensor<T>();
  const Tensor<T> zero_bias = zeros<T>({G * H});
  const bool lstm = kind == Kind::lstm;

  Tensor<T> packed(lstm ? Shape{2, n + 1, B, H} : Shape{n + 1, B, H});
  T* hall = packed.data();
  T* call = lstm ? hall + (n + 1) * B * H : nullptr;
  const int64_t first = s.prev_block(reverse ? n - 1 : 0, reverse);
  {  // the initial states into their blocks

    const Tensor<T> h0v = h0.value().contiguous();
    std::copy(h0v.data(), h0v.data() + B * H, hall + first * B * H);
    if (lstm) {
      const Tensor<T> c0v = c0.value().contiguous();
      std::copy(c0v.data(), c0v.data() + B * H, call + first * B * H);
    }
  }
  auto saved_gates = std::make_shared<Tensor<T>>(Shape{n * B, G * H});
  auto saved_aux = std::make_shared<Tensor<T>>(Shape{n * B, H});  // hn (GRU) or tanh(c) (LSTM)
  Tensor<T> scratch({B * G * H + G * H});
  if (lstm)
    lstm_forward<T>(s, reverse, xv.data(), wih.data(), whh_t.data(), data_or(bih, zero_bias), data_or(bhh, zero_bias),
                    hall, call, saved_gates->data(), saved_aux->data(), scratch.data());
  else
    gru_forward<T>(s, reverse, xv.data(), wih.data(), whh_t.data(), data_or(bih, zero_bias), data_or(bhh, zero_bias),
                   hall, saved_gates->data(), saved_aux->data(), scratch.data());

  const char* name = lstm ? "lstm_layer" : "gru_layer";
  return autograd::make_result<T, D>(
      packed, name, {x, h0, c0, w_ih, w_hh, b_ih, b_hh},
      [kind, reverse, s, saved_gates, saved_aux](const auto& in, const auto& out, const auto& g) {
        std::vector<Var<T, D>> grads(7);
        if (GradMode::enabled()) {  // create_graph: differentiate the layer built from Var ops
          const GraphFn<T, D> f = [kind, reverse](const std::vector<Var<T, D>>& v) {
            return layer_graph(kind, v[0], v[1], v[2], v[3], v[4], v[5], v[6], reverse);
          };
          return isolated_vjp(f, in, g);
        }
        const int64_t B = s.B, H = s.H, n = s.n, I = s.I, GH = gate_count(kind) * H;
        const Tensor<T> gv = g.value().contiguous();
        const Tensor<T> wih = in[3].value().contiguous(), whh = in[4].value().contiguous();
        const T* hall = out.value().data();
        Tensor<T> dh0({B, H});
        Tensor<T> dgi({n * B, GH});
        Tensor<T> dgh = kind == Kind::gru ? Tensor<T>({n * B, GH}) : dgi;
        if (kind == Kind::gru) {
          gru_backward<T>(s, reverse, whh.data(), hall, saved_gates->data(), saved_aux->data(), gv.data(), dgi.data(),
                          dgh.data(), dh0.data());
        } else {
          Tensor<T> dc0({B, H});
          const int64_t block = (n + 1) * B * H;
          lstm_backward<T>(s, reverse, whh.data(), hall + block, saved_gates->data(), saved_aux->data(), gv.data(),
                           gv.data() + block, dgi.data(), dh0.data(), dc0.data());
          if (in[2].requires_grad()) grads[2] = constant(dc0);
        }
        if (in[1].requires_grad()) grads[1] = constant(dh0);
        if (in[0].requires_grad()) {  // dx = dgi W_ih
          Tensor<T> dx({n, B, I});
          gemm<T>(false, false, n * B, I, GH, dgi.data(), GH, wih.data(), I, T(0), dx.data(), I);
          grads[0] = constant(dx);
        }
        if (in[3].requires_grad()) {  // dW_ih = dgi^T x
          const Tensor<T> xv = in[0].value().contiguous();
          Tensor<T> dw({GH, I});
          gemm<T>(true, false, GH, I, n * B, dgi.data(), GH, xv.data(), I, T(0), dw.data(), I);
          grads[3] = constant(dw);
        }
        if (in[4].requires_grad()) {  // dW_hh = dgh^T [h_prev of every step]
          Tensor<T> dw({GH, H});
          const T* hprev = hall + s.prev_block(0, reverse) * B * H;
          gemm<T>(true, false, GH, H, n * B, dgh.data(), GH, hprev, H, T(0), dw.data(), H);
          grads[4] = constant(dw);
        }
        if (in[5].requires_grad()) {
          Tensor<T> db({GH});
          column_sums(dgi.data(), n * B, GH, db.data());
          grads[5] = constant(db);
        }
        if (in[6].requires_grad()) {
          Tensor<T> db({GH});
          column_sums(dgh.data(), n * B, GH, db.data());
          grads[6] = constant(db);
        }
        return grads;
      });
}

// ---- argument checks -----------------------------------------------------------------------------------

inline std::string param_name(const char* what, int64_t layer, bool reverse) {
  return std::string(what) + "_l" + std::to_string(layer) + (reverse ? "_reverse" : "");
}

// Checks one layer-direction's weights against the expected sizes; `in` is that layer's input size.
template <Real T, Device D>
void check_weights(const char* op, Kind kind, int64_t layer, bool reverse, int64_t in, int64_t H,
                   const Var<T, D>& w_ih, const Var<T, D>& w_hh, const Var<T, D>& b_ih, const Var<T, D>& b_hh) {
  const int64_t GH = gate_count(kind) * H;
  auto check = [&](const Var<T, D>& v, const char* what, const Shape& want, bool optional) {
    if (!v.defined()) {
      VOXNN_CHECK(optional, op, ": ", param_name(what, layer, reverse), " is undefined");
      return;
    }
    VOXNN_CHECK(v.shape() == want, op, ": ", param_name(what, layer, reverse), " has shape ", v.shape(), "; expected ",
                want, " (", gate_count(kind), " * hidden_size = ", GH, ")");
  };
  check(w_ih, "weight_ih", Shape{GH, in}, false);
  check(w_hh, "weight_hh", Shape{GH, H}, false);
  check(b_ih, "bias_ih", Shape{GH}, true);
  check(b_hh, "bias_hh", Shape{GH}, true);
}

// A state argument (h0 / c0) of a layer: undefined -> zeros, else must be [B, H].
template <Real T, Device D>
Var<T, D> state_or_zeros(const char* op, const char* name, const Var<T, D>& v, int64_t B, int64_t H) {
  if (!v.defined()) return Var<T, D>(zeros<T, D>({B, H}));
  VOXNN_CHECK(v.shape() == Shape({B, H}), op, ": ", name, " has shape ", v.shape(), "; expected [batch, hidden_size] = ",
              Shape({B, H}));
  return v;
}

template <Real T, Device D>
LstmResult<T, D> run_layer(Kind kind, const char* op, const Var<T, D>& x, const Var<T, D>& h0, const Var<T, D>& c0,
                           const Var<T, D>& w_ih, const Var<T, D>& w_hh, const Var<T, D>& b_ih, const Var<T, D>& b_hh,
                           bool reverse, const char* h_name = "h0", const char* c_name = "c0") {
  VOXNN_CHECK(x.dim() == 3, op, ": input has shape ", x.shape(), "; expected 3 dims (seq_len, batch, input_size)");
  VOXNN_CHECK(w_hh.defined() && w_hh.dim() == 2, op, ": weight_hh must be a matrix [", gate_count(kind),
              " * hidden_size, hidden_size]");
  const int64_t n = x.size(0), B = x.size(1), I = x.size(2), H = w_hh.size(1);
  VOXNN_CHECK(n >= 1, op, ": input of shape ", x.shape(), " has an empty sequence");
  VOXNN_CHECK(w_ih.defined() && w_ih.dim() == 2 && w_ih.size(1) == I, op, ": input of shape ", x.shape(),
              " has input_size ", I, "; weight_ih has shape ", w_ih.defined() ? w_ih.shape() : Shape{},
              " ([", gate_count(kind), " * hidden_size, input_size])");
  check_weights(op, kind, 0, false, I, H, w_ih, w_hh, b_ih, b_hh);
  const Var<T, D> h = state_or_zeros(op, h_name, h0, B, H);
  const Var<T, D> c = kind == Kind::lstm ? state_or_zeros(op, c_name, c0, B, H) : Var<T, D>();
  const Var<T, D> packed = fused_layer(kind, x, h, c, w_ih, w_hh, b_ih, b_hh, reverse);
  const Var<T, D> hs = kind == Kind::lstm ? select(packed, 0, 0) : packed;
  LstmResult<T, D> r;
  r.output = narrow(hs, 0, reverse ? 0 : 1, n);
  r.h_n = select(hs, 0, reverse ? 0 : n);
  if (kind == Kind::lstm) r.c_n = select(select(packed, 0, 1), 0, reverse ? 0 : n);
  return r;
}

// The multi-layer, optionally bidirectional stack (torch's _VF.gru / _VF.lstm).
template <Real T, Device D>
LstmResult<T, D> run_stack(Kind kind, const Var<T, D>& input, const Var<T, D>& hx, const Var<T, D>& cx,
                           const std::vector<Var<T, D>>& params, const RnnOptions& o, Generator& gen) {
  const char* op = kind_name(kind);
  const int64_t L = o.num_layers, dirs = o.bidirectional ? 2 : 1, per = o.bias ? 4 : 2;
  VOXNN_CHECK(L >= 1, op, ": num_layers must be positive, got ", L);
  VOXNN_CHECK(o.dropout >= 0 && o.dropout <= 1, op, ": dropout must be in [0, 1], got ", o.dropout);
  VOXNN_CHECK(static_cast<int64_t>(params.size()) == L * dirs * per, op, ": expected ", L * dirs * per,
              " weight tensors (num_layers = ", L, ", ", dirs, " direction(s), bias = ", o.bias, "), got ",
              params.size());
  VOXNN_CHECK(input.dim() == 3 || input.dim() == 2, op, ": input has shape ", input.shape(), "; expected 3 dims (",
              o.batch_first ? "batch, seq_len" : "seq_len, batch", ", input_size) or 2 unbatched (seq_len, input_size)");
  const bool batched = input.dim() == 3;
  VOXNN_CHECK(params[1].defined() && params[1].dim() == 2, op, ": weight_hh_l0 must be a matrix");
  const int64_t H = params[1].size(1);
  Var<T, D> x = batched ? (o.batch_first ? contiguous(transpose(input, 0, 1)) : input) : unsqueeze(input, 1);
  const int64_t B = x.size(1), I = x.size(2);
  VOXNN_CHECK(params[0].defined() && params[0].dim() == 2 && params[0].size(1) == I, op, ": input of shape ",
              input.shape(), " has input_size ", I, "; expected ", params[0].defined() && params[0].dim() == 2
                                                                       ? params[0].size(1)
                                                                       : int64_t{-1},
              " (weight_ih_l0 has shape ", params[0].defined() ? params[0].shape() : Shape{}, ")");
  const Shape state_shape = batched ? Shape{L * dirs, B, H} : Shape{L * dirs, H};
  auto state = [&](const Var<T, D>& v, const char* name) {
    if (!v.defined()) return v;
    VOXNN_CHECK(v.shape() == state_shape, op, ": ", name, " has shape ", v.shape(), "; expected ", state_shape,
                batched ? " (num_layers * num_directions, batch, hidden_size)"
                        : " (num_layers * num_directions, hidden_size) for unbatched input");
    return batched ? v : unsqueeze(v, 1);
  };
  const Var<T, D> h0 = state(hx, "h0"), c0 = kind == Kind::lstm ? state(cx, "c0") : Var<T, D>();

  std::vector<Var<T, D>> hn, cn;
  for (int64_t layer = 0; layer < L; ++layer) {
    const int64_t in = layer == 0 ? I : dirs * H;
    std::vector<Var<T, D>> outs;
    for (int64_t dir = 0; dir < dirs; ++dir) {
      const std::size_t base = static_cast<std::size_t>((layer * dirs + dir) * per);
      const Var<T, D>& w_ih = params[base];
      const Var<T, D>& w_hh = params[base + 1];
      const Var<T, D> b_ih = o.bias ? params[base + 2] : Var<T, D>(), b_hh = o.bias ? params[base + 3] : Var<T, D>();
      VOXNN_CHECK(w_ih.defined() && w_hh.defined(), op, ": weight of layer ", layer, " is undefined");
      check_weights(op, kind, layer, dir == 1, in, H, w_ih, w_hh, b_ih, b_hh);
      const int64_t k = layer * dirs + dir;
      const Var<T, D> h = h0.defined() ? select(h0, 0, k) : Var<T, D>(zeros<T, D>({B, H}));
      const Var<T, D> c = kind == Kind::gru ? Var<T, D>()
                          : c0.defined()    ? select(c0, 0, k)
                                            : Var<T, D>(zeros<T, D>({B, H}));
      const Var<T, D> packed = fused_layer(kind, x, h, c, w_ih, w_hh, b_ih, b_hh, dir == 1);
      const int64_t n = x.size(0);
      const Var<T, D> hs = kind == Kind::lstm ? select(packed, 0, 0) : packed;
      outs.push_back(narrow(hs, 0, dir == 1 ? 0 : 1, n));
      hn.push_back(select(hs, 0, dir == 1 ? 0 : n));
      if (kind == Kind::lstm) cn.push_back(select(select(packed, 0, 1), 0, dir == 1 ? 0 : n));
    }
    x = dirs == 1 ? outs[0] : cat(outs, 2);
    if (layer + 1 < L && o.training && o.dropout > 0) x = dropout(x, o.dropout, true, gen);
  }
  LstmResult<T, D> r;
  r.output = batched ? (o.batch_first ? transpose(x, 0, 1) : x) : squeeze(x, 1);
  r.h_n = stack(hn, 0);
  if (!batched) r.h_n = squeeze(r.h_n, 1);
  if (kind == Kind::lstm) {
    r.c_n = stack(cn, 0);
    if (!batched) r.c_n = squeeze(r.c_n, 1);
  }
  return r;
}

// A cell step: input (B, I) or unbatched (I), state (B, H) / (H), as a one-step layer.
template <Real T, Device D>
LstmCellResult<T, D> run_cell(Kind kind, const Var<T, D>& input, const Var<T, D>& hx, const Var<T, D>& cx,
                              const Var<T, D>& w_ih, const Var<T, D>& w_hh, const Var<T, D>& b_ih,
                              const Var<T, D>& b_hh) {
  const char* op = kind == Kind::gru ? "gru_cell" : "lstm_cell";
  VOXNN_CHECK(input.dim() == 2 || input.dim() == 1, op, ": input has shape ", input.shape(),
              "; expected 2 dims (batch, input_size) or 1 unbatched (input_size)");
  const bool batched = input.dim() == 2;
  VOXNN_CHECK(w_ih.defined() && w_ih.dim() == 2 && w_ih.size(1) == input.size(-1), op, ": input of shape ",
              input.shape(), " has input_size ", input.size(-1), "; weight_ih has shape ",
              w_ih.defined() ? w_ih.shape() : Shape{}, " ([", gate_count(kind), " * hidden_size, input_size])");
  auto state = [&](const Var<T, D>& v, const char* name) {
    if (!v.defined()) return v;
    VOXNN_CHECK(v.dim() == input.dim(), op, ": ", name, " has shape ", v.shape(), " but input has shape ",
                input.shape(), " (", batched ? "batched (batch, hidden_size)" : "unbatched (hidden_size)",
                " expected)");
    return batched ? v : unsqueeze(v, 0);
  };
  const Var<T, D> x = unsqueeze(batched ? input : unsqueeze(input, 0), 0);
  const LstmResult<T, D> r = run_layer(kind, op, x, state(hx, "hx"), state(cx, "cx"), w_ih, w_hh, b_ih, b_hh, false,
                                               "hx", "cx");
  LstmCellResult<T, D> out{r.h_n, r.c_n};
  if (!batched) {
    out.h = squeeze(out.h, 0);
    if (out.c.defined()) out.c = squeeze(out.c, 0);
  }
  return out;
}

}  // namespace rnn_detail

// ---- public functions ----------------------------------------------------------------------------------

// One GRU layer in one direction: x [T, B, I], h0 [B, H] (undefined: zeros) -> output [T, B, H], h_n [B, H].
template <Real T, Device D>
GruResult<T, D> gru_layer(const Var<T, D>& x, const Var<T, D>& h0, const Var<T, D>& w_ih, const Var<T, D>& w_hh,
                          const Var<T, D>& b_ih = {}, const Var<T, D>& b_hh = {}, bool reverse = false) {
  auto r = rnn_detail::run_layer(rnn_detail::Kind::gru, "gru_layer", x, h0, Var<T, D>(), w_ih, w_hh, b_ih, b_hh, reverse);
  return {r.output, r.h_n};
}
// One LSTM layer in one direction: x [T, B, I], h0, c0 [B, H] -> output [T, B, H], h_n, c_n [B, H].
template <Real T, Device D>
LstmResult<T, D> lstm_layer(const Var<T, D>& x, const Var<T, D>& h0, const Var<T, D>& c0, const Var<T, D>& w_ih,
                            const Var<T, D>& w_hh, const Var<T, D>& b_ih = {}, const Var<T, D>& b_hh = {},
                            bool reverse = false) {
  return rnn_detail::run_layer(rnn_detail::Kind::lstm, "lstm_layer", x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse);
}

// torch.gru / torch.lstm: multi-layer, optionally bidirectional, over PyTorch's flat weight list.
template <Real T, Device D>
GruResult<T, D> gru(const Var<T, D>& input, const Var<T, D>& hx, const std::vector<Var<T, D>>& params,
                    const RnnOptions& options = {}, Generator& gen = default_generator()) {
  auto r = rnn_detail::run_stack(rnn_detail::Kind::gru, input, hx, Var<T, D>(), params, options, gen);
  return {r.output, r.h_n};
}
template <Real T, Device D>
LstmResult<T, D> lstm(const Var<T, D>& input, const Var<T, D>& hx, const Var<T, D>& cx,
                      const std::vector<Var<T, D>>& params, const RnnOptions& options = {},
                      Generator& gen = default_generator()) {
  return rnn_detail::run_stack(rnn_detail::Kind::lstm, input, hx, cx, params, options, gen);
}

// torch.gru_cell / torch.lstm_cell: one step; input (B, I) or (I); an undefined state means zeros.
template <Real T, Device D>
Var<T, D> gru_cell(const Var<T, D>& input, const Var<T, D>& hx, const Var<T, D>& w_ih, const Var<T, D>& w_hh,
                   const Var<T, D>& b_ih = {}, const Var<T, D>& b_hh = {}) {
  return rnn_detail::run_cell(rnn_detail::Kind::gru, input, hx, Var<T, D>(), w_ih, w_hh, b_ih, b_hh).h;
}
template <Real T, Device D>
LstmCellResult<T, D> lstm_cell(const Var<T, D>& input, const Var<T, D>& hx, const Var<T, D>& cx,
                               const Var<T, D>& w_ih, const Var<T, D>& w_hh, const Var<T, D>& b_ih = {},
                               const Var<T, D>& b_hh = {}) {
  return rnn_detail::run_cell(rnn_detail::Kind::lstm, input, hx, cx, w_ih, w_hh, b_ih, b_hh);
}

}  // namespace voxnn
