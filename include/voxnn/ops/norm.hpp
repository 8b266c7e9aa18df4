#pragma once
// Normalisation kernels on raw tensors (no autograd): the fused passes behind batch_norm,
// instance_norm, group_norm and layer_norm.
//
// Every norm sees its contiguous input as planes: (outer, channels, inner), each (n, c) plane a
// contiguous run of `inner` elements. A NormLayout says which planes share a statistic:
//   groups == 0   one statistic per channel, over outer and inner      (batch norm: N, C, spatial)
//   groups == g   one per (n, group of channels / g consecutive channels) (group norm; g == C is
//                 instance norm; (rows, 1, len) with g == 1 is layer norm)
//
// Kernels:
//   norm_stats          mean and biased variance per statistic. The data is cut into pieces of at most
//                       kNormPiece elements (a split that depends on the sizes only, so results do not
//                       depend on the thread count); each piece sums x - x0 and (x - x0)^2 around its
//                       first element x0 in double (float inputs included), and pieces are merged in
//                       order with Chan's pairwise update, which is exact in exact arithmetic and has
//                       no catastrophic cancellation for data far from zero. Per-channel statistics of
//                       short planes (inner < kShortPlane, e.g. BatchNorm1d on (N, C)) are reduced
//                       column-wise instead, in two passes (mean, then squared deviations).
//   norm_apply          y = (x - mean) * invstd * weight + bias, per plane (weight, bias per channel).
//   norm_forward        norm_stats + norm_apply.
//   norm_backward       sum(g) and sum(g * (x - mean)) per plane, from which the weight and bias
//                       gradients follow, then grad_input = g B + (x - mean) A + Z per plane.
//   layer_norm_*        the same with weight and bias per element of a row.
// Where one statistic's data fits in cache (kNormBlockBytes) and there are enough statistics to share
// among the threads, norm_forward and norm_backward run one statistic at a time, so its data comes
// from memory once for both passes (otherwise each pass streams the whole tensor, parallel over
// pieces). Both ways compute the same pieces in the same order: the results are identical bit for bit.
// Outputs of 64 MiB and more are written with streaming stores, as the elementwise ops do.
// CPU only; T is float or double, accumulation always in double.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "voxnn/core/factory.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/ops/elementwise.hpp"

namespace voxnn::ops {

struct NormLayout {
  int64_t outer = 1;     // N
  int64_t channels = 1;  // C
  int64_t inner = 1;     // elements of one (n, c) plane
  int64_t groups = 0;    // 0: statistics per channel; g > 0: per (n, group), channels divisible by g

