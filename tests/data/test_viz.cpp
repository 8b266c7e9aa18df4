// viz: the bitmap font, the RGB canvas, colour maps, slice montages (which voxel lands on which
// pixel, in which orientation, at which aspect ratio; windows; label overlays; layout) and line plots
// (curve pixels where the data says, ticks, log scale, loss curves from a CSV log).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <voxnn/core/factory.hpp>
#include <voxnn/io/nifti.hpp>
#include <voxnn/io/orientation.hpp>
#include <voxnn/io/png.hpp>
#include <voxnn/io/volume.hpp>
#include <voxnn/train/csv_log.hpp>
#include <voxnn/viz/colormap.hpp>
#include <voxnn/viz/font.hpp>
#include <voxnn/viz/image.hpp>
#include <voxnn/viz/montage.hpp>
#include <voxnn/viz/plot.hpp>

#include "support/temp_file.hpp"
#include "support/shared_data.hpp"

using namespace voxnn;
using test::TempFile;
using Catch::Contains;

namespace {

template <class T = float>
io::Volume<T> make_volume(std::array<int64_t, 3> shape, const std::function<double(int64_t, int64_t, int64_t)>& f,
                          io::Affine affine = {}) {
  std::vector<T> v;
  v.reserve(static_cast<std::size_t>(shape[0] * shape[1] * shape[2]));
  for (int64_t i = 0; i < shape[0]; ++i)
    for (int64_t j = 0; j < shape[1]; ++j)
      for (int64_t k = 0; k < shape[2]; ++k) v.push_back(static_cast<T>(f(i, j, k)));
  return {from_vector<T>(v, {shape[0], shape[1], shape[2]}), affine};
}

// A value that identifies its voxel and is an exact gray level under the window (0, 255).
double code(int64_t i, int64_t j, int64_t k) { return static_cast<double>(3 * i + 7 * j + 11 * k); }

viz::MontageOptions exact(viz::MontageOptions o = {}) {
  o.window = std::pair{0.0, 255.0};
  o.scale = 1;
  o.annotate = false;
  return o;
}

uint8_t red(const viz::Image& img, int x, int y) { return img.get(x, y).r; }

// Every pixel of `view` compared with the voxel that should land there.
int mismatches(const viz::Image& view, int w, int h, const std::function<double(int, int)>& expected) {
  if (view.width() != w || view.height() != h) return -1;
  int bad = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const viz::Rgb c = view.get(x, y);
      const auto e = static_cast<uint8_t>(expected(x, y));
      bad += c.r != e || c.g != e || c.b != e;
    }
  return bad;
}

double color_distance(viz::Rgb a, viz::Rgb b) {
  return std::abs(a.r - b.r) + std::abs(a.g - b.g) + std::abs(a.b - b.b);
}

}  // namespace

// ---- font and canvas ----------------------------------------------------------------------------

TEST_CASE("viz font: glyph bitmaps, fallbacks and text extents", "[data][viz]") {
  const viz::font::Glyph& one = viz::font::glyph('1');
  const uint8_t expected_one[9] = {0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0, 0};
  for (int r = 0; r < 9; ++r) CHECK(one[r] == expected_one[r]);
  const viz::font::Glyph& g = viz::font::glyph('g');
  CHECK(g[8] == 0b01110);  // descender
  CHECK(viz::font::glyph('\x01') == viz::font::glyph('?'));
  CHECK(viz::font::glyph('\xe9') == viz::font::glyph('?'));
  CHECK(viz::font::glyph(' ') == viz::font::Glyph{});
  // every glyph the plots and montages need exists and differs from every other
  const std::string needed = "0123456789.-+:/% ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz()[]_=,'\"!<>#*|^~&@$;";
  std::set<viz::font::Glyph> seen;
  for (char c : needed) {
    INFO("glyph '" << c << "'");
    CHECK(seen.insert(viz::font::glyph(c)).second);
  }
  CHECK(viz::font::text_width("") == 0);
  CHECK(viz::font::text_width("ab") == 11);
  CHECK(viz::font::text_width("ab", 3) == 33);
  CHECK(viz::font::text_height(2) == 14);
}

TEST_CASE("viz image: text renders the glyph bitmaps, scaled and turned", "[data][viz]") {
  viz::Image img(30, 20, {0, 0, 0});
  const viz::Rgb white{255, 255, 255};
  img.draw_text(2, 3, "7%", white, 1);
  for (int r = 0; r < 9; ++r)
    for (int c = 0; c < 5; ++c) {
      INFO("row " << r << " col " << c);
      CHECK((img.get(2 + c, 3 + r) == white) == viz::font::ink(viz::font::glyph('7'), c, r));
      CHECK((img.get(8 + c, 3 + r) == white) == viz::font::ink(viz::font::glyph('%'), c, r));
    }
  viz::Image big(20, 20, {0, 0, 0});
  big.draw_text(0, 0, "e", white, 2);
  for (int y = 0; y < 18; ++y)
    for (int x = 0; x < 10; ++x) CHECK((big.get(x, y) == white) == viz::font::ink(viz::font::glyph('e'), x / 2, y / 2));
  // vertical text: the horizontal rendering turned 90 degrees counter-clockwise
  viz::Image h(11, 9, {0, 0, 0}), v(9, 11, {0, 0, 0});
  h.draw_text(0, 0, "Ab", white);
  v.draw_text_vertical(0, 0, "Ab", white);
  for (int y = 0; y < 9; ++y)
    for (int x = 0; x < 11; ++x) CHECK(h.get(x, y) == v.get(y, 10 - x));
  // clipping: drawing off the canvas changes nothing and does not fail
  viz::Image small(4, 4, {9, 9, 9});
  small.draw_text(-100, -100, "text", white, 3);
  small.draw_line(-50, -50, -10, -20, white, 3);
  small.fill_rect(5, 5, 10, 10, white);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) CHECK(small.get(x, y) == viz::Rgb{9, 9, 9});
}

