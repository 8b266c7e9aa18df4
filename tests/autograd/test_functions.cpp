// Every differentiable function against PyTorch (forward value and input gradients, in float and
// double, on odd sizes, broadcasting, non-contiguous inputs and negative dims), and the same case
// matrix through gradcheck and gradgradcheck in double. Fixtures: tests/fixtures/gen_autograd.py.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/gradients.hpp"
#include "voxnn/autograd/autograd.hpp"

namespace {

using namespace voxnn;
using test::FixtureCase;

// The files and the ops each must hold (fixture_cases fails on an op without cases).
struct OpGroup {
  const char* file;
  std::vector<const char*> ops;
};
const std::vector<OpGroup>& op_groups() {
  static const std::vector<OpGroup> groups = {
      {"autograd_elementwise.safetensors",
       {"add", "sub", "mul", "div", "maximum", "minimum", "pow", "neg", "exp", "log", "sqrt", "rsqrt", "abs",
        "erf", "clamp", "where"}},
      {"autograd_shape.safetensors",
       {"reshape", "view", "flatten", "squeeze", "unsqueeze", "permute", "transpose", "expand", "sum_to", "slice",
        "narrow", "select", "cat", "stack", "split", "chunk", "index_select", "gather", "scatter_add"}},
      {"autograd_reduce.safetensors", {"sum", "mean", "var", "std", "amax", "amin", "norm", "logsumexp"}},
      {"autograd_nn.safetensors",
       {"relu", "leaky_relu", "prelu", "elu", "gelu", "sigmoid", "tanh", "silu", "softmax", "log_softmax", "matmul",
        "bmm", "linear"}},
  };
  return groups;
}

// ---- reading an autograd case ---------------------------------------------------------------------------
// Inputs in0..in(n-1), then grad_output; "grad" lists the differentiated inputs; out0 is the forward
// value and out(k+1) the gradient of input grad[k].

std::string input_key(const FixtureCase& c, int i) {
  return c.param("inputs").array().at(static_cast<std::size_t>(i)).string();
}
bool is_float_input(const io::TensorFile& file, const FixtureCase& c, int i) {
  const auto dtype = file.entry(input_key(c, i)).dtype;
  return dtype == io::DType::F64 || dtype == io::DType::F32;
}
int num_data_inputs(const FixtureCase& c) { return c.num_inputs() - 1; }
bool in_grad_list(const FixtureCase& c, int i) {
  for (int64_t g : c.ints("grad"))
    if (g == i) return true;
  return false;
}


template <class T>
T scalar_param(const FixtureCase& c, const char* key) {
  return static_cast<T>(c.real(key));
}

// Runs the case's op on x (one Var per data input; index and mask inputs come from the case).
template <class T>
Var<T> run_op(const FixtureCase& c, const std::vector<Var<T>>& x) {
  const std::string op = c.op();
  auto dims = [&] { return c.ints("dims"); };
  auto shape = [&] { return Shape(c.ints("shape")); };
  auto pieces = [&](const std::vector<Var<T>>& parts) {
    // split / chunk: each piece's shape as torch's, then their flattened concatenation
    const auto& want = c.param("part_shapes").array();
    REQUIRE(parts.size() == want.size());
    std::vector<Var<T>> flat;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      CHECK(parts[i].shape() == Shape(test::json_ints(want[i])));
      flat.push_back(reshape(parts[i], Shape{-1}));
    }
    return cat(flat, 0);
  };

