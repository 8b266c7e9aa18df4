// train: the progress line (text, moving-average rate, ETA, terminal redraws vs. log lines; driven by
// an injected clock and stream) and CSV training logs (RFC 4180 quoting, exact number round trips,
// flushing, columns added later, appending, and reading a log back; the CSV parser itself is tested in
// tests/io/test_csv.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <voxnn/train/csv_log.hpp>
#include <voxnn/train/progress.hpp>

#include "support/temp_file.hpp"

using namespace voxnn;
using test::TempFile;
using Catch::Contains;

namespace {

// A column's cells as text.
std::vector<std::string> column_text(const io::CsvTable& table, std::string_view name) {
  std::vector<std::string> out;
  const int64_t c = table.column(name);
  for (int64_t r = 0; r < table.size(); ++r) out.push_back(table.at(r, c));
  return out;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream s(text);
  for (std::string line; std::getline(s, line);) out.push_back(line);
  return out;
}

// A clock the test moves by hand.
struct FakeClock {
  double now = 1000.0;
  train::Progress::Clock clock() {
    return [this] { return now; };
  }
};

}  // namespace

// ---- progress ------------------------------------------------------------------------------------

TEST_CASE("train progress: durations and metric formatting", "[data][train_log]") {
  CHECK(train::format_duration(0) == "0s");
  CHECK(train::format_duration(59.4) == "59s");
  CHECK(train::format_duration(72) == "1m12s");
  CHECK(train::format_duration(3599.6) == "1h00m");
  CHECK(train::format_duration(3600 * 5 + 7 * 60 + 3) == "5h07m");
  CHECK(train::format_duration(86400 + 3600 + 61) == "1d01h");
  CHECK(train::format_duration(-1) == "?");
  CHECK(train::format_duration(NAN) == "?");
  CHECK(train::format_duration(INFINITY) == "?");
  CHECK(train::format_metric(0.34121) == "0.3412");
  CHECK(train::format_metric(12.3456) == "12.35");
  CHECK(train::format_metric(1.2e-5) == "1.2e-05");
}

TEST_CASE("train progress: log lines every N steps with rate and ETA (not a terminal)", "[data][train_log]") {
  std::ostringstream out;
  FakeClock t;
  {
    train::Progress p({.total = 1000, .print_every = 100, .terminal = false}, out, t.clock());
    for (int step = 1; step <= 250; ++step) {
      t.now += 0.08;  // 12.5 steps per second
      p.update(step, 0.3412);
    }
    CHECK(p.rate() == Approx(12.5).epsilon(1e-9));
    REQUIRE(p.eta_seconds());
    CHECK(*p.eta_seconds() == Approx(750 * 0.08).epsilon(1e-9));
    CHECK(p.line() == "step 250/1000  loss 0.3412  12.5 it/s  ETA 1m00s");
  }  // the destructor shows the final state (step 250 was not a multiple of 100)
  const auto lines = lines_of(out.str());
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "step 100/1000  loss 0.3412  12.5 it/s  ETA 1m12s");
  CHECK(lines[1] == "step 200/1000  loss 0.3412  12.5 it/s  ETA 1m04s");
  CHECK(lines[2] == "step 250/1000  loss 0.3412  12.5 it/s  ETA 1m00s");
  CHECK(out.str().find('\r') == std::string::npos);
}

TEST_CASE("train progress: the last step, several metrics, unknown totals and slow steps", "[data][train_log]") {
  std::ostringstream out;
  FakeClock t;
  train::Progress p({.total = 4, .label = "epoch", .terminal = false}, out, t.clock());
  CHECK(p.line() == "epoch 0/4");  // nothing measured yet
  for (int e = 1; e <= 4; ++e) {
    t.now += 2.5;
    p.update(e, {{"loss", 0.5 / e}, {"dice", 0.2 * e}});
  }
  // default print_every for 4 steps is 1: one line per epoch, the last one with the elapsed time
  const auto lines = lines_of(out.str());
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "epoch 1/4  loss 0.5  dice 0.2  2.50 s/it  ETA 8s");
  CHECK(lines[3] == "epoch 4/4  loss 0.125  dice 0.8  2.50 s/it  elapsed 10s");
  p.finish();
  CHECK(lines_of(out.str()).size() == 4);  // already shown: finish adds nothing

  std::ostringstream open_ended;
  train::Progress q({.terminal = false}, open_ended, t.clock());
  t.now += 0.01;
  q.update(1, 2.0);
  CHECK(q.line() == "step 1  loss 2  100 it/s");
  CHECK_FALSE(q.eta_seconds());
  q.finish();
  CHECK(open_ended.str() == "step 1  loss 2  100 it/s\n");
  REQUIRE_THROWS_WITH(train::Progress({.smoothing = 0}, open_ended, t.clock()), Contains("Progress: smoothing 0"));
}

