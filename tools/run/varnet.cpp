// `voxnn run varnet`: fastMRI's VarNet (include/voxnn/models/varnet.hpp). Inputs masked_kspace
// (B, coils, H, W, 2), mask (B or 1, 1, 1, W, 1; BOOL, integer or real, non-zero = sampled) and the
// optional num_low_frequencies (a scalar; absent = None, fastMRI's default); output the (B, H, W) image.
#include <optional>
#include <vector>

#include "run/adapter.hpp"
#include "voxnn/models/varnet.hpp"

namespace voxnn::tools::run {
namespace {

// fastMRI takes an Optional[int]: a scalar holding a non-negative integer (0 = None).
template <class Call>
std::optional<int64_t> num_low_frequencies(const Call& c) {
  const std::optional<int64_t> n = c.integer_scalar("num_low_frequencies");
  if (n && *n < 0) c.fail("tensor 'num_low_frequencies' must be non-negative, got ", *n);
  return n;
}

}  // namespace

void add_varnet_models(std::vector<ModelSpec>& table) {
  table.push_back(make_model(
      "varnet", "facebookresearch/fastMRI@91f2df4 fastmri/models/varnet.py:VarNet",
      {"num_cascades", "sens_chans", "sens_pools", "chans", "pools", "mask_center"},
      {"masked_kspace", "mask", "num_low_frequencies"}, {"output"}, [](auto& c) {
        using T = real_t<decltype(c)>;
        models::VarNet<T> net(models::VarNetOptions{.num_cascades = c.template kwarg<int64_t>("num_cascades", 12),
                                                    .sens_chans = c.template kwarg<int64_t>("sens_chans", 8),
                                                    .sens_pools = c.template kwarg<int64_t>("sens_pools", 4),
                                                    .chans = c.template kwarg<int64_t>("chans", 18),
                                                    .pools = c.template kwarg<int64_t>("pools", 4),
                                                    .mask_center = c.template kwarg<bool>("mask_center", true)});
        c.load(net);
        const std::optional<int64_t> num_low = num_low_frequencies(c);
        const Var<T> out = net(Var<T>(c.input("masked_kspace")), c.mask("mask"), num_low);
        return Outputs<T>{{"output", out.value()}};
      }));
}

}  // namespace voxnn::tools::run
