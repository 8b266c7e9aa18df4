#pragma once
// Var<T, D>: a tensor value in a define-by-run graph. A Var made by an op while grad mode is on and
// some input requires grad carries a Node: the op's inputs and its backward function. Backward
// functions are written with Var ops themselves, so that differentiating them again (create_graph)
// gives second derivatives.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "voxnn/autograd/grad_mode.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/tensor.hpp"

namespace voxnn {

template <Real T, Device D = Cpu>
class Var;

namespace autograd {

template <class T, class D>
struct VarData;

// backward(inputs, output, grad_output) -> one gradient per input (an undefined Var where none flows).
template <class T, class D>
using BackwardFn =
    std::function<std::vector<Var<T, D>>(const std::vector<Var<T, D>>&, const Var<T, D>&, const Var<T, D>&)>;

template <class T, class D>
struct Node {
  const char* name;
  std::vector<Var<T, D>> inputs;
  BackwardFn<T, D> backward;
  bool released = false;  // after a backward without retain_graph

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Frees the graph behind this node iteratively: a long chain (a loss summed over a million steps
  // without backward) would otherwise be destroyed recursively, one set of stack frames per link.
  ~Node() {
    std::vector<Var<T, D>> pending = std::move(inputs);
    while (!pending.empty()) {
      Var<T, D> v = std::move(pending.back());
      pending.pop_back();
      const auto& data = v.data();
      if (data && data.use_count() == 1 && data->node && data->node.use_count() == 1) {
        for (auto& in : data->node->inputs) pending.push_back(std::move(in));
        data->node->inputs.clear();
      }
    }  // each v dies here with a node that has no inputs left
  }
};

template <class T, class D>
struct VarData {
  Tensor<T, D> value;
  std::shared_ptr<VarData> grad;  // a Var's data, so a create_graph gradient keeps its own graph
  std::shared_ptr<Node<T, D>> node;
  bool requires_grad = false;
  bool retains_grad = false;
};

}  // namespace autograd

template <Real T, Device D>
class Var {
 public:
  using value_type = T;
  using device_type = D;
  using Data = autograd::VarData<T, D>;

  Var() = default;  // undefined: defined() is false
  Var(Tensor<T, D> value, bool requires_grad = false) : data_(std::make_shared<Data>()) {  // NOLINT: implicit
    VOXNN_CHECK(value.defined(), "Var: constructed from an undefined tensor");
    data_->value = std::move(value);
    data_->requires_grad = requires_grad;
  }
  explicit Var(std::shared_ptr<Data> data) : data_(std::move(data)) {}

  bool defined() const { return data_ != nullptr; }
  const Tensor<T, D>& value() const { return checked().value; }
  // The value as a mutable tensor, for in-place updates outside the graph (optimisers, initialisers).
  Tensor<T, D>& mutable_value() { return checked().value; }
  const Shape& shape() const { return value().shape(); }
  int dim() const { return value().dim(); }
  int64_t size(int64_t d) const { return value().size(d); }
  int64_t numel() const { return value().numel(); }
  T item() const { return value().item(); }

  bool requires_grad() const { return defined() && data_->requires_grad; }
  Var& requires_grad_(bool on = true) {
    VOXNN_CHECK(is_leaf() || on, "requires_grad_: only a leaf can stop requiring grad");
    checked().requires_grad = on;
    return *this;
  }
  bool is_leaf() const { return checked().node == nullptr; }
  // Keep the gradient of a non-leaf after backward (leaves always keep theirs).
  Var& retain_grad() {
    checked().retains_grad = true;
    return *this;
  }

  // The accumulated gradient (undefined tensor when none), and the same as a Var.
  Tensor<T, D> grad() const { return checked().grad ? checked().grad->value : Tensor<T, D>(); }
  Var grad_var() const { return checked().grad ? Var(checked().grad) : Var(); }
  bool has_grad() const { return defined() && data_->grad != nullptr; }
  void set_grad(const Var& g) { checked().grad = g.data_; }
  void zero_grad() { checked().grad.reset(); }  // set to none, as PyTorch's default

  // A Var sharing this value with no graph.
  Var detach() const { return Var(value(), false); }

  // Backpropagates from this Var; a scalar needs no gradient argument. Defined in engine.hpp.
  void backward(const Tensor<T, D>& grad = {}, bool retain_graph = false, bool create_graph = false) const;

  const std::shared_ptr<autograd::Node<T, D>>& node() const { return checked().node; }
  Data* id() const { return data_.get(); }
  const std::shared_ptr<Data>& data() const { return data_; }

 private:
  Data& checked() const {
    VOXNN_CHECK(data_ != nullptr, "Var: use of an undefined Var");
    return *data_;
  }
  std::shared_ptr<Data> data_;
};

template <Real T, Device D>
Var(Tensor<T, D>, bool) -> Var<T, D>;
template <Real T, Device D>
Var(Tensor<T, D>) -> Var<T, D>;

namespace autograd {

// Wraps an op's result: records a node when grad mode is on and any input requires grad.
template <class T, class D>
Var<T, D> make_result(Tensor<T, D> value, const char* name, std::vector<Var<T, D>> inputs,
                      BackwardFn<T, D> backward) {
  bool needs = false;
  if (GradMode::enabled())
    for (const auto& v : inputs) needs = needs || v.requires_grad();
  Var<T, D> out(std::move(value), needs);
  if (needs) {
    auto node = std::make_shared<Node<T, D>>();
    node->name = name;
    node->inputs = std::move(inputs);
    node->backward = std::move(backward);
    out.data()->node = std::move(node);
  }
  return out;
}

// Whether input i of a node needs a gradient.
template <class T, class D>
bool needs_grad(const std::vector<Var<T, D>>& inputs, std::size_t i) {
  return i < inputs.size() && inputs[i].requires_grad();
}

}  // namespace autograd

}  // namespace voxnn