TEST_CASE("viz image: lines, rectangles, polygons, blending and PNG conversion", "[data][viz]") {
  viz::Image img(20, 12, {255, 255, 255});
  const viz::Rgb blue{0, 0, 255};
  img.draw_line(3.5, 5.5, 15.5, 5.5, blue, 1.0);  // along the centres of row 5
  for (int x = 3; x <= 15; ++x) CHECK(img.get(x, 5) == blue);
  CHECK(img.get(10, 3) == viz::Rgb{255, 255, 255});
  CHECK(img.get(10, 7) == viz::Rgb{255, 255, 255});
  CHECK(img.get(0, 5) == viz::Rgb{255, 255, 255});
  // a diagonal: full colour on the pixels it passes through the centre of
  viz::Image d(10, 10, {255, 255, 255});
  d.draw_line(0.5, 0.5, 9.5, 9.5, blue, 1.5);
  for (int t = 0; t < 10; ++t) CHECK(d.get(t, t) == blue);
  CHECK(d.get(8, 1) == viz::Rgb{255, 255, 255});

  viz::Image r(10, 10, {0, 0, 0});
  r.draw_rect(1, 1, 8, 6, {255, 0, 0});
  CHECK(r.get(1, 1) == viz::Rgb{255, 0, 0});
  CHECK(r.get(8, 6) == viz::Rgb{255, 0, 0});
  CHECK(r.get(4, 3) == viz::Rgb{0, 0, 0});
  r.fill_rect(0, 0, 2, 2, {0, 255, 0}, 0.5);
  CHECK(r.get(0, 0) == viz::Rgb{0, 128, 0});
  CHECK(viz::mix({0, 0, 0}, {255, 100, 10}, 0.4) == viz::Rgb{102, 40, 4});

  viz::Image p(10, 10, {0, 0, 0});
  p.fill_polygon({{2, 2}, {8, 2}, {8, 6}, {2, 6}}, {1, 2, 3});
  int inside = 0;
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 10; ++x) inside += p.get(x, y) == viz::Rgb{1, 2, 3};
  CHECK(inside == 24);  // pixel centres in [2, 8) x [2, 6)
  CHECK(p.get(2, 2) == viz::Rgb{1, 2, 3});
  CHECK(p.get(8, 2) == viz::Rgb{0, 0, 0});

  const io::PngImage png = img.to_png();
  CHECK(png.channels == 3);
  const viz::Image back = viz::Image::from_png(io::decode_png(io::encode_png(png)));
  CHECK(back.pixels() == img.pixels());
  // gray+alpha is composited over the background
  const viz::Image ga = viz::Image::from_png({1, 1, 2, {200, 0}}, {10, 20, 30});
  CHECK(ga.get(0, 0) == viz::Rgb{10, 20, 30});
}

TEST_CASE("viz colormaps: gray, viridis, label and series colours", "[data][viz]") {
  CHECK(viz::gray(0) == viz::Rgb{0, 0, 0});
  CHECK(viz::gray(1) == viz::Rgb{255, 255, 255});
  CHECK(viz::gray(2) == viz::Rgb{255, 255, 255});
  CHECK(viz::gray(NAN) == viz::Rgb{0, 0, 0});
  CHECK(viz::gray(0.5) == viz::Rgb{128, 128, 128});
  CHECK(viz::viridis(0) == viz::Rgb{68, 1, 84});
  CHECK(viz::viridis(1) == viz::Rgb{253, 231, 37});
  CHECK(viz::window_fraction(5, 0, 10) == 0.5);
  CHECK(viz::window_fraction(-5, 0, 10) == 0);
  CHECK(viz::window_fraction(50, 0, 10) == 1);
  CHECK(viz::window_fraction(3, 3, 3) == 0);
  CHECK(std::isnan(viz::window_fraction(NAN, 0, 1)));
  // viridis grows in lightness
  double previous = -1;
  for (int i = 0; i <= 20; ++i) {
    const viz::Rgb c = viz::viridis(i / 20.0);
    const double lightness = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
    CHECK(lightness > previous);
    previous = lightness;
  }
  // label colours: distinct, far from gray, and neighbours differ well beyond the table
  for (int64_t a = 1; a <= 40; ++a) {
    const viz::Rgb c = viz::label_color(a);
    CHECK(std::max({c.r, c.g, c.b}) - std::min({c.r, c.g, c.b}) >= 100);
    for (int64_t b = a + 1; b <= std::min<int64_t>(a + 3, 40); ++b) CHECK(color_distance(c, viz::label_color(b)) > 60);
    for (int64_t b = a + 1; b <= 12 && a <= 12; ++b) CHECK(color_distance(c, viz::label_color(b)) > 60);
  }
  CHECK(viz::label_color(-3) == viz::label_color(3));
  CHECK(viz::series_color(0) != viz::series_color(1));
  CHECK(viz::series_color(10) == viz::series_color(0));
}

