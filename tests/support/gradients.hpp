#pragma once
// Finite-difference checks shared by the test files: the fixture view steps as differentiable
// functions (so gradcheck also sees non-contiguous inputs), and gradcheck plus gradgradcheck of one
// function with their reports attached to the assertion.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/autograd/gradcheck.hpp"

namespace voxnn::test {

// The steps of fixturelib.apply_views (and of apply_views on tensors above) on a Var.
template <class T>
Var<T> apply_views_var(Var<T> x, const io::json::Value& steps) {
  for (const auto& step : steps.array()) {
    const auto& s = step.array();
    const std::string& kind = s.at(0).string();
    if (kind == "transpose") x = transpose(x, s.at(1).integer(), s.at(2).integer());
    else if (kind == "permute") x = permute(x, json_ints(s.at(1)));
    else if (kind == "slice") x = slice(x, s.at(1).integer(), s.at(2).integer(), s.at(3).integer(), s.at(4).integer());
    else if (kind == "select") x = select(x, s.at(1).integer(), s.at(2).integer());
    else if (kind == "expand") x = expand(x, Shape(json_ints(s.at(1))));
    else if (kind == "unsqueeze") x = unsqueeze(x, s.at(1).integer());
    else FAIL("unknown view step " << kind);
  }
  return x;
}

// gradcheck, then (unless first_order_only) gradgradcheck of f at inputs; each failure reports where
// the worst mismatch is.
inline void check_gradients(const GradcheckFn& f, const std::vector<Var<double>>& inputs, bool first_order_only = false) {
  const GradcheckResult first = gradcheck(f, inputs);
  INFO("gradcheck: " << first.message << " (max error " << first.max_abs_error << ")");
  CHECK(first.ok);
  if (first_order_only) return;
  const GradcheckResult second = gradgradcheck(f, inputs);
  INFO("gradgradcheck: " << second.message << " (max error " << second.max_abs_error << ")");
  CHECK(second.ok);
}

}  // namespace voxnn::test
