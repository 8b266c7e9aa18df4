#pragma once
// Line plots as PNG images: one or more named series of (x, y) points, with axes, "nice" ticks
// (1, 2, 5 times a power of ten; decades on a log scale) and numeric labels, light grid lines, a
// legend, a title and axis labels; and loss_curve(), the plot of chosen columns of a CSV training log
// (train::CsvLog) against its "step" (or "epoch") column.
//
// Points whose x or y is NaN or infinite are left out and break the line there; with log_y, so are
// points with y <= 0. Lines are anti-aliased and drawn in the order given, in series_color(i).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/io/png.hpp"
#include "voxnn/train/csv_log.hpp"
#include "voxnn/viz/colormap.hpp"
#include "voxnn/viz/font.hpp"
#include "voxnn/viz/image.hpp"

namespace voxnn::viz {

struct PlotOptions {
  std::string title = {}, x_label = "step", y_label = "loss";
  bool log_y = false;
  int width = 800, height = 500;
};

using Series = std::pair<std::string, std::vector<std::pair<double, double>>>;

// Where the axes sit in the picture and which data range they show; plot() draws with this mapping
// (exposed so that tests and callers can find a data point's pixel).
struct PlotFrame {
  int left = 0, top = 0, right = 0, bottom = 0;  // the axes' pixel box [left, right) x [top, bottom)
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  bool log_y = false;
  int text_scale = 1;
  std::vector<double> x_ticks, y_ticks;  // tick positions in data units, labelled
  std::vector<double> y_minor_ticks;     // log scale: unlabelled 2..9 x 10^k ticks

  // Pixel coordinates (continuous: pixel (x, y) spans [x, x + 1)) of a data point.
  double px(double x) const { return left + (x - x_min) / (x_max - x_min) * (right - left); }
  double py(double y) const {
    const double t = log_y ? (std::log10(y) - std::log10(y_min)) / (std::log10(y_max) - std::log10(y_min))
                           : (y - y_min) / (y_max - y_min);
    return bottom - t * (bottom - top);
  }
};

namespace detail::plot {

inline bool usable(double x, double y, bool log_y) {
  return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
}

// floor(v) as an int within [lo, hi]; NaN gives lo (a cast of NaN or of an out-of-range value is UB).
inline int floor_to_int(double v, int lo, int hi) {
  if (!(v >= lo)) return lo;
  if (v >= hi) return hi;
  return static_cast<int>(std::floor(v));
}

// A pixel coordinate as an int, far off the canvas when the value is huge or NaN.
inline int pixel(double v) { return floor_to_int(v, -(1 << 24), 1 << 24); }

// Data ranges are kept within +-kMaxMagnitude so that their widths, pads and pixel mappings stay
// finite (a wider range would overflow to infinity); points beyond it are drawn outside the axes.
inline constexpr double kMaxMagnitude = 4e307;

// Widens [lo, hi] around its values when it is empty or too narrow for distinct ticks: by 10% of the
// magnitude, at least by `least` on each side when that is representable next to the values.
inline void widen_degenerate(double& lo, double& hi, double least) {
  const double magnitude = std::max(std::abs(lo), std::abs(hi));
  if (hi - lo > magnitude * 1e-12) return;
  const double half = std::max(least, 0.1 * magnitude);
  lo -= half;
  hi += half;
}

// The 1-2-5 step that splits `range` into about `count` intervals.
inline double nice_step(double range, int count) {
  const double raw = range / std::max(count, 1);
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

// Ticks at the multiples of a nice step within [lo, hi]; the two ends when no step works (a range
// too narrow or too wide for doubles).
inline std::vector<double> linear_ticks(double lo, double hi, int count) {
  const double step = nice_step(hi - lo, count);
  std::vector<double> ticks;
  if (std::isfinite(step) && step > 0 && std::isfinite(lo / step) && std::isfinite(hi / step))
    for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step && ticks.size() < 100; k += 1)
      ticks.push_back(std::abs(k) < 0.5 ? 0.0 : k * step);
  if (ticks.empty()) ticks = {lo, hi};
  return ticks;
}

// Compact scientific form: 1e-05 -> "1e-5", 2.5e+06 -> "2.5e6".
inline std::string scientific(double v, int significant) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*e", std::max(significant - 1, 0), v);
  std::string s = buf;
  const auto e = s.find('e');
  std::string mantissa = s.substr(0, e);
  if (mantissa.find('.') != std::string::npos) {
    while (mantissa.back() == '0') mantissa.pop_back();
    if (mantissa.back() == '.') mantissa.pop_back();
  }
  const int exponent = std::stoi(s.substr(e + 1));
  return mantissa + "e" + std::to_string(exponent);
}

// Labels for ticks `step` apart: fixed decimals for ordinary magnitudes, scientific otherwise.
inline std::string tick_label(double v, double step, double largest) {
  if (largest >= 1e6 || largest < 1e-3) {
    if (v == 0) return "0";
    const int digits = floor_to_int(std::floor(std::log10(std::abs(v))) - std::floor(std::log10(step)), 0, 5) + 1;
    return scientific(v, digits);
  }
  const int decimals = floor_to_int(-std::floor(std::log10(step) + 1e-9), 0, 9);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

inline std::string decade_label(int k) {
  if (k >= -3 && k <= 4) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", std::max(-k, 0), std::pow(10.0, k));
    return buf;
  }
  return "1e" + std::to_string(k);
}

inline std::string log_tick_label(double v) {
  const double k = std::log10(v);
  if (std::abs(k - std::round(k)) < 1e-9) return decade_label(static_cast<int>(std::round(k)));
  if (v >= 1e-3 && v < 1e5) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }
  return scientific(v, 1);
}

