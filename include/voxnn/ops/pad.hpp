#pragma once
// Padding and cropping of trailing dims (torch.nn.functional.pad, PyTorch 1.13 semantics), with the
// adjoint of padding that the backward pass needs, and crop / center_crop views.
//
// pad(x, pad, mode, value): `pad` lists (left, right) pairs starting from the LAST dim, as PyTorch's:
// {1, 2} pads the last dim by 1 before and 2 after, {1, 2, 3, 4} also pads the dim before it by 3 and 4.
// Negative entries crop. Modes:
//   "constant"   any number of dims (up to all of them), filled with `value`;
//   "reflect"    mirror without repeating the edge (d c b | a b c d | c b a); each pad < the dim's size;
//   "replicate"  repeat the edge element;
//   "circular"   wrap around; the input is cropped by its negative pads first, then wrapped (as PyTorch
//                does), and a pad may not exceed the cropped size;
// the last three pad 1, 2 or 3 trailing dims of an input with a batch dim (N, C, spatial...) or, for
// reflect and replicate, without one (C, spatial...), as PyTorch allows.
//
// Every mode maps each output element to at most one input element, dimension by dimension, so the
// kernels work with one index map per padded dim: the forward gathers along it, the adjoint
// (pad_backward) adds each output element back onto its source.
#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "voxnn/core/factory.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::ops {

enum class PadMode { constant, reflect, replicate, circular };

namespace detail {

inline PadMode parse_pad_mode(const std::string& mode) {
  if (mode == "constant") return PadMode::constant;
  if (mode == "reflect") return PadMode::reflect;
  if (mode == "replicate") return PadMode::replicate;
  if (mode == "circular") return PadMode::circular;
  ::voxnn::detail::throw_error("pad: unknown padding mode '", mode,
                               "'; expected 'constant', 'reflect', 'replicate' or 'circular'");
}

inline std::string pad_list(const std::vector<int64_t>& pad) {
  std::string s = "(";
  for (std::size_t i = 0; i < pad.size(); ++i) s += (i ? ", " : "") + std::to_string(pad[i]);
  return s + ")";
}

// The geometry of one pad call: the trailing k dims are padded; each has an index map from output
// position to input position (-1: the constant value).
struct PadPlan {
  PadMode mode = PadMode::constant;
  Shape in, out;
  int k = 0;                               // padded trailing dims
  std::vector<std::vector<int64_t>> maps;  // maps[j]: output index -> input index of padded dim j
};

inline PadPlan plan_pad(const Shape& in, const std::vector<int64_t>& pad, const std::string& mode_name, double value) {
  PadPlan plan;
  plan.mode = parse_pad_mode(mode_name);
  plan.in = in;
  const int rank = in.size();
  VOXNN_CHECK(pad.size() % 2 == 0, "pad: the pad list ", pad_list(pad), " has odd length ", pad.size(),
              "; expected (left, right) pairs starting from the last dim");
  const int k = static_cast<int>(pad.size() / 2);
  plan.k = k;
  VOXNN_CHECK(k <= rank, "pad: the pad list ", pad_list(pad), " pads ", k, " dims but the input ", in, " has only ",
              rank);
  if (plan.mode != PadMode::constant) {
    VOXNN_CHECK(value == 0, "pad: padding mode '", mode_name, "' takes no fill value (got ", value, ")");
    const bool circular = plan.mode == PadMode::circular;
    const bool ok = k >= 1 && k <= 3 && (rank == k + 2 || (!circular && rank == k + 1));
    VOXNN_CHECK(ok, "pad: mode '", mode_name, "' with the pad list ", pad_list(pad), " pads ", k,
                " trailing dims and needs an input of ", k + 2, " dims (N, C, ", k, " spatial)",
                circular ? std::string() : " or " + std::to_string(k + 1) + " without the batch", "; got ", rank,
                " dims ", in);
  }
  plan.out = in;
  plan.maps.resize(static_cast<std::size_t>(k));
  for (int j = 0; j < k; ++j) {
    const int d = rank - k + j;  // padded dim; its pads are pad[2 * (k - 1 - j)] and the next entry
    const int64_t left = pad[2 * static_cast<std::size_t>(k - 1 - j)];
    const int64_t right = pad[2 * static_cast<std::size_t>(k - 1 - j) + 1];
    const int64_t n = in[d], m = n + left + right;
    switch (plan.mode) {
      case PadMode::constant:
        VOXNN_CHECK(m >= 0, "pad: pads (", left, ", ", right, ") of dim ", d, " of input ", in,
                    " leave a negative size ", m);
        break;
      case PadMode::reflect:
        VOXNN_CHECK(left < n && right < n, "pad: reflect pads (", left, ", ", right, ") of dim ", d, " of input ", in,
                    " must be smaller than the dim's size ", n);
        VOXNN_CHECK(m >= 1, "pad: reflect pads (", left, ", ", right, ") of dim ", d, " of input ", in,
                    " leave an empty dim");
        break;
      case PadMode::replicate:
        VOXNN_CHECK(m >= 1 && n >= 1, "pad: replicate pads (", left, ", ", right, ") of dim ", d, " of input ", in,
                    " leave an empty dim");
        break;
      case PadMode::circular: {
        const int64_t kept = n - std::max<int64_t>(0, -left) - std::max<int64_t>(0, -right);
        VOXNN_CHECK(kept >= 0 && m >= 0, "pad: circular pads (", left, ", ", right, ") of dim ", d, " of input ", in,
                    " crop more than the dim's size ", n);
        VOXNN_CHECK(left <= kept && right <= kept && (kept > 0 || m == 0), "pad: circular pads (", left, ", ", right,
                    ") of dim ", d, " of input ", in, " wrap around more than once (at most ", kept, ")");
        break;
      }
    }
    plan.out[d] = m;
    std::vector<int64_t>& map = plan.maps[static_cast<std::size_t>(j)];
    map.resize(static_cast<std::size_t>(m));
    const int64_t crop_left = std::max<int64_t>(0, -left);
    const int64_t kept = n - crop_left - std::max<int64_t>(0, -right);
    for (int64_t o = 0; o < m; ++o) {
      int64_t i = o - left;
      switch (plan.mode) {
        case PadMode::constant: i = (i >= 0 && i < n) ? i : -1; break;
        case PadMode::reflect: i = i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i); break;
        case PadMode::replicate: i = std::clamp<int64_t>(i, 0, n - 1); break;
        case PadMode::circular: {
          const int64_t c = o - std::max<int64_t>(0, left);  // position in the cropped range
          i = crop_left + ((c % kept) + kept) % kept;
          break;
        }
      }
      map[static_cast<std::size_t>(o)] = i;
    }
  }
  return plan;
}

