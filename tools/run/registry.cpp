// `voxnn run`: the table of models and running one of them.
#include <algorithm>
#include <exception>
#include <optional>
#include <string>

#include "common/registry.hpp"
#include "run/adapter.hpp"
#include "voxnn/autograd/grad_mode.hpp"

namespace voxnn::tools {
namespace run {
namespace {

const std::vector<ModelSpec>& table() {
  static const std::vector<ModelSpec> models = [] {
    std::vector<ModelSpec> t;
    add_monai_models(t);
    add_vxm_models(t);
    add_varnet_models(t);
    add_gan_models(t);
    add_pet_models(t);
    add_slice_models(t);
    add_unet3d_models(t);
    std::sort(t.begin(), t.end(),
              [](const ModelSpec& a, const ModelSpec& b) { return a.signature.name < b.signature.name; });
    return t;
  }();
  return models;
}

const ModelSpec* find_model(std::string_view name) { return registry::find(table(), name); }

using registry::contains;
using registry::join;

// Rejects keywords and tensors the reference does not take, before anything is built: the same
// mistake in Python would be a TypeError.
void check_arguments(const ModelSignature& sig, const Json& config, const io::TensorFile& inputs) {
  const std::string_view model = sig.name;
  VOXNN_CHECK(config.is_object(), model, ": the config must be a JSON object of the reference constructor's keyword "
              "arguments, got ", config.type_name());
  for (const auto& [key, value] : config.items())
    VOXNN_CHECK(contains(sig.kwargs, key), model, ": unknown keyword '", key, "' (", sig.reference, " takes ",
                join(sig.kwargs), ")");
  for (const std::string& name : inputs.names())
    VOXNN_CHECK(contains(sig.inputs, name), model, ": unknown tensor '", name, "' in the input file (the forward takes ",
                join(sig.inputs), ")");
  VOXNN_CHECK(!sig.inputs.empty() && inputs.contains(sig.inputs.front()), model, ": missing tensor '",
              sig.inputs.front(), "' in the input file");
}

template <Real T>
io::TensorFile run_as(const ModelSpec& spec, const Json& config, const io::TensorFile& weights,
                      const io::TensorFile& inputs) {
  ModelCall<T> call(spec.signature, config, weights, inputs);
  NoGradGuard no_grad;
  const Outputs<T> outs = spec.adapter<T>()(call);
  io::TensorFile file;
  for (const auto& [name, t] : outs) {
    VOXNN_CHECK(contains(spec.signature.outputs, name), spec.signature.name, ": internal error: output '", name,
                "' is not in the signature");
    file.add(name, t);
  }
  return file;
}

}  // namespace
}  // namespace run

const std::vector<ModelSignature>& model_signatures() {
  static const std::vector<ModelSignature> sigs = [] {
    std::vector<ModelSignature> out;
    for (const run::ModelSpec& s : run::table()) out.push_back(s.signature);
    return out;
  }();
  return sigs;
}

io::TensorFile run_model(std::string_view name, const nlohmann::json& config, const io::TensorFile& weights,
                         const io::TensorFile& inputs) {
  const run::ModelSpec* spec = run::find_model(name);
  VOXNN_CHECK(spec, name, ": unknown model (`voxnn run --list` prints the ", run::table().size(), " models)");
  auto named = [&](const char* what) { return registry::named(name, what); };
  try {
    const run::Json& cfg = config.is_null() ? run::Json::object() : config;
    run::check_arguments(spec->signature, cfg, inputs);
    const io::DType dtype = inputs.entry(spec->signature.inputs.front()).dtype;
    if (dtype == io::DType::F64) return run::run_as<double>(*spec, cfg, weights, inputs);
    return run::run_as<float>(*spec, cfg, weights, inputs);
  } catch (const Error& e) {
    throw Error(named(e.what()));
  } catch (const std::exception& e) {  // nlohmann::json, std::bad_alloc, ...
    throw Error(named(e.what()));
  }
}

}  // namespace voxnn::tools
