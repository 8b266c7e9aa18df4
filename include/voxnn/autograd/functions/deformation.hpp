#pragma once
// Displacement fields for image registration, in VoxelMorph's conventions (voxelmorph 0.2, torch
// layers) and MONAI's (monai.networks.blocks.Warp / DVF2DDF), differentiable in 2D and 3D:
//
//   spatial_transform(src, flow)          warp src (N, C, *S) by flow (N, ndim, *S), in voxels
//   vec_int(vec, nsteps)                  scaling and squaring of a stationary velocity field
//   resize_displacement(field, factor)    resize a field and scale its vectors (ResizeTransform)
//   compose_displacements(a, b)           the displacement of warping by a, then by b
//   jacobian_determinant(flow)            det of the Jacobian of x -> x + flow(x), per voxel
//   folding_fraction(flow)                fraction of voxels whose determinant is <= 0
//
// Fields. A displacement field `flow` has shape (N, ndim, *S): channel c is the displacement along
// spatial axis c (axis 0 is the first spatial dim, D of (D, H, W)), in voxels. Warping src by flow
// gives, at voxel x, src sampled at x + flow(x) (a pull-back, as voxelmorph and MONAI define it).
//
// spatial_transform, as voxelmorph's SpatialTransformer: the locations p = x + flow(x) are
// normalised per axis c to 2 * (p_c / (n_c - 1) - 0.5), moved to the last dim with the axis order
// reversed (grid_sample wants (x, y[, z]) = (W, H[, D])), and sampled with
// grid_sample(align_corners = true, padding zeros). MONAI's Warp(mode, padding_mode) is the same map
// (it normalises as p * 2 / (n - 1) - 1, equal up to rounding) with its padding as an argument. Every
// spatial size must be at least 2 (the normalisation divides by n - 1).
//
// vec_int: v = vec / 2^nsteps, then nsteps times v = v + spatial_transform(v, v) (VecInt; MONAI's
// DVF2DDF with bilinear / zeros is the same recurrence).
//
// resize_displacement(field, factor), voxelmorph's ResizeTransform(vel_resize) with
// factor = 1 / vel_resize: linear / bilinear / trilinear interpolate (align_corners = true,
// scale_factor = factor, output size floor(n * factor)) and multiply the vectors by factor; for
// factor < 1 interpolate first, for factor > 1 multiply first, factor 1 is the identity. field is
// (N, C, *S) with 1 to 3 spatial dims (C is not checked: voxelmorph does not check it either).
//
// compose_displacements(a, b), voxelmorph's compose([a, b]) for two dense fields: warping an image
// by a and then the result by b is one warp by
//     result(x) = b(x) + a(x + b(x)),
// a sampled at x + b(x) with the locations of spatial_transform. voxelmorph's compose interpolates
// with neurite's interpn, which clamps locations outside the volume to the nearest voxel: that is
// padding "border" here (the default); "zeros" treats a as 0 outside.
//
// jacobian_determinant(flow) -> (N, *S): det(I + grad flow) at each voxel, the spatial derivatives
// taken as numpy.gradient does (and voxelmorph's py/utils.jacobian_determinant with it): central
// differences (f[i+1] - f[i-1]) / 2 inside, one-sided f[1] - f[0] and f[n-1] - f[n-2] at the borders,
// unit spacing; every spatial size must be at least 2. Differentiable (a polynomial in the
// differences): its backward multiplies by the cofactor matrix and applies the adjoint of the
// differences. folding_fraction(flow) -> (N,): per sample, the fraction of voxels with det <= 0
// (not differentiable).
//
// Derivatives. The location map (flow -> normalised grid) and the differences are linear, with their
// adjoints as backward (and the forward as the adjoint's backward), and the determinant's backward is
// the cofactor matrix, built from Var ops under create_graph: jacobian_determinant and
// resize_displacement differentiate to any order, and so does every warp in the warped image (src of
// spatial_transform, a of compose_displacements). Through the sampling locations (the flow of
// spatial_transform, b of compose_displacements, vec_int) second derivatives follow grid_sample's:
// bilinear and nearest give them, bicubic and third derivatives throw voxnn::Error. Nearest sampling
// has a zero derivative in the locations, as in PyTorch.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/functions/grid_sample.hpp"
#include "voxnn/autograd/functions/interpolate.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/core/device.hpp"
#include "voxnn/core/parallel.hpp"

