#pragma once
// What an operator adapter of `voxnn op` sees: Call<T> hands out the tensor arguments (as Vars that
// require grad under --backward) and the config arguments, read by type with arg<V>(call, key,
// default), each failure a message naming the op and the argument. An adapter returns Outputs<T>
// (a lone Var converts to one named `out`). The tables of adapters are in one file per family
// (conv.cpp, pool.cpp, norm.cpp, misc.cpp, fft.cpp, grid.cpp, ...); registry.cpp runs them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "op/op.hpp"
#include "voxnn/autograd/functions/conv.hpp"
#include "voxnn/autograd/var.hpp"
#include "voxnn/core/error.hpp"
#include "voxnn/core/expanding_array.hpp"
#include "voxnn/ops/elementwise.hpp"
#include "voxnn/io/safetensors.hpp"
#include "voxnn/ops/interpolate.hpp"

namespace voxnn::tools::op {

using Json = nlohmann::json;

// The results of one op: real outputs (differentiable when they require grad; `out` first) and
// integer ones (indices).
template <Real T>
struct Outputs {
  Outputs() = default;
  Outputs(Var<T> out) { add("out", std::move(out)); }  // NOLINT: implicit, so an adapter returns a Var
  Outputs& add(std::string name, Var<T> v) {
    values.emplace_back(std::move(name), std::move(v));
    return *this;
  }
  Outputs& add(std::string name, Tensor<int64_t> t) {
    indices.emplace_back(std::move(name), std::move(t));
    return *this;
  }
  std::vector<std::pair<std::string, Var<T>>> values;
  std::vector<std::pair<std::string, Tensor<int64_t>>> indices;
};

// One op's arguments. Keys and tensor names were checked against the signature before the adapter
// runs; asking for one the signature does not list is a bug in the table, reported as such.
template <Real T>
class Call {
 public:
  Call(const OpSignature& sig, const Json& config, const io::TensorFile& tensors, bool grad)
      : sig_(sig), config_(config), tensors_(tensors), grad_(grad) {}

  template <class... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    ::voxnn::detail::throw_error(sig_.name, ": ", parts...);
  }

  // ---- tensors ----
  bool has_tensor(std::string_view name) const {
    declared(sig_.tensors, name, "tensor");
    return tensors_.contains(name);
  }
  // A differentiable argument; required unless `optional` (then undefined when absent).
  Var<T> var(std::string_view name, bool optional = false) {
    if (!has_tensor(name)) {
      if (optional) return {};
      missing(name);
    }
    Var<T> v(real_tensor(name), grad_);
    if (grad_) differentiable_.emplace_back(std::string(name), v);
    return v;
  }
  Var<T> optional_var(std::string_view name) { return var(name, true); }
  // A non-differentiable real argument (running statistics): a fresh copy, or undefined when absent.
  Tensor<T> buffer(std::string_view name) { return has_tensor(name) ? real_tensor(name) : Tensor<T>(); }
  // An integer argument (indices, or a BOOL mask read as 0/1), required.
  Tensor<int64_t> integer_tensor(std::string_view name) {
    if (!has_tensor(name)) missing(name);
    const io::DType d = tensors_.entry(name).dtype;
    if (d != io::DType::I64 && d != io::DType::I32 && d != io::DType::I16 && d != io::DType::I8 && d != io::DType::U8 &&
        d != io::DType::BOOL)
      fail("tensor '", name, "' has dtype ", io::dtype_name(d), "; expected an integer dtype (I64) or BOOL");
    return tensors_.get<int64_t>(name);
  }
  // A boolean mask, or undefined when absent: BOOL or integer tensors (non-zero = true) as they are,
  // real ones (fastMRI's float 0/1 masks) true where non-zero.
  Tensor<bool> mask(std::string_view name) {
    if (!has_tensor(name)) return {};
    const io::DType d = tensors_.entry(name).dtype;
    if (d == io::DType::F32 || d == io::DType::F64 || d == io::DType::F16 || d == io::DType::BF16)
      return ops::ne(real_tensor(name), T(0));
    return ops::ne(integer_tensor(name), int64_t{0});
  }
  bool is_real_tensor(std::string_view name) const {
    const io::DType d = tensors_.entry(name).dtype;
    return d == io::DType::F32 || d == io::DType::F64 || d == io::DType::F16 || d == io::DType::BF16;
  }
  // The differentiable arguments handed out, in the order asked for.
  const std::vector<std::pair<std::string, Var<T>>>& differentiable() const { return differentiable_; }

