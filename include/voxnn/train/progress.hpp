#pragma once
// A training progress line:
//   step 120/1000  loss 0.3412  12.3 it/s  ETA 1m12s
// On a terminal the line is redrawn in place ('\r') at most every min_interval seconds; into a file
// or pipe (a batch job's log) a full line is written every print_every steps instead, so logs stay
// readable. The rate is an exponential moving average of the time per step (each new measurement
// weighs `smoothing`, bias-corrected as tqdm does, so the first steps are not averaged with zero);
// the ETA is the remaining steps at that rate. The clock and the stream are injectable for tests.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "voxnn/core/error.hpp"

namespace voxnn::train {

// "45s", "1m12s", "2h03m", "3d04h"; negative or non-finite durations give "?".
inline std::string format_duration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds) || seconds > 1e12) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  char buf[48];
  if (s < 60) std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s % 3600 / 60));
  else std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400), static_cast<long long>(s % 86400 / 3600));
  return buf;
}

// A metric value with 4 significant digits: 0.3412, 12.35, 1.2e-05.
inline std::string format_metric(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Seconds on a steady clock: the default clock of Progress.
inline double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Whether `out` is std::cout or std::cerr/std::clog writing to a terminal.
inline bool is_terminal(const std::ostream& out) {
#if defined(__unix__) || defined(__APPLE__)
  if (&out == &std::cout) return ::isatty(1) == 1;
  if (&out == &std::cerr || &out == &std::clog) return ::isatty(2) == 1;
#else
  (void)out;
#endif
  return false;
}

struct ProgressOptions {
  int64_t total = 0;           // number of steps; 0: unknown (no "/total" and no ETA)
  std::string label = "step";  // first word of the line ("epoch", "batch", ...)
  // Not a terminal: a line every print_every steps (and at the last step); 0: about 20 lines over
  // `total` steps, or every 100 steps when the total is unknown.
  int64_t print_every = 0;
  double min_interval = 0.1;     // terminal: seconds between redraws (the last step is always drawn)
  double smoothing = 0.3;        // weight of the newest time-per-step measurement (tqdm's default)
  std::optional<bool> terminal = std::nullopt;  // redraw in place; default: is_terminal(out)
};

class Progress {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic

  // Starts timing now (step 0 at the clock's current time).
  explicit Progress(ProgressOptions options = {}, std::ostream& out = std::cerr, Clock clock = steady_seconds)
      : options_(std::move(options)), out_(&out), clock_(std::move(clock)) {
    VOXNN_CHECK(options_.total >= 0, "Progress: total ", options_.total, " is negative");
    VOXNN_CHECK(options_.smoothing > 0 && options_.smoothing <= 1, "Progress: smoothing ", options_.smoothing,
                " is outside (0, 1]");
    terminal_ = options_.terminal.value_or(is_terminal(out));
    every_ = options_.print_every > 0 ? options_.print_every
             : options_.total > 0     ? std::max<int64_t>(1, (options_.total + 19) / 20)
                                      : 100;
    start_time_ = last_time_ = clock_();
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() {
    try {
      finish();
    } catch (...) {  // a destructor must not throw; a failed stream write is not worth a crash
    }
  }

  // Reports that `step` steps are done, with the metrics to show ("loss", ...). Steps should grow;
  // a step at or below the previous one updates the metrics without a rate measurement.
  void update(int64_t step, const std::vector<std::pair<std::string, double>>& metrics = {}) {
    const double now = clock_();
    if (step > last_step_) {
      const double per_step = (now - last_time_) / static_cast<double>(step - last_step_);
      if (per_step >= 0 && std::isfinite(per_step)) {
        // Bias-corrected EMA: `weight_` is the total weight the measurements so far carry.
        const double keep = std::pow(1.0 - options_.smoothing, static_cast<double>(step - last_step_));
        ema_sum_ = keep * ema_sum_ + (1.0 - keep) * per_step;
        weight_ = keep * weight_ + (1.0 - keep);
      }
      last_step_ = step;
      last_time_ = now;
    }
    step_ = step;
    metrics_ = metrics;
    finished_ = false;
    const bool last = options_.total > 0 && step >= options_.total;
    if (terminal_) {
      if (last || !drawn_ || now - last_draw_ >= options_.min_interval) draw(now);
    } else if (last || (step > 0 && step % every_ == 0)) {
      *out_ << line() << '\n';
      out_->flush();
      printed_step_ = step;
    }
  }
  void update(int64_t step, double loss) { update(step, {{"loss", loss}}); }

  // Ends the display: the final state is shown (if it was not already) and a terminal line is ended.
  // Called by the destructor; further calls do nothing until the next update.
  void finish() {
    if (finished_) return;
    finished_ = true;
    if (step_ < 0) return;
    if (terminal_) {
      if (drawn_step_ != step_) draw(clock_());
      *out_ << '\n';
      out_->flush();
    } else if (printed_step_ != step_) {
      *out_ << line() << '\n';
      out_->flush();
      printed_step_ = step_;
    }
  }

  // Steps per second (moving average); 0 before the first measured step.
  double rate() const {
    const double per_step = weight_ > 0 ? ema_sum_ / weight_ : 0.0;
    return per_step > 0 ? 1.0 / per_step : 0.0;
  }
  // Seconds left at the current rate, when the total is known and the rate measured.
  std::optional<double> eta_seconds() const {
    if (options_.total <= 0 || rate() <= 0) return std::nullopt;
    return static_cast<double>(std::max<int64_t>(options_.total - step_, 0)) / rate();
  }
  double elapsed_seconds() const { return last_time_ - start_time_; }
  bool terminal() const { return terminal_; }

  // The text of the line for the latest update (no '\r' or newline).
  std::string line() const {
    std::string s = options_.label + " " + std::to_string(std::max<int64_t>(step_, 0));
    if (options_.total > 0) s.append("/").append(std::to_string(options_.total));  // not "/" + ...: GCC 12's bogus -Wrestrict
    for (const auto& [name, value] : metrics_) s += "  " + name + " " + format_metric(value);
    const double r = rate();
    if (r > 0) {
      char buf[48];
      // 3 significant digits, deciding by the rounded value (9.9996 prints as 10.0, not 10.00)
      const bool per_second = r >= 0.9995;
      const double v = per_second ? r : 1 / r;
      const char* unit = per_second ? "it/s" : "s/it";
      const int decimals = v >= 99.95 ? 0 : v >= 9.995 ? 1 : 2;
      std::snprintf(buf, sizeof buf, "%.*f %s", decimals, v, unit);
      s += "  ";
      s += buf;
    }
    if (options_.total > 0 && step_ >= options_.total) s += "  elapsed " + format_duration(elapsed_seconds());
    else if (const auto eta = eta_seconds()) s += "  ETA " + format_duration(*eta);
    return s;
  }

 private:
  void draw(double now) {
    const std::string text = line();
    *out_ << '\r' << text;
    // blank out what a longer previous line left behind
    if (text.size() < drawn_width_) *out_ << std::string(drawn_width_ - text.size(), ' ');
    out_->flush();
    drawn_width_ = text.size();
    drawn_ = true;
    drawn_step_ = step_;
    last_draw_ = now;
  }

  ProgressOptions options_;
  std::ostream* out_;
  Clock clock_;
  bool terminal_ = false;
  int64_t every_ = 1;
  double start_time_ = 0, last_time_ = 0, last_draw_ = 0;
  int64_t last_step_ = 0, step_ = -1, printed_step_ = -1, drawn_step_ = -1;
  double ema_sum_ = 0, weight_ = 0;
  std::vector<std::pair<std::string, double>> metrics_;
  bool drawn_ = false, finished_ = false;
  std::size_t drawn_width_ = 0;
};

}  // namespace voxnn::train
