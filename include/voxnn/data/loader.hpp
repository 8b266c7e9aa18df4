#pragma once
// DataLoader: batches of a Dataset, shuffled per epoch, built by background threads while the consumer
// trains on the previous batch.
//
//   data::CsvDataset<float> train({.csv = "train.csv", .target_columns = {"age"}, .transform = augment});
//   data::DataLoader loader(train, {.batch_size = 2, .shuffle = true, .seed = 7});
//   for (int64_t e = 0; e < epochs; ++e)
//     for (data::Batch<float>& batch : loader.epoch(e))
//       step(batch.image, batch.target);                 // [N, C, X, Y, Z], [N, K]
//
// Rules
// - Order: epoch e visits the samples in order(e): 0, 1, ..., n - 1, or with `shuffle` a permutation
//   drawn by Fisher-Yates from Generator(sample_seed(seed, e, -1)). Batch b holds positions
//   [b * batch_size, (b + 1) * batch_size) of that order; a short last batch is dropped with drop_last.
// - Randomness: sample `index` in epoch e is made with dataset.get(index, gen) where
//   gen = Generator(sample_seed(seed, e, index)), a SplitMix64 mix of the three numbers. So a batch is the
//   same for every num_workers, prefetch and thread timing (and a sample's augmentation in an epoch does
//   not depend on where the shuffle put it).
// - Threads: num_workers threads each build whole batches (get + collate) in batch order; batches are
//   handed to the consumer in order. num_workers = 0 builds each batch in the consumer's thread.
// - Memory: a worker starts batch b only while b < (batches handed out) + prefetch + num_workers, so
//   besides the batch the consumer holds at most prefetch + num_workers batches exist (finished or
//   being built).
// - OpenMP: each worker thread sets its own OpenMP thread count to `worker_threads` (default 1) when
//   it starts; the count is per thread in OpenMP, so transforms inside a worker run voxnn's
//   parallel_for on that many threads while the consumer's thread keeps its own setting. Workers then do
//   not oversubscribe the cores the training step uses.
// - Errors: an exception thrown while batch b is built reaches the consumer when it asks for batch b.
//   A voxnn::Error is rethrown as a voxnn::Error whose message adds the sample's id, dataset index and
//   epoch; any other exception is rethrown unchanged. No later batch is delivered.
// - Stopping early: destroying the epoch (leaving the loop by break, return or an exception) stops the
//   workers after the sample each is making and joins them.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <iterator>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/data/dataset.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::data {

struct LoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  bool drop_last = false;  // drop a last batch shorter than batch_size
  int num_workers = 2;     // background threads; 0 builds batches in the consumer's thread
  int prefetch = 2;        // batches made ahead besides those being built (see the memory rule)
  uint64_t seed = 0;
  int worker_threads = 1;  // OpenMP threads inside each worker
};

// A batch: the samples' images and labels stacked along a new first dim.
template <Real T = float>
struct Batch {
  Tensor<T> image;                 // [N, C, X, Y, Z]
  std::optional<Tensor<T>> label;  // [N, L, X, Y, Z] when the samples have labels
  Tensor<T> target;                // [N, K]; K = 0 without targets
  std::vector<std::string> ids;
  std::vector<io::Affine> affines;
  std::vector<int64_t> indices;    // dataset indices of the samples
  int64_t index = 0;               // position of the batch in its epoch
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

// SplitMix64's finaliser: a bijective mix of 64 bits.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
// The seed of sample `index`'s generator in epoch `epoch` (index -1: the epoch's shuffle).
inline uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index));
}

// Stacks samples into a batch. Every sample must have the image shape of the first, a label exactly
// when the first has one (of the first's label shape) and as many targets.
template <Real T>
Batch<T> collate(const std::vector<Sample<T>>& samples) {
  VOXNN_CHECK(!samples.empty(), "collate: no samples");
  const Sample<T>& first = samples.front();
  const int64_t n = static_cast<int64_t>(samples.size());
  VOXNN_CHECK(first.image.defined(), "collate: sample ", first.id, " has no image");
  for (std::size_t i = 1; i < samples.size(); ++i) {
    const Sample<T>& s = samples[i];
    VOXNN_CHECK(s.image.defined() && s.image.shape() == first.image.shape(), "collate: sample ", s.id,
                " has image shape ", s.image.defined() ? s.image.shape() : Shape{}, " but sample ", first.id,
                " has ", first.image.shape(), "; crop or pad the samples of a batch to one size");
    VOXNN_CHECK(s.label.has_value() == first.label.has_value(), "collate: sample ", s.id,
                s.label ? " has a label but sample " : " has no label but sample ", first.id,
                first.label ? " has one" : " has none");
    if (s.label)
      VOXNN_CHECK(s.label->shape() == first.label->shape(), "collate: sample ", s.id, " has label shape ",
                  s.label->shape(), " but sample ", first.id, " has ", first.label->shape());
    VOXNN_CHECK(s.target.size() == first.target.size(), "collate: sample ", s.id, " has ", s.target.size(),
                " targets but sample ", first.id, " has ", first.target.size());
  }
  auto stack = [&](auto&& get) {
    Shape shape = get(first).shape();
    shape.insert(0, n);
    Tensor<T> out(shape);
    for (int64_t i = 0; i < n; ++i) out.select(0, i).copy_(get(samples[static_cast<std::size_t>(i)]));
    return out;
  };
  Batch<T> b;
  b.image = stack([](const Sample<T>& s) -> const Tensor<T>& { return s.image; });
  if (first.label) b.label = stack([](const Sample<T>& s) -> const Tensor<T>& { return *s.label; });
  const int64_t k = static_cast<int64_t>(first.target.size());
  b.target = Tensor<T>({n, k});
  for (int64_t i = 0; i < n; ++i)
    std::copy(samples[static_cast<std::size_t>(i)].target.begin(), samples[static_cast<std::size_t>(i)].target.end(),
              b.target.data() + i * k);
  for (const auto& s : samples) {
    b.ids.push_back(s.id);
    b.affines.push_back(s.affine);
  }
  return b;
}

