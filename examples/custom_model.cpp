// docs/tutorial.md's program: a new 3D segmentation architecture written from voxnn's primitives,
// trained on generated brain phantoms, evaluated, saved and loaded again.
//   voxnn_custom_model [--quick] [--out DIR] [--steps N]
// The network is a small residual U-Net whose blocks recalibrate their channels with a
// squeeze-and-excitation gate (Hu et al. 2018): nothing in the model zoo has that block, which is the
// point: a user writes it in a few lines and everything else (names, state dicts, training,
// metrics) comes with it.
#include <cstdio>

#include "common/example.hpp"
#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/pool.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/data/phantom.hpp"
#include "voxnn/io/safetensors.hpp"
#include "voxnn/losses/dice.hpp"
#include "voxnn/metrics/overlap.hpp"
#include "voxnn/nn/conv.hpp"
#include "voxnn/nn/linear.hpp"
#include "voxnn/nn/norm.hpp"
#include "voxnn/optim/adam.hpp"
#include "voxnn/train/progress.hpp"

using namespace voxnn;

// [block] A residual block with a squeeze-and-excitation gate. Members registered with `this` get
// PyTorch-style names in declaration order: conv1.weight, norm1.weight, ..., gate_in.weight, ...
template <Real T>
class SEResBlock : public nn::Module<T> {
 public:
  SEResBlock(nn::Module<T>* parent, std::string name, int64_t in, int64_t out)
      : nn::Module<T>(parent, std::move(name)),
        conv1(this, "conv1", {.in_channels = in, .out_channels = out, .kernel_size = 3, .padding = 1}),
        norm1(this, "norm1", {.num_features = out, .affine = true}),
        conv2(this, "conv2", {.in_channels = out, .out_channels = out, .kernel_size = 3, .padding = 1}),
        norm2(this, "norm2", {.num_features = out, .affine = true}),
        gate_in(this, "gate_in", {.in_features = out, .out_features = std::max<int64_t>(out / 4, 1)}),
        gate_out(this, "gate_out", {.in_features = std::max<int64_t>(out / 4, 1), .out_features = out}),
        skip(this, "skip", {.in_channels = in, .out_channels = out, .kernel_size = 1}) {}

  Var<T> forward(const Var<T>& x) override {
    const Var<T> h = norm2(conv2(leaky_relu(norm1(conv1(x)), 0.1)));
    // squeeze: one number per channel; excite: a gate in (0, 1) per channel
    const Var<T> squeezed = flatten(adaptive_avg_pool3d(h, 1), 1);                 // [N, C]
    const Var<T> gate = sigmoid(gate_out(relu(gate_in(squeezed))));               // [N, C]
    const Var<T> gated = mul(h, reshape(gate, {gate.size(0), gate.size(1), 1, 1, 1}));
    return leaky_relu(add(gated, skip(x)), 0.1);
  }
  std::string type_name() const override { return "SEResBlock"; }

  nn::Conv3d<T> conv1;
  nn::InstanceNorm3d<T> norm1;
  nn::Conv3d<T> conv2;
  nn::InstanceNorm3d<T> norm2;
  nn::Linear<T> gate_in, gate_out;
  nn::Conv3d<T> skip;
};
// [/block]

// [network] Two levels: encode, pool, encode deeper, up-convolve, concatenate the skip, decode.
template <Real T>
class SEResUNet : public nn::Module<T> {
 public:
  SEResUNet(int64_t in_channels, int64_t classes, int64_t width = 8)
      : enc1(this, "enc1", in_channels, width),
        enc2(this, "enc2", width, 2 * width),
        up(this, "up", {.in_channels = 2 * width, .out_channels = width, .kernel_size = 2, .stride = 2}),
        dec1(this, "dec1", 2 * width, width),
        head(this, "head", {.in_channels = width, .out_channels = classes, .kernel_size = 1}) {}

  Var<T> forward(const Var<T>& x) override {
    const Var<T> e1 = enc1(x);
    const Var<T> e2 = enc2(max_pool3d(e1, 2));
    return head(dec1(cat<T, Cpu>({e1, up(e2)}, 1)));
  }
  std::string type_name() const override { return "SEResUNet"; }