namespace voxnn {

namespace deformation_detail {

// The layout of a field (N, ndim, *S): spatial sizes padded with 1 to three dims.
struct FieldGeometry {
  int64_t batch = 0;
  int ndim = 0;
  std::array<int64_t, 3> size{1, 1, 1};
  int64_t volume = 1;
};

// Checks that `shape` is a displacement field (N, ndim, *S) with ndim = 2 or 3 spatial dims, each of
// size >= 2; `what` names the argument in messages.
inline FieldGeometry field_geometry(const Shape& shape, const char* op, const char* what) {
  const int rank = shape.size();
  VOXNN_CHECK(rank == 4 || rank == 5, op, ": ", what, " has shape ", shape,
              "; expected a displacement field [N, 2, H, W] or [N, 3, D, H, W]");
  FieldGeometry g;
  g.batch = shape[0];
  g.ndim = rank - 2;
  VOXNN_CHECK(shape[1] == g.ndim, op, ": ", what, " has shape ", shape, "; expected ", g.ndim,
              " channels (one displacement per spatial dim) in dim 1, as in ",
              g.ndim == 2 ? "[N, 2, H, W]" : "[N, 3, D, H, W]");
  for (int i = 0; i < g.ndim; ++i) {
    VOXNN_CHECK(shape[2 + i] >= 2, op, ": ", what, " has shape ", shape,
                "; every spatial size must be at least 2");
    g.size[static_cast<std::size_t>(i)] = shape[2 + i];
    g.volume *= shape[2 + i];
  }
  return g;
}

inline void check_mode(const std::string& mode, const std::string& padding_mode, int ndim, const char* op) {
  VOXNN_CHECK(mode == "bilinear" || mode == "nearest" || (mode == "bicubic" && ndim == 2), op,
              ": unsupported mode '", mode, "' for a ", ndim,
              "D field; expected bilinear, nearest or (2D only) bicubic (bilinear is trilinear on volumes, as in "
              "grid_sample)");
  VOXNN_CHECK(padding_mode == "zeros" || padding_mode == "border" || padding_mode == "reflection", op,
              ": unsupported padding_mode '", padding_mode, "'; expected zeros, border or reflection");
}

// ---- sampling locations ---------------------------------------------------------------------------
// flow (N, ndim, *S) -> grid (N, *S, ndim) for grid_sample: entry k is spatial axis c = ndim - 1 - k,
//   offset:  2 * ((x_c + flow_c(x)) / (n_c - 1) - 0.5), x_c from `mesh` (1, ndim, *S) when defined
//            (a module's grid buffer) or the voxel index;
//   linear:  flow_c(x) * 2 / (n_c - 1), the derivative of the above.
template <class T, class D>
Tensor<T, D> locations_kernel(const Tensor<T, D>& flow_in, const Tensor<T, D>& mesh_in, bool offset) {
  require_cpu<D>();
  const FieldGeometry g = field_geometry(flow_in.shape(), "spatial_transform", "flow");
  const Tensor<T, D> flow = flow_in.contiguous();
  const Tensor<T, D> mesh = mesh_in.defined() ? mesh_in.contiguous() : Tensor<T, D>();
  Shape out_shape;
  out_shape.push_back(g.batch);
  for (int i = 0; i < g.ndim; ++i) out_shape.push_back(g.size[static_cast<std::size_t>(i)]);
  out_shape.push_back(g.ndim);
  Tensor<T, D> out = empty<T, D>(out_shape);
  const int nd = g.ndim;
  const int64_t V = g.volume, S0 = g.size[0], S1 = g.size[1], S2 = g.size[2];
  const T* f = flow.data();
  const T* m = mesh.defined() ? mesh.data() : nullptr;
  T* o = out.data();
  std::array<T, 3> denom{};
  for (int c = 0; c < nd; ++c) denom[static_cast<std::size_t>(c)] = static_cast<T>(g.size[static_cast<std::size_t>(c)] - 1);
  parallel_for(0, g.batch * S0, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, (V / S0) * nd)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t p = begin; p < end; ++p) {
                   const int64_t n = p / S0, i0 = p % S0;
                   const T* fn = f + n * nd * V;
                   for (int64_t i1 = 0; i1 < S1; ++i1)
                     for (int64_t i2 = 0; i2 < S2; ++i2) {
                       const int64_t v = (i0 * S1 + i1) * S2 + i2;
                       const std::array<int64_t, 3> idx{i0, i1, i2};
                       T* ov = o + (n * V + v) * nd;
                       for (int k = 0; k < nd; ++k) {
                         const int c = nd - 1 - k;
                         const T d = fn[c * V + v];
                         if (offset) {
                           const T x = m ? m[c * V + v] : static_cast<T>(idx[static_cast<std::size_t>(c)]);
                           ov[k] = T(2) * ((x + d) / denom[static_cast<std::size_t>(c)] - T(0.5));
                         } else {
                           ov[k] = d * T(2) / denom[static_cast<std::size_t>(c)];
                         }
                       }
                     }
                 }
               });
  return out;
}