// ---- montages ------------------------------------------------------------------------------------

TEST_CASE("viz montage: each voxel of the mid-slices lands on its pixel (RAS volume)", "[data][viz]") {
  // shape 8 x 10 x 12, 1 mm, identity affine: i -> x (R), j -> y (A), k -> z (S); mid voxel (4, 5, 6)
  const auto vol = make_volume({8, 10, 12}, code);
  const auto o = exact();
  using viz::Plane;
  // sagittal: anterior (j) to the right, superior (k) up
  CHECK(mismatches(viz::slice_image(vol, Plane::sagittal, o), 10, 12, [](int x, int y) { return code(4, x, 11 - y); }) == 0);
  // coronal: subject's left (small i) on the left, superior up
  CHECK(mismatches(viz::slice_image(vol, Plane::coronal, o), 8, 12, [](int x, int y) { return code(x, 5, 11 - y); }) == 0);
  // axial: left on the left, anterior up
  CHECK(mismatches(viz::slice_image(vol, Plane::axial, o), 8, 10, [](int x, int y) { return code(x, 9 - y, 6); }) == 0);
  // chosen slices
  auto at = o;
  at.slices = std::array<int64_t, 3>{1, 2, 3};
  CHECK(mismatches(viz::slice_image(vol, Plane::sagittal, at), 10, 12, [](int x, int y) { return code(1, x, 11 - y); }) == 0);
  CHECK(mismatches(viz::slice_image(vol, Plane::coronal, at), 8, 12, [](int x, int y) { return code(x, 2, 11 - y); }) == 0);
  CHECK(mismatches(viz::slice_image(vol, Plane::axial, at), 8, 10, [](int x, int y) { return code(x, 9 - y, 3); }) == 0);
  // radiological convention: the subject's right on the screen's left in coronal and axial views only
  auto radio = o;
  radio.radiological = true;
  CHECK(mismatches(viz::slice_image(vol, Plane::coronal, radio), 8, 12, [](int x, int y) { return code(7 - x, 5, 11 - y); }) == 0);
  CHECK(mismatches(viz::slice_image(vol, Plane::axial, radio), 8, 10, [](int x, int y) { return code(7 - x, 9 - y, 6); }) == 0);
  CHECK(mismatches(viz::slice_image(vol, Plane::sagittal, radio), 10, 12, [](int x, int y) { return code(4, x, 11 - y); }) == 0);
}

TEST_CASE("viz montage: orientation follows the affine (flipped and permuted axes)", "[data][viz]") {
  using viz::Plane;
  const auto o = exact();
  // LAS: voxel i runs to the subject's left, so the screen shows it mirrored
  io::Affine las;
  las(0, 0) = -1;
  las(0, 3) = 7;
  const auto flipped = make_volume({8, 10, 12}, code, las);
  CHECK(mismatches(viz::slice_image(flipped, Plane::coronal, o), 8, 12, [](int x, int y) { return code(7 - x, 5, 11 - y); }) == 0);
  CHECK(mismatches(viz::slice_image(flipped, Plane::axial, o), 8, 10, [](int x, int y) { return code(7 - x, 9 - y, 6); }) == 0);
  // flipped mid voxel: n / 2 = 4 is still the plane shown
  CHECK(mismatches(viz::slice_image(flipped, Plane::sagittal, o), 10, 12, [](int x, int y) { return code(4, x, 11 - y); }) == 0);

  // The same anatomy stored with voxel axes (S, R, A), at a small oblique rotation: the picture is the
  // RAS volume's picture.
  const auto ras = make_volume({8, 10, 12}, code);
  io::Affine sra;
  const double c = std::cos(0.05), s = std::sin(0.05);
  sra.m = {{{0, c, -s, 0}, {0, s, c, 0}, {1, 0, 0, 0}, {0, 0, 0, 1}}};  // column 0 -> z, 1 -> ~x, 2 -> ~y
  const auto permuted = make_volume({12, 8, 10}, [](int64_t a, int64_t b, int64_t cc) { return code(b, cc, a); }, sra);
  auto p = o;
  p.slices = std::array<int64_t, 3>{6, 4, 5};
  for (Plane plane : {Plane::sagittal, Plane::coronal, Plane::axial}) {
    INFO("plane " << static_cast<int>(plane));
    CHECK(viz::slice_image(permuted, plane, p).pixels() == viz::slice_image(ras, plane, o).pixels());
  }

  // A strongly sheared grid takes the display axes nibabel's io_orientation gives it (LIP here; picking
  // the largest remaining direction cosine first would say ILP): its pictures are those of the same
  // voxels under the unsheared LIP affine. Columns of unit length, so both have 1 mm spacing.
  const double m[3][3] = {{-1.265, -0.623, 0.041}, {-2.325, -0.219, -1.246}, {-0.732, -0.544, -0.316}};
  io::Affine sheared, lip;
  for (int col = 0; col < 3; ++col) {
    const double norm = std::sqrt(m[0][col] * m[0][col] + m[1][col] * m[1][col] + m[2][col] * m[2][col]);
    for (int row = 0; row < 3; ++row) sheared.m[row][col] = m[row][col] / norm;
  }
  lip.m = {{{-1, 0, 0, 0}, {0, 0, -1, 0}, {0, -1, 0, 0}, {0, 0, 0, 1}}};
  REQUIRE(io::axcodes_string(sheared) == "LIP");
  const auto sheared_volume = make_volume({8, 10, 12}, code, sheared);
  const auto lip_volume = make_volume({8, 10, 12}, code, lip);
  for (Plane plane : {Plane::sagittal, Plane::coronal, Plane::axial}) {
    INFO("plane " << static_cast<int>(plane));
    const viz::Image a = viz::slice_image(sheared_volume, plane, o), b = viz::slice_image(lip_volume, plane, o);
    CHECK(a.width() == b.width());
    CHECK(a.pixels() == b.pixels());
  }
  // the sagittal view of the LIP grid shows voxel axes k (A, flipped) across and j (S, flipped) up
  CHECK(mismatches(viz::slice_image(lip_volume, Plane::sagittal, o), 12, 10,
                   [](int x, int y) { return code(4, y, 11 - x); }) == 0);
}