  int64_t planes() const { return outer * channels; }
  int64_t numel() const { return outer * channels * inner; }
  int64_t num_stats() const { return groups == 0 ? channels : outer * groups; }
  // Elements behind one statistic.
  int64_t count() const { return groups == 0 ? outer * inner : channels / groups * inner; }
  int64_t stat_of_plane(int64_t plane) const {
    return groups == 0 ? plane % channels : plane / (channels / groups);  // groups are consecutive planes
  }
};

// Per statistic: mean, biased variance and 1 / sqrt(var + eps), each of length layout.num_stats().
template <Real T>
struct NormStats {
  Tensor<T> mean, var, invstd;
};

// Gradients of a normalisation; a gradient not asked for is left undefined.
template <Real T>
struct NormGrads {
  Tensor<T> input, weight, bias;
};

inline constexpr int64_t kNormPiece = 16384;

namespace detail {

// Count, mean and sum of squared deviations of a set of values.
struct Moments {
  double count = 0, mean = 0, m2 = 0;
};

inline Moments merge_moments(const Moments& a, const Moments& b) {
  if (a.count == 0) return b;
  if (b.count == 0) return a;
  const double n = a.count + b.count, delta = b.mean - a.mean;
  return {n, a.mean + delta * (b.count / n), a.m2 + b.m2 + delta * delta * (a.count * b.count / n)};
}

// Sums of a(i) and b(i) over i in [0, n), where term(i, a, b) sets both, in double. An OpenMP simd
// reduction: the compiler keeps several vector accumulators (GCC's own vectoriser turns unrolled
// partial sums of float-to-double conversions into shuffles). Without OpenMP the loop runs serially.
template <class Term>
std::array<double, 2> lane_sums(int64_t n, Term term) {
  double sa = 0, sb = 0;
#ifdef _OPENMP
#pragma omp simd reduction(+ : sa, sb)
#endif
  for (int64_t i = 0; i < n; ++i) {
    double a, b;
    term(i, a, b);
    sa += a;
    sb += b;
  }
  return {sa, sb};
}

// Moments of x[0, n), n > 0, from sums of x - x[0] and its square.
template <class T>
Moments run_moments(const T* x, int64_t n) {
  const double shift = static_cast<double>(x[0]);
  const auto [ss, qq] = lane_sums(n, [=](int64_t i, double& a, double& b) {
    a = static_cast<double>(x[i]) - shift;
    b = a * a;
  });
  const double count = static_cast<double>(n), offset = ss / count;
  return {count, shift + offset, std::max(0.0, qq - ss * offset)};
}

// Sums of g * w and g * w * (x - mean) over a run (w: per element, or 1 when null).
struct GradSum {
  double g = 0, gx = 0;
};
template <class T>
GradSum run_grad_sums(const T* g, const T* x, const T* w, int64_t n, double mean) {
  std::array<double, 2> r;
  if (w)
    r = lane_sums(n, [=](int64_t i, double& a, double& b) {
      a = static_cast<double>(g[i]) * static_cast<double>(w[i]);
      b = a * (static_cast<double>(x[i]) - mean);
    });
  else
    r = lane_sums(n, [=](int64_t i, double& a, double& b) {
      a = static_cast<double>(g[i]);
      b = a * (static_cast<double>(x[i]) - mean);
    });
  return {r[0], r[1]};
}

inline GradSum add_sums(const GradSum& a, const GradSum& b) { return {a.g + b.g, a.gx + b.gx}; }

// Folds piece(start, n) over one run of `len` elements cut as per_row_pieces cuts it, in the same order.
template <class R, class Piece, class Merge>
R fold_row(int64_t len, Piece piece, Merge merge_fn) {
  if (len == 0) return R{};
  R acc = piece(int64_t{0}, std::min(len, kNormPiece));
  for (int64_t start = kNormPiece; start < len; start += kNormPiece)
    acc = merge_fn(acc, piece(start, std::min(kNormPiece, len - start)));
  return acc;
}

// Cuts `rows` runs of `len` elements into pieces of at most kNormPiece, computes piece(row, start, n)
// for every piece in parallel and folds each row's pieces in order with merge_fn(a, b).
template <class R, class Piece, class Merge>
std::vector<R> per_row_pieces(int64_t rows, int64_t len, Piece piece, Merge merge_fn) {
  std::vector<R> out(static_cast<std::size_t>(rows));
  if (rows == 0 || len == 0) return out;
  const int64_t per_row = (len + kNormPiece - 1) / kNormPiece;
  const int64_t piece_len = std::min(len, kNormPiece);
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / piece_len);
  if (per_row == 1) {
    parallel_for(0, rows, grain, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) out[static_cast<std::size_t>(r)] = piece(r, int64_t{0}, len);
    });
    return out;
  }
  std::vector<R> pieces(static_cast<std::size_t>(rows * per_row));
  parallel_for(0, rows * per_row, grain, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t r = p / per_row, start = (p - r * per_row) * kNormPiece;
      pieces[static_cast<std::size_t>(p)] = piece(r, start, std::min(kNormPiece, len - start));
    }
  });
  for (int64_t r = 0; r < rows; ++r) {
    R acc = pieces[static_cast<std::size_t>(r * per_row)];
    for (int64_t k = 1; k < per_row; ++k) acc = merge_fn(acc, pieces[static_cast<std::size_t>(r * per_row + k)]);
    out[static_cast<std::size_t>(r)] = acc;
  }
  return out;
}

// Below this plane length a per-channel layout is reduced column-wise (a loop over the batch with the
// channels innermost) rather than plane by plane, which would cost a merge per handful of elements.
inline constexpr int64_t kShortPlane = 32;

// Calls body(c0, c1) on channel ranges in parallel, each range visiting every (n, c, s) of its channels.
template <class Body>
void for_channel_ranges(const NormLayout& L, Body body) {
  const int64_t per_channel = std::max<int64_t>(1, L.outer * L.inner);
  parallel_for(0, L.channels, std::max<int64_t>(1, kParallelGrain / per_channel), body);
}

// Calls f(plane, begin, end) over [begin, end) runs of planes covering the flat range, in parallel.
template <class F>
void for_plane_runs(int64_t planes, int64_t inner, F f) {
  parallel_for(0, planes * inner, kParallelGrain, [&](int64_t b, int64_t e) {
    int64_t p = b / inner, off = b - p * inner;
    while (b < e) {
      const int64_t n = std::min(inner - off, e - b);
      f(p, off, off + n);
      b += n;
      ++p;
      off = 0;
    }
  });
}

template <class T>
const T* data_or_null(const Tensor<T>& t) {
  return t.defined() ? t.data() : nullptr;
}

