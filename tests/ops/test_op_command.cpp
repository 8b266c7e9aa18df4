// The operator registry of `voxnn op` (tools/op/), driven directly: fixture cases of conv, norm, pad,
// interpolate and the shuffles run through run_op by their PyTorch names, in float and double, forward
// and backward; outputs with several results; the error messages. The built binary itself is tested
// end to end by tools/op/e2e_test.cpp (ctest ops.cli_op_run).
//
// Built only with the tool (tools/CMakeLists.txt links the registry and defines VOXNN_HAVE_OP_REGISTRY).
#ifdef VOXNN_HAVE_OP_REGISTRY

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "op/op.hpp"
#include "support/fixtures.hpp"
#include "voxnn/core/factory.hpp"

using nlohmann::json;
using voxnn::Tensor;
using voxnn::io::TensorFile;
using voxnn::tools::run_op;

namespace {

// Fixture parameters travel as JSON without floats or booleans: floats as strings, booleans as 0/1.
double number(const json& v) { return v.is_string() ? std::strtod(v.get<std::string>().c_str(), nullptr) : v.get<double>(); }

// How a fixture case maps onto `voxnn op`: the tensor names of its inputs (before grad_output), the
// config, and whether PyTorch's gradient is the one to match.
struct Mapping {
  std::vector<std::string> tensors;
  json config = json::object();
  bool check_grad = true;
};
using Mapper = Mapping (*)(const json& params);

Mapping conv_mapping(const json& p) {
  Mapping m{{"input", "weight"}};
  if (p.at("bias").get<int>()) m.tensors.push_back("bias");
  for (const char* key : {"stride", "padding", "dilation", "groups", "output_padding"})
    if (p.contains(key)) m.config[key] = p[key];
  return m;
}

Mapping norm_mapping(const json& p) {
  Mapping m{{"input"}};
  if (p.at("running").get<int>()) m.tensors.insert(m.tensors.end(), {"running_mean", "running_var"});
  if (p.at("weight").get<int>()) m.tensors.push_back("weight");
  if (p.at("bias").get<int>()) m.tensors.push_back("bias");
  for (const char* key : {"training", "use_input_stats"})
    if (p.contains(key)) m.config[key] = p[key].get<int>() != 0;
  for (const char* key : {"momentum", "eps"})
    if (p.contains(key)) m.config[key] = number(p[key]);
  for (const char* key : {"num_groups", "normalized_shape"})
    if (p.contains(key)) m.config[key] = p[key];
  return m;
}

Mapping pad_mapping(const json& p) {
  Mapping m{{"input"}};
  m.config = {{"pad", p.at("pad")}, {"mode", p.at("mode")}, {"value", number(p.at("value"))}};
  return m;
}

Mapping interpolate_mapping(const json& p) {
  Mapping m{{"input"}};
  m.config["mode"] = p.at("mode");
  if (p.contains("size")) m.config["size"] = p["size"];
  if (p.contains("scale_factor"))
    for (const json& s : p["scale_factor"]) m.config["scale_factor"].push_back(number(s));
  for (const char* key : {"align_corners", "recompute_scale_factor"})
    if (p.contains(key)) m.config[key] = p[key].get<int>() != 0;
  m.check_grad = !p.contains("torch_grad_inconsistent");
  return m;
}

Mapping shuffle_mapping(const json& p) {
  const std::string op = p.at("op");
  Mapping m{{"input"}};
  m.config[op.find("unshuffle") == std::string::npos ? "upscale_factor" : "downscale_factor"] = p.at("factor");
  return m;
}

// Runs every case of `op` in `file` through run_op in precision T, forward + backward, and compares
// out and each grad_<name> with PyTorch's; then the forward alone in double.
template <class T>
void check_fixture_cases(const char* file, const char* op, Mapper mapper) {
  const TensorFile& f = voxnn::test::fixture_file(file);
  for (const auto& c : voxnn::test::fixture_cases(file, op)) {
    const json params = json::parse(f.metadata.at(c.name()));
    const Mapping m = mapper(params);
    REQUIRE(static_cast<int>(m.tensors.size()) == c.num_inputs() - 1);
    TensorFile in;
    for (std::size_t i = 0; i < m.tensors.size(); ++i) in.add(m.tensors[i], c.template input<T>(static_cast<int>(i)));
    in.add("gout", c.template input<T>(c.num_inputs() - 1));
    INFO(c.name() << " config " << m.config.dump());

    const TensorFile out = run_op(op, m.config, in, true);
    CHECK(out.entry("out").dtype == voxnn::io::dtype_of<T>());
    c.template check<T>(out.get<T>("out"), 0);
    if (m.check_grad) {
      const auto grads = params.at("grad").get<std::vector<int>>();
      for (std::size_t k = 0; k < grads.size(); ++k)
        c.template check<T>(out.get<T>("grad_" + m.tensors[static_cast<std::size_t>(grads[k])]), static_cast<int>(k) + 1);
    }
    if constexpr (std::is_same_v<T, double>) {
      const TensorFile forward = run_op(op, m.config, in, false);  // gout is ignored without --backward
      for (const std::string& name : forward.names()) CHECK(name.rfind("grad_", 0) == std::string::npos);
      c.template check<T>(forward.get<T>("out"), 0);
    }
  }
}

template <class T>
void check_all_fixtures() {
  for (const char* op : {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"})
    check_fixture_cases<T>("ops_conv.safetensors", op, conv_mapping);
  for (const char* op : {"batch_norm", "instance_norm", "group_norm", "layer_norm"})
    check_fixture_cases<T>("ops_norm.safetensors", op, norm_mapping);
  check_fixture_cases<T>("ops_resample.safetensors", "pad", pad_mapping);
  check_fixture_cases<T>("ops_resample.safetensors", "interpolate", interpolate_mapping);
  for (const char* op : {"pixel_shuffle", "pixel_unshuffle", "voxel_shuffle", "voxel_unshuffle"})
    check_fixture_cases<T>("ops_resample.safetensors", op, shuffle_mapping);
}

TensorFile one(const std::string& name, const Tensor<double>& t) {
  TensorFile f;
  f.add(name, t);
  return f;
}

Tensor<double> ramp(const voxnn::Shape& shape, double scale = 0.1) {
  Tensor<double> t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = scale * static_cast<double>((i * 7) % 13) - 0.5;
  return t;
}

std::string error_of(const std::string& op, const json& config, const TensorFile& in, bool backward = false) {
  try {
    (void)run_op(op, config, in, backward);
  } catch (const voxnn::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("voxnn op: the registry lists torch.nn.functional's and the references' names, sorted", "[ops][op_command]") {
  const std::vector<std::string> names = voxnn::tools::op_names();
  CHECK(std::is_sorted(names.begin(), names.end()));
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
  for (const char* want : {"conv1d", "conv3d", "conv_transpose3d", "max_pool3d", "avg_pool2d", "adaptive_avg_pool3d",
                           "adaptive_max_pool1d", "max_unpool3d", "batch_norm", "instance_norm", "group_norm",
                           "layer_norm", "interpolate", "pad", "leaky_relu", "prelu", "relu", "elu", "gelu", "silu",
                           "sigmoid", "tanh", "softmax", "log_softmax", "linear", "pixel_shuffle", "voxel_shuffle",
                           // imaging: torch.nn.functional's name where one exists, else the reference's
                           "grid_sample", "affine_grid", "fftn", "ifftn", "fft2c", "ifft2c", "spatial_transformer",
                           "vec_int", "jacobian_determinant", "rss_complex", "sens_expand", "sens_reduce", "radon",
                           "back_projection", "lstm", "gru", "multi_head_attention_forward", "volume_to_slices"})
    CHECK(std::find(names.begin(), names.end(), want) != names.end());
  for (const auto& sig : voxnn::tools::op_signatures()) {
    INFO(sig.name);
    REQUIRE(!sig.tensors.empty());
    CHECK(!sig.tensors.front().empty());
  }
}

TEST_CASE("voxnn op: fixture cases through the registry, float", "[ops][op_command]") { check_all_fixtures<float>(); }
TEST_CASE("voxnn op: fixture cases through the registry, double", "[ops][op_command]") { check_all_fixtures<double>(); }

TEST_CASE("voxnn op: several outputs", "[ops][op_command]") {
  SECTION("max_pool3d with return_indices writes out and out_indices; max_unpool3d takes them back") {
    const Tensor<double> x = ramp({1, 2, 4, 4, 4});
    const TensorFile pooled = run_op("max_pool3d", {{"kernel_size", 2}, {"return_indices", true}}, one("input", x), false);
    REQUIRE(pooled.size() == 2);
    CHECK(pooled.entry("out_indices").dtype == voxnn::io::DType::I64);
    CHECK(pooled.entry("out_indices").shape == voxnn::Shape({1, 2, 2, 2, 2}));
    TensorFile in = one("input", pooled.get<double>("out"));
    in.add("indices", pooled.get<int64_t>("out_indices"));
    const TensorFile unpooled = run_op("max_unpool3d", {{"kernel_size", 2}}, in, false);
    // each maximum back at its place: unpool(pool(x)) == x exactly where x attains the window max
    const Tensor<double> y = unpooled.get<double>("out");
    REQUIRE(y.shape() == x.shape());
    const auto idx = pooled.get<int64_t>("out_indices").to_vector();
    const auto v = pooled.get<double>("out").to_vector();
    for (std::size_t i = 0; i < idx.size(); ++i) {
      const int64_t plane = static_cast<int64_t>(i) / 8;
      CHECK(y.data()[plane * 64 + idx[i]] == v[i]);
      CHECK(x.data()[plane * 64 + idx[i]] == v[i]);
    }
  }
  SECTION("batch_norm in training writes the updated running statistics") {
    const Tensor<double> x = voxnn::from_vector<double>({1, 2, 3, 4, 10, 20, 30, 40}, {2, 2, 2});
    TensorFile in = one("input", x);
    in.add("running_mean", voxnn::from_vector<double>({0.5, -1}));
    in.add("running_var", voxnn::from_vector<double>({2, 3}));
    const TensorFile out = run_op("batch_norm", {{"training", true}, {"momentum", 0.25}}, in, false);
    // channel 0: 1, 2, 10, 20 (mean 8.25, unbiased var 77.58333...), channel 1: 3, 4, 30, 40
    const double m0 = 8.25, m1 = 19.25;
    const double v0 = ((1 - m0) * (1 - m0) + (2 - m0) * (2 - m0) + (10 - m0) * (10 - m0) + (20 - m0) * (20 - m0)) / 3;
    const double v1 = ((3 - m1) * (3 - m1) + (4 - m1) * (4 - m1) + (30 - m1) * (30 - m1) + (40 - m1) * (40 - m1)) / 3;
    voxnn::test::require_close(out.get<double>("new_running_mean"),
                               voxnn::from_vector<double>({0.75 * 0.5 + 0.25 * m0, 0.75 * -1 + 0.25 * m1}), 1e-12);
    voxnn::test::require_close(out.get<double>("new_running_var"),
                               voxnn::from_vector<double>({0.75 * 2 + 0.25 * v0, 0.75 * 3 + 0.25 * v1}), 1e-12);
    // in evaluation the statistics are not written
    const TensorFile eval = run_op("batch_norm", {{"training", false}}, in, false);
    CHECK(eval.names() == std::vector<std::string>{"out"});
  }
  SECTION("--backward skips tensors that only index: max_unpool has grad_input, no grad_indices") {
    TensorFile in = one("input", ramp({1, 1, 2}));
    in.add("indices", voxnn::from_vector<int64_t>({1, 2}, {1, 1, 2}));
    in.add("gout", ramp({1, 1, 4}, 1.0));
    const TensorFile out = run_op("max_unpool1d", {{"kernel_size", 2}}, in, true);
    CHECK(out.contains("grad_input"));
    CHECK_FALSE(out.contains("grad_indices"));
    // gout = -0.5, 6.5, 0.5, 7.5: the input went to positions 1 and 2
    voxnn::test::require_close(out.get<double>("grad_input"), voxnn::from_vector<double>({6.5, 0.5}, {1, 1, 2}), 0.0);
  }
}

TEST_CASE("voxnn op: tensors at unaligned offsets of a safetensors file", "[ops][op_command][io]") {
  // an unpadded header, then a 3-byte U8 tensor, so the F64 input starts at data offset 3 of a buffer
  // that itself starts at an odd file offset: unaligned for its 8-byte elements.
  const std::string header =
      R"({"pad":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"input":{"dtype":"F64","shape":[2,2],"data_offsets":[3,35]}})";
  std::vector<uint8_t> bytes(8 + header.size() + 35);
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  const double values[] = {-1.5, 2.0, 0.25, -0.0};
  std::memcpy(bytes.data() + 8 + header.size() + 3, values, sizeof(values));
  REQUIRE(reinterpret_cast<std::uintptr_t>(bytes.data() + 8 + header.size() + 3) % 8 != 0);
  TensorFile parsed = voxnn::io::parse_safetensors(bytes);
  TensorFile in = one("input", parsed.get<double>("input"));
  const TensorFile out = run_op("relu", json::object(), in, false);
  voxnn::test::require_equal(out.get<double>("out"), voxnn::from_vector<double>({0, 2, 0.25, 0}, {2, 2}));
}

TEST_CASE("voxnn op: errors name the op and the culprit", "[ops][op_command]") {
  const TensorFile x = one("input", ramp({1, 2, 5}));
  TensorFile conv = x;
  conv.add("weight", ramp({3, 2, 3}));
  using Catch::Contains;
  CHECK_THAT(error_of("conv4d", json::object(), x), Contains("conv4d: unknown op"));
  CHECK_THAT(error_of("conv1d", {{"strides", 2}}, conv), Contains("conv1d: unknown config key 'strides'") &&
                                                             Contains("stride, padding, dilation, groups"));
  CHECK_THAT(error_of("conv1d", {{"stride", "2"}}, conv), Contains("conv1d: config 'stride' must be an integer or a list"));
  CHECK_THAT(error_of("conv1d", {{"stride", {1, 2}}}, conv), Contains("conv1d: config 'stride' must be"));
  CHECK_THAT(error_of("conv1d", {{"padding", "full"}}, conv), Contains("\"same\" or \"valid\""));
  CHECK_THAT(error_of("conv1d", {{"groups", 1.5}}, conv), Contains("conv1d: config 'groups' must be an integer"));
  CHECK_THAT(error_of("max_pool1d", {{"kernel_size", 2}, {"ceil_mode", 1}}, x),
             Contains("max_pool1d: config 'ceil_mode' must be true or false"));
  CHECK_THAT(error_of("conv1d", json::array({1, 2}), conv), Contains("conv1d: the config must be a JSON object"));
  CHECK_THAT(error_of("conv1d", json::object(), x), Contains("conv1d: missing tensor 'weight'"));
  CHECK_THAT(error_of("max_pool1d", json::object(), x), Contains("max_pool1d: missing config key 'kernel_size'"));
  CHECK_THAT(error_of("relu", json::object(), conv), Contains("relu: unknown tensor 'weight'"));
  CHECK_THAT(error_of("relu", json::object(), one("x", ramp({2}))), Contains("relu: unknown tensor 'x'"));
  CHECK_THAT(error_of("relu", json::object(), x, true), Contains("relu: missing tensor 'gout'"));
  TensorFile bad_gout = x;
  bad_gout.add("gout", ramp({1, 2, 4}));
  CHECK_THAT(error_of("relu", json::object(), bad_gout, true),
             Contains("relu: tensor 'gout' has shape [1, 2, 4] but output 'out' has shape [1, 2, 5]"));
  TensorFile stray = x;
  stray.add("gout", ramp({1, 2, 5}));
  stray.add("gout_indices", ramp({1}));
  CHECK_THAT(error_of("relu", json::object(), stray, true), Contains("relu: tensor 'gout_indices' is not the gradient"));
  TensorFile ints;
  ints.add("input", voxnn::from_vector<int64_t>({1, 2}));
  CHECK_THAT(error_of("relu", json::object(), ints), Contains("relu: tensor 'input' has dtype I64"));
  TensorFile unpool = x;
  unpool.add("indices", ramp({1, 2, 5}));
  CHECK_THAT(error_of("max_unpool1d", {{"kernel_size", 2}}, unpool),
             Contains("max_unpool1d: tensor 'indices' has dtype F64; expected an integer dtype"));
  TensorFile bn = x;
  bn.add("running_mean", ramp({2}));
  bn.add("running_var", ramp({2}, 0.0));
  CHECK_THAT(error_of("batch_norm", {{"momentum", nullptr}, {"training", true}}, bn),
             Contains("batch_norm: config 'momentum' must be a number"));
  CHECK_THAT(error_of("softmax", {{"dim", 1}, {"dtype", "float64"}}, x), Contains("softmax: config 'dtype' must be null"));
  // the library's own checks come through, named by the op
  TensorFile flat = one("input", ramp({5}));
  flat.add("weight", ramp({3, 2, 3}));
  CHECK_THAT(error_of("conv1d", json::object(), flat), Contains("conv1d: input has 1 dims [5]"));
  CHECK_THAT(error_of("gelu", {{"approximate", "fast"}}, x), Contains("gelu: approximate must be 'none' or 'tanh'"));
  CHECK_THAT(error_of("relu", {{"inplace", "yes"}}, x), Contains("relu: config 'inplace' must be true or false"));
}

#endif  // VOXNN_HAVE_OP_REGISTRY
