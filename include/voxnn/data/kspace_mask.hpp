#pragma once
// Cartesian k-space undersampling masks.
//
// Column masks with fastMRI 0.3.0's rules (fastmri/data/subsample.py), drawn from voxnn's seeded
// generator (numpy's stream is not reproduced, so a random mask differs from fastMRI's for the same
// seed while following the same distribution; every deterministic part is exact):
//
//   data::RandomMaskFunc f({.center_fractions = {0.08, 0.04}, .accelerations = {4, 8}, .seed = 1});
//   data::KspaceMask m = f({1, 640, 368, 2});     // m.mask: bool (1, 1, 368, 1); m.num_low_frequencies
//
// Each call picks one (center_fraction, acceleration) pair uniformly (any combination with
// allow_any_combination), keeps round(W * center_fraction) central columns (Python's round: ties to
// even) starting at (W - num_low + 1) // 2, and adds outer columns:
//   RandomMaskFunc              each column with probability (W / acc - num_low) / (W - num_low), so the
//                               expected number of columns is W / acc
//   EquiSpacedMaskFunc          columns offset, offset + acc, ... (offset random in [0, acc) unless given)
//   EquispacedMaskFractionFunc  spacing adjusted to acc (num_low - W) / (num_low acc - W) so that the
//                               total matches W / acc; columns round(offset + i * spacing) below W - 1
//   MagicMaskFunc               offset sampling of each k-space half (Defazio 2019), fftshifted
//   MagicMaskFractionFunc       the same with num_low and acc adjusted to hit W / acc exactly
// Masks have the rank of `shape` with every dim 1 except dim -2 (W): they broadcast over
// (B, C, H, W, 2) k-space. A per-call seed uses a fresh generator for that call and leaves the
// function's own generator where it was, as fastMRI's temp_seed does.
//
// Variable-density masks for 2-D undersampling (the two phase-encoding dims of a 3-D acquisition),
// returned as bool (H, W, 1) so they broadcast over (..., H, W, 2):
//   poisson_disc_mask    variable-density Poisson-disc sampling: no two samples closer than the local
//                        radius, which grows linearly with the distance from the calibration region,
//                        its slope found by bisection to meet the acceleration; the calibration region
//                        fully sampled
//   gaussian_mask        independent samples with a Gaussian density around the centre, scaled so the
//                        expected acceleration is the target; the calibration region fully sampled
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "voxnn/core/expanding_array.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/ops/complex.hpp"
#include "voxnn/ops/elementwise.hpp"

namespace voxnn::data {

// A column mask and the number of fully sampled central columns.
struct KspaceMask {
  Tensor<bool> mask;
  int64_t num_low_frequencies = 0;
};

namespace mask_detail {

// Python's round() and numpy's around(): halfway cases to the even neighbour.
inline double round_half_even(double x) {
  const double r = std::round(x);
  if (std::abs(x - std::trunc(x)) == 0.5) return 2.0 * std::round(x / 2.0);
  return r;
}
inline int64_t py_round(double x) { return static_cast<int64_t>(round_half_even(x)); }

// One integer uniform on [0, n) from one block of gen.
inline int64_t randint(int64_t n, Generator& gen, const char* op) {
  VOXNN_CHECK(n > 0, op, ": cannot draw an integer from the empty range [0, ", n, ")");
  return RandomStream(gen, RandomStream::Packing::block_per_draw).integer(n);
}

inline bool is_integral(double v) { return std::isfinite(v) && v == std::floor(v); }

}  // namespace mask_detail

struct MaskFuncOptions {
  std::vector<double> center_fractions{};       // fraction of central columns kept, one chosen per call
  std::vector<double> accelerations{};          // acceleration, paired with center_fractions
  bool allow_any_combination = false;           // choose fraction and acceleration independently
  std::optional<uint64_t> seed = std::nullopt;  // the function's generator; none: seeded from default_generator()
};

// fastMRI's MaskFunc: the rules every column mask shares; subclasses give the outer columns.
class MaskFunc {
 public:
  explicit MaskFunc(MaskFuncOptions o, const char* name = "MaskFunc")
      : options(std::move(o)), name_(name), rng_(seed_from(options.seed)) {
    VOXNN_CHECK(!options.center_fractions.empty() && !options.accelerations.empty(), name_,
                ": center_fractions and accelerations must not be empty");
    VOXNN_CHECK(options.allow_any_combination || options.center_fractions.size() == options.accelerations.size(),
                name_, ": ", options.center_fractions.size(), " center fractions but ", options.accelerations.size(),
                " accelerations; they must pair up unless allow_any_combination");
    for (double f : options.center_fractions)
      VOXNN_CHECK(f >= 0 && f <= 1, name_, ": center fraction ", f, " is outside [0, 1]");
    for (double a : options.accelerations) VOXNN_CHECK(a > 0, name_, ": acceleration ", a, " must be positive");
  }
  virtual ~MaskFunc() = default;

