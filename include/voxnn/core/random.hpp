#pragma once
// Reproducible random numbers from a counter-based generator (Philox-4x32-10): element i of a draw
// depends only on (seed, offset, i), so results do not change with the number of threads.
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>

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

}  // namespace voxnn