// Output positions [begin, end) of the last padded dim whose sources are consecutive, and the
// source of `begin`: the bulk of every row, copied (or added back) as one contiguous run.
struct ContiguousRun {
  int64_t begin = 0, end = 0, source = 0;
};
inline ContiguousRun contiguous_run(const std::vector<int64_t>& map, int64_t left, int64_t n) {
  const int64_t m = static_cast<int64_t>(map.size());
  ContiguousRun run;
  run.begin = std::clamp<int64_t>(left, 0, m);
  run.end = std::clamp<int64_t>(left + n, run.begin, m);
  if (run.end > run.begin) run.source = map[static_cast<std::size_t>(run.begin)];
  for (int64_t o = run.begin; o < run.end; ++o)  // holds for every mode except a wrapped circular run
    if (map[static_cast<std::size_t>(o)] != run.source + (o - run.begin)) {
      run.end = run.begin;
      break;
    }
  return run;
}

// Strides (in elements) of the padded dims of a contiguous tensor, and the size of one leading block.
inline std::vector<int64_t> trailing_strides(const Shape& s, int k) {
  std::vector<int64_t> st(static_cast<std::size_t>(k));
  int64_t acc = 1;
  for (int j = k - 1; j >= 0; --j) {
    st[static_cast<std::size_t>(j)] = acc;
    acc *= s[s.size() - k + j];
  }
  return st;
}
inline int64_t trailing_numel(const Shape& s, int k) {
  int64_t n = 1;
  for (int j = 0; j < k; ++j) n *= s[s.size() - k + j];
  return n;
}

inline int64_t last_pad_left(const std::vector<int64_t>& pad) { return pad.empty() ? 0 : pad[0]; }

}  // namespace detail