inline void check_layout(const NormLayout& L, const char* op) {
  VOXNN_CHECK(L.outer >= 0 && L.channels >= 1 && L.inner >= 0 && L.groups >= 0, op, ": invalid layout (", L.outer,
              ", ", L.channels, ", ", L.inner, ") with ", L.groups, " groups");
  VOXNN_CHECK(L.groups == 0 || L.channels % L.groups == 0, op, ": ", L.channels,
              " channels are not divisible into ", L.groups, " groups");
}
template <class T>
void check_per_stat(const Tensor<T>& t, int64_t n, const char* op, const char* what) {
  VOXNN_CHECK(t.defined() && t.is_contiguous() && t.numel() == n, op, ": ", what, " must be contiguous with ", n,
              " elements, got ", t.defined() ? t.shape() : Shape{});
}

// Moments of statistic k (the same pieces, merged in the same order, as norm_stats' parallel passes).
template <class T>
Moments stat_moments(const T* x, const NormLayout& L, int64_t k) {
  if (L.groups > 0) {
    const int64_t len = L.count();
    return fold_row<Moments>(len, [&](int64_t start, int64_t n) { return run_moments(x + k * len + start, n); },
                             merge_moments);
  }
  Moments acc;
  for (int64_t n = 0; n < L.outer; ++n) {
    const T* plane = x + (n * L.channels + k) * L.inner;
    acc = merge_moments(
        acc, fold_row<Moments>(L.inner, [&](int64_t start, int64_t m) { return run_moments(plane + start, m); },
                               merge_moments));
  }
  return acc;
}

template <class T>
void store_stat(NormStats<T>& out, int64_t k, const Moments& m, double eps) {
  const double mean = m.count > 0 ? m.mean : std::numeric_limits<double>::quiet_NaN();
  const double var = m.count > 0 ? m.m2 / m.count : std::numeric_limits<double>::quiet_NaN();
  out.mean.data()[k] = static_cast<T>(mean);
  out.var.data()[k] = static_cast<T>(var);
  out.invstd.data()[k] = static_cast<T>(1.0 / std::sqrt(var + eps));
}

// Whether to run a norm one statistic at a time, each statistic's data read from memory once and
// reused from cache by the following pass: enough statistics to share among the threads, and few
// enough bytes per statistic (`streams` tensors of count() elements) to stay in cache.
inline constexpr int64_t kNormBlockBytes = int64_t{4} << 20;
inline bool use_blocked(const NormLayout& L, int streams, std::size_t elem) {
  return (L.groups > 0 || L.inner >= kShortPlane) && L.num_stats() >= 2 * num_threads() &&
         L.count() * streams * static_cast<int64_t>(elem) <= kNormBlockBytes;
}

// Calls f(plane) for each plane of statistic k.
template <class F>
void for_stat_planes(const NormLayout& L, int64_t k, F f) {
  if (L.groups == 0) {
    for (int64_t n = 0; n < L.outer; ++n) f(n * L.channels + k);
  } else {
    const int64_t per = L.channels / L.groups;
    for (int64_t p = k * per; p < (k + 1) * per; ++p) f(p);
  }
}

// dst[i] = g(i) for i < n; large fresh outputs go out through streaming stores (see elementwise.hpp).
template <class T, class G>
void write_run(T* dst, int64_t n, bool streaming, G g) {
  if (streaming && n >= 4096)
    streaming_run(dst, n, g);
  else
    for (int64_t i = 0; i < n; ++i) dst[i] = g(i);
}
template <class T>
bool streaming_output(int64_t numel) {
  return static_cast<std::size_t>(numel) * sizeof(T) >= kStreamingStoreBytes;
}

// Per plane: y = (x - pm) * ps + pb, with ps = invstd * weight rounded once (norm_apply and the
// blocked forward share it, so both give the same bits).
template <class T>
void plane_affine(const NormLayout& L, int64_t p, const T* mean, const T* invstd, const T* w, const T* b, T& pm, T& ps,
                  T& pb) {
  const int64_t k = L.stat_of_plane(p), c = p % L.channels;
  pm = mean[k];
  ps = static_cast<T>(static_cast<double>(invstd[k]) * (w ? static_cast<double>(w[c]) : 1.0));
  pb = b ? b[c] : T(0);
}

}  // namespace detail

