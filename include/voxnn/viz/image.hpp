#pragma once
// An RGB canvas for voxnn's pictures (slice montages, plots): pixels, alpha blending, rectangles,
// anti-aliased lines, filled polygons, and text in the built-in bitmap font (viz/font.hpp).
// Coordinates are pixels with (0, 0) at the top-left corner, x to the right and y down; a pixel
// (x, y) covers the square [x, x + 1) x [y, y + 1), so its centre is (x + 0.5, y + 0.5). Drawing is
// clipped to the canvas: nothing outside it is touched and no call fails for being off-canvas.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/io/png.hpp"
#include "voxnn/viz/font.hpp"

namespace voxnn::viz {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

// (1 - alpha) * under + alpha * over, rounded; alpha is clamped to [0, 1].
inline Rgb mix(Rgb under, Rgb over, double alpha) {
  alpha = std::clamp(alpha, 0.0, 1.0);
  auto m = [alpha](uint8_t u, uint8_t o) {
    return static_cast<uint8_t>(std::lround((1.0 - alpha) * u + alpha * o));
  };
  return {m(under.r, over.r), m(under.g, over.g), m(under.b, over.b)};
}

class Image {
 public:
  Image() = default;
  Image(int width, int height, Rgb background = {}) : width_(width), height_(height) {
    VOXNN_CHECK(width >= 0 && height >= 0, "viz::Image: negative size ", width, "x", height);
    pixels_.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3);
    fill(background);
  }

  int width() const { return width_; }
  int height() const { return height_; }
  bool contains(int x, int y) const { return x >= 0 && y >= 0 && x < width_ && y < height_; }
  // Interleaved RGB bytes, rows top to bottom.
  const std::vector<uint8_t>& pixels() const { return pixels_; }
  std::vector<uint8_t>& pixels() { return pixels_; }

  Rgb get(int x, int y) const {
    VOXNN_CHECK(contains(x, y), "viz::Image::get: pixel (", x, ", ", y, ") is outside the ", width_, "x",
                height_, " image");
    const uint8_t* p = &pixels_[index(x, y)];
    return {p[0], p[1], p[2]};
  }
  void set(int x, int y, Rgb c) {
    if (!contains(x, y)) return;
    uint8_t* p = &pixels_[index(x, y)];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  void blend(int x, int y, Rgb c, double alpha) {
    if (!contains(x, y) || !(alpha > 0)) return;
    set(x, y, alpha >= 1 ? c : mix(get(x, y), c, alpha));
  }
  void fill(Rgb c) {
    for (std::size_t i = 0; i < pixels_.size(); i += 3) {
      pixels_[i] = c.r;
      pixels_[i + 1] = c.g;
      pixels_[i + 2] = c.b;
    }
  }

  // The pixels [x, x + w) x [y, y + h), clipped.
  void fill_rect(int x, int y, int w, int h, Rgb c, double alpha = 1.0) {
    const int x0 = std::max(x, 0), y0 = std::max(y, 0);
    const int x1 = std::min<int64_t>(int64_t{x} + w, width_), y1 = std::min<int64_t>(int64_t{y} + h, height_);
    for (int yy = y0; yy < y1; ++yy)
      for (int xx = x0; xx < x1; ++xx) blend(xx, yy, c, alpha);
  }
  // The outline of [x, x + w) x [y, y + h), `thickness` pixels wide, inside the rectangle.
  void draw_rect(int x, int y, int w, int h, Rgb c, int thickness = 1) {
    const int t = std::max(1, std::min({thickness, (w + 1) / 2, (h + 1) / 2}));
    fill_rect(x, y, w, t, c);
    fill_rect(x, y + h - t, w, t, c);
    fill_rect(x, y + t, t, h - 2 * t, c);
    fill_rect(x + w - t, y + t, t, h - 2 * t, c);
  }

  // An anti-aliased line segment between two points (pixel coordinates, so (x + 0.5, y + 0.5) is a
  // pixel centre), `width` pixels wide with round caps: each pixel is blended by how much of it the
  // stroke covers (estimated from the distance of its centre to the segment).
  void draw_line(double x0, double y0, double x1, double y1, Rgb c, double width = 1.0, double alpha = 1.0) {
    if (!(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1))) return;
    const double half = std::max(width, 0.0) / 2;
    const double reach = half + 1.0;
    const double bx0 = std::min(x0, x1) - reach, bx1 = std::max(x0, x1) + reach;
    const double by0 = std::min(y0, y1) - reach, by1 = std::max(y0, y1) + reach;
    if (bx1 < 0 || by1 < 0 || bx0 > width_ || by0 > height_) return;
    // clamped to the canvas before the casts (a far-off end point would overflow an int)
    const int ix0 = static_cast<int>(std::floor(std::max(bx0, 0.0)));
    const int ix1 = static_cast<int>(std::ceil(std::min(bx1, static_cast<double>(width_ - 1))));
    const int iy0 = static_cast<int>(std::floor(std::max(by0, 0.0)));
    const int iy1 = static_cast<int>(std::ceil(std::min(by1, static_cast<double>(height_ - 1))));
    const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    for (int y = iy0; y <= iy1; ++y)
      for (int x = ix0; x <= ix1; ++x) {
        const double px = x + 0.5 - x0, py = y + 0.5 - y0;
        const double t = len2 > 0 ? std::clamp((px * dx + py * dy) / len2, 0.0, 1.0) : 0.0;
        const double ex = px - t * dx, ey = py - t * dy;
        const double coverage = std::clamp(half + 0.5 - std::sqrt(ex * ex + ey * ey), 0.0, 1.0);
        if (coverage > 0) blend(x, y, c, alpha * coverage);
      }
  }

