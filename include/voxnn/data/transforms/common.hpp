#pragma once
// What every sample transform shares: the shape checks of a sample ([C, X, Y, Z] image, label on the
// same grid), how scalar random draws are taken from the sample's generator, and the affine of a
// voxel-index map.
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

// The scalar draws of a transform from the sample's generator: each draw (uniform, bernoulli, integer)
// takes one block of its own, so a transform's `prob` draw comes first whatever prob is and the draws
// that follow do not depend on it.
inline RandomStream draws(Generator& gen) { return RandomStream(gen, RandomStream::Packing::block_per_draw); }

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
