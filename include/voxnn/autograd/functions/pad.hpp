#pragma once
// Differentiable padding (torch.nn.functional.pad) and cropping. Modes, pad-list order and checks:
// include/voxnn/ops/pad.hpp. The backward of a constant pad is the opposite (cropping) pad; that of
// reflect / replicate / circular is pad_backward, which adds every output gradient back onto its
// source element. pad_backward is linear with pad as its own backward, so both differentiate to any
// order.
#include <string>
#include <vector>

#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/autograd/var.hpp"
#include "voxnn/ops/pad.hpp"

namespace voxnn {

template <Real T, Device D>
Var<T, D> pad(const Var<T, D>& x, const std::vector<int64_t>& pad, const std::string& mode = "constant",
              double value = 0);

// The adjoint of pad(., pad, mode) for an input of `input_shape`.
template <Real T, Device D>
Var<T, D> pad_backward(const Var<T, D>& grad, const Shape& input_shape, const std::vector<int64_t>& pad,
                       const std::string& mode) {
  return autograd::make_result<T, D>(ops::pad_backward(grad.value(), input_shape, pad, mode), "pad_backward", {grad},
                                     [pad, mode](const auto&, const auto&, const auto& g) {
                                       return std::vector{voxnn::pad(g, pad, mode, 0)};
                                     });
}

template <Real T, Device D>
Var<T, D> pad(const Var<T, D>& x, const std::vector<int64_t>& pad, const std::string& mode, double value) {
  return autograd::make_result<T, D>(
      ops::pad(x.value(), pad, mode, value), "pad", {x}, [pad, mode](const auto& in, const auto&, const auto& g) {
        if (mode == "constant") {
          std::vector<int64_t> negated(pad.size());
          for (std::size_t i = 0; i < pad.size(); ++i) negated[i] = -pad[i];
          return std::vector{voxnn::pad(g, negated, "constant", 0)};
        }
        return std::vector{pad_backward(g, in[0].shape(), pad, mode)};
      });
}

// The trailing start.size() dims cropped to [start, start + size): a view, differentiable as narrow.
template <Real T, Device D>
Var<T, D> crop(const Var<T, D>& x, const std::vector<int64_t>& start, const std::vector<int64_t>& size) {
  (void)ops::crop(x.value(), start, size);  // checks with crop's message
  Var<T, D> out = x;
  const int k = static_cast<int>(start.size());
  for (int j = 0; j < k; ++j) {
    const int d = x.dim() - k + j;
    if (start[static_cast<std::size_t>(j)] != 0 || size[static_cast<std::size_t>(j)] != x.shape()[d])
      out = narrow(out, d, start[static_cast<std::size_t>(j)], size[static_cast<std::size_t>(j)]);
  }
  return out;
}

// The centred crop of the trailing size.size() dims (start floor((in - size) / 2) in each).
template <Real T, Device D>
Var<T, D> center_crop(const Var<T, D>& x, const std::vector<int64_t>& size) {
  (void)ops::center_crop(x.value(), size);  // checks with center_crop's message
  const int k = static_cast<int>(size.size());
  std::vector<int64_t> start(size.size());
  for (int j = 0; j < k; ++j)
    start[static_cast<std::size_t>(j)] = ops::center_crop_start(x.shape()[x.dim() - k + j], size[static_cast<std::size_t>(j)]);
  return crop(x, start, size);
}

}  // namespace voxnn