TEST_CASE("train progress: the rate is a bias-corrected moving average of the time per step", "[data][train_log]") {
  std::ostringstream out;
  FakeClock t;
  train::Progress p({.total = 100, .smoothing = 0.3, .terminal = false}, out, t.clock());
  t.now += 0.1;
  p.update(1, 1.0);
  CHECK(p.rate() == Approx(10));  // one measurement: exactly its own rate (no bias toward zero)
  for (int s = 2; s <= 10; ++s) {
    t.now += 0.1;
    p.update(s, 1.0);
  }
  // then one update covering 5 steps of 0.2 s each: weight 1 - 0.7^5 for the new time per step
  t.now += 1.0;
  p.update(15, 1.0);
  const double w_old = 1 - std::pow(0.7, 10), keep = std::pow(0.7, 5);
  const double per_step = (keep * 0.1 * w_old + (1 - keep) * 0.2) / (keep * w_old + (1 - keep));
  CHECK(p.rate() == Approx(1 / per_step).epsilon(1e-12));
  CHECK(*p.eta_seconds() == Approx(85 * per_step).epsilon(1e-12));
  // a step that does not advance changes the metrics only
  t.now += 50;
  p.update(15, 0.5);
  CHECK(p.rate() == Approx(1 / per_step).epsilon(1e-12));
  CHECK(p.line().find("loss 0.5") != std::string::npos);
}

TEST_CASE("train progress: on a terminal the line is redrawn in place, throttled", "[data][train_log]") {
  std::ostringstream out;
  FakeClock t;
  {
    train::Progress p({.total = 20, .min_interval = 0.25, .terminal = true}, out, t.clock());
    CHECK(p.terminal());
    for (int step = 1; step <= 20; ++step) {
      t.now += 0.1;
      p.update(step, step < 13 ? 10.0 : 1.0);  // "loss 10" then the shorter "loss 1"
    }
  }
  const std::string s = out.str();
  // draws: step 1, then every >= 0.25 s (steps 4, 7, 10, 13, 16, 19), and the last step 20
  std::vector<std::string> frames;
  for (std::size_t at = s.find('\r'); at != std::string::npos;) {
    const std::size_t next = s.find('\r', at + 1);
    frames.push_back(s.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1));
    at = next;
  }
  REQUIRE(frames.size() == 8);
  CHECK(frames[0].rfind("step 1/20  loss 10  10.0 it/s  ETA 2s", 0) == 0);
  CHECK(frames[1].rfind("step 4/20  loss 10", 0) == 0);
  CHECK(frames[3].rfind("step 10/20  loss 10  10.0 it/s  ETA 1s", 0) == 0);
  // a shorter line is padded with spaces to cover the longer one before it
  CHECK(frames[4] == "step 13/20  loss 1  10.0 it/s  ETA 1s ");
  CHECK(frames[7].rfind("step 20/20  loss 1  10.0 it/s  elapsed 2s", 0) == 0);
  CHECK(s.back() == '\n');  // finish() ends the line
  CHECK(std::count(s.begin(), s.end(), '\n') == 1);
  // a string stream is not a terminal unless told
  std::ostringstream plain;
  CHECK_FALSE(train::Progress({}, plain, t.clock()).terminal());
}

// ---- CSV logs ------------------------------------------------------------------------------------

