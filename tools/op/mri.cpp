// `voxnn op` adapters: MRI complex arithmetic (fastmri.complex_mul, complex_conj, complex_abs,
// complex_abs_sq, rss, rss_complex), the coil operators of fastMRI's VarNetBlock (sens_expand,
// sens_reduce) and data consistency. Complex tensors carry a trailing dim of 2. The first tensor is
// `input` (the tool runs in its dtype); a mask is BOOL, integer or real (fastMRI's mask functions
// return float 0/1 masks) and counts as true where nonzero.
#include "op/adapter.hpp"
#include "voxnn/autograd/functions/coil.hpp"
#include "voxnn/autograd/functions/complex.hpp"

namespace voxnn::tools::op {
namespace {

template <Real T>
Tensor<bool> mask_arg(Call<T>& c) {
  const Tensor<bool> m = c.mask("mask");
  if (!m.defined()) c.fail("missing tensor 'mask' in the input file");
  return m;
}

}  // namespace

void add_mri_ops(std::vector<OpSpec>& t) {
  t.push_back(make_op("complex_mul", {"input", "other"}, {}, [](auto& c) {
    return complex_mul(c.var("input"), c.var("other"));
  }));
  t.push_back(make_op("complex_conj", {"input"}, {}, [](auto& c) { return complex_conj(c.var("input")); }));
  t.push_back(make_op("complex_abs", {"input"}, {}, [](auto& c) { return complex_abs(c.var("input")); }));
  t.push_back(make_op("complex_abs_sq", {"input"}, {}, [](auto& c) { return complex_abs_sq(c.var("input")); }));
  t.push_back(make_op("rss", {"input"}, {"dim"}, [](auto& c) { return rss(c.var("input"), arg<int64_t>(c, "dim", 0)); }));
  t.push_back(make_op("rss_complex", {"input"}, {"dim"}, [](auto& c) {
    return rss_complex(c.var("input"), arg<int64_t>(c, "dim", 0));
  }));
  t.push_back(make_op("sens_expand", {"input", "sens_maps"}, {}, [](auto& c) {
    return sens_expand(c.var("input"), c.var("sens_maps"));
  }));
  t.push_back(make_op("sens_reduce", {"input", "sens_maps"}, {}, [](auto& c) {
    return sens_reduce(c.var("input"), c.var("sens_maps"));
  }));
  // input = the current k-space
  t.push_back(make_op("soft_data_consistency", {"input", "ref_kspace", "mask", "dc_weight"}, {}, [](auto& c) {
    const auto k = c.var("input");
    const auto k0 = c.var("ref_kspace");
    const auto w = c.var("dc_weight");
    return soft_data_consistency(k, k0, mask_arg(c), w);
  }));
  t.push_back(make_op("hard_data_consistency", {"input", "ref_kspace", "mask"}, {}, [](auto& c) {
    const auto k = c.var("input");
    const auto k0 = c.var("ref_kspace");
    return hard_data_consistency(k, k0, mask_arg(c));
  }));
}

}  // namespace voxnn::tools::op
