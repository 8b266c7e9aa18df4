// Loss benchmarks (include/voxnn/losses/registration.hpp and dice.hpp), float, forward + backward:
//
//   ncc_loss_win9_96_fwdbwd     ncc_loss (voxelmorph's NCC, window 9^3) of two 1x1x96x96x96 volumes,
//                               gradient to y_pred (separable box sums by conv3d with 9x1x1, 1x9x1, 1x1x9
//                               ones kernels; voxelmorph convolves with a 9x9x9 ones kernel)
//   ncc_loss_win9_96_fwd        the forward pass alone
//   dice_ce_4x96_fwdbwd         dice_ce_loss (MONAI's DiceCELoss, softmax, class-index target one-hot
//                               encoded for the Dice part) of 1x4x96x96x96 logits, gradient to the logits
//   dice_ce_4x96_fwd            the forward pass alone
//
// PyTorch's side: bench/pytorch_losses.py (voxelmorph's NCC and MONAI's DiceCELoss when importable, and
// the same formulas in plain torch). Protocol (docs/benchmarks.md, defaults in protocol.hpp): 0.3 s
// warm-up, 5 repetitions, median wall-clock time.
#include <benchmark/benchmark.h>

#include <string>

#include "voxnn/autograd/autograd.hpp"
#include "voxnn/core/core.hpp"
#include "voxnn/losses/dice.hpp"
#include "voxnn/losses/registration.hpp"

#include "protocol.hpp"

namespace {

using voxnn::Shape;
using voxnn::Tensor;
using voxnn::Var;
namespace losses = voxnn::losses;

Tensor<float> random(const Shape& shape, uint64_t seed) {
  voxnn::Generator gen(seed);
  return voxnn::rand<float>(shape, gen);
}

void BM_ncc(benchmark::State& state, bool backward) {
  const Shape s{1, 1, 96, 96, 96};
  const Var<float> y_true(random(s, 1));
  Var<float> y_pred(voxnn::ops::add(voxnn::ops::mul(y_true.value(), 0.7f), voxnn::ops::mul(random(s, 2), 0.3f)),
                          backward);
  for (auto _ : state) {
    const Var<float> loss = losses::ncc_loss(y_true, y_pred);
    if (backward) {
      loss.backward();
      benchmark::DoNotOptimize(y_pred.grad().data());
      y_pred.zero_grad();
    } else {
      benchmark::DoNotOptimize(loss.value().data());
    }
  }
  state.counters["nthreads"] = voxnn::num_threads();
}

void BM_dice_ce(benchmark::State& state, bool backward) {
  Var<float> logits(voxnn::ops::mul(random({1, 4, 96, 96, 96}, 3), 4.0f), backward);
  voxnn::Generator gen(4);
  const Tensor<int64_t> labels = voxnn::randint(0, 4, {1, 1, 96, 96, 96}, gen);
  for (auto _ : state) {
    const Var<float> loss = losses::dice_ce_loss(logits, labels, {.to_onehot_y = true, .softmax = true});
    if (backward) {
      loss.backward();
      benchmark::DoNotOptimize(logits.grad().data());
      logits.zero_grad();
    } else {
      benchmark::DoNotOptimize(loss.value().data());
    }
  }
  state.counters["nthreads"] = voxnn::num_threads();
}

void register_all() {
  auto reg = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  reg("ncc_loss_win9_96_fwdbwd", [](benchmark::State& s) { BM_ncc(s, true); });
  reg("ncc_loss_win9_96_fwd", [](benchmark::State& s) { BM_ncc(s, false); });
  reg("dice_ce_4x96_fwdbwd", [](benchmark::State& s) { BM_dice_ce(s, true); });
  reg("dice_ce_4x96_fwd", [](benchmark::State& s) { BM_dice_ce(s, false); });
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return voxnn::bench::run_main(argc, argv);
}
