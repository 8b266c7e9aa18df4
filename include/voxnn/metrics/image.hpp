#pragma once
// Image-quality metrics for reconstruction and denoising, as fastMRI evaluates them
// (facebookresearch/fastMRI@91f2df4 fastmri/evaluate.py, = fastmri 0.3.0: mse, nmse, psnr, ssim), with
// scikit-image's structural_similarity underneath, and MONAI's per-sample regression metrics
// (monai/metrics/regression.py: MSEMetric, MAEMetric, RMSEMetric, PSNRMetric):
//
//   double s = metrics::ssim(gt, pred);               // fastMRI: (slices, H, W), data_range = gt.max()
//   double p = metrics::psnr(gt, pred);               // fastMRI: 10 log10(data_range^2 / mse)
//   double e = metrics::nmse(gt, pred);               // ||gt - pred||^2 / ||gt||^2
//   double v = metrics::ssim3d(gt, pred);             // one volume, 7x7x7 window
//   Tensor<double> q = metrics::psnr_per_sample(gt, pred, 1.0);   // MONAI PSNRMetric: (N, 1)
//
// Argument order is fastMRI's (ground truth first) everywhere in this header; only ssim, psnr and nmse
// depend on it. Everything is computed in double whatever T is (scikit-image computes float32 input in
// float32, so float results agree to float32 precision). Evaluation only: no gradients.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn::metrics {

// scikit-image structural_similarity's options (fastMRI uses the defaults).
struct SsimOptions {
  std::optional<int64_t> win_size{};  // odd; default 7, or 2 * int(3.5 sigma + 0.5) + 1 with gaussian_weights
  double k1 = 0.01;
  double k2 = 0.03;
  std::optional<double> data_range{};  // ssim / ssim3d default: gt.max(); structural_similarity requires it
  bool gaussian_weights = false;     // a Gaussian window of width sigma (truncated at 3.5 sigma) instead of uniform
  double sigma = 1.5;
  bool use_sample_covariance = true;  // N / (N - 1) with N = win_size^dims, as scikit-image
};