  if (op == "add" || op == "sub" || op == "mul" || op == "div") {
    if (c.has("scalar")) {
      const T s = scalar_param<T>(c, "scalar");
      const bool right = c.string("side") == "right";
      if (op == "add") return right ? x[0] + s : s + x[0];
      if (op == "sub") return right ? x[0] - s : s - x[0];
      if (op == "mul") return right ? x[0] * s : s * x[0];
      return right ? x[0] / s : s / x[0];
    }
    if (op == "add") return add(x[0], x[1]);
    if (op == "sub") return x[0] - x[1];
    if (op == "mul") return mul(x[0], x[1]);
    return x[0] / x[1];
  }
  if (op == "maximum") return maximum(x[0], x[1]);
  if (op == "minimum") return minimum(x[0], x[1]);
  if (op == "pow") return c.string("form") == "tensor_scalar" ? pow(x[0], scalar_param<T>(c, "exponent")) : pow(x[0], x[1]);
  if (op == "neg") return -x[0];
  if (op == "exp") return exp(x[0]);
  if (op == "log") return log(x[0]);
  if (op == "sqrt") return sqrt(x[0]);
  if (op == "rsqrt") return rsqrt(x[0]);
  if (op == "abs") return abs(x[0]);
  if (op == "erf") return erf(x[0]);
  if (op == "clamp") return clamp(x[0], scalar_param<T>(c, "lo"), scalar_param<T>(c, "hi"));
  if (op == "where") return where(c.input<bool>(0), x[1], x[2]);

  if (op == "reshape") return reshape(x[0], shape());
  if (op == "view") return view(x[0], shape());
  if (op == "flatten") return flatten(x[0], c.integer("start"), c.integer("end"));
  if (op == "squeeze") {
    if (c.param("dim").is_string()) return squeeze(x[0]);
    return squeeze(x[0], c.integer("dim"));
  }
  if (op == "unsqueeze") return unsqueeze(x[0], c.integer("dim"));
  if (op == "permute") return permute(x[0], c.ints("order"));
  if (op == "transpose") return transpose(x[0], c.integer("d0"), c.integer("d1"));
  if (op == "expand") return expand(x[0], shape());
  if (op == "sum_to") return sum_to(x[0], shape());
  if (op == "slice") return slice(x[0], c.integer("dim"), c.integer("start"), c.integer("end"), c.integer("step"));
  if (op == "narrow") return narrow(x[0], c.integer("dim"), c.integer("start"), c.integer("length"));
  if (op == "select") return select(x[0], c.integer("dim"), c.integer("index"));
  if (op == "cat") return cat(x, c.integer("dim"));
  if (op == "stack") return stack(x, c.integer("dim"));
  if (op == "split") {
    if (c.has("sizes")) return pieces(split_with_sizes(x[0], c.ints("sizes"), c.integer("dim")));
    return pieces(split(x[0], c.integer("size"), c.integer("dim")));
  }
  if (op == "chunk") return pieces(chunk(x[0], c.integer("chunks"), c.integer("dim")));
  if (op == "index_select") return index_select(x[0], c.integer("dim"), c.input<int64_t>(1));
  if (op == "gather") return gather(x[0], c.integer("dim"), c.input<int64_t>(1));
  if (op == "scatter_add") return scatter_add(x[0], c.integer("dim"), c.input<int64_t>(1), x[2]);

  if (op == "sum") return sum(x[0], dims(), c.flag("keepdim"));
  if (op == "mean") return mean(x[0], dims(), c.flag("keepdim"));
  if (op == "var") return var(x[0], dims(), c.flag("unbiased"), c.flag("keepdim"));
  if (op == "std") return voxnn::std(x[0], dims(), c.flag("unbiased"), c.flag("keepdim"));
  if (op == "amax") return amax(x[0], dims(), c.flag("keepdim"));
  if (op == "amin") return amin(x[0], dims(), c.flag("keepdim"));
  if (op == "norm") return norm(x[0], c.real("p"), dims(), c.flag("keepdim"));
  if (op == "logsumexp") return logsumexp(x[0], dims(), c.flag("keepdim"));

  if (op == "relu") return relu(x[0]);
  if (op == "leaky_relu") return leaky_relu(x[0], c.real("negative_slope"));
  if (op == "prelu") return prelu(x[0], x[1]);
  if (op == "elu") return elu(x[0], c.real("alpha"));
  if (op == "gelu") return gelu(x[0], c.string("approximate"));
  if (op == "sigmoid") return sigmoid(x[0]);
  if (op == "tanh") return tanh(x[0]);
  if (op == "silu") return silu(x[0]);
  if (op == "softmax") return softmax(x[0], c.integer("dim"));
  if (op == "log_softmax") return log_softmax(x[0], c.integer("dim"));
  if (op == "matmul") return matmul(x[0], x[1]);
  if (op == "bmm") return bmm(x[0], x[1]);
  if (op == "linear") return x.size() > 2 ? linear(x[0], x[1], x[2]) : linear(x[0], x[1]);
  FAIL("no C++ call for fixture op " << op);
  return {};
}

