#pragma once
// Colours for voxnn's pictures: a gray ramp for intensities, a viridis-like ramp for error and
// probability maps, distinct colours for label overlays, and line colours for plots.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "voxnn/viz/image.hpp"

namespace voxnn::viz {

// t in [0, 1] (clamped) to black..white; NaN is black.
inline Rgb gray(double t) {
  if (!(t > 0)) return {0, 0, 0};
  const auto v = static_cast<uint8_t>(std::lround(std::min(t, 1.0) * 255.0));
  return {v, v, v};
}

// The fraction of the window [lower, upper] that value reaches, clamped to [0, 1]; NaN stays NaN.
// An empty window (upper <= lower) maps values above it to 1 and the rest to 0.
inline double window_fraction(double value, double lower, double upper) {
  if (std::isnan(value)) return value;
  if (!(upper > lower)) return value > upper ? 1.0 : 0.0;
  return std::clamp((value - lower) / (upper - lower), 0.0, 1.0);
}

// A perceptually ordered dark-blue -> green -> yellow ramp: linear interpolation between 17 anchors
// sampled from matplotlib's viridis (whose colour data is public domain, CC0). t is clamped to
// [0, 1]; NaN is black.
inline Rgb viridis(double t) {
  static constexpr std::array<std::array<uint8_t, 3>, 17> kAnchors{{
      {68, 1, 84},    {72, 24, 106},  {71, 45, 123},  {66, 64, 134},  {59, 82, 139},   {51, 99, 141},
      {44, 114, 142}, {38, 130, 142}, {33, 145, 140}, {31, 160, 136}, {40, 174, 128},  {63, 188, 115},
      {94, 201, 98},  {132, 212, 75}, {173, 220, 48}, {216, 226, 25}, {253, 231, 37},
  }};
  if (std::isnan(t)) return {0, 0, 0};
  const double s = std::clamp(t, 0.0, 1.0) * (kAnchors.size() - 1);
  const auto i = std::min<std::size_t>(static_cast<std::size_t>(s), kAnchors.size() - 2);
  const double f = s - static_cast<double>(i);
  auto channel = [&](int c) {
    return static_cast<uint8_t>(std::lround((1 - f) * kAnchors[i][c] + f * kAnchors[i + 1][c]));
  };
  return {channel(0), channel(1), channel(2)};
}

// Hue h in [0, 1) (wrapped), saturation and value in [0, 1].
inline Rgb hsv(double h, double s, double v) {
  h = (h - std::floor(h)) * 6.0;
  const int sector = std::min(static_cast<int>(h), 5);
  const double f = h - sector, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = v, g = t, b = p;
  switch (sector) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
  }
  auto byte = [](double x) { return static_cast<uint8_t>(std::lround(std::clamp(x, 0.0, 1.0) * 255)); };
  return {byte(r), byte(g), byte(b)};
}

// The overlay colour of label value `label` (> 0; 0 is background and is not drawn). Labels 1..12
// get hand-picked colours that differ from each other and from gray; larger labels step the hue
// by the golden ratio, so neighbouring values still differ. Negative labels use |label|.
inline Rgb label_color(int64_t label) {
  static constexpr std::array<Rgb, 12> kTable{{
      {255, 64, 64},   // red
      {64, 200, 64},   // green
      {64, 128, 255},  // blue
      {255, 210, 0},   // yellow
      {0, 220, 220},   // cyan
      {230, 60, 230},  // magenta
      {255, 140, 0},   // orange
      {150, 90, 255},  // violet
      {150, 230, 50},  // lime
      {255, 130, 180}, // pink
      {0, 150, 140},   // teal
      {180, 120, 60},  // brown
  }};
  const uint64_t k = label < 0 ? uint64_t(0) - static_cast<uint64_t>(label) : static_cast<uint64_t>(label);
  if (k == 0) return {0, 0, 0};
  if (k <= kTable.size()) return kTable[k - 1];
  return hsv(0.07 + 0.6180339887498949 * static_cast<double>(k % 1000003), 0.8, 1.0);
}

// Line colour of the i-th series of a plot, chosen to read well on white.
inline Rgb series_color(std::size_t i) {
  static constexpr std::array<Rgb, 10> kTable{{
      {31, 100, 200},   // blue
      {230, 110, 20},   // orange
      {40, 160, 60},    // green
      {210, 40, 40},    // red
      {140, 80, 190},   // purple
      {140, 90, 70},    // brown
      {220, 100, 180},  // pink
      {110, 110, 110},  // gray
      {170, 170, 30},   // olive
      {20, 170, 190},   // cyan
  }};
  return kTable[i % kTable.size()];
}

}  // namespace voxnn::viz
