#pragma once
// StateDict: named tensors in registration order, as PyTorch's OrderedDict state_dict; and reading
// one from a safetensors file.
#include <filesystem>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "voxnn/core/tensor.hpp"
#include "voxnn/io/safetensors.hpp"

namespace voxnn::nn {

template <Real T, Device D = Cpu>
class StateDict {
 public:
  using Entry = std::pair<std::string, Tensor<T, D>>;

  void insert(std::string name, Tensor<T, D> value) {
    VOXNN_CHECK(!index_.count(name), "state_dict: duplicate key '", name, "'");
    index_.emplace(name, entries_.size());
    entries_.emplace_back(std::move(name), std::move(value));
  }
  const Tensor<T, D>* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second].second;
  }
  const Tensor<T, D>& at(const std::string& name) const {
    const Tensor<T, D>* t = find(name);
    VOXNN_CHECK(t != nullptr, "state_dict: no key '", name, "'");
    return *t;
  }
  bool contains(const std::string& name) const { return index_.count(name) > 0; }
  std::size_t size() const { return entries_.size(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

// What load_state_dict found: keys the module has that the dict lacks, keys the dict has that the
// module lacks, and keys present in both whose shapes differ ("name: [dict] vs [module]").
struct LoadResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
  std::vector<std::string> mismatched_keys;
  bool ok() const { return missing_keys.empty() && unexpected_keys.empty() && mismatched_keys.empty(); }
};

// Every tensor of a safetensors file, converted to T, as a state dict in the file's order:
//   net.load_state_dict(nn::load_state_dict<float>("weights.safetensors"));
// tools/export_pytorch.py writes such a file from a PyTorch checkpoint, with PyTorch's names.
template <Real T>
StateDict<T> load_state_dict(const std::filesystem::path& path) {
  const io::TensorFile file = io::load_safetensors(path);
  StateDict<T> dict;
  for (const auto& entry : file.entries()) dict.insert(entry.name, file.get<T>(entry.name));
  return dict;
}

}  // namespace voxnn::nn
