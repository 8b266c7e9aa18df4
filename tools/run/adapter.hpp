#pragma once
// What a model adapter of `voxnn run` sees: ModelCall<T> hands out the reference's keyword arguments
// (absent or null = the reference default), the forward's inputs and the weights. An adapter builds
// the voxnn model from the keywords, calls load(model), runs it and returns its outputs by name.
// The tables are one file per family (monai.cpp, vxm.cpp, varnet.cpp, gan.cpp, pet.cpp, slice.cpp,
// unet3d.cpp);
// registry.cpp checks the arguments against the signature and runs them.
//
//   make_model("vxm_dense", "voxelmorph/voxelmorph@ca28315 voxelmorph/torch/networks.py:VxmDense",
//              {"inshape", "nb_unet_features", ...}, {"source", "target"}, {"moved", "flow"},
//              [](auto& c) {
//                using T = run::real_t<decltype(c)>;
//                models::VxmDense<T> net(models::VxmDenseOptions{.inshape = c.template required<...>("inshape"), ...});
//                c.load(net);
//                auto [moved, flow] = net.register_pair(...);
//                return run::Outputs<T>{{"moved", moved.value()}, {"flow", flow.value()}};
//              });
#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "op/adapter.hpp"  // op::JsonValue<V>: reading typed values from JSON
#include "run/run.hpp"
#include "voxnn/core/error.hpp"
#include "voxnn/io/safetensors.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/ops/elementwise.hpp"

namespace voxnn::tools::run {

using Json = nlohmann::json;
using op::JsonValue;

template <Real T>
using Outputs = std::vector<std::pair<std::string, Tensor<T>>>;

template <Real T>
class ModelCall {
 public:
  ModelCall(const ModelSignature& sig, const Json& config, const io::TensorFile& weights,
            const io::TensorFile& inputs)
      : sig_(sig), config_(config), weights_(weights), inputs_(inputs) {}

  const ModelSignature& signature() const { return sig_; }

  template <class... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    ::voxnn::detail::throw_error(sig_.name, ": ", parts...);
  }

  // ---- keyword arguments ----
  // The raw JSON of `key`, or nullptr when absent or null (the reference default).
  const Json* find(std::string_view key) const {
    declared(sig_.kwargs, key, "keyword");
    const auto it = config_.find(std::string(key));
    return it == config_.end() || it->is_null() ? nullptr : &*it;
  }
  // `key` as a V; `fallback` (the reference default) when absent or null.
  template <class V>
  V kwarg(std::string_view key, V fallback) const {
    const Json* j = find(key);
    if (!j) return fallback;
    V out = fallback;
    if (!JsonValue<V>::read(*j, out))
      fail("config '", key, "' must be ", JsonValue<V>::what(), ", got ", j->dump());
    return out;
  }
  // `key` as a V; the reference has no default for it.
  template <class V>
  V required(std::string_view key) const {
    if (!find(key)) fail("config '", key, "' is required (the reference has no default for it)");
    return kwarg<V>(key, V{});
  }
  // A value of `key` that voxnn does not implement: "config 'use_probs' = true is not supported: why".
  [[noreturn]] void unsupported(std::string_view key, std::string_view why) const {
    const Json* j = find(key);
    fail("config '", key, "' = ", j ? j->dump() : std::string("null"), " is not supported: ", why);
  }
  // A keyword voxnn accepts only at its reference default (or null).
  template <class V>
  void require_default(std::string_view key, const V& fallback, std::string_view why) const {
    if (!find(key)) return;
    if (kwarg<V>(key, fallback) != fallback) unsupported(key, why);
  }

  // ---- forward inputs ----
  bool has_input(std::string_view name) const {
    declared(sig_.inputs, name, "input");
    return inputs_.contains(name);
  }
  // A real input, converted to T; required.
  Tensor<T> input(std::string_view name) const {
    if (!has_input(name)) fail("missing tensor '", name, "' in the input file");
    const io::DType d = inputs_.entry(name).dtype;
    if (!is_floating(d))
      fail("tensor '", name, "' has dtype ", io::dtype_name(d), "; expected a floating dtype (F32 or F64)");
    return inputs_.get<T>(name);
  }
  // A mask: BOOL or integer tensors non-zero = true, real ones (fastMRI's float masks) likewise.
  Tensor<bool> mask(std::string_view name) const {
    if (!has_input(name)) fail("missing tensor '", name, "' in the input file");
    if (is_floating(inputs_.entry(name).dtype)) return ops::ne(inputs_.get<T>(name), T(0));
    return ops::ne(inputs_.get<int64_t>(name), int64_t{0});
  }

