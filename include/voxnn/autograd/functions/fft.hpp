#pragma once
// Differentiable FFTs on complex tensors stored with a trailing dim of 2 (real, imaginary), and the
// circular shifts around them, as torch.fft and fastMRI's fftc module:
//
//   Var<float> k = fft2c(image);                 // (..., H, W, 2), centred, norm "ortho"
//   Var<float> y = fftn(x, {-3, -2, -1});        // torch.fft.fftn over three complex dims
//   Var<float> s = fftshift(x, {-3, -2});        // real dims, as fastmri.fftshift
//
// fftn / ifftn: dims index the complex tensor (the shape without the trailing 2), negative from its
// end, empty = all; norm "backward" | "forward" | "ortho" as torch.fft. roll / fftshift / ifftshift:
// dims index the tensor as given. Semantics and kernels: include/voxnn/ops/fft.hpp, ops/roll.hpp.
//
// Gradients. On the interleaved real layout fftn with norm n is the real-linear map s * F (F the
// unnormalised DFT, s its scale) whose adjoint is s * conj(F): the inverse transform with the norm
// that puts the same scale on it, i.e. ifftn with "backward" and "forward" swapped ("ortho" stays).
// So fftn's backward is that ifftn and ifftn's backward that fftn; fft2c / ifft2c likewise (their
// rolls are permutations whose adjoints are the opposite rolls, which ifft2c / fft2c apply). Rolls
// differentiate to the opposite roll. Every backward is one of these ops, so all differentiate to
// any order at the cost of one FFT each.
#include <string>
#include <string_view>
#include <vector>

#include "voxnn/autograd/var.hpp"
#include "voxnn/ops/fft.hpp"
#include "voxnn/ops/roll.hpp"

namespace voxnn {

template <Real T, Device D>
Var<T, D> ifftn(const Var<T, D>& x, std::vector<int64_t> dims, std::string_view norm = "backward");
template <Real T, Device D>
Var<T, D> ifft2c(const Var<T, D>& x, std::string_view norm = "ortho");

// torch.fft.fftn over complex dims of x (..., 2).
template <Real T, Device D>
Var<T, D> fftn(const Var<T, D>& x, std::vector<int64_t> dims, std::string_view norm = "backward") {
  const std::string adj(ops::adjoint_fft_norm(norm));
  return autograd::make_result<T, D>(ops::fftn(x.value(), dims, norm), "fftn", {x},
                                     [dims, adj](const auto&, const auto&, const auto& g) {
                                       return std::vector{ifftn(g, dims, adj)};
                                     });
}

// torch.fft.ifftn over complex dims of x (..., 2).
template <Real T, Device D>
Var<T, D> ifftn(const Var<T, D>& x, std::vector<int64_t> dims, std::string_view norm) {
  const std::string adj(ops::adjoint_fft_norm(norm));
  return autograd::make_result<T, D>(ops::ifftn(x.value(), dims, norm), "ifftn", {x},
                                     [dims, adj](const auto&, const auto&, const auto& g) {
                                       return std::vector{fftn(g, dims, adj)};
                                     });
}

// fastmri.fft2c: centred orthonormal (by default) 2-D FFT of (..., H, W, 2).
template <Real T, Device D>
Var<T, D> fft2c(const Var<T, D>& x, std::string_view norm = "ortho") {
  const std::string adj(ops::adjoint_fft_norm(norm));
  return autograd::make_result<T, D>(ops::fft2c(x.value(), norm), "fft2c", {x},
                                     [adj](const auto&, const auto&, const auto& g) {
                                       return std::vector{ifft2c(g, adj)};
                                     });
}

// fastmri.ifft2c: the centred inverse.
template <Real T, Device D>
Var<T, D> ifft2c(const Var<T, D>& x, std::string_view norm) {
  const std::string adj(ops::adjoint_fft_norm(norm));
  return autograd::make_result<T, D>(ops::ifft2c(x.value(), norm), "ifft2c", {x},
                                     [adj](const auto&, const auto&, const auto& g) {
                                       return std::vector{fft2c(g, adj)};
                                     });
}

// torch.roll / fastmri.roll: x rolled by shifts[k] along dims[k] (one shift per dim).
template <Real T, Device D>
Var<T, D> roll(const Var<T, D>& x, std::vector<int64_t> shifts, std::vector<int64_t> dims) {
  Tensor<T, D> y = ops::roll(x.value(), shifts, dims, "roll");
  return autograd::make_result<T, D>(std::move(y), "roll", {x}, [shifts, dims](const auto&, const auto&, const auto& g) {
    std::vector<int64_t> back(shifts.size());
    for (std::size_t k = 0; k < shifts.size(); ++k) back[k] = -shifts[k];
    return std::vector{roll(g, back, dims)};
  });
}

// fastmri.fftshift / ifftshift over dims of the tensor as given (n // 2 and (n + 1) // 2 per dim);
// an empty dims list means every dim (fastMRI's dim=None).
template <Real T, Device D>
Var<T, D> fftshift(const Var<T, D>& x, std::vector<int64_t> dims = {}) {
  std::vector<int64_t> shifts = ops::fftshift_shifts(x.shape(), dims, false, "fftshift");
  return roll(x, std::move(shifts), std::move(dims));
}
template <Real T, Device D>
Var<T, D> ifftshift(const Var<T, D>& x, std::vector<int64_t> dims = {}) {
  std::vector<int64_t> shifts = ops::fftshift_shifts(x.shape(), dims, true, "ifftshift");
  return roll(x, std::move(shifts), std::move(dims));
}

}  // namespace voxnn