  // A mask for k-space of `shape` (at least 3 dims, columns at dim -2). offset: the first outer column
  // of the equispaced kinds (random when absent). seed: this call only, the own generator untouched.
  KspaceMask operator()(const Shape& shape, std::optional<int64_t> offset = std::nullopt,
                        std::optional<uint64_t> seed = std::nullopt) {
    VOXNN_CHECK(shape.size() >= 3, name_, ": k-space shape ", shape,
                " has fewer than 3 dims; expected (..., H, W, 2) with columns at dim -2");
    VOXNN_CHECK(shape[shape.size() - 2] > 0, name_, ": k-space shape ", shape, " has no columns");
    VOXNN_CHECK(!offset || *offset >= 0, name_, ": offset ", *offset, " must not be negative");
    SeedOrGenerator gen(seed, rng_);
    return sample(shape, offset, gen.get());
  }

  // fastMRI's calculate_center_mask: num_low ones starting at (num_cols - num_low + 1) // 2.
  static std::vector<uint8_t> center_mask(int64_t num_cols, int64_t num_low) {
    std::vector<uint8_t> m(static_cast<std::size_t>(num_cols), 0);
    const int64_t pad = (num_cols - num_low + 1) / 2;
    for (int64_t i = pad; i < pad + num_low && i < num_cols; ++i) m[static_cast<std::size_t>(i)] = 1;
    return m;
  }

  const MaskFuncOptions options;

 protected:
  // The (center_fraction, acceleration) pair of one call.
  std::pair<double, double> choose_acceleration(Generator& gen) const {
    const auto nf = static_cast<int64_t>(options.center_fractions.size());
    const auto na = static_cast<int64_t>(options.accelerations.size());
    if (options.allow_any_combination) {
      const double f = options.center_fractions[static_cast<std::size_t>(mask_detail::randint(nf, gen, name_))];
      return {f, options.accelerations[static_cast<std::size_t>(mask_detail::randint(na, gen, name_))]};
    }
    const auto i = static_cast<std::size_t>(mask_detail::randint(nf, gen, name_));
    return {options.center_fractions[i], options.accelerations[i]};
  }

  // fastMRI's sample_mask: center columns, outer columns and num_low; the Magic fraction kind overrides it.
  virtual KspaceMask sample(const Shape& shape, std::optional<int64_t> offset, Generator& gen) {
    const int64_t num_cols = shape[shape.size() - 2];
    const auto [fraction, acceleration] = choose_acceleration(gen);
    const int64_t num_low = mask_detail::py_round(static_cast<double>(num_cols) * fraction);
    return combine(shape, center_mask(num_cols, num_low), acceleration_mask(num_cols, acceleration, offset, num_low, gen),
                   num_low);
  }

  // The outer columns (fastMRI's calculate_acceleration_mask).
  virtual std::vector<uint8_t> acceleration_mask(int64_t num_cols, double acceleration, std::optional<int64_t> offset,
                                                 int64_t num_low, Generator& gen) const = 0;