  // ---- config ----
  // The value of `key`, or nullptr when absent.
  const Json* find(std::string_view key) const {
    declared(sig_.config, key, "config key");
    const auto it = config_.find(std::string(key));
    return it == config_.end() ? nullptr : &*it;
  }

 private:
  Tensor<T> real_tensor(std::string_view name) const {
    const io::DType d = tensors_.entry(name).dtype;
    if (d != io::DType::F32 && d != io::DType::F64 && d != io::DType::F16 && d != io::DType::BF16)
      fail("tensor '", name, "' has dtype ", io::dtype_name(d), "; expected a floating dtype (F32 or F64)");
    return tensors_.get<T>(name);
  }
  [[noreturn]] void missing(std::string_view name) const {
    fail("missing tensor '", name, "' in the input file");
  }
  void declared(const std::vector<std::string_view>& list, std::string_view name, const char* what) const {
    for (std::string_view n : list)
      if (n == name) return;
    fail("internal error: the adapter reads ", what, " '", name, "' that its signature does not list");
  }

  const OpSignature& sig_;
  const Json& config_;
  const io::TensorFile& tensors_;
  bool grad_;
  std::vector<std::pair<std::string, Var<T>>> differentiable_;
};

// ---- reading config values by type ---------------------------------------------------------------------
// JsonValue<V>::read(j, out) returns false when j does not hold a V; what() names the JSON a V needs.

template <class V>
struct JsonValue;

template <>
struct JsonValue<bool> {
  static std::string what() { return "true or false"; }
  static bool read(const Json& j, bool& out) {
    if (!j.is_boolean()) return false;
    out = j.get<bool>();
    return true;
  }
};
template <>
struct JsonValue<int64_t> {
  static std::string what() { return "an integer"; }
  static bool read(const Json& j, int64_t& out) {
    if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return false;
    if (!j.is_number_integer()) return false;
    out = j.get<int64_t>();
    return true;
  }
};
template <>
struct JsonValue<double> {
  static std::string what() { return "a number"; }
  static bool read(const Json& j, double& out) {
    if (!j.is_number()) return false;
    out = j.get<double>();
    return true;
  }
};
template <>
struct JsonValue<std::string> {
  static std::string what() { return "a string"; }
  static bool read(const Json& j, std::string& out) {
    if (!j.is_string()) return false;
    out = j.get<std::string>();
    return true;
  }
};
// A number or a list of numbers (PyTorch's int-or-list arguments); `allow_null` entries read as -1.
template <class E>
bool read_list(const Json& j, std::vector<E>& out, bool allow_null = false) {
  out.clear();
  auto one = [&](const Json& v) {
    if (allow_null && v.is_null()) {
      out.push_back(E(-1));
      return true;
    }
    E e{};
    if (!JsonValue<E>::read(v, e)) return false;
    out.push_back(e);
    return true;
  };
  if (!j.is_array()) return one(j);
  for (const Json& v : j)
    if (!one(v)) return false;
  return true;
}
template <class E>
struct JsonValue<std::vector<E>> {
  static std::string what() { return JsonValue<E>::what() + " or a list of them"; }
  static bool read(const Json& j, std::vector<E>& out) { return read_list(j, out); }
};
template <int N>
struct JsonValue<ExpandingArray<N>> {
  static std::string what() {
    return N == 1 ? std::string("an integer or a list of 1 integer")
                  : "an integer or a list of " + std::to_string(N) + " integers";
  }
  static bool read(const Json& j, ExpandingArray<N>& out) {
    std::vector<int64_t> v;
    if (!read_list(j, v) || (v.size() != 1 && v.size() != static_cast<std::size_t>(N))) return false;
    out = ExpandingArray<N>(v);
    return true;
  }
};
// PyTorch's padding: sizes, "same" or "valid".
template <int N>
struct JsonValue<ConvPadding<N>> {
  static std::string what() { return JsonValue<ExpandingArray<N>>::what() + ", \"same\" or \"valid\""; }
  static bool read(const Json& j, ConvPadding<N>& out) {
    if (j.is_string()) {
      const std::string s = j.get<std::string>();
      if (s != "same" && s != "valid") return false;
      out = ConvPadding<N>(s);
      return true;
    }
    ExpandingArray<N> a = 0;
    if (!JsonValue<ExpandingArray<N>>::read(j, a)) return false;
    out = ConvPadding<N>(a);
    return true;
  }
};
template <class V>
struct JsonValue<DimValues<V>> {
  static std::string what() { return JsonValue<V>::what() + " or a list of them"; }
  static bool read(const Json& j, DimValues<V>& out) {
    std::vector<V> v;
    if (!read_list(j, v) || v.empty()) return false;
    out = DimValues<V>(std::move(v));
    return true;
  }
};
// null (PyTorch's None) or a V.
template <class V>
struct JsonValue<std::optional<V>> {
  static std::string what() { return "null or " + JsonValue<V>::what(); }
  static bool read(const Json& j, std::optional<V>& out) {
    if (j.is_null()) {
      out.reset();
      return true;
    }
    V v{};
    if (!JsonValue<V>::read(j, v)) return false;
    out = std::move(v);
    return true;
  }
};