// The adjoint of the linear part: grid gradient (N, *S, ndim) -> flow gradient (N, ndim, *S).
template <class T, class D>
Tensor<T, D> locations_adjoint_kernel(const Tensor<T, D>& grad_in, const Shape& flow_shape) {
  require_cpu<D>();
  const FieldGeometry g = field_geometry(flow_shape, "spatial_transform", "flow");
  const Tensor<T, D> grad = grad_in.contiguous();
  Tensor<T, D> out = empty<T, D>(flow_shape);
  const int nd = g.ndim;
  const int64_t V = g.volume;
  const T* gi = grad.data();
  T* o = out.data();
  parallel_for(0, g.batch * nd, std::max<int64_t>(1, kParallelGrain / V), [&](int64_t begin, int64_t end) {
    for (int64_t q = begin; q < end; ++q) {
      const int64_t n = q / nd;
      const int c = static_cast<int>(q % nd), k = nd - 1 - c;
      const T denom = static_cast<T>(g.size[static_cast<std::size_t>(c)] - 1);
      const T* src = gi + n * V * nd + k;
      T* dst = o + q * V;
      for (int64_t v = 0; v < V; ++v) dst[v] = src[v * nd] * T(2) / denom;
    }
  });
  return out;
}

template <class T, class D>
Var<T, D> locations_adjoint(const Var<T, D>& grad, const Shape& flow_shape);

// flow -> sampling grid as a Var; `offset` false is the linear part (used by double backward).
template <class T, class D>
Var<T, D> locations(const Var<T, D>& flow, const Tensor<T, D>& mesh, bool offset) {
  return autograd::make_result<T, D>(locations_kernel(flow.value(), mesh, offset), "spatial_transform_locations",
                                     {flow}, [](const auto& in, const auto&, const auto& g) {
                                       return std::vector{locations_adjoint(g, in[0].shape())};
                                     });
}
template <class T, class D>
Var<T, D> locations_adjoint(const Var<T, D>& grad, const Shape& flow_shape) {
  return autograd::make_result<T, D>(locations_adjoint_kernel(grad.value(), flow_shape),
                                     "spatial_transform_locations_adjoint", {grad},
                                     [](const auto&, const auto&, const auto& g) {
                                       return std::vector{locations(g, Tensor<T, D>(), false)};
                                     });
}

// The spatial sizes *S of a (N, C, *S) shape.
inline std::vector<int64_t> spatial_of(const Shape& s) { return std::vector<int64_t>(s.begin() + 2, s.end()); }

// spatial_transform with an optional mesh (a module's grid buffer, (1, ndim, *S)).
template <class T, class D>
Var<T, D> spatial_transform_impl(const Var<T, D>& src, const Var<T, D>& flow, const Tensor<T, D>& mesh,
                                 const std::string& mode, const std::string& padding_mode, const char* op) {
  const FieldGeometry g = field_geometry(flow.shape(), op, "flow");
  check_mode(mode, padding_mode, g.ndim, op);
  VOXNN_CHECK(src.dim() == flow.dim() && src.shape()[0] == flow.shape()[0] &&
                  spatial_of(src.shape()) == spatial_of(flow.shape()),
              op, ": src has shape ", src.shape(), " and flow ", flow.shape(), "; expected src [N, C, *S] with the N (",
              g.batch, ") and spatial size of flow [N, ", g.ndim, ", *S]");
  if (mesh.defined()) {
    Shape want = flow.shape();
    want[0] = 1;
    VOXNN_CHECK(mesh.shape() == want, op, ": grid has shape ", mesh.shape(), "; expected ", want, " for flow ",
                flow.shape());
  }
  const Var<T, D> grid = locations(flow, mesh, true);
  return grid_sample(src, grid, GridSampleOptions{.mode = mode, .padding_mode = padding_mode, .align_corners = true});
}

