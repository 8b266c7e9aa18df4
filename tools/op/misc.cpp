// `voxnn op` adapters: activations, softmax / log_softmax, dropout, pad, interpolate and the
// pixel / voxel shuffles.
#include "op/adapter.hpp"
#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/interpolate.hpp"
#include "voxnn/autograd/functions/pad.hpp"
#include "voxnn/autograd/functions/shuffle.hpp"

namespace voxnn::tools::op {
namespace {

// softmax's dim; PyTorch's implicit choice (deprecated there) when absent or null.
template <Real T>
int64_t softmax_dim(const Call<T>& c, const Var<T>& x) {
  ignored<int64_t>(c, "_stacklevel");
  if (const Json* d = c.find("dtype"); d && !d->is_null())
    c.fail("config 'dtype' must be null: the op runs in the dtype of input");
  const std::optional<int64_t> dim = arg<std::optional<int64_t>>(c, "dim", std::nullopt);
  if (dim) return *dim;
  return x.dim() == 0 || x.dim() == 1 || x.dim() == 3 ? 0 : 1;
}

template <class Fn>
OpSpec dropout_op(std::string_view name, Fn) {
  return make_op(name, {"input"}, {"p", "training", "inplace"}, [](auto& c) {
    ignored<bool>(c, "inplace");
    return Fn{}(c.var("input"), arg<double>(c, "p", 0.5), arg<bool>(c, "training", true));
  });
}

}  // namespace

void add_misc_ops(std::vector<OpSpec>& t) {
  t.push_back(make_op("relu", {"input"}, {"inplace"}, [](auto& c) {
    ignored<bool>(c, "inplace");
    return relu(c.var("input"));
  }));
  t.push_back(make_op("leaky_relu", {"input"}, {"negative_slope", "inplace"}, [](auto& c) {
    ignored<bool>(c, "inplace");
    return leaky_relu(c.var("input"), arg<double>(c, "negative_slope", 0.01));
  }));
  t.push_back(make_op("prelu", {"input", "weight"}, {}, [](auto& c) { return prelu(c.var("input"), c.var("weight")); }));
  t.push_back(make_op("elu", {"input"}, {"alpha", "inplace"}, [](auto& c) {
    ignored<bool>(c, "inplace");
    return elu(c.var("input"), arg<double>(c, "alpha", 1.0));
  }));
  t.push_back(make_op("gelu", {"input"}, {"approximate"}, [](auto& c) {
    return gelu(c.var("input"), arg<std::string>(c, "approximate", "none"));
  }));
  t.push_back(make_op("silu", {"input"}, {"inplace"}, [](auto& c) {
    ignored<bool>(c, "inplace");
    return silu(c.var("input"));
  }));
  t.push_back(make_op("sigmoid", {"input"}, {}, [](auto& c) { return sigmoid(c.var("input")); }));
  t.push_back(make_op("tanh", {"input"}, {}, [](auto& c) { return voxnn::tanh(c.var("input")); }));
  t.push_back(make_op("softmax", {"input"}, {"dim", "_stacklevel", "dtype"}, [](auto& c) {
    const auto x = c.var("input");
    return softmax(x, softmax_dim(c, x));
  }));
  t.push_back(make_op("log_softmax", {"input"}, {"dim", "_stacklevel", "dtype"}, [](auto& c) {
    const auto x = c.var("input");
    return log_softmax(x, softmax_dim(c, x));
  }));

  // Random unless training is false or p is 0 or 1: masks come from voxnn's generator, not PyTorch's.
  t.push_back(dropout_op("dropout", [](const auto& x, double p, bool training) { return dropout(x, p, training); }));
  t.push_back(dropout_op("dropout1d", [](const auto& x, double p, bool training) { return dropout1d(x, p, training); }));
  t.push_back(dropout_op("dropout2d", [](const auto& x, double p, bool training) { return dropout2d(x, p, training); }));
  t.push_back(dropout_op("dropout3d", [](const auto& x, double p, bool training) { return dropout3d(x, p, training); }));

  t.push_back(make_op("pad", {"input"}, {"pad", "mode", "value"}, [](auto& c) {
    return pad(c.var("input"), required<std::vector<int64_t>>(c, "pad"), arg<std::string>(c, "mode", "constant"),
               arg<std::optional<double>>(c, "value", std::nullopt).value_or(0.0));
  }));
  t.push_back(make_op("interpolate", {"input"},
                      {"size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"},
                      [](auto& c) {
                        if (arg<bool>(c, "antialias", false)) c.fail("antialias = true is not supported");
                        InterpolateOptions o;
                        o.size = arg<std::optional<DimValues<int64_t>>>(c, "size", std::nullopt).value_or(DimValues<int64_t>());
                        o.scale_factor =
                            arg<std::optional<DimValues<double>>>(c, "scale_factor", std::nullopt).value_or(DimValues<double>());
                        o.mode = arg<std::string>(c, "mode", "nearest");
                        o.align_corners = arg<std::optional<bool>>(c, "align_corners", std::nullopt);
                        o.recompute_scale_factor = arg<std::optional<bool>>(c, "recompute_scale_factor", std::nullopt);
                        return interpolate(c.var("input"), o);
                      }));

  t.push_back(make_op("pixel_shuffle", {"input"}, {"upscale_factor"}, [](auto& c) {
    return pixel_shuffle(c.var("input"), required<int64_t>(c, "upscale_factor"));
  }));
  t.push_back(make_op("pixel_unshuffle", {"input"}, {"downscale_factor"}, [](auto& c) {
    return pixel_unshuffle(c.var("input"), required<int64_t>(c, "downscale_factor"));
  }));
  t.push_back(make_op("voxel_shuffle", {"input"}, {"upscale_factor"}, [](auto& c) {
    return voxel_shuffle(c.var("input"), required<int64_t>(c, "upscale_factor"));
  }));
  t.push_back(make_op("voxel_unshuffle", {"input"}, {"downscale_factor"}, [](auto& c) {
    return voxel_unshuffle(c.var("input"), required<int64_t>(c, "downscale_factor"));
  }));
}

}  // namespace voxnn::tools::op
