#pragma once
// MONAI's network building blocks, with MONAI's module names so that MONAI state_dicts load by name.
// Matches Project-MONAI/MONAI@d388d1c:
//   monai/networks/layers/factories.py   Act / Norm / Dropout names      -> monai::LayerSpec
//   monai/networks/blocks/acti_norm.py   ADN (children "N", "D", "A" in `ordering`)
//   monai/networks/blocks/convolutions.py Convolution (children "conv", "adn"), ResidualUnit
//                                         (children "conv" = {"unit0", "unit1", ...}, "residual")
//   monai/networks/layers/simplelayers.py SkipConnection (child "submodule", cat mode)
//   monai/networks/blocks/upsample.py    UpSample as BasicUNet uses it ("deconv", "deconvgroup", "nontrainable" with
//                                         "preconv" + "upsample_non_trainable", "pixelshuffle" with
//                                         SubpixelUpsample's "conv_block")
// spatial_dims is a run-time option (1, 2 or 3) as in MONAI; each block builds the matching
// voxnn::nn module (Conv3d, InstanceNorm2d, ...).
//
// A layer is named as MONAI's factories accept it: a name (case-insensitive) or a name with keyword
// arguments, e.g. LayerSpec("PRELU"), LayerSpec{"leakyrelu", {{"negative_slope", 0.1}}},
// LayerSpec{"group", {{"num_groups", 4}}}; a number is a dropout rate (LayerSpec(0.2)); the empty
// name is MONAI's Identity; std::nullopt (Python's None) leaves the layer out.
//   act:     relu, leakyrelu, prelu, elu, gelu, sigmoid, tanh, relu6, selu, celu, softmax,
//            logsoftmax, swish, memswish (mish and geglu are not supported)
//   norm:    instance, batch, group, layer, syncbatch (a BatchNorm: same parameters, and the same
//            result in eval mode), instance_nvfuser (InstanceNorm, as MONAI without apex)
//   dropout: a rate, dropout (dropout_dim 1, 2, 3 -> Dropout, Dropout2d, Dropout3d)
// Deliberate differences: SubpixelUpsample's default conv keeps PyTorch's default initialisation
// (MONAI re-initialises it with ICNR; loaded weights are unaffected) and its pad-and-pool step is
// done in forward rather than by a child Sequential (it has no parameters).
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/functions/pad.hpp"
#include "voxnn/autograd/functions/pool.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/autograd/functions/shuffle.hpp"
#include "voxnn/nn/activation.hpp"
#include "voxnn/nn/conv.hpp"
#include "voxnn/nn/dropout.hpp"
#include "voxnn/nn/identity.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/norm.hpp"
#include "voxnn/nn/pool.hpp"
#include "voxnn/nn/upsample.hpp"

namespace voxnn::models::monai {

// One size or one per spatial dim (MONAI's `Sequence[int] | int`).
using Sizes = DimValues<int64_t>;

// ---- layer specifications ------------------------------------------------------------------------

// A keyword argument value of a MONAI layer: None, bool, int, float, str or a list of ints.
class LayerArg {
 public:
  enum class Kind { none, boolean, integer, real, string, ints };
  LayerArg() = default;  // None
  LayerArg(std::nullopt_t) {}                                               // NOLINT
  LayerArg(bool v) : kind_(Kind::boolean), b_(v) {}                         // NOLINT
  template <std::integral I>
    requires(!std::same_as<I, bool>)
  LayerArg(I v) : kind_(Kind::integer), i_(static_cast<int64_t>(v)) {}     // NOLINT
  LayerArg(double v) : kind_(Kind::real), d_(v) {}                          // NOLINT
  LayerArg(const char* v) : kind_(Kind::string), s_(v) {}                  // NOLINT
  LayerArg(std::string v) : kind_(Kind::string), s_(std::move(v)) {}       // NOLINT
  LayerArg(std::vector<int64_t> v) : kind_(Kind::ints), v_(std::move(v)) {}  // NOLINT
  LayerArg(std::initializer_list<int64_t> v) : kind_(Kind::ints), v_(v) {}   // NOLINT

  Kind kind() const { return kind_; }
  bool is_none() const { return kind_ == Kind::none; }
  bool is_number() const { return kind_ == Kind::integer || kind_ == Kind::real; }
  bool boolean() const { return b_; }
  int64_t integer() const { return i_; }
  double number() const { return kind_ == Kind::integer ? static_cast<double>(i_) : d_; }
  const std::string& string() const { return s_; }
  const std::vector<int64_t>& ints() const { return v_; }

  std::string repr() const {
    std::ostringstream os;
    switch (kind_) {
      case Kind::none: os << "None"; break;
      case Kind::boolean: os << (b_ ? "True" : "False"); break;
      case Kind::integer: os << i_; break;
      case Kind::real: os << d_; break;
      case Kind::string: os << '\'' << s_ << '\''; break;
      case Kind::ints:
        os << '(';
        for (std::size_t k = 0; k < v_.size(); ++k) os << (k ? ", " : "") << v_[k];
        os << ')';
        break;
    }
    return os.str();
  }

 private:
  Kind kind_ = Kind::none;
  bool b_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::string s_;
  std::vector<int64_t> v_;
};

using LayerKwargs = std::vector<std::pair<std::string, LayerArg>>;

// MONAI's `"name"` or `("name", {kwargs})`; a plain number is a dropout rate (`dropout=0.2`).
struct LayerSpec {
  std::string name;
  LayerKwargs kwargs{};
  bool rate = false;  // made from a number: Dropout(p=number)

