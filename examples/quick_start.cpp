#include <voxnn/voxnn.hpp>
#include <cstdio>
using namespace voxnn;

// A tiny 3D segmentation network: conv + norm + ReLU, pool, up-convolution, 1x1x1 head.
struct TinySeg : nn::Module<float> {
  nn::Conv3d<float> enc{this, "enc", {.in_channels = 1, .out_channels = 8, .kernel_size = 3, .padding = 1}};
  nn::BatchNorm3d<float> norm{this, "norm", {.num_features = 8}};
  nn::ConvTranspose3d<float> up{this, "up", {.in_channels = 8, .out_channels = 8, .kernel_size = 2, .stride = 2}};
  nn::Conv3d<float> head{this, "head", {.in_channels = 9, .out_channels = 2, .kernel_size = 1}};
  Var<float> forward(const Var<float>& x) override {
    const Var<float> features = up(max_pool3d(relu(norm(enc(x))), 2));
    return head(cat<float, Cpu>({features, x}, 1));  // a skip connection from the input
  }
};

int main() {
  manual_seed(0);
  // A noisy ball in a 16^3 volume; the labels are its voxels.
  const Tensor<float> axis = ops::square(linspace<float>(-1, 1, 16));
  const Tensor<float> r2 = ops::add(ops::add(axis.reshape({16, 1, 1}), axis.reshape({1, 16, 1})), axis.reshape({1, 1, 16}));
  const Tensor<int64_t> label = ops::cast<int64_t>(ops::lt(r2, 0.4f)).reshape({1, 16, 16, 16});
  const Var<float> image(ops::add(ops::cast<float>(label).reshape({1, 1, 16, 16, 16}),
                                  ops::mul(randn<float>({1, 1, 16, 16, 16}), 0.5f)));

  TinySeg net;                                  // parameters "enc.weight", "enc.bias", "norm.weight", ...
  optim::Adam<float> opt(net.parameters(), {.lr = 1e-2});
  for (int step = 1; step <= 60; ++step) {
    Var<float> loss = losses::cross_entropy(net(image), label);
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step % 20 == 0) std::printf("step %d loss %.4f\n", step, loss.item());
  }
  io::save_safetensors("tinyseg.safetensors", net.state_dict());
}