inline std::vector<std::string> y_labels(const PlotFrame& f) {
  std::vector<std::string> labels;
  double largest = 0;
  for (double t : f.y_ticks) largest = std::max(largest, std::abs(t));
  const double step = f.y_ticks.size() > 1 ? f.y_ticks[1] - f.y_ticks[0] : 1.0;
  for (double t : f.y_ticks) labels.push_back(f.log_y ? log_tick_label(t) : tick_label(t, step, largest));
  return labels;
}

inline std::vector<std::string> x_labels(const PlotFrame& f) {
  std::vector<std::string> labels;
  double largest = 0;
  for (double t : f.x_ticks) largest = std::max(largest, std::abs(t));
  const double step = f.x_ticks.size() > 1 ? f.x_ticks[1] - f.x_ticks[0] : 1.0;
  for (double t : f.x_ticks) labels.push_back(tick_label(t, step, largest));
  return labels;
}

}  // namespace detail::plot

// The axes box and data ranges plot() uses for these series and options.
inline PlotFrame plot_frame(const std::vector<Series>& series, const PlotOptions& o = {}) {
  namespace d = detail::plot;
  VOXNN_CHECK(o.width >= 120 && o.height >= 80 && o.width <= 16384 && o.height <= 16384, "viz::plot: size ", o.width,
              "x", o.height, " is outside 120x80 .. 16384x16384");
  PlotFrame f;
  f.log_y = o.log_y;
  f.text_scale = std::max(1, std::min(o.width, o.height) / 250);
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const auto& s : series)
    for (const auto& [x, y] : s.second)
      if (d::usable(x, y, o.log_y)) {
        x_lo = std::min(x_lo, x);
        x_hi = std::max(x_hi, x);
        y_lo = std::min(y_lo, y);
        y_hi = std::max(y_hi, y);
      }
  if (!(x_lo <= x_hi)) x_lo = 0, x_hi = 1;
  if (!(y_lo <= y_hi)) {
    y_lo = o.log_y ? 0.1 : 0;
    y_hi = 1;
  }
  x_lo = std::clamp(x_lo, -d::kMaxMagnitude, d::kMaxMagnitude);
  x_hi = std::clamp(x_hi, -d::kMaxMagnitude, d::kMaxMagnitude);
  d::widen_degenerate(x_lo, x_hi, 0.5);
  const double x_pad = 0.02 * (x_hi - x_lo);
  f.x_min = x_lo - x_pad;
  f.x_max = x_hi + x_pad;
  if (o.log_y) {
    // decades within +-280, so that the padded ends stay normal, finite doubles
    double a = std::clamp(std::log10(y_lo), -280.0, 280.0), b = std::clamp(std::log10(y_hi), -280.0, 280.0);
    if (b - a < 1e-9) a -= 0.5, b += 0.5;
    const double pad = 0.04 * (b - a);
    f.y_min = std::pow(10.0, a - pad);
    f.y_max = std::pow(10.0, b + pad);
    const int k0 = static_cast<int>(std::floor(a - pad)), k1 = static_cast<int>(std::ceil(b + pad));
    const double decades = b - a + 2 * pad;
    // every decade up to about one label per 45 pixels; every 2nd, 5th, ... decade beyond
    const double room = std::max(4, o.height / 45);
    int every = 1;
    for (int e : {2, 5, 10, 20, 50, 100})
      if (decades / every > room) every = e;
    for (int k = k0; k <= k1; ++k) {
      const double p = std::pow(10.0, k);
      for (int m = 1; m <= 9; ++m) {
        const double v = m * p;
        if (v < f.y_min || v > f.y_max) continue;
        // decades always; 2 and 5 as well over at most 2.5 decades; every 1..9 within one
        const bool labelled = (m == 1 && k % every == 0) || (decades <= 2.5 && (m == 2 || m == 5)) || decades <= 1;
        if (labelled) f.y_ticks.push_back(v);
        else if (decades <= 8) f.y_minor_ticks.push_back(v);
      }
    }
    if (f.y_ticks.size() < 2) {  // less than a decade without a power of ten or 2, 5 inside: label the ends
      f.y_ticks = {f.y_min, f.y_max};
    }
  } else {
    y_lo = std::clamp(y_lo, -d::kMaxMagnitude, d::kMaxMagnitude);
    y_hi = std::clamp(y_hi, -d::kMaxMagnitude, d::kMaxMagnitude);
    // a constant: +-10% of it (+-0.5 around 0, and around values too small for 10% to be normal)
    if (y_hi - y_lo <= std::max(std::abs(y_lo), std::abs(y_hi)) * 1e-12) {
      const double magnitude = std::max(std::abs(y_lo), std::abs(y_hi));
      const double half = magnitude >= 1e-290 ? magnitude * 0.1 : 0.5;
      y_lo -= half, y_hi += half;
    }
    const double pad = 0.05 * (y_hi - y_lo);
    f.y_min = y_lo - pad;
    f.y_max = y_hi + pad;
    f.y_ticks = d::linear_ticks(f.y_min, f.y_max, std::max(3, o.height / 90));
  }
  f.x_ticks = d::linear_ticks(f.x_min, f.x_max, std::max(3, o.width / 130));

  // Margins: room for tick labels, axis labels and the title.
  const int ts = f.text_scale, th = font::text_height(ts), gap = 4 * ts;
  int y_label_width = 0;
  for (const auto& s : d::y_labels(f)) y_label_width = std::max(y_label_width, font::text_width(s, ts));
  f.left = gap + (o.y_label.empty() ? 0 : th + 2 * gap) + y_label_width + gap + 3 * ts;
  const auto x_tick_labels = d::x_labels(f);
  const int last_label = x_tick_labels.empty() ? 0 : font::text_width(x_tick_labels.back(), ts);
  f.right = o.width - std::max(gap * 3, last_label / 2 + gap);
  f.top = o.title.empty() ? 3 * gap : th + font::kGlyphRows * ts + 3 * gap;
  f.bottom = o.height - (gap + 3 * ts + th + gap + (o.x_label.empty() ? 0 : th + 2 * gap));
  VOXNN_CHECK(f.right - f.left >= 20 && f.bottom - f.top >= 20, "viz::plot: a ", o.width, "x", o.height,
              " picture leaves no room for the axes");
  return f;
}