  LayerSpec(std::string n, LayerKwargs k = {}) : name(std::move(n)), kwargs(std::move(k)) {}  // NOLINT
  LayerSpec(const char* n, LayerKwargs k = {}) : name(n), kwargs(std::move(k)) {}             // NOLINT
  LayerSpec(double p) : name("dropout"), kwargs{{"p", p}}, rate(true) {}                       // NOLINT
  template <std::integral I>
    requires(!std::same_as<I, bool>)
  LayerSpec(I p) : LayerSpec(static_cast<double>(p)) {}  // NOLINT

  // As MONAI would print the argument: 'prelu', ('group', {'num_groups': 4}) or 0.2.
  std::string repr() const {
    if (rate) return kwargs.front().second.repr();
    if (kwargs.empty()) return '\'' + name + '\'';
    std::string out = "('" + name + "', {";
    for (std::size_t k = 0; k < kwargs.size(); ++k)
      out += (k ? ", '" : "'") + kwargs[k].first + "': " + kwargs[k].second.repr();
    return out + "})";
  }
  // The factory's key: MONAI upper-cases names; here they are compared in lower case.
  std::string key() const {
    std::string k = name;
    for (char& c : k) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return k;
  }
};

namespace detail {

// Reads the keyword arguments of one layer: each known key at most once, unknown keys an error
// (Python's TypeError for an unexpected keyword argument).
class KwargReader {
 public:
  KwargReader(const LayerSpec& spec, std::string what, std::vector<std::string_view> allowed)
      : spec_(spec), what_(std::move(what)) {
    for (std::size_t i = 0; i < spec.kwargs.size(); ++i) {
      const std::string& k = spec.kwargs[i].first;
      bool ok = false;
      for (std::string_view a : allowed) ok = ok || a == k;
      if (!ok) {
        std::string list;
        for (std::string_view a : allowed) list.append(list.empty() ? "" : ", ").append(a);
        fail("unexpected keyword '", k, "' (", spec.name, " takes ", list.empty() ? std::string("none") : list, ")");
      }
      for (std::size_t j = 0; j < i; ++j)
        if (spec.kwargs[j].first == k) fail("keyword '", k, "' given twice");
    }
  }
  template <class... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    ::voxnn::detail::throw_error(what_, " ", spec_.repr(), ": ", parts...);
  }
  const LayerArg* find(std::string_view key) const {
    for (const auto& [k, v] : spec_.kwargs)
      if (k == key) return &v;
    return nullptr;
  }
  double number(std::string_view key, double fallback) const {
    const LayerArg* a = find(key);
    if (!a) return fallback;
    if (!a->is_number()) fail("'", key, "' must be a number, got ", a->repr());
    return a->number();
  }
  std::optional<double> optional_number(std::string_view key, std::optional<double> fallback) const {
    const LayerArg* a = find(key);
    if (!a) return fallback;
    if (a->is_none()) return std::nullopt;
    return number(key, 0.0);
  }
  int64_t integer(std::string_view key, int64_t fallback) const {
    const LayerArg* a = find(key);
    if (!a) return fallback;
    if (a->kind() != LayerArg::Kind::integer) fail("'", key, "' must be an integer, got ", a->repr());
    return a->integer();
  }
  int64_t required_integer(std::string_view key) const {
    if (!find(key)) fail("missing required keyword '", key, "'");
    return integer(key, 0);
  }
  bool boolean(std::string_view key, bool fallback) const {
    const LayerArg* a = find(key);
    if (!a) return fallback;
    if (a->kind() != LayerArg::Kind::boolean) fail("'", key, "' must be True or False, got ", a->repr());
    return a->boolean();
  }
  std::string string(std::string_view key, std::string fallback) const {
    const LayerArg* a = find(key);
    if (!a) return fallback;
    if (a->kind() != LayerArg::Kind::string) fail("'", key, "' must be a string, got ", a->repr());
    return a->string();
  }
  // An int or a list of ints.
  std::vector<int64_t> ints(std::string_view key) const {
    const LayerArg* a = find(key);
    if (!a) fail("missing required keyword '", key, "'");
    if (a->kind() == LayerArg::Kind::integer) return {a->integer()};
    if (a->kind() != LayerArg::Kind::ints) fail("'", key, "' must be an integer or a list of integers, got ", a->repr());
    return a->ints();
  }

 private:
  const LayerSpec& spec_;
  std::string what_;
};

// Calls f(std::integral_constant<int, N>) for N = dims in {1, 2, 3}.
template <class F>
auto with_dims(int64_t dims, std::string_view who, F&& f) {
  switch (dims) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    default: ::voxnn::detail::throw_error(who, ": spatial_dims must be 1, 2 or 3, got ", dims);
  }
}

// `s` as `dims` values (one value repeats), each checked against `min`.
inline std::vector<int64_t> sizes(const Sizes& s, int64_t dims, std::string_view who, std::string_view what,
                                  int64_t min = 0) {
  VOXNN_CHECK(s.size() == 1 || s.size() == static_cast<std::size_t>(dims), who, ": ", what, " needs 1 or ", dims,
              " values (spatial_dims), got ", s.size());
  std::vector<int64_t> out;
  for (int i = 0; i < dims; ++i) {
    out.push_back(s.at(i));
    VOXNN_CHECK(out.back() >= min, who, ": ", what, " must be >= ", min, ", got ", out.back());
  }
  return out;
}

inline std::string join(const std::vector<int64_t>& v) {
  std::string out = "(";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + ")";
}

// MONAI's same_padding: (k - 1) / 2 * dilation in real numbers, defined for even (k - 1) * dilation
// only (so k = 2 with dilation 2 pads 1).
inline std::vector<int64_t> same_padding(const std::vector<int64_t>& kernel, const std::vector<int64_t>& dilation,
                                         std::string_view who) {
  std::vector<int64_t> out;
  for (std::size_t i = 0; i < kernel.size(); ++i) {
    VOXNN_CHECK((kernel[i] - 1) * dilation[i] % 2 == 0, who, ": same padding is not available for kernel_size=",
                join(kernel), " and dilation=", join(dilation), " (MONAI needs (kernel_size - 1) * dilation even)");
    out.push_back((kernel[i] - 1) * dilation[i] / 2);
  }
  return out;
}

