// `voxnn op` adapters: max_pool, avg_pool, adaptive_avg_pool, adaptive_max_pool and max_unpool in 1,
// 2 and 3 spatial dims.
#include "op/adapter.hpp"
#include "voxnn/autograd/functions/pool.hpp"

namespace voxnn::tools::op {
namespace {

// torch.nn.functional's names, by spatial dims.
constexpr const char* kMaxPool[] = {"", "max_pool1d", "max_pool2d", "max_pool3d"};
constexpr const char* kAvgPool[] = {"", "avg_pool1d", "avg_pool2d", "avg_pool3d"};
constexpr const char* kAdaptiveAvgPool[] = {"", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d"};
constexpr const char* kAdaptiveMaxPool[] = {"", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"};
constexpr const char* kMaxUnpool[] = {"", "max_unpool1d", "max_unpool2d", "max_unpool3d"};

// PyTorch's output_size of the adaptive pools: an integer, or a list whose null entries keep that
// dim's input size (read as -1).
template <int N, Real T>
ExpandingArray<N> adaptive_size(const Call<T>& c) {
  const Json* j = c.find("output_size");
  if (!j) c.fail("missing config key 'output_size'");
  std::vector<int64_t> v;
  if (!read_list(*j, v, true) || (v.size() != 1 && v.size() != static_cast<std::size_t>(N)))
    c.fail("config 'output_size' must be an integer or a list of ", N, " integers or nulls, got ", j->dump());
  return ExpandingArray<N>(v);
}

template <int N, Real T>
OptionalExpandingArray<N> stride_of(const Call<T>& c) {
  const auto s = optional_sizes<N>(c, "stride");
  return s ? OptionalExpandingArray<N>(*s) : OptionalExpandingArray<N>(std::nullopt);
}

template <int N>
OpSpec max_pool_op() {
  return make_op(kMaxPool[N], {"input"},
                 {"kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"}, [](auto& c) {
                   const auto x = c.var("input");
                   const auto kernel = required_sizes<N>(c, "kernel_size");
                   const auto stride = stride_of<N>(c);
                   const auto padding = arg<ExpandingArray<N>>(c, "padding", 0);
                   const auto dilation = arg<ExpandingArray<N>>(c, "dilation", 1);
                   const bool ceil_mode = arg<bool>(c, "ceil_mode", false);
                   using T = real_t<decltype(c)>;
                   if (!arg<bool>(c, "return_indices", false))
                     return Outputs<T>(max_pool<N>(x, kernel, stride, padding, dilation, ceil_mode));
                   auto r = max_pool_with_indices<N>(x, kernel, stride, padding, dilation, ceil_mode);
                   return Outputs<T>(r.values).add("out_indices", r.indices);
                 });
}

template <int N>
OpSpec avg_pool_op() {
  std::vector<std::string_view> keys{"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"};
  if (N > 1) keys.push_back("divisor_override");  // avg_pool1d has none, as in PyTorch
  return make_op(kAvgPool[N], {"input"}, keys, [](auto& c) {
    std::optional<int64_t> divisor;
    if constexpr (N > 1) divisor = arg<std::optional<int64_t>>(c, "divisor_override", std::nullopt);
    const auto x = c.var("input");
    const auto kernel = required_sizes<N>(c, "kernel_size");
    return avg_pool<N>(x, kernel, stride_of<N>(c), arg<ExpandingArray<N>>(c, "padding", 0),
                       arg<bool>(c, "ceil_mode", false), arg<bool>(c, "count_include_pad", true), divisor);
  });
}

template <int N>
OpSpec adaptive_avg_pool_op() {
  return make_op(kAdaptiveAvgPool[N], {"input"}, {"output_size"},
                 [](auto& c) { return adaptive_avg_pool<N>(c.var("input"), adaptive_size<N>(c)); });
}

template <int N>
OpSpec adaptive_max_pool_op() {
  return make_op(kAdaptiveMaxPool[N], {"input"}, {"output_size", "return_indices"},
                 [](auto& c) {
                   using T = real_t<decltype(c)>;
                   const auto x = c.var("input");
                   const auto size = adaptive_size<N>(c);
                   if (!arg<bool>(c, "return_indices", false)) return Outputs<T>(adaptive_max_pool<N>(x, size));
                   auto r = adaptive_max_pool_with_indices<N>(x, size);
                   return Outputs<T>(r.values).add("out_indices", r.indices);
                 });
}

template <int N>
OpSpec max_unpool_op() {
  return make_op(kMaxUnpool[N], {"input", "indices"},
                 {"kernel_size", "stride", "padding", "output_size"}, [](auto& c) {
                   const auto x = c.var("input");
                   const Tensor<int64_t> indices = c.integer_tensor("indices");
                   const auto kernel = required_sizes<N>(c, "kernel_size");
                   return max_unpool<N>(x, indices, kernel, stride_of<N>(c), arg<ExpandingArray<N>>(c, "padding", 0),
                                        arg<std::optional<std::vector<int64_t>>>(c, "output_size", std::nullopt));
                 });
}

template <int N>
void add_pools(std::vector<OpSpec>& t) {
  t.push_back(max_pool_op<N>());
  t.push_back(avg_pool_op<N>());
  t.push_back(adaptive_avg_pool_op<N>());
  t.push_back(adaptive_max_pool_op<N>());
  t.push_back(max_unpool_op<N>());
}

}  // namespace

void add_pool_ops(std::vector<OpSpec>& t) {
  add_pools<1>(t);
  add_pools<2>(t);
  add_pools<3>(t);
}

}  // namespace voxnn::tools::op
