// The `voxnn op` subcommand: argument parsing, reading CONFIG and IN, writing OUT.
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "common/registry.hpp"
#include "op/op.hpp"
#include "voxnn/core/error.hpp"

namespace voxnn::tools {
namespace {

int op_usage(FILE* out) {
  std::fprintf(out,
               "usage: voxnn op NAME [--config CONFIG.json] --input IN.safetensors --output OUT.safetensors "
               "[--backward]\n"
               "       voxnn op --list [--verbose]\n"
               "Runs torch.nn.functional.NAME on the tensors of IN (by PyTorch argument name: input, weight,\n"
               "bias, ...) with the other arguments from CONFIG (a JSON object by PyTorch keyword, or the JSON\n"
               "itself when the argument starts with '{'), in the dtype of input (F32 or F64). OUT gets out\n"
               "(and out_<name> for further outputs). With --backward, IN also holds gout, the gradient of out,\n"
               "and OUT also gets grad_<name> for each differentiable tensor argument.\n");
  return out == stdout ? 0 : 2;
}

int list(bool verbose) {
  for (const OpSignature& s : op_signatures()) {
    if (!verbose) {
      std::printf("%.*s\n", static_cast<int>(s.name.size()), s.name.data());
      continue;
    }
    std::string line(s.name);
    line += "  tensors:";
    for (std::string_view t : s.tensors) line.append(" ").append(t);
    line += "  config:";
    for (std::string_view k : s.config) line.append(" ").append(k);
    if (s.config.empty()) line += " -";
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace

int op_command(int argc, char** argv) {
  std::optional<std::string> name, config, input, output;
  bool backward = false, do_list = false, verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](std::optional<std::string>& slot) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "voxnn op: %s needs a value\n", argv[i]);
        return false;
      }
      slot = argv[++i];
      return true;
    };
    if (a == "--help" || a == "-h") return op_usage(stdout);
    if (a == "--list") do_list = true;
    else if (a == "--verbose" || a == "-v") verbose = true;
    else if (a == "--backward") backward = true;
    else if (a == "--config") { if (!value(config)) return 2; }
    else if (a == "--input") { if (!value(input)) return 2; }
    else if (a == "--output") { if (!value(output)) return 2; }
    else if (!a.starts_with("-") && !name) name = std::string(a);
    else {
      std::fprintf(stderr, "voxnn op: unexpected argument '%s'\n", argv[i]);
      return op_usage(stderr);
    }
  }
  if (do_list) return list(verbose);
  if (!name || !input || !output) {
    std::fprintf(stderr, "voxnn op: %s\n", !name ? "no operator named" : !input ? "--input is missing" : "--output is missing");
    return op_usage(stderr);
  }
  bool known = false;
  for (const OpSignature& s : op_signatures()) known = known || s.name == *name;
  if (!known) {
    std::fprintf(stderr, "voxnn op: %s: unknown op (`voxnn op --list` prints the operators)\n", name->c_str());
    return 1;
  }
  try {
    const nlohmann::json cfg = config ? registry::read_config(*config) : nlohmann::json::object();
    const io::TensorFile in = io::load_safetensors(*input);
    const io::TensorFile out = run_op(*name, cfg, in, backward);
    io::save_safetensors(*output, out);
  } catch (const std::exception& e) {
    // run_op's messages start with the op's name; others (files, JSON) get it here.
    const std::string msg = e.what(), prefix = *name + ": ";
    std::fprintf(stderr, "voxnn op: %s%s\n", msg.starts_with(prefix) ? "" : prefix.c_str(), msg.c_str());
    return 1;
  }
  return 0;
}

}  // namespace voxnn::tools