// The parameter-free activations that torch.nn has no voxnn module for, and the softmax forms.
enum class ActKind { relu6, selu, celu, swish, memswish, softmax, logsoftmax };

template <Real T, Device D>
class ExtraActivation : public nn::Module<T, D> {
 public:
  ExtraActivation(nn::Module<T, D>* parent, std::string name, ActKind kind, double alpha,
                  std::optional<int64_t> dim)
      : nn::Module<T, D>(parent, std::move(name)), kind_(kind), alpha_(alpha), dim_(dim) {}
  Var<T, D> forward(const Var<T, D>& x) override {
    switch (kind_) {
      case ActKind::relu6: return clamp(x, T(0), T(6));
      case ActKind::selu:  // torch.nn.SELU's constants
        return elu(x, 1.6732632423543772848170429916717) * T(1.0507009873554804934193349852946);
      case ActKind::celu: return elu(x / static_cast<T>(alpha_), 1.0) * static_cast<T>(alpha_);
      case ActKind::swish: return x * sigmoid(x * static_cast<T>(alpha_));
      case ActKind::memswish: return silu(x);
      case ActKind::softmax: return softmax(x, softmax_dim(x));
      case ActKind::logsoftmax: return log_softmax(x, softmax_dim(x));
    }
    return x;
  }
  std::string type_name() const override {
    static const char* const names[] = {"ReLU6",   "SELU",    "CELU",      "Swish",
                                        "MemoryEfficientSwish", "Softmax", "LogSoftmax"};
    return names[static_cast<int>(kind_)];
  }

 private:
  // torch's implicit softmax dim when dim is None: 0 for 0-, 1- and 3-dim inputs, else 1.
  int64_t softmax_dim(const Var<T, D>& x) const {
    if (dim_) return *dim_;
    return x.dim() == 0 || x.dim() == 1 || x.dim() == 3 ? 0 : 1;
  }
  ActKind kind_;
  double alpha_;
  std::optional<int64_t> dim_;
};

// MONAI's get_act_layer.
template <Real T, Device D>
std::unique_ptr<nn::Module<T, D>> make_act(nn::Module<T, D>* parent, const std::string& name, const LayerSpec& spec) {
  using Ptr = std::unique_ptr<nn::Module<T, D>>;
  const std::string k = spec.key();
  const std::string what = "act";
  if (k.empty()) return std::make_unique<nn::Identity<T, D>>(parent, name);
  if (spec.rate) KwargReader(spec, what, {}).fail("an activation must be a name, not a number");
  if (k == "relu" || k == "sigmoid" || k == "tanh" || k == "relu6" || k == "selu") {
    const bool inplace_ok = k != "sigmoid" && k != "tanh";
    KwargReader r(spec, what, inplace_ok ? std::vector<std::string_view>{"inplace"} : std::vector<std::string_view>{});
    (void)r.boolean("inplace", false);  // in-place or not, the values are the same
    if (k == "relu") return Ptr(std::make_unique<nn::ReLU<T, D>>(parent, name));
    if (k == "sigmoid") return Ptr(std::make_unique<nn::Sigmoid<T, D>>(parent, name));
    if (k == "tanh") return Ptr(std::make_unique<nn::Tanh<T, D>>(parent, name));
    return Ptr(std::make_unique<ExtraActivation<T, D>>(parent, name, k == "relu6" ? ActKind::relu6 : ActKind::selu,
                                                       1.0, std::nullopt));
  }
  if (k == "leakyrelu") {
    KwargReader r(spec, what, {"negative_slope", "inplace"});
    (void)r.boolean("inplace", false);
    return std::make_unique<nn::LeakyReLU<T, D>>(parent, name,
                                                 nn::LeakyReLUOptions{.negative_slope = r.number("negative_slope", 0.01)});
  }
  if (k == "prelu") {
    KwargReader r(spec, what, {"num_parameters", "init"});
    const int64_t n = r.integer("num_parameters", 1);
    if (n <= 0) r.fail("num_parameters must be positive, got ", n);
    return std::make_unique<nn::PReLU<T, D>>(parent, name, nn::PReLUOptions{.num_parameters = n, .init = r.number("init", 0.25)});
  }
  if (k == "elu") {
    KwargReader r(spec, what, {"alpha", "inplace"});
    (void)r.boolean("inplace", false);
    return std::make_unique<nn::ELU<T, D>>(parent, name, nn::ELUOptions{.alpha = r.number("alpha", 1.0)});
  }
  if (k == "celu") {
    KwargReader r(spec, what, {"alpha", "inplace"});
    (void)r.boolean("inplace", false);
    const double alpha = r.number("alpha", 1.0);
    if (alpha == 0) r.fail("alpha must not be 0");
    return std::make_unique<ExtraActivation<T, D>>(parent, name, ActKind::celu, alpha, std::nullopt);
  }
  if (k == "gelu") {
    KwargReader r(spec, what, {"approximate"});
    const std::string approximate = r.string("approximate", "none");
    if (approximate != "none" && approximate != "tanh")
      r.fail("approximate must be 'none' or 'tanh', got '", approximate, "'");
    return std::make_unique<nn::GELU<T, D>>(parent, name, nn::GELUOptions{.approximate = approximate});
  }
  if (k == "softmax" || k == "logsoftmax") {
    KwargReader r(spec, what, {"dim"});
    std::optional<int64_t> dim;
    if (const LayerArg* a = r.find("dim"); a && !a->is_none()) dim = r.integer("dim", 1);
    return std::make_unique<ExtraActivation<T, D>>(parent, name, k == "softmax" ? ActKind::softmax : ActKind::logsoftmax,
                                                   1.0, dim);
  }
  if (k == "swish") {
    KwargReader r(spec, what, {"alpha"});
    return std::make_unique<ExtraActivation<T, D>>(parent, name, ActKind::swish, r.number("alpha", 1.0), std::nullopt);
  }
  if (k == "memswish") {
    KwargReader r(spec, what, {"inplace"});
    (void)r.boolean("inplace", false);
    return std::make_unique<ExtraActivation<T, D>>(parent, name, ActKind::memswish, 1.0, std::nullopt);
  }
  KwargReader(spec, what, {}).fail(
      "unsupported activation '", spec.name,
      "' (voxnn supports relu, leakyrelu, prelu, elu, gelu, sigmoid, tanh, relu6, selu, celu, softmax, logsoftmax, "
      "swish, memswish)");
}

