// `voxnn op` adapters: PET physics (include/voxnn/ops/radon.hpp, include/voxnn/data/pet.hpp).
// radon and back_projection are differentiable; the others (attenuation_factors, pet_forward,
// ramp_filter, fbp, mlem, osem, poisson) are data tools and give no gradients under --backward.
//
// Geometry config, as RadonOptions: num_angles (angles k pi / num_angles) or angles (radians),
// num_bins (0 or absent: ceil(sqrt(H^2 + W^2) / bin_spacing)), bin_spacing (pixels). Ops on an image
// take H, W from it; ops on a sinogram need height and width and take the angle and bin counts from
// the sinogram unless given.
#include "voxnn/data/pet.hpp"

#include "op/adapter.hpp"
#include "voxnn/autograd/functions/radon.hpp"

namespace voxnn::tools::op {
namespace {

template <Real T>
RadonOptions radon_options(const Call<T>& c) {
  RadonOptions o;
  o.num_angles = arg<int64_t>(c, "num_angles", o.num_angles);
  o.angles = arg<std::vector<double>>(c, "angles", {});
  o.num_bins = arg<int64_t>(c, "num_bins", 0);
  o.bin_spacing = arg<double>(c, "bin_spacing", 1.0);
  return o;
}

// The geometry of an image argument (H, W its last two dims).
template <Real T>
ops::RadonGeometry image_geometry(const Call<T>& c, const Tensor<T>& image) {
  if (image.dim() < 2) c.fail("tensor 'input' has shape ", image.shape(), "; expected (..., H, W)");
  return ops::radon_geometry(image.size(-2), image.size(-1), radon_options(c));
}

// The geometry of a sinogram argument: height and width from the config, angles and bins from the
// sinogram unless the config gives them.
template <Real T>
ops::RadonGeometry sinogram_geometry(const Call<T>& c, const Tensor<T>& sinogram) {
  if (sinogram.dim() < 2) c.fail("tensor 'input' has shape ", sinogram.shape(), "; expected (..., angles, bins)");
  RadonOptions o = radon_options(c);
  if (!c.find("num_angles")) o.num_angles = sinogram.size(-2);
  if (!c.find("num_bins")) o.num_bins = sinogram.size(-1);
  return ops::radon_geometry(required<int64_t>(c, "height"), required<int64_t>(c, "width"), o);
}

template <Real T>
Tensor<T> required_buffer(Call<T>& c, std::string_view name) {
  Tensor<T> t = c.buffer(name);
  if (!t.defined()) c.fail("missing tensor '", name, "' in the input file");
  return t;
}

const std::vector<std::string_view> kImageGeometry = {"num_angles", "angles", "num_bins", "bin_spacing"};
const std::vector<std::string_view> kSinogramGeometry = {"height", "width",    "num_angles",
                                                         "angles", "num_bins", "bin_spacing"};

std::vector<std::string_view> with(std::vector<std::string_view> keys, std::initializer_list<std::string_view> more) {
  keys.insert(keys.end(), more.begin(), more.end());
  return keys;
}

template <Real T>
data::EmOptions<T> em_options(Call<T>& c, bool subsets) {
  data::EmOptions<T> o;
  o.iterations = arg<int64_t>(c, "iterations", o.iterations);
  if (subsets) o.subsets = arg<int64_t>(c, "subsets", 1);
  o.attenuation = c.buffer("attenuation");
  o.background = c.buffer("background");
  o.initial = c.buffer("initial");
  return o;
}

}  // namespace

void add_pet_ops(std::vector<OpSpec>& t) {
  t.push_back(make_op("radon", {"input"}, kImageGeometry, [](auto& c) {
    const auto x = c.var("input");
    return radon(x, image_geometry(c, x.value()));
  }));
  t.push_back(make_op("back_projection", {"input"}, kSinogramGeometry, [](auto& c) {
    const auto y = c.var("input");
    return back_projection(y, sinogram_geometry(c, y.value()));
  }));
  // input = the mu-map; pixel_size in the units mu is per (default 1: mu per pixel)
  t.push_back(make_op("attenuation_factors", {"input"}, with(kImageGeometry, {"pixel_size"}), [](auto& c) {
    using T = real_t<decltype(c)>;
    const Tensor<T> mu = required_buffer(c, "input");
    return Var<T>(data::attenuation_factors(mu, image_geometry(c, mu), arg<double>(c, "pixel_size", 1.0)));
  }));
  // input = the activity; expected counts a * (A x) + r
  t.push_back(make_op("pet_forward", {"input", "attenuation", "background"}, kImageGeometry, [](auto& c) {
    using T = real_t<decltype(c)>;
    const Tensor<T> x = required_buffer(c, "input");
    return Var<T>(data::pet_forward(x, image_geometry(c, x), c.buffer("attenuation"), c.buffer("background")));
  }));
  t.push_back(make_op("ramp_filter", {"input"}, {"bin_spacing", "filter", "frequency_scaling"}, [](auto& c) {
    using T = real_t<decltype(c)>;
    const data::FbpOptions o{.filter = arg<std::string>(c, "filter", "ramp"),
                             .frequency_scaling = arg<double>(c, "frequency_scaling", 1.0)};
    return Var<T>(data::ramp_filter(required_buffer(c, "input"), arg<double>(c, "bin_spacing", 1.0), o));
  }));
  t.push_back(make_op("fbp", {"input"}, with(kSinogramGeometry, {"filter", "frequency_scaling"}), [](auto& c) {
    using T = real_t<decltype(c)>;
    const Tensor<T> y = required_buffer(c, "input");
    const data::FbpOptions o{.filter = arg<std::string>(c, "filter", "ramp"),
                             .frequency_scaling = arg<double>(c, "frequency_scaling", 1.0)};
    return Var<T>(data::fbp(y, sinogram_geometry(c, y), o));
  }));
  // input = the counts
  t.push_back(make_op("mlem", {"input", "attenuation", "background", "initial"},
                      with(kSinogramGeometry, {"iterations"}), [](auto& c) {
                        using T = real_t<decltype(c)>;
                        const Tensor<T> y = required_buffer(c, "input");
                        return Var<T>(data::mlem(y, sinogram_geometry(c, y), em_options(c, false)));
                      }));
  t.push_back(make_op("osem", {"input", "attenuation", "background", "initial"},
                      with(kSinogramGeometry, {"iterations", "subsets"}), [](auto& c) {
                        using T = real_t<decltype(c)>;
                        const Tensor<T> y = required_buffer(c, "input");
                        return Var<T>(data::osem(y, sinogram_geometry(c, y), em_options(c, true)));
                      }));
  // input = the means; draws from voxnn's generator seeded with `seed`
  t.push_back(make_op("poisson", {"input"}, {"seed"}, [](auto& c) {
    using T = real_t<decltype(c)>;
    Generator gen(static_cast<uint64_t>(arg<int64_t>(c, "seed", 0)));
    return Var<T>(data::poisson(required_buffer(c, "input"), gen));
  }));
}

}  // namespace voxnn::tools::op