  // The union of both masks, shaped [1, ..., 1, W, 1] with the rank of shape.
  static KspaceMask combine(const Shape& shape, const std::vector<uint8_t>& center, const std::vector<uint8_t>& outer,
                            int64_t num_low) {
    Shape ms(std::vector<int64_t>(static_cast<std::size_t>(shape.size()), 1));
    ms[ms.size() - 2] = shape[shape.size() - 2];
    Tensor<bool> mask(ms);
    bool* p = mask.data();
    for (std::size_t i = 0; i < center.size(); ++i) p[i] = center[i] || outer[i];
    return {mask, num_low};
  }

  // An integer acceleration, as numpy's slicing in the equispaced kinds needs.
  int64_t integral_acceleration(double acceleration) const {
    VOXNN_CHECK(mask_detail::is_integral(acceleration) && acceleration >= 1, name_, ": acceleration ", acceleration,
                " must be a positive integer (the spacing of the sampled columns)");
    return static_cast<int64_t>(acceleration);
  }

  const char* name_;

 private:
  Generator rng_;
};

// fastMRI's RandomMaskFunc.
class RandomMaskFunc : public MaskFunc {
 public:
  explicit RandomMaskFunc(MaskFuncOptions o) : MaskFunc(std::move(o), "RandomMaskFunc") {}

  // The probability of each outer column: the expected number of columns is num_cols / acceleration.
  static double outer_probability(int64_t num_cols, double acceleration, int64_t num_low) {
    return (static_cast<double>(num_cols) / acceleration - static_cast<double>(num_low)) /
           static_cast<double>(num_cols - num_low);
  }

 protected:
  std::vector<uint8_t> acceleration_mask(int64_t num_cols, double acceleration, std::optional<int64_t>, int64_t num_low,
                                         Generator& gen) const override {
    const double prob = outer_probability(num_cols, acceleration, num_low);
    const Tensor<double> u = rand<double>(Shape{num_cols}, gen);
    std::vector<uint8_t> m(static_cast<std::size_t>(num_cols));
    for (std::size_t i = 0; i < m.size(); ++i) m[i] = u.data()[i] < prob;
    return m;
  }
};

// fastMRI's EquiSpacedMaskFunc: every acceleration-th column from offset (acceleration an integer).
class EquiSpacedMaskFunc : public MaskFunc {
 public:
  explicit EquiSpacedMaskFunc(MaskFuncOptions o) : MaskFunc(std::move(o), "EquiSpacedMaskFunc") {}

 protected:
  std::vector<uint8_t> acceleration_mask(int64_t num_cols, double acceleration, std::optional<int64_t> offset, int64_t,
                                         Generator& gen) const override {
    const int64_t step = integral_acceleration(acceleration);
    const int64_t first = offset ? *offset : mask_detail::randint(mask_detail::py_round(acceleration), gen, name_);
    std::vector<uint8_t> m(static_cast<std::size_t>(num_cols), 0);
    for (int64_t i = first; i < num_cols; i += step) m[static_cast<std::size_t>(i)] = 1;
    return m;
  }
};

// fastMRI's EquispacedMaskFractionFunc: the spacing adjusted for the central columns so that the total
// number of columns matches num_cols / acceleration.
class EquispacedMaskFractionFunc : public MaskFunc {
 public:
  explicit EquispacedMaskFractionFunc(MaskFuncOptions o) : MaskFunc(std::move(o), "EquispacedMaskFractionFunc") {}

  static double adjusted_acceleration(int64_t num_cols, double acceleration, int64_t num_low) {
    return (acceleration * static_cast<double>(num_low - num_cols)) /
           (static_cast<double>(num_low) * acceleration - static_cast<double>(num_cols));
  }

