#pragma once
// Learning-rate schedules, called once per epoch after the optimiser's steps, as in PyTorch:
//   optim::CosineAnnealingLR sched(opt, {.t_max = 50});
//   for (epoch ...) { train(); sched.step(); }
// Each schedule uses torch.optim.lr_scheduler's (1.13) recursive form, which derives the next
// learning rate from the current one, so that the values match PyTorch's step by step and another
// change of the learning rate in between (a warm-up, a manual set_lr) carries forward as it does there.
// ReduceLROnPlateau is driven by a metric instead of the epoch count.
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/optim/optimizer.hpp"

namespace voxnn::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch and gives the optimiser that epoch's learning rate.
  void step() {
    ++last_epoch_;
    optimizer_.set_lr(next_lr(optimizer_.lr()));
  }
  int64_t last_epoch() const { return last_epoch_; }
  double base_lr() const { return base_lr_; }
  double last_lr() const { return optimizer_.lr(); }

 protected:
  // Construction is PyTorch's initial step: epoch 0, learning rate unchanged.
  explicit LRScheduler(OptimizerBase& optimizer) : optimizer_(optimizer), base_lr_(optimizer.lr()) {}
  // The learning rate for last_epoch() (already advanced), from the current one.
  virtual double next_lr(double current) const = 0;

 private:
  OptimizerBase& optimizer_;
  double base_lr_;
  int64_t last_epoch_ = 0;
};

// Multiplies the learning rate by gamma every step_size epochs.
struct StepLROptions {
  int64_t step_size = 0;  // required
  double gamma = 0.1;
};
class StepLR : public LRScheduler {
 public:
  StepLR(OptimizerBase& optimizer, const StepLROptions& options) : LRScheduler(optimizer), options_(options) {
    VOXNN_CHECK(options.step_size > 0, "StepLR: step_size must be positive, got ", options.step_size);
  }

 private:
  double next_lr(double current) const override {
    const int64_t e = last_epoch();
    return e == 0 || e % options_.step_size != 0 ? current : current * options_.gamma;
  }
  StepLROptions options_;
};

// Multiplies the learning rate by gamma at each milestone epoch (a milestone listed twice counts twice).
struct MultiStepLROptions {
  std::vector<int64_t> milestones;
  double gamma = 0.1;
};
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(OptimizerBase& optimizer, const MultiStepLROptions& options)
      : LRScheduler(optimizer), options_(options) {}

 private:
  double next_lr(double current) const override {
    int hits = 0;
    for (int64_t m : options_.milestones) hits += m == last_epoch();
    return hits == 0 ? current : current * std::pow(options_.gamma, hits);
  }
  MultiStepLROptions options_;
};

// Multiplies the learning rate by gamma every epoch.
struct ExponentialLROptions {
  double gamma = 0;  // required
};
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(OptimizerBase& optimizer, const ExponentialLROptions& options)
      : LRScheduler(optimizer), options_(options) {
    VOXNN_CHECK(options.gamma > 0, "ExponentialLR: gamma must be positive, got ", options.gamma);
  }

 private:
  double next_lr(double current) const override { return last_epoch() == 0 ? current : current * options_.gamma; }
  ExponentialLROptions options_;
};

// Decays to zero over total_iters epochs as (1 - epoch / total_iters)^power, then stays there.
struct PolynomialLROptions {
  int64_t total_iters = 5;
  double power = 1.0;
};
class PolynomialLR : public LRScheduler {
 public:
  PolynomialLR(OptimizerBase& optimizer, const PolynomialLROptions& options)
      : LRScheduler(optimizer), options_(options) {
    VOXNN_CHECK(options.total_iters > 0, "PolynomialLR: total_iters must be positive, got ", options.total_iters);
  }

 private:
  double next_lr(double current) const override {
    const auto e = static_cast<double>(last_epoch()), n = static_cast<double>(options_.total_iters);
    if (last_epoch() == 0 || last_epoch() > options_.total_iters) return current;
    return current * std::pow((1.0 - e / n) / (1.0 - (e - 1) / n), options_.power);
  }
  PolynomialLROptions options_;
};