  // A scalar integer argument (fastMRI's num_low_frequencies), or nullopt when absent: an integer
  // tensor (what torch saves for a Python int), or a real one holding an integer.
  std::optional<int64_t> integer_scalar(std::string_view name) const {
    if (!has_input(name)) return std::nullopt;
    const io::TensorEntry& e = inputs_.entry(name);
    if (e.numel() != 1) fail("tensor '", name, "' has shape ", e.shape, "; expected one integer");
    if (!is_floating(e.dtype)) return inputs_.get<int64_t>(name).item();
    const double v = inputs_.get<double>(name).item();
    if (!(std::abs(v) < 9e15) || v != std::floor(v)) fail("tensor '", name, "' must hold an integer, got ", v);
    return static_cast<int64_t>(v);
  }

  // ---- weights ----
  // Loads the weights into `model` by name, each converted to T (BatchNorm's int64
  // num_batches_tracked included), strictly: missing, unexpected and mis-shaped keys are errors, but
  // derived buffers may be absent. Then puts the model in eval mode.
  template <class M>
  void load(M& model) const {
    nn::StateDict<T> dict;
    for (const auto& entry : weights_.entries()) dict.insert(entry.name, weights_.get<T>(entry.name));
    model.load_state_dict(dict);
    model.eval();
  }
  // The weight file itself, for models whose sizes follow from their weights (RED-WGAN's generator
  // takes no keywords: its widths are those of the weights).
  const io::TensorFile& weights() const { return weights_; }

  static bool is_floating(io::DType d) {
    return d == io::DType::F32 || d == io::DType::F64 || d == io::DType::F16 || d == io::DType::BF16;
  }

 private:
  void declared(const std::vector<std::string_view>& list, std::string_view name, const char* what) const {
    for (std::string_view n : list)
      if (n == name) return;
    fail("internal error: the adapter reads ", what, " '", name, "' that its signature does not list");
  }

  const ModelSignature& sig_;
  const Json& config_;
  const io::TensorFile& weights_;
  const io::TensorFile& inputs_;
};

// ---- the table -----------------------------------------------------------------------------------------

template <Real T>
using Adapter = Outputs<T> (*)(ModelCall<T>&);

struct ModelSpec {
  ModelSignature signature;
  Adapter<float> f32;
  Adapter<double> f64;
  template <Real T>
  Adapter<T> adapter() const {
    if constexpr (std::is_same_v<T, float>) return f32;
    else return f64;
  }
};

// An entry from a captureless generic lambda `[](auto& c) { ... return Outputs<T>{...}; }`.
template <class F>
ModelSpec make_model(std::string_view name, std::string_view reference, std::vector<std::string_view> kwargs,
                     std::vector<std::string_view> inputs, std::vector<std::string_view> outputs, F) {
  static_assert(std::is_empty_v<F>, "model adapters must not capture");
  return {{name, reference, std::move(kwargs), std::move(inputs), std::move(outputs)},
          [](ModelCall<float>& c) -> Outputs<float> { return F{}(c); },
          [](ModelCall<double>& c) -> Outputs<double> { return F{}(c); }};
}

// The real type an adapter runs in: `using T = run::real_t<decltype(c)>;`.
template <class C>
struct real_of;
template <Real T>
struct real_of<ModelCall<T>> {
  using type = T;
};
template <class C>
using real_t = typename real_of<std::remove_cvref_t<C>>::type;

// The tables, one per source file.
void add_monai_models(std::vector<ModelSpec>& table);   // basic_unet, monai_unet
void add_vxm_models(std::vector<ModelSpec>& table);     // vxm_dense
void add_varnet_models(std::vector<ModelSpec>& table);  // varnet
void add_gan_models(std::vector<ModelSpec>& table);     // red_wgan_generator
void add_pet_models(std::vector<ModelSpec>& table);     // deeppet
void add_slice_models(std::vector<ModelSpec>& table);   // slice_set_net, slice_lstm
void add_unet3d_models(std::vector<ModelSpec>& table);  // unet3d

}  // namespace voxnn::tools::run
