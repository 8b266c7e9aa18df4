// The demo: learn to segment noisy spheres in generated 3D volumes with a tiny voxel classifier.
//
// Each voxel is described by its 3x3x3 neighbourhood (27 intensities); a three-layer perceptron
// maps that to a foreground logit, trained with Adam on binary cross-entropy over random minibatches
// of voxels. The loss falls, and the Dice score on a held-out volume beats thresholding the
// intensity alone, because the network learns to average out the noise.
#include <voxnn/voxnn.hpp>

#include <chrono>
#include <cstdio>

using namespace voxnn;

namespace {

struct Phantom {
  Tensor<float> image;  // [D, H, W], noisy
  Tensor<float> label;  // [D, H, W], 1 inside a sphere
};

// A few spheres of random centre and radius, a smooth intensity ramp, and Gaussian noise.
Phantom make_phantom(int64_t size, Generator& gen) {
  Tensor<float> label = zeros<float>({size, size, size});
  const auto params = rand<float>({3, 4}, gen).to_vector();
  for (int s = 0; s < 3; ++s) {
    const float cz = size * (0.25f + 0.5f * params[s * 4 + 0]), cy = size * (0.25f + 0.5f * params[s * 4 + 1]);
    const float cx = size * (0.25f + 0.5f * params[s * 4 + 2]), r = size * (0.12f + 0.12f * params[s * 4 + 3]);
    for (int64_t z = 0; z < size; ++z)
      for (int64_t y = 0; y < size; ++y)
        for (int64_t x = 0; x < size; ++x) {
          const float dz = z - cz, dy = y - cy, dx = x - cx;
          if (dz * dz + dy * dy + dx * dx <= r * r) label.at({z, y, x}) = 1.0f;
        }
  }
  const Tensor<float> ramp = ops::mul(arange<float>(size), 0.3f / size).reshape({1, 1, size});
  Tensor<float> image = ops::add(ops::add(label, ramp), randn<float>(label.shape(), gen, 0.0f, 0.7f));
  return {image, label};
}

// [D*H*W, 27]: every voxel's 3x3x3 neighbourhood, zero outside the volume.
Tensor<float> neighbourhoods(const Tensor<float>& image) {
  const int64_t d = image.size(0), h = image.size(1), w = image.size(2);
  Tensor<float> padded = zeros<float>({d + 2, h + 2, w + 2});
  padded.narrow(0, 1, d).narrow(1, 1, h).narrow(2, 1, w).copy_(image);
  std::vector<Tensor<float>> columns;
  for (int64_t dz = 0; dz < 3; ++dz)
    for (int64_t dy = 0; dy < 3; ++dy)
      for (int64_t dx = 0; dx < 3; ++dx)
        columns.push_back(padded.narrow(0, dz, d).narrow(1, dy, h).narrow(2, dx, w).reshape({-1, 1}));
  return ops::cat(columns, 1);
}

float dice(const Tensor<float>& prediction, const Tensor<float>& label) {
  const float overlap = ops::sum(ops::mul(prediction, label)).item();
  return 2 * overlap / (ops::sum(prediction).item() + ops::sum(label).item());
}

struct VoxelClassifier : nn::Module<float> {
  nn::Linear<float> fc1{this, "fc1", {.in_features = 27, .out_features = 32}};
  nn::Linear<float> fc2{this, "fc2", {.in_features = 32, .out_features = 32}};
  nn::Linear<float> out{this, "out", {.in_features = 32, .out_features = 1}};
  Var<float> forward(const Var<float>& x) override { return out(relu(fc2(relu(fc1(x))))); }
};

}  // namespace

int main() {
  manual_seed(7);
  Generator data_gen(2026);
  constexpr int64_t size = 32, train_volumes = 4, batch = 4096, steps = 300;

  std::vector<Tensor<float>> features, labels;
  for (int64_t i = 0; i < train_volumes; ++i) {
    const Phantom p = make_phantom(size, data_gen);
    features.push_back(neighbourhoods(p.image));
    labels.push_back(p.label.reshape({-1, 1}));
  }
  const Tensor<float> x_all = ops::cat(features, 0), y_all = ops::cat(labels, 0);
  const Phantom held_out = make_phantom(size, data_gen);

  VoxelClassifier net;
  optim::Adam<float> opt(net.parameters(), {.lr = 3e-3});
  std::printf("voxnn demo: voxel classifier on %lld generated %lld^3 volumes (%lld parameters)\n",
              static_cast<long long>(train_volumes), static_cast<long long>(size),
              static_cast<long long>(net.num_parameters()));

  const auto start = std::chrono::steady_clock::now();
  Generator batch_gen(1);
  for (int64_t step = 1; step <= steps; ++step) {
    const Tensor<int64_t> rows = randint(0, x_all.size(0), {batch}, batch_gen);
    const Var<float> x(ops::index_select(x_all, 0, rows));
    const Var<float> y(ops::index_select(y_all, 0, rows));
    const Var<float> loss = losses::binary_cross_entropy_with_logits(net(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step == 1 || step % 25 == 0) std::printf("step %4lld  loss %.4f\n", static_cast<long long>(step), loss.item());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  NoGradGuard no_grad;
  net.eval();
  const Tensor<float> logits = net(Var<float>(neighbourhoods(held_out.image))).value().reshape(held_out.label.shape());
  const Tensor<float> predicted = ops::cast<float>(ops::gt(logits, 0.0f));
  const Tensor<float> thresholded = ops::cast<float>(ops::gt(held_out.image, 0.5f));
  std::printf("trained %lld steps in %.2f s\n", static_cast<long long>(steps), seconds);
  std::printf("held-out Dice: network %.3f, intensity threshold %.3f\n", dice(predicted, held_out.label),
              dice(thresholded, held_out.label));
  return 0;
}