// Follows half a cosine from the base learning rate down to eta_min over t_max epochs; past t_max it
// rises again along the same cosine, as PyTorch's recursive form does.
struct CosineAnnealingLROptions {
  int64_t t_max = 0;  // required
  double eta_min = 0;
};
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(OptimizerBase& optimizer, const CosineAnnealingLROptions& options)
      : LRScheduler(optimizer), options_(options) {
    VOXNN_CHECK(options.t_max > 0, "CosineAnnealingLR: t_max must be positive, got ", options.t_max);
  }

 private:
  double next_lr(double current) const override {
    const int64_t e = last_epoch(), t_max = options_.t_max;
    const double pi = std::numbers::pi, eta_min = options_.eta_min, n = static_cast<double>(t_max);
    if (e == 0) return current;
    if ((e - 1 - t_max) % (2 * t_max) == 0)  // the step past the trough, where the ratio below is 0/0
      return current + (base_lr() - eta_min) * (1 - std::cos(pi / n)) / 2;
    return (1 + std::cos(pi * static_cast<double>(e) / n)) / (1 + std::cos(pi * static_cast<double>(e - 1) / n)) *
               (current - eta_min) +
           eta_min;
  }
  CosineAnnealingLROptions options_;
};

// Multiplies the learning rate by factor when a metric has not improved for more than `patience` epochs.
enum class PlateauMode { min, max };
enum class ThresholdMode { rel, abs };
struct ReduceLROnPlateauOptions {
  PlateauMode mode = PlateauMode::min;
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::rel;
  int64_t cooldown = 0;
  double min_lr = 0;
  double eps = 1e-8;  // a reduction smaller than this is skipped
};
class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(OptimizerBase& optimizer, const ReduceLROnPlateauOptions& options = {})
      : optimizer_(optimizer), options_(options) {
    VOXNN_CHECK(options.factor < 1.0, "ReduceLROnPlateau: factor should be < 1.0, got ", options.factor);
    VOXNN_CHECK(options.patience >= 0, "ReduceLROnPlateau: patience must be non-negative, got ", options.patience);
    VOXNN_CHECK(options.cooldown >= 0, "ReduceLROnPlateau: cooldown must be non-negative, got ", options.cooldown);
    best_ = worst();
  }
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  // Records one epoch's metric and reduces the learning rate when it has stalled.
  void step(double metric) {
    ++last_epoch_;
    if (is_better(metric, best_)) {
      best_ = metric;
      num_bad_epochs_ = 0;
    } else {
      ++num_bad_epochs_;
    }
    if (cooldown_counter_ > 0) {
      --cooldown_counter_;
      num_bad_epochs_ = 0;  // bad epochs during cooldown do not count
    }
    if (num_bad_epochs_ > options_.patience) {
      const double old_lr = optimizer_.lr();
      const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
      if (old_lr - new_lr > options_.eps) optimizer_.set_lr(new_lr);
      cooldown_counter_ = options_.cooldown;
      num_bad_epochs_ = 0;
    }
  }

  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }
  int64_t last_epoch() const { return last_epoch_; }
  double last_lr() const { return optimizer_.lr(); }

 private:
  double worst() const {
    const double inf = std::numeric_limits<double>::infinity();
    return options_.mode == PlateauMode::min ? inf : -inf;
  }
  bool is_better(double a, double best) const {
    const bool rel = options_.threshold_mode == ThresholdMode::rel;
    if (options_.mode == PlateauMode::min) return rel ? a < best * (1 - options_.threshold) : a < best - options_.threshold;
    return rel ? a > best * (options_.threshold + 1) : a > best + options_.threshold;
  }

  OptimizerBase& optimizer_;
  ReduceLROnPlateauOptions options_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
};

}  // namespace voxnn::optim
