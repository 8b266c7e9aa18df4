// libFuzzer target for the safetensors reader: io::parse_safetensors on the raw bytes.
//
// Contract checked: hostile bytes give a voxnn::Error or a TensorFile; anything else escaping (another
// exception type, a sanitizer report, an allocation beyond -rss_limit_mb) is a finding. What parses
// must also (1) read the same through load_safetensors from a file, (2) convert every tensor to
// double, and (3) survive serialize_safetensors + parse_safetensors unchanged.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>

#include "voxnn/io/safetensors.hpp"

namespace {

using voxnn::io::TensorEntry;
using voxnn::io::TensorFile;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_safetensors: %s\n", what);
  std::abort();
}

bool same_entry(const TensorEntry& a, const TensorEntry& b) {
  return a.name == b.name && a.dtype == b.dtype && a.shape == b.shape && a.bytes == b.bytes;
}

bool same_file(const TensorFile& a, const TensorFile& b) {
  if (a.metadata != b.metadata || a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same_entry(a.entries()[i], b.entries()[i])) return false;
  return true;
}

// One scratch file per process (libFuzzer's -fork/-jobs run several), removed at exit.
struct ScratchFile {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("voxnn_fuzz_safetensors_" + std::to_string(::getpid()) + ".bin");
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};
const std::filesystem::path& scratch_path() {
  static const ScratchFile file;
  return file.path;
}

std::optional<TensorFile> load_via_file(const uint8_t* data, size_t size) {
  {
    std::ofstream out(scratch_path(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) finding("cannot write the scratch file");
  }
  try {
    return voxnn::io::load_safetensors(scratch_path());
  } catch (const voxnn::Error&) {
    return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<TensorFile> file;
  try {
    file = voxnn::io::parse_safetensors(std::span<const uint8_t>(data, size));
  } catch (const voxnn::Error&) {
  }

  // The streaming file reader must agree with the in-memory one on every input.
  const std::optional<TensorFile> loaded = load_via_file(data, size);
  if (file.has_value() != loaded.has_value()) finding("parse_safetensors and load_safetensors disagree on success");
  if (!file) return 0;
  if (!same_file(*file, *loaded)) finding("parse_safetensors and load_safetensors read different tensors");

  // Every stored dtype widens to double without an error.
  double sum = 0;
  for (const TensorEntry& e : file->entries()) {
    const voxnn::Tensor<double> t = file->get<double>(e.name);
    if (t.numel() > 0) sum += t.data()[0];
  }
  (void)sum;

  const std::vector<uint8_t> bytes = voxnn::io::serialize_safetensors(*file);
  TensorFile again;
  try {
    again = voxnn::io::parse_safetensors(bytes);
  } catch (const voxnn::Error& e) {
    std::fprintf(stderr, "re-parse error: %s\n", e.what());
    finding("a serialized file does not parse back");
  }
  if (!same_file(*file, again)) finding("serialize + parse changed the tensors");
  return 0;
}
