#pragma once
// Additive noise on the image (the label is left alone), after MONAI 1.3.2's RandGaussianNoise and
// RandRicianNoise:
//
//   RandGaussianNoise{.prob = 0.5, .mean = 0, .std = 0.1}        // x + N(mean, sigma^2)
//   RandRicianNoise{.prob = 0.5, .std = 0.05, .relative = true}   // sqrt((x + n1)^2 + n2^2)
//
// sample_std (MONAI's default): sigma is drawn uniform in [0, std) per call (per channel with
// channel_wise), else sigma = std. The normals come from the sample's generator in counter blocks
// (Box-Muller pairs), so the result does not depend on the number of threads.
#include <cmath>
#include <cstdint>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/data/transforms/common.hpp"
#include "voxnn/data/transforms/intensity.hpp"

namespace voxnn::data {

namespace detail {
// The unbiased standard deviation of n values (torch.std's default), in double.
template <class T>
double sample_stddev(const T* x, int64_t n) {
  if (n < 2) return std::nan("");
  const double mean = chunked_sum(n, [=](int64_t i) { return static_cast<double>(x[i]); }) / static_cast<double>(n);
  const double ss = chunked_sum(n, [=](int64_t i) {
    const double d = static_cast<double>(x[i]) - mean;
    return d * d;
  });
  return std::sqrt(ss / static_cast<double>(n - 1));
}
}  // namespace detail

// monai.transforms.RandGaussianNoise: with probability prob, adds normal noise of mean `mean` and
// standard deviation sigma (see above) to every image voxel.
struct RandGaussianNoise {
  double prob = 0.1;
  double mean = 0;
  double std = 0.1;
  bool sample_std = true;

  template <Real T>
  void operator()(Sample<T>& s, Generator& gen) const {
    const char* op = "RandGaussianNoise";
    detail::spatial_shape(s, op);
    detail::check_prob(prob, op);
    VOXNN_CHECK(std >= 0 && std::isfinite(std) && std::isfinite(mean), op, ": mean ", mean, " and std ", std,
                " must be finite with std >= 0");
    if (!detail::draws(gen).bernoulli(prob)) return;
    const double sigma = sample_std ? detail::draws(gen).uniform(0, std) : std;
    const Tensor<T> in = s.image.contiguous();
    Tensor<T> out(in.shape());
    const int64_t n = in.numel(), blocks = (n + 1) / 2;
    const uint64_t first = gen.reserve(static_cast<uint64_t>(blocks));
    const T* x = in.data();
    T* y = out.data();
    const double mu = mean;
    parallel_for(0, blocks, 4096, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const auto z = voxnn::detail::normal_pair<double>(gen.block(first + static_cast<uint64_t>(k)));
        for (int64_t j = 0; j < 2 && 2 * k + j < n; ++j) {
          const int64_t i = 2 * k + j;
          y[i] = static_cast<T>(static_cast<double>(x[i]) + mu + sigma * z[static_cast<std::size_t>(j)]);
        }
      }
    });
    s.image = out;
  }
};

// monai.transforms.RandRicianNoise: with probability prob, x -> sqrt((x + n1)^2 + n2^2) with n1, n2
// normal of mean `mean` and standard deviation sigma; relative: sigma is also multiplied by the
// image's (channel's, with channel_wise) unbiased standard deviation.
struct RandRicianNoise {
  double prob = 0.1;
  double mean = 0;
  double std = 1.0;
  bool channel_wise = false;
  bool relative = false;
  bool sample_std = true;

  template <Real T>
  void operator()(Sample<T>& s, Generator& gen) const {
    const char* op = "RandRicianNoise";
    detail::spatial_shape(s, op);
    detail::check_prob(prob, op);
    VOXNN_CHECK(std >= 0 && std::isfinite(std) && std::isfinite(mean), op, ": mean ", mean, " and std ", std,
                " must be finite with std >= 0");
    const int64_t channels = channel_wise ? s.image.size(0) : 1, n = channels > 0 ? s.image.numel() / channels : 0;
    VOXNN_CHECK(!relative || n >= 2, op, ": relative needs the standard deviation of at least 2 voxels per ",
                channel_wise ? "channel" : "image", ", got ", n);
    if (!detail::draws(gen).bernoulli(prob)) return;
    const Tensor<T> in = s.image.contiguous();
    Tensor<T> out(in.shape());
    for (int64_t c = 0; c < channels; ++c) {
      const T* x = in.data() + c * n;
      T* y = out.data() + c * n;
      double base = std;
      if (relative) base *= detail::sample_stddev(x, n);
      const double sigma = sample_std ? detail::draws(gen).uniform(0, base) : base;
      const uint64_t first = gen.reserve(static_cast<uint64_t>(n));
      const double mu = mean;
      parallel_for(0, n, 4096, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const auto z = voxnn::detail::normal_pair<double>(gen.block(first + static_cast<uint64_t>(i)));
          const double a = static_cast<double>(x[i]) + mu + sigma * z[0], q = mu + sigma * z[1];
          y[i] = static_cast<T>(std::sqrt(a * a + q * q));
        }
      });
    }
    s.image = out;
  }
};

}  // namespace voxnn::data