 protected:
  std::vector<uint8_t> acceleration_mask(int64_t num_cols, double acceleration, std::optional<int64_t> offset,
                                         int64_t num_low, Generator& gen) const override {
    const double spacing = adjusted_acceleration(num_cols, acceleration, num_low);
    VOXNN_CHECK(std::isfinite(spacing) && spacing > 0, name_, ": ", num_low, " central columns of ", num_cols,
                " leave no room for acceleration ", acceleration, " (adjusted spacing ", spacing, ")");
    const int64_t first = offset ? *offset : mask_detail::randint(mask_detail::py_round(spacing), gen, name_);
    std::vector<uint8_t> m(static_cast<std::size_t>(num_cols), 0);
    // numpy.arange(first, num_cols - 1, spacing): ceil((stop - start) / step) values start + i * delta,
    // delta = (start + step) - start as numpy's fill computes it; then numpy.around.
    const double start = static_cast<double>(first);
    const double count = std::ceil(static_cast<double>(num_cols - 1 - first) / spacing);
    const double delta = (start + spacing) - start;
    for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) {
      const double v = i == 0 ? start : (i == 1 ? start + spacing : start + static_cast<double>(i) * delta);
      const auto col = static_cast<int64_t>(mask_detail::round_half_even(v));
      if (col >= 0 && col < num_cols) m[static_cast<std::size_t>(col)] = 1;
    }
    return m;
  }
};

// fastMRI's MagicMaskFunc: equispaced columns with different offsets in the positive and the negative
// half of k-space, so that conjugate symmetry fills the gaps (Defazio 2019).
class MagicMaskFunc : public MaskFunc {
 public:
  explicit MagicMaskFunc(MaskFuncOptions o, const char* name = "MagicMaskFunc") : MaskFunc(std::move(o), name) {}

 protected:
  std::vector<uint8_t> acceleration_mask(int64_t num_cols, double acceleration, std::optional<int64_t> offset, int64_t,
                                         Generator& gen) const override {
    VOXNN_CHECK(acceleration != 0, name_, ": the adjusted acceleration is 0 for ", num_cols,
                " columns (the central columns already reach the target)");
    const int64_t step = integral_acceleration(acceleration);
    const int64_t first = offset ? *offset : mask_detail::randint(step, gen, name_);
    const int64_t offset_pos = first % 2 == 0 ? first + 1 : first + 2;
    const int64_t offset_neg = first % 2 == 0 ? first + 2 : first - 1;
    const int64_t pos_len = (num_cols + 1) / 2, neg_len = num_cols - pos_len;
    std::vector<uint8_t> joined(static_cast<std::size_t>(num_cols), 0);
    for (int64_t i = offset_pos; i < pos_len; i += step) joined[static_cast<std::size_t>(i)] = 1;
    // the negative half, sampled from offset_neg and then reversed, follows the positive half
    for (int64_t i = offset_neg; i < neg_len; i += step) joined[static_cast<std::size_t>(pos_len + neg_len - 1 - i)] = 1;
    // numpy.fft.fftshift: element i moves to (i + n // 2) % n
    std::vector<uint8_t> m(static_cast<std::size_t>(num_cols), 0);
    for (int64_t i = 0; i < num_cols; ++i) m[static_cast<std::size_t>((i + num_cols / 2) % num_cols)] = joined[static_cast<std::size_t>(i)];
    return m;
  }
};

// fastMRI's MagicMaskFractionFunc: num_low bounded to [1, round(W / acc)] and the outer spacing
// round(W / (round(W / acc) - num_low)), so the total is round(W / acc) columns.
class MagicMaskFractionFunc : public MagicMaskFunc {
 public:
  explicit MagicMaskFractionFunc(MaskFuncOptions o) : MagicMaskFunc(std::move(o), "MagicMaskFractionFunc") {}

 protected:
  KspaceMask sample(const Shape& shape, std::optional<int64_t> offset, Generator& gen) override {
    const int64_t num_cols = shape[shape.size() - 2];
    const auto [fraction, acceleration] = choose_acceleration(gen);
    const int64_t target = mask_detail::py_round(static_cast<double>(num_cols) / acceleration);
    const int64_t num_low =
        std::max<int64_t>(std::min(mask_detail::py_round(static_cast<double>(num_cols) * fraction), target), 1);
    const int64_t outer = target - num_low;
    const double adjusted =
        outer > 0 ? static_cast<double>(mask_detail::py_round(static_cast<double>(num_cols) / static_cast<double>(outer))) : 0.0;
    return combine(shape, center_mask(num_cols, num_low), acceleration_mask(num_cols, adjusted, offset, num_low, gen),
                   num_low);
  }
};

