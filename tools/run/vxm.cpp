// `voxnn run vxm_dense`: voxelmorph's VxmDense (include/voxnn/models/vxm_dense.hpp) with the forward's
// registration=True outputs (the moved source and the final flow).
#include <string>
#include <vector>

#include "run/adapter.hpp"
#include "voxnn/models/vxm_dense.hpp"

namespace voxnn::tools::run {
namespace {

// nb_unet_features: null (voxelmorph's default lists), an integer, or [[encoder], [decoder]].
template <class Call>
models::VxmUnetFeatures unet_features(const Call& c) {
  const Json* j = c.find("nb_unet_features");
  if (!j) return {};
  int64_t n = 0;
  if (JsonValue<int64_t>::read(*j, n)) {
    if (n <= 0) c.fail("config 'nb_unet_features' must be positive, got ", j->dump());
    return models::VxmUnetFeatures(n);
  }
  auto ints = [](const Json& list, std::vector<int64_t>& out) {
    if (!list.is_array()) return false;
    out.clear();
    for (const Json& v : list) {
      int64_t x = 0;
      if (!JsonValue<int64_t>::read(v, x)) return false;
      out.push_back(x);
    }
    return true;
  };
  std::vector<int64_t> enc, dec;
  if (!j->is_array() || j->size() != 2 || !ints((*j)[0], enc) || !ints((*j)[1], dec))
    c.fail("config 'nb_unet_features' must be null, an integer or [[encoder features], [decoder features]], got ",
           j->dump());
  return models::VxmUnetFeatures(std::move(enc), std::move(dec));
}

}  // namespace

void add_vxm_models(std::vector<ModelSpec>& table) {
  table.push_back(make_model(
      "vxm_dense", "voxelmorph/voxelmorph@ca28315 voxelmorph/torch/networks.py:VxmDense",
      {"inshape", "nb_unet_features", "nb_unet_levels", "unet_feat_mult", "nb_unet_conv_per_level", "int_steps",
       "int_downsize", "bidir", "use_probs", "src_feats", "trg_feats", "unet_half_res"},
      {"source", "target"}, {"moved", "flow"}, [](auto& c) {
        using T = real_t<decltype(c)>;
        if (c.template kwarg<bool>("use_probs", false))
          c.unsupported("use_probs", "the flow variance is not implemented (voxelmorph's PyTorch VxmDense raises "
                                     "NotImplementedError for it too)");
        models::VxmDense<T> net(models::VxmDenseOptions{
            .inshape = c.template required<std::vector<int64_t>>("inshape"),
            .nb_unet_features = unet_features(c),
            .nb_unet_levels = c.template kwarg<std::optional<int64_t>>("nb_unet_levels", std::nullopt),
            .unet_feat_mult = c.template kwarg<double>("unet_feat_mult", 1.0),
            .nb_unet_conv_per_level = c.template kwarg<int64_t>("nb_unet_conv_per_level", 1),
            .int_steps = c.template kwarg<int64_t>("int_steps", 7),
            .int_downsize = c.template kwarg<int64_t>("int_downsize", 2),
            .bidir = c.template kwarg<bool>("bidir", false),
            .use_probs = false,
            .src_feats = c.template kwarg<int64_t>("src_feats", 1),
            .trg_feats = c.template kwarg<int64_t>("trg_feats", 1),
            .unet_half_res = c.template kwarg<bool>("unet_half_res", false)});
        c.load(net);
        const auto out = net.register_pair(Var<T>(c.input("source")), Var<T>(c.input("target")));
        return Outputs<T>{{"moved", out.moved.value()}, {"flow", out.flow.value()}};
      }));
}

}  // namespace voxnn::tools::run
