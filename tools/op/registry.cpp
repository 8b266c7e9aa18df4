// `voxnn op`: the table of operators and running one of them (forward, then backward on request).
#include <algorithm>
#include <exception>
#include <string>

#include "common/registry.hpp"
#include "op/adapter.hpp"
#include "voxnn/autograd/engine.hpp"
#include "voxnn/autograd/grad_mode.hpp"
#include "voxnn/core/factory.hpp"

namespace voxnn::tools {
namespace op {

namespace {

const std::vector<OpSpec>& table() {
  static const std::vector<OpSpec> ops = [] {
    std::vector<OpSpec> t;
    add_conv_ops(t);
    add_pool_ops(t);
    add_norm_ops(t);
    add_misc_ops(t);
    add_fft_ops(t);
    add_grid_ops(t);
    add_deformation_ops(t);
    add_mri_ops(t);
    add_pet_ops(t);
    add_attention_ops(t);
    add_rnn_ops(t);
    std::sort(t.begin(), t.end(),
              [](const OpSpec& a, const OpSpec& b) { return a.signature.name < b.signature.name; });
    return t;
  }();
  return ops;
}

const OpSpec* find_op(std::string_view name) { return registry::find(table(), name); }

using registry::contains;
using registry::join;

// gout, gout_<name>: upstream gradients, read only under --backward.
bool is_upstream_gradient(std::string_view name) { return name == "gout" || name.starts_with("gout_"); }

// Rejects config keys and tensors the op does not take, before it runs.
void check_arguments(const OpSignature& sig, const Json& config, const io::TensorFile& inputs) {
  const std::string_view op = sig.name;
  VOXNN_CHECK(config.is_object(), op, ": the config must be a JSON object of keyword arguments, got ",
              config.type_name());
  for (const auto& [key, value] : config.items())
    VOXNN_CHECK(contains(sig.config, key), op, ": unknown config key '", key, "' (", op, " takes ",
                join(sig.config), ")");
  for (const std::string& name : inputs.names())
    VOXNN_CHECK(contains(sig.tensors, name) || is_upstream_gradient(name), op, ": unknown tensor '", name,
                "' in the input file (", op, " takes ", join(sig.tensors), ", and gout with --backward)");
  // The first tensor argument (`input` for torch.nn.functional's ops; `data`, `x` or `theta` where the
  // reference names it so) is required: the op runs in its dtype.
  const std::string_view first = sig.tensors.empty() ? std::string_view("input") : sig.tensors.front();
  VOXNN_CHECK(inputs.contains(first), op, ": missing tensor '", first, "' in the input file");
}

template <Real T>
io::TensorFile run_as(const OpSpec& spec, const Json& config, const io::TensorFile& inputs, bool backward) {
  const std::string_view op = spec.signature.name;
  Call<T> call(spec.signature, config, inputs, backward);
  Outputs<T> outs;
  {
    std::optional<NoGradGuard> no_grad;
    if (!backward) no_grad.emplace();
    outs = spec.adapter<T>()(call);
  }
  io::TensorFile file;
  for (const auto& [name, v] : outs.values) file.add(name, v.value());
  for (const auto& [name, t] : outs.indices) file.add(name, t);
  if (!backward) return file;

  // Seeds: gout for out, gout_<name> for out_<name>, for every output that carries a graph.
  std::vector<Var<T>> roots;
  std::vector<Tensor<T>> seeds;
  std::vector<std::string> seed_names;
  for (const auto& [name, v] : outs.values) {
    if (!v.requires_grad()) continue;
    const std::string g = "g" + name;
    VOXNN_CHECK(inputs.contains(g), op, ": missing tensor '", g, "' (the gradient of output '", name,
                "') in the input file, needed by --backward");
    const io::DType d = inputs.entry(g).dtype;
    VOXNN_CHECK(d == io::DType::F32 || d == io::DType::F64 || d == io::DType::F16 || d == io::DType::BF16, op,
                ": tensor '", g, "' has dtype ", io::dtype_name(d), "; expected a floating dtype (F32 or F64)");
    Tensor<T> seed = inputs.get<T>(g);
    VOXNN_CHECK(seed.shape() == v.shape(), op, ": tensor '", g, "' has shape ", seed.shape(), " but output '", name,
                "' has shape ", v.shape());
    roots.push_back(v);
    seeds.push_back(std::move(seed));
    seed_names.push_back(g);
  }
  for (const std::string& name : inputs.names())
    VOXNN_CHECK(!is_upstream_gradient(name) || std::find(seed_names.begin(), seed_names.end(), name) != seed_names.end(),
                op, ": tensor '", name, "' is not the gradient of a differentiable output of ", op);

  const auto& wrt = call.differentiable();
  std::vector<Var<T>> leaves;
  for (const auto& [name, v] : wrt) leaves.push_back(v);
  std::vector<Var<T>> grads(leaves.size());
  if (!roots.empty() && !leaves.empty()) grads = voxnn::grad(roots, leaves, seeds, false, false, true);
  // An argument the outputs do not depend on gets zeros (PyTorch: None).
  for (std::size_t i = 0; i < wrt.size(); ++i)
    file.add("grad_" + wrt[i].first, grads[i].defined() ? grads[i].value() : zeros<T>(wrt[i].second.shape()));
  return file;
}

}  // namespace
}  // namespace op

const std::vector<OpSignature>& op_signatures() {
  static const std::vector<OpSignature> sigs = [] {
    std::vector<OpSignature> out;
    for (const op::OpSpec& s : op::table()) out.push_back(s.signature);
    return out;
  }();
  return sigs;
}

std::vector<std::string> op_names() {
  std::vector<std::string> out;
  for (const OpSignature& s : op_signatures()) out.emplace_back(s.name);
  return out;
}

io::TensorFile run_op(std::string_view name, const nlohmann::json& config, const io::TensorFile& inputs,
                      bool backward) {
  const op::OpSpec* spec = op::find_op(name);
  VOXNN_CHECK(spec, name, ": unknown op (`voxnn op --list` prints the ", op::table().size(), " operators)");
  // Every message names the op: the library's usually do ("conv3d: ..."); others get the prefix.
  auto named = [&](const char* what) { return registry::named(name, what); };
  try {
    const op::Json& cfg = config.is_null() ? op::Json::object() : config;
    op::check_arguments(spec->signature, cfg, inputs);
    const std::string_view first = spec->signature.tensors.empty() ? std::string_view("input")
                                                                    : spec->signature.tensors.front();
    const io::DType dtype = inputs.entry(first).dtype;
    if (dtype == io::DType::F32) return op::run_as<float>(*spec, cfg, inputs, backward);
    VOXNN_CHECK(dtype == io::DType::F64, "tensor '", first, "' has dtype ", io::dtype_name(dtype),
                "; voxnn op runs in F32 or F64, the dtype of ", first);
    return op::run_as<double>(*spec, cfg, inputs, backward);
  } catch (const Error& e) {
    throw Error(named(e.what()));
  } catch (const std::exception& e) {  // nlohmann::json, std::bad_alloc, ...
    throw Error(named(e.what()));
  }
}

}  // namespace voxnn::tools
