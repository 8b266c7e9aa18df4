#pragma once
// Complex FFTs on tensors stored with a trailing dim of 2 (real, imaginary), as fastMRI's:
//
//   fftn(x, dims, norm)   = torch.view_as_real(torch.fft.fftn(torch.view_as_complex(x), dim=dims, norm=norm))
//   ifftn(x, dims, norm)  likewise with torch.fft.ifftn
//   fft2c(x, norm)        = fastmri.fft2c: ifftshift over real dims (-3, -2), fftn over complex dims
//                           (-2, -1), fftshift over real dims (-3, -2); ifft2c the same with ifftn
//
// dims index the complex tensor (the shape without the trailing 2); negative dims count from its end;
// an empty dims list means every complex dim (torch's dim=None). norm is "backward" (no scaling
// forward, 1/n inverse), "forward" (1/n forward, none inverse) or "ortho" (1/sqrt(n) both ways), n
// being the product of the transformed lengths. The rolls of fft2c are folded into the transform's
// gather and scatter, so it costs one FFT. Kernels: include/voxnn/backend/cpu/fft.hpp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

#include "voxnn/backend/cpu/fft.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/ops/complex.hpp"

namespace voxnn::ops {

enum class FftNorm { backward, forward, ortho };

inline FftNorm parse_fft_norm(std::string_view norm, const char* op) {
  if (norm == "backward") return FftNorm::backward;
  if (norm == "forward") return FftNorm::forward;
  if (norm == "ortho") return FftNorm::ortho;
  voxnn::detail::throw_error(op, ": unknown norm \"", norm, "\"; expected \"backward\", \"forward\" or \"ortho\"");
}

// The norm whose inverse transform is the adjoint of a transform with `norm`: backward <-> forward.
inline std::string_view adjoint_fft_norm(std::string_view norm) {
  if (norm == "backward") return "forward";
  if (norm == "forward") return "backward";
  return norm;
}

namespace fft_detail {

// dims wrapped into [0, complex rank), checked in range and unique; empty means all.
inline std::vector<int> complex_dims(const Shape& shape, const std::vector<int64_t>& dims, const char* op) {
  const int rank = shape.size() - 1;
  std::vector<int> out;
  if (dims.empty()) {
    for (int d = 0; d < rank; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) {
    VOXNN_CHECK(d >= -rank && d < rank, op, ": dim ", d, " out of range for a complex tensor of rank ", rank,
                " (shape ", shape, " with the trailing 2)");
    const int w = static_cast<int>(d < 0 ? d + rank : d);
    VOXNN_CHECK(std::find(out.begin(), out.end(), w) == out.end(), op, ": dim ", d, " repeated in dims for shape ",
                shape, "; FFT dims must be unique");
    out.push_back(w);
  }
  return out;
}

}  // namespace fft_detail

// The transform of x over complex dims (see the header comment); rolls (one per dim of `dims`, may be
// empty) are applied to the input before and to the output after the transform along each dim.
template <class T, class D>
Tensor<T, D> fft_c2c(const Tensor<T, D>& x, const std::vector<int64_t>& dims, bool inverse, std::string_view norm,
                     const char* op, const std::vector<int64_t>& in_shifts = {},
                     const std::vector<int64_t>& out_shifts = {}) {
  static_assert(std::is_same_v<D, Cpu>, "the FFT is implemented on the CPU only");
  check_complex(x.shape(), op, "input");
  const FftNorm mode = parse_fft_norm(norm, op);
  const std::vector<int> cd = fft_detail::complex_dims(x.shape(), dims, op);
  const Shape& shape = x.shape();
  double n = 1;
  for (int d : cd) {
    VOXNN_CHECK(shape[d] > 0, op, ": invalid number of data points (0) along dim ", d, " of input ", shape);
    n *= static_cast<double>(shape[d]);
  }
  Tensor<T, D> out(shape);
  if (out.numel() == 0) return out;
  const Tensor<T, D> src = x.contiguous();
  double scale = 1;
  if (mode == FftNorm::ortho) scale = 1 / std::sqrt(n);
  else if ((mode == FftNorm::backward) == inverse) scale = 1 / n;
  const int rank = shape.size() - 1;
  if (cd.empty()) {  // no dims: a scaled copy
    const T* s = src.data();
    T* o = out.data();
    for (int64_t i = 0; i < out.numel(); ++i) o[i] = static_cast<T>(s[i] * scale);
    return out;
  }
  // One pass per dim, innermost first, the first from x into out and the others in place; the scale
  // rides on the last pass.
  std::vector<std::size_t> order(cd.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return cd[a] > cd[b]; });
  for (std::size_t q = 0; q < order.size(); ++q) {
    const std::size_t k = order[q];
    const int d = cd[k];
    int64_t outer = 1, inner = 1;
    for (int e = 0; e < d; ++e) outer *= shape[e];
    for (int e = d + 1; e < rank; ++e) inner *= shape[e];
    const int64_t len = shape[d];
    const int64_t si = k < in_shifts.size() ? in_shifts[k] : 0, so = k < out_shifts.size() ? out_shifts[k] : 0;
    backend::cpu::fft_axis<T>(q == 0 ? src.data() : out.data(), out.data(), outer, len, inner, inverse,
                              static_cast<T>(q + 1 == order.size() ? scale : 1.0), ((si % len) + len) % len,
                              ((so % len) + len) % len);
  }
  return out;
}

template <class T, class D>
Tensor<T, D> fftn(const Tensor<T, D>& x, const std::vector<int64_t>& dims, std::string_view norm = "backward") {
  return fft_c2c(x, dims, false, norm, "fftn");
}
template <class T, class D>
Tensor<T, D> ifftn(const Tensor<T, D>& x, const std::vector<int64_t>& dims, std::string_view norm = "backward") {
  return fft_c2c(x, dims, true, norm, "ifftn");
}

namespace fft_detail {
template <class T, class D>
Tensor<T, D> centered_fft2(const Tensor<T, D>& x, std::string_view norm, bool inverse, const char* op) {
  check_complex(x.shape(), op, "input", 3, "(..., H, W, 2)");
  const int64_t h = x.size(-3), w = x.size(-2);
  return fft_c2c(x, {-2, -1}, inverse, norm, op, {(h + 1) / 2, (w + 1) / 2}, {h / 2, w / 2});
}
}  // namespace fft_detail

// fastMRI's centred 2-D transforms over real dims (-3, -2) of (..., H, W, 2).
template <class T, class D>
Tensor<T, D> fft2c(const Tensor<T, D>& x, std::string_view norm = "ortho") {
  return fft_detail::centered_fft2(x, norm, false, "fft2c");
}
template <class T, class D>
Tensor<T, D> ifft2c(const Tensor<T, D>& x, std::string_view norm = "ortho") {
  return fft_detail::centered_fft2(x, norm, true, "ifft2c");
}

}  // namespace voxnn::ops
