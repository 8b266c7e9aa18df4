#pragma once
// Reference-model cases written by fixturelib.write_model_case (tests/fixtures/models/<case>.safetensors):
// the reference's weights, the forward's inputs, each output of the reference's float64 run and
// its float32 tolerance, plus the constructor's keyword arguments as JSON text.
//
//   const test::ModelCase c("vxm_dense.diffeo");
//   models::VxmDense<float> net({...the same configuration...});
//   c.load_into(net);                                  // strict, then eval()
//   auto out = net(Var<float>(c.input<float>("source")), ...);
//   c.require_output("flow", out.value());             // within the case's float32 tolerance
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "support/fixtures.hpp"
#include "voxnn/nn/state_dict.hpp"

namespace voxnn::test {

class ModelCase {
 public:
  explicit ModelCase(const std::string& name)
      : name_(name), file_(fixture_file("models/" + name + ".safetensors")) {}

  const std::string& name() const { return name_; }
  std::string model() const { return file_.metadata.at("model"); }
  // The reference constructor's keyword arguments, as the JSON text the generator wrote.
  std::string config_json() const { return file_.metadata.at("config"); }
  std::vector<std::string> output_names() const { return with_prefix("expected."); }
  std::vector<std::string> input_names() const { return with_prefix("input."); }
  const io::TensorFile& file() const { return file_; }

  template <Real T>
  nn::StateDict<T> weights() const {
    nn::StateDict<T> dict;
    for (const auto& e : file_.entries())
      if (e.name.starts_with("weights.")) dict.insert(e.name.substr(8), file_.get<T>(e.name));
    return dict;
  }
  // Loads the weights strictly (derived buffers may be absent) and switches to eval mode.
  template <class M>
  void load_into(M& model) const {
    model.load_state_dict(weights<typename M::value_type>());
    model.eval();
  }
  // The inputs as a TensorFile under their forward names (what `voxnn run` reads).
  io::TensorFile inputs() const { return subset("input."); }
  io::TensorFile weight_file() const { return subset("weights."); }

  template <class T>
  Tensor<T> input(const std::string& name) const { return file_.get<T>("input." + name); }
  Tensor<double> expected(const std::string& name) const { return file_.get<double>("expected." + name); }
  double tol(const std::string& name) const { return file_.get<double>("tol." + name).item(); }

  // Float32 results against the case's tolerance; double results against 1e-8 of the output's
  // magnitude (the reference's float64 run used the same float32-rounded weights and inputs).
  template <Real T>
  void require_output(const std::string& name, const Tensor<T>& actual, double double_rel = 1e-8) const {
    const Tensor<double> want = expected(name);
    double scale = 1;
    for (double v : want.to_vector())
      if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
    const double t = std::is_same_v<T, float> ? tol(name) : double_rel * scale;
    require_close(actual, want, t, name_ + " output '" + name + "'");
  }

 private:
  std::vector<std::string> with_prefix(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& e : file_.entries())
      if (e.name.starts_with(prefix)) out.push_back(e.name.substr(prefix.size()));
    return out;
  }
  io::TensorFile subset(const std::string& prefix) const {
    io::TensorFile out;
    for (const auto& e : file_.entries())
      if (e.name.starts_with(prefix)) {
        io::TensorEntry copy = e;
        copy.name = e.name.substr(prefix.size());
        out.add(std::move(copy));
      }
    return out;
  }

  std::string name_;
  const io::TensorFile& file_;
};

// The state_dict names of a model, in order (compare with weight_keys of its case).
template <class M>
std::vector<std::string> state_keys(const M& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m.state_dict()) out.push_back(k);
  return out;
}
// The reference's state_dict names in a case, in the reference's order.
inline std::vector<std::string> weight_keys(const ModelCase& c) {
  std::vector<std::string> out;
  for (const auto& [k, v] : c.weights<float>()) out.push_back(k);
  return out;
}

template <class T>
double max_abs_diff(const Tensor<T>& a, const Tensor<T>& b) {
  double d = 0;
  const auto va = a.to_vector(), vb = b.to_vector();
  for (std::size_t i = 0; i < va.size(); ++i)
    d = std::max(d, std::abs(static_cast<double>(va[i]) - static_cast<double>(vb[i])));
  return d;
}

}  // namespace voxnn::test
