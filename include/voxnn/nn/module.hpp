#pragma once
// nn::Module: a node in a tree of modules with named parameters, buffers and children.
//
// A module registers itself with its parent when constructed as a member, so names follow member
// declaration order exactly as PyTorch's attribute assignment does:
//
//   struct Net : nn::Module<float> {
//     nn::Linear<float> fc{this, "fc", {.in_features = 4, .out_features = 2}};
//   };                                  // parameters "fc.weight", "fc.bias"
//
// Modules are neither copyable nor movable: the registry holds pointers to members.
#include <algorithm>
#include <functional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

// engine.hpp, not just var.hpp: it defines Var::backward and grad(), which every user of a Module calls.
#include "voxnn/autograd/engine.hpp"
#include "voxnn/autograd/var.hpp"
#include "voxnn/nn/state_dict.hpp"

namespace voxnn::nn {

// How a buffer takes part in state dicts. `persistent` and `non_persistent` are PyTorch's
// register_buffer(persistent=...). A `derived` buffer is computed from the module's options (a
// sampling grid): it is saved, as the reference saves it, but a state dict without it loads, since
// exporters may drop it and the module's own value is already right.
enum class BufferKind { persistent, non_persistent, derived };

template <Real T, Device D = Cpu>
class Module {
 public:
  using value_type = T;
  using device_type = D;

  Module() = default;
  // Registers this module as child `name` of parent (when parent is not null).
  Module(Module* parent, std::string name) {
    if (parent) parent->register_module(std::move(name), this);
  }
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The single-input forward that containers such as Sequential call.
  virtual Var<T, D> forward(const Var<T, D>& x) {
    (void)x;
    ::voxnn::detail::throw_error(type_name(), ": this module has no single-input forward");
  }
  Var<T, D> operator()(const Var<T, D>& x) { return forward(x); }
  virtual std::string type_name() const { return "Module"; }

  // ---- registry ---------------------------------------------------------------------------------
  std::vector<std::pair<std::string, Var<T, D>>> named_parameters(bool recurse = true) const {
    std::vector<std::pair<std::string, Var<T, D>>> out;
    visit("", recurse, [&](const std::string& prefix, const Module& m) {
      for (const auto& [name, p] : m.parameters_) out.emplace_back(prefix + name, *p);
    });
    return out;
  }
  std::vector<Var<T, D>> parameters(bool recurse = true) const {
    std::vector<Var<T, D>> out;
    for (auto& [name, p] : named_parameters(recurse)) out.push_back(p);
    return out;
  }
  std::vector<std::pair<std::string, Tensor<T, D>>> named_buffers(bool recurse = true) const {
    std::vector<std::pair<std::string, Tensor<T, D>>> out;
    visit("", recurse, [&](const std::string& prefix, const Module& m) {
      for (const auto& b : m.buffers_) out.emplace_back(prefix + b.name, *b.tensor);
    });
    return out;
  }
  const std::vector<std::pair<std::string, Module*>>& named_children() const { return children_; }
  // This module (named "") and every descendant, depth first.
  std::vector<std::pair<std::string, Module*>> named_modules() {
    std::vector<std::pair<std::string, Module*>> out;
    visit("", true, [&](const std::string& prefix, const Module& m) {
      out.emplace_back(prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1), const_cast<Module*>(&m));
    });
    return out;
  }
  int64_t num_parameters() const {
    int64_t n = 0;
    for (const auto& p : parameters()) n += p.numel();
    return n;
  }

