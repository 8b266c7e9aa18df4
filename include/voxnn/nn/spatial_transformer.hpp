#pragma once
// VoxelMorph's registration layers (voxelmorph 0.2, torch backend) as modules, with its names:
//
//   nn::SpatialTransformer<float> warp({.size = {160, 192, 224}});      // warp(src, flow)
//   nn::VecInt<float> integrate({.inshape = {80, 96, 112}, .nsteps = 7}); // integrate(velocity)
//   nn::ResizeTransform<float> resize({.vel_resize = 2, .ndims = 3});      // resize(flow)
//
// The semantics are those of the functions in include/voxnn/autograd/functions/deformation.hpp.
//
// State. voxelmorph registers SpatialTransformer's identity grid with register_buffer('grid', ...):
// a (1, ndim, *size) tensor with grid[0, c, x] = x_c (float32 there), saved in its state dict as
// `grid` (`transformer.grid` inside VecInt). Here it is a derived buffer (nn::BufferKind::derived):
// state_dict() has it under the same name, and load_state_dict() loads it when present and accepts
// a state dict without it, since it follows from `size`. The forward reads the buffer, as voxelmorph
// does, so a loaded grid is used as loaded. ResizeTransform has no state.
#include <string>
#include <vector>

#include "voxnn/autograd/functions/deformation.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/ops/interpolate.hpp"  // ops::detail::dim_values_text

namespace voxnn::nn {

struct SpatialTransformerOptions {
  std::vector<int64_t> size;        // spatial size (H, W) or (D, H, W) of the fields it warps by
  std::string mode = "bilinear";    // bilinear (trilinear on volumes), nearest or bicubic (2D)
};

struct VecIntOptions {
  std::vector<int64_t> inshape;     // spatial size of the velocity field
  int64_t nsteps = 7;               // scaling and squaring steps (VxmDense's int_steps default)
};

struct ResizeTransformOptions {
  double vel_resize = 1.0;          // the field is resized by 1 / vel_resize
  int64_t ndims = 3;                // spatial dims of the field (1, 2 or 3)
};

template <Real T, Device D = Cpu>
class SpatialTransformer : public ModuleWithOptions<T, D, SpatialTransformerOptions> {
  using Base = ModuleWithOptions<T, D, SpatialTransformerOptions>;

 public:
  Tensor<T, D> grid;  // (1, ndim, *size), the voxel coordinates

  explicit SpatialTransformer(const SpatialTransformerOptions& o) : SpatialTransformer(nullptr, "", o) {}
  SpatialTransformer(Module<T, D>* parent, std::string name, const SpatialTransformerOptions& o)
      : Base(parent, std::move(name), o) {
    const int nd = static_cast<int>(o.size.size());
    VOXNN_CHECK(nd == 2 || nd == 3, "SpatialTransformer: size has ", nd, " dims (",
                ops::detail::dim_values_text(o.size), "); expected 2 (H, W) or 3 (D, H, W)");
    for (int64_t s : o.size)
      VOXNN_CHECK(s >= 2, "SpatialTransformer: size ", ops::detail::dim_values_text(o.size),
                  " must be at least 2 in every dim");
    deformation_detail::check_mode(o.mode, "zeros", nd, "SpatialTransformer");
    this->register_buffer("grid", &grid, identity_grid(o.size), BufferKind::derived);
  }

  // Warps src (N, C, *size) by flow (N, ndim, *size).
  Var<T, D> forward(const Var<T, D>& src, const Var<T, D>& flow) {
    const std::vector<int64_t>& size = this->options.size;
    VOXNN_CHECK(flow.dim() == static_cast<int>(size.size()) + 2 &&
                    deformation_detail::spatial_of(flow.shape()) == size,
                "SpatialTransformer: flow has shape ", flow.shape(), "; expected [N, ", size.size(), ", ",
                ops::detail::dim_values_text(size), "] for size ", ops::detail::dim_values_text(size));
    return deformation_detail::spatial_transform_impl(src, flow, grid, this->options.mode, "zeros",
                                                      "SpatialTransformer");
  }
  Var<T, D> operator()(const Var<T, D>& src, const Var<T, D>& flow) { return forward(src, flow); }
  using Module<T, D>::forward;  // the single-input forward, which throws: a warp takes two inputs
  std::string type_name() const override { return "SpatialTransformer"; }

