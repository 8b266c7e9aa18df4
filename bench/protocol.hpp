#pragma once
// The measurement protocol every voxnn benchmark binary follows by default (docs/benchmarks.md):
// 0.3 s of warm-up, 5 repetitions, aggregates only (median, mean, stddev, cv), and the repetitions of all
// benchmarks in random interleaved order, so that a slow spell of the machine (memory bandwidth on a
// shared host drifts by tens of percent over seconds) spreads over all of them instead of skewing one
// against its reference. Each default applies only when the command line does not set that flag.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "voxnn/core/parallel.hpp"

namespace voxnn::bench {

inline int run_main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  static std::string defaults[] = {"--benchmark_min_warmup_time=0.3", "--benchmark_repetitions=5",
                                   "--benchmark_report_aggregates_only=true",
                                   "--benchmark_enable_random_interleaving=true"};
  for (auto& d : defaults) {
    const std::string flag = d.substr(0, d.find('='));
    bool given = false;
    for (int i = 1; i < argc; ++i) given = given || std::strncmp(argv[i], flag.c_str(), flag.size()) == 0;
    if (!given) args.insert(args.begin() + 1, d.data());
  }
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::AddCustomContext("voxnn_threads", std::to_string(voxnn::num_threads()));
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace voxnn::bench
