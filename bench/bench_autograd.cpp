// Autograd overhead per recorded op, on 1-element tensors so that the arithmetic itself is negligible.
// The graph is a chain of kOps binary ops, y = x; repeat kOps/2 times: y = y * x + x.
//   BM_autograd_forward_nograd   the chain under NoGradGuard (plain tensor ops wrapped in Var)
//   BM_autograd_forward_record   the same chain recording a graph
//   BM_autograd_forward_backward recording plus y.backward()
// Every benchmark sets the counter `ops` (= kOps); compare_pytorch.py reports median time / ops in microseconds:
// the recording overhead is (record - nograd) / ops, the full autograd cost (record + backward - nograd) / ops.
// The same chain in PyTorch is timed by bench/compare_pytorch.py.
#include <benchmark/benchmark.h>

#include <string>

#include "voxnn/voxnn.hpp"

#include "protocol.hpp"

namespace {

constexpr int kOps = 100;

using V = voxnn::Var<float>;

V chain(const V& x) {
  V y = x;
  for (int i = 0; i < kOps / 2; ++i) y = y * x + x;
  return y;
}

void finish(benchmark::State& state) {
  state.counters["ops"] = kOps;
}

void BM_autograd_forward_nograd(benchmark::State& state) {
  V x(voxnn::ones<float>({1}), /*requires_grad=*/true);
  voxnn::NoGradGuard guard;
  for (auto _ : state) {
    V y = chain(x);
    benchmark::DoNotOptimize(y.value().data());
  }
  finish(state);
}

void BM_autograd_forward_record(benchmark::State& state) {
  V x(voxnn::ones<float>({1}), /*requires_grad=*/true);
  for (auto _ : state) {
    V y = chain(x);
    benchmark::DoNotOptimize(y.value().data());
  }  // the graph is freed here, inside the timed loop, as it is when a training step ends
  finish(state);
}

void BM_autograd_forward_backward(benchmark::State& state) {
  V x(voxnn::ones<float>({1}), /*requires_grad=*/true);
  for (auto _ : state) {
    V y = chain(x);
    y.backward();
    benchmark::DoNotOptimize(x.grad().data());
    x.zero_grad();
  }
  finish(state);
}

// Warm-up, repetitions and aggregates come from protocol.hpp's default flags.
#define VOXNN_BENCH(fn) BENCHMARK(fn)->UseRealTime()->Unit(benchmark::kMicrosecond)

VOXNN_BENCH(BM_autograd_forward_nograd);
VOXNN_BENCH(BM_autograd_forward_record);
VOXNN_BENCH(BM_autograd_forward_backward);

}  // namespace

int main(int argc, char** argv) {
  benchmark::AddCustomContext("chain_ops", std::to_string(kOps));
  return voxnn::bench::run_main(argc, argv);
}
