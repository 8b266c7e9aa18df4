#pragma once
// Differentiable 2D parallel-beam projection (radon) and back-projection, geometry and discretisation
// in include/voxnn/ops/radon.hpp. Both are linear and each is the other's adjoint, so each one's
// backward is the other: differentiable to any order at the cost of one projection per pass.
//
//   auto g = ops::radon_geometry(128, 128, {.num_angles = 180, .num_bins = 185});
//   Var<float> sino = radon(image, g);           // (N, C, 128, 128) -> (N, C, 180, 185)
//   Var<float> back = back_projection(sino, g);  // (N, C, 180, 185) -> (N, C, 128, 128)
#include <memory>
#include <vector>

#include "voxnn/autograd/var.hpp"
#include "voxnn/ops/radon.hpp"

namespace voxnn {

namespace radon_detail {
using GeometryPtr = std::shared_ptr<const ops::RadonGeometry>;

template <Real T, Device D>
Var<T, D> project(const Var<T, D>& image, const GeometryPtr& g);

template <Real T, Device D>
Var<T, D> back_project(const Var<T, D>& sinogram, const GeometryPtr& g) {
  return autograd::make_result<T, D>(
      ops::back_projection(sinogram.value(), *g), "back_projection", {sinogram},
      [g](const auto&, const auto&, const auto& grad) { return std::vector{project(grad, g)}; });
}

template <Real T, Device D>
Var<T, D> project(const Var<T, D>& image, const GeometryPtr& g) {
  return autograd::make_result<T, D>(
      ops::radon(image.value(), *g), "radon", {image},
      [g](const auto&, const auto&, const auto& grad) { return std::vector{back_project(grad, g)}; });
}
}  // namespace radon_detail

// The projection (..., H, W) -> (..., angles, bins) for a resolved geometry.
template <Real T, Device D>
Var<T, D> radon(const Var<T, D>& image, const ops::RadonGeometry& g) {
  return radon_detail::project(image, std::make_shared<const ops::RadonGeometry>(g));
}

// The projection with the geometry made from the image's last two dims and `options`.
template <Real T, Device D>
Var<T, D> radon(const Var<T, D>& image, const RadonOptions& options = {}) {
  VOXNN_CHECK(image.dim() >= 2, "radon: image has ", image.dim(), " dims ", image.shape(),
              "; expected (..., H, W) with at least 2 dims");
  return radon(image, ops::radon_geometry(image.size(-2), image.size(-1), options));
}

// The back-projection (adjoint) (..., angles, bins) -> (..., H, W).
template <Real T, Device D>
Var<T, D> back_projection(const Var<T, D>& sinogram, const ops::RadonGeometry& g) {
  return radon_detail::back_project(sinogram, std::make_shared<const ops::RadonGeometry>(g));
}

// The back-projection onto an image of height x width, the geometry made from `options` (which must
// give the sinogram's angle and bin counts).
template <Real T, Device D>
Var<T, D> back_projection(const Var<T, D>& sinogram, int64_t height, int64_t width, const RadonOptions& options = {}) {
  return back_projection(sinogram, ops::radon_geometry(height, width, options));
}

}  // namespace voxnn
