// `voxnn op` adapters: the complex FFTs on tensors with a trailing dim of 2 (torch.fft.fftn / ifftn on
// view_as_complex, argument names as torch.fft's), fastMRI's centred fft2c / ifft2c, and fastMRI's
// roll / fftshift / ifftshift on real tensors (argument names as fastmri.fftc's).
#include "op/adapter.hpp"
#include "voxnn/autograd/functions/fft.hpp"

namespace voxnn::tools::op {
namespace {

// torch.fft's norm: absent or null is "backward".
template <Real T>
std::string fft_norm(const Call<T>& c, const char* fallback) {
  return arg<std::optional<std::string>>(c, "norm", std::nullopt).value_or(fallback);
}

template <bool Inverse>
OpSpec fftn_op(std::string_view name) {
  return make_op(name, {"input"}, {"s", "dim", "norm"}, [](auto& c) {
    if (const Json* s = c.find("s"); s && !s->is_null())
      c.fail("config 's' must be null: the transform keeps the input's lengths (no padding or trimming)");
    const auto dims = arg<std::optional<std::vector<int64_t>>>(c, "dim", std::nullopt).value_or(std::vector<int64_t>{});
    const std::string norm = fft_norm(c, "backward");
    return Inverse ? ifftn(c.var("input"), dims, norm) : fftn(c.var("input"), dims, norm);
  });
}

// fastMRI's fftshift / ifftshift: dim absent or null is every dim.
template <bool Inverse>
OpSpec shift_op(std::string_view name) {
  return make_op(name, {"x"}, {"dim"}, [](auto& c) {
    const auto x = c.var("x");
    const auto dims = arg<std::optional<std::vector<int64_t>>>(c, "dim", std::nullopt).value_or(std::vector<int64_t>{});
    return Inverse ? ifftshift(x, dims) : fftshift(x, dims);
  });
}

}  // namespace

void add_fft_ops(std::vector<OpSpec>& t) {
  t.push_back(fftn_op<false>("fftn"));
  t.push_back(fftn_op<true>("ifftn"));
  t.push_back(make_op("fft2c", {"data"}, {"norm"}, [](auto& c) { return fft2c(c.var("data"), fft_norm(c, "ortho")); }));
  t.push_back(make_op("ifft2c", {"data"}, {"norm"}, [](auto& c) { return ifft2c(c.var("data"), fft_norm(c, "ortho")); }));
  t.push_back(shift_op<false>("fftshift"));
  t.push_back(shift_op<true>("ifftshift"));
  t.push_back(make_op("roll", {"x"}, {"shift", "dim"}, [](auto& c) {
    return roll(c.var("x"), required<std::vector<int64_t>>(c, "shift"), required<std::vector<int64_t>>(c, "dim"));
  }));
}

}  // namespace voxnn::tools::op