// torch.nn.functional.pad on a tensor; see the top of this file.
template <Real T, Device D>
Tensor<T, D> pad(const Tensor<T, D>& input, const std::vector<int64_t>& pad, const std::string& mode = "constant",
                 double value = 0) {
  static_assert(std::is_same_v<D, Cpu>, "ops::pad: CPU only for now");
  const detail::PadPlan plan = detail::plan_pad(input.shape(), pad, mode, value);
  if (plan.k == 0) return input.clone();
  const Tensor<T, D> x = input.contiguous();
  Tensor<T, D> out(plan.out);
  const int k = plan.k;
  const std::vector<int64_t>& mw = plan.maps.back();
  const int64_t m_last = plan.out.back(), n_last = plan.in.back();
  const detail::ContiguousRun run = detail::contiguous_run(mw, detail::last_pad_left(pad), n_last);
  const std::vector<int64_t> in_st = detail::trailing_strides(plan.in, k);
  const int64_t in_block = detail::trailing_numel(plan.in, k);
  const int64_t rows_per_block = m_last > 0 ? detail::trailing_numel(plan.out, k) / m_last : 0;
  const int64_t rows = rows_per_block == 0 ? 0 : out.numel() / m_last;
  const T fill = static_cast<T>(value);
  const T* px = x.data();
  T* po = out.data();
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(m_last, 1));
  parallel_for(0, rows, grain, [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      T* o = po + r * m_last;
      // source row: the leading block, then the index maps of the padded dims before the last
      int64_t rem = r % rows_per_block, src = (r / rows_per_block) * in_block;
      bool inside = true;
      for (int j = k - 2; j >= 0; --j) {
        const auto& map = plan.maps[static_cast<std::size_t>(j)];
        const int64_t mj = static_cast<int64_t>(map.size());
        const int64_t i = map[static_cast<std::size_t>(rem % mj)];
        rem /= mj;
        if (i < 0) inside = false;
        src += i * in_st[static_cast<std::size_t>(j)];
      }
      if (!inside) {
        std::fill(o, o + m_last, fill);
        continue;
      }
      const T* s = px + src;
      for (int64_t w = 0; w < run.begin; ++w) {
        const int64_t i = mw[static_cast<std::size_t>(w)];
        o[w] = i >= 0 ? s[i] : fill;
      }
      std::copy(s + run.source, s + run.source + (run.end - run.begin), o + run.begin);
      for (int64_t w = run.end; w < m_last; ++w) {
        const int64_t i = mw[static_cast<std::size_t>(w)];
        o[w] = i >= 0 ? s[i] : fill;
      }
    }
  });
  return out;
}

// The adjoint of pad: a tensor of the input's shape in which every element collects the gradient of
// each output element padded from it (constant fills collect nothing). Linear in `grad`; its own
// adjoint is pad(., pad, mode).
template <Real T, Device D>
Tensor<T, D> pad_backward(const Tensor<T, D>& grad, const Shape& input_shape, const std::vector<int64_t>& pad,
                          const std::string& mode = "constant") {
  static_assert(std::is_same_v<D, Cpu>, "ops::pad_backward: CPU only for now");
  const detail::PadPlan plan = detail::plan_pad(input_shape, pad, mode, 0);
  VOXNN_CHECK(grad.shape() == plan.out, "pad_backward: gradient of shape ", grad.shape(), " for an input of shape ",
              input_shape, " padded by ", detail::pad_list(pad), " to ", plan.out);
  if (plan.k == 0) return grad.clone();
  if (plan.mode == PadMode::constant) {  // the adjoint of a constant pad is the opposite pad
    std::vector<int64_t> negated(pad.size());
    for (std::size_t i = 0; i < pad.size(); ++i) negated[i] = -pad[i];
    return ops::pad(grad, negated, "constant", 0);
  }
  const Tensor<T, D> g = grad.contiguous();
  Tensor<T, D> out(input_shape);
  const int k = plan.k;
  // For each padded dim but the last: the output positions that read each input position (CSR).
  std::vector<std::vector<int64_t>> first(static_cast<std::size_t>(k)), list(static_cast<std::size_t>(k));
  for (int j = 0; j + 1 < k; ++j) {
    const auto& map = plan.maps[static_cast<std::size_t>(j)];
    const int64_t n = plan.in[plan.in.size() - k + j];
    auto& f = first[static_cast<std::size_t>(j)];
    auto& l = list[static_cast<std::size_t>(j)];
    f.assign(static_cast<std::size_t>(n + 1), 0);
    for (int64_t i : map)
      if (i >= 0) ++f[static_cast<std::size_t>(i + 1)];
    for (int64_t i = 0; i < n; ++i) f[static_cast<std::size_t>(i + 1)] += f[static_cast<std::size_t>(i)];
    l.resize(static_cast<std::size_t>(f.back()));
    std::vector<int64_t> at(f.begin(), f.end() - 1);
    for (int64_t o = 0; o < static_cast<int64_t>(map.size()); ++o)
      if (map[static_cast<std::size_t>(o)] >= 0) l[static_cast<std::size_t>(at[static_cast<std::size_t>(map[static_cast<std::size_t>(o)])]++)] = o;
  }
  const std::vector<int64_t>& mw = plan.maps.back();
  const int64_t m_last = plan.out.back(), n_last = plan.in.back();
  const detail::ContiguousRun run = detail::contiguous_run(mw, detail::last_pad_left(pad), n_last);
  const std::vector<int64_t> out_st = detail::trailing_strides(plan.out, k);
  const int64_t out_block = detail::trailing_numel(plan.out, k);
  const int64_t rows_per_block = n_last > 0 ? detail::trailing_numel(plan.in, k) / n_last : 0;
  const int64_t rows = rows_per_block == 0 ? 0 : out.numel() / n_last;
  const T* pg = g.data();
  T* po = out.data();
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(m_last, 1));
  parallel_for(0, rows, grain, [&](int64_t rb, int64_t re) {
    std::vector<int64_t> idx(static_cast<std::size_t>(std::max(k - 1, 0))), pos(idx.size());
    for (int64_t r = rb; r < re; ++r) {
      T* o = po + r * n_last;
      std::fill(o, o + n_last, T(0));
      int64_t rem = r % rows_per_block;
      const int64_t base = (r / rows_per_block) * out_block;
      bool any = true;
      for (int j = k - 2; j >= 0; --j) {
        const int64_t nj = plan.in[plan.in.size() - k + j];
        idx[static_cast<std::size_t>(j)] = rem % nj;
        rem /= nj;
        const auto& f = first[static_cast<std::size_t>(j)];
        pos[static_cast<std::size_t>(j)] = f[static_cast<std::size_t>(idx[static_cast<std::size_t>(j)])];
        if (f[static_cast<std::size_t>(idx[static_cast<std::size_t>(j)] + 1)] == pos[static_cast<std::size_t>(j)])
          any = false;
      }
      if (!any) continue;
      // every combination of the output positions that read this input row (an odometer)
      while (true) {
        int64_t src = base;
        for (int j = 0; j + 1 < k; ++j)
          src += list[static_cast<std::size_t>(j)][static_cast<std::size_t>(pos[static_cast<std::size_t>(j)])] *
                 out_st[static_cast<std::size_t>(j)];
        const T* s = pg + src;
        for (int64_t w = 0; w < run.begin; ++w) o[mw[static_cast<std::size_t>(w)]] += s[w];
        T* dst = o + run.source;
        const T* from = s + run.begin;
        for (int64_t t = 0; t < run.end - run.begin; ++t) dst[t] += from[t];
        for (int64_t w = run.end; w < m_last; ++w) o[mw[static_cast<std::size_t>(w)]] += s[w];
        int j = k - 2;
        for (; j >= 0; --j) {
          const auto& f = first[static_cast<std::size_t>(j)];
          auto& p = pos[static_cast<std::size_t>(j)];
          if (++p < f[static_cast<std::size_t>(idx[static_cast<std::size_t>(j)] + 1)]) break;
          p = f[static_cast<std::size_t>(idx[static_cast<std::size_t>(j)])];
        }
        if (j < 0) break;
      }
    }
  });
  return out;
}

