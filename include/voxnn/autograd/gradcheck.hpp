#pragma once
// gradcheck: compares the analytic gradient of f with central finite differences, in double.
// For each of a few fixed random projections v of the output, the vector-Jacobian product v^T J from
// backward is checked element by element against (f(x + eps)·v - f(x - eps)·v) / (2 eps).
// gradgradcheck does the same for the gradient itself (create_graph), checking second derivatives.
// The finite differences evaluate f under NoGradGuard; an f that calls grad() itself must open an
// EnableGradGuard (gradgradcheck does).
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "voxnn/autograd/engine.hpp"
#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/core/random.hpp"

namespace voxnn {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  int projections = 2;
  uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string message;  // where the worst mismatch is, when not ok
  explicit operator bool() const { return ok; }
};

using GradcheckFn = std::function<Var<double>(const std::vector<Var<double>>&)>;

inline GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Var<double>>& given,
                                 const GradcheckOptions& opt = {}) {
  // Contiguous private copies, so perturbing element j is one write.
  std::vector<Var<double>> inputs;
  for (const auto& v : given) inputs.emplace_back(v.value().clone(), v.requires_grad());

  GradcheckResult result;
  Generator gen(opt.seed);
  const Shape out_shape = [&] {
    NoGradGuard no_grad;
    return f(inputs).shape();
  }();
  for (int p = 0; p < opt.projections; ++p) {
    const Tensor<double> v = randn<double>(out_shape, gen);
    const Var<double> out = f(inputs);
    VOXNN_CHECK(out.shape() == out_shape, "gradcheck: f returned shape ", out.shape(), " after ", out_shape);
    std::vector<Var<double>> wanted;
    for (const auto& in : inputs)
      if (in.requires_grad()) wanted.push_back(in);
    const bool any_graph = out.requires_grad();
    const std::vector<Var<double>> analytic =
        any_graph ? grad<double, Cpu>({out}, wanted, {v}, false, false, true) : std::vector<Var<double>>(wanted.size());

    auto projected = [&] {
      NoGradGuard no_grad;
      return ops::sum(ops::mul(f(inputs).value(), v)).item();
    };
    std::size_t w = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].requires_grad()) continue;
      const Tensor<double> a = analytic[w].defined() ? analytic[w].value().contiguous() : zeros<double>(inputs[i].shape());
      ++w;
      double* x = inputs[i].mutable_value().data();
      for (int64_t j = 0; j < inputs[i].numel(); ++j) {
        const double saved = x[j];
        x[j] = saved + opt.eps;
        const double up = projected();
        x[j] = saved - opt.eps;
        const double down = projected();
        x[j] = saved;
        const double numeric = (up - down) / (2 * opt.eps), exact = a.data()[j];
        const double err = std::abs(numeric - exact);
        if (!(err <= opt.atol + opt.rtol * std::abs(numeric))) {
          if (result.ok || err > result.max_abs_error || err != err) {
            std::ostringstream os;
            os << "gradcheck: input " << i << " (shape " << inputs[i].shape() << ") element " << j << ": analytic "
               << exact << " vs numerical " << numeric << " (projection " << p << ")";
            result.message = os.str();
          }
          result.ok = false;
        }
        if (err > result.max_abs_error || err != err) result.max_abs_error = err;
      }
    }
  }
  return result;
}

// Checks second derivatives: gradcheck of x -> sum_i <grad_i(f(x)·v), w_i> with create_graph.
inline GradcheckResult gradgradcheck(const GradcheckFn& f, const std::vector<Var<double>>& given,
                                     const GradcheckOptions& opt = {}) {
  Generator gen(opt.seed + 1);
  Shape out_shape;
  {
    NoGradGuard no_grad;
    out_shape = f(given).shape();
  }
  const Tensor<double> v = randn<double>(out_shape, gen);
  std::vector<Tensor<double>> weights;
  for (const auto& in : given)
    if (in.requires_grad()) weights.push_back(randn<double>(in.shape(), gen));
  const GradcheckFn first_order = [&](const std::vector<Var<double>>& xs) {
    EnableGradGuard with_grad;  // also while gradcheck evaluates this under NoGradGuard
    std::vector<Var<double>> wanted;
    for (const auto& x : xs)
      if (x.requires_grad()) wanted.push_back(x);
    const auto grads = grad<double, Cpu>({f(xs)}, wanted, {v}, true, true, true);
    Var<double> total(zeros<double>(Shape{}));
    for (std::size_t i = 0; i < grads.size(); ++i)
      if (grads[i].defined()) total = add(total, sum(mul(grads[i], Var<double>(weights[i]))));
    return total;
  };
  return gradcheck(first_order, given, opt);
}

}  // namespace voxnn
