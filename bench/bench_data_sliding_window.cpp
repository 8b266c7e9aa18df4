// Sliding-window inference benchmarks (include/voxnn/data/sliding_window.hpp), float:
//
//   sliding_window_160x192x160_roi96_o25_gaussian   a [1, 1, 160, 192, 160] volume, roi 96^3, overlap 0.25
//                                                   (12 windows), Gaussian blending, sw_batch_size 4
//   sliding_window_160x192x160_roi96_o50_gaussian   the same at overlap 0.5 (27 windows)
//   sliding_window_160x192x160_roi96_o50_constant   overlap 0.5, constant blending
//
// The predictor hands its input back (identity), so the numbers are the framework's own cost: gathering
// the windows, weighting, accumulating and normalising. PyTorch's side: bench/pytorch_data_sliding_window.py
// (MONAI 1.3.2's sliding_window_inference with `lambda x: x`). Protocol (docs/benchmarks.md, defaults in
// protocol.hpp): 0.3 s warm-up, 5 repetitions, median wall-clock time.
#include <benchmark/benchmark.h>

#include <string>

#include "voxnn/core/factory.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/data/sliding_window.hpp"

#include "protocol.hpp"

namespace {

using voxnn::Tensor;

void sliding_window_case(benchmark::State& state, double overlap, const char* mode) {
  voxnn::Generator gen(1);
  const Tensor<float> x = voxnn::randn<float>({1, 1, 160, 192, 160}, gen);
  const auto windows = voxnn::data::plan_sliding_window({160, 192, 160}, {96, 96, 96}, overlap).starts.size();
  for (auto _ : state) {
    Tensor<float> y = voxnn::data::sliding_window_inference(
        x, {96, 96, 96}, 4, [](const Tensor<float>& w) { return w; }, {.overlap = overlap, .mode = mode});
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["windows"] = static_cast<double>(windows);
  state.counters["nthreads"] = voxnn::num_threads();
}

void register_all() {
  auto reg = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  reg("sliding_window_160x192x160_roi96_o25_gaussian",
      [](benchmark::State& s) { sliding_window_case(s, 0.25, "gaussian"); });
  reg("sliding_window_160x192x160_roi96_o50_gaussian",
      [](benchmark::State& s) { sliding_window_case(s, 0.5, "gaussian"); });
  reg("sliding_window_160x192x160_roi96_o50_constant",
      [](benchmark::State& s) { sliding_window_case(s, 0.5, "constant"); });
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return voxnn::bench::run_main(argc, argv);
}