// ---- the Jacobian ---------------------------------------------------------------------------------

// numpy.gradient along the middle axis of a (outer, n, inner) block: out = G f (n >= 2).
template <class T>
void axis_gradient(const T* f, T* out, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o) {
    const T* fo = f + o * n * inner;
    T* oo = out + o * n * inner;
    if (inner == 1) {
      oo[0] = fo[1] - fo[0];
      for (int64_t j = 1; j + 1 < n; ++j) oo[j] = (fo[j + 1] - fo[j - 1]) * T(0.5);
      oo[n - 1] = fo[n - 1] - fo[n - 2];
      continue;
    }
    for (int64_t k = 0; k < inner; ++k) oo[k] = fo[inner + k] - fo[k];
    for (int64_t j = 1; j + 1 < n; ++j) {
      const T* up = fo + (j + 1) * inner;
      const T* down = fo + (j - 1) * inner;
      T* dst = oo + j * inner;
      for (int64_t k = 0; k < inner; ++k) dst[k] = (up[k] - down[k]) * T(0.5);
    }
    const T* last = fo + (n - 1) * inner;
    const T* before = fo + (n - 2) * inner;
    T* dst = oo + (n - 1) * inner;
    for (int64_t k = 0; k < inner; ++k) dst[k] = last[k] - before[k];
  }
}

// x += G^T y along the middle axis of a (outer, n, inner) block.
template <class T>
void axis_gradient_adjoint_add(const T* y, T* x, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o) {
    const T* yo = y + o * n * inner;
    T* xo = x + o * n * inner;
    if (inner == 1) {  // a contiguous row: x[k] collects its rows k - 1 and k + 1
      xo[0] -= yo[0];
      xo[1] += yo[0];
      for (int64_t k = 1; k + 1 < n; ++k) {
        const T h = yo[k] * T(0.5);
        xo[k + 1] += h;
        xo[k - 1] -= h;
      }
      xo[n - 1] += yo[n - 1];
      xo[n - 2] -= yo[n - 1];
      continue;
    }
    for (int64_t k = 0; k < inner; ++k) {  // row 0: f[1] - f[0]
      xo[k] -= yo[k];
      xo[inner + k] += yo[k];
    }
    for (int64_t j = 1; j + 1 < n; ++j) {  // row j: (f[j+1] - f[j-1]) / 2
      const T* yj = yo + j * inner;
      T* up = xo + (j + 1) * inner;
      T* down = xo + (j - 1) * inner;
      for (int64_t k = 0; k < inner; ++k) {
        const T h = yj[k] * T(0.5);
        up[k] += h;
        down[k] -= h;
      }
    }
    const T* yl = yo + (n - 1) * inner;  // row n-1: f[n-1] - f[n-2]
    T* last = xo + (n - 1) * inner;
    T* before = xo + (n - 2) * inner;
    for (int64_t k = 0; k < inner; ++k) {
      last[k] += yl[k];
      before[k] -= yl[k];
    }
  }
}

// body(i) for i in [0, items), handed out dynamically when the items (of `work` elements each) are
// worth a thread, serially otherwise.
template <class Body>
void for_each_item(int64_t items, int64_t work, Body&& body) {
  if (items * work < kParallelGrain) {
    for (int64_t i = 0; i < items; ++i) body(i);
    return;
  }
  parallel_for_each_dynamic(0, items, body);
}

// (outer, n, inner) of spatial axis i in a volume of sizes g.size.
inline std::array<int64_t, 3> axis_block(const FieldGeometry& g, int i) {
  int64_t outer = 1, inner = 1;
  for (int a = 0; a < i; ++a) outer *= g.size[static_cast<std::size_t>(a)];
  for (int a = i + 1; a < g.ndim; ++a) inner *= g.size[static_cast<std::size_t>(a)];
  return {outer, g.size[static_cast<std::size_t>(i)], inner};
}

inline Shape gradient_shape(const FieldGeometry& g) {
  Shape s;
  s.push_back(g.batch);
  s.push_back(g.ndim);
  s.push_back(g.ndim);
  for (int i = 0; i < g.ndim; ++i) s.push_back(g.size[static_cast<std::size_t>(i)]);
  return s;
}