// fastMRI's create_mask_for_mask_type: "random", "equispaced", "equispaced_fraction", "magic",
// "magic_fraction".
inline std::unique_ptr<MaskFunc> create_mask_for_mask_type(const std::string& mask_type, MaskFuncOptions o) {
  if (mask_type == "random") return std::make_unique<RandomMaskFunc>(std::move(o));
  if (mask_type == "equispaced") return std::make_unique<EquiSpacedMaskFunc>(std::move(o));
  if (mask_type == "equispaced_fraction") return std::make_unique<EquispacedMaskFractionFunc>(std::move(o));
  if (mask_type == "magic") return std::make_unique<MagicMaskFunc>(std::move(o));
  if (mask_type == "magic_fraction") return std::make_unique<MagicMaskFractionFunc>(std::move(o));
  ::voxnn::detail::throw_error("create_mask_for_mask_type: unknown mask type '", mask_type,
                               "'; expected random, equispaced, equispaced_fraction, magic or magic_fraction");
}

// fastMRI's transforms.apply_mask: k-space (..., H, W, 2) times a mask drawn for shape
// (1, ..., 1, H, W, 2); padding = {left, right} zeroes the columns below left and from right on.
template <Real T>
struct MaskedKspace {
  Tensor<T> kspace;
  Tensor<bool> mask;
  int64_t num_low_frequencies = 0;
};
template <Real T>
MaskedKspace<T> apply_mask(const Tensor<T>& data, MaskFunc& mask_func, std::optional<int64_t> offset = std::nullopt,
                           std::optional<uint64_t> seed = std::nullopt,
                           std::optional<std::array<int64_t, 2>> padding = std::nullopt) {
  ops::check_complex(data.shape(), "apply_mask", "k-space", 3, "(..., H, W, 2)");
  Shape s(std::vector<int64_t>(static_cast<std::size_t>(data.dim()), 1));
  for (int d = data.dim() - 3; d < data.dim(); ++d) s[d] = data.shape()[d];
  KspaceMask m = mask_func(s, offset, seed);
  if (padding) {
    bool* p = m.mask.data();  // contiguous, W entries
    const int64_t w = m.mask.numel();
    auto wrap = [w](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + w : i, 0, w); };  // Python slice bounds
    for (int64_t i = 0; i < wrap((*padding)[0]); ++i) p[i] = false;
    for (int64_t i = wrap((*padding)[1]); i < w; ++i) p[i] = false;
  }
  return {ops::where(m.mask, data, T(0)), m.mask, m.num_low_frequencies};
}

// ---- variable-density masks for 2-D undersampling --------------------------------------------------

namespace mask_detail {

// The fully sampled central block: rows [r0, r0 + ch), cols [c0, c0 + cw), placed as fastMRI's centre
// band ((n - len + 1) // 2 from the start).
struct Calibration {
  int64_t r0, c0, ch, cw;
  bool contains(int64_t r, int64_t c) const { return r >= r0 && r < r0 + ch && c >= c0 && c < c0 + cw; }
};
inline Calibration calibration_block(int64_t h, int64_t w, const ExpandingArray<2>& calib, const char* op) {
  VOXNN_CHECK(h > 0 && w > 0, op, ": shape (", h, ", ", w, ") must be positive");
  VOXNN_CHECK(calib[0] >= 0 && calib[1] >= 0 && calib[0] <= h && calib[1] <= w, op, ": calibration region (",
              calib[0], ", ", calib[1], ") does not fit the shape (", h, ", ", w, ")");
  return {(h - calib[0] + 1) / 2, (w - calib[1] + 1) / 2, calib[0], calib[1]};
}

// The distance of each position from the calibration block, normalised per axis so that the k-space
// edge is at 1 along each axis (sqrt(2) in the corners).
inline std::vector<double> normalised_distance(int64_t h, int64_t w, const Calibration& cal) {
  std::vector<double> rho(static_cast<std::size_t>(h * w));
  // distance from the block to the farthest edge along each axis (at least 1 to stay finite)
  const double ly = std::max<double>(1.0, static_cast<double>(std::max(cal.r0, h - cal.r0 - cal.ch)));
  const double lx = std::max<double>(1.0, static_cast<double>(std::max(cal.c0, w - cal.c0 - cal.cw)));
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      const double dy = static_cast<double>(std::max<int64_t>({cal.r0 - r, r - (cal.r0 + cal.ch - 1), 0})) / ly;
      const double dx = static_cast<double>(std::max<int64_t>({cal.c0 - c, c - (cal.c0 + cal.cw - 1), 0})) / lx;
      rho[static_cast<std::size_t>(r * w + c)] = std::sqrt(dy * dy + dx * dx);
    }
  return rho;
}