  SEResBlock<T> enc1, enc2;
  nn::ConvTranspose3d<T> up;
  SEResBlock<T> dec1;
  nn::Conv3d<T> head;
};
// [/network]

namespace {

// [data] A noisy phantom: image [1, 1, D, H, W] and labels [1, 1, D, H, W] with 0 = other,
// 1 = grey matter, 2 = white matter.
struct Example {
  Tensor<float> image;
  Tensor<int64_t> labels;
};

Example make_example(int64_t size, uint64_t seed) {
  const auto p = data::brain_phantom<float>({.size = {size, size, size}, .seed = seed});
  Generator noise(seed + 1000);
  const Tensor<float> image = ops::add(p.image, randn<float>(p.image.shape(), noise, 0.0f, 0.8f));
  const Tensor<int64_t> grey = ops::cast<int64_t>(ops::eq(p.labels, int64_t{data::kGreyMatter}));
  const Tensor<int64_t> white = ops::cast<int64_t>(ops::eq(p.labels, int64_t{data::kWhiteMatter}));
  const Tensor<int64_t> classes = ops::add(grey, ops::mul(white, int64_t{2}));
  return {image.reshape({1, 1, size, size, size}), classes.reshape({1, 1, size, size, size})};
}
// [/data]

}  // namespace

int main(int argc, char** argv) {
  const examples::Args args = examples::parse_args(argc, argv, "custom_model", "[--quick] [--out DIR] [--steps N]");
  return examples::guarded("custom_model", [&] {
    const int64_t size = 32, steps = args.steps > 0 ? args.steps : args.quick ? 40 : 300;
    manual_seed(1);

    // [train]
    SEResUNet<float> net(/*in_channels=*/1, /*classes=*/3);
    std::printf("SEResUNet: %lld parameters, first ones:", static_cast<long long>(net.num_parameters()));
    for (const auto& [name, p] : net.named_parameters()) {
      if (name.starts_with("enc2")) break;
      std::printf(" %s", name.c_str());
    }
    std::printf("\n");

    optim::Adam<float> opt(net.parameters(), {.lr = 3e-3});
    train::Progress progress({.total = steps});
    for (int64_t step = 1; step <= steps; ++step) {
      const Example ex = make_example(size, static_cast<uint64_t>(step % 8));  // 8 training phantoms
      const Var<float> loss = losses::dice_ce_loss(net(Var<float>(ex.image)), ex.labels, {.softmax = true});
      opt.zero_grad();
      loss.backward();
      opt.step();
      progress.update(step, {{"loss", loss.item()}});
    }
    progress.finish();
    // [/train]

    // [evaluate] Dice per class on a phantom the network never saw, in eval mode without a graph.
    NoGradGuard no_grad;
    net.eval();
    const Example test = make_example(size, 100);
    const Tensor<int64_t> predicted = ops::argmax(net(Var<float>(test.image)).value(), 1);  // [1, D, H, W]
    const Tensor<double> dice = metrics::dice_labels(predicted, test.labels.select(1, 0), /*num_classes=*/3,
                                                     {.include_background = false});
    std::printf("held-out Dice: grey matter %.3f, white matter %.3f\n", dice.at({0, 0}), dice.at({0, 1}));
    // [/evaluate]

    // [save] The state dict has PyTorch's names, so a PyTorch module with the same attribute names
    // loads it (docs/tutorial.md shows one), and so does a fresh voxnn network.
    const auto path = args.out / "se_res_unet.safetensors";
    io::save_safetensors(path, net.state_dict());
    SEResUNet<float> reloaded(1, 3);
    reloaded.load_state_dict(nn::load_state_dict<float>(path));
    reloaded.eval();
    const Tensor<float> a = net(Var<float>(test.image)).value(), b = reloaded(Var<float>(test.image)).value();
    const double difference = ops::amax(ops::abs(ops::sub(a, b))).item();
    std::printf("saved %s; the reloaded network differs by %.1g\n", path.string().c_str(), difference);
    // [/save]
    return difference == 0 && dice.at({0, 0}) > 0.9 && dice.at({0, 1}) > 0.9 ? 0 : 3;  // docs/tutorial.md quotes 0.97 / 0.95
  });
}