// flow (N, ndim, *S) -> J (N, ndim, ndim, *S), J[n, i, c] = d flow[n, c] / d axis i.
template <class T, class D>
Tensor<T, D> flow_gradient_kernel(const Tensor<T, D>& flow_in, const char* op) {
  require_cpu<D>();
  const FieldGeometry g = field_geometry(flow_in.shape(), op, "flow");
  const Tensor<T, D> flow = flow_in.contiguous();
  Tensor<T, D> out = empty<T, D>(gradient_shape(g));
  const int nd = g.ndim;
  const int64_t V = g.volume;
  const T* f = flow.data();
  T* o = out.data();
  for_each_item(g.batch * nd * nd, V, [&](int64_t q) {
    const int64_t n = q / (nd * nd);
    const int i = static_cast<int>((q / nd) % nd), c = static_cast<int>(q % nd);
    const auto [outer, len, inner] = axis_block(g, i);
    axis_gradient(f + (n * nd + c) * V, o + q * V, outer, len, inner);
  });
  return out;
}

// The adjoint: G (N, ndim, ndim, *S) -> (N, ndim, *S), out[n, c] = sum_i grad_i^T G[n, i, c].
template <class T, class D>
Tensor<T, D> flow_gradient_adjoint_kernel(const Tensor<T, D>& grad_in, const Shape& flow_shape, const char* op) {
  require_cpu<D>();
  const FieldGeometry g = field_geometry(flow_shape, op, "flow");
  const Tensor<T, D> grad = grad_in.contiguous();
  Tensor<T, D> out = zeros<T, D>(flow_shape);
  const int nd = g.ndim;
  const int64_t V = g.volume;
  const T* gi = grad.data();
  T* o = out.data();
  for_each_item(g.batch * nd, nd * V, [&](int64_t q) {
    const int64_t n = q / nd;
    const int c = static_cast<int>(q % nd);
    for (int i = 0; i < nd; ++i) {
      const auto [outer, len, inner] = axis_block(g, i);
      axis_gradient_adjoint_add(gi + ((n * nd + i) * nd + c) * V, o + q * V, outer, len, inner);
    }
  });
  return out;
}

template <class T, class D>
Var<T, D> flow_gradient_adjoint(const Var<T, D>& grad, const Shape& flow_shape);

template <class T, class D>
Var<T, D> flow_gradient(const Var<T, D>& flow) {
  return autograd::make_result<T, D>(flow_gradient_kernel(flow.value(), "jacobian_determinant"), "flow_gradient",
                                     {flow}, [](const auto& in, const auto&, const auto& g) {
                                       return std::vector{flow_gradient_adjoint(g, in[0].shape())};
                                     });
}
template <class T, class D>
Var<T, D> flow_gradient_adjoint(const Var<T, D>& grad, const Shape& flow_shape) {
  return autograd::make_result<T, D>(flow_gradient_adjoint_kernel(grad.value(), flow_shape, "jacobian_determinant"),
                                     "flow_gradient_adjoint", {grad}, [](const auto&, const auto&, const auto& g) {
                                       return std::vector{flow_gradient(g)};
                                     });
}

// det(I + J) per voxel for J (N, nd, nd, *S) -> (N, *S).
template <class T, class D>
Tensor<T, D> determinant_kernel(const Tensor<T, D>& jac_in, int nd) {
  require_cpu<D>();
  const Tensor<T, D> jac = jac_in.contiguous();
  const Shape& s = jac.shape();
  Shape out_shape;
  out_shape.push_back(s[0]);
  for (int i = 3; i < s.size(); ++i) out_shape.push_back(s[i]);
  Tensor<T, D> out = empty<T, D>(out_shape);
  const int64_t N = s[0], V = out_shape.numel() / std::max<int64_t>(1, N);
  const T* j = jac.data();
  T* o = out.data();
  parallel_for(0, N * V, kParallelGrain / 16, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t n = p / V, v = p % V;
      const T* jn = j + n * nd * nd * V + v;
      auto m = [&](int i, int c) { return jn[(i * nd + c) * V] + (i == c ? T(1) : T(0)); };
      if (nd == 2) {
        o[p] = m(0, 0) * m(1, 1) - m(1, 0) * m(0, 1);
      } else {
        o[p] = m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1)) - m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0)) +
               m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0));
      }
    }
  });
  return out;
}

