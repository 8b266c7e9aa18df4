#pragma once
// Optimizer<T, D>: the parameters an optimiser updates, their per-parameter state (step count and
// named buffers such as "exp_avg"), zero_grad, and the learning rate that schedulers adjust.
// Subclasses implement update(): one parameter's in-place step, given its gradient and state.
//
// One parameter group: every parameter shares one set of hyperparameters. Build two optimisers to
// treat two sets of parameters differently.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "voxnn/autograd/grad_mode.hpp"
#include "voxnn/autograd/var.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/parallel.hpp"

namespace voxnn::optim {

// What a learning-rate scheduler sees of an optimiser: its learning rate, whatever T and D are.
class OptimizerBase {
 public:
  virtual ~OptimizerBase() = default;
  virtual void step() = 0;
  virtual void zero_grad() = 0;

  double lr() const { return lr_; }
  void set_lr(double lr) {
    VOXNN_CHECK(lr >= 0, name_, ": invalid learning rate ", lr);
    lr_ = lr;
  }
  const char* name() const { return name_; }

 protected:
  OptimizerBase(double lr, const char* name) : name_(name) { set_lr(lr); }

 private:
  const char* name_;
  double lr_ = 0;
};

template <Real T, Device D = Cpu>
class Optimizer : public OptimizerBase {
 public:
  struct ParamState {
    int64_t step = 0;                              // updates applied to this parameter so far
    std::map<std::string, Tensor<T, D>> buffers;  // created on first use, shaped like the parameter

    // The named buffer, zero-filled on first use.
    Tensor<T, D>& buffer(const std::string& key, const Shape& shape) {
      auto it = buffers.find(key);
      if (it == buffers.end()) it = buffers.emplace(key, zeros<T, D>(shape)).first;
      return it->second;
    }
  };

  const std::vector<Var<T, D>>& params() const { return params_; }
  const ParamState& state(std::size_t i) const { return state_.at(i); }

  // Sets every gradient to none (PyTorch's default set_to_none=True): the next backward writes
  // fresh gradients, and step() skips parameters that got none.
  void zero_grad() override {
    for (auto& p : params_) p.zero_grad();
  }

  // Updates every parameter that has a gradient, in place and outside the graph.
  void step() override {
    static_assert(std::is_same_v<D, Cpu>, "voxnn::optim: update kernels exist for Cpu only");
    NoGradGuard no_grad;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      Var<T, D>& p = params_[i];
      const Tensor<T, D> g = p.grad();
      if (!g.defined()) continue;
      VOXNN_CHECK(g.shape() == p.shape(), name(), ": gradient of shape ", g.shape(), " for parameter ", i,
                  " of shape ", p.shape());
      // The update kernels walk flat contiguous buffers; a strided parameter is updated through a copy.
      Tensor<T, D>& value = p.mutable_value();
      Tensor<T, D> work = value.is_contiguous() ? value : value.clone();
      ++state_[i].step;
      update(work, g.contiguous(), state_[i]);
      if (!work.shares_storage_with(value)) value.copy_(work);
    }
  }