// MONAI's get_norm_layer: `channels` fills num_features / num_channels unless given.
template <Real T, Device D>
std::unique_ptr<nn::Module<T, D>> make_norm(nn::Module<T, D>* parent, const std::string& name, const LayerSpec& spec,
                                            int64_t dims, std::optional<int64_t> channels) {
  const std::string k = spec.key();
  const std::string what = "norm";
  if (k.empty()) return std::make_unique<nn::Identity<T, D>>(parent, name);
  if (spec.rate) KwargReader(spec, what, {}).fail("a normalisation must be a name, not a number");
  auto features = [&](const KwargReader& r, const char* key) {
    if (r.find(key)) return r.integer(key, 0);
    if (!channels) r.fail("needs ", key, " (the block has no in_channels)");
    return *channels;
  };
  if (k == "instance" || k == "instance_nvfuser") {
    KwargReader r(spec, what, {"num_features", "eps", "momentum", "affine", "track_running_stats"});
    const nn::InstanceNormOptions o{.num_features = features(r, "num_features"),
                                    .eps = r.number("eps", 1e-5),
                                    .momentum = r.number("momentum", 0.1),
                                    .affine = r.boolean("affine", false),
                                    .track_running_stats = r.boolean("track_running_stats", false)};
    // instance_nvfuser: MONAI's fallback without apex is InstanceNorm3d (1d / 2d for fewer dims)
    return with_dims(dims, "norm", [&](auto n) -> std::unique_ptr<nn::Module<T, D>> {
      return std::make_unique<nn::InstanceNormNd<decltype(n)::value, T, D>>(parent, name, o);
    });
  }
  if (k == "batch" || k == "syncbatch") {
    KwargReader r(spec, what, {"num_features", "eps", "momentum", "affine", "track_running_stats"});
    const nn::BatchNormOptions o{.num_features = features(r, "num_features"),
                                 .eps = r.number("eps", 1e-5),
                                 .momentum = r.optional_number("momentum", 0.1),
                                 .affine = r.boolean("affine", true),
                                 .track_running_stats = r.boolean("track_running_stats", true)};
    return with_dims(dims, "norm", [&](auto n) -> std::unique_ptr<nn::Module<T, D>> {
      return std::make_unique<nn::BatchNormNd<decltype(n)::value, T, D>>(parent, name, o);
    });
  }
  if (k == "group") {
    KwargReader r(spec, what, {"num_groups", "num_channels", "eps", "affine"});
    return std::make_unique<nn::GroupNorm<T, D>>(
        parent, name,
        nn::GroupNormOptions{.num_groups = r.required_integer("num_groups"),
                             .num_channels = features(r, "num_channels"),
                             .eps = r.number("eps", 1e-5),
                             .affine = r.boolean("affine", true)});
  }
  if (k == "layer") {
    KwargReader r(spec, what, {"normalized_shape", "eps", "elementwise_affine"});
    return std::make_unique<nn::LayerNorm<T, D>>(
        parent, name,
        nn::LayerNormOptions{.normalized_shape = r.ints("normalized_shape"),
                             .eps = r.number("eps", 1e-5),
                             .elementwise_affine = r.boolean("elementwise_affine", true)});
  }
  KwargReader(spec, what, {}).fail("unsupported normalisation '", spec.name,
                                   "' (voxnn supports instance, batch, group, layer, syncbatch, instance_nvfuser)");
}

// MONAI's get_dropout_layer: a number p is ("dropout", {"p": p}); dropout_dim picks Dropout,
// Dropout2d or Dropout3d.
template <Real T, Device D>
std::unique_ptr<nn::Module<T, D>> make_dropout(nn::Module<T, D>* parent, const std::string& name,
                                               const LayerSpec& spec, int64_t dims) {
  using Ptr = std::unique_ptr<nn::Module<T, D>>;
  const std::string k = spec.key();
  const std::string what = "dropout";
  if (k.empty()) return std::make_unique<nn::Identity<T, D>>(parent, name);
  if (k != "dropout")
    KwargReader(spec, what, {}).fail("unsupported dropout '", spec.name, "' (voxnn supports a rate and 'dropout')");
  KwargReader r(spec, what, {"p", "inplace"});
  (void)r.boolean("inplace", false);
  const double p = r.number("p", 0.5);
  if (p < 0 || p > 1) r.fail("p must be in [0, 1], got ", p);
  const nn::DropoutOptions o{.p = p};
  if (dims == 1) return Ptr(std::make_unique<nn::Dropout<T, D>>(parent, name, o));
  if (dims == 2) return Ptr(std::make_unique<nn::Dropout2d<T, D>>(parent, name, o));
  if (dims == 3) return Ptr(std::make_unique<nn::Dropout3d<T, D>>(parent, name, o));
  r.fail("dropout_dim must be 1, 2 or 3, got ", dims);
}