// `key` as a V, `fallback` when absent; a value of the wrong type is an error naming the key.
template <class V, Real T>
V arg(const Call<T>& c, std::string_view key, V fallback) {
  const Json* j = c.find(key);
  if (!j) return fallback;
  V out = fallback;
  if (!JsonValue<V>::read(*j, out))
    c.fail("config '", key, "' must be ", JsonValue<V>::what(), ", got ", j->dump());
  return out;
}
// `key` as a V; absent is an error.
template <class V, Real T>
V required(const Call<T>& c, std::string_view key) {
  if (!c.find(key)) c.fail("missing config key '", key, "'");
  return arg<V>(c, key, V{});
}
template <int N, Real T>
ExpandingArray<N> required_sizes(const Call<T>& c, std::string_view key) {
  if (!c.find(key)) c.fail("missing config key '", key, "'");
  return arg<ExpandingArray<N>>(c, key, ExpandingArray<N>(0));
}
// A stride that defaults to the kernel size: absent, null or [] (PyTorch's None).
template <int N, Real T>
std::optional<ExpandingArray<N>> optional_sizes(const Call<T>& c, std::string_view key) {
  const Json* j = c.find(key);
  if (!j || j->is_null() || (j->is_array() && j->empty())) return std::nullopt;
  return arg<ExpandingArray<N>>(c, key, ExpandingArray<N>(0));
}
// Accepted for PyTorch compatibility and ignored (e.g. `inplace`): must still have the right type.
template <class V, Real T>
void ignored(const Call<T>& c, std::string_view key) {
  (void)arg<V>(c, key, V{});
}

// ---- the table -----------------------------------------------------------------------------------------

template <Real T>
using Adapter = Outputs<T> (*)(Call<T>&);

struct OpSpec {
  OpSignature signature;
  Adapter<float> f32;
  Adapter<double> f64;
  template <Real T>
  Adapter<T> adapter() const {
    if constexpr (std::is_same_v<T, float>) return f32;
    else return f64;
  }
};

// An entry from a captureless generic lambda `[](auto& c) { ... return Var or Outputs; }`.
template <class F>
OpSpec make_op(std::string_view name, std::vector<std::string_view> tensors, std::vector<std::string_view> config, F) {
  static_assert(std::is_empty_v<F>, "op adapters must not capture");
  return {{name, std::move(tensors), std::move(config)},
          [](Call<float>& c) -> Outputs<float> { return F{}(c); },
          [](Call<double>& c) -> Outputs<double> { return F{}(c); }};
}

// The real type an adapter runs in: `using T = real_t<decltype(c)>;`.
template <class C>
struct real_of;
template <Real T>
struct real_of<Call<T>> {
  using type = T;
};
template <class C>
using real_t = typename real_of<std::remove_cvref_t<C>>::type;

// The tables, one per source file.
void add_conv_ops(std::vector<OpSpec>& table);
void add_pool_ops(std::vector<OpSpec>& table);
void add_norm_ops(std::vector<OpSpec>& table);
void add_misc_ops(std::vector<OpSpec>& table);
// the imaging families
void add_fft_ops(std::vector<OpSpec>& table);
void add_grid_ops(std::vector<OpSpec>& table);
void add_deformation_ops(std::vector<OpSpec>& table);
void add_mri_ops(std::vector<OpSpec>& table);
void add_pet_ops(std::vector<OpSpec>& table);
void add_attention_ops(std::vector<OpSpec>& table);
void add_rnn_ops(std::vector<OpSpec>& table);

}  // namespace voxnn::tools::op