// Whether (r, c) lies inside the ellipse inscribed in the k-space rectangle (the sampled region with
// crop_corner).
inline bool inside_ellipse(int64_t r, int64_t c, int64_t h, int64_t w) {
  const double y = (static_cast<double>(r) - static_cast<double>(h / 2)) / (0.5 * static_cast<double>(h));
  const double x = (static_cast<double>(c) - static_cast<double>(w / 2)) / (0.5 * static_cast<double>(w));
  return x * x + y * y <= 1.0;
}

inline Tensor<bool> to_mask(const std::vector<uint8_t>& m, int64_t h, int64_t w) {
  Tensor<bool> out(Shape{h, w, 1});
  bool* p = out.data();
  for (std::size_t i = 0; i < m.size(); ++i) p[i] = m[i] != 0;
  return out;
}

// Bridson's dart throwing on the grid with a radius per position: a candidate at distance [r, 2r) from
// an active sample is accepted when no sample lies closer than the candidate's own radius, so any two
// samples are at least the radius of the later one apart.
inline std::vector<uint8_t> poisson_disc_samples(int64_t h, int64_t w, const std::vector<double>& radius,
                                                 int attempts, uint64_t seed) {
  std::vector<uint8_t> taken(static_cast<std::size_t>(h * w), 0);
  Generator gen(seed);
  RandomStream rng(gen);  // two uniforms per block
  auto far_enough = [&](int64_t r, int64_t c) {
    const double rad = radius[static_cast<std::size_t>(r * w + c)];
    const auto reach = static_cast<int64_t>(std::ceil(rad));
    for (int64_t y = std::max<int64_t>(0, r - reach); y <= std::min(h - 1, r + reach); ++y)
      for (int64_t x = std::max<int64_t>(0, c - reach); x <= std::min(w - 1, c + reach); ++x) {
        if (!taken[static_cast<std::size_t>(y * w + x)]) continue;
        const double dy = static_cast<double>(y - r), dx = static_cast<double>(x - c);
        if (dy * dy + dx * dx < rad * rad) return false;
      }
    return true;
  };
  std::vector<int64_t> active;
  {
    const double ur = rng.uniform(), uc = rng.uniform();
    const auto r = std::min(h - 1, static_cast<int64_t>(ur * static_cast<double>(h)));
    const auto c = std::min(w - 1, static_cast<int64_t>(uc * static_cast<double>(w)));
    taken[static_cast<std::size_t>(r * w + c)] = 1;
    active.push_back(r * w + c);
  }
  while (!active.empty()) {
    const double u = rng.uniform();
    rng.uniform();  // the block's second uniform goes unused (the masks stay as they were)
    const auto k = std::min(static_cast<std::size_t>(u * static_cast<double>(active.size())), active.size() - 1);
    const int64_t p = active[k];
    const int64_t pr = p / w, pc = p % w;
    const double rad = radius[static_cast<std::size_t>(p)];
    bool placed = false;
    for (int a = 0; a < attempts && !placed; ++a) {
      const double dist = rad * (1.0 + rng.uniform());
      const double angle = 2.0 * std::numbers::pi * rng.uniform();
      const auto r = static_cast<int64_t>(std::lround(static_cast<double>(pr) + dist * std::sin(angle)));
      const auto c = static_cast<int64_t>(std::lround(static_cast<double>(pc) + dist * std::cos(angle)));
      if (r < 0 || r >= h || c < 0 || c >= w || taken[static_cast<std::size_t>(r * w + c)]) continue;
      if (!far_enough(r, c)) continue;
      taken[static_cast<std::size_t>(r * w + c)] = 1;
      active.push_back(r * w + c);
      placed = true;
    }
    if (!placed) {
      active[k] = active.back();
      active.pop_back();
    }
  }
  return taken;
}

}  // namespace mask_detail