namespace detail {

inline void check_pair(const Shape& gt, const Shape& pred, const char* op) {
  VOXNN_CHECK(gt.size() >= 1 && gt == pred, op, ": gt of shape ", gt, " and pred of shape ", pred,
              " differ (the shapes must match)");
}

template <Real T>
std::vector<double> to_doubles(const Tensor<T>& x) {
  const Tensor<T> c = x.contiguous();
  return std::vector<double>(c.data(), c.data() + c.numel());
}

// The normalised window of one axis: uniform, or scipy.ndimage's Gaussian (exp(-x^2 / 2 sigma^2) over
// [-r, r], r = int(3.5 sigma + 0.5), divided by its sum).
inline std::vector<double> ssim_window(const SsimOptions& o, const char* op) {
  VOXNN_CHECK(o.k1 >= 0 && o.k2 >= 0, op, ": k1 and k2 must be non-negative, got ", o.k1, " and ", o.k2);
  if (o.gaussian_weights) {
    VOXNN_CHECK(o.sigma > 0, op, ": sigma must be positive, got ", o.sigma);
    const auto r = static_cast<int64_t>(3.5 * o.sigma + 0.5);
    VOXNN_CHECK(!o.win_size || *o.win_size == 2 * r + 1, op, ": with gaussian_weights the window is 2 * int(3.5 sigma + 0.5) + 1 = ",
                2 * r + 1, "; win_size ", o.win_size.value_or(0), " is not supported");
    std::vector<double> w(static_cast<std::size_t>(2 * r + 1));
    double sum = 0;
    for (int64_t i = -r; i <= r; ++i) {
      const double v = std::exp(-0.5 * static_cast<double>(i * i) / (o.sigma * o.sigma));
      w[static_cast<std::size_t>(i + r)] = v;
      sum += v;
    }
    for (double& v : w) v /= sum;
    return w;
  }
  const int64_t k = o.win_size.value_or(7);
  VOXNN_CHECK(k >= 1 && k % 2 == 1, op, ": win_size must be odd and positive, got ", k);
  return std::vector<double>(static_cast<std::size_t>(k), 1.0 / static_cast<double>(k));
}

// Correlates `in` (sizes n) with `w` along `axis`, keeping the valid part: sizes n[axis] - K + 1 after.
inline std::vector<double> filter_valid(const std::vector<double>& in, std::array<int64_t, 3>& n, int axis,
                                        const std::vector<double>& w) {
  const auto k = static_cast<int64_t>(w.size());
  std::array<int64_t, 3> m = n;
  m[static_cast<std::size_t>(axis)] = n[static_cast<std::size_t>(axis)] - k + 1;
  std::vector<double> out(static_cast<std::size_t>(m[0] * m[1] * m[2]), 0.0);
  const int64_t inner_in = axis == 2 ? 1 : (axis == 1 ? n[2] : n[1] * n[2]);
  const int64_t inner_out = axis == 2 ? 1 : (axis == 1 ? m[2] : m[1] * m[2]);
  const int64_t outer = axis == 0 ? 1 : (axis == 1 ? n[0] : n[0] * n[1]);
  const int64_t len_in = n[static_cast<std::size_t>(axis)], len_out = m[static_cast<std::size_t>(axis)];
  for (int64_t o = 0; o < outer; ++o) {
    const double* src = in.data() + o * len_in * inner_in;
    double* dst = out.data() + o * len_out * inner_out;
    if (axis == 2) {
      for (int64_t j = 0; j < k; ++j) {
        const double wj = w[static_cast<std::size_t>(j)];
        for (int64_t i = 0; i < len_out; ++i) dst[i] += wj * src[i + j];
      }
    } else {  // whole rows at a time: inner_in == inner_out for the axes before the last
      for (int64_t i = 0; i < len_out; ++i)
        for (int64_t j = 0; j < k; ++j) {
          const double wj = w[static_cast<std::size_t>(j)];
          const double* s = src + (i + j) * inner_in;
          double* d = dst + i * inner_out;
          for (int64_t t = 0; t < inner_out; ++t) d[t] += wj * s[t];
        }
    }
  }
  n = m;
  return out;
}

// scikit-image structural_similarity of two images of sizes n (z, y, x; unit sizes in front for fewer
// dims, `rank` real dims): the mean of the SSIM map over the part the window fits in.
inline double ssim_image(const double* x, const double* y, const std::array<int64_t, 3>& n, int rank,
                         const std::vector<double>& w, const SsimOptions& o, double data_range) {
  const auto k = static_cast<int64_t>(w.size());
  const int64_t numel = n[0] * n[1] * n[2];
  std::array<std::vector<double>, 5> maps;
  for (auto& m : maps) m.resize(static_cast<std::size_t>(numel));
  for (int64_t i = 0; i < numel; ++i) {
    const double a = x[i], b = y[i];
    maps[0][static_cast<std::size_t>(i)] = a, maps[1][static_cast<std::size_t>(i)] = b;
    maps[2][static_cast<std::size_t>(i)] = a * a, maps[3][static_cast<std::size_t>(i)] = b * b;
    maps[4][static_cast<std::size_t>(i)] = a * b;
  }
  std::array<int64_t, 3> m{};
  for (auto& map : maps) {
    std::array<int64_t, 3> s = n;
    for (int axis = 3 - rank; axis < 3; ++axis) map = filter_valid(map, s, axis, w);
    m = s;
  }
  double np = 1;
  for (int d = 0; d < rank; ++d) np *= static_cast<double>(k);
  const double cov_norm = o.use_sample_covariance ? np / (np - 1) : 1.0;
  const double c1 = (o.k1 * data_range) * (o.k1 * data_range), c2 = (o.k2 * data_range) * (o.k2 * data_range);
  const int64_t valid = m[0] * m[1] * m[2];
  double total = 0;
  for (int64_t i = 0; i < valid; ++i) {
    const auto u = static_cast<std::size_t>(i);
    const double ux = maps[0][u], uy = maps[1][u];
    const double vx = cov_norm * (maps[2][u] - ux * ux);
    const double vy = cov_norm * (maps[3][u] - uy * uy);
    const double vxy = cov_norm * (maps[4][u] - ux * uy);
    const double a1 = 2 * ux * uy + c1, a2 = 2 * vxy + c2, b1 = ux * ux + uy * uy + c1, b2 = vx + vy + c2;
    total += (a1 * a2) / (b1 * b2);
  }
  return total / static_cast<double>(valid);
}

// SSIM averaged over `count` images of `rank` dims each, the trailing dims of x / y.
template <Real T>
double mean_ssim(const Tensor<T>& gt, const Tensor<T>& pred, int rank, const SsimOptions& o, double data_range,
                 const char* op) {
  const std::vector<double> w = ssim_window(o, op);
  const auto k = static_cast<int64_t>(w.size());
  std::array<int64_t, 3> n{1, 1, 1};
  for (int d = 0; d < rank; ++d) {
    n[static_cast<std::size_t>(3 - rank + d)] = gt.size(gt.dim() - rank + d);
    VOXNN_CHECK(gt.size(gt.dim() - rank + d) >= k, op, ": the ", k, "-wide window exceeds the image of shape ",
                gt.shape(), "; use a smaller odd win_size");
  }
  const int64_t per = n[0] * n[1] * n[2], count = gt.numel() / per;
  const std::vector<double> x = to_doubles(gt), y = to_doubles(pred);
  std::vector<double> scores(static_cast<std::size_t>(count));
  parallel_for(0, count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      scores[static_cast<std::size_t>(i)] = ssim_image(x.data() + i * per, y.data() + i * per, n, rank, w, o, data_range);
  });
  double total = 0;
  for (double s : scores) total += s;
  return total / static_cast<double>(count);
}

