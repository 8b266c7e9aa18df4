#pragma once
// A volume as a batch of 2D slices and back, for 2D-slice networks (Gupta et al., ISBI 2021: a 2D CNN
// encodes every slice of a brain MRI, and the slice encodings are aggregated as a set or a sequence).
//
//   volume_to_slices(x (N, C, D, H, W), {.dim = d})  -> (S * N, C, a, b)
//     S = x.size(d) slices taken along volume dim d (2, 3 or 4; -3, -2, -1 also accepted); (a, b) are the
//     other two spatial dims in their volume order: dim 2 gives (H, W), dim 3 (D, W), dim 4 (D, H).
//   slices_to_volume(slices, N, {.dim = d})            -> (N, C, D, H, W), the exact inverse
//   slices_to_set(y (S * N, ...), N)                   -> (N, S, ...), the set (sequence) view of a per-slice result
//   set_to_slices(z (N, S, ...))                       -> (S * N, ...), its inverse
//
// Row order. The reference (umgupta/2d-slice-set-networks, MRI2DSlice.encode and MRI_LSTM.encode)
// concatenates the per-slice batches along dim 0, so row s * N + n holds slice s of volume n: the slice
// index is the outer one ("slice_major", the default). "batch_major" gives row n * S + s instead, for
// which the set view is a plain reshape. The reference's slice_dim k (1, 2, 3 over its (B, 1, H, W, D)
// input) is dim = k + 1 here.
//
// Context. With context = k > 1, each slice carries its k - 1 following neighbours as extra channels (the
// reference's in_channel): S = x.size(d) - k + 1 slices of C * k channels, channel c * k + j of slice s
// being volume channel c at position s + j (for C = 1, channel j is slice s + j, as the reference's
// collation_indices). Such slices overlap, so slices_to_volume requires context 1.
//
// All four are views or one copy (reshape / permute / stack), differentiable to any order.
#include <string>
#include <vector>

#include "voxnn/autograd/functions/shape.hpp"