  // (1, ndim, *size) with entry [0, c, x] = x_c.
  static Tensor<T, D> identity_grid(const std::vector<int64_t>& size) {
    Shape shape;
    shape.push_back(1);
    shape.push_back(static_cast<int64_t>(size.size()));
    for (int64_t s : size) shape.push_back(s);
    Tensor<T, D> g = empty<T, D>(shape);
    const int nd = static_cast<int>(size.size());
    const int64_t volume = shape.numel() / nd;
    T* p = g.data();
    for (int c = 0; c < nd; ++c) {
      int64_t inner = 1;
      for (int a = c + 1; a < nd; ++a) inner *= size[static_cast<std::size_t>(a)];
      const int64_t n = size[static_cast<std::size_t>(c)];
      for (int64_t v = 0; v < volume; ++v) p[c * volume + v] = static_cast<T>((v / inner) % n);
    }
    return g;
  }
};

template <Real T, Device D = Cpu>
class VecInt : public ModuleWithOptions<T, D, VecIntOptions> {
  using Base = ModuleWithOptions<T, D, VecIntOptions>;

 public:
  SpatialTransformer<T, D> transformer;

  explicit VecInt(const VecIntOptions& o) : VecInt(nullptr, "", o) {}
  VecInt(Module<T, D>* parent, std::string name, const VecIntOptions& o)
      : Base(parent, std::move(name), checked(o)), transformer(this, "transformer", {.size = o.inshape}) {}

  Var<T, D> forward(const Var<T, D>& vec) override {
    const std::vector<int64_t>& size = this->options.inshape;
    VOXNN_CHECK(vec.dim() == static_cast<int>(size.size()) + 2 && deformation_detail::spatial_of(vec.shape()) == size,
                "VecInt: vec has shape ", vec.shape(), "; expected [N, ", size.size(), ", ",
                ops::detail::dim_values_text(size), "] for inshape ", ops::detail::dim_values_text(size));
    return vec_int(vec, this->options.nsteps, transformer.grid);
  }
  std::string type_name() const override { return "VecInt"; }

 private:
  static const VecIntOptions& checked(const VecIntOptions& o) {
    VOXNN_CHECK(o.nsteps >= 0 && o.nsteps < 64, "VecInt: nsteps must be in [0, 64), got ", o.nsteps);
    return o;
  }
};

template <Real T, Device D = Cpu>
class ResizeTransform : public ModuleWithOptions<T, D, ResizeTransformOptions> {
  using Base = ModuleWithOptions<T, D, ResizeTransformOptions>;

 public:
  explicit ResizeTransform(const ResizeTransformOptions& o) : ResizeTransform(nullptr, "", o) {}
  ResizeTransform(Module<T, D>* parent, std::string name, const ResizeTransformOptions& o)
      : Base(parent, std::move(name), o) {
    VOXNN_CHECK(o.vel_resize > 0 && std::isfinite(o.vel_resize), "ResizeTransform: vel_resize must be positive and finite, got ",
                o.vel_resize);
    VOXNN_CHECK(o.ndims >= 1 && o.ndims <= 3, "ResizeTransform: ndims must be 1, 2 or 3, got ", o.ndims);
  }

  // The factor the field is resized and scaled by: 1 / vel_resize.
  double factor() const { return 1.0 / this->options.vel_resize; }

  Var<T, D> forward(const Var<T, D>& x) override {
    VOXNN_CHECK(x.dim() == this->options.ndims + 2, "ResizeTransform: input has shape ", x.shape(), "; expected ",
                this->options.ndims + 2, " dims (N, C and ndims = ", this->options.ndims, " spatial dims)");
    return resize_displacement(x, factor());
  }
  std::string type_name() const override { return "ResizeTransform"; }
};

}  // namespace voxnn::nn