// Forward value and input gradients of one case in precision T, against the PyTorch values.
template <class T>
void check_against_torch(const io::TensorFile& file, const FixtureCase& c) {
  INFO("case " << c.name() << " (" << (std::is_same_v<T, float> ? "float" : "double") << ")");
  const int n = num_data_inputs(c);
  std::vector<Var<T>> x(static_cast<std::size_t>(n));
  std::vector<Var<T>> wanted;
  for (int i = 0; i < n; ++i) {
    if (!is_float_input(file, c, i)) continue;
    // A leaf made from the viewed tensor: the op sees (and differentiates) non-contiguous memory.
    x[static_cast<std::size_t>(i)] = Var<T>(c.input<T>(i), in_grad_list(c, i));
    if (in_grad_list(c, i)) wanted.push_back(x[static_cast<std::size_t>(i)]);
  }
  const Var<T> out = run_op(c, x);
  REQUIRE(out.defined());
  c.check<T>(out.value(), 0);
  REQUIRE(out.requires_grad());
  const Tensor<T> gout = c.input<T>(n);
  const auto grads = grad<T, Cpu>({out}, wanted, {gout});
  REQUIRE(grads.size() == wanted.size());
  for (std::size_t k = 0; k < grads.size(); ++k) {
    INFO("gradient of input " << c.ints("grad")[k]);
    REQUIRE(grads[k].defined());
    c.check<T>(grads[k].value(), static_cast<int>(k) + 1);
  }
}

// gradcheck and gradgradcheck of the case's op with respect to all its float inputs (pre-view; the
// views are applied inside f, so they are differentiated too).
void check_finite_differences(const io::TensorFile& file, const FixtureCase& c) {
  INFO("case " << c.name());
  const int n = num_data_inputs(c);
  std::vector<int> positions;  // data input of each gradcheck input
  std::vector<Var<double>> inputs;
  for (int i = 0; i < n; ++i) {
    if (!is_float_input(file, c, i)) continue;
    positions.push_back(i);
    inputs.emplace_back(file.get<double>(input_key(c, i)), true);  // every float input, torch's or not
  }
  const auto& views = c.param("views").array();
  const GradcheckFn f = [&](const std::vector<Var<double>>& xs) {
    std::vector<Var<double>> args(static_cast<std::size_t>(n));
    for (std::size_t k = 0; k < xs.size(); ++k)
      args[static_cast<std::size_t>(positions[k])] = test::apply_views_var(xs[k], views.at(static_cast<std::size_t>(positions[k])));
    return run_op(c, args);
  };
  test::check_gradients(f, inputs);
}

}  // namespace

TEMPLATE_TEST_CASE("autograd functions: forward and input gradients match PyTorch", "[autograd]", float, double) {
  int cases = 0;
  for (const auto& group : op_groups()) {
    const io::TensorFile& file = test::fixture_file(group.file);
    for (const char* op : group.ops)
      for (const auto& c : test::fixture_cases(group.file, op)) {
        check_against_torch<TestType>(file, c);
        ++cases;
      }
  }
  CHECK(cases > 300);
}

TEST_CASE("autograd functions: gradcheck and gradgradcheck on the fixture cases", "[autograd][gradcheck]") {
  int cases = 0;
  for (const auto& group : op_groups()) {
    const io::TensorFile& file = test::fixture_file(group.file);
    for (const char* op : group.ops)
      for (const auto& c : test::fixture_cases(group.file, op)) {
        if (c.has("nogradcheck") && c.flag("nogradcheck")) continue;
        check_finite_differences(file, c);
        ++cases;
      }
  }
  CHECK(cases > 300);
}
