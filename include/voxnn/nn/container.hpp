#pragma once
// Containers that own their children and name them "0", "1", ...: ModuleList (a list), and
// Sequential (a list whose forward chains the children).
#include <memory>
#include <string>
#include <vector>

#include "voxnn/nn/module.hpp"

namespace voxnn::nn {

template <Real T, Device D = Cpu>
class ModuleList : public Module<T, D> {
 public:
  ModuleList() = default;
  ModuleList(Module<T, D>* parent, std::string name) : Module<T, D>(parent, std::move(name)) {}

  // Constructs a child in place: M(this, "<index>", args...).
  template <class M, class... Args>
  M& emplace_back(Args&&... args) {
    auto child = std::make_unique<M>(this, std::to_string(items_.size()), std::forward<Args>(args)...);
    M& ref = *child;
    items_.push_back(std::move(child));
    return ref;
  }
  // Takes a module built without a parent.
  Module<T, D>& push_back(std::unique_ptr<Module<T, D>> child) {
    VOXNN_CHECK(child != nullptr, type_name(), ": push_back of a null module");
    this->register_module(std::to_string(items_.size()), child.get());
    items_.push_back(std::move(child));
    return *items_.back();
  }
  std::size_t size() const { return items_.size(); }
  Module<T, D>& operator[](std::size_t i) const {
    VOXNN_CHECK(i < items_.size(), type_name(), ": index ", i, " out of range for ", items_.size(), " modules");
    return *items_[i];
  }
  template <class M>
  M& at(std::size_t i) const {
    auto* m = dynamic_cast<M*>(&(*this)[i]);
    VOXNN_CHECK(m != nullptr, type_name(), ": module ", i, " is a ", (*this)[i].type_name(), ", not the type asked for");
    return *m;
  }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  std::string type_name() const override { return "ModuleList"; }

 private:
  std::vector<std::unique_ptr<Module<T, D>>> items_;
};

template <Real T, Device D = Cpu>
class Sequential : public ModuleList<T, D> {
 public:
  Sequential() = default;
  Sequential(Module<T, D>* parent, std::string name) : ModuleList<T, D>(parent, std::move(name)) {}

  Var<T, D> forward(const Var<T, D>& x) override {
    Var<T, D> y = x;
    for (const auto& m : *this) y = m->forward(y);
    return y;
  }
  std::string type_name() const override { return "Sequential"; }
};

}  // namespace voxnn::nn