// A line plot of the series (name, points). See the top of this file.
inline io::PngImage plot(const std::vector<Series>& series, const PlotOptions& o = {}) {
  namespace d = detail::plot;
  const PlotFrame f = plot_frame(series, o);
  const int ts = f.text_scale, th = font::text_height(ts), gap = 4 * ts;
  const Rgb white{255, 255, 255}, ink{40, 40, 40}, grid{225, 225, 225}, minor_grid{242, 242, 242};
  Image img(o.width, o.height, white);

  // grid, then the frame and ticks
  for (double t : f.y_minor_ticks) {
    img.fill_rect(f.left, d::pixel(f.py(t)), f.right - f.left, 1, minor_grid);
  }
  for (double t : f.x_ticks) img.fill_rect(d::pixel(f.px(t)), f.top, 1, f.bottom - f.top, grid);
  for (double t : f.y_ticks) img.fill_rect(f.left, d::pixel(f.py(t)), f.right - f.left, 1, grid);

  // the series, clipped to the axes box
  Image plot_area(f.right - f.left, f.bottom - f.top, white);
  plot_area.blit(img, -f.left, -f.top);
  const double line_width = std::max(1.5, 1.0 * ts);
  for (std::size_t s = 0; s < series.size(); ++s) {
    const Rgb c = series_color(s);
    const auto& points = series[s].second;
    for (std::size_t i = 0; i < points.size(); ++i) {
      const auto [x, y] = points[i];
      if (!d::usable(x, y, o.log_y)) continue;
      const double ax = f.px(x) - f.left, ay = f.py(y) - f.top;
      const bool next_ok = i + 1 < points.size() && d::usable(points[i + 1].first, points[i + 1].second, o.log_y);
      const bool prev_ok = i > 0 && d::usable(points[i - 1].first, points[i - 1].second, o.log_y);
      if (next_ok) {
        plot_area.draw_line(ax, ay, f.px(points[i + 1].first) - f.left, f.py(points[i + 1].second) - f.top, c,
                            line_width);
      } else if (!prev_ok) {
        plot_area.draw_line(ax, ay, ax, ay, c, line_width + 2);  // an isolated point: a dot
      }
    }
  }
  img.blit(plot_area, f.left, f.top);
  img.draw_rect(f.left - 1, f.top - 1, f.right - f.left + 2, f.bottom - f.top + 2, ink);

  const int tick = 3 * ts;
  const auto xl = d::x_labels(f);
  for (std::size_t i = 0; i < f.x_ticks.size(); ++i) {
    const int x = d::pixel(f.px(f.x_ticks[i]));
    img.fill_rect(x, f.bottom + 1, 1, tick, ink);
    img.draw_text(x - font::text_width(xl[i], ts) / 2, f.bottom + 1 + tick + gap / 2, xl[i], ink, ts);
  }
  const auto yl = d::y_labels(f);
  for (std::size_t i = 0; i < f.y_ticks.size(); ++i) {
    const int y = d::pixel(f.py(f.y_ticks[i]));
    img.fill_rect(f.left - 1 - tick, y, tick, 1, ink);
    img.draw_text(f.left - 1 - tick - gap / 2 - font::text_width(yl[i], ts), y - th / 2, yl[i], ink, ts);
  }
  for (double t : f.y_minor_ticks) img.fill_rect(f.left - 1 - tick / 2, d::pixel(f.py(t)), tick / 2, 1, ink);

  if (!o.title.empty()) {
    const int x = (f.left + f.right - font::text_width(o.title, ts)) / 2;
    img.draw_text(x, 2 * gap, o.title, ink, ts);
    img.draw_text(x + 1, 2 * gap, o.title, ink, ts);  // bold
  }
  if (!o.x_label.empty())
    img.draw_text((f.left + f.right - font::text_width(o.x_label, ts)) / 2, o.height - gap - th - gap / 2, o.x_label, ink,
                  ts);
  if (!o.y_label.empty())
    img.draw_text_vertical(gap, (f.top + f.bottom - font::text_width(o.y_label, ts)) / 2, o.y_label, ink, ts);

  // legend: inside the axes, when any series has a name
  bool named = false;
  int name_width = 0;
  for (const auto& s : series) {
    named = named || !s.first.empty();
    name_width = std::max(name_width, font::text_width(s.first, ts));
  }
  if (named && !series.empty()) {
    const int swatch = 8 * ts, row = font::kLineHeight * ts + ts;
    const int box_w = gap + swatch + gap + name_width + gap, box_h = gap + row * static_cast<int>(series.size());
    // the corner whose box covers the least of the data (matplotlib's loc="best", in spirit):
    // upper right, upper left, lower left, lower right, the first of the emptiest
    const std::array<std::array<int, 2>, 4> corners{{{f.right - box_w - gap, f.top + gap},
                                                     {f.left + gap, f.top + gap},
                                                     {f.left + gap, f.bottom - box_h - gap},
                                                     {f.right - box_w - gap, f.bottom - box_h - gap}}};
    std::array<int64_t, 4> covered{};
    for (const auto& s : series)
      for (std::size_t i = 0; i < s.second.size(); ++i) {
        const auto [x, y] = s.second[i];
        if (!d::usable(x, y, o.log_y)) continue;
        const bool next_ok = i + 1 < s.second.size() && d::usable(s.second[i + 1].first, s.second[i + 1].second, o.log_y);
        const double x1 = next_ok ? f.px(s.second[i + 1].first) : f.px(x);
        const double y1 = next_ok ? f.py(s.second[i + 1].second) : f.py(y);
        for (int k = 0; k < 8; ++k) {  // points along the segment to the next point
          const double t = k / 8.0, sx = f.px(x) + t * (x1 - f.px(x)), sy = f.py(y) + t * (y1 - f.py(y));
          for (int c = 0; c < 4; ++c)
            covered[c] += sx >= corners[c][0] && sx < corners[c][0] + box_w && sy >= corners[c][1] &&
                          sy < corners[c][1] + box_h;
        }
      }
    const auto best = static_cast<std::size_t>(std::min_element(covered.begin(), covered.end()) - covered.begin());
    const int bx = corners[best][0], by = corners[best][1];
    img.fill_rect(bx, by, box_w, box_h, white, 0.85);
    img.draw_rect(bx, by, box_w, box_h, {190, 190, 190});
    for (std::size_t s = 0; s < series.size(); ++s) {
      const int ry = by + gap + static_cast<int>(s) * row;
      img.draw_line(bx + gap, ry + th / 2.0, bx + gap + swatch, ry + th / 2.0, series_color(s), line_width + 0.5);
      img.draw_text(bx + gap + swatch + gap, ry, series[s].first, ink, ts);
    }
  }
  return img.to_png();
}

