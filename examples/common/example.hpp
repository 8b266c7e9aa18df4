#pragma once
// What every example shares: its command line, a stopwatch for the training time, and the result
// it reports against its named baseline. scripts/demo.sh runs each example with --quick and builds
// out/report.md from the rows they write.
//
//   voxnn_<example> [--quick] [--out DIR] [--seed N] [--data PATH] [--steps N]
//
// An example prints its progress, writes its NIfTI volumes and PNG figures to DIR, appends its row
// of the report to DIR/result.md and exits 0 when it beats its baseline, 3 when it does not (so a
// test or the demo notices), 2 on a bad command line and 1 on an error.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace voxnn::examples {

struct Args {
  bool quick = false;                        // the demo's setting: a short run, fixed settings
  std::filesystem::path out;                 // where results go (default out/<example>)
  uint64_t seed = 1;                         // the data and initialisation seeds derive from it (>= 1)
  std::optional<std::filesystem::path> data; // a user's NIfTI volume (examples that take one)
  int64_t steps = 0;                         // 0: the example's own step count
};

// Parses the common options; prints `usage` and exits on --help or a bad argument.
inline Args parse_args(int argc, char** argv, std::string_view name, std::string_view usage) {
  Args a;
  a.out = std::filesystem::path("out") / std::string(name);
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "voxnn_%.*s: %s\nusage: voxnn_%.*s %.*s\n", static_cast<int>(name.size()), name.data(),
                 why.c_str(), static_cast<int>(name.size()), name.data(), static_cast<int>(usage.size()), usage.data());
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(std::string(arg) + " needs a value");
      return argv[++i];
    };
    try {
      if (arg == "--help" || arg == "-h") {
        std::printf("usage: voxnn_%.*s %.*s\n", static_cast<int>(name.size()), name.data(),
                    static_cast<int>(usage.size()), usage.data());
        std::exit(0);
      } else if (arg == "--quick") {
        a.quick = true;
      } else if (arg == "--out") {
        a.out = value();
      } else if (arg == "--seed") {
        a.seed = std::stoull(value());
        if (a.seed == 0) fail("--seed must be at least 1");
      } else if (arg == "--steps") {
        a.steps = std::stoll(value());
      } else if (arg == "--data") {
        a.data = value();
      } else {
        fail("unexpected argument '" + std::string(arg) + "'");
      }
    } catch (const std::logic_error&) {  // std::stoull / stoll on a non-number
      fail("bad value for " + std::string(arg));
    }
  }
  std::filesystem::create_directories(a.out);
  return a;
}

// The phantom (or image) seeds of an example's samples: training sample i of --seed N is
// (N - 1) * 100000 + i + 1, held-out sample i is 1000000 + (N - 1) * 1000 + i + 1, so that for
// N < 11 no held-out sample is ever a training sample of any seed.
inline uint64_t training_sample_seed(uint64_t seed, int64_t i) {
  return (seed - 1) * 100000 + static_cast<uint64_t>(i) + 1;
}
inline uint64_t held_out_sample_seed(uint64_t seed, int64_t i) {
  return 1000000 + (seed - 1) * 1000 + static_cast<uint64_t>(i) + 1;
}

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

// One row of the demo's report: the model's metric against the baseline's, on the same data.
struct Result {
  std::string model;      // "UNet3d"
  std::string task;       // "segmentation of generated brain phantoms"
  std::string metric;     // "Dice"
  std::string baseline;   // "Otsu threshold"
  double baseline_value = 0;
  double value = 0;
  bool higher_is_better = true;
  double train_seconds = 0;
  std::vector<std::string> figures;  // PNG file names inside Args::out
  std::string details;               // a line of further numbers (second metric, settings)
};

inline bool beats(const Result& r) {
  return r.higher_is_better ? r.value > r.baseline_value : r.value < r.baseline_value;
}

// Prints the summary, writes DIR/result.md (the report row and figures), returns the exit status.
inline int finish(const Args& args, const Result& r) {
  const bool won = beats(r);
  std::printf("%s: %s %.4f vs %s %.4f (%s), trained in %.1f s\n", r.model.c_str(), r.metric.c_str(), r.value,
              r.baseline.c_str(), r.baseline_value, won ? "beats the baseline" : "DOES NOT beat the baseline",
              r.train_seconds);
  std::ofstream md(args.out / "result.md");
  char row[512];
  std::snprintf(row, sizeof row, "| %s | %s | %s: %s %.4f | %s %.4f | %.1f s |\n", r.model.c_str(), r.task.c_str(),
                r.baseline.c_str(), r.metric.c_str(), r.baseline_value, r.metric.c_str(), r.value, r.train_seconds);
  md << row;
  for (const std::string& f : r.figures) md << "figure: " << f << "\n";
  if (!r.details.empty()) md << "details: " << r.details << "\n";
  return won ? 0 : 3;
}

// Runs an example's body, turning an exception into a message and exit status 1.
template <class Body>
int guarded(std::string_view name, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "voxnn_%.*s: %s\n", static_cast<int>(name.size()), name.data(), e.what());
    return 1;
  }
}

}  // namespace voxnn::examples
