#pragma once
// A chain of sample transforms applied in order, like monai.transforms.Compose:
//
//   data::Compose<float> augment{{data::NormalizeIntensity{}, data::RandSpatialCrop{.roi_size = {96, 96, 96}},
//                                 data::RandFlip{.prob = 0.5}}};
//   augment(sample, gen);                       // or data::compose<float>(t1, t2, ...)
//
// Each transform draws from the same generator, one after the other, so the whole chain is
// reproducible from the generator's seed.
#include <cstddef>
#include <initializer_list>
#include <utility>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/data/sample.hpp"

namespace voxnn::data {

template <Real T = float>
class Compose {
 public:
  Compose() = default;
  Compose(std::initializer_list<Transform<T>> transforms) : transforms_(transforms) { check(); }
  explicit Compose(std::vector<Transform<T>> transforms) : transforms_(std::move(transforms)) { check(); }

  // Appends a transform; returns *this so that calls chain.
  Compose& then(Transform<T> t) {
    VOXNN_CHECK(static_cast<bool>(t), "Compose::then: empty transform");
    transforms_.push_back(std::move(t));
    return *this;
  }

  void operator()(Sample<T>& sample, Generator& gen) const {
    for (const auto& t : transforms_) t(sample, gen);
  }
  // A transformed copy (the input's tensors are shared until a transform replaces them, and every
  // voxnn transform writes into new tensors, so `sample` itself is left unchanged).
  Sample<T> apply(Sample<T> sample, Generator& gen) const {
    (*this)(sample, gen);
    return sample;
  }

  std::size_t size() const { return transforms_.size(); }
  const std::vector<Transform<T>>& transforms() const { return transforms_; }

 private:
  void check() const {
    for (std::size_t i = 0; i < transforms_.size(); ++i)
      VOXNN_CHECK(static_cast<bool>(transforms_[i]), "Compose: transform ", i, " is empty");
  }
  std::vector<Transform<T>> transforms_;
};

// compose<float>(t1, t2, ...): a Compose of the given callables.
template <Real T, class... Fs>
Compose<T> compose(Fs&&... fs) {
  return Compose<T>(std::vector<Transform<T>>{Transform<T>(std::forward<Fs>(fs))...});
}

}  // namespace voxnn::data
