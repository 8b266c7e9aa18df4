// The `voxnn run` subcommand: argument parsing, reading CONFIG, W and IN, writing OUT.
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/registry.hpp"
#include "run/run.hpp"
#include "voxnn/core/error.hpp"

namespace voxnn::tools {
namespace {

int run_usage(FILE* out) {
  std::fprintf(out,
               "usage: voxnn run MODEL [--config CONFIG.json] --weights W.safetensors --input IN.safetensors "
               "--output OUT.safetensors\n"
               "       voxnn run --list [--verbose]\n"
               "Runs a model of the zoo in eval mode on weights exported from its reference implementation.\n"
               "CONFIG holds the reference constructor's keyword arguments by their reference names (a JSON\n"
               "object, or the JSON itself when the argument starts with '{'); null or absent means the\n"
               "reference default. W is the reference's state_dict (tools/export_pytorch.py writes one). IN holds\n"
               "the forward's tensors under the reference forward's parameter names; the model runs in the dtype\n"
               "of the first (F64 in double, else float). OUT gets the outputs `voxnn run --list` names.\n");
  return out == stdout ? 0 : 2;
}

int list(bool verbose) {
  for (const ModelSignature& s : model_signatures()) {
    if (!verbose) {
      std::printf("%.*s\n", static_cast<int>(s.name.size()), s.name.data());
      continue;
    }
    const auto listed = [](const std::vector<std::string_view>& names) { return registry::join(names, " ", "-"); };
    std::printf("%.*s  (%.*s)\n  inputs: %s\n  outputs: %s\n  keywords: %s\n", static_cast<int>(s.name.size()),
                s.name.data(), static_cast<int>(s.reference.size()), s.reference.data(), listed(s.inputs).c_str(),
                listed(s.outputs).c_str(), listed(s.kwargs).c_str());
  }
  return 0;
}

}  // namespace

int run_command(int argc, char** argv) {
  std::optional<std::string> name, config, weights, input, output;
  bool do_list = false, verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](std::optional<std::string>& slot) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "voxnn run: %s needs a value\n", argv[i]);
        return false;
      }
      slot = argv[++i];
      return true;
    };
    if (a == "--help" || a == "-h") return run_usage(stdout);
    if (a == "--list") do_list = true;
    else if (a == "--verbose" || a == "-v") verbose = true;
    else if (a == "--config") { if (!value(config)) return 2; }
    else if (a == "--weights") { if (!value(weights)) return 2; }
    else if (a == "--input") { if (!value(input)) return 2; }
    else if (a == "--output") { if (!value(output)) return 2; }
    else if (!a.starts_with("-") && !name) name = std::string(a);
    else {
      std::fprintf(stderr, "voxnn run: unexpected argument '%s'\n", argv[i]);
      return run_usage(stderr);
    }
  }
  if (do_list) return list(verbose);
  if (!name || !weights || !input || !output) {
    std::fprintf(stderr, "voxnn run: %s\n",
                 !name ? "no model named" : !weights ? "--weights is missing" : !input ? "--input is missing"
                                                                                        : "--output is missing");
    return run_usage(stderr);
  }
  bool known = false;
  for (const ModelSignature& s : model_signatures()) known = known || s.name == *name;
  if (!known) {
    std::fprintf(stderr, "voxnn run: %s: unknown model (`voxnn run --list` prints the models)\n", name->c_str());
    return 1;
  }
  try {
    const nlohmann::json cfg = config ? registry::read_config(*config) : nlohmann::json::object();
    const io::TensorFile w = io::load_safetensors(*weights);
    const io::TensorFile in = io::load_safetensors(*input);
    io::save_safetensors(*output, run_model(*name, cfg, w, in));
  } catch (const std::exception& e) {
    const std::string msg = e.what(), prefix = *name + ": ";
    std::fprintf(stderr, "voxnn run: %s%s\n", msg.starts_with(prefix) ? "" : prefix.c_str(), msg.c_str());
    return 1;
  }
  return 0;
}

}  // namespace voxnn::tools