TEST_CASE("viz montage: anisotropic voxels are shown at their physical aspect ratio", "[data][viz]") {
  using viz::Plane;
  // 8 x 10 x 4 voxels of 1 x 1 x 3 mm: the coronal view is 8 mm wide and 12 mm tall
  const auto vol = make_volume({8, 10, 4}, code, io::Affine::from_spacing({1, 1, 3}));
  const auto o = exact();  // scale 1: one pixel per smallest spacing (1 mm)
  const viz::Image cor = viz::slice_image(vol, Plane::coronal, o);
  REQUIRE(cor.width() == 8);
  REQUIRE(cor.height() == 12);
  // each slab of 3 rows shows one k; the pixel centres of a slab's middle row sit on the voxel centre
  for (int x = 0; x < 8; ++x)
    for (int k = 0; k < 4; ++k) CHECK(red(cor, x, 1 + 3 * (3 - k)) == code(x, 5, k));
  // and rows between two voxels interpolate linearly (bilinear display)
  CHECK(red(cor, 2, 0) == code(2, 5, 3));  // beyond the last voxel centre: clamped
  CHECK(std::abs(red(cor, 2, 3) - (2 * code(2, 5, 2) + code(2, 5, 3)) / 3.0) <= 1);
  const viz::Image ax = viz::slice_image(vol, Plane::axial, o);
  CHECK(ax.width() == 8);
  CHECK(ax.height() == 10);
  // auto size: the largest extent (12 mm) becomes 256 pixels
  auto automatic = o;
  automatic.scale = 0;
  const viz::Image sag = viz::slice_image(vol, Plane::sagittal, automatic);
  CHECK(sag.height() == 256);
  CHECK(sag.width() == std::lround(10 * 256 / 12.0));
}

TEST_CASE("viz montage: intensity window from percentiles, NaN voxels", "[data][viz]") {
  // values 0..999 in a shuffled order: numpy.percentile([0..999], [0.5, 99.5]) = [4.995, 994.005]
  std::vector<int> perm(1000);
  for (int i = 0; i < 1000; ++i) perm[static_cast<std::size_t>(i)] = i;
  std::shuffle(perm.begin(), perm.end(), std::mt19937(3));
  const auto vol = make_volume({10, 10, 10}, [&](int64_t i, int64_t j, int64_t k) { return perm[static_cast<std::size_t>(i * 100 + j * 10 + k)]; });
  const auto w = viz::intensity_window(vol);
  CHECK(w.first == Approx(4.995).margin(1e-9));
  CHECK(w.second == Approx(994.005).margin(1e-9));
  viz::MontageOptions o;
  o.lower_percentile = 0;
  o.upper_percentile = 100;
  CHECK(viz::intensity_window(vol, o) == std::pair{0.0, 999.0});
  o.window = std::pair{-1.0, 2.0};
  CHECK(viz::intensity_window(vol, o) == std::pair{-1.0, 2.0});
  o = {};
  o.lower_percentile = 60;
  o.upper_percentile = 40;
  REQUIRE_THROWS_WITH(viz::intensity_window(vol, o), Contains("viz::montage: percentiles must satisfy"));

  // NaN voxels are left out of the percentiles and drawn black
  auto with_nan = make_volume({4, 4, 4}, [](int64_t i, int64_t j, int64_t k) { return i == 0 ? NAN : double(i + j + k); });
  const auto wn = viz::intensity_window(with_nan, [] { viz::MontageOptions m; m.lower_percentile = 0; m.upper_percentile = 100; return m; }());
  CHECK(wn == std::pair{1.0, 9.0});
  auto e = exact();
  e.window = std::pair{1.0, 9.0};
  const viz::Image cor = viz::slice_image(with_nan, viz::Plane::coronal, e);
  CHECK(cor.get(0, 2) == viz::Rgb{0, 0, 0});
  CHECK(cor.get(3, 0) == viz::gray((3 + 2 + 3 - 1) / 8.0));

  // a volume larger than 2^20 voxels is sampled: its window is within 0.1% of the exact one
  const auto large = make_volume({128, 128, 80}, [](int64_t i, int64_t j, int64_t k) { return std::sin(0.37 * i) * 100 + j + 0.5 * k; });
  const auto approx = viz::intensity_window(large);
  std::vector<double> all(large.data.numel());
  for (std::size_t n = 0; n < all.size(); ++n) all[n] = large.data.data()[n];
  std::sort(all.begin(), all.end());
  auto exact_percentile = [&](double p) {
    const double pos = p / 100 * static_cast<double>(all.size() - 1);
    const auto lo = static_cast<std::size_t>(pos);
    return all[lo] + (pos - static_cast<double>(lo)) * (all[lo + 1] - all[lo]);
  };
  const double range = all.back() - all.front();
  CHECK(std::abs(approx.first - exact_percentile(0.5)) < 1e-3 * range);
  CHECK(std::abs(approx.second - exact_percentile(99.5)) < 1e-3 * range);
}

