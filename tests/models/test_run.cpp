// `voxnn run` (tools/run/): every reference-model case in tests/fixtures/models/ whose model the
// tool registers runs through run_model with its reference keyword arguments verbatim and matches
// the reference's outputs, in float32 (the case's tolerance) and float64; every registered model
// has at least one case; bad configurations fail with a message naming the model and the keyword.
#ifdef VOXNN_HAVE_RUN_REGISTRY
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/run.hpp"
#include "support/model_case.hpp"
#include "voxnn/core/factory.hpp"

using namespace voxnn;
using nlohmann::json;

namespace {

std::vector<std::string> case_names() {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(test::fixture_path("models")))
    if (entry.path().extension() == ".safetensors") out.push_back(entry.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool registered(const std::string& model) {
  for (const auto& s : tools::model_signatures())
    if (s.name == model) return true;
  return false;
}

// The case's inputs with every real tensor stored as F64, so that run_model runs in double.
io::TensorFile as_double(const io::TensorFile& in) {
  io::TensorFile out;
  for (const auto& e : in.entries()) {
    if (e.dtype == io::DType::F32) out.add(e.name, in.get<double>(e.name));
    else out.add(e);
  }
  return out;
}

const tools::ModelSignature& signature(const std::string& model) {
  for (const auto& s : tools::model_signatures())
    if (s.name == model) return s;
  FAIL("no model " << model);
  throw;
}

}  // namespace

TEST_CASE("voxnn run reproduces every reference-model case", "[models][run]") {
  std::set<std::string> covered;
  int ran = 0;
  for (const std::string& name : case_names()) {
    const test::ModelCase c(name);
    if (!registered(c.model())) continue;  // C++-only cases (critics, 3D variants) have no `voxnn run` entry
    covered.insert(c.model());
    DYNAMIC_SECTION(name) {
      const json config = json::parse(c.config_json());
      const io::TensorFile weights = c.weight_file();
      const io::TensorFile out32 = tools::run_model(c.model(), config, weights, c.inputs());
      const io::TensorFile out64 = tools::run_model(c.model(), config, weights, as_double(c.inputs()));
      for (const std::string& output : c.output_names()) {
        INFO("output " << output);
        REQUIRE(out32.contains(output));
        REQUIRE(out32.entry(output).dtype == io::DType::F32);
        c.require_output(output, out32.get<float>(output));
        REQUIRE(out64.entry(output).dtype == io::DType::F64);
        c.require_output(output, out64.get<double>(output));
      }
      ++ran;
    }
  }
  SECTION("every registered model has a case") {
    for (const auto& s : tools::model_signatures()) {
      INFO("model " << s.name);
      CHECK(covered.count(std::string(s.name)) == 1);
    }
  }
}

TEST_CASE("voxnn run rejects bad configurations by name", "[models][run]") {
  for (const auto& s : tools::model_signatures()) {
    const std::string model(s.name);
    std::string case_name;
    for (const std::string& name : case_names())
      if (name.starts_with(model + ".")) {
        case_name = name;
        break;
      }
    if (case_name.empty()) continue;  // reported by the test above
    DYNAMIC_SECTION(model) {
      const test::ModelCase c(case_name);
      const json config = json::parse(c.config_json());
      const io::TensorFile weights = c.weight_file();

      json unknown = config;
      unknown["no_such_keyword"] = 1;
      REQUIRE_THROWS_WITH(tools::run_model(model, unknown, weights, c.inputs()),
                          Catch::StartsWith(model + ": unknown keyword 'no_such_keyword'"));

      // a keyword of the reference with a value of the wrong JSON type
      for (std::string_view key : signature(model).kwargs) {
        json bad = config;
        bad[std::string(key)] = json::object({{"not", "a valid value"}});
        INFO("keyword " << key);
        REQUIRE_THROWS_WITH(tools::run_model(model, bad, weights, c.inputs()),
                            Catch::StartsWith(model + ": ") && Catch::Contains(std::string(key)));
      }

      io::TensorFile extra = c.inputs();
      extra.add("no_such_input", zeros<float>({1}));
      REQUIRE_THROWS_WITH(tools::run_model(model, config, weights, extra),
                          Catch::StartsWith(model + ": unknown tensor 'no_such_input'"));

      // the last weight: early ones may size the model (RED-WGAN's widths come from conv1..conv4)
      std::string dropped;
      for (const auto& e : weights.entries())
        if (e.name.ends_with("weight")) dropped = e.name;
      io::TensorFile missing_weight;
      for (const auto& e : weights.entries())
        if (e.name != dropped) missing_weight.add(e);
      REQUIRE_THROWS_WITH(tools::run_model(model, config, missing_weight, c.inputs()),
                          Catch::StartsWith(model + ": ") && Catch::Contains("Missing key") && Catch::Contains(dropped));
    }
  }
  REQUIRE_THROWS_WITH(tools::run_model("no_such_model", json::object(), {}, {}),
                      Catch::StartsWith("no_such_model: unknown model"));
}

TEST_CASE("voxnn run names the reference values it does not support", "[models][run]") {
  // model, a case of it, the keyword and a value the reference accepts but voxnn does not
  const struct {
    std::string model, keyword;
    json value;
    std::string why;
  } unsupported[] = {
      {"vxm_dense", "use_probs", true, "the flow variance is not implemented"},
      {"slice_set_net", "encoder_2d", nullptr, "builds no encoder"},
      {"slice_set_net", "encoder_2d", "resnet18", "ResNet slice encoders"},
      {"basic_unet", "features", 32, "must be a list of six integers"},
  };
  for (const auto& u : unsupported) {
    std::string case_name;
    for (const std::string& name : case_names())
      if (name.starts_with(u.model + ".")) {
        case_name = name;
        break;
      }
    INFO(u.model << " " << u.keyword << " = " << u.value.dump());
    REQUIRE_FALSE(case_name.empty());
    const test::ModelCase c(case_name);
    json config = json::parse(c.config_json());
    config[u.keyword] = u.value;
    REQUIRE_THROWS_WITH(tools::run_model(u.model, config, c.weight_file(), c.inputs()),
                        Catch::StartsWith(u.model + ": config '" + u.keyword + "' = " + u.value.dump() +
                                          " is not supported: ") &&
                            Catch::Contains(u.why));
  }
}
#endif