// g (N, *S) times the cofactor matrix of I + J: the gradient of det(I + J) in J.
template <class T, class D>
Tensor<T, D> determinant_backward_kernel(const Tensor<T, D>& jac_in, const Tensor<T, D>& grad_in, int nd) {
  require_cpu<D>();
  const Tensor<T, D> jac = jac_in.contiguous();
  const Tensor<T, D> grad = grad_in.contiguous();
  Tensor<T, D> out = empty<T, D>(jac.shape());
  const int64_t N = jac.shape()[0], V = grad.numel() / std::max<int64_t>(1, N);
  const T* j = jac.data();
  const T* gi = grad.data();
  T* o = out.data();
  parallel_for(0, N * V, kParallelGrain / 32, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t n = p / V, v = p % V;
      const T* jn = j + n * nd * nd * V + v;
      T* on = o + n * nd * nd * V + v;
      const T gv = gi[p];
      auto m = [&](int i, int c) { return jn[(i * nd + c) * V] + (i == c ? T(1) : T(0)); };
      if (nd == 2) {
        on[0] = gv * m(1, 1);
        on[V] = -gv * m(1, 0);
        on[2 * V] = -gv * m(0, 1);
        on[3 * V] = gv * m(0, 0);
      } else {
        const T a = m(0, 0), b = m(0, 1), e = m(0, 2), d = m(1, 0), f = m(1, 1), h = m(1, 2), k = m(2, 0),
                l = m(2, 1), q = m(2, 2);
        on[0] = gv * (f * q - h * l);
        on[V] = gv * (h * k - d * q);
        on[2 * V] = gv * (d * l - f * k);
        on[3 * V] = gv * (e * l - b * q);
        on[4 * V] = gv * (a * q - e * k);
        on[5 * V] = gv * (b * k - a * l);
        on[6 * V] = gv * (b * h - e * f);
        on[7 * V] = gv * (e * d - a * h);
        on[8 * V] = gv * (a * f - b * d);
      }
    }
  });
  return out;
}

// The cofactor matrix of I + J as Vars (N, nd, nd, *S), for create_graph.
template <class T, class D>
Var<T, D> cofactor_var(const Var<T, D>& jac, int nd) {
  auto m = [&](int i, int c) {
    const Var<T, D> e = select(select(jac, 1, i), 1, c);
    return i == c ? add(e, T(1)) : e;
  };
  std::vector<Var<T, D>> rows;
  for (int i = 0; i < nd; ++i) {
    std::vector<Var<T, D>> row;
    for (int c = 0; c < nd; ++c) {
      if (nd == 2) {
        row.push_back(i == c ? m(1 - i, 1 - c) : neg(m(1 - i, 1 - c)));
      } else {
        const int i1 = (i + 1) % 3, i2 = (i + 2) % 3, c1 = (c + 1) % 3, c2 = (c + 2) % 3;
        row.push_back(sub(mul(m(i1, c1), m(i2, c2)), mul(m(i1, c2), m(i2, c1))));
      }
    }
    rows.push_back(stack(row, 1));
  }
  return stack(rows, 1);
}

// det(I + J) for J (N, nd, nd, *S) -> (N, *S).
template <class T, class D>
Var<T, D> determinant_of_identity_plus(const Var<T, D>& jac, int nd) {
  return autograd::make_result<T, D>(
      determinant_kernel(jac.value(), nd), "jacobian_determinant", {jac},
      [nd](const auto& in, const auto&, const auto& g) {
        if (!GradMode::enabled()) return std::vector{constant(determinant_backward_kernel(in[0].value(), g.value(), nd))};
        return std::vector{mul(unsqueeze(unsqueeze(g, 1), 1), cofactor_var(in[0], nd))};
      });
}

}  // namespace deformation_detail

// ---- public functions -----------------------------------------------------------------------------

// Warps src (N, C, *S) by the displacement field flow (N, ndim, *S) in voxels (VoxelMorph's
// SpatialTransformer; MONAI's Warp). mode: bilinear (trilinear on volumes), nearest, or bicubic (2D);
// padding_mode: zeros (VoxelMorph), border or reflection (MONAI's Warp takes any).
template <Real T, Device D>
Var<T, D> spatial_transform(const Var<T, D>& src, const Var<T, D>& flow, const std::string& mode = "bilinear",
                            const std::string& padding_mode = "zeros") {
  return deformation_detail::spatial_transform_impl(src, flow, Tensor<T, D>(), mode, padding_mode,
                                                    "spatial_transform");
}