// A child built at run time for spatial_dims: Conv1d/2d/3d.
template <Real T, Device D>
std::unique_ptr<nn::Module<T, D>> make_conv(nn::Module<T, D>* parent, const std::string& name, int64_t dims,
                                            int64_t in, int64_t out, const std::vector<int64_t>& kernel,
                                            const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                                            const std::vector<int64_t>& dilation, int64_t groups, bool bias) {
  return with_dims(dims, "Conv", [&](auto n) -> std::unique_ptr<nn::Module<T, D>> {
    constexpr int N = decltype(n)::value;
    return std::make_unique<nn::ConvNd<N, T, D>>(
        parent, name,
        nn::ConvOptions<N>{.in_channels = in, .out_channels = out, .kernel_size = kernel, .stride = stride,
                           .padding = ExpandingArray<N>(padding), .dilation = dilation, .groups = groups, .bias = bias});
  });
}

template <Real T, Device D>
std::unique_ptr<nn::Module<T, D>> make_conv_transpose(nn::Module<T, D>* parent, const std::string& name, int64_t dims,
                                                      int64_t in, int64_t out, const std::vector<int64_t>& kernel,
                                                      const std::vector<int64_t>& stride,
                                                      const std::vector<int64_t>& padding,
                                                      const std::vector<int64_t>& output_padding,
                                                      const std::vector<int64_t>& dilation, int64_t groups, bool bias) {
  return with_dims(dims, "ConvTranspose", [&](auto n) -> std::unique_ptr<nn::Module<T, D>> {
    constexpr int N = decltype(n)::value;
    return std::make_unique<nn::ConvTransposeNd<N, T, D>>(
        parent, name,
        nn::ConvTransposeOptions<N>{.in_channels = in, .out_channels = out, .kernel_size = kernel, .stride = stride,
                                    .padding = padding, .output_padding = output_padding, .groups = groups,
                                    .bias = bias, .dilation = dilation});
  });
}

// A module whose forward chains its children in registration order, with names of the caller's
// choosing (torch.nn.Sequential filled by add_module).
template <Real T, Device D>
class NamedSequential : public nn::Module<T, D> {
 public:
  NamedSequential(nn::Module<T, D>* parent, std::string name, std::string type = "Sequential")
      : nn::Module<T, D>(parent, std::move(name)), type_(std::move(type)) {}
  Var<T, D> forward(const Var<T, D>& x) override {
    Var<T, D> y = x;
    for (const auto& [name, m] : this->named_children()) y = m->forward(y);
    return y;
  }
  std::string type_name() const override { return type_; }

 private:
  std::string type_;
};

}  // namespace detail

// ---- ADN ------------------------------------------------------------------------------------------

struct ADNOptions {
  std::string ordering = "NDA";
  std::optional<int64_t> in_channels = std::nullopt;
  std::optional<LayerSpec> act = LayerSpec("RELU");
  std::optional<LayerSpec> norm = std::nullopt;
  std::optional<int64_t> norm_dim = std::nullopt;
  std::optional<LayerSpec> dropout = std::nullopt;
  std::optional<int64_t> dropout_dim = std::nullopt;
};

// Normalisation ("N"), dropout ("D") and activation ("A") in the order `ordering` gives; layers
// that are None are left out.
template <Real T, Device D = Cpu>
class ADN : public nn::Module<T, D> {
 public:
  using Options = ADNOptions;
  explicit ADN(const Options& o = {}) : ADN(nullptr, "", o) {}
  ADN(nn::Module<T, D>* parent, std::string name, const Options& o = {})
      : nn::Module<T, D>(parent, std::move(name)), options(o) {
    const bool needs_dim = o.norm || o.dropout;
    VOXNN_CHECK(!needs_dim || o.norm_dim || o.dropout_dim, "ADN: norm_dim or dropout_dim needs to be specified");
    for (char c : o.ordering) {
      const char item = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
      VOXNN_CHECK(item == 'N' || item == 'D' || item == 'A', "ADN: ordering must be a string of 'N', 'D' and 'A', got '",
                  c, "' in '", o.ordering, "'");
      const std::string key(1, item);
      bool seen = false;
      for (const auto& [n, m] : this->named_children()) seen = seen || n == key;
      if (seen) continue;  // MONAI re-adds the same module under the same name
      if (item == 'N' && o.norm)
        layers_.push_back(detail::make_norm<T, D>(this, key, *o.norm, o.norm_dim ? *o.norm_dim : *o.dropout_dim,
                                                  o.in_channels));
      else if (item == 'A' && o.act)
        layers_.push_back(detail::make_act<T, D>(this, key, *o.act));
      else if (item == 'D' && o.dropout)
        layers_.push_back(detail::make_dropout<T, D>(this, key, *o.dropout, o.dropout_dim ? *o.dropout_dim : *o.norm_dim));
    }
  }
  Var<T, D> forward(const Var<T, D>& x) override {
    Var<T, D> y = x;
    for (const auto& m : layers_) y = m->forward(y);
    return y;
  }
  std::string type_name() const override { return "ADN"; }
  // The child "N", "D" or "A", or null when absent.
  nn::Module<T, D>* layer(char which) const {
    for (const auto& [n, m] : this->named_children())
      if (n[0] == which) return m;
    return nullptr;
  }

  const Options options;

 private:
  std::vector<std::unique_ptr<nn::Module<T, D>>> layers_;
};

// ---- Convolution ----------------------------------------------------------------------------------

struct ConvolutionOptions {
  int64_t spatial_dims = 0;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  Sizes strides = 1;
  Sizes kernel_size = 3;
  std::string adn_ordering = "NDA";
  std::optional<LayerSpec> act = LayerSpec("PRELU");
  std::optional<LayerSpec> norm = LayerSpec("INSTANCE");
  std::optional<LayerSpec> dropout = std::nullopt;
  std::optional<int64_t> dropout_dim = 1;
  Sizes dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  bool conv_only = false;
  bool is_transposed = false;
  std::optional<Sizes> padding = std::nullopt;         // None: same_padding(kernel_size, dilation)
  std::optional<Sizes> output_padding = std::nullopt;  // None: strides - 1 (transposed only)
};

