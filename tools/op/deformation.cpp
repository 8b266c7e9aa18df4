// `voxnn op` adapters: the registration layers and deformation utilities of
// include/voxnn/autograd/functions/deformation.hpp (VoxelMorph / MONAI conventions). Names are the
// reference functions' in snake case; `input` is the first tensor argument of each (the image for
// spatial_transformer, the field otherwise).
//   spatial_transformer  input (N, C, *S), flow (N, ndim, *S); mode, padding_mode
//   vec_int              input (N, ndim, *S); nsteps
//   resize_transform     input (N, C, *S); vel_resize (the field is resized by 1 / vel_resize)
//   compose_displacements input = a, other = b: b(x) + a(x + b(x)); mode, padding_mode
//   jacobian_determinant input (N, ndim, *S) -> (N, *S)
//   folding_fraction     input (N, ndim, *S) -> (N,), not differentiable
#include "op/adapter.hpp"
#include "voxnn/autograd/functions/deformation.hpp"

namespace voxnn::tools::op {

void add_deformation_ops(std::vector<OpSpec>& t) {
  t.push_back(make_op("spatial_transformer", {"input", "flow"}, {"mode", "padding_mode"}, [](auto& c) {
    const auto src = c.var("input");
    const auto flow = c.var("flow");
    return spatial_transform(src, flow, arg<std::string>(c, "mode", "bilinear"),
                             arg<std::string>(c, "padding_mode", "zeros"));
  }));
  t.push_back(make_op("vec_int", {"input"}, {"nsteps"}, [](auto& c) {
    return vec_int(c.var("input"), required<int64_t>(c, "nsteps"));
  }));
  t.push_back(make_op("resize_transform", {"input"}, {"vel_resize"}, [](auto& c) {
    const double vel_resize = required<double>(c, "vel_resize");
    if (!(vel_resize > 0) || !std::isfinite(vel_resize))
      c.fail("config 'vel_resize' must be positive and finite, got ", vel_resize);
    return resize_displacement(c.var("input"), 1.0 / vel_resize);
  }));
  t.push_back(make_op("compose_displacements", {"input", "other"}, {"mode", "padding_mode"}, [](auto& c) {
    const auto a = c.var("input");
    const auto b = c.var("other");
    return compose_displacements(a, b, arg<std::string>(c, "mode", "bilinear"),
                                 arg<std::string>(c, "padding_mode", "border"));
  }));
  t.push_back(make_op("jacobian_determinant", {"input"}, {}, [](auto& c) {
    return jacobian_determinant(c.var("input"));
  }));
  t.push_back(make_op("folding_fraction", {"input"}, {}, [](auto& c) {
    using T = real_t<decltype(c)>;
    return Var<T>(folding_fraction(c.buffer("input")));
  }));
}

}  // namespace voxnn::tools::op