template <Real T, Dataset D>
  requires std::same_as<typename D::value_type, T>
class DataLoader {
 public:
  class Epoch;

  explicit DataLoader(D dataset, LoaderOptions options = {}) : dataset_(std::move(dataset)), options_(options) {
    VOXNN_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be at least 1, got ", options_.batch_size);
    VOXNN_CHECK(options_.num_workers >= 0, "DataLoader: num_workers must be >= 0, got ", options_.num_workers);
    VOXNN_CHECK(options_.prefetch >= 0, "DataLoader: prefetch must be >= 0, got ", options_.prefetch);
    VOXNN_CHECK(options_.worker_threads >= 1, "DataLoader: worker_threads must be >= 1, got ",
                options_.worker_threads);
  }

  const D& dataset() const { return dataset_; }
  const LoaderOptions& options() const { return options_; }

  // Batches per epoch.
  int64_t size() const {
    const int64_t n = static_cast<int64_t>(dataset_.size()), bs = options_.batch_size;
    return options_.drop_last ? n / bs : (n + bs - 1) / bs;
  }

  // The dataset indices in the order epoch `epoch` visits them.
  std::vector<int64_t> order(int64_t epoch) const {
    std::vector<int64_t> idx(static_cast<std::size_t>(dataset_.size()));
    std::iota(idx.begin(), idx.end(), int64_t{0});
    if (options_.shuffle && idx.size() > 1) {
      Generator gen(sample_seed(options_.seed, epoch, -1));
      for (std::size_t i = idx.size() - 1; i > 0; --i) {
        const uint64_t r = draw_seed(gen);
        const auto j = static_cast<std::size_t>((static_cast<unsigned __int128>(r) * (i + 1)) >> 64);
        std::swap(idx[i], idx[j]);
      }
    }
    return idx;
  }

  // Batch `b` of epoch `epoch`, built in the calling thread (what a worker does).
  Batch<T> make_batch(int64_t epoch, int64_t b) const { return build(order(epoch), epoch, b, nullptr); }

  // One pass over the data; workers start at once. The loader must outlive the epoch.
  Epoch epoch(int64_t e) const { return Epoch(*this, e); }

  class Epoch {
   public:
    struct Sentinel {};
    class Iterator {
     public:
      using value_type = Batch<T>;
      using difference_type = std::ptrdiff_t;
      explicit Iterator(Epoch* e) : e_(e) {}
      Batch<T>& operator*() const { return e_->current_; }
      Batch<T>* operator->() const { return &e_->current_; }
      Iterator& operator++() {
        e_->advance();
        return *this;
      }
      void operator++(int) { ++*this; }
      bool operator==(Sentinel) const { return e_->done_; }

     private:
      Epoch* e_;
    };

    Epoch(const DataLoader& loader, int64_t epoch)
        : loader_(loader), epoch_(epoch), order_(loader.order(epoch)), num_batches_(loader.size()) {
      const int workers = static_cast<int>(std::min<int64_t>(loader_.options_.num_workers, num_batches_));
      limit_ = static_cast<int64_t>(loader_.options_.prefetch) + loader_.options_.num_workers;
      try {
        for (int w = 0; w < workers; ++w) threads_.emplace_back([this] { work(); });
      } catch (...) {
        shutdown();
        throw;
      }
    }
    ~Epoch() { shutdown(); }
    Epoch(const Epoch&) = delete;
    Epoch& operator=(const Epoch&) = delete;

    // The first batch (waits for it); call once.
    Iterator begin() {
      VOXNN_CHECK(!started_, "DataLoader::Epoch: begin() called twice; an epoch is one pass");
      started_ = true;
      advance();
      return Iterator(this);
    }
    Sentinel end() const { return {}; }
    int64_t size() const { return num_batches_; }
    int64_t epoch() const { return epoch_; }

