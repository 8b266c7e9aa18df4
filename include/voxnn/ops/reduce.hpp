#pragma once
// Reductions over any set of dims with keepdim: sum, mean, var/std (unbiased flag), amax/amin,
// max/min with indices, argmax/argmin, norm; and sum_to, which folds a broadcast result back.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "voxnn/core/factory.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/ops/elementwise.hpp"  // abs and sqrt_ for norm and std

namespace voxnn::ops {

namespace detail {

// A reduction seen as the contiguous 5-D problem [K0, R0, K1, R1, K2]: K are kept extents, R reduced.
// Output element (k0, k1, k2) reduces over (r0, r1); the flat reduced index r0 * R1 + r1 is what
// argmax reports. Any set of reduced dims with at most two separate runs fits without copying.
struct ReducePlan {
  int64_t k0 = 1, r0 = 1, k1 = 1, r1 = 1, k2 = 1;
  Shape out_shape;
  int64_t reduced_count = 1;
};

inline std::vector<bool> reduced_mask(const Shape& shape, const std::vector<int64_t>& dims, const char* op) {
  std::vector<bool> mask(static_cast<std::size_t>(shape.size()), dims.empty());
  for (int64_t d : dims) {
    const int w = wrap_dim(d, shape.size(), op);
    VOXNN_CHECK(shape.size() == 0 || !mask[w], op, ": dim ", d, " given twice for shape ", shape);
    if (shape.size() > 0) mask[w] = true;
  }
  return mask;
}

inline Shape reduced_shape(const Shape& shape, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (int d = 0; d < shape.size(); ++d) {
    if (!mask[d]) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Fills k0..k2, r0..r1 when the runs of reduced dims allow it; false when they do not.
inline bool fit_plan(const Shape& shape, const std::vector<bool>& mask, ReducePlan& plan) {
  int64_t* slots[5] = {&plan.k0, &plan.r0, &plan.k1, &plan.r1, &plan.k2};
  int slot = -1;  // even slots are kept, odd reduced
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const int want_parity = mask[d] ? 1 : 0;
    if (slot < 0 || slot % 2 != want_parity) {
      slot = slot < 0 ? want_parity : slot + 1;
      if (slot > 4) return false;
    }
    *slots[slot] *= shape[d];
  }
  return true;
}

// reduce_kernel: Acc init; elem(Acc&, T value, int64_t reduced_index); merge(Acc&, const Acc&);
// finish(const Acc&) -> Out. Output shape is the reduced shape (keepdim honoured).
// contiguous_run(Acc&, const T* values, int64_t n, int64_t first_index) may fold a unit-stride run at
// once (a vectorised sum); by default it applies elem to each value.
template <class Out, class T, class Acc, class Elem, class Merge, class Finish, class Run = std::nullptr_t>
Tensor<Out> reduce(const Tensor<T>& input, const std::vector<int64_t>& dims, bool keepdim, Acc init, Elem elem,
                   Merge merge, Finish finish, const char* op, Run run_fn = nullptr) {
  auto contiguous_run = [&](Acc& acc, const T* values, int64_t n, int64_t first) {
    if constexpr (std::is_same_v<Run, std::nullptr_t>) {
      for (int64_t j = 0; j < n; ++j) elem(acc, values[j], first + j);
    } else {
      run_fn(acc, values, n, first);
    }
  };
  const Shape& shape = input.shape();
  const std::vector<bool> mask = reduced_mask(shape, dims, op);
  ReducePlan plan;
  plan.out_shape = reduced_shape(shape, mask, keepdim);
  for (int d = 0; d < shape.size(); ++d)
    if (mask[d]) plan.reduced_count *= shape[d];

  Tensor<T> x = input.contiguous();
  if (!fit_plan(shape, mask, plan)) {  // more than two runs of reduced dims: move them all to the end
    std::vector<int64_t> order;
    for (int d = 0; d < shape.size(); ++d)
      if (!mask[d]) order.push_back(d);
    for (int d = 0; d < shape.size(); ++d)
      if (mask[d]) order.push_back(d);
    x = x.permute(order).contiguous();
    plan = ReducePlan{1, 1, 1, 1, 1, plan.out_shape, plan.reduced_count};
    plan.r0 = plan.reduced_count;
    plan.k0 = x.numel() / std::max<int64_t>(plan.reduced_count, 1);
    if (plan.reduced_count == 0) plan.k0 = plan.out_shape.numel();
  }

  if (plan.r0 * plan.r1 == 1) {  // nothing to reduce: one flat run of outputs
    plan = ReducePlan{1, 1, 1, 1, x.numel(), plan.out_shape, plan.reduced_count};
  } else if (plan.k1 == 1 && plan.k2 == 1) {
    // All reduced dims are trailing: one contiguous reduced run per output.
    plan.r1 *= plan.r0;
    plan.r0 = 1;
  } else if (plan.r1 == 1 && plan.k2 == 1) {
    // A kept run after the last reduced run is contiguous: make it K2, so each reduced row is
    // accumulated by a unit-stride loop instead of one strided element per output.
    plan.k2 = plan.k1;
    plan.k1 = 1;
  }

  Tensor<Out> out(plan.out_shape);
  Out* o = out.data();
  const T* px = x.data();
  const int64_t P = plan.k0 * plan.k1, R = plan.r0 * plan.r1, K2 = plan.k2;
  // Accumulates reduced rows [rb, re) of output row p into acc, for k2 in [kb, ke). Reduced rows
  // come in runs along r1 that are contiguous when K2 is 1.
  auto accumulate = [&](int64_t p, int64_t rb, int64_t re, int64_t kb, int64_t ke, Acc* acc) {
    if (rb >= re) return;  // an empty reduction (R == 0) has r1 == 0: no division below
    const int64_t k0 = p / plan.k1, k1 = p % plan.k1;
    int64_t r0 = rb / plan.r1, r1 = rb % plan.r1;
    for (int64_t rr = rb; rr < re; r1 = 0, ++r0) {
      const int64_t run = std::min(plan.r1 - r1, re - rr);
      const T* row = px + (((k0 * plan.r0 + r0) * plan.k1 + k1) * plan.r1 + r1) * K2;
      if (K2 == 1) {
        contiguous_run(acc[0], row, run, rr);
      } else {
        for (int64_t j = 0; j < run; ++j)
          for (int64_t k2 = kb; k2 < ke; ++k2) elem(acc[k2 - kb], row[j * K2 + k2], rr + j);
      }
      rr += run;
    }
  };

  // Work items are (output row, tile of K2); each reduces its whole range with a local accumulator.
  constexpr int64_t kTile = 256;
  const int64_t tiles = (K2 + kTile - 1) / kTile, items = P * tiles;
  const int64_t work = P * R * K2;
  if (items >= num_threads() || work < kParallelGrain || num_threads() == 1) {
    const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(R * std::min(K2, kTile), 1));
    parallel_for(0, items, grain, [&](int64_t ib, int64_t ie) {
      std::array<Acc, kTile> acc;
      for (int64_t item = ib; item < ie; ++item) {
        const int64_t p = item / tiles, kb = item % tiles * kTile, ke = std::min(K2, kb + kTile);
        std::fill(acc.begin(), acc.begin() + (ke - kb), init);
        accumulate(p, 0, R, kb, ke, acc.data());
        for (int64_t k2 = kb; k2 < ke; ++k2) o[p * K2 + k2] = finish(acc[k2 - kb]);
      }
    });
    return out;
  }
  // Few outputs, long reductions: split each reduction across threads and merge the partials in order.
  const int threads = num_threads();
  std::vector<std::vector<Acc>> partial(static_cast<std::size_t>(threads));
  for (int64_t p = 0; p < P; ++p) {
    for (auto& v : partial) v.assign(static_cast<std::size_t>(K2), init);
    parallel_for(0, threads, 1, [&](int64_t tb, int64_t te) {
      for (int64_t t = tb; t < te; ++t)
        accumulate(p, R * t / threads, R * (t + 1) / threads, 0, K2, partial[t].data());
    });
    for (int64_t k2 = 0; k2 < K2; ++k2) {
      Acc total = partial[0][k2];
      for (int t = 1; t < threads; ++t) merge(total, partial[t][k2]);
      o[p * K2 + k2] = finish(total);
    }
  }
  return out;
}

// Float sums accumulate in double: cheap here and far more accurate than float accumulation.
template <class T>
using Accum = std::conditional_t<std::is_same_v<T, float>, double, T>;

// Folds a unit-stride run into acc with eight independent partial results, which the compiler keeps
// in vector registers; a single running result would serialise on the operation's latency.
template <class A, class T, class Op>
void fold_run(A& acc, const T* values, int64_t n, A identity, Op op) {
  A partial[8];
  for (A& p : partial) p = identity;
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int u = 0; u < 8; ++u) op(partial[u], static_cast<A>(values[j + u]));
  for (; j < n; ++j) op(partial[0], static_cast<A>(values[j]));
  for (int u = 0; u < 8; ++u) op(acc, partial[u]);
}
template <class A, class T>
void sum_run(A& acc, const T* values, int64_t n) {
  fold_run(acc, values, n, A(0), [](A& a, A v) { a += v; });
}

template <class T>
struct ValueIndex {
  T value;
  int64_t index;  // -1 before the first element
};

// Keeps the first extremum; NaN wins over numbers, as in PyTorch.
template <class T, bool is_max>
void take_extreme(ValueIndex<T>& acc, T v, int64_t i) {
  if (acc.index < 0) {
    acc = {v, i};
    return;
  }
  if (acc.value != acc.value) return;
  const bool better = (v != v) || (is_max ? v > acc.value : v < acc.value);
  if (better) acc = {v, i};
}
template <class T, bool is_max>
void merge_extreme(ValueIndex<T>& acc, const ValueIndex<T>& o) {
  if (o.index < 0) return;
  if (acc.index < 0) {
    acc = o;
    return;
  }
  const bool acc_nan = acc.value != acc.value, o_nan = o.value != o.value;
  if (acc_nan || o_nan) {
    if (o_nan && (!acc_nan || o.index < acc.index)) acc = o;
    return;
  }
  const bool better = is_max ? o.value > acc.value : o.value < acc.value;
  if (better || (o.value == acc.value && o.index < acc.index)) acc = o;
}

// The identity of max (min): the lowest (highest) value of T.
template <class T, bool is_max>
T extreme_init() {
  if constexpr (std::numeric_limits<T>::has_infinity)
    return is_max ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
  else
    return is_max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
}

struct Welford {
  double n = 0, mean = 0, m2 = 0;
  void add(double v) {
    n += 1;
    const double d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  void merge(const Welford& o) {
    if (o.n == 0) return;
    const double total = n + o.n, d = o.mean - mean;
    mean += d * o.n / total;
    m2 += o.m2 + d * d * n * o.n / total;
    n = total;
  }
};

}  // namespace detail

template <Element T>
Tensor<T> sum(const Tensor<T>& x, const std::vector<int64_t>& dims = {}, bool keepdim = false) {
  using A = detail::Accum<T>;
  return detail::reduce<T>(
      x, dims, keepdim, A(0), [](A& a, T v, int64_t) { a += v; }, [](A& a, const A& b) { a += b; },
      [](const A& a) { return static_cast<T>(a); }, "sum",
      [](A& a, const T* v, int64_t n, int64_t) { detail::sum_run(a, v, n); });
}

template <Real T>
Tensor<T> mean(const Tensor<T>& x, const std::vector<int64_t>& dims = {}, bool keepdim = false) {
  using A = detail::Accum<T>;
  const auto mask = detail::reduced_mask(x.shape(), dims, "mean");
  int64_t count = 1;
  for (int d = 0; d < x.dim(); ++d)
    if (mask[d]) count *= x.shape()[d];
  const A inv = count > 0 ? A(1) / static_cast<A>(count) : std::numeric_limits<A>::quiet_NaN();
  return detail::reduce<T>(
      x, dims, keepdim, A(0), [](A& a, T v, int64_t) { a += v; }, [](A& a, const A& b) { a += b; },
      [inv](const A& a) { return static_cast<T>(a * inv); }, "mean",
      [](A& a, const T* v, int64_t n, int64_t) { detail::sum_run(a, v, n); });
}

// Variance with Bessel's correction when unbiased (torch.var's default).
template <Real T>
Tensor<T> var(const Tensor<T>& x, const std::vector<int64_t>& dims = {}, bool unbiased = true, bool keepdim = false) {
  using W = detail::Welford;
  const double correction = unbiased ? 1.0 : 0.0;
  return detail::reduce<T>(
      x, dims, keepdim, W{}, [](W& a, T v, int64_t) { a.add(v); }, [](W& a, const W& b) { a.merge(b); },
      [correction](const W& a) {
        const double denom = a.n - correction;
        return static_cast<T>(denom > 0 ? a.m2 / denom : std::numeric_limits<double>::quiet_NaN());
      },
      "var");
}
template <Real T>
Tensor<T> std(const Tensor<T>& x, const std::vector<int64_t>& dims = {}, bool unbiased = true, bool keepdim = false) {
  return sqrt_(var(x, dims, unbiased, keepdim));
}

#define VOXNN_EXTREME_REDUCTION(name, arg_name, values_name, is_max)                                          \
  /* values only: a branch-free select that the compiler vectorises; NaN sticks once seen */               \
  template <Element T>                                                                                       \
  Tensor<T> name(const Tensor<T>& x, const std::vector<int64_t>& dims = {}, bool keepdim = false) {          \
    VOXNN_CHECK(x.numel() > 0, #name ": reduction over an empty tensor of shape ", x.shape());              \
    auto pick = [](T& a, T v) { a = ((is_max ? v > a : v < a) | (v != v)) ? v : a; };                       \
    return detail::reduce<T>(                                                                                \
        x, dims, keepdim, detail::extreme_init<T, is_max>(), [pick](T& a, T v, int64_t) { pick(a, v); },     \
        [pick](T& a, const T& b) { pick(a, b); }, [](const T& a) { return a; }, #name,                       \
        [pick](T& a, const T* v, int64_t n, int64_t) {                                                       \
          detail::fold_run(a, v, n, detail::extreme_init<T, is_max>(), pick);                                \
        });                                                                                                  \
  }                                                                                                          \
  /* index of the extreme along one dim, or over the flattened tensor when dim is absent */                  \
  template <Element T>                                                                                       \
  Tensor<int64_t> arg_name(const Tensor<T>& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false) { \
    using VI = detail::ValueIndex<T>;                                                                        \
    VOXNN_CHECK(x.numel() > 0, #arg_name ": reduction over an empty tensor of shape ", x.shape());          \
    const Tensor<T> src = dim ? x : x.reshape({-1});                                                         \
    return detail::reduce<int64_t>(                                                                          \
        src, {dim ? *dim : 0}, dim ? keepdim : false, VI{T(0), -1},                                          \
        [](VI& a, T v, int64_t i) { detail::take_extreme<T, is_max>(a, v, i); },                             \
        [](VI& a, const VI& b) { detail::merge_extreme<T, is_max>(a, b); }, [](const VI& a) { return a.index; }, \
        #arg_name);                                                                                          \
  }                                                                                                          \
  /* values and indices along one dim, as torch.max(x, dim) */                                               \
  template <Element T>                                                                                       \
  std::pair<Tensor<T>, Tensor<int64_t>> values_name(const Tensor<T>& x, int64_t dim, bool keepdim = false) { \
    return {name(x, {dim}, keepdim), arg_name(x, dim, keepdim)};                                             \
  }

VOXNN_EXTREME_REDUCTION(amax, argmax, max_dim, true)
VOXNN_EXTREME_REDUCTION(amin, argmin, min_dim, false)
#undef VOXNN_EXTREME_REDUCTION

template <Element T>
Tensor<T> max(const Tensor<T>& x) {
  return amax(x);
}
template <Element T>
Tensor<T> min(const Tensor<T>& x) {
  return amin(x);
}

// p-norm over dims (all by default); p = inf gives the largest magnitude.
template <Real T>
Tensor<T> norm(const Tensor<T>& x, double p = 2.0, const std::vector<int64_t>& dims = {}, bool keepdim = false) {
  using A = detail::Accum<T>;
  auto merge_sum = [](A& a, const A& b) { a += b; };
  if (std::isinf(p)) return amax(abs(x), dims, keepdim);
  if (p == 2.0)
    return detail::reduce<T>(
        x, dims, keepdim, A(0), [](A& a, T v, int64_t) { a += A(v) * A(v); }, merge_sum,
        [](const A& a) { return static_cast<T>(std::sqrt(a)); }, "norm");
  if (p == 1.0)
    return detail::reduce<T>(
        x, dims, keepdim, A(0), [](A& a, T v, int64_t) { a += std::abs(A(v)); }, merge_sum,
        [](const A& a) { return static_cast<T>(a); }, "norm");
  return detail::reduce<T>(
      x, dims, keepdim, A(0), [p](A& a, T v, int64_t) { a += std::pow(std::abs(A(v)), p); }, merge_sum,
      [p](const A& a) { return static_cast<T>(std::pow(a, 1.0 / p)); }, "norm");
}

// Sums a broadcast result back to `shape` (the gradient rule for every broadcasting op).
template <Element T>
Tensor<T> sum_to(const Tensor<T>& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  VOXNN_CHECK(broadcast_shapes(shape, x.shape(), "sum_to") == x.shape(), "sum_to: shape ", x.shape(),
              " is not a broadcast of ", shape);
  const int lead = x.dim() - shape.size();
  std::vector<int64_t> dims;
  for (int d = 0; d < x.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && x.shape()[d] != 1)) dims.push_back(d);
  if (dims.empty()) return x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

}  // namespace voxnn::ops
