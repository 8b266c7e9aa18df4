// Slice aggregation benchmarks (float), at the scale of a 2D-slice set network for brain age: the
// slices of a batch of volumes (B = 8 volumes, L = 91 slices, E = 32 or 64 features per slice).
//
//   mha_fwdbwd_L91_B8_E<E>      nn::MultiheadAttention(E, 4 heads, batch_first) in training mode (no
//                               dropout), self-attention over the slices of each volume: forward with
//                               the head-averaged weights, then backward of the output with a fixed
//                               random gradient into the input and every parameter
//   mha_fwd_L91_B8_E64          the same module in evaluation mode without a graph (NoGradGuard)
//   pooled_attention_fwdbwd_L91_B8_E64   the reference's PooledAttention (one learned query, 4 heads,
//                               LayerNorm): forward + backward into the input and parameters
//
// Gradients are reset after every iteration, inside the timed loop. bench/pytorch_imaging_attention.py
// times the same calls with torch.nn.MultiheadAttention and a torch PooledAttention.
#include <benchmark/benchmark.h>

#include "voxnn/autograd/autograd.hpp"
#include "voxnn/core/core.hpp"
#include "voxnn/nn/attention.hpp"
#include "voxnn/nn/set_pooling.hpp"

#include "protocol.hpp"

namespace {

using voxnn::Shape;
using voxnn::Tensor;
using V = voxnn::Var<float>;

Tensor<float> random(const Shape& shape, uint64_t seed) {
  voxnn::Generator gen(seed);
  return voxnn::randn<float>(shape, gen);
}

constexpr int64_t kSlices = 91, kBatch = 8, kHeads = 4;

void BM_mha_fwdbwd(benchmark::State& state) {
  const int64_t e = state.range(0);
  voxnn::nn::MultiheadAttention<float> m({.embed_dim = e, .num_heads = kHeads, .batch_first = true});
  V x(random({kBatch, kSlices, e}, 1), true);
  const Tensor<float> gy = random({kBatch, kSlices, e}, 2);
  for (auto _ : state) {
    const auto [y, w] = m(x, x, x);
    y.backward(gy);
    benchmark::DoNotOptimize(w.value().data());
    m.zero_grad();
    x.zero_grad();
  }
}

void BM_mha_fwd(benchmark::State& state) {
  const int64_t e = state.range(0);
  voxnn::nn::MultiheadAttention<float> m({.embed_dim = e, .num_heads = kHeads, .batch_first = true});
  m.eval();
  const V x(random({kBatch, kSlices, e}, 1));
  voxnn::NoGradGuard no_grad;
  for (auto _ : state) {
    const auto [y, w] = m(x, x, x);
    benchmark::DoNotOptimize(y.value().data());
  }
}

void BM_pooled_attention_fwdbwd(benchmark::State& state) {
  const int64_t e = state.range(0);
  voxnn::nn::PooledAttention<float> m({.input_dim = e, .dim_v = e, .dim_k = e, .num_heads = kHeads, .ln = true});
  V x(random({kBatch, kSlices, e}, 1), true);
  const Tensor<float> gy = random({kBatch, 1, e}, 2);
  for (auto _ : state) {
    const auto [o, a] = m.forward(x, {});
    o.backward(gy);
    m.zero_grad();
    x.zero_grad();
  }
}

}  // namespace

BENCHMARK(BM_mha_fwdbwd)->Name("mha_fwdbwd_L91_B8_E32")->Arg(32)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_mha_fwdbwd)->Name("mha_fwdbwd_L91_B8_E64")->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_mha_fwd)->Name("mha_fwd_L91_B8_E64")->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_pooled_attention_fwdbwd)->Name("pooled_attention_fwdbwd_L91_B8_E64")->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();

int main(int argc, char** argv) { return voxnn::bench::run_main(argc, argv); }
