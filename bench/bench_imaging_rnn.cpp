// Recurrent layer benchmarks (float), one layer, unidirectional, batch_first = false, T = 128, B = 8,
// input 256, hidden 128 (the GRU target shape), with zero initial states:
//
//   gru_fwd_T128_B8_I256_H128      nn::GRU forward under NoGradGuard
//   gru_fwdbwd_T128_B8_I256_H128   forward with x and the parameters requiring grad, then backward of a
//                                  fixed random gradient of the output; gradients reset (set to none)
//                                  inside the timed loop, as PyTorch's side does
//   lstm_fwd_... / lstm_fwdbwd_... the same for nn::LSTM
//
// Counters: `flops` per iteration (2 * T * B * G * H * (I + H) for a forward, three times that with
// backward; G = 3 for the GRU, 4 for the LSTM) and a GFLOPS rate. bench/pytorch_imaging_rnn.py times
// the same calls in PyTorch (torch.nn.GRU / LSTM). Protocol: bench/protocol.hpp.
#include <benchmark/benchmark.h>

#include <string>

#include "voxnn/autograd/autograd.hpp"
#include "voxnn/core/core.hpp"
#include "voxnn/nn/rnn.hpp"

#include "protocol.hpp"

namespace {

using voxnn::Tensor;
using V = voxnn::Var<float>;

constexpr int64_t kT = 128, kB = 8, kI = 256, kH = 128;
const std::string kTag = "_T128_B8_I256_H128";

Tensor<float> random(const voxnn::Shape& shape, uint64_t seed) {
  voxnn::Generator gen(seed);
  return voxnn::randn<float>(shape, gen);
}

void set_flops(benchmark::State& state, double flops) {
  state.counters["flops"] = flops;
  state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["nthreads"] = voxnn::num_threads();
}
double layer_flops(int64_t gates) { return 2.0 * kT * kB * gates * kH * (kI + kH); }

// Runs the module's (input, zero state) forward; Module is nn::GRU or nn::LSTM.
template <class Module>
V run(Module& m, const V& x) {
  if constexpr (std::is_same_v<Module, voxnn::nn::LSTM<float>>) return m(x, V(), V()).output;
  else return m(x, V()).output;
}

template <class Module, int64_t Gates>
void rnn_forward(benchmark::State& state) {
  Module m({.input_size = kI, .hidden_size = kH});
  const V x(random({kT, kB, kI}, 1));
  voxnn::NoGradGuard guard;
  for (auto _ : state) {
    V y = run(m, x);
    benchmark::DoNotOptimize(y.value().data());
    benchmark::ClobberMemory();
  }
  set_flops(state, layer_flops(Gates));
}

template <class Module, int64_t Gates>
void rnn_forward_backward(benchmark::State& state) {
  Module m({.input_size = kI, .hidden_size = kH});
  V x(random({kT, kB, kI}, 1), true);
  const Tensor<float> gy = random({kT, kB, kH}, 2);
  for (auto _ : state) {
    V y = run(m, x);
    y.backward(gy);
    benchmark::DoNotOptimize(x.grad().data());
    x.zero_grad();
    m.zero_grad();
  }
  set_flops(state, 3 * layer_flops(Gates));
}

void register_all() {
  using GRU = voxnn::nn::GRU<float>;
  using LSTM = voxnn::nn::LSTM<float>;
  auto add = [](const std::string& name, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  add("gru_fwd" + kTag, rnn_forward<GRU, 3>);
  add("gru_fwdbwd" + kTag, rnn_forward_backward<GRU, 3>);
  add("lstm_fwd" + kTag, rnn_forward<LSTM, 4>);
  add("lstm_fwdbwd" + kTag, rnn_forward_backward<LSTM, 4>);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return voxnn::bench::run_main(argc, argv);
}