TEST_CASE("viz montage: label overlay blends label colours; outline draws boundaries", "[data][viz]") {
  using viz::Plane;
  const auto vol = make_volume({8, 10, 12}, code);
  // label 1 in the box i in [2, 6), j in [3, 8), k in [4, 9); label 2 at one voxel
  const auto label = make_volume<double>({8, 10, 12}, [](int64_t i, int64_t j, int64_t k) {
    if (i == 7 && j == 0 && k == 6) return 2.0;
    return (i >= 2 && i < 6 && j >= 3 && j < 8 && k >= 4 && k < 9) ? 1.0 : 0.0;
  });
  auto o = exact();
  o.overlay_alpha = 0.4;
  const viz::Image ax = viz::slice_image(vol, label, Plane::axial, o);  // k = 6: x = i, y = 9 - j
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 8; ++x) {
      const int64_t i = x, j = 9 - y;
      const auto g = static_cast<uint8_t>(code(i, j, 6));
      const bool in = i >= 2 && i < 6 && j >= 3 && j < 8;
      const viz::Rgb expected = i == 7 && j == 0 ? viz::mix({g, g, g}, viz::label_color(2), 0.4)
                                : in            ? viz::mix({g, g, g}, viz::label_color(1), 0.4)
                                                : viz::Rgb{g, g, g};
      INFO("pixel " << x << ", " << y);
      CHECK(ax.get(x, y) == expected);
    }
  o.outline = true;
  const viz::Image outline = viz::slice_image(vol, label, Plane::axial, o);
  CHECK(outline.get(2, 9 - 3) == viz::label_color(1));  // corner of the box
  CHECK(outline.get(3, 9 - 3) == viz::label_color(1));  // edge
  const auto g = static_cast<uint8_t>(code(3, 5, 6));
  CHECK(outline.get(3, 9 - 5) == viz::Rgb{g, g, g});  // inside: untouched
  // an integer label volume works too, and a mismatched grid is refused
  const auto int_label = io::Volume<int64_t>{zeros<int64_t>({8, 10, 12}), {}};
  CHECK(viz::slice_image(vol, int_label, Plane::axial, exact()).pixels() == viz::slice_image(vol, Plane::axial, exact()).pixels());
  REQUIRE_THROWS_WITH(viz::montage(vol, io::Volume<float>{zeros<float>({8, 10, 11}), {}}),
                      Contains("viz::montage: the label's spatial shape 8x10x11 differs"));
  REQUIRE_THROWS_WITH(viz::montage(vol, io::Volume<float>{zeros<float>({8, 10, 12}), io::Affine::from_spacing({2, 1, 1})}),
                      Contains("the label's affine differs"));
}