// Mean, biased variance and invstd per statistic of a contiguous input.
template <Real T>
NormStats<T> norm_stats(const Tensor<T>& input, const NormLayout& L, double eps) {
  detail::check_layout(L, "norm_stats");
  VOXNN_CHECK(input.is_contiguous() && input.numel() == L.numel(), "norm_stats: input ", input.shape(),
              " must be contiguous with ", L.numel(), " elements");
  const T* x = input.data();
  const int64_t S = L.inner, C = L.channels, N = L.outer, K = L.num_stats();
  NormStats<T> out{empty<T>({K}), empty<T>({K}), empty<T>({K})};
  std::vector<detail::Moments> stats(static_cast<std::size_t>(K));
  if (L.groups > 0) {
    // the planes of a statistic are consecutive: rows of count() elements
    stats = detail::per_row_pieces<detail::Moments>(
        K, L.count(),
        [&](int64_t r, int64_t start, int64_t n) { return detail::run_moments(x + r * L.count() + start, n); },
        detail::merge_moments);
  } else if (S >= detail::kShortPlane) {
    const auto planes = detail::per_row_pieces<detail::Moments>(
        L.planes(), S, [&](int64_t r, int64_t start, int64_t n) { return detail::run_moments(x + r * S + start, n); },
        detail::merge_moments);
    for (int64_t c = 0; c < C; ++c) {
      detail::Moments acc;
      for (int64_t n = 0; n < N; ++n) acc = detail::merge_moments(acc, planes[static_cast<std::size_t>(n * C + c)]);
      stats[static_cast<std::size_t>(c)] = acc;
    }
  } else {
    // short planes: two passes per channel range (mean, then squared deviations), channels innermost
    detail::for_channel_ranges(L, [&](int64_t c0, int64_t c1) {
      std::vector<double> sum(static_cast<std::size_t>(c1 - c0), 0.0), m2(sum.size(), 0.0);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = c0; c < c1; ++c) {
          const T* p = x + (n * C + c) * S;
          double acc = 0;
          for (int64_t s = 0; s < S; ++s) acc += static_cast<double>(p[s]);
          sum[static_cast<std::size_t>(c - c0)] += acc;
        }
      const double count = static_cast<double>(N * S);
      for (auto& v : sum) v = count > 0 ? v / count : 0.0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = c0; c < c1; ++c) {
          const T* p = x + (n * C + c) * S;
          const double mu = sum[static_cast<std::size_t>(c - c0)];
          double acc = 0;
          for (int64_t s = 0; s < S; ++s) {
            const double d = static_cast<double>(p[s]) - mu;
            acc += d * d;
          }
          m2[static_cast<std::size_t>(c - c0)] += acc;
        }
      for (int64_t c = c0; c < c1; ++c)
        stats[static_cast<std::size_t>(c)] = {count, sum[static_cast<std::size_t>(c - c0)],
                                              m2[static_cast<std::size_t>(c - c0)]};
    });
  }
  for (int64_t k = 0; k < K; ++k) detail::store_stat(out, k, stats[static_cast<std::size_t>(k)], eps);
  return out;
}

// y = (x - mean[stat]) * invstd[stat] * weight[c] + bias[c]; weight and bias may be undefined (1 and 0).
template <Real T>
Tensor<T> norm_apply(const Tensor<T>& input, const NormLayout& L, const Tensor<T>& mean, const Tensor<T>& invstd,
                     const Tensor<T>& weight = {}, const Tensor<T>& bias = {}) {
  detail::check_layout(L, "norm_apply");
  VOXNN_CHECK(input.is_contiguous() && input.numel() == L.numel(), "norm_apply: input ", input.shape(),
              " must be contiguous with ", L.numel(), " elements");
  detail::check_per_stat(mean, L.num_stats(), "norm_apply", "mean");
  detail::check_per_stat(invstd, L.num_stats(), "norm_apply", "invstd");
  if (weight.defined()) detail::check_per_stat(weight, L.channels, "norm_apply", "weight");
  if (bias.defined()) detail::check_per_stat(bias, L.channels, "norm_apply", "bias");
  const T *w = detail::data_or_null(weight), *b = detail::data_or_null(bias);
  const int64_t P = L.planes(), S = L.inner;
  std::vector<T> pm(static_cast<std::size_t>(P)), ps(pm.size()), pb(pm.size());
  for (int64_t p = 0; p < P; ++p) {
    const auto u = static_cast<std::size_t>(p);
    detail::plane_affine(L, p, mean.data(), invstd.data(), w, b, pm[u], ps[u], pb[u]);
  }
  Tensor<T> out = empty<T>(input.shape());
  const T* x = input.data();
  T* y = out.data();
  const bool streaming = detail::streaming_output<T>(out.numel());
  if (S == 1) {
    parallel_for(0, P, kParallelGrain, [&](int64_t b0, int64_t e0) {
      const auto u = [](int64_t i) { return static_cast<std::size_t>(i); };
      for (int64_t i = b0; i < e0; ++i) y[i] = (x[i] - pm[u(i)]) * ps[u(i)] + pb[u(i)];
    });
    return out;
  }
  detail::for_plane_runs(P, S, [&](int64_t p, int64_t b0, int64_t e0) {
    const auto u = static_cast<std::size_t>(p);
    const T m = pm[u], s = ps[u], sh = pb[u];
    const T* xp = x + p * S + b0;
    detail::write_run(y + p * S + b0, e0 - b0, streaming, [=](int64_t i) { return (xp[i] - m) * s + sh; });
  });
  return out;
}