    // The next batch, or nothing after the last: the same stream as the iterator.
    std::optional<Batch<T>> next() {
      started_ = true;
      advance();
      if (done_) return std::nullopt;
      return std::move(current_);
    }

   private:
    struct Result {
      std::optional<Batch<T>> batch;
      std::exception_ptr error;
    };

    void work() {
      set_num_threads(loader_.options_.worker_threads);
      for (;;) {
        int64_t b = 0;
        {
          std::unique_lock<std::mutex> lock(mutex_);
          work_cv_.wait(lock, [&] { return stop_ || next_claim_ >= stop_at_ || next_claim_ < delivered_ + limit_; });
          if (stop_ || next_claim_ >= stop_at_) return;
          b = next_claim_++;
        }
        Result r = run(b);
        if (!r.batch && !r.error) return;  // stopped mid-batch
        {
          std::lock_guard<std::mutex> lock(mutex_);
          if (r.error) stop_at_ = std::min(stop_at_, b + 1);
          ready_.emplace(b, std::move(r));
        }
        ready_cv_.notify_all();
      }
    }

    Result run(int64_t b) {
      Result r;
      try {
        r.batch = loader_.build(order_, epoch_, b, &stop_);
      } catch (const detail_stopped&) {
      } catch (...) {
        r.error = std::current_exception();
      }
      return r;
    }

    void advance() {
      if (done_) return;
      if (delivered_ >= num_batches_) {
        done_ = true;
        current_ = Batch<T>{};
        return;
      }
      Result r;
      if (threads_.empty()) {
        r = run(delivered_);
        ++delivered_;
      } else {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_cv_.wait(lock, [&] { return ready_.count(delivered_) > 0; });
        auto it = ready_.find(delivered_);
        r = std::move(it->second);
        ready_.erase(it);
        ++delivered_;
        lock.unlock();
        work_cv_.notify_all();
      }
      if (r.error) {
        done_ = true;
        current_ = Batch<T>{};
        std::rethrow_exception(r.error);
      }
      current_ = std::move(*r.batch);
    }

    void shutdown() {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
      }
      work_cv_.notify_all();
      for (auto& t : threads_)
        if (t.joinable()) t.join();
      threads_.clear();
    }

    const DataLoader& loader_;
    int64_t epoch_;
    std::vector<int64_t> order_;
    int64_t num_batches_;
    int64_t limit_ = 0;
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable work_cv_, ready_cv_;
    std::map<int64_t, Result> ready_;
    int64_t next_claim_ = 0, delivered_ = 0;
    int64_t stop_at_ = INT64_MAX;  // no batch at or after this is started (set past a failed batch)
    std::atomic<bool> stop_{false};
    bool started_ = false, done_ = false;
    Batch<T> current_;
  };

 private:
  struct detail_stopped {};

  // Builds batch b of `order`; returns early (throwing detail_stopped) when *stop turns true.
  Batch<T> build(const std::vector<int64_t>& order, int64_t epoch, int64_t b, const std::atomic<bool>* stop) const {
    VOXNN_CHECK(b >= 0 && b < size(), "DataLoader: batch ", b, " out of range for ", size(), " batches");
    const int64_t bs = options_.batch_size;
    const int64_t begin = b * bs, end = std::min<int64_t>(begin + bs, static_cast<int64_t>(order.size()));
    std::vector<Sample<T>> samples;
    samples.reserve(static_cast<std::size_t>(end - begin));
    for (int64_t p = begin; p < end; ++p) {
      if (stop && stop->load(std::memory_order_relaxed)) throw detail_stopped{};
      const int64_t index = order[static_cast<std::size_t>(p)];
      Generator gen(sample_seed(options_.seed, epoch, index));
      try {
        samples.push_back(dataset_.get(index, gen));
      } catch (const Error& e) {
        ::voxnn::detail::throw_error(e.what(), " [DataLoader: sample ", sample_name(index), ", dataset index ", index,
                                     ", epoch ", epoch, ", batch ", b, "]");
      }
    }
    try {
      Batch<T> batch = collate(samples);
      batch.indices.assign(order.begin() + begin, order.begin() + end);
      batch.index = b;
      return batch;
    } catch (const Error& e) {
      ::voxnn::detail::throw_error(e.what(), " [DataLoader: epoch ", epoch, ", batch ", b, "]");
    }
  }

  std::string sample_name(int64_t index) const {
    if constexpr (requires { dataset_.id(index); }) {
      try {
        return std::string(dataset_.id(index));
      } catch (...) {
        return "#" + std::to_string(index);
      }
    } else {
      return "#" + std::to_string(index);
    }
  }

  D dataset_;
  LoaderOptions options_;
};

template <Dataset D>
DataLoader(D, LoaderOptions) -> DataLoader<typename D::value_type, D>;
template <Dataset D>
DataLoader(D) -> DataLoader<typename D::value_type, D>;

}  // namespace voxnn::data