template <Real T>
double max_value(const Tensor<T>& x) {
  const Tensor<T> c = x.contiguous();
  VOXNN_CHECK(c.numel() > 0, "image metric: empty tensor");
  return static_cast<double>(*std::max_element(c.data(), c.data() + c.numel()));
}

template <Real T, class F>
double mean_of(const Tensor<T>& gt, const Tensor<T>& pred, F f, const char* op) {
  check_pair(gt.shape(), pred.shape(), op);
  const Tensor<T> a = gt.contiguous(), b = pred.contiguous();
  VOXNN_CHECK(a.numel() > 0, op, ": empty tensors");
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += f(static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i]));
  return s / static_cast<double>(a.numel());
}

// MONAI's regression metrics: the mean over each sample (dim 0) of f(y - y_pred), shape (N, 1).
template <Real T, class F>
Tensor<double> per_sample(const Tensor<T>& gt, const Tensor<T>& pred, F f, const char* op) {
  check_pair(gt.shape(), pred.shape(), op);
  VOXNN_CHECK(gt.dim() >= 2, op, ": inputs of shape ", gt.shape(), " need a batch dim and at least one more");
  const Tensor<T> a = gt.contiguous(), b = pred.contiguous();
  const int64_t n = a.size(0), per = a.numel() / std::max<int64_t>(n, 1);
  Tensor<double> out(Shape{n, 1});
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < per; ++j)
      s += f(static_cast<double>(a.data()[i * per + j]) - static_cast<double>(b.data()[i * per + j]));
    out.data()[i] = s / static_cast<double>(per);
  }
  return out;
}

}  // namespace detail

// Mean squared error (fastMRI's mse).
template <Real T>
double mse(const Tensor<T>& gt, const Tensor<T>& pred) {
  return detail::mean_of(gt, pred, [](double d) { return d * d; }, "mse");
}

// Mean absolute error.
template <Real T>
double mae(const Tensor<T>& gt, const Tensor<T>& pred) {
  return detail::mean_of(gt, pred, [](double d) { return std::abs(d); }, "mae");
}

// Root mean squared error.
template <Real T>
double rmse(const Tensor<T>& gt, const Tensor<T>& pred) {
  return std::sqrt(mse(gt, pred));
}

// fastMRI's nmse: ||gt - pred||^2 / ||gt||^2 over all elements.
template <Real T>
double nmse(const Tensor<T>& gt, const Tensor<T>& pred) {
  detail::check_pair(gt.shape(), pred.shape(), "nmse");
  const Tensor<T> a = gt.contiguous(), b = pred.contiguous();
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double g = static_cast<double>(a.data()[i]), d = g - static_cast<double>(b.data()[i]);
    num += d * d, den += g * g;
  }
  return num / den;
}