template <Real T>
struct NormOutput {
  Tensor<T> output;
  NormStats<T> stats;
};

// norm_stats followed by norm_apply, fused where the data of a statistic fits in cache: each
// statistic's data is then read from memory once for both passes. Same results, bit for bit.
template <Real T>
NormOutput<T> norm_forward(const Tensor<T>& input, const NormLayout& L, double eps, const Tensor<T>& weight = {},
                           const Tensor<T>& bias = {}) {
  detail::check_layout(L, "norm_forward");
  VOXNN_CHECK(input.is_contiguous() && input.numel() == L.numel(), "norm_forward: input ", input.shape(),
              " must be contiguous with ", L.numel(), " elements");
  if (!detail::use_blocked(L, 1, sizeof(T))) {
    NormOutput<T> out;
    out.stats = norm_stats(input, L, eps);
    out.output = norm_apply(input, L, out.stats.mean, out.stats.invstd, weight, bias);
    return out;
  }
  if (weight.defined()) detail::check_per_stat(weight, L.channels, "norm_forward", "weight");
  if (bias.defined()) detail::check_per_stat(bias, L.channels, "norm_forward", "bias");
  const T *w = detail::data_or_null(weight), *b = detail::data_or_null(bias);
  const int64_t K = L.num_stats(), S = L.inner;
  NormOutput<T> out{empty<T>(input.shape()), {empty<T>({K}), empty<T>({K}), empty<T>({K})}};
  const T* x = input.data();
  T* y = out.output.data();
  const bool streaming = detail::streaming_output<T>(out.output.numel());
  parallel_for(0, K, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, L.count())), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      detail::store_stat(out.stats, k, detail::stat_moments(x, L, k), eps);
      detail::for_stat_planes(L, k, [&](int64_t p) {
        T m, s, sh;
        detail::plane_affine(L, p, out.stats.mean.data(), out.stats.invstd.data(), w, b, m, s, sh);
        const T* xp = x + p * S;
        detail::write_run(y + p * S, S, streaming, [=](int64_t i) { return (xp[i] - m) * s + sh; });
      });
    }
  });
  return out;
}

