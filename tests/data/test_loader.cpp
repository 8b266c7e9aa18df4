// data::DataLoader: batching, per-epoch shuffling, determinism for a seed whatever the number of
// workers, prefetch that overlaps the consumer, bounded memory, errors and early shutdown.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>

#include "voxnn/core/factory.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/data/loader.hpp"

using namespace voxnn;
using data::Sample;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Sample i: a [1, 2, 3, 2] image filled with i, a label filled with 10 i, target {i, -i}.
data::FunctionDataset<float> counting(int64_t n) {
  return data::FunctionDataset<float>(n, [](int64_t i, Generator&) {
    Sample<float> s;
    s.image = full<float>({1, 2, 3, 2}, static_cast<float>(i));
    s.label = full<float>({1, 2, 3, 2}, static_cast<float>(10 * i));
    s.target = {static_cast<float>(i), static_cast<float>(-i)};
    s.affine = io::Affine::from_spacing({1, 1, static_cast<double>(i + 1)});
    return s;
  });
}

// Sample i: random values drawn from the generator the loader hands over.
data::FunctionDataset<double> random_dataset(int64_t n) {
  return data::FunctionDataset<double>(n, [](int64_t i, Generator& gen) {
    Sample<double> s;
    s.image = randn<double>({2, 3, 3, 3}, gen);
    s.target = {static_cast<double>(i)};
    return s;
  });
}

std::vector<int64_t> batch_indices(const data::Batch<float>& b) { return b.indices; }

}  // namespace

TEST_CASE("DataLoader batches samples in order with labels, targets, ids and affines", "[data][loader]") {
  for (int workers : {0, 2}) {
    data::DataLoader loader(counting(10), {.batch_size = 3, .num_workers = workers});
    REQUIRE(loader.size() == 4);
    std::vector<int64_t> sizes;
    int64_t expect = 0;
    for (data::Batch<float>& b : loader.epoch(0)) {
      sizes.push_back(b.size());
      REQUIRE(b.image.shape() == Shape{b.size(), 1, 2, 3, 2});
      REQUIRE(b.label.has_value());
      REQUIRE(b.label->shape() == Shape{b.size(), 1, 2, 3, 2});
      REQUIRE(b.target.shape() == Shape{b.size(), 2});
      for (int64_t i = 0; i < b.size(); ++i, ++expect) {
        CHECK(b.indices[static_cast<std::size_t>(i)] == expect);
        CHECK(b.ids[static_cast<std::size_t>(i)] == std::string("#").append(std::to_string(expect)));
        CHECK(b.affines[static_cast<std::size_t>(i)](2, 2) == static_cast<double>(expect + 1));
        CHECK(b.image.at({i, 0, 1, 2, 1}) == static_cast<float>(expect));
        CHECK(b.label->at({i, 0, 0, 0, 0}) == static_cast<float>(10 * expect));
        CHECK(b.target.at({i, 0}) == static_cast<float>(expect));
        CHECK(b.target.at({i, 1}) == static_cast<float>(-expect));
      }
    }
    CHECK(sizes == std::vector<int64_t>{3, 3, 3, 1});
  }
  data::DataLoader dropping(counting(10), {.batch_size = 3, .drop_last = true});
  CHECK(dropping.size() == 3);
  int64_t n = 0;
  for (auto& b : dropping.epoch(0)) n += b.size();
  CHECK(n == 9);
}

TEST_CASE("DataLoader: samples without labels or targets give no label and a [N, 0] target", "[data][loader]") {
  data::FunctionDataset<float> ds(5, [](int64_t, Generator&) {
    Sample<float> s;
    s.image = zeros<float>({2, 2, 2, 2});
    return s;
  });
  data::DataLoader loader(ds, {.batch_size = 2});
  auto epoch = loader.epoch(0);
  auto first = epoch.next();
  REQUIRE(first.has_value());
  CHECK_FALSE(first->label.has_value());
  CHECK(first->target.shape() == Shape{2, 0});
  CHECK(epoch.next().has_value());
  CHECK(epoch.next()->size() == 1);
  CHECK_FALSE(epoch.next().has_value());
  CHECK_FALSE(epoch.next().has_value());
}

TEST_CASE("DataLoader shuffles with a seeded permutation per epoch", "[data][loader]") {
  data::DataLoader a(counting(23), {.batch_size = 4, .shuffle = true, .seed = 5});
  data::DataLoader b(counting(23), {.batch_size = 4, .shuffle = true, .num_workers = 0, .seed = 5});
  data::DataLoader c(counting(23), {.batch_size = 4, .shuffle = true, .seed = 6});
  std::vector<int64_t> identity(23);
  for (int64_t i = 0; i < 23; ++i) identity[static_cast<std::size_t>(i)] = i;
  for (int64_t e = 0; e < 3; ++e) {
    const auto order = a.order(e);
    auto sorted = order;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == identity);  // a permutation
    CHECK(order != identity);
    CHECK(order == b.order(e));
    CHECK(order != c.order(e));
    CHECK(order != a.order(e + 1));
    std::vector<int64_t> seen;
    for (auto& batch : a.epoch(e)) {
      const auto idx = batch_indices(batch);
      seen.insert(seen.end(), idx.begin(), idx.end());
      for (int64_t i = 0; i < batch.size(); ++i)
        CHECK(batch.image.at({i, 0, 0, 0, 0}) == static_cast<float>(idx[static_cast<std::size_t>(i)]));
    }
    CHECK(seen == order);
  }
  data::DataLoader plain(counting(7), {.batch_size = 2});
  CHECK(plain.order(3) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6});
}