// fastMRI's psnr (scikit-image's peak_signal_noise_ratio): 10 log10(data_range^2 / mse), data_range
// defaulting to gt.max() (the volume's maximum, as fastMRI evaluates a volume at a time).
template <Real T>
double psnr(const Tensor<T>& gt, const Tensor<T>& pred, std::optional<double> data_range = std::nullopt) {
  const double err = mse(gt, pred);
  const double r = data_range ? *data_range : detail::max_value(gt);
  return 10 * std::log10((r * r) / err);
}

// MONAI's MSEMetric / MAEMetric / RMSEMetric / PSNRMetric before reduction: one value per sample of
// (N, ...) inputs, shape (N, 1). psnr: 20 log10(max_val) - 10 log10(mse).
template <Real T>
Tensor<double> mse_per_sample(const Tensor<T>& gt, const Tensor<T>& pred) {
  return detail::per_sample(gt, pred, [](double d) { return d * d; }, "mse_per_sample");
}
template <Real T>
Tensor<double> mae_per_sample(const Tensor<T>& gt, const Tensor<T>& pred) {
  return detail::per_sample(gt, pred, [](double d) { return std::abs(d); }, "mae_per_sample");
}
template <Real T>
Tensor<double> rmse_per_sample(const Tensor<T>& gt, const Tensor<T>& pred) {
  Tensor<double> m = mse_per_sample(gt, pred);
  for (int64_t i = 0; i < m.numel(); ++i) m.data()[i] = std::sqrt(m.data()[i]);
  return m;
}
template <Real T>
Tensor<double> psnr_per_sample(const Tensor<T>& gt, const Tensor<T>& pred, double max_val) {
  Tensor<double> m = mse_per_sample(gt, pred);
  for (int64_t i = 0; i < m.numel(); ++i) m.data()[i] = 20 * std::log10(max_val) - 10 * std::log10(m.data()[i]);
  return m;
}

// scikit-image's structural_similarity of two images of 1, 2 or 3 dims (no channel axis): the SSIM
// map's mean over the region the window fits in. options.data_range is required, as scikit-image
// requires it for floating images.
template <Real T>
double structural_similarity(const Tensor<T>& im1, const Tensor<T>& im2, const SsimOptions& options) {
  detail::check_pair(im1.shape(), im2.shape(), "structural_similarity");
  VOXNN_CHECK(im1.dim() <= 3, "structural_similarity: images of shape ", im1.shape(), " have more than 3 dims");
  VOXNN_CHECK(options.data_range.has_value(), "structural_similarity: data_range is required for floating images");
  return detail::mean_ssim(im1, im2, im1.dim(), options, *options.data_range, "structural_similarity");
}

// fastMRI's ssim: the mean over slices of the 2D SSIM of each (H, W) slice of (slices, H, W) inputs (a
// single (H, W) image is one slice), data_range defaulting to gt.max() over all slices.
template <Real T>
double ssim(const Tensor<T>& gt, const Tensor<T>& pred, const SsimOptions& options = {}) {
  detail::check_pair(gt.shape(), pred.shape(), "ssim");
  VOXNN_CHECK(gt.dim() == 2 || gt.dim() == 3, "ssim: gt of shape ", gt.shape(),
              " is not (slices, H, W) or (H, W); use ssim3d for a volume");
  const double r = options.data_range ? *options.data_range : detail::max_value(gt);
  return detail::mean_ssim(gt, pred, 2, options, r, "ssim");
}

// The 3D SSIM of one volume (D, H, W), or the mean over a batch (N, D, H, W): scikit-image's
// structural_similarity on the volume (a win_size^3 window, N = win_size^3 in the sample covariance),
// data_range defaulting to gt.max().
template <Real T>
double ssim3d(const Tensor<T>& gt, const Tensor<T>& pred, const SsimOptions& options = {}) {
  detail::check_pair(gt.shape(), pred.shape(), "ssim3d");
  VOXNN_CHECK(gt.dim() == 3 || gt.dim() == 4, "ssim3d: gt of shape ", gt.shape(), " is not (D, H, W) or (N, D, H, W)");
  const double r = options.data_range ? *options.data_range : detail::max_value(gt);
  return detail::mean_ssim(gt, pred, 3, options, r, "ssim3d");
}

}  // namespace voxnn::metrics
