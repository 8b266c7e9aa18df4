// `voxnn run` adapters for MONAI's U-Nets: basic_unet (models::BasicUNet) and monai_unet
// (models::MonaiUNet). act / norm / dropout take MONAI's forms: a name ("PRELU", "instance"), a pair
// ["name", {keyword arguments}] (MONAI's tuple), or for dropout a rate. null is the reference's
// default, so MONAI's act=None / norm=None cannot be written; "" (MONAI's Identity) has the same effect.
#include <optional>
#include <string>
#include <vector>

#include "run/adapter.hpp"
#include "voxnn/models/basic_unet.hpp"
#include "voxnn/models/monai_unet.hpp"

namespace voxnn::tools::run {
namespace {

using models::monai::LayerArg;
using models::monai::LayerKwargs;
using models::monai::LayerSpec;
using models::monai::Sizes;

// One keyword argument value of a MONAI layer.
template <class C>
LayerArg layer_arg(const C& c, std::string_view key, const std::string& name, const Json& v) {
  if (v.is_null()) return LayerArg();
  if (v.is_boolean()) return LayerArg(v.get<bool>());
  if (v.is_number_integer()) return LayerArg(v.get<int64_t>());
  if (v.is_number()) return LayerArg(v.get<double>());
  if (v.is_string()) return LayerArg(v.get<std::string>());
  if (v.is_array()) {
    std::vector<int64_t> ints;
    for (const Json& e : v) {
      if (!e.is_number_integer()) c.fail("config '", key, "': keyword '", name, "' = ", v.dump(), " is not supported (a list of integers is)");
      ints.push_back(e.get<int64_t>());
    }
    return LayerArg(std::move(ints));
  }
  c.fail("config '", key, "': keyword '", name, "' = ", v.dump(), " is not supported");
}

// MONAI's `str | tuple` (and for dropout `float`); null: `fallback`.
template <class C>
std::optional<LayerSpec> layer_spec(const C& c, std::string_view key, std::optional<LayerSpec> fallback,
                                    bool rate_ok) {
  const Json* j = c.find(key);
  if (!j) return fallback;
  if (j->is_string()) return LayerSpec(j->template get<std::string>());
  if (rate_ok && j->is_number() && !j->is_boolean()) return LayerSpec(j->template get<double>());
  if (j->is_array() && j->size() == 2 && (*j)[0].is_string() && (*j)[1].is_object()) {
    LayerKwargs kwargs;
    for (const auto& [k, v] : (*j)[1].items()) kwargs.emplace_back(k, layer_arg(c, key, k, v));
    return LayerSpec((*j)[0].template get<std::string>(), std::move(kwargs));
  }
  c.fail("config '", key, "' must be ", rate_ok ? "a number, " : "", "a layer name or [name, {keyword arguments}], got ",
         j->dump());
}

template <class C>
std::vector<Sizes> strides_list(const C& c) {
  const Json* j = c.find("strides");
  if (!j) c.fail("config 'strides' is required (the reference has no default for it)");
  if (!j->is_array()) c.fail("config 'strides' must be a list of integers or of lists of integers, got ", j->dump());
  std::vector<Sizes> out;
  for (const Json& e : *j) {
    Sizes s;
    if (!JsonValue<Sizes>::read(e, s))
      c.fail("config 'strides' must be a list of integers or of lists of integers, got ", j->dump());
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

void add_monai_models(std::vector<ModelSpec>& table) {
  table.push_back(make_model(
      "basic_unet", "Project-MONAI/MONAI@d388d1c monai/networks/nets/basic_unet.py:BasicUNet",
      {"spatial_dims", "in_channels", "out_channels", "features", "act", "norm", "bias", "dropout", "upsample"}, {"x"},
      {"out"}, [](auto& c) {
        using T = real_t<decltype(c)>;
        const models::BasicUNetOptions d;
        const Json* features = c.find("features");
        if (features && !features->is_array())
          c.unsupported("features", "the reference indexes features[0], so it must be a list of six integers");
        models::BasicUNet<T> net({.spatial_dims = c.template kwarg<int64_t>("spatial_dims", d.spatial_dims),
                                  .in_channels = c.template kwarg<int64_t>("in_channels", d.in_channels),
                                  .out_channels = c.template kwarg<int64_t>("out_channels", d.out_channels),
                                  .features = c.template kwarg<std::vector<int64_t>>("features", d.features),
                                  .act = layer_spec(c, "act", d.act, false),
                                  .norm = layer_spec(c, "norm", d.norm, false),
                                  .bias = c.template kwarg<bool>("bias", d.bias),
                                  .dropout = layer_spec(c, "dropout", d.dropout, true),
                                  .upsample = c.template kwarg<std::string>("upsample", d.upsample)});
        c.load(net);
        return Outputs<T>{{"out", net(Var<T>(c.input("x"))).value()}};
      }));

  table.push_back(make_model(
      "monai_unet", "Project-MONAI/MONAI@d388d1c monai/networks/nets/unet.py:UNet",
      {"spatial_dims", "in_channels", "out_channels", "channels", "strides", "kernel_size", "up_kernel_size",
       "num_res_units", "act", "norm", "dropout", "bias", "adn_ordering"},
      {"x"}, {"out"}, [](auto& c) {
        using T = real_t<decltype(c)>;
        const models::MonaiUNetOptions d;
        models::MonaiUNet<T> net({.spatial_dims = c.template required<int64_t>("spatial_dims"),
                                  .in_channels = c.template required<int64_t>("in_channels"),
                                  .out_channels = c.template required<int64_t>("out_channels"),
                                  .channels = c.template required<std::vector<int64_t>>("channels"),
                                  .strides = strides_list(c),
                                  .kernel_size = c.template kwarg<Sizes>("kernel_size", d.kernel_size),
                                  .up_kernel_size = c.template kwarg<Sizes>("up_kernel_size", d.up_kernel_size),
                                  .num_res_units = c.template kwarg<int64_t>("num_res_units", d.num_res_units),
                                  .act = layer_spec(c, "act", d.act, false),
                                  .norm = layer_spec(c, "norm", d.norm, false),
                                  .dropout = layer_spec(c, "dropout", d.dropout, true),
                                  .bias = c.template kwarg<bool>("bias", d.bias),
                                  .adn_ordering = c.template kwarg<std::string>("adn_ordering", d.adn_ordering)});
        c.load(net);
        return Outputs<T>{{"out", net(Var<T>(c.input("x"))).value()}};
      }));
}

}  // namespace voxnn::tools::run
