#pragma once
// The backward engine: a depth-first topological order over the graph reachable from the roots,
// then one pass in reverse order that sums each Var's incoming gradients before calling its node.
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/var.hpp"

namespace voxnn {

namespace autograd {

// Vars reachable from the roots through nodes, each after every Var that depends on it.
template <class T, class D>
std::vector<Var<T, D>> topological_order(const std::vector<Var<T, D>>& roots) {
  std::vector<Var<T, D>> order;  // post-order: inputs before the Vars made from them
  std::unordered_set<const VarData<T, D>*> visited;
  struct Frame {
    Var<T, D> var;
    std::size_t next_input;
  };
  std::vector<Frame> stack;
  for (const auto& root : roots) {
    if (!root.requires_grad() || !visited.insert(root.id()).second) continue;
    stack.push_back({root, 0});
    while (!stack.empty()) {
      Frame& top = stack.back();
      const auto& node = top.var.data()->node;
      if (node && top.next_input < node->inputs.size()) {
        const Var<T, D>& in = node->inputs[top.next_input++];
        if (in.requires_grad() && visited.insert(in.id()).second) stack.push_back({in, 0});
        continue;
      }
      order.push_back(top.var);
      stack.pop_back();
    }
  }
  return {order.rbegin(), order.rend()};
}

// Runs backward from roots seeded with root_grads. When `wanted` is given, returns the gradients of
// those Vars (autograd.grad); otherwise accumulates into leaves' .grad (Tensor.backward).
template <class T, class D>
std::vector<Var<T, D>> run_backward(const std::vector<Var<T, D>>& roots, const std::vector<Var<T, D>>& root_grads,
                                    bool retain_graph, bool create_graph, const std::vector<Var<T, D>>* wanted) {
  retain_graph = retain_graph || create_graph;
  std::optional<NoGradGuard> no_grad;
  if (!create_graph) no_grad.emplace();
  std::optional<EnableGradGuard> enable_grad;
  if (create_graph) enable_grad.emplace();

  std::unordered_map<const VarData<T, D>*, Var<T, D>> pending;
  auto accumulate = [](Var<T, D>& slot, const Var<T, D>& g) { slot = slot.defined() ? slot + g : g; };
  for (std::size_t i = 0; i < roots.size(); ++i) {
    VOXNN_CHECK(roots[i].requires_grad(), "backward: output ", i, " of shape ", roots[i].shape(),
                " does not require grad and has no graph");
    accumulate(pending[roots[i].id()], root_grads[i]);
  }

  std::unordered_map<const VarData<T, D>*, std::size_t> wanted_index;
  std::vector<Var<T, D>> results;
  if (wanted) {
    results.resize(wanted->size());
    for (std::size_t i = 0; i < wanted->size(); ++i) {
      VOXNN_CHECK((*wanted)[i].requires_grad(), "grad: input ", i, " of shape ", (*wanted)[i].shape(),
                  " does not require grad");
      wanted_index[(*wanted)[i].id()] = i;
    }
  }

  for (const Var<T, D>& var : topological_order(roots)) {
    auto it = pending.find(var.id());
    if (it == pending.end()) continue;
    Var<T, D> g = std::move(it->second);
    pending.erase(it);
    auto& data = *var.data();

    if (wanted) {
      if (auto w = wanted_index.find(var.id()); w != wanted_index.end()) results[w->second] = g;
    } else if (!data.node || data.retains_grad) {
      // A leaf keeps its own contiguous copy: upstream gradients may be shared by several Vars or be
      // broadcast views, and optimisers update .grad in place. With create_graph the copy is recorded
      // as an identity node, so the gradient stays differentiable.
      Var<T, D> own = create_graph ? make_result<T, D>(g.value().clone(), "clone", {g},
                                                       [](const auto&, const auto&, const auto& gg) {
                                                         return std::vector{gg};
                                                       })
                                   : Var<T, D>(g.value().clone());
      if (data.grad) own = Var<T, D>(data.grad) + own;
      data.grad = own.data();
    }

    const auto& node = data.node;
    if (!node) continue;
    VOXNN_CHECK(!node->released, "backward: trying to go through the graph of '", node->name,
                "' a second time; pass retain_graph = true the first time");
    VOXNN_CHECK(g.shape() == var.shape(), "backward: gradient of shape ", g.shape(), " for '", node->name,
                "' whose output has shape ", var.shape());
    std::vector<Var<T, D>> grads = node->backward(node->inputs, var, g);
    for (std::size_t i = 0; i < node->inputs.size() && i < grads.size(); ++i) {
      const Var<T, D>& in = node->inputs[i];
      if (!in.requires_grad() || !grads[i].defined()) continue;
      accumulate(pending[in.id()], grads[i]);
    }
    if (!retain_graph) {
      node->inputs.clear();
      node->backward = nullptr;
      node->released = true;
    }
  }
  return results;
}

}  // namespace autograd

template <Real T, Device D>
void Var<T, D>::backward(const Tensor<T, D>& grad, bool retain_graph, bool create_graph) const {
  Tensor<T, D> seed = grad;
  if (!seed.defined()) {
    VOXNN_CHECK(numel() == 1, "backward: a gradient must be given for an output of shape ", shape(),
                " (only a one-element output gets an implicit gradient of 1)");
    seed = ones<T, D>(shape());
  }
  VOXNN_CHECK(seed.shape() == shape(), "backward: gradient of shape ", seed.shape(), " for an output of shape ",
              shape());
  autograd::run_backward<T, D>({*this}, {Var<T, D>(seed)}, retain_graph, create_graph, nullptr);
}

// Gradients of outputs with respect to inputs, as torch.autograd.grad. With create_graph the
// results carry a graph of their own and can be differentiated again. An input that the outputs do
// not depend on gets an undefined Var unless allow_unused is false, in which case it is an error.
template <Real T, Device D>
std::vector<Var<T, D>> grad(const std::vector<Var<T, D>>& outputs, const std::vector<Var<T, D>>& inputs,
                            std::vector<Tensor<T, D>> grad_outputs = {}, bool retain_graph = false,
                            bool create_graph = false, bool allow_unused = false) {
  std::vector<Var<T, D>> seeds;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (i < grad_outputs.size() && grad_outputs[i].defined()) {
      VOXNN_CHECK(grad_outputs[i].shape() == outputs[i].shape(), "grad: grad_output of shape ",
                  grad_outputs[i].shape(), " for output of shape ", outputs[i].shape());
      seeds.push_back(Var<T, D>(grad_outputs[i]));
    } else {
      VOXNN_CHECK(outputs[i].numel() == 1, "grad: a grad_output is needed for output ", i, " of shape ",
                  outputs[i].shape());
      seeds.push_back(Var<T, D>(ones<T, D>(outputs[i].shape())));
    }
  }
  auto results = autograd::run_backward<T, D>(outputs, seeds, retain_graph, create_graph, &inputs);
  for (std::size_t i = 0; i < results.size(); ++i)
    VOXNN_CHECK(allow_unused || results[i].defined(), "grad: input ", i, " of shape ", inputs[i].shape(),
                " was not used to compute the outputs (pass allow_unused = true)");
  return results;
}

}  // namespace voxnn
