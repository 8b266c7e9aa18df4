// `voxnn op` adapters: batch_norm, instance_norm, group_norm and layer_norm. When batch_norm (training)
// or instance_norm (use_input_stats) is given running statistics it updates them, and the updated
// ones are written as new_running_mean / new_running_var.
#include "op/adapter.hpp"
#include "voxnn/autograd/functions/norm.hpp"

namespace voxnn::tools::op {
namespace {

// momentum: PyTorch's functional forms take a number only (None is nn.BatchNorm's cumulative average).
template <Real T>
double momentum_of(const Call<T>& c) {
  const Json* j = c.find("momentum");
  if (j && j->is_null())
    c.fail("config 'momentum' must be a number: torch.nn.functional takes no None (that is nn.BatchNorm's "
           "cumulative average, which needs num_batches_tracked)");
  return arg<double>(c, "momentum", 0.1);
}

template <Real T>
Outputs<T> with_running(Var<T> out, const Tensor<T>& mean, const Tensor<T>& var, bool updated) {
  Outputs<T> o(std::move(out));
  if (updated && mean.defined()) o.add("new_running_mean", Var<T>(mean)).add("new_running_var", Var<T>(var));
  return o;
}

}  // namespace

void add_norm_ops(std::vector<OpSpec>& t) {
  const std::vector<std::string_view> running_tensors{"input", "running_mean", "running_var", "weight", "bias"};
  t.push_back(make_op("batch_norm", running_tensors, {"training", "momentum", "eps"}, [](auto& c) {
    const auto x = c.var("input");
    const auto mean = c.buffer("running_mean"), var = c.buffer("running_var");
    const bool training = arg<bool>(c, "training", false);
    const auto y = batch_norm(x, mean, var, c.optional_var("weight"), c.optional_var("bias"), training,
                              momentum_of(c), arg<double>(c, "eps", 1e-5));
    return with_running(y, mean, var, training);
  }));
  t.push_back(make_op("instance_norm", running_tensors, {"use_input_stats", "momentum", "eps"}, [](auto& c) {
    const auto x = c.var("input");
    const auto mean = c.buffer("running_mean"), var = c.buffer("running_var");
    const bool use_input_stats = arg<bool>(c, "use_input_stats", true);
    const auto y = instance_norm(x, mean, var, c.optional_var("weight"), c.optional_var("bias"), use_input_stats,
                                 momentum_of(c), arg<double>(c, "eps", 1e-5));
    return with_running(y, mean, var, use_input_stats);
  }));
  t.push_back(make_op("group_norm", {"input", "weight", "bias"}, {"num_groups", "eps"}, [](auto& c) {
    const auto x = c.var("input");
    return group_norm(x, required<int64_t>(c, "num_groups"), c.optional_var("weight"), c.optional_var("bias"),
                      arg<double>(c, "eps", 1e-5));
  }));
  t.push_back(make_op("layer_norm", {"input", "weight", "bias"}, {"normalized_shape", "eps"}, [](auto& c) {
    const auto x = c.var("input");
    return layer_norm(x, required<std::vector<int64_t>>(c, "normalized_shape"), c.optional_var("weight"),
                      c.optional_var("bias"), arg<double>(c, "eps", 1e-5));
  }));
}

}  // namespace voxnn::tools::op