  // A filled polygon (even-odd rule): the pixels whose centres lie inside. Not anti-aliased.
  void fill_polygon(const std::vector<std::array<double, 2>>& points, Rgb c, double alpha = 1.0) {
    if (points.size() < 3) return;
    std::vector<double> crossings;
    for (int y = 0; y < height_; ++y) {
      const double cy = y + 0.5;
      crossings.clear();
      for (std::size_t i = 0; i < points.size(); ++i) {
        const auto& p = points[i];
        const auto& q = points[(i + 1) % points.size()];
        if ((p[1] <= cy) != (q[1] <= cy)) crossings.push_back(p[0] + (cy - p[1]) / (q[1] - p[1]) * (q[0] - p[0]));
      }
      std::sort(crossings.begin(), crossings.end());
      for (std::size_t i = 0; i + 1 < crossings.size(); i += 2) {
        // pixel x is inside when crossings[i] <= x + 0.5 < crossings[i + 1]
        const double a = std::max(crossings[i] - 0.5, -1.0), b = std::min(crossings[i + 1] - 0.5, double(width_));
        for (int x = static_cast<int>(std::ceil(a)); x < b; ++x) blend(x, y, c, alpha);
      }
    }
  }

  // Copies `source` with its top-left corner at (x, y), clipped.
  void blit(const Image& source, int x, int y) {
    for (int sy = 0; sy < source.height(); ++sy)
      for (int sx = 0; sx < source.width(); ++sx) {
        if (!contains(x + sx, y + sy)) continue;
        const uint8_t* p = &source.pixels_[source.index(sx, sy)];
        set(x + sx, y + sy, {p[0], p[1], p[2]});
      }
  }

  // One line of text with its top-left corner at (x, y): glyph pixels become scale x scale blocks.
  // Lowercase descenders reach 2 * scale pixels below the baseline at y + 7 * scale.
  void draw_text(int x, int y, std::string_view text, Rgb c, int scale = 1) {
    scale = std::max(scale, 1);
    for (std::size_t i = 0; i < text.size(); ++i) {
      const font::Glyph& g = font::glyph(text[i]);
      const int gx = x + static_cast<int>(i) * font::kAdvance * scale;
      for (int row = 0; row < font::kGlyphRows; ++row)
        for (int col = 0; col < font::kGlyphWidth; ++col)
          if (font::ink(g, col, row)) fill_rect(gx + col * scale, y + row * scale, scale, scale, c);
    }
  }
  // Text turned 90 degrees counter-clockwise (read from bottom to top, as a y-axis label), with the
  // top-left corner of its bounding box at (x, y): the box is text_height wide and text_width tall.
  void draw_text_vertical(int x, int y, std::string_view text, Rgb c, int scale = 1) {
    scale = std::max(scale, 1);
    const int length = font::text_width(text, scale);
    for (std::size_t i = 0; i < text.size(); ++i) {
      const font::Glyph& g = font::glyph(text[i]);
      const int along = static_cast<int>(i) * font::kAdvance * scale;
      for (int row = 0; row < font::kGlyphRows; ++row)
        for (int col = 0; col < font::kGlyphWidth; ++col)
          if (font::ink(g, col, row))  // unrotated (along + col, row) -> (row, length - 1 - along - col)
            fill_rect(x + row * scale, y + length - (along + (col + 1) * scale), scale, scale, c);
    }
  }

  io::PngImage to_png() const { return {width_, height_, 3, pixels_}; }

  // An image from a decoded PNG: gray is repeated into R, G, B; alpha is composited over `background`.
  static Image from_png(const io::PngImage& png, Rgb background = {255, 255, 255}) {
    VOXNN_CHECK(png.channels >= 1 && png.channels <= 4 &&
                    png.pixels.size() == static_cast<std::size_t>(png.width) * png.height * png.channels,
                "viz::Image::from_png: inconsistent ", png.width, "x", png.height, "x", png.channels, " image with ",
                png.pixels.size(), " bytes");
    Image img(png.width, png.height, background);
    for (int y = 0; y < png.height; ++y)
      for (int x = 0; x < png.width; ++x) {
        const uint8_t* p = png.at(x, y);
        const bool rgb = png.channels >= 3;
        const Rgb c = rgb ? Rgb{p[0], p[1], p[2]} : Rgb{p[0], p[0], p[0]};
        const int alpha = png.channels == 2 ? p[1] : png.channels == 4 ? p[3] : 255;
        img.blend(x, y, c, alpha / 255.0);
      }
    return img;
  }

 private:
  std::size_t index(int x, int y) const {
    return (static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) + static_cast<std::size_t>(x)) * 3;
  }

  int width_ = 0, height_ = 0;
  std::vector<uint8_t> pixels_;
};

}  // namespace voxnn::viz