// Gradients of norm_apply with respect to input, weight and bias. With stats_from_input the mean and
// invstd are the input's own statistics (training), so the input gradient includes their dependence
// on the input; otherwise they are constants (running statistics). Where a statistic's input and
// gradient fit in cache, the reductions and grad_input run one statistic at a time (same results).
template <Real T>
NormGrads<T> norm_backward(const Tensor<T>& grad_output, const Tensor<T>& input, const NormLayout& L,
                           const Tensor<T>& mean, const Tensor<T>& invstd, const Tensor<T>& weight, bool stats_from_input,
                           std::array<bool, 3> needs = {true, true, true}) {
  detail::check_layout(L, "norm_backward");
  VOXNN_CHECK(input.is_contiguous() && input.numel() == L.numel() && grad_output.is_contiguous() &&
                  grad_output.shape() == input.shape(),
              "norm_backward: input ", input.shape(), " and grad_output ", grad_output.shape(),
              " must be contiguous with ", L.numel(), " elements");
  detail::check_per_stat(mean, L.num_stats(), "norm_backward", "mean");
  detail::check_per_stat(invstd, L.num_stats(), "norm_backward", "invstd");
  if (weight.defined()) detail::check_per_stat(weight, L.channels, "norm_backward", "weight");
  const T* w = detail::data_or_null(weight);
  const T *x = input.data(), *g = grad_output.data();
  const int64_t P = L.planes(), C = L.channels, N = L.outer, S = L.inner, K = L.num_stats();
  const double count = static_cast<double>(L.count());
  auto wc = [&](int64_t c) { return w ? static_cast<double>(w[c]) : 1.0; };
  const T* mu = mean.data();
  const T* is = invstd.data();
  NormGrads<T> out;
  const bool reduce = needs[1] || needs[2] || (needs[0] && stats_from_input);
  const bool column = L.groups == 0 && S < detail::kShortPlane;
  // sums: {sum g, sum g (x - mean)} per plane for grouped layouts, per channel for per-channel ones
  const bool per_plane = L.groups > 0;
  std::vector<detail::GradSum> sums(static_cast<std::size_t>(per_plane ? P : C));
  auto plane_sums = [&](int64_t p) {
    const T* gp = g + p * S;
    const T* xp = x + p * S;
    const double m = static_cast<double>(mu[L.stat_of_plane(p)]);
    return detail::fold_row<detail::GradSum>(
        S, [&](int64_t start, int64_t n) { return detail::run_grad_sums<T>(gp + start, xp + start, nullptr, n, m); },
        detail::add_sums);
  };
  // the sums of the planes of statistic k (one per-channel entry for per-channel layouts)
  auto stat_sums = [&](int64_t k) {
    if (per_plane) {
      detail::for_stat_planes(L, k, [&](int64_t p) { sums[static_cast<std::size_t>(p)] = plane_sums(p); });
    } else {
      detail::GradSum acc;
      for (int64_t n = 0; n < N; ++n) acc = detail::add_sums(acc, plane_sums(n * C + k));
      sums[static_cast<std::size_t>(k)] = acc;
    }
  };
  // dx = g * B + (x - mean) * A + Z per plane. With the input's own statistics, for statistic k over
  // count elements: m1 = mean of g w, m2 = mean of g w xhat, and dx = invstd (g w - m1 - xhat m2).
  std::vector<T> pa(static_cast<std::size_t>(needs[0] ? P : 0)), pb(pa.size()), pz(pa.size()), pm(pa.size());
  auto stat_coefficients = [&](int64_t k) {
    const double inv = static_cast<double>(is[k]);
    double m1 = 0, m2 = 0;
    if (stats_from_input) {
      if (per_plane) {
        detail::for_stat_planes(L, k, [&](int64_t p) {
          const auto& s = sums[static_cast<std::size_t>(p)];
          m1 += wc(p % C) * s.g;
          m2 += wc(p % C) * s.gx * inv;
        });
      } else {
        m1 = wc(k) * sums[static_cast<std::size_t>(k)].g;
        m2 = wc(k) * sums[static_cast<std::size_t>(k)].gx * inv;
      }
    }
    detail::for_stat_planes(L, k, [&](int64_t p) {
      const auto u = static_cast<std::size_t>(p);
      pb[u] = static_cast<T>(inv * wc(p % C));
      pa[u] = static_cast<T>(-inv * inv * (m2 / count));
      pz[u] = static_cast<T>(-inv * (m1 / count));
      pm[u] = mu[k];
    });
  };
  if (needs[0]) out.input = empty<T>(input.shape());
  T* dx = needs[0] ? out.input.data() : nullptr;
  const bool streaming = detail::streaming_output<T>(L.numel());
  auto plane_dx = [&](int64_t p, int64_t b0, int64_t e0) {
    const auto u = static_cast<std::size_t>(p);
    const T bb = pb[u];
    const T* gp = g + p * S + b0;
    if (stats_from_input) {
      const T aa = pa[u], zz = pz[u], m = pm[u];
      const T* xp = x + p * S + b0;
      detail::write_run(dx + p * S + b0, e0 - b0, streaming,
                        [=](int64_t i) { return gp[i] * bb + ((xp[i] - m) * aa + zz); });
    } else {
      detail::write_run(dx + p * S + b0, e0 - b0, streaming, [=](int64_t i) { return gp[i] * bb; });
    }
  };

  if (!column && detail::use_blocked(L, 2, sizeof(T))) {
    parallel_for(0, K, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, L.count())), [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        if (reduce) stat_sums(k);
        if (!needs[0]) continue;
        stat_coefficients(k);
        detail::for_stat_planes(L, k, [&](int64_t p) { plane_dx(p, 0, S); });
      }
    });
  } else {
    if (reduce) {
      if (!column) {
        const auto planes = detail::per_row_pieces<detail::GradSum>(
            P, S,
            [&](int64_t p, int64_t start, int64_t n) {
              const int64_t off = p * S + start;
              return detail::run_grad_sums<T>(g + off, x + off, nullptr, n, static_cast<double>(mu[L.stat_of_plane(p)]));
            },
            detail::add_sums);
        if (per_plane) {
          sums = planes;
        } else {
          for (int64_t c = 0; c < C; ++c) {
            detail::GradSum acc;
            for (int64_t n = 0; n < N; ++n) acc = detail::add_sums(acc, planes[static_cast<std::size_t>(n * C + c)]);
            sums[static_cast<std::size_t>(c)] = acc;
          }
        }
      } else {
        detail::for_channel_ranges(L, [&](int64_t c0, int64_t c1) {
          for (int64_t n = 0; n < N; ++n)
            for (int64_t c = c0; c < c1; ++c) {
              const int64_t off = (n * C + c) * S;
              sums[static_cast<std::size_t>(c)] = detail::add_sums(
                  sums[static_cast<std::size_t>(c)],
                  detail::run_grad_sums<T>(g + off, x + off, nullptr, S, static_cast<double>(mu[c])));
            }
        });
      }
    }
    if (needs[0]) {
      for (int64_t k = 0; k < K; ++k) stat_coefficients(k);
      if (S == 1) {
        parallel_for(0, P, kParallelGrain, [&](int64_t b0, int64_t e0) {
          for (int64_t i = b0; i < e0; ++i) plane_dx(i, 0, 1);
        });
      } else {
        detail::for_plane_runs(P, S, plane_dx);
      }
    }
  }

  if (needs[1] || needs[2]) {
    std::vector<double> dw(static_cast<std::size_t>(C), 0.0), db(static_cast<std::size_t>(C), 0.0);
    for (std::size_t e = 0; e < sums.size(); ++e) {
      const auto p = static_cast<int64_t>(e);
      const int64_t c = p % C;
      db[static_cast<std::size_t>(c)] += sums[e].g;
      dw[static_cast<std::size_t>(c)] += sums[e].gx * static_cast<double>(is[per_plane ? L.stat_of_plane(p) : c]);
    }
    if (needs[1]) {
      out.weight = empty<T>({C});
      for (int64_t c = 0; c < C; ++c) out.weight.data()[c] = static_cast<T>(dw[static_cast<std::size_t>(c)]);
    }
    if (needs[2]) {
      out.bias = empty<T>({C});
      for (int64_t c = 0; c < C; ++c) out.bias.data()[c] = static_cast<T>(db[static_cast<std::size_t>(c)]);
    }
  }
  return out;
}