TEST_CASE("csv log: rows, RFC 4180 quoting and exact number round trips", "[data][train_log]") {
  TempFile f(".csv");
  const std::vector<double> values{0.1, 1.0 / 3, 1e-300, -2.5e17, 0.0, std::numeric_limits<double>::denorm_min(),
                                   std::numeric_limits<double>::max()};
  {
    train::CsvLog log(f.path);
    log.write({{"step", 1}, {"loss", 0.5}, {"note", "a, b"}});
    log.write({{"step", 2}, {"loss", 0.25}, {"note", "say \"hi\""}});
    log.write({{"step", int64_t{3}}, {"note", "two\nlines"}});
    log.write({{"note", "x"}, {"step", 4u}, {"loss", 0.125f}});
    CHECK(log.rows() == 4);
    CHECK(log.columns() == std::vector<std::string>{"step", "loss", "note"});
  }
  CHECK(slurp(f.path) ==
        "step,loss,note\n"
        "1,0.5,\"a, b\"\n"
        "2,0.25,\"say \"\"hi\"\"\"\n"
        "3,,\"two\nlines\"\n"
        "4,0.125,x\n");
  const io::CsvTable table = train::read_csv_log(f.path);
  CHECK(table.header() == std::vector<std::string>{"step", "loss", "note"});
  REQUIRE(table.size() == 4);
  CHECK(column_text(table, "note") == std::vector<std::string>{"a, b", "say \"hi\"", "two\nlines", "x"});
  const auto loss = table.numbers("loss");
  CHECK(loss[0] == 0.5);
  CHECK(std::isnan(loss[2]));  // empty cell

  TempFile g(".csv");
  {
    train::CsvLog log(g.path);
    for (double v : values) log.write({{"v", v}, {"neg", -v}});
    log.write({{"v", NAN}, {"neg", -INFINITY}});
    log.write({{"v", INFINITY}, {"neg", 0.1f}});
  }
  const io::CsvTable back = train::read_csv_log(g.path);
  const auto v = back.numbers("v"), neg = back.numbers("neg");
  for (std::size_t i = 0; i < values.size(); ++i) {
    CHECK(v[i] == values[i]);  // bit-exact: shortest round-trip formatting
    CHECK(neg[i] == -values[i]);
  }
  CHECK(std::isnan(v[values.size()]));
  CHECK(neg[values.size()] == -INFINITY);
  CHECK(v[values.size() + 1] == INFINITY);
  CHECK(column_text(back, "neg").back() == "0.1");  // a float is written as the shortest float
  CHECK(static_cast<float>(neg.back()) == 0.1f);
}

TEST_CASE("csv log: every row is on disk as soon as write returns", "[data][train_log]") {
  TempFile f(".csv");
  train::CsvLog log(f.path);
  for (int step = 1; step <= 5; ++step) {
    log.write({{"step", step}, {"loss", 1.0 / step}});
    // read through a separate stream while the log is still open
    CHECK(train::read_csv_log(f.path).size() == step);
  }
}

TEST_CASE("csv log: keys added later become columns; rows may leave keys out", "[data][train_log]") {
  TempFile f(".csv");
  {
    train::CsvLog log(f.path);
    log.write({{"step", 1}, {"loss", 0.9}});
    log.write({{"step", 2}, {"loss", 0.8}});
    log.write({{"step", 3}, {"loss", 0.7}, {"val_loss", 0.75}, {"lr", 1e-3}});  // rewrites the file once
    log.write({{"step", 4}, {"loss", 0.6}});
    CHECK(log.columns() == std::vector<std::string>{"step", "loss", "val_loss", "lr"});
    REQUIRE_THROWS_WITH(log.write({{"step", 5}, {"step", 6}}), Contains("csv: key \"step\" appears twice"));
    REQUIRE_THROWS_WITH(log.write({}), Contains("csv: an empty row"));
  }
  CHECK(slurp(f.path) == "step,loss,val_loss,lr\n1,0.9,,\n2,0.8,,\n3,0.7,0.75,0.001\n4,0.6,,\n");
  CHECK_FALSE(std::filesystem::exists(f.path.string() + ".tmp"));
}

TEST_CASE("csv log: appending continues an existing log under its header", "[data][train_log]") {
  TempFile f(".csv");
  {
    train::CsvLog log(f.path);
    log.write({{"step", 1}, {"loss", 0.5}});
  }
  {
    train::CsvLog log(f.path, /*append=*/true);
    CHECK(log.rows() == 1);
    CHECK(log.columns() == std::vector<std::string>{"step", "loss"});
    log.write({{"loss", 0.25}, {"step", 2}});
  }
  CHECK(slurp(f.path) == "step,loss\n1,0.5\n2,0.25\n");
  // a log whose writer died mid-row: the partial row is closed, short rows read padded
  { std::ofstream(f.path, std::ios::binary | std::ios::app) << "3,0.1"; }
  {
    train::CsvLog log(f.path, true);
    log.write({{"step", 4}, {"loss", 0.05}});
  }
  CHECK(slurp(f.path) == "step,loss\n1,0.5\n2,0.25\n3,0.1\n4,0.05\n");
  // without append the file starts over; append to a missing file creates it
  { train::CsvLog log(f.path); }
  CHECK(slurp(f.path).empty());
  TempFile g(".csv");
  {
    train::CsvLog log(g.path, true);
    log.write({{"a", 1}});
  }
  CHECK(slurp(g.path) == "a\n1\n");
}