namespace voxnn {

struct SliceOptions {
  int64_t dim = 2;                    // the volume dim to slice along: 2 (D), 3 (H) or 4 (W) of (N, C, D, H, W)
  int64_t context = 1;                // consecutive slices stacked as channels (the reference's in_channel)
  std::string order = "slice_major";  // row s * N + n (the reference's), or "batch_major": row n * S + s
};

namespace autograd::detail {

inline bool slice_major(const std::string& order, const char* op) {
  VOXNN_CHECK(order == "slice_major" || order == "batch_major", op, ": order must be 'slice_major' or 'batch_major', got '",
              order, "'");
  return order == "slice_major";
}

// The volume dim (2, 3 or 4) of options.dim.
inline int slicing_dim(int64_t dim, const char* op) {
  VOXNN_CHECK((dim >= 2 && dim <= 4) || (dim >= -3 && dim <= -1), op, ": dim ", dim,
              " is not a spatial dim of an (N, C, D, H, W) volume; expected 2, 3 or 4 (or -3, -2, -1)");
  return static_cast<int>(dim < 0 ? dim + 5 : dim);
}

// The permutation of an (N, C, D, H, W) volume that puts the sliced dim first (slice-major) or second.
inline std::vector<int64_t> slicing_order(int d, bool slice_first) {
  std::vector<int64_t> rest;
  for (int i = 2; i < 5; ++i)
    if (i != d) rest.push_back(i);
  if (slice_first) return {d, 0, 1, rest[0], rest[1]};
  return {0, d, 1, rest[0], rest[1]};
}

}  // namespace autograd::detail

// (N, C, D, H, W) -> (S * N, C * context, a, b); see the top of this file.
template <Real T, Device D>
Var<T, D> volume_to_slices(const Var<T, D>& volume, const SliceOptions& o = {}) {
  const char* op = "volume_to_slices";
  VOXNN_CHECK(volume.dim() == 5, op, ": volume has ", volume.dim(), " dims ", volume.shape(), "; expected 5 (N, C, D, H, W)");
  const int d = autograd::detail::slicing_dim(o.dim, op);
  const bool outer = autograd::detail::slice_major(o.order, op);
  const Shape& s = volume.shape();
  VOXNN_CHECK(o.context >= 1 && o.context <= s[d], op, ": context ", o.context, " must be in [1, ", s[d],
              "] for volume ", s, " sliced along dim ", d);
  const std::vector<int64_t> order = autograd::detail::slicing_order(d, outer);
  const int64_t n = s[0], c = s[1], a = s[order[3]], b = s[order[4]];
  const int64_t slices = s[d] - o.context + 1;
  if (o.context == 1) return reshape(contiguous(permute(volume, order)), {slices * n, c, a, b});
  std::vector<Var<T, D>> parts;  // parts[j]: the j-th neighbour of every slice, (S, N, C, a, b) or (N, S, C, a, b)
  for (int64_t j = 0; j < o.context; ++j) parts.push_back(permute(narrow(volume, d, j, slices), order));
  return reshape(stack(parts, 3), {slices * n, c * o.context, a, b});
}

// (S * N, C, a, b) -> (N, C, D, H, W) with S placed at options.dim: the inverse of volume_to_slices
// (context 1 only).
template <Real T, Device D>
Var<T, D> slices_to_volume(const Var<T, D>& slices, int64_t batch, const SliceOptions& o = {}) {
  const char* op = "slices_to_volume";
  VOXNN_CHECK(slices.dim() == 4, op, ": slices have ", slices.dim(), " dims ", slices.shape(),
              "; expected 4 (S * N, C, a, b)");
  const int d = autograd::detail::slicing_dim(o.dim, op);
  const bool outer = autograd::detail::slice_major(o.order, op);
  VOXNN_CHECK(o.context == 1, op, ": context ", o.context, " slices overlap and have no inverse; expected context 1");
  VOXNN_CHECK(batch > 0 && slices.shape()[0] % batch == 0, op, ": ", slices.shape()[0], " slices in ", slices.shape(),
              " do not split into batch ", batch);
  const Shape& s = slices.shape();
  const int64_t count = s[0] / batch;
  const Var<T, D> split = outer ? reshape(slices, {count, batch, s[1], s[2], s[3]}) : reshape(slices, {batch, count, s[1], s[2], s[3]});
  const std::vector<int64_t> order = autograd::detail::slicing_order(d, outer);
  std::vector<int64_t> inverse(5);
  for (int i = 0; i < 5; ++i) inverse[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = i;
  return contiguous(permute(split, inverse));
}

// A per-slice result (S * N, ...) as a set (N, S, ...): slice s of volume n at [n, s]. A view.
template <Real T, Device D>
Var<T, D> slices_to_set(const Var<T, D>& slices, int64_t batch, const std::string& order = "slice_major") {
  const char* op = "slices_to_set";
  const bool outer = autograd::detail::slice_major(order, op);
  VOXNN_CHECK(slices.dim() >= 1, op, ": expected a (S * N, ...) tensor, got a 0-dim one");
  VOXNN_CHECK(batch > 0 && slices.shape()[0] % batch == 0, op, ": ", slices.shape()[0], " rows of ", slices.shape(),
              " do not split into batch ", batch);
  std::vector<int64_t> shape{0, 0};
  for (int i = 1; i < slices.dim(); ++i) shape.push_back(slices.shape()[i]);
  const int64_t count = slices.shape()[0] / batch;
  if (!outer) {
    shape[0] = batch, shape[1] = count;
    return reshape(slices, Shape(shape));
  }
  shape[0] = count, shape[1] = batch;
  return transpose(reshape(slices, Shape(shape)), 0, 1);
}

// A set (N, S, ...) back to rows (S * N, ...) in the given order: the inverse of slices_to_set.
template <Real T, Device D>
Var<T, D> set_to_slices(const Var<T, D>& set, const std::string& order = "slice_major") {
  const char* op = "set_to_slices";
  const bool outer = autograd::detail::slice_major(order, op);
  VOXNN_CHECK(set.dim() >= 2, op, ": set has ", set.dim(), " dims ", set.shape(), "; expected (N, S, ...)");
  std::vector<int64_t> shape{set.shape()[0] * set.shape()[1]};
  for (int i = 2; i < set.dim(); ++i) shape.push_back(set.shape()[i]);
  return reshape(outer ? transpose(set, 0, 1) : set, Shape(shape));
}

}  // namespace voxnn
