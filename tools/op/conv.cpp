// `voxnn op` adapters: conv1d/2d/3d, conv_transpose1d/2d/3d and linear.
#include "op/adapter.hpp"
#include "voxnn/autograd/functions/conv.hpp"
#include "voxnn/autograd/functions/linalg.hpp"

namespace voxnn::tools::op {
namespace {

template <int N>
OpSpec conv_op() {
  return make_op(autograd::conv_impl::kConvName[N], {"input", "weight", "bias"},
                 {"stride", "padding", "dilation", "groups"}, [](auto& c) {
                   const ConvFuncOptions<N> o{.stride = arg<ExpandingArray<N>>(c, "stride", 1),
                                              .padding = arg<ConvPadding<N>>(c, "padding", 0),
                                              .dilation = arg<ExpandingArray<N>>(c, "dilation", 1),
                                              .groups = arg<int64_t>(c, "groups", 1)};
                   return conv<N>(c.var("input"), c.var("weight"), c.optional_var("bias"), o);
                 });
}

template <int N>
OpSpec conv_transpose_op() {
  return make_op(autograd::conv_impl::kConvTransposeName[N], {"input", "weight", "bias"},
                 {"stride", "padding", "output_padding", "groups", "dilation"}, [](auto& c) {
                   const ConvTransposeFuncOptions<N> o{
                       .stride = arg<ExpandingArray<N>>(c, "stride", 1),
                       .padding = arg<ExpandingArray<N>>(c, "padding", 0),
                       .output_padding = arg<ExpandingArray<N>>(c, "output_padding", 0),
                       .groups = arg<int64_t>(c, "groups", 1),
                       .dilation = arg<ExpandingArray<N>>(c, "dilation", 1)};
                   return conv_transpose<N>(c.var("input"), c.var("weight"), c.optional_var("bias"), o);
                 });
}

}  // namespace

void add_conv_ops(std::vector<OpSpec>& table) {
  table.push_back(conv_op<1>());
  table.push_back(conv_op<2>());
  table.push_back(conv_op<3>());
  table.push_back(conv_transpose_op<1>());
  table.push_back(conv_transpose_op<2>());
  table.push_back(conv_transpose_op<3>());
  table.push_back(make_op("linear", {"input", "weight", "bias"}, {}, [](auto& c) {
    return linear(c.var("input"), c.var("weight"), c.optional_var("bias"));
  }));
}

}  // namespace voxnn::tools::op
