#pragma once
// Sliding-window geometry shared by convolution and pooling: the output-size rule (with PyTorch's
// ceil_mode rounding) and the check of a (batched or unbatched) spatial input.
#include <cstdint>
#include <string>

#include "voxnn/core/error.hpp"
#include "voxnn/core/shape.hpp"

namespace voxnn::ops {

// Output length of a window sliding over `in` elements (PyTorch's formula; ceil_mode as pooling has
// it: a last window may start in the right padding, but never beyond the input).
inline int64_t window_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad_left, int64_t pad_right,
                                  int64_t dilation, bool ceil_mode = false) {
  // floor((span + (ceil_mode ? stride - 1 : 0)) / stride) + 1, rounding down also for a negative span:
  // in ceil_mode a window longer than the padded input still gives one output (PyTorch's div_rtn).
  const int64_t span = in + pad_left + pad_right - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  if (span < 0) return 0;
  int64_t out = span / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_left) --out;
  return out;
}

// Checks `x` is (C, spatial...) or (N, C, spatial...) with N spatial dims and returns whether it has
// the batch dimension; `op` and `layout` name the error ("conv3d", "(N, C, D, H, W)").
inline bool check_spatial_input(const Shape& x, int spatial, const char* op, bool allow_unbatched = true) {
  const bool batched = x.size() == spatial + 2;
  VOXNN_CHECK(batched || (allow_unbatched && x.size() == spatial + 1), op, ": input has ", x.size(), " dims ", x,
              "; expected ", spatial + 2, " (N, C, ", spatial, " spatial)",
              allow_unbatched ? " or " + std::to_string(spatial + 1) + " without the batch" : std::string());
  return batched;
}

}  // namespace voxnn::ops
