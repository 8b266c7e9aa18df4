#pragma once
// How a loss folds its per-element values: none (keep them), mean, or sum, as PyTorch's reduction=.
#include <string_view>

#include "voxnn/autograd/engine.hpp"  // a loss is made to call backward() on
#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/core/error.hpp"

namespace voxnn::losses {

enum class Reduction { none, mean, sum };

// PyTorch's spelling: "none", "mean" or "sum".
inline Reduction reduction_from_string(std::string_view name) {
  if (name == "none") return Reduction::none;
  if (name == "mean") return Reduction::mean;
  VOXNN_CHECK(name == "sum", "reduction: '", name, "' is not one of 'none', 'mean', 'sum'");
  return Reduction::sum;
}

inline const char* to_string(Reduction r) {
  switch (r) {
    case Reduction::none: return "none";
    case Reduction::mean: return "mean";
    default: return "sum";
  }
}

// The mean of an empty loss is NaN, as in PyTorch (0 / 0), not an error.
template <Real T, Device D>
Var<T, D> reduce(const Var<T, D>& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::none: return loss;
    case Reduction::sum: return sum(loss);
    default: return mean(loss);
  }
}

}  // namespace voxnn::losses
