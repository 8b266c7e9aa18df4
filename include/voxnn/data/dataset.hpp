#pragma once
// Datasets: numbered samples that a DataLoader batches. Anything with
//
//   using value_type = T;                                    // float or double
//   int64_t size() const;
//   Sample<T> get(int64_t index, Generator& gen) const;      // thread-safe: loader workers call it at once
//
// is a data::Dataset (a concept); `std::string id(int64_t index) const` is optional and names a sample in
// the loader's error messages before it is loaded. Three come with voxnn:
//
//   CsvDataset<T>      NIfTI images (and labels, and numeric targets) listed in a CSV manifest
//   ListDataset<T>     samples already in memory, optionally transformed on the way out
//   FunctionDataset<T> samples made by a function (generated data, a lambda over your own storage)
//
// The generator `gen` is the only source of randomness a dataset and its transform may use; the loader
// derives it from (seed, epoch, index), so a sample's augmentation does not depend on threads.
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/io/csv.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/io/nifti.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::data {

template <class D>
concept Dataset = Real<typename D::value_type> && requires(const D& d, int64_t i, Generator& g) {
  { d.size() } -> std::convertible_to<int64_t>;
  { d.get(i, g) } -> std::same_as<Sample<typename D::value_type>>;
};

namespace detail {

// A copy of a sample whose tensors own their elements, so that a transform may change them in place.
template <Real T>
Sample<T> deep_copy(const Sample<T>& s) {
  Sample<T> out;
  out.image = s.image.defined() ? s.image.clone() : s.image;
  if (s.label) out.label = s.label->defined() ? s.label->clone() : *s.label;
  out.target = s.target;
  out.affine = s.affine;
  out.id = s.id;
  return out;
}

inline void check_index(int64_t index, int64_t size, const char* what) {
  VOXNN_CHECK(index >= 0 && index < size, what, ": index ", index, " out of range for a dataset of ", size,
              " samples");
}

}  // namespace detail

// A volume's voxel array [X, Y, Z, ...] as a channel-first image [C, X, Y, Z]: 3D data gets C = 1, and
// the trailing dims of 4D and 5D data (NIfTI's time and components) become the channels, in row-major
// order (channel t * U + u of [X, Y, Z, T, U]). A copy only when C > 1.
template <Element T>
Tensor<T> channel_first(const Tensor<T>& data) {
  VOXNN_CHECK(data.dim() >= 3, "channel_first: volume data of shape ", data.shape(),
              " has fewer than 3 spatial dims");
  const int64_t x = data.size(0), y = data.size(1), z = data.size(2);
  int64_t c = 1;
  for (int d = 3; d < data.dim(); ++d) c *= data.size(d);
  const Tensor<T> flat = data.contiguous().reshape({x, y, z, c});
  if (c == 1) return flat.reshape({1, x, y, z});
  return flat.permute({3, 0, 1, 2}).contiguous();
}

// ---- CSV manifest of NIfTI files ----------------------------------------------------------------------

template <Real T = float>
struct CsvDatasetOptions {
  std::filesystem::path csv{};                // the manifest; relative paths inside it start at its folder
  std::string image_column = "image";         // NIfTI image paths (required)
  std::string label_column = "label";         // NIfTI label paths, used when the CSV has this column; "": none
  std::vector<std::string> target_columns{};  // numeric columns, in order, e.g. {"age"}
  Transform<T> transform{};                   // applied by get() after loading (empty: none)
  bool cache = false;                         // keep loaded (untransformed) volumes in memory
  double affine_tolerance = 1e-3;             // largest |image - label| affine element difference accepted
};

// Rows of a CSV manifest as samples: the image (4D NIfTI -> [t, X, Y, Z], 3D -> [1, X, Y, Z]), the label
// on the same grid ([1, X, Y, Z] for a 3D label map), the target columns as numbers, the image's affine,
// and the image path as id. The CSV is read and checked (columns present, targets numeric, files
// named) when the dataset is built; volumes are read by get(). Copies share the cache.
template <Real T = float>
class CsvDataset {
 public:
  using value_type = T;

  explicit CsvDataset(CsvDatasetOptions<T> options) : options_(std::move(options)) {
    table_ = io::read_csv(options_.csv);
    folder_ = options_.csv.parent_path();
    image_col_ = table_.column(options_.image_column);
    if (!options_.label_column.empty()) label_col_ = table_.find_column(options_.label_column);
    for (const auto& name : options_.target_columns) target_cols_.push_back(table_.column(name));
    targets_.resize(static_cast<std::size_t>(table_.size()));
    for (int64_t r = 0; r < table_.size(); ++r) {
      VOXNN_CHECK(!table_.at(r, image_col_).empty(), "CsvDataset: ", table_.source(), " line ", table_.line(r),
                  ", column \"", options_.image_column, "\": empty image path");
      if (label_col_)
        VOXNN_CHECK(!table_.at(r, *label_col_).empty(), "CsvDataset: ", table_.source(), " line ", table_.line(r),
                    ", column \"", options_.label_column, "\": empty label path");
      auto& t = targets_[static_cast<std::size_t>(r)];
      for (int64_t c : target_cols_) t.push_back(static_cast<T>(table_.number(r, c)));
    }
    if (options_.cache) {
      cache_ = std::make_shared<Cache>();
      cache_->items.resize(static_cast<std::size_t>(table_.size()));
    }
  }

  int64_t size() const { return table_.size(); }
  bool has_label() const { return label_col_.has_value(); }
  const io::CsvTable& table() const { return table_; }
  const CsvDatasetOptions<T>& options() const { return options_; }

  // The resolved image path of row `index` (the sample's id).
  std::string id(int64_t index) const {
    detail::check_index(index, size(), "CsvDataset");
    return resolve(table_.at(index, image_col_)).string();
  }
  std::filesystem::path image_path(int64_t index) const { return std::filesystem::path(id(index)); }
  std::optional<std::filesystem::path> label_path(int64_t index) const {
    detail::check_index(index, size(), "CsvDataset");
    if (!label_col_) return std::nullopt;
    return resolve(table_.at(index, *label_col_));
  }

  // The sample of row `index`, loaded (or taken from the cache) and transformed with `gen`.
  Sample<T> get(int64_t index, Generator& gen) const {
    detail::check_index(index, size(), "CsvDataset");
    Sample<T> s;
    if (cache_) {
      std::optional<Sample<T>> hit;
      {
        std::lock_guard<std::mutex> lock(cache_->mutex);
        const auto& item = cache_->items[static_cast<std::size_t>(index)];
        if (item) hit = *item;  // shares the tensors; deep_copy below owns new ones
      }
      if (!hit) {
        hit = load(index);
        std::lock_guard<std::mutex> lock(cache_->mutex);
        cache_->items[static_cast<std::size_t>(index)] = *hit;
      }
      s = detail::deep_copy(*hit);
    } else {
      s = load(index);
    }
    if (options_.transform) options_.transform(s, gen);
    return s;
  }

  // Row `index` as read from disk, without the transform.
  Sample<T> load(int64_t index) const {
    detail::check_index(index, size(), "CsvDataset");
    const std::filesystem::path image_file = resolve(table_.at(index, image_col_));
    io::Volume<T> image = io::read_nifti<T>(image_file);
    Sample<T> s;
    s.image = channel_first(image.data);
    s.affine = image.affine;
    s.id = image_file.string();
    s.target = targets_[static_cast<std::size_t>(index)];
    if (label_col_) {
      const std::filesystem::path label_file = resolve(table_.at(index, *label_col_));
      io::Volume<T> label = io::read_nifti<T>(label_file);
      const auto is = image.spatial_shape(), ls = label.spatial_shape();
      VOXNN_CHECK(is == ls, "CsvDataset: label ", label_file.string(), " has spatial shape ", Shape(ls),
                  " but image ", image_file.string(), " has ", Shape(is), " (", table_.source(), " line ",
                  table_.line(index), ")");
      double worst = 0;
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) worst = std::max(worst, std::abs(image.affine(r, c) - label.affine(r, c)));
      VOXNN_CHECK(worst <= options_.affine_tolerance, "CsvDataset: label ", label_file.string(),
                  " is not on the grid of image ", image_file.string(), ": their affines differ by up to ", worst,
                  " (tolerance ", options_.affine_tolerance, "; ", table_.source(), " line ", table_.line(index),
                  ")");
      s.label = channel_first(label.data);
    }
    return s;
  }

 private:
  struct Cache {
    std::mutex mutex;
    std::vector<std::optional<Sample<T>>> items;
  };

  std::filesystem::path resolve(const std::string& cell) const {
    const std::filesystem::path p(cell);
    return p.is_absolute() ? p : folder_ / p;
  }

  CsvDatasetOptions<T> options_;
  io::CsvTable table_;
  std::filesystem::path folder_;
  int64_t image_col_ = 0;
  std::optional<int64_t> label_col_;
  std::vector<int64_t> target_cols_;
  std::vector<std::vector<T>> targets_;
  std::shared_ptr<Cache> cache_;
};