TEST_CASE("viz montage: layout of the three views, title, comparison columns", "[data][viz]") {
  using viz::Plane;
  const auto vol = make_volume({8, 10, 12}, code);
  auto o = exact();
  o.scale = 3;
  const io::PngImage m = viz::montage(vol, o);
  const viz::Image sag = viz::slice_image(vol, Plane::sagittal, o), cor = viz::slice_image(vol, Plane::coronal, o),
                   ax = viz::slice_image(vol, Plane::axial, o);
  // views left to right with 4-pixel gaps, centred vertically
  REQUIRE(m.width == 4 + sag.width() + 4 + cor.width() + 4 + ax.width() + 4);
  const int row = std::max({sag.height(), cor.height(), ax.height()});
  REQUIRE(m.height == row + 8);
  const viz::Image mi = viz::Image::from_png(m);
  auto contains = [&](const viz::Image& big, const viz::Image& view, int x0, int y0) {
    int bad = 0;
    for (int y = 0; y < view.height(); ++y)
      for (int x = 0; x < view.width(); ++x) bad += !(big.get(x0 + x, y0 + y) == view.get(x, y));
    return bad;
  };
  CHECK(contains(mi, sag, 4, 4 + (row - sag.height()) / 2) == 0);
  CHECK(contains(mi, cor, 8 + sag.width(), 4 + (row - cor.height()) / 2) == 0);
  CHECK(contains(mi, ax, 12 + sag.width() + cor.width(), 4 + (row - ax.height()) / 2) == 0);
  // a title adds a line above
  o.title = "T1 + labels";
  const io::PngImage titled = viz::montage(vol, o);
  CHECK(titled.height > m.height);
  CHECK(titled.width >= m.width);
  // annotations draw letters on the views (white pixels appear on a black volume)
  const auto black = make_volume({8, 10, 12}, [](int64_t, int64_t, int64_t) { return 0.0; });
  auto annotated = exact();
  annotated.scale = 8;
  annotated.annotate = true;
  const viz::Image view = viz::slice_image(black, Plane::axial, annotated);
  int white = 0;
  for (int y = 0; y < view.height(); ++y)
    for (int x = 0; x < view.width(); ++x) white += view.get(x, y) == viz::Rgb{255, 255, 255};
  CHECK(white > 50);

  // comparison: one column per volume, the planes stacked, each column its own window unless shared
  auto half = make_volume({8, 10, 12}, [](int64_t i, int64_t j, int64_t k) { return code(i, j, k) / 2; });
  auto c = exact();
  c.scale = 2;
  c.window.reset();
  c.lower_percentile = 0;
  c.upper_percentile = 100;
  const std::vector<std::pair<std::string, io::Volume<float>>> columns{{"input", vol}, {"prediction", half}, {"target", vol}};
  const viz::Image cmp = viz::Image::from_png(viz::comparison(columns, c));
  const viz::Image cor_full = viz::slice_image(vol, Plane::coronal, c), cor_half = viz::slice_image(half, Plane::coronal, c);
  CHECK(cor_full.pixels() == cor_half.pixels());  // own windows: the same picture
  c.shared_window = true;
  const viz::Image shared = viz::Image::from_png(viz::comparison(columns, c));
  CHECK(shared.width() == cmp.width());
  CHECK(shared.height() == cmp.height());
  CHECK(shared.pixels() != cmp.pixels());  // the halved column is darker under one window
  // the header holds the names; the width fits three columns of the widest view
  CHECK(cmp.width() >= 3 * std::max({sag.width(), cor.width(), ax.width()}) * 2 / 3);
  // the label may have any element type (as for montage), given directly or as an optional
  const auto box = [](int64_t i, int64_t j, int64_t k) {
    return (i >= 2 && i < 6 && j >= 3 && j < 8 && k >= 4 && k < 9) ? 1.0 : 0.0;
  };
  const io::PngImage with_float = viz::comparison(columns, c, std::optional(make_volume<float>({8, 10, 12}, box)));
  CHECK(with_float.pixels != viz::comparison(columns, c).pixels);
  CHECK(viz::comparison(columns, c, make_volume<int64_t>({8, 10, 12}, box)).pixels == with_float.pixels);
  CHECK(viz::comparison(columns, c, std::optional(make_volume<uint8_t>({8, 10, 12}, box))).pixels == with_float.pixels);
  REQUIRE_THROWS_WITH(viz::comparison(columns, c, make_volume<int32_t>({8, 10, 11}, box)),
                      Contains("the label's spatial shape 8x10x11"));
  REQUIRE_THROWS_WITH(viz::comparison<float>({{"a", vol}, {"b", make_volume({8, 10, 11}, code)}}),
                      Contains("viz::comparison: volume \"b\" has spatial shape 8x10x11"));
  REQUIRE_THROWS_WITH(viz::comparison<float>({}), Contains("no volumes"));
}

TEST_CASE("viz montage: errors name the problem; 4D volumes show their first volume", "[data][viz]") {
  const auto vol = make_volume({8, 10, 12}, code);
  auto o = exact();
  o.slices = std::array<int64_t, 3>{4, 10, 6};
  REQUIRE_THROWS_WITH(viz::montage(vol, o), Contains("viz::montage: slice index 10 is outside axis 1"));
  o = exact();
  o.colormap = "jet";
  REQUIRE_THROWS_WITH(viz::montage(vol, o), Contains("unknown colormap \"jet\""));
  REQUIRE_THROWS_WITH(viz::montage(io::Volume<float>{zeros<float>({4, 4}), {}}), Contains("expected at least 3 dims"));
  REQUIRE_THROWS_WITH(viz::montage(io::Volume<float>{zeros<float>({4, 0, 4}), {}}), Contains("empty spatial axis"));
  o = exact();
  o.scale = 65;
  REQUIRE_THROWS_WITH(viz::montage(vol, o), Contains("scale 65 is outside 0..64"));
  // 4D: [i, j, k, t]; t = 0 is shown
  std::vector<float> v4;
  for (int64_t i = 0; i < 8; ++i)
    for (int64_t j = 0; j < 10; ++j)
      for (int64_t k = 0; k < 12; ++k)
        for (int t = 0; t < 2; ++t) v4.push_back(t == 0 ? static_cast<float>(code(i, j, k)) : 77.f);
  const io::Volume<float> four{from_vector<float>(v4, {8, 10, 12, 2}), {}};
  CHECK(viz::montage(four, exact()).pixels == viz::montage(vol, exact()).pixels);
  // a viridis montage is coloured
  auto vir = exact();
  vir.colormap = "viridis";
  const viz::Image vi = viz::slice_image(vol, viz::Plane::axial, vir);
  CHECK(vi.get(0, 9) == viz::viridis(code(0, 0, 6) / 255.0));
}