// ---- layer norm: rows of `len` elements, weight and bias per element of a row ----------------------

namespace detail {
// One row of layer_norm_apply.
template <class T>
void layer_norm_row(const T* xr, T* yr, int64_t b0, int64_t e0, T m, T s, const T* w, const T* b, bool streaming) {
  const T* xs = xr + b0;
  T* ys = yr + b0;
  const int64_t n = e0 - b0;
  if (w && b)
    write_run(ys, n, streaming, [=](int64_t j) { return (xs[j] - m) * s * w[b0 + j] + b[b0 + j]; });
  else if (w)
    write_run(ys, n, streaming, [=](int64_t j) { return (xs[j] - m) * s * w[b0 + j]; });
  else if (b)
    write_run(ys, n, streaming, [=](int64_t j) { return (xs[j] - m) * s + b[b0 + j]; });
  else
    write_run(ys, n, streaming, [=](int64_t j) { return (xs[j] - m) * s; });
}
}  // namespace detail

// y[r, j] = (x[r, j] - mean[r]) * invstd[r] * weight[j] + bias[j]; weight and bias may be undefined.
template <Real T>
Tensor<T> layer_norm_apply(const Tensor<T>& input, int64_t rows, int64_t len, const Tensor<T>& mean,
                           const Tensor<T>& invstd, const Tensor<T>& weight = {}, const Tensor<T>& bias = {}) {
  VOXNN_CHECK(input.is_contiguous() && input.numel() == rows * len, "layer_norm_apply: input ", input.shape(),
              " must be contiguous with ", rows, " rows of ", len);
  detail::check_per_stat(mean, rows, "layer_norm_apply", "mean");
  detail::check_per_stat(invstd, rows, "layer_norm_apply", "invstd");
  if (weight.defined()) detail::check_per_stat(weight, len, "layer_norm_apply", "weight");
  if (bias.defined()) detail::check_per_stat(bias, len, "layer_norm_apply", "bias");
  const T *w = detail::data_or_null(weight), *b = detail::data_or_null(bias);
  Tensor<T> out = empty<T>(input.shape());
  const T* x = input.data();
  T* y = out.data();
  const bool streaming = detail::streaming_output<T>(out.numel());
  detail::for_plane_runs(rows, len, [&](int64_t r, int64_t b0, int64_t e0) {
    detail::layer_norm_row(x + r * len, y + r * len, b0, e0, mean.data()[r], invstd.data()[r], w, b, streaming);
  });
  return out;
}

// Row statistics and layer_norm_apply, fused (one read of each row) where rows fit in cache.
template <Real T>
NormOutput<T> layer_norm_forward(const Tensor<T>& input, int64_t rows, int64_t len, double eps,
                                 const Tensor<T>& weight = {}, const Tensor<T>& bias = {}) {
  const NormLayout L{rows, 1, len, 1};
  if (!detail::use_blocked(L, 1, sizeof(T))) {
    NormOutput<T> out;
    out.stats = norm_stats(input, L, eps);
    out.output = layer_norm_apply(input, rows, len, out.stats.mean, out.stats.invstd, weight, bias);
    return out;
  }
  VOXNN_CHECK(input.is_contiguous() && input.numel() == rows * len, "layer_norm_forward: input ", input.shape(),
              " must be contiguous with ", rows, " rows of ", len);
  if (weight.defined()) detail::check_per_stat(weight, len, "layer_norm_forward", "weight");
  if (bias.defined()) detail::check_per_stat(bias, len, "layer_norm_forward", "bias");
  const T *w = detail::data_or_null(weight), *b = detail::data_or_null(bias);
  NormOutput<T> out{empty<T>(input.shape()), {empty<T>({rows}), empty<T>({rows}), empty<T>({rows})}};
  const T* x = input.data();
  T* y = out.output.data();
  const bool streaming = detail::streaming_output<T>(out.output.numel());
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, len)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      detail::store_stat(out.stats, r, detail::stat_moments(x, L, r), eps);
      detail::layer_norm_row(x + r * len, y + r * len, 0, len, out.stats.mean.data()[r], out.stats.invstd.data()[r], w,
                             b, streaming);
    }
  });
  return out;
}

