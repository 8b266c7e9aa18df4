// `voxnn op` adapters: grid_sample and affine_grid (torch.nn.functional's).
#include "op/adapter.hpp"
#include "voxnn/autograd/functions/grid_sample.hpp"

namespace voxnn::tools::op {

void add_grid_ops(std::vector<OpSpec>& t) {
  // align_corners null is PyTorch's default (false, with a warning there)
  t.push_back(make_op("grid_sample", {"input", "grid"}, {"mode", "padding_mode", "align_corners"}, [](auto& c) {
    GridSampleOptions o;
    o.mode = arg<std::string>(c, "mode", "bilinear");
    o.padding_mode = arg<std::string>(c, "padding_mode", "zeros");
    o.align_corners = arg<std::optional<bool>>(c, "align_corners", std::nullopt).value_or(false);
    return grid_sample(c.var("input"), c.var("grid"), o);
  }));
  t.push_back(make_op("affine_grid", {"theta"}, {"size", "align_corners"}, [](auto& c) {
    const std::vector<int64_t> size = required<std::vector<int64_t>>(c, "size");
    const bool align = arg<std::optional<bool>>(c, "align_corners", std::nullopt).value_or(false);
    return affine_grid(c.var("theta"), std::span<const int64_t>(size), align);
  }));
}

}  // namespace voxnn::tools::op