struct PoissonDiscOptions {
  ExpandingArray<2> shape = 0;                  // (H, W): the two undersampled (phase-encoding) dims
  double acceleration = 4;                      // H * W / number of samples
  ExpandingArray<2> calibration = 0;            // fully sampled central block (rows, cols)
  bool crop_corner = false;                     // sample only inside the ellipse inscribed in (H, W)
  int attempts = 30;                            // candidates per active sample (Bridson's k)
  double tolerance = 0.02;                      // relative acceleration error at which the bisection stops
  int max_iterations = 40;                      // bisection steps on the radius slope
  std::optional<uint64_t> seed = std::nullopt;  // none: drawn from default_generator()
};

struct PoissonDiscMask {
  Tensor<bool> mask;      // (H, W, 1)
  double acceleration;    // achieved: H * W / samples
  Tensor<double> radius;  // (H, W): the minimum distance around each position, 1 + slope * rho
};

// Variable-density Poisson-disc sampling of an (H, W) k-space plane. The radius at a position is
// max(1, 1 + slope * rho), rho its distance from the calibration block with the k-space edges at 1;
// slope is bisected until the acceleration (calibration block included) is within tolerance of the
// target, else the closest mask found is returned. Every draw of the bisection uses the same seed.
inline PoissonDiscMask poisson_disc_mask(const PoissonDiscOptions& o) {
  const char* op = "poisson_disc_mask";
  const int64_t h = o.shape[0], w = o.shape[1];
  const mask_detail::Calibration cal = mask_detail::calibration_block(h, w, o.calibration, op);
  VOXNN_CHECK(o.acceleration >= 1, op, ": acceleration ", o.acceleration, " must be at least 1");
  VOXNN_CHECK(o.attempts > 0 && o.max_iterations > 0, op, ": attempts and max_iterations must be positive");
  const double n = static_cast<double>(h * w);
  VOXNN_CHECK(static_cast<double>(cal.ch * cal.cw) <= n / o.acceleration, op, ": the calibration region (", cal.ch,
              ", ", cal.cw, ") alone holds more than H * W / acceleration = ", n / o.acceleration, " samples");
  const uint64_t seed = seed_from(o.seed);
  const std::vector<double> rho = mask_detail::normalised_distance(h, w, cal);
  std::vector<double> radius(rho.size());
  auto run = [&](double slope) {
    for (std::size_t i = 0; i < rho.size(); ++i) radius[i] = std::max(1.0, 1.0 + slope * rho[i]);
    std::vector<uint8_t> m = mask_detail::poisson_disc_samples(h, w, radius, o.attempts, seed);
    int64_t count = 0;
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) {
        uint8_t& v = m[static_cast<std::size_t>(r * w + c)];
        if (o.crop_corner && !mask_detail::inside_ellipse(r, c, h, w)) v = 0;
        if (cal.contains(r, c)) v = 1;
        count += v;
      }
    return std::pair{m, n / static_cast<double>(std::max<int64_t>(count, 1))};
  };
  double lo = 0, hi = static_cast<double>(std::max(h, w));
  std::vector<uint8_t> best;
  double best_accel = 0, best_slope = 0;
  for (int it = 0; it < o.max_iterations; ++it) {
    const double slope = 0.5 * (lo + hi);
    auto [m, accel] = run(slope);
    if (best.empty() || std::abs(accel - o.acceleration) < std::abs(best_accel - o.acceleration)) {
      best = std::move(m);
      best_accel = accel;
      best_slope = slope;
    }
    if (std::abs(accel - o.acceleration) <= o.tolerance * o.acceleration) break;
    (accel < o.acceleration ? lo : hi) = slope;
  }
  Tensor<double> rad(Shape{h, w});
  for (std::size_t i = 0; i < rho.size(); ++i) rad.data()[i] = std::max(1.0, 1.0 + best_slope * rho[i]);
  return {mask_detail::to_mask(best, h, w), best_accel, rad};
}