  // ---- modes ------------------------------------------------------------------------------------
  Module& train(bool on = true) {
    visit("", true, [on](const std::string&, const Module& m) { const_cast<Module&>(m).training_ = on; });
    return *this;
  }
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }
  void zero_grad() {
    for (auto& p : parameters()) p.zero_grad();
  }

  // ---- state ------------------------------------------------------------------------------------
  // Parameters then buffers of each module, parents before children, as PyTorch orders them.
  StateDict<T, D> state_dict() const {
    StateDict<T, D> out;
    visit("", true, [&](const std::string& prefix, const Module& m) {
      for (const auto& [name, p] : m.parameters_) out.insert(prefix + name, p->value());
      for (const auto& b : m.buffers_)
        if (b.kind != BufferKind::non_persistent) out.insert(prefix + b.name, *b.tensor);
    });
    return out;
  }

  // Copies every matching entry into this module's tensors. Shape mismatches are always an error;
  // with strict, missing and unexpected keys are too. The message names every offending key.
  LoadResult load_state_dict(const StateDict<T, D>& dict, bool strict = true) {
    LoadResult result;
    std::vector<std::pair<const Tensor<T, D>*, Tensor<T, D>*>> copies;
    std::unordered_map<std::string, bool> seen;
    visit("", true, [&](const std::string& prefix, const Module& m) {
      auto match = [&](const std::string& key, Tensor<T, D>& target, bool optional = false) {
        seen[key] = true;
        const Tensor<T, D>* src = dict.find(key);
        if (!src) {
          if (!optional) result.missing_keys.push_back(key);
        } else if (src->shape() != target.shape()) {
          std::ostringstream os;
          os << key << ": " << src->shape() << " in the state dict vs " << target.shape() << " in the module";
          result.mismatched_keys.push_back(os.str());
        } else {
          copies.emplace_back(src, &target);
        }
      };
      for (const auto& [name, p] : m.parameters_) match(prefix + name, p->mutable_value());
      for (const auto& b : m.buffers_)
        if (b.kind != BufferKind::non_persistent) match(prefix + b.name, *b.tensor, b.kind == BufferKind::derived);
    });
    for (const auto& [key, value] : dict)
      if (!seen.count(key)) result.unexpected_keys.push_back(key);

    const bool fail = !result.mismatched_keys.empty() ||
                      (strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty()));
    if (fail) {
      std::ostringstream os;
      os << "load_state_dict: error(s) loading the state dict into " << type_name() << ".";
      auto list = [&](const char* what, const std::vector<std::string>& keys) {
        if (keys.empty()) return;
        os << ' ' << what << ':';
        for (std::size_t i = 0; i < keys.size(); ++i) os << (i ? ", " : " ") << '"' << keys[i] << '"';
        os << '.';
      };
      list("Size mismatch for", result.mismatched_keys);
      if (strict) {
        list("Missing key(s)", result.missing_keys);
        list("Unexpected key(s)", result.unexpected_keys);
      }
      throw Error(os.str());
    }
    for (auto& [src, target] : copies) target->copy_(*src);
    return result;
  }

  // Calls fn on this module and every descendant (for custom initialisation).
  void apply(const std::function<void(Module&)>& fn) {
    for (auto& [name, m] : named_modules()) fn(*m);
  }

 protected:
  // Registers a member Var as parameter `name` (requires_grad on) and returns it.
  Var<T, D>& register_parameter(std::string name, Var<T, D>* param, Tensor<T, D> init) {
    *param = Var<T, D>(std::move(init), true);
    check_new_name(name);
    parameters_.emplace_back(std::move(name), param);
    return *param;
  }
  Tensor<T, D>& register_buffer(std::string name, Tensor<T, D>* buffer, Tensor<T, D> init,
                                BufferKind kind = BufferKind::persistent) {
    *buffer = std::move(init);
    check_new_name(name);
    buffers_.push_back({std::move(name), buffer, kind});
    return *buffer;
  }

 public:
  // Adds a child owned elsewhere (a member, or a container's element).
  void register_module(std::string name, Module* child) {
    check_new_name(name);
    children_.emplace_back(std::move(name), child);
  }

 private:
  void check_new_name(const std::string& name) const {
    VOXNN_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(), ": invalid name '", name,
                "' (non-empty, no dots)");
    auto taken = [&](const auto& list) {
      for (const auto& [n, ptr] : list)
        if (n == name) return true;
      return false;
    };
    const bool buffer_taken =
        std::any_of(buffers_.begin(), buffers_.end(), [&](const Buffer& b) { return b.name == name; });
    VOXNN_CHECK(!taken(parameters_) && !buffer_taken && !taken(children_), type_name(), ": name '", name,
                "' registered twice");
  }
  template <class Fn>
  void visit(const std::string& prefix, bool recurse, Fn&& fn) const {
    fn(prefix, *this);
    if (!recurse) return;
    for (const auto& [name, child] : children_) child->visit(prefix + name + ".", true, fn);
  }

  std::vector<std::pair<std::string, Var<T, D>*>> parameters_;
  struct Buffer {
    std::string name;
    Tensor<T, D>* tensor;
    BufferKind kind;
  };
  std::vector<Buffer> buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

// A module configured by an options struct: the two constructors every such module has (standalone,
// and as a named child of a parent) and the stored options. Derived modules inherit them with
// `using ModuleWithOptions<...>::ModuleWithOptions;`.
template <Real T, Device D, class Opts>
class ModuleWithOptions : public Module<T, D> {
 public:
  using Options = Opts;
  explicit ModuleWithOptions(const Options& o = {}) : ModuleWithOptions(nullptr, "", o) {}
  ModuleWithOptions(Module<T, D>* parent, std::string name, const Options& o = {})
      : Module<T, D>(parent, std::move(name)), options(o) {}

  const Options options;
};

}  // namespace voxnn::nn