TEST_CASE("viz montage: the MNI152 T1 with its gray-matter map as overlay (shared data)", "[data][viz]") {
  const std::string t1_file = "mni152_2009a/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz";
  const std::string gm_file = "mni152_2009a/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz";
  if (!test::have_shared_file(t1_file) || !test::have_shared_file(gm_file)) return;
  const auto t1 = io::read_nifti<float>(test::shared_path(t1_file));
  auto gm = io::read_nifti<float>(test::shared_path(gm_file));  // uint8 probabilities 0..255
  REQUIRE(t1.data.shape() == Shape{197, 233, 189});
  float* p = gm.data.data();
  for (int64_t n = 0; n < gm.data.numel(); ++n) p[n] = p[n] > 127.5f ? 1.f : 0.f;
  const io::PngImage png = viz::montage(t1, gm, {.title = "MNI152 T1 + GM"});
  // 1 mm voxels, largest extent 233 mm -> 256 pixels: views 256x208 (sagittal), 216x208, 216x256
  const viz::Image sag = viz::slice_image(t1, viz::Plane::sagittal), ax = viz::slice_image(t1, viz::Plane::axial);
  CHECK(sag.width() == 256);
  CHECK(sag.height() == std::lround(189 * 256 / 233.0));
  CHECK(ax.width() == std::lround(197 * 256 / 233.0));
  CHECK(ax.height() == 256);
  // gray matter covers a good part of the axial mid-slice: count overlay-tinted pixels
  const viz::Image axg = viz::slice_image(t1, gm, viz::Plane::axial, {.annotate = false});
  int tinted = 0;
  for (int y = 0; y < axg.height(); ++y)
    for (int x = 0; x < axg.width(); ++x) {
      const viz::Rgb c = axg.get(x, y);
      tinted += c.r > c.g + 20;
    }
  CHECK(tinted > axg.width() * axg.height() / 10);
  CHECK(png.width > 3 * 216);
}

// ---- plots ---------------------------------------------------------------------------------------

TEST_CASE("viz plot: the curve's pixels are where the data puts them", "[data][viz]") {
  std::vector<std::pair<double, double>> line;
  for (int i = 0; i <= 10; ++i) line.emplace_back(i, i);
  const std::vector<viz::Series> series{{"train", line}};
  viz::PlotOptions o;
  o.title = "y = x";
  const viz::PlotFrame f = viz::plot_frame(series, o);
  CHECK(f.x_ticks == std::vector<double>{0, 2, 4, 6, 8, 10});
  CHECK(f.y_ticks == std::vector<double>{0, 2, 4, 6, 8, 10});
  const viz::Image img = viz::Image::from_png(viz::plot(series, o));
  REQUIRE(img.width() == 800);
  REQUIRE(img.height() == 500);
  const viz::Rgb blue = viz::series_color(0);
  for (double t = 0.25; t <= 9.75; t += 0.5) {
    const int x = static_cast<int>(std::floor(f.px(t))), y = static_cast<int>(std::floor(f.py(t)));
    INFO("t = " << t << " at pixel " << x << ", " << y);
    CHECK(color_distance(img.get(x, y), blue) < 40);
  }
  // far from the curve (data point (8.3, 2.3)): paper or grid
  const viz::Rgb off = img.get(static_cast<int>(f.px(8.3)), static_cast<int>(f.py(2.3)));
  CHECK(off.r == off.g);
  CHECK(off.g == off.b);
  CHECK(off.r > 200);
  // the frame is drawn just outside the axes box
  CHECK(color_distance(img.get(f.left - 1, (f.top + f.bottom) / 2), {40, 40, 40}) == 0);
}

TEST_CASE("viz plot: log scale, gaps at NaN, two series, tick labels", "[data][viz]") {
  std::vector<std::pair<double, double>> a, b;
  for (int i = 0; i <= 40; ++i) a.emplace_back(i, std::pow(10.0, -i / 10.0));  // 1 .. 1e-4: straight on a log axis
  for (int i = 0; i <= 40; i += 5) b.emplace_back(i, i == 20 ? NAN : 2 * std::pow(10.0, -i / 10.0));
  viz::PlotOptions o;
  o.log_y = true;
  const std::vector<viz::Series> series{{"loss", a}, {"val_loss", b}};
  const viz::PlotFrame f = viz::plot_frame(series, o);
  CHECK(f.y_ticks.front() == Approx(1e-4));
  CHECK(f.y_ticks.back() == Approx(1));
  CHECK(f.y_ticks.size() == 5);  // decades only over 4.6 decades
  CHECK_FALSE(f.y_minor_ticks.empty());
  const viz::Image img = viz::Image::from_png(viz::plot(series, o));
  // midway between two logged points, the straight log-space line passes through the geometric mean
  for (double t = 1.5; t < 14; t += 1.0) {
    const double y = std::pow(10.0, -t / 10.0);
    CHECK(color_distance(img.get(static_cast<int>(f.px(t)), static_cast<int>(f.py(y))), viz::series_color(0)) < 60);
  }
  // the second series breaks at its NaN point: nothing of its colour between x = 15 and x = 25 near it
  const viz::Rgb orange = viz::series_color(1);
  CHECK(color_distance(img.get(static_cast<int>(f.px(20)), static_cast<int>(f.py(2e-2))), orange) > 100);
  CHECK(color_distance(img.get(static_cast<int>(f.px(27.5)), static_cast<int>(f.py(2 * std::pow(10.0, -2.75)))), orange) < 60);

  // tick labels
  CHECK(viz::detail::plot::tick_label(0.5, 0.5, 2) == "0.5");
  CHECK(viz::detail::plot::tick_label(0, 0.5, 2) == "0.0");
  CHECK(viz::detail::plot::tick_label(1500, 500, 3000) == "1500");
  CHECK(viz::detail::plot::tick_label(2e6, 1e6, 5e6) == "2e6");
  CHECK(viz::detail::plot::tick_label(2.5e-5, 5e-6, 5e-5) == "2.5e-5");
  CHECK(viz::detail::plot::decade_label(-2) == "0.01");
  CHECK(viz::detail::plot::decade_label(3) == "1000");
  CHECK(viz::detail::plot::decade_label(-6) == "1e-6");
  // a narrow log range labels 2 and 5 (or every digit) too
  const viz::PlotFrame narrow = viz::plot_frame({{"", {{0, 0.2}, {1, 0.9}}}}, o);
  CHECK(narrow.y_ticks.size() >= 3);
  // empty input still draws axes; a tiny picture is refused
  CHECK(viz::plot({}, {}).width == 800);
  viz::PlotOptions tiny;
  tiny.width = 50;
  REQUIRE_THROWS_WITH(viz::plot(series, tiny), Contains("viz::plot: size 50x500"));
}

