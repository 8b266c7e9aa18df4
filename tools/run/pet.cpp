// `voxnn run deeppet`: voxnn's own DeepPET (include/voxnn/models/deeppet.hpp; Haggstrom et al. 2019
// has no official code). Its keywords are the DeepPETOptions field names and the weights follow the
// header's documented layout (tests/fixtures/gen_models_pet.py has a PyTorch mirror that writes them).
#include <array>
#include <cstdint>
#include <vector>

#include "run/adapter.hpp"
#include "voxnn/models/deeppet.hpp"

namespace voxnn::tools::run {

void add_pet_models(std::vector<ModelSpec>& table) {
  table.push_back(make_model(
      "deeppet", "voxnn's own (Haggstrom et al. 2019)",
      {"sinogram_size", "image_size", "in_channels", "base_channels", "num_levels"}, {"x"}, {"out"}, [](auto& c) {
        using T = real_t<decltype(c)>;
        const models::DeepPETOptions d;
        const ExpandingArray<2> sino =
            c.template kwarg<ExpandingArray<2>>("sinogram_size", ExpandingArray<2>{d.sinogram_size[0], d.sinogram_size[1]});
        models::DeepPET<T> net(models::DeepPETOptions{
            .sinogram_size = {sino[0], sino[1]},
            .image_size = c.template kwarg<int64_t>("image_size", d.image_size),
            .in_channels = c.template kwarg<int64_t>("in_channels", d.in_channels),
            .base_channels = c.template kwarg<int64_t>("base_channels", d.base_channels),
            .num_levels = c.template kwarg<int64_t>("num_levels", d.num_levels)});
        c.load(net);
        return Outputs<T>{{"out", net(Var<T>(c.input("x"))).value()}};
      }));
}

}  // namespace voxnn::tools::run
