// The README's example: a small regression network trained with Adam, its weights saved.
#include <voxnn/voxnn.hpp>
#include <cstdio>
using namespace voxnn;

struct Net : nn::Module<float> {
  nn::Linear<float> hidden{this, "hidden", {.in_features = 8, .out_features = 32}};
  nn::Linear<float> head{this, "head", {.in_features = 32, .out_features = 1}};
  Var<float> forward(const Var<float>& x) override { return head(gelu(hidden(x))); }
};

int main() {
  manual_seed(0);
  Net net;                                      // parameters "hidden.weight", "hidden.bias", ...
  optim::Adam<float> opt(net.parameters(), {.lr = 1e-2});
  const Var<float> x(randn<float>({256, 8}));
  const Var<float> y(ops::sum(ops::sin(x.value()), {1}, true));
  for (int step = 1; step <= 200; ++step) {
    Var<float> loss = losses::mse_loss(net(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step % 50 == 0) std::printf("step %d loss %.4f\n", step, loss.item());
  }
  io::save_safetensors("net.safetensors", net.state_dict());
}