TEST_CASE("viz loss_curve: a CSV training log to a plot", "[data][viz]") {
  TempFile csv(".csv");
  {
    train::CsvLog log(csv.path);
    for (int step = 1; step <= 50; ++step) {
      train::CsvLog::Row row{{"epoch", step / 10}, {"step", step}, {"loss", 1.0 / step}};
      if (step % 10 == 0) row.emplace_back("val_loss", 1.5 / step);
      log.write(row);
    }
  }
  const io::PngImage png = viz::loss_curve(csv.path, {"loss", "val_loss"}, {.title = "run 1", .log_y = true});
  CHECK(png.width == 800);
  CHECK(png.channels == 3);
  // the plot equals plot() of the same series against the step column
  std::vector<std::pair<double, double>> loss, val;
  for (int step = 1; step <= 50; ++step) {
    loss.emplace_back(step, 1.0 / step);
    if (step % 10 == 0) val.emplace_back(step, 1.5 / step);
  }
  CHECK(png.pixels == viz::plot({{"loss", loss}, {"val_loss", val}}, {.title = "run 1", .log_y = true}).pixels);
  REQUIRE_THROWS_WITH(viz::loss_curve(csv.path, {"dice"}), Contains("viz::loss_curve:") && Contains("no column \"dice\""));
}

TEST_CASE("viz plot: extreme values draw (ranges widened relatively, clamped to finite)", "[data][viz]") {
  const double big = std::numeric_limits<double>::max();
  // every frame: finite ranges, x_min < x_max, y_min < y_max, ticks present, inside the range and on
  // the picture; the plot itself draws
  auto check_frame = [](const std::vector<viz::Series>& series, const viz::PlotOptions& o) {
    const viz::PlotFrame f = viz::plot_frame(series, o);
    REQUIRE(std::isfinite(f.x_min));
    REQUIRE(std::isfinite(f.x_max));
    REQUIRE(std::isfinite(f.y_min));
    REQUIRE(std::isfinite(f.y_max));
    CHECK(f.x_min < f.x_max);
    CHECK(f.y_min < f.y_max);
    CHECK_FALSE(f.x_ticks.empty());
    CHECK_FALSE(f.y_ticks.empty());
    for (double t : f.x_ticks) CHECK((f.px(t) >= f.left - 1 && f.px(t) <= f.right + 1));
    for (double t : f.y_ticks) CHECK((f.py(t) >= f.top - 1 && f.py(t) <= f.bottom + 1));
    const io::PngImage png = viz::plot(series, o);
    CHECK(png.width == o.width);
    return f;
  };
  viz::PlotOptions o;
  // one x beyond 2^53: +-0.5 would vanish in rounding, so the range widens by 10% of |x|
  const viz::PlotFrame one = check_frame({{"loss", {{1e20, 0.5}}}}, o);
  CHECK(one.x_min < 1e20);
  CHECK(one.x_max > 1e20);
  CHECK(one.x_max - one.x_min == Approx(2.08e19));  // 2e19 plus 2% on each side
  check_frame({{"loss", {{1e20, 0.5}, {1e20 + 16384, 0.25}}}}, o);  // distinct, but 1e-16 apart
  check_frame({{"loss", {{-3e300, 0.5}}}}, o);
  // y near +-max: the width would overflow to infinity; the range is clamped instead
  check_frame({{"", {{0, -1e308}, {1, 1e308}}}}, o);
  check_frame({{"", {{0, big}, {1, big}}}}, o);
  check_frame({{"", {{-big, -big}, {big, big}}}}, o);
  check_frame({{"", {{0, 1e-320}, {1, 3e-320}}}}, o);  // subnormal values
  check_frame({{"", {{0, 1e-320}}}}, o);
  // log scale over the whole double range, and at its ends
  o.log_y = true;
  const viz::PlotFrame wide = check_frame({{"", {{0, 1e-320}, {1, big}}}}, o);
  CHECK(wide.y_ticks.size() <= 20);  // every n-th decade labelled, not 600 of them
  check_frame({{"", {{0, big}, {1, big}}}}, o);
  check_frame({{"", {{0, 5e-324}}}}, o);
  // no usable tick step at all: the two ends are the ticks
  CHECK(viz::detail::plot::linear_ticks(1e20, 1e20, 5) == std::vector<double>{1e20, 1e20});
  CHECK(viz::detail::plot::pixel(std::numeric_limits<double>::quiet_NaN()) == -(1 << 24));
  CHECK(viz::detail::plot::pixel(1e300) == (1 << 24));
  CHECK(viz::detail::plot::pixel(-2.5) == -3);
}
