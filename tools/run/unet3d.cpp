// `voxnn run unet3d`: voxnn's own classic 3D U-Net (include/voxnn/models/unet3d.hpp). With no
// upstream code, its keywords are the UNet3dOptions field names and the weights follow the header's
// documented layout (tests/fixtures/gen_models_unet3d.py has a PyTorch mirror that writes them).
#include <cstdint>
#include <string>
#include <vector>

#include "run/adapter.hpp"
#include "voxnn/models/unet3d.hpp"

namespace voxnn::tools::run {

void add_unet3d_models(std::vector<ModelSpec>& table) {
  table.push_back(make_model(
      "unet3d", "voxnn's own (Cicek et al. 2016)", {"in_channels", "out_channels", "features", "norm", "cicek_channels"},
      {"x"}, {"out"}, [](auto& c) {
        using T = real_t<decltype(c)>;
        const models::UNet3dOptions defaults;
        models::UNet3d<T> net(models::UNet3dOptions{
            .in_channels = c.template kwarg<int64_t>("in_channels", defaults.in_channels),
            .out_channels = c.template kwarg<int64_t>("out_channels", defaults.out_channels),
            .features = c.template kwarg<std::vector<int64_t>>("features", defaults.features),
            .norm = c.template kwarg<std::string>("norm", defaults.norm),
            .cicek_channels = c.template kwarg<bool>("cicek_channels", defaults.cicek_channels)});
        c.load(net);
        return Outputs<T>{{"out", net(Var<T>(c.input("x"))).value()}};
      }));
}

}  // namespace voxnn::tools::run