// conv (ConvNd or ConvTransposeNd) then adn (ADN over out_channels), unless conv_only or all of
// act, norm and dropout are None.
template <Real T, Device D = Cpu>
class Convolution : public nn::Module<T, D> {
 public:
  using Options = ConvolutionOptions;
  explicit Convolution(const Options& o) : Convolution(nullptr, "", o) {}
  Convolution(nn::Module<T, D>* parent, std::string name, const Options& o)
      : nn::Module<T, D>(parent, std::move(name)), options(o) {
    const char* who = "Convolution";
    const int64_t dims = o.spatial_dims;
    VOXNN_CHECK(dims >= 1 && dims <= 3, who, ": spatial_dims must be 1, 2 or 3, got ", dims);
    VOXNN_CHECK(o.in_channels > 0 && o.out_channels > 0, who, ": in_channels and out_channels must be positive, got ",
                o.in_channels, " and ", o.out_channels);
    const auto kernel = detail::sizes(o.kernel_size, dims, who, "kernel_size", 1);
    const auto stride = detail::sizes(o.strides, dims, who, "strides", 1);
    const auto dilation = detail::sizes(o.dilation, dims, who, "dilation", 1);
    const auto padding =
        o.padding ? detail::sizes(*o.padding, dims, who, "padding") : detail::same_padding(kernel, dilation, who);
    if (o.is_transposed) {
      std::vector<int64_t> out_pad;
      if (o.output_padding) {
        out_pad = detail::sizes(*o.output_padding, dims, who, "output_padding");
      } else {
        for (int64_t s : stride) out_pad.push_back(s - 1);  // MONAI's stride_minus_kernel_padding(1, strides)
      }
      conv_ = detail::make_conv_transpose<T, D>(this, "conv", dims, o.in_channels, o.out_channels, kernel, stride,
                                                padding, out_pad, dilation, o.groups, o.bias);
    } else {
      conv_ = detail::make_conv<T, D>(this, "conv", dims, o.in_channels, o.out_channels, kernel, stride, padding,
                                      dilation, o.groups, o.bias);
    }
    if (o.conv_only || (!o.act && !o.norm && !o.dropout)) return;
    adn_ = std::make_unique<ADN<T, D>>(this, "adn",
                                       ADNOptions{.ordering = o.adn_ordering,
                                                  .in_channels = o.out_channels,
                                                  .act = o.act,
                                                  .norm = o.norm,
                                                  .norm_dim = dims,
                                                  .dropout = o.dropout,
                                                  .dropout_dim = o.dropout_dim});
  }
  Var<T, D> forward(const Var<T, D>& x) override {
    Var<T, D> y = conv_->forward(x);
    return adn_ ? adn_->forward(y) : y;
  }
  std::string type_name() const override { return "Convolution"; }
  nn::Module<T, D>& conv() const { return *conv_; }
  ADN<T, D>* adn() const { return adn_.get(); }

  const Options options;

 private:
  std::unique_ptr<nn::Module<T, D>> conv_;
  std::unique_ptr<ADN<T, D>> adn_;
};

// ---- ResidualUnit ---------------------------------------------------------------------------------

struct ResidualUnitOptions {
  int64_t spatial_dims = 0;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  Sizes strides = 1;
  Sizes kernel_size = 3;
  int64_t subunits = 2;
  std::string adn_ordering = "NDA";
  std::optional<LayerSpec> act = LayerSpec("PRELU");
  std::optional<LayerSpec> norm = LayerSpec("INSTANCE");
  std::optional<LayerSpec> dropout = std::nullopt;
  std::optional<int64_t> dropout_dim = 1;
  Sizes dilation = 1;
  bool bias = true;
  bool last_conv_only = false;
  std::optional<Sizes> padding = std::nullopt;  // None (or a single 0, as MONAI's `if not padding`): same padding
};