// Gradients of layer_norm_apply with the rows' own statistics.
template <Real T>
NormGrads<T> layer_norm_backward(const Tensor<T>& grad_output, const Tensor<T>& input, int64_t rows, int64_t len,
                                 const Tensor<T>& mean, const Tensor<T>& invstd, const Tensor<T>& weight,
                                 std::array<bool, 3> needs = {true, true, true}) {
  VOXNN_CHECK(input.is_contiguous() && input.numel() == rows * len && grad_output.is_contiguous() &&
                  grad_output.shape() == input.shape(),
              "layer_norm_backward: input ", input.shape(), " and grad_output ", grad_output.shape(),
              " must be contiguous with ", rows, " rows of ", len);
  detail::check_per_stat(mean, rows, "layer_norm_backward", "mean");
  detail::check_per_stat(invstd, rows, "layer_norm_backward", "invstd");
  if (weight.defined()) detail::check_per_stat(weight, len, "layer_norm_backward", "weight");
  const T* w = detail::data_or_null(weight);
  const T *x = input.data(), *g = grad_output.data(), *mu = mean.data(), *is = invstd.data();
  NormGrads<T> out;
  if (needs[1] || needs[2]) {
    // column sums over rows, in parallel over column ranges (each visits every row in order)
    std::vector<double> dw(static_cast<std::size_t>(len), 0.0), db(dw.size(), 0.0);
    parallel_for(0, len, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, rows)), [&](int64_t j0, int64_t j1) {
      for (int64_t r = 0; r < rows; ++r) {
        const T* gr = g + r * len;
        const T* xr = x + r * len;
        const double m = static_cast<double>(mu[r]), s = static_cast<double>(is[r]);
        for (int64_t j = j0; j < j1; ++j) {
          const double gv = static_cast<double>(gr[j]);
          db[static_cast<std::size_t>(j)] += gv;
          dw[static_cast<std::size_t>(j)] += gv * (static_cast<double>(xr[j]) - m) * s;
        }
      }
    });
    if (needs[1]) {
      out.weight = empty<T>({len});
      for (int64_t j = 0; j < len; ++j) out.weight.data()[j] = static_cast<T>(dw[static_cast<std::size_t>(j)]);
    }
    if (needs[2]) {
      out.bias = empty<T>({len});
      for (int64_t j = 0; j < len; ++j) out.bias.data()[j] = static_cast<T>(db[static_cast<std::size_t>(j)]);
    }
  }
  if (!needs[0]) return out;
  const auto sums = detail::per_row_pieces<detail::GradSum>(
      rows, len,
      [&](int64_t r, int64_t start, int64_t n) {
        const int64_t off = r * len + start;
        return detail::run_grad_sums<T>(g + off, x + off, w ? w + start : nullptr, n, static_cast<double>(mu[r]));
      },
      detail::add_sums);
  // dx = invstd (g w - mean(g w) - xhat mean(g w xhat)) = g w B + (x - mean) A + Z
  std::vector<T> pa(static_cast<std::size_t>(rows)), pz(pa.size());
  const double count = static_cast<double>(len);
  for (int64_t r = 0; r < rows; ++r) {
    const double inv = static_cast<double>(is[r]);
    const auto& s = sums[static_cast<std::size_t>(r)];
    pa[static_cast<std::size_t>(r)] = static_cast<T>(-inv * inv * inv * s.gx / count);
    pz[static_cast<std::size_t>(r)] = static_cast<T>(-inv * s.g / count);
  }
  out.input = empty<T>(input.shape());
  T* dx = out.input.data();
  detail::for_plane_runs(rows, len, [&](int64_t r, int64_t b0, int64_t e0) {
    const T a = pa[static_cast<std::size_t>(r)], z = pz[static_cast<std::size_t>(r)], m = mu[r], s = is[r];
    const T* gr = g + r * len;
    const T* xr = x + r * len;
    T* dr = dx + r * len;
    if (w)
      for (int64_t j = b0; j < e0; ++j) dr[j] = gr[j] * w[j] * s + ((xr[j] - m) * a + z);
    else
      for (int64_t j = b0; j < e0; ++j) dr[j] = gr[j] * s + ((xr[j] - m) * a + z);
  });
  return out;
}

}  // namespace voxnn::ops