TEST_CASE("DataLoader results depend on the seed only, not on workers or prefetch", "[data][loader]") {
  auto run = [](int workers, int prefetch, uint64_t seed) {
    data::DataLoader loader(random_dataset(11),
                            {.batch_size = 3, .shuffle = true, .num_workers = workers, .prefetch = prefetch,
                             .seed = seed});
    std::vector<std::vector<double>> out;
    for (int64_t e = 0; e < 2; ++e)
      for (auto& b : loader.epoch(e)) out.push_back(b.image.to_vector());
    return out;
  };
  const auto reference = run(0, 0, 3);
  CHECK(run(1, 0, 3) == reference);
  CHECK(run(2, 2, 3) == reference);
  CHECK(run(3, 1, 3) == reference);
  CHECK(run(2, 2, 4) != reference);
  // The rule in loader.hpp: sample i of epoch e uses Generator(sample_seed(seed, e, i)).
  data::DataLoader loader(random_dataset(11), {.batch_size = 3, .seed = 3});
  const auto batch = loader.make_batch(1, 2);
  Generator gen(data::sample_seed(3, 1, 6));
  const auto expect = randn<double>({2, 3, 3, 3}, gen).to_vector();
  const auto got = batch.image.select(0, 0).contiguous().to_vector();
  CHECK(got == expect);
}

TEST_CASE("DataLoader prepares the next batch while the consumer works on the current one", "[data][loader]") {
  // Both sides sleep (no CPU work), so the overlap shows on a loaded machine too: 10 batches of 40 ms
  // loading and 40 ms consuming take 800 ms one after the other and about 440 ms overlapped.
  constexpr auto kStep = std::chrono::milliseconds(40);
  data::FunctionDataset<float> slow(10, [&](int64_t i, Generator&) {
    std::this_thread::sleep_for(kStep);
    Sample<float> s;
    s.image = full<float>({1, 1, 1, 1}, static_cast<float>(i));
    return s;
  });
  for (int workers : {1, 2}) {
    data::DataLoader loader(slow, {.batch_size = 1, .num_workers = workers});
    const auto t0 = Clock::now();
    int64_t n = 0;
    for (auto& b : loader.epoch(0)) {
      CHECK(b.image.item() == static_cast<float>(n++));
      std::this_thread::sleep_for(kStep);
    }
    const double wall = seconds_since(t0);
    INFO("workers " << workers << ": " << wall << " s for 10 batches; serial would be 0.8 s");
    CHECK(n == 10);
    CHECK(wall < 0.68);
  }
}

TEST_CASE("DataLoader keeps at most prefetch + num_workers batches besides the consumer's", "[data][loader]") {
  std::atomic<int64_t> started{0};
  data::FunctionDataset<float> ds(40, [&](int64_t, Generator&) {
    started.fetch_add(1);
    Sample<float> s;
    s.image = zeros<float>({1, 1, 1, 1});
    return s;
  });
  for (auto [workers, prefetch] : {std::pair{1, 0}, std::pair{2, 2}, std::pair{3, 1}}) {
    started = 0;
    data::DataLoader loader(ds, {.batch_size = 2, .num_workers = workers, .prefetch = prefetch});
    int64_t consumed = 0, worst = 0;
    for (auto& b : loader.epoch(0)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(3));  // let the workers run ahead
      consumed += b.size();
      worst = std::max<int64_t>(worst, started.load() - consumed);
    }
    INFO("workers " << workers << ", prefetch " << prefetch << ": at most " << worst << " samples ahead");
    CHECK(consumed == 40);
    CHECK(worst <= 2 * (workers + prefetch));
    CHECK(worst >= 2);  // it did run ahead
  }
}

