// Activation modules against torch.nn's: forward values and input gradients in float and double,
// and PReLU's per-channel weight gradient. Fixtures: tests/fixtures/gen_nn.py (gen_activations).
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "voxnn/nn/nn.hpp"  // alone: the nn umbrella must bring everything a module user needs

using namespace voxnn;
using Catch::Matchers::Contains;

namespace {

const char* const kFile = "nn_activations.safetensors";

template <class T>
std::unique_ptr<nn::Module<T>> make_module(const test::FixtureCase& c) {
  const std::string op = c.op();
  if (op == "ReLU") return std::make_unique<nn::ReLU<T>>();
  if (op == "LeakyReLU") return std::make_unique<nn::LeakyReLU<T>>(nn::LeakyReLUOptions{c.real("negative_slope")});
  if (op == "ELU") return std::make_unique<nn::ELU<T>>(nn::ELUOptions{c.real("alpha")});
  if (op == "GELU") return std::make_unique<nn::GELU<T>>(nn::GELUOptions{c.string("approximate")});
  if (op == "SiLU") return std::make_unique<nn::SiLU<T>>();
  if (op == "Sigmoid") return std::make_unique<nn::Sigmoid<T>>();
  if (op == "Tanh") return std::make_unique<nn::Tanh<T>>();
  if (op == "Softmax") return std::make_unique<nn::Softmax<T>>(nn::SoftmaxOptions{c.integer("dim")});
  if (op == "LogSoftmax") return std::make_unique<nn::LogSoftmax<T>>(nn::SoftmaxOptions{c.integer("dim")});
  if (op == "PReLU") return std::make_unique<nn::PReLU<T>>(nn::PReLUOptions{.num_parameters = c.integer("num_parameters")});
  FAIL("no module for fixture op " << op);
  return nullptr;
}

}  // namespace

TEMPLATE_TEST_CASE("activation modules match torch.nn, gradients included", "[nn]", float, double) {
  using T = TestType;
  int count = 0;
  for (const char* op :
       {"ReLU", "LeakyReLU", "PReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"}) {
    for (const auto& c : test::fixture_cases(kFile, op)) {
      INFO("case " << c.name());
      ++count;
      const auto module = make_module<T>(c);
      CHECK(module->type_name() == op);
      const bool prelu = c.op() == "PReLU";
      if (prelu) {
        // torch's default slope, then the case's weights through load_state_dict
        const auto named = module->named_parameters();
        REQUIRE(named.size() == 1);
        CHECK(named[0].first == "weight");
        CHECK(named[0].second.value().to_vector() ==
              std::vector<T>(static_cast<std::size_t>(c.integer("num_parameters")), T(0.25)));
        nn::StateDict<T> sd;
        sd.insert("weight", c.input<T>(1));
        module->load_state_dict(sd);
      } else {
        CHECK(module->named_parameters().empty());
      }
      const int n = c.num_inputs() - 1;  // the last input is grad_output
      const Var<T> x(c.input<T>(0), true);
      const Var<T> y = (*module)(x);
      c.check<T>(y.value(), 0);
      std::vector<Var<T>> wanted{x};
      if (prelu) wanted.push_back(module->parameters()[0]);
      REQUIRE(static_cast<int>(wanted.size()) == n);
      const auto grads = grad<T, Cpu>({y}, wanted, {c.input<T>(n)}, /*retain_graph=*/true);
      for (std::size_t k = 0; k < grads.size(); ++k) {
        INFO((k == 0 ? "input gradient" : "weight gradient"));
        c.check<T>(grads[k].value(), static_cast<int>(k) + 1);
      }
      // backward() (defined in the engine, reachable from nn.hpp alone) fills the same into .grad
      y.backward(c.input<T>(n));
      for (std::size_t k = 0; k < wanted.size(); ++k) c.check<T>(wanted[k].grad(), static_cast<int>(k) + 1);
      // eval() changes nothing for these modules
      module->eval();
      CHECK(test::compare((*module)(x).value(), y.value(), 0.0).ok);
    }
  }
  CHECK(count >= 17);
}

TEST_CASE("activation modules: options and errors", "[nn]") {
  CHECK(nn::LeakyReLU<double>().options.negative_slope == 0.01);
  CHECK(nn::ELU<double>().options.alpha == 1.0);
  CHECK(nn::GELU<double>().options.approximate == "none");
  CHECK_THROWS_WITH(nn::PReLU<double>({.num_parameters = 0}), Contains("num_parameters"));
  nn::PReLU<double> prelu({.num_parameters = 3});
  CHECK_THROWS_WITH(prelu(Var<double>(ones<double>({2, 4}))), Contains("prelu") && Contains("[2, 4]"));
  nn::GELU<double> bad({.approximate = "erf"});
  CHECK_THROWS_WITH(bad(Var<double>(ones<double>({2}))), Contains("erf"));
  // children of a parent take their dotted names
  struct Holder : nn::Module<double> {
    nn::PReLU<double> act{this, "act", {.num_parameters = 2, .init = 0.1}};
    nn::ReLU<double> relu{this, "relu"};
  } holder;
  const auto named = holder.named_parameters();
  REQUIRE(named.size() == 1);
  CHECK(named[0].first == "act.weight");
  CHECK(named[0].second.value().to_vector() == std::vector<double>{0.1, 0.1});
}