// conv = Sequential(unit0, unit1, ...) of Convolutions (the first strided), plus residual:
// Identity, or a Conv (kernel_size and stride as the units; 1x1 when only the channels change).
template <Real T, Device D = Cpu>
class ResidualUnit : public nn::Module<T, D> {
 public:
  using Options = ResidualUnitOptions;
  explicit ResidualUnit(const Options& o) : ResidualUnit(nullptr, "", o) {}
  ResidualUnit(nn::Module<T, D>* parent, std::string name, const Options& o)
      : nn::Module<T, D>(parent, std::move(name)), options(o), conv(this, "conv") {
    const char* who = "ResidualUnit";
    const int64_t dims = o.spatial_dims;
    VOXNN_CHECK(dims >= 1 && dims <= 3, who, ": spatial_dims must be 1, 2 or 3, got ", dims);
    const auto kernel = detail::sizes(o.kernel_size, dims, who, "kernel_size", 1);
    const auto stride = detail::sizes(o.strides, dims, who, "strides", 1);
    const auto dilation = detail::sizes(o.dilation, dims, who, "dilation", 1);
    // MONAI's `if not padding`: None or the int 0 mean same padding (a tuple of zeros does not)
    std::vector<int64_t> padding;
    if (o.padding && !(o.padding->size() == 1 && o.padding->at(0) == 0))
      padding = detail::sizes(*o.padding, dims, who, "padding");
    else
      padding = detail::same_padding(kernel, dilation, who);

    const int64_t n = std::max<int64_t>(1, o.subunits);
    int64_t channels = o.in_channels;
    Sizes unit_stride = o.strides;
    for (int64_t su = 0; su < n; ++su) {
      units_.push_back(std::make_unique<Convolution<T, D>>(
          &conv, "unit" + std::to_string(su),
          ConvolutionOptions{.spatial_dims = dims, .in_channels = channels, .out_channels = o.out_channels,
                             .strides = unit_stride, .kernel_size = o.kernel_size, .adn_ordering = o.adn_ordering,
                             .act = o.act, .norm = o.norm, .dropout = o.dropout, .dropout_dim = o.dropout_dim,
                             .dilation = o.dilation, .bias = o.bias, .conv_only = o.last_conv_only && su == n - 1,
                             .padding = Sizes(padding)}));
      channels = o.out_channels;
      unit_stride = 1;
    }
    int64_t stride_prod = 1;
    for (int64_t s : stride) stride_prod *= s;
    if (stride_prod != 1 || o.in_channels != o.out_channels) {
      std::vector<int64_t> rkernel = kernel, rpadding = padding;
      if (stride_prod == 1) {  // only the channels change: a 1x1 conv without padding
        rkernel.assign(static_cast<std::size_t>(dims), 1);
        rpadding.assign(static_cast<std::size_t>(dims), 0);
      }
      residual_ = detail::make_conv<T, D>(this, "residual", dims, o.in_channels, o.out_channels, rkernel, stride,
                                          rpadding, std::vector<int64_t>(static_cast<std::size_t>(dims), 1), 1, o.bias);
    } else {
      residual_ = std::make_unique<nn::Identity<T, D>>(this, "residual");
    }
  }
  Var<T, D> forward(const Var<T, D>& x) override {
    const Var<T, D> res = residual_->forward(x);
    const Var<T, D> cx = conv.forward(x);
    VOXNN_CHECK(cx.shape() == res.shape(), "ResidualUnit: the convolutions give ", cx.shape(), " but the residual ",
                res.shape(), " for input ", x.shape());
    return cx + res;
  }
  std::string type_name() const override { return "ResidualUnit"; }
  nn::Module<T, D>& residual() const { return *residual_; }
  Convolution<T, D>& unit(std::size_t i) const { return *units_.at(i); }

  const Options options;
  detail::NamedSequential<T, D> conv;

 private:
  std::vector<std::unique_ptr<Convolution<T, D>>> units_;
  std::unique_ptr<nn::Module<T, D>> residual_;
};

// ---- SkipConnection -------------------------------------------------------------------------------

// cat([x, submodule(x)], dim 1), MONAI's default "cat" mode.
template <Real T, Device D = Cpu>
class SkipConnection : public nn::Module<T, D> {
 public:
  SkipConnection(nn::Module<T, D>* parent, std::string name, std::unique_ptr<nn::Module<T, D>> submodule)
      : nn::Module<T, D>(parent, std::move(name)), submodule_(std::move(submodule)) {
    VOXNN_CHECK(submodule_ != nullptr, "SkipConnection: null submodule");
    this->register_module("submodule", submodule_.get());
  }
  Var<T, D> forward(const Var<T, D>& x) override {
    const Var<T, D> y = submodule_->forward(x);
    bool same = x.dim() == y.dim() && x.dim() >= 2 && x.size(0) == y.size(0);
    for (int d = 2; same && d < x.dim(); ++d) same = x.size(d) == y.size(d);
    VOXNN_CHECK(same, "SkipConnection: the submodule maps ", x.shape(), " to ", y.shape(),
                "; their spatial sizes must agree to concatenate them (input sizes must be divisible by the "
                "product of the strides below this level)");
    return cat<T, D>({x, y}, 1);
  }
  std::string type_name() const override { return "SkipConnection"; }
  nn::Module<T, D>& submodule() const { return *submodule_; }

 private:
  std::unique_ptr<nn::Module<T, D>> submodule_;
};

// ---- UpSample ------------------------------------------------------------------------------------

// MONAI's pixelshuffle for any spatial dims: channel c * r^dims + offset goes to the sub-position
// `offset` (row-major over the spatial dims) of output channel c; equal to PyTorch's pixel_shuffle
// in 2-D and to voxel_shuffle in 3-D.
template <Real T, Device D>
Var<T, D> monai_pixelshuffle(const Var<T, D>& x, int64_t dims, int64_t r) {
  if (dims == 2) return pixel_shuffle(x, r);
  if (dims == 3) return voxel_shuffle(x, r);
  // 1-D: (B, C * r, L) -> (B, C, r, L) -> (B, C, L, r) -> (B, C, L * r)
  const Shape s = x.shape();
  const Var<T, D> y = reshape(x, Shape{s[0], s[1] / r, r, s[2]});
  return reshape(contiguous(permute(y, {0, 1, 3, 2})), Shape{s[0], s[1] / r, s[2] * r});
}

// SubpixelUpsample with its default conv_block (conv 3x3, padding 1, to out * r^dims channels),
// pixel shuffle, then zero-pad r - 1 before each spatial dim and average-pool r (stride 1).
template <Real T, Device D = Cpu>
class SubpixelUpsample : public nn::Module<T, D> {
 public:
  SubpixelUpsample(nn::Module<T, D>* parent, std::string name, int64_t dims, int64_t in, int64_t out,
                   int64_t scale_factor, bool apply_pad_pool, bool bias)
      : nn::Module<T, D>(parent, std::move(name)), dims_(dims), r_(scale_factor), pad_pool_(apply_pad_pool) {
    VOXNN_CHECK(r_ > 0, "SubpixelUpsample: scale_factor must be positive, got ", r_);
    int64_t factor = 1;
    for (int64_t i = 0; i < dims; ++i) factor *= r_;
    const std::vector<int64_t> three(static_cast<std::size_t>(dims), 3), one(static_cast<std::size_t>(dims), 1);
    conv_block_ = detail::make_conv<T, D>(this, "conv_block", dims, in, out * factor, three, one, one, one, 1, bias);
  }
  Var<T, D> forward(const Var<T, D>& x) override {
    Var<T, D> y = monai_pixelshuffle(conv_block_->forward(x), dims_, r_);
    if (!pad_pool_ || r_ == 1) return y;
    std::vector<int64_t> pads;
    for (int64_t i = 0; i < dims_; ++i) {
      pads.push_back(r_ - 1);
      pads.push_back(0);
    }
    y = pad(y, pads, "constant", 0.0);
    return detail::with_dims(dims_, "SubpixelUpsample", [&](auto n) {
      constexpr int N = decltype(n)::value;
      return avg_pool<N>(y, ExpandingArray<N>(r_), ExpandingArray<N>(1));
    });
  }
  std::string type_name() const override { return "SubpixelUpsample"; }
  nn::Module<T, D>& conv_block() const { return *conv_block_; }

