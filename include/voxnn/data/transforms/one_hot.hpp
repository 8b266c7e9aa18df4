#pragma once
// One-hot labels, as monai.transforms.AsDiscrete(to_onehot = num_classes) on the label:
//
//   OneHot{.num_classes = 4}     // label [1, X, Y, Z] of indices 0..3 -> [4, X, Y, Z] of 0 / 1
//
// Every label value must be an integer in [0, num_classes) (MONAI truncates to an integer first and
// fails on values outside; voxnn rejects non-integers too: a label map that went through a linear
// interpolation is a bug). The image is left alone.
#include <cmath>
#include <cstdint>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/data/transforms/common.hpp"

namespace voxnn::data {

struct OneHot {
  int64_t num_classes = 0;

  template <Real T>
  void operator()(Sample<T>& s, Generator&) const {
    const char* op = "OneHot";
    const auto sp = detail::spatial_shape(s, op);
    VOXNN_CHECK(s.label.has_value(), op, ": the sample has no label");
    VOXNN_CHECK(num_classes >= 1, op, ": num_classes ", num_classes, " is below 1");
    VOXNN_CHECK(s.label->size(0) == 1, op, ": label has shape ", s.label->shape(),
                "; expected one channel of class indices [1, X, Y, Z]");
    const Tensor<T> in = s.label->contiguous();
    const int64_t vol = sp[0] * sp[1] * sp[2], K = num_classes;
    Tensor<T> out({K, sp[0], sp[1], sp[2]});
    const T* x = in.data();
    T* y = out.data();
    // first pass: check (the first bad value is reported)
    for (int64_t i = 0; i < vol; ++i) {
      const T v = x[i];
      if (!(v >= T(0) && v < static_cast<T>(K) && std::floor(v) == v))
        VOXNN_CHECK(false, op, ": label value ", +v, " at voxel ", i, " is not an integer in [0, ", K, ")");
    }
    parallel_for(0, vol, kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t k = 0; k < K; ++k) {
        T* o = y + k * vol;
        const T kv = static_cast<T>(k);
        for (int64_t i = b; i < e; ++i) o[i] = x[i] == kv ? T(1) : T(0);
      }
    });
    s.label = out;
  }
};

}  // namespace voxnn::data
