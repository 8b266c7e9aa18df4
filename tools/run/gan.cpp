// `voxnn run red_wgan_generator`: RED-WGAN's generator (include/voxnn/models/red_wgan.hpp), compatible
// with Deep-Imaging-Group/RED-WGAN@79718eb model5.py:GeneratorNet. GeneratorNet() takes no keyword
// arguments, so the config must be empty (any key is an error); the channel widths, which the
// reference hard-codes as 32/64/128/256, are read from the weights' conv1..conv4 shapes, so that
// narrower networks with the same layout (voxnn's `features` option) run too.
#include <array>
#include <cstdint>
#include <vector>

#include "run/adapter.hpp"
#include "voxnn/models/red_wgan.hpp"

namespace voxnn::tools::run {

void add_gan_models(std::vector<ModelSpec>& table) {
  table.push_back(make_model(
      "red_wgan_generator", "Deep-Imaging-Group/RED-WGAN@79718eb model5.py:GeneratorNet", {}, {"input"}, {"output"},
      [](auto& c) {
        using T = real_t<decltype(c)>;
        const io::TensorFile& w = c.weights();
        models::RedWganGeneratorOptions o;
        for (std::size_t i = 0; i < o.features.size(); ++i) {
          const std::string key = "conv" + std::to_string(i + 1) + ".0.weight";
          if (!w.contains(key)) c.fail("missing weight '", key, "' (GeneratorNet's state_dict has conv1..conv4)");
          const Shape& shape = w.entry(key).shape;
          if (shape.size() != 5) c.fail("weight '", key, "' has shape ", shape, "; expected a Conv3d weight");
          o.features[i] = shape[0];
        }
        models::RedWganGenerator<T> net(o);
        c.load(net);
        return Outputs<T>{{"output", net(Var<T>(c.input("input"))).value()}};
      }));
}

}  // namespace voxnn::tools::run
