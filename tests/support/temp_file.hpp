#pragma once
// A file-system path in the temporary directory that no other test (or parallel ctest process) uses,
// removed with its ".tmp" sibling when the object goes away.
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace voxnn::test {

struct TempFile {
  std::filesystem::path path;

  explicit TempFile(const std::string& suffix) {
    static std::mt19937_64 rng{std::random_device{}()};
    path = std::filesystem::temp_directory_path() / ("voxnn_test_" + std::to_string(rng()) + suffix);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::filesystem::remove(path.string() + ".tmp", ec);
  }
};

}  // namespace voxnn::test