TEST_CASE("DataLoader: a worker's error reaches the consumer with the sample id", "[data][loader]") {
  data::FunctionDataset<float> ds(9, [](int64_t i, Generator&) {
    VOXNN_CHECK(i != 5, "resize: bad size at ", i);
    Sample<float> s;
    s.image = full<float>({1, 1, 1, 1}, static_cast<float>(i));
    s.id = "case" + std::to_string(i);
    return s;
  });
  for (int workers : {0, 1, 3}) {
    data::DataLoader loader(ds, {.batch_size = 2, .num_workers = workers});
    std::vector<int64_t> seen;
    auto consume = [&] {
      for (auto& b : loader.epoch(0)) seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    };
    REQUIRE_THROWS_AS(consume(), Error);
    CHECK(seen == std::vector<int64_t>{0, 1, 2, 3});  // the batches before the failing one arrive
    REQUIRE_THROWS_WITH(consume(), Catch::Contains("resize: bad size at 5") && Catch::Contains("sample #5") &&
                                       Catch::Contains("epoch 0, batch 2"));
  }
  // Not a voxnn::Error: rethrown as it was.
  data::FunctionDataset<float> bad(4, [](int64_t i, Generator&) -> Sample<float> {
    if (i == 2) throw std::out_of_range("user code");
    Sample<float> s;
    s.image = zeros<float>({1, 1, 1, 1});
    return s;
  });
  data::DataLoader loader(bad, {.batch_size = 1});
  auto consume = [&] {
    for (auto& b : loader.epoch(0)) (void)b;
  };
  REQUIRE_THROWS_AS(consume(), std::out_of_range);
}

TEST_CASE("DataLoader names both shapes when the samples of a batch differ", "[data][loader]") {
  data::FunctionDataset<float> ds(4, [](int64_t i, Generator&) {
    Sample<float> s;
    s.image = zeros<float>({1, i == 3 ? 5 : 4, 4, 4});
    s.id = "img" + std::to_string(i) + ".nii";
    return s;
  });
  data::DataLoader loader(ds, {.batch_size = 2});
  auto consume = [&] {
    for (auto& b : loader.epoch(0)) (void)b;
  };
  REQUIRE_THROWS_WITH(consume(), Catch::Contains("img3.nii has image shape [1, 5, 4, 4]") &&
                                     Catch::Contains("img2.nii has [1, 4, 4, 4]"));
  data::FunctionDataset<float> mixed(2, [](int64_t i, Generator&) {
    Sample<float> s;
    s.image = zeros<float>({1, 2, 2, 2});
    if (i == 0) s.label = zeros<float>({1, 2, 2, 2});
    return s;
  });
  REQUIRE_THROWS_WITH(data::DataLoader(mixed, {.batch_size = 2}).make_batch(0, 0),
                      Catch::Contains("#1 has no label but sample #0 has one"));
}

TEST_CASE("DataLoader stops cleanly when the consumer leaves early", "[data][loader]") {
  std::atomic<int64_t> made{0};
  data::FunctionDataset<float> slow(100, [&](int64_t, Generator&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    made.fetch_add(1);
    Sample<float> s;
    s.image = zeros<float>({1, 1, 1, 1});
    return s;
  });
  data::DataLoader loader(slow, {.batch_size = 2, .num_workers = 3, .prefetch = 2});
  const auto t0 = Clock::now();
  {
    int64_t n = 0;
    for (auto& b : loader.epoch(0)) {
      (void)b;
      if (++n == 2) break;
    }
  }
  // Workers finish the sample they are making (20 ms) and are joined: far from the 2 s of the epoch.
  CHECK(seconds_since(t0) < 1.0);
  CHECK(made.load() < 30);
  // An epoch that is never iterated, and one left by an exception from the consumer.
  { auto unused = loader.epoch(1); }
  auto throwing = [&] {
    for (auto& b : loader.epoch(2)) {
      (void)b;
      throw std::runtime_error("consumer failed");
    }
  };
  CHECK_THROWS_WITH(throwing(), "consumer failed");
  CHECK(seconds_since(t0) < 2.0);
}

TEST_CASE("DataLoader workers run voxnn's OpenMP loops on worker_threads threads", "[data][loader]") {
  std::atomic<int> seen_max{0};
  data::FunctionDataset<float> ds(6, [&](int64_t, Generator&) {
    int expected = seen_max.load();
    while (expected < num_threads() && !seen_max.compare_exchange_weak(expected, num_threads())) {
    }
    Sample<float> s;
    s.image = zeros<float>({1, 1, 1, 1});
    return s;
  });
  const int before = num_threads();
  data::DataLoader loader(ds, {.batch_size = 1, .num_workers = 2});
  for (auto& b : loader.epoch(0)) (void)b;
  CHECK(seen_max.load() == 1);
  CHECK(num_threads() == before);  // the consumer's setting is untouched
}

TEST_CASE("DataLoader checks its options", "[data][loader]") {
  REQUIRE_THROWS_WITH(data::DataLoader(counting(3), {.batch_size = 0}),
                      Catch::Contains("batch_size must be at least 1, got 0"));
  REQUIRE_THROWS_WITH(data::DataLoader(counting(3), {.num_workers = -1}), Catch::Contains("num_workers"));
  data::DataLoader loader(counting(3));
  auto epoch = loader.epoch(0);
  (void)epoch.begin();
  REQUIRE_THROWS_WITH(epoch.begin(), Catch::Contains("begin() called twice"));
  data::DataLoader empty(counting(0), {.batch_size = 4});
  CHECK(empty.size() == 0);
  int64_t n = 0;
  for (auto& b : empty.epoch(0)) n += b.size();
  CHECK(n == 0);
}
