#pragma once
// SoftDataConsistency: the learned data-consistency step of fastMRI's VarNet cascade (VarNetBlock),
// holding its parameter `dc_weight` (shape [1], initialised to 1):
//
//   term(k, k0, mask)    = where(mask, k - k0, 0) * dc_weight        (VarNetBlock's soft_dc)
//   forward(k, k0, mask) = k - term(k, k0, mask)
//
// so a VarNet cascade is `dc(k, k0, mask) - sens_expand(model(sens_reduce(k, S)), S)`. A cascade
// module that derives from SoftDataConsistency owns `dc_weight` itself, giving fastMRI's names
// (`cascades.3.dc_weight`) rather than a child's (`cascades.3.dc.dc_weight`).
#include <string>

#include "voxnn/autograd/functions/coil.hpp"
#include "voxnn/nn/module.hpp"

namespace voxnn::nn {

template <Real T, Device D = Cpu>
class SoftDataConsistency : public Module<T, D> {
 public:
  Var<T, D> dc_weight;

  SoftDataConsistency() : SoftDataConsistency(nullptr, "") {}
  SoftDataConsistency(Module<T, D>* parent, std::string name) : Module<T, D>(parent, std::move(name)) {
    this->register_parameter("dc_weight", &dc_weight, ones<T, D>({1}));
  }

  // The soft data-consistency term, where(mask, current_kspace - ref_kspace, 0) * dc_weight.
  Var<T, D> term(const Var<T, D>& current_kspace, const Var<T, D>& ref_kspace, const Tensor<bool>& mask) const {
    return soft_data_consistency(current_kspace, ref_kspace, mask, dc_weight);
  }
  // current_kspace minus the term: one weighted gradient step towards the measured samples.
  Var<T, D> forward(const Var<T, D>& current_kspace, const Var<T, D>& ref_kspace, const Tensor<bool>& mask) const {
    return sub(current_kspace, term(current_kspace, ref_kspace, mask));
  }
  Var<T, D> operator()(const Var<T, D>& current_kspace, const Var<T, D>& ref_kspace, const Tensor<bool>& mask) const {
    return forward(current_kspace, ref_kspace, mask);
  }
  using Module<T, D>::forward;
  using Module<T, D>::operator();

  std::string type_name() const override { return "SoftDataConsistency"; }
};

}  // namespace voxnn::nn
