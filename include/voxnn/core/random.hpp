#pragma once
// Reproducible random numbers from a counter-based generator (Philox-4x32-10): element i of a draw
// depends only on (seed, offset, i), so results do not change with the number of threads.
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <optional>

#include "voxnn/core/error.hpp"

namespace voxnn {

namespace detail {
inline std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t{kMul0} * ctr[0], p1 = uint64_t{kMul1} * ctr[2];
    ctr = {static_cast<uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<uint32_t>(p1),
           static_cast<uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<uint32_t>(p0)};
    key[0] += kWeyl0;
    key[1] += kWeyl1;
  }
  return ctr;
}
}  // namespace detail

// A seed plus a running offset; each draw of n values advances the offset past them.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  // Reserves `blocks` counters of four 32-bit words each and returns the first counter.
  uint64_t reserve(uint64_t blocks) {
    const uint64_t first = offset_;
    offset_ += blocks;
    return first;
  }
  // Four random words for counter `block`.
  std::array<uint32_t, 4> block(uint64_t counter) const {
    return detail::philox4x32(
        {static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u},
        {static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)});
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide default generator used when none is passed.
inline Generator& default_generator() {
  static Generator gen(0x5eedULL);
  return gen;
}
inline void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace detail {
// Uniform in [0, 1) with the full mantissa of T.
template <class T>
T uniform_from(uint32_t a, uint32_t b) {
  if constexpr (sizeof(T) == 4)
    return static_cast<T>(a >> 8) * (1.0f / 16777216.0f);
  else
    return static_cast<T>((uint64_t{a} << 21) ^ (b >> 11)) * (1.0 / 9007199254740992.0);
}
// Two standard normals from one block (Box-Muller).
template <class T>
std::array<T, 2> normal_pair(const std::array<uint32_t, 4>& w) {
  const double u1 = 1.0 - uniform_from<double>(w[0], w[1]);  // (0, 1]: log stays finite
  const double u2 = uniform_from<double>(w[2], w[3]);
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double phi = 2.0 * std::numbers::pi * u2;
  return {static_cast<T>(r * std::cos(phi)), static_cast<T>(r * std::sin(phi))};
}
}  // namespace detail

// Scalar random numbers from a Generator, for code that needs a few draws rather than a tensor of them.
// Each draw takes two 32-bit words of a counter block: uniform() as rand<double> (53 bits, [0, 1)),
// integer(n) as randint (64 bits modulo n); normal() takes a whole block and gives its Box-Muller pair
// one value at a time, as randn<double> does. Blocks are reserved from the generator as they are needed.
//   Packing::dense: a block's two word pairs serve two draws, so a run of uniforms equals
//     rand<double>(Shape{n}, gen) and a run of integer(n) equals randint(0, n, ...), value for value.
//   Packing::block_per_draw: every draw takes a fresh block and leaves the rest of it unused, so which
//     blocks a draw takes never depends on the kinds of the draws before it (a transform's `prob` draw
//     comes first whatever prob is). Such a stream keeps nothing between draws and may be a temporary.
class RandomStream {
 public:
  enum class Packing { dense, block_per_draw };

  explicit RandomStream(Generator& gen, Packing packing = Packing::dense) : gen_(&gen), packing_(packing) {}

  // Uniform in [0, 1) and in [lo, hi).
  double uniform() {
    const auto w = next_pair();
    return detail::uniform_from<double>(w[0], w[1]);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // true with probability p: one uniform draw, made whatever p is.
  bool bernoulli(double p) { return uniform() < p; }
  // An integer uniform on [0, n), n >= 1.
  int64_t integer(int64_t n) {
    VOXNN_CHECK(n > 0, "RandomStream::integer: cannot draw from the empty range [0, ", n, ")");
    const auto w = next_pair();
    const uint64_t r = (uint64_t{w[0]} << 32) | w[1];
    return static_cast<int64_t>(r % static_cast<uint64_t>(n));
  }
  // A standard normal. Without a spare value from the last block, it starts a fresh block (the unused
  // half of a partly used one is skipped) and keeps the block's second normal for the next call; a
  // block_per_draw stream uses only the first.
  double normal() {
    if (spare_) {
      const double z = *spare_;
      spare_.reset();
      return z;
    }
    const auto z = detail::normal_pair<double>(gen_->block(gen_->reserve(1)));
    used_ = 2;
    if (packing_ == Packing::dense) spare_ = z[1];
    return z[0];
  }

 private:
  std::array<uint32_t, 2> next_pair() {
    if (used_ == 2 || packing_ == Packing::block_per_draw) {
      words_ = gen_->block(gen_->reserve(1));
      used_ = 0;
    }
    const std::array<uint32_t, 2> w{words_[2 * used_], words_[2 * used_ + 1]};
    ++used_;
    return w;
  }

  Generator* gen_;
  Packing packing_;
  int used_ = 2;  // word pairs of words_ already drawn
  std::array<uint32_t, 4> words_{};
  std::optional<double> spare_;
};

// A 64-bit seed drawn from `gen` (one block).
inline uint64_t draw_seed(Generator& gen = default_generator()) {
  const auto w = gen.block(gen.reserve(1));
  return (uint64_t{w[0]} << 32) | w[1];
}
// The rule for an own generator under an optional seed: Generator(*seed), or, without one, a generator
// seeded by one draw from default_generator() (so manual_seed() makes it reproducible).
inline uint64_t seed_from(std::optional<uint64_t> seed) { return seed ? *seed : draw_seed(); }
inline Generator generator_from(std::optional<uint64_t> seed) { return Generator(seed_from(seed)); }

// The rule for a single call under an optional seed: with a seed, a fresh Generator(*seed) held here;
// without one, `fallback` itself (default_generator() unless given), whose offset the draws advance.
class SeedOrGenerator {
 public:
  explicit SeedOrGenerator(std::optional<uint64_t> seed, Generator& fallback = default_generator())
      : own_(seed.value_or(0)), use_(seed ? &own_ : &fallback) {}
  SeedOrGenerator(const SeedOrGenerator&) = delete;
  SeedOrGenerator& operator=(const SeedOrGenerator&) = delete;
  Generator& get() { return *use_; }

 private:
  Generator own_;
  Generator* use_;
};

}  // namespace voxnn