 private:
  int64_t dims_, r_;
  bool pad_pool_;
  std::unique_ptr<nn::Module<T, D>> conv_block_;
};

struct UpSampleOptions {
  int64_t spatial_dims = 0;
  int64_t in_channels = 0;
  int64_t out_channels = 0;  // 0: in_channels
  int64_t scale_factor = 2;
  std::string mode = "deconv";           // deconv | deconvgroup | nontrainable | pixelshuffle
  bool pre_conv = true;                  // "default" (true) or None (false)
  std::string interp_mode = "linear";    // nontrainable: nearest | linear (-> bilinear / trilinear by dims)
  std::optional<bool> align_corners = true;
  bool bias = true;
  bool apply_pad_pool = true;
};

// MONAI's UpSample (a Sequential) with an isotropic integer scale factor and kernel_size = scale:
//   deconv:       "deconv"  ConvTranspose (kernel = stride = scale, no padding)
//   deconvgroup:  "deconvgroup" the same with groups = out_channels when they divide in_channels
//   nontrainable: "preconv" Conv 1x1 when out != in, then "upsample_non_trainable" Upsample
//   pixelshuffle: "pixelshuffle" SubpixelUpsample
template <Real T, Device D = Cpu>
class UpSample : public detail::NamedSequential<T, D> {
 public:
  using Options = UpSampleOptions;
  explicit UpSample(const Options& o) : UpSample(nullptr, "", o) {}
  UpSample(nn::Module<T, D>* parent, std::string name, const Options& o)
      : detail::NamedSequential<T, D>(parent, std::move(name), "UpSample"), options(o) {
    const char* who = "UpSample";
    const int64_t dims = o.spatial_dims;
    VOXNN_CHECK(dims >= 1 && dims <= 3, who, ": spatial_dims must be 1, 2 or 3, got ", dims);
    VOXNN_CHECK(o.in_channels > 0, who, ": in_channels needs to be specified, got ", o.in_channels);
    VOXNN_CHECK(o.scale_factor > 0, who, ": scale_factor must be positive, got ", o.scale_factor);
    const int64_t out = o.out_channels > 0 ? o.out_channels : o.in_channels;
    const std::vector<int64_t> scale(static_cast<std::size_t>(dims), o.scale_factor),
        zero(static_cast<std::size_t>(dims), 0), one(static_cast<std::size_t>(dims), 1);
    if (o.mode == "deconv") {
      layers_.push_back(detail::make_conv_transpose<T, D>(this, "deconv", dims, o.in_channels, out, scale, scale, zero,
                                                          zero, one, 1, o.bias));
    } else if (o.mode == "deconvgroup") {
      const int64_t groups = o.in_channels % out == 0 ? out : 1;
      layers_.push_back(detail::make_conv_transpose<T, D>(this, "deconvgroup", dims, o.in_channels, out, scale, scale,
                                                          zero, zero, one, groups, o.bias));
    } else if (o.mode == "nontrainable") {
      if (o.pre_conv && out != o.in_channels)
        layers_.push_back(detail::make_conv<T, D>(this, "preconv", dims, o.in_channels, out, one, one, zero, one, 1,
                                                  o.bias));
      VOXNN_CHECK(o.pre_conv || out == o.in_channels, who,
                  ": in the nontrainable mode without pre_conv, out_channels must equal in_channels");
      std::string mode = o.interp_mode;
      if (mode == "linear" || mode == "bilinear" || mode == "trilinear")
        mode = dims == 1 ? "linear" : dims == 2 ? "bilinear" : "trilinear";
      VOXNN_CHECK(mode != "bicubic" && mode != "area", who, ": interp_mode '", o.interp_mode,
                  "' is not supported (nearest, nearest-exact, linear, bilinear, trilinear)");
      const bool linear = mode != "nearest" && mode != "nearest-exact";
      layers_.push_back(std::make_unique<nn::Upsample<T, D>>(
          this, "upsample_non_trainable",
          nn::UpsampleOptions{.scale_factor = DimValues<double>(static_cast<double>(o.scale_factor)),
                              .mode = mode,
                              .align_corners = linear ? o.align_corners : std::nullopt}));
    } else if (o.mode == "pixelshuffle") {
      VOXNN_CHECK(o.pre_conv, who, ": pixelshuffle without the default pre_conv is not supported");
      layers_.push_back(std::make_unique<SubpixelUpsample<T, D>>(this, "pixelshuffle", dims, o.in_channels, out,
                                                                 o.scale_factor, o.apply_pad_pool, o.bias));
    } else {
      ::voxnn::detail::throw_error(who, ": unsupported upsample mode '", o.mode,
                                   "' (deconv, deconvgroup, nontrainable or pixelshuffle)");
    }
  }

  const Options options;

 private:
  std::vector<std::unique_ptr<nn::Module<T, D>>> layers_;
};

}  // namespace voxnn::models::monai
