#pragma once
// What `voxnn op` and `voxnn run` share: both look a name up in a table of signatures, check the
// keywords and tensors of a call against it, read a JSON config, and prefix every message with the
// name they ran.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "voxnn/core/error.hpp"

namespace voxnn::tools::registry {

// The entry of `table` (specs with a .signature.name) called `name`, or nullptr.
template <class Spec>
const Spec* find(const std::vector<Spec>& table, std::string_view name) {
  for (const Spec& s : table)
    if (s.signature.name == name) return &s;
  return nullptr;
}

inline bool contains(const std::vector<std::string_view>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// "a, b, c" (or "a b c" with separator " "); `none` for an empty list.
inline std::string join(const std::vector<std::string_view>& names, std::string_view separator = ", ",
                        std::string_view none = "none") {
  std::string out;
  for (std::string_view n : names) out.append(out.empty() ? "" : separator).append(n);
  return out.empty() ? std::string(none) : out;
}

// `message` starting with "name: ", as every error of a named call does.
inline std::string named(std::string_view name, std::string_view message) {
  const std::string prefix = std::string(name) + ": ";
  return message.starts_with(prefix) ? std::string(message) : prefix + std::string(message);
}

// --config's value: the JSON itself when it starts with '{', otherwise a file holding it.
inline nlohmann::json read_config(const std::string& arg) {
  if (!arg.empty() && arg.front() == '{') return nlohmann::json::parse(arg);
  std::ifstream in(arg);
  VOXNN_CHECK(in, "cannot open config file '", arg, "'");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    ::voxnn::detail::throw_error("config file '", arg, "' is not valid JSON: ", e.what());
  }
}

}  // namespace voxnn::tools::registry