  // The state as named tensors ("state.<i>.step", "state.<i>.<buffer>"), e.g. for a checkpoint.
  std::vector<std::pair<std::string, Tensor<T, D>>> state_dict() const {
    std::vector<std::pair<std::string, Tensor<T, D>>> out;
    for (std::size_t i = 0; i < state_.size(); ++i) {
      if (state_[i].step == 0) continue;
      const std::string prefix = "state." + std::to_string(i) + ".";
      out.emplace_back(prefix + "step", full<T, D>(Shape{}, static_cast<T>(state_[i].step)));
      for (const auto& [key, t] : state_[i].buffers) out.emplace_back(prefix + key, t.clone());
    }
    return out;
  }
  // Restores what state_dict returned; names and shapes are checked against these parameters.
  template <class Range>
  void load_state_dict(const Range& named) {
    std::vector<ParamState> loaded(params_.size());
    for (const auto& [key, t] : named) {
      const std::string k(key);
      const auto dot = k.find('.', 6);
      VOXNN_CHECK(k.rfind("state.", 0) == 0 && dot != std::string::npos, name(), ": unexpected state key '", k, "'");
      const std::string index = k.substr(6, dot - 6);
      VOXNN_CHECK(!index.empty() && index.size() < 10 && index.find_first_not_of("0123456789") == std::string::npos,
                  name(), ": unexpected state key '", k, "'");
      const std::size_t i = std::stoul(index);
      VOXNN_CHECK(i < params_.size(), name(), ": state key '", k, "' for parameter ", i, " of ", params_.size());
      const std::string buffer = k.substr(dot + 1);
      if (buffer == "step") {
        VOXNN_CHECK(t.numel() == 1, name(), ": state key '", k, "' has shape ", t.shape(), "; expected a scalar");
        loaded[i].step = static_cast<int64_t>(t.item());
      } else {
        VOXNN_CHECK(t.shape() == params_[i].shape(), name(), ": state '", k, "' of shape ", t.shape(),
                    " for parameter of shape ", params_[i].shape());
        loaded[i].buffers[buffer] = t.clone();
      }
    }
    state_ = std::move(loaded);
  }

 protected:
  Optimizer(std::vector<Var<T, D>> params, double lr, const char* name)
      : OptimizerBase(lr, name), params_(std::move(params)), state_(params_.size()) {
    std::unordered_set<const void*> seen;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const Var<T, D>& p = params_[i];
      VOXNN_CHECK(p.defined(), name, ": parameter ", i, " is undefined");
      VOXNN_CHECK(p.is_leaf(), name, ": parameter ", i, " of shape ", p.shape(),
                  " is not a leaf (it was computed by an op); optimise the leaf it came from");
      VOXNN_CHECK(seen.insert(p.id()).second, name, ": parameter ", i, " of shape ", p.shape(),
                  " appears more than once");
    }
  }

  // One parameter's step: `value` (contiguous, updated in place), its gradient (contiguous), and its
  // state, whose step count already includes this update.
  virtual void update(Tensor<T, D>& value, const Tensor<T, D>& grad, ParamState& state) = 0;

 private:
  std::vector<Var<T, D>> params_;
  std::vector<ParamState> state_;
};

namespace detail {
// The update kernels are fused passes over flat buffers written as Eigen array expressions: Eigen's
// explicit SIMD vectorises sqrt and division whatever the compiler flags (a plain loop calling
// std::sqrt stays scalar unless -fno-math-errno is given: about 5x slower, measured).
template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// Runs body(offset, length) over [0, n) in tiles of at most kUpdateTile elements, so that a
// kernel's several passes over one tile stay in cache and a tile-sized scratch array fits on the
// stack. Threads split the tiles.
inline constexpr int64_t kUpdateTile = 1024;
template <class Body>
void for_each_tile(int64_t n, Body&& body) {
  parallel_for(0, n, kParallelGrain, [&](int64_t begin, int64_t end) {
    for (int64_t at = begin; at < end; at += kUpdateTile) body(at, std::min(kUpdateTile, end - at));
  });
}

// Calls kernel(g') with g' = sign * g + decay * p: g itself when that is the identity, otherwise
// g' computed once into `scratch` (an expression would be recomputed in every pass that reads it).
template <class T, class Kernel>
void with_effective_grad(const ConstArrayMap<T>& g, const ArrayMap<T>& p, T sign, T decay, T* scratch,
                         Kernel&& kernel) {
  if (sign == T(1) && decay == T(0)) return kernel(g);
  ArrayMap<T> effective(scratch, g.size());
  effective = sign * g + decay * p;
  kernel(effective);
}
}  // namespace detail

}  // namespace voxnn::optim