// Integrates a stationary velocity field (N, ndim, *S) by scaling and squaring in nsteps >= 0 steps
// (VoxelMorph's VecInt; MONAI's DVF2DDF). `mesh` is an optional identity grid (1, ndim, *S).
template <Real T, Device D>
Var<T, D> vec_int(const Var<T, D>& vec, int64_t nsteps, const Tensor<T, D>& mesh = {}) {
  deformation_detail::field_geometry(vec.shape(), "vec_int", "vec");
  VOXNN_CHECK(nsteps >= 0 && nsteps < 64, "vec_int: nsteps must be in [0, 64), got ", nsteps);
  Var<T, D> v = mul(vec, static_cast<T>(1.0 / std::ldexp(1.0, static_cast<int>(nsteps))));
  for (int64_t s = 0; s < nsteps; ++s)
    v = add(v, deformation_detail::spatial_transform_impl(v, v, mesh, "bilinear", "zeros", "vec_int"));
  return v;
}

// Resizes a displacement field (N, C, *S), 1 to 3 spatial dims, by `factor` and scales its vectors by
// the same factor (VoxelMorph's ResizeTransform with vel_resize = 1 / factor).
template <Real T, Device D>
Var<T, D> resize_displacement(const Var<T, D>& field, double factor) {
  VOXNN_CHECK(field.dim() >= 3 && field.dim() <= 5, "resize_displacement: field has shape ", field.shape(),
              "; expected [N, C, *S] with 1 to 3 spatial dims");
  VOXNN_CHECK(factor > 0 && std::isfinite(factor), "resize_displacement: factor must be positive and finite, got ",
              factor);
  if (factor == 1.0) return field;
  const int spatial = field.dim() - 2;
  InterpolateOptions o;
  o.scale_factor = factor;
  o.mode = spatial == 1 ? "linear" : spatial == 2 ? "bilinear" : "trilinear";
  o.align_corners = true;
  const T f = static_cast<T>(factor);
  if (factor < 1) return mul(interpolate(field, o), f);
  return interpolate(mul(field, f), o);
}

// The displacement of warping by a, then by b: b(x) + a(x + b(x)) (voxelmorph's compose([a, b]));
// a and b are (N, ndim, *S). padding_mode "border" is voxelmorph's (locations clamped to the volume).
template <Real T, Device D>
Var<T, D> compose_displacements(const Var<T, D>& a, const Var<T, D>& b, const std::string& mode = "bilinear",
                                const std::string& padding_mode = "border") {
  deformation_detail::field_geometry(a.shape(), "compose_displacements", "a");
  deformation_detail::field_geometry(b.shape(), "compose_displacements", "b");
  VOXNN_CHECK(a.shape() == b.shape(), "compose_displacements: a has shape ", a.shape(), " and b ", b.shape(),
              "; the two fields must have the same shape");
  return add(b, deformation_detail::spatial_transform_impl(a, b, Tensor<T, D>(), mode, padding_mode,
                                                           "compose_displacements"));
}

// det(I + grad flow) per voxel, (N, ndim, *S) -> (N, *S), with numpy.gradient's differences (as
// voxelmorph's jacobian_determinant).
template <Real T, Device D>
Var<T, D> jacobian_determinant(const Var<T, D>& flow) {
  const auto g = deformation_detail::field_geometry(flow.shape(), "jacobian_determinant", "flow");
  return deformation_detail::determinant_of_identity_plus(deformation_detail::flow_gradient(flow), g.ndim);
}

// Per sample, the fraction of voxels whose Jacobian determinant is <= 0: (N, ndim, *S) -> (N,).
template <Real T, Device D>
Tensor<T, D> folding_fraction(const Tensor<T, D>& flow) {
  const auto g = deformation_detail::field_geometry(flow.shape(), "folding_fraction", "flow");
  const Tensor<T, D> det =
      deformation_detail::determinant_kernel(deformation_detail::flow_gradient_kernel(flow, "folding_fraction"), g.ndim);
  Tensor<T, D> out = empty<T, D>(Shape{g.batch});
  const T* d = det.data();
  for (int64_t n = 0; n < g.batch; ++n) {
    int64_t folded = 0;
    for (int64_t v = 0; v < g.volume; ++v) folded += d[n * g.volume + v] <= T(0) ? 1 : 0;
    out.data()[n] = static_cast<T>(static_cast<double>(folded) / static_cast<double>(g.volume));
  }
  return out;
}
template <Real T, Device D>
Tensor<T, D> folding_fraction(const Var<T, D>& flow) {
  return folding_fraction(flow.value());
}

}  // namespace voxnn