struct GaussianMaskOptions {
  ExpandingArray<2> shape = 0;                  // (H, W)
  double acceleration = 4;                      // expected H * W / number of samples
  ExpandingArray<2> calibration = 0;            // fully sampled central block (rows, cols)
  double std = 0.25;                            // the Gaussian's standard deviation as a fraction of H and of W
  std::optional<uint64_t> seed = std::nullopt;  // none: the default generator
};

struct GaussianMask {
  Tensor<bool> mask;           // (H, W, 1)
  double acceleration;         // achieved: H * W / samples
  Tensor<double> probability;  // (H, W): each position's sampling probability (1 in the calibration block)
};

// Random 2-D sampling with density min(1, c * exp(-(dy^2 / (2 (std H)^2) + dx^2 / (2 (std W)^2)))) around
// the k-space centre (H // 2, W // 2), each position drawn independently; c is set (by bisection) so that
// the expected number of samples, calibration block included, is H * W / acceleration.
inline GaussianMask gaussian_mask(const GaussianMaskOptions& o) {
  const char* op = "gaussian_mask";
  const int64_t h = o.shape[0], w = o.shape[1];
  const mask_detail::Calibration cal = mask_detail::calibration_block(h, w, o.calibration, op);
  VOXNN_CHECK(o.acceleration >= 1, op, ": acceleration ", o.acceleration, " must be at least 1");
  VOXNN_CHECK(o.std > 0, op, ": std ", o.std, " must be positive");
  const double n = static_cast<double>(h * w), target = n / o.acceleration;
  VOXNN_CHECK(static_cast<double>(cal.ch * cal.cw) <= target, op, ": the calibration region (", cal.ch, ", ", cal.cw,
              ") alone holds more than H * W / acceleration = ", target, " samples");
  std::vector<double> weight(static_cast<std::size_t>(h * w));
  const double sy = o.std * static_cast<double>(h), sx = o.std * static_cast<double>(w);
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      const double dy = static_cast<double>(r - h / 2), dx = static_cast<double>(c - w / 2);
      weight[static_cast<std::size_t>(r * w + c)] = std::exp(-(dy * dy / (2 * sy * sy) + dx * dx / (2 * sx * sx)));
    }
  auto expected = [&](double scale) {
    double s = 0;
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c)
        s += cal.contains(r, c) ? 1.0 : std::min(1.0, scale * weight[static_cast<std::size_t>(r * w + c)]);
    return s;
  };
  // expected() grows with the scale from the calibration count to n: bisect on a log scale
  double lo = 0, hi = 1;
  while (expected(hi) < target && hi < 1e300) hi *= 2;
  for (int it = 0; it < 200 && hi - lo > 1e-15 * hi; ++it) {
    const double mid = 0.5 * (lo + hi);
    (expected(mid) < target ? lo : hi) = mid;
  }
  const double scale = 0.5 * (lo + hi);
  Tensor<double> prob(Shape{h, w});
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      const auto i = static_cast<std::size_t>(r * w + c);
      prob.data()[i] = cal.contains(r, c) ? 1.0 : std::min(1.0, scale * weight[i]);
    }
  SeedOrGenerator gen(o.seed);
  const Tensor<double> u = rand<double>(Shape{h, w}, gen.get());
  std::vector<uint8_t> m(static_cast<std::size_t>(h * w));
  int64_t count = 0;
  for (std::size_t i = 0; i < m.size(); ++i) {
    m[i] = u.data()[i] < prob.data()[i];
    count += m[i];
  }
  return {mask_detail::to_mask(m, h, w), n / static_cast<double>(std::max<int64_t>(count, 1)), prob};
}

}  // namespace voxnn::data