// The chosen columns of a CSV training log against its "step" column ("epoch" or "iteration" when it
// has no "step"; the row number when it has none of them). Rows where a column is empty or not a
// number are skipped, so a validation loss logged every N steps plots as its own sparser line.
// With the default x_label "step", the x column's name labels the axis.
inline io::PngImage loss_curve(const std::filesystem::path& csv_log, const std::vector<std::string>& columns = {"loss"},
                               const PlotOptions& options = {}) {
  const io::CsvTable table = train::read_csv_log(csv_log);
  VOXNN_CHECK(!columns.empty(), "viz::loss_curve: no columns chosen to plot from ", csv_log);
  std::string x_name;
  for (const char* candidate : {"step", "epoch", "iteration", "iter"})
    if (table.has(candidate)) {
      x_name = candidate;
      break;
    }
  std::vector<double> xs;
  if (x_name.empty()) {
    for (int64_t r = 0; r < table.size(); ++r) xs.push_back(static_cast<double>(r + 1));
  } else {
    xs = table.numbers(x_name);
  }
  std::vector<Series> series;
  for (const auto& name : columns) {
    VOXNN_CHECK(table.has(name), "viz::loss_curve: ", csv_log, " has no column \"", name, "\"");
    const auto ys = table.numbers(name);
    Series s{name, {}};
    for (std::size_t r = 0; r < ys.size(); ++r)
      if (std::isfinite(xs[r]) && std::isfinite(ys[r])) s.second.emplace_back(xs[r], ys[r]);
    series.push_back(std::move(s));
  }
  PlotOptions o = options;
  if (o.x_label == "step") o.x_label = x_name.empty() ? "row" : x_name;
  return plot(series, o);
}

}  // namespace voxnn::viz