// ---- cropping (views) ---------------------------------------------------------------------------------

// The view x[..., start[0] : start[0] + size[0], ..., start[k-1] : start[k-1] + size[k-1]] of the
// trailing k = start.size() dims.
template <Real T, Device D>
Tensor<T, D> crop(const Tensor<T, D>& x, const std::vector<int64_t>& start, const std::vector<int64_t>& size) {
  VOXNN_CHECK(start.size() == size.size(), "crop: ", start.size(), " start values but ", size.size(),
              " sizes for input ", x.shape());
  const int k = static_cast<int>(start.size());
  VOXNN_CHECK(k <= x.dim(), "crop: ", k, " cropped dims but the input ", x.shape(), " has only ", x.dim());
  Tensor<T, D> out = x;
  for (int j = 0; j < k; ++j) {
    const int d = x.dim() - k + j;
    const int64_t s = start[static_cast<std::size_t>(j)], n = size[static_cast<std::size_t>(j)];
    VOXNN_CHECK(s >= 0 && n >= 0 && s + n <= x.shape()[d], "crop: region start ", detail::pad_list(start),
                " size ", detail::pad_list(size), " does not fit the trailing dims of input ", x.shape(), " (dim ", d,
                ")");
    out = out.narrow(d, s, n);
  }
  return out;
}

// Start of a centred crop of `size` from `in`: floor((in - size) / 2), so an odd margin leaves the
// extra element at the end.
inline int64_t center_crop_start(int64_t in, int64_t size) { return (in - size) / 2; }

// The centred view of the trailing size.size() dims.
template <Real T, Device D>
Tensor<T, D> center_crop(const Tensor<T, D>& x, const std::vector<int64_t>& size) {
  const int k = static_cast<int>(size.size());
  VOXNN_CHECK(k <= x.dim(), "center_crop: ", k, " cropped dims but the input ", x.shape(), " has only ", x.dim());
  std::vector<int64_t> start(size.size());
  for (int j = 0; j < k; ++j) {
    const int64_t in = x.shape()[x.dim() - k + j], s = size[static_cast<std::size_t>(j)];
    VOXNN_CHECK(s >= 0 && s <= in, "center_crop: size ", detail::pad_list(size),
                " is larger than the trailing dims of input ", x.shape());
    start[static_cast<std::size_t>(j)] = center_crop_start(in, s);
  }
  return crop(x, start, size);
}

}  // namespace voxnn::ops