// ---- in-memory and generated datasets --------------------------------------------------------------------

// Samples held in memory. get() hands out a copy (the transform, if any, changes the copy).
template <Real T = float>
class ListDataset {
 public:
  using value_type = T;

  explicit ListDataset(std::vector<Sample<T>> samples, Transform<T> transform = {})
      : samples_(std::make_shared<const std::vector<Sample<T>>>(std::move(samples))),
        transform_(std::move(transform)) {}

  int64_t size() const { return static_cast<int64_t>(samples_->size()); }
  std::string id(int64_t index) const {
    detail::check_index(index, size(), "ListDataset");
    const std::string& id = (*samples_)[static_cast<std::size_t>(index)].id;
    return id.empty() ? "#" + std::to_string(index) : id;
  }
  Sample<T> get(int64_t index, Generator& gen) const {
    detail::check_index(index, size(), "ListDataset");
    Sample<T> s = detail::deep_copy((*samples_)[static_cast<std::size_t>(index)]);
    if (s.id.empty()) s.id = std::string("#").append(std::to_string(index));  // not "#" + ...: GCC 12's bogus -Wrestrict
    if (transform_) transform_(s, gen);
    return s;
  }

 private:
  std::shared_ptr<const std::vector<Sample<T>>> samples_;
  Transform<T> transform_;
};

// `size` samples made on demand by fn(index, gen), which must be safe to call from several threads at once.
template <Real T = float>
class FunctionDataset {
 public:
  using value_type = T;
  using Function = std::function<Sample<T>(int64_t, Generator&)>;

  FunctionDataset(int64_t size, Function fn) : size_(size), fn_(std::move(fn)) {
    VOXNN_CHECK(size >= 0, "FunctionDataset: negative size ", size);
    VOXNN_CHECK(static_cast<bool>(fn_), "FunctionDataset: no function given");
  }
  int64_t size() const { return size_; }
  Sample<T> get(int64_t index, Generator& gen) const {
    detail::check_index(index, size_, "FunctionDataset");
    Sample<T> s = fn_(index, gen);
    if (s.id.empty()) s.id = std::string("#").append(std::to_string(index));  // not "#" + ...: GCC 12's bogus -Wrestrict
    return s;
  }

 private:
  int64_t size_;
  Function fn_;
};

}  // namespace voxnn::data
