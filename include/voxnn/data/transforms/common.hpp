#pragma once
// What every sample transform shares: the shape checks of a sample ([C, X, Y, Z] image, label on the
// same grid), scalar random draws from the sample's generator, and the affine of a voxel-index map.
#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "voxnn/core/error.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::data::detail {

using Size3 = std::array<int64_t, 3>;

// The spatial shape (X, Y, Z) of a sample, after checking that the image is [C, X, Y, Z] with C >= 1
// and that the label, when present, is [L, X, Y, Z] on the same grid.
template <class T>
Size3 spatial_shape(const Sample<T>& s, const char* op) {
  VOXNN_CHECK(s.image.defined() && s.image.dim() == 4, op, ": image has shape ",
              s.image.defined() ? s.image.shape() : Shape{}, "; expected [C, X, Y, Z]");
  VOXNN_CHECK(s.image.size(0) >= 1, op, ": image ", s.image.shape(), " has no channel");
  const Size3 sp{s.image.size(1), s.image.size(2), s.image.size(3)};
  if (s.label) {
    const auto& l = *s.label;
    VOXNN_CHECK(l.defined() && l.dim() == 4 && l.size(0) >= 1 && l.size(1) == sp[0] && l.size(2) == sp[1] &&
                    l.size(3) == sp[2],
                op, ": label has shape ", l.defined() ? l.shape() : Shape{}, "; expected [L, ", sp[0], ", ", sp[1],
                ", ", sp[2], "] like the image ", s.image.shape());
  }
  return sp;
}

inline void check_prob(double prob, const char* op) {
  VOXNN_CHECK(prob >= 0 && prob <= 1, op, ": prob ", prob, " is outside [0, 1]");
}

// One uniform double in [0, 1) from one generator block.
inline double uniform01(Generator& gen) {
  const auto w = gen.block(gen.reserve(1));
  return voxnn::detail::uniform_from<double>(w[0], w[1]);
}
inline double uniform(Generator& gen, double low, double high) { return low + (high - low) * uniform01(gen); }
// Whether a transform with probability `prob` runs: one draw, made whatever prob is (so that the draws
// that follow do not depend on it).
inline bool bernoulli(Generator& gen, double prob) { return uniform01(gen) < prob; }
// An integer uniform on [0, n), n >= 1.
inline int64_t randint(Generator& gen, int64_t n) {
  const auto w = gen.block(gen.reserve(1));
  const uint64_t r = (uint64_t{w[0]} << 32) | w[1];
  return static_cast<int64_t>(r % static_cast<uint64_t>(n));
}

// affine * translate(offset): the voxel-to-world map of a grid whose voxel 0 sits at voxel `offset`
// of the old grid (a crop at offset o, a pad by p at offset -p).
inline io::Affine shifted(const io::Affine& a, const Size3& offset) {
  io::Affine t;
  for (int r = 0; r < 3; ++r) t.m[r][3] = static_cast<double>(offset[r]);
  return a * t;
}

// Normalises MONAI's / numpy's pad mode names to ops::pad's: edge -> replicate, wrap -> circular.
inline std::string pad_mode_name(const std::string& mode, const char* op) {
  if (mode == "constant" || mode == "reflect" || mode == "replicate" || mode == "circular") return mode;
  if (mode == "edge") return "replicate";
  if (mode == "wrap") return "circular";
  VOXNN_CHECK(false, op, ": unknown pad mode '", mode, "'; expected constant, reflect, replicate (edge) or circular (wrap)");
  return {};
}

}  // namespace voxnn::data::detail
