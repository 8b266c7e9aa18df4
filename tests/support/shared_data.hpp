#pragma once
// The real volumes of ../shared/data (VOXNN_SHARED_DATA, set by tests/CMakeLists.txt). A user's
// checkout may lack them, so a test that needs one skips with a warning; CI sets
// VOXNN_REQUIRE_SHARED_DATA=1, and there a missing volume fails the test instead of skipping it.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#ifndef VOXNN_SHARED_DATA
#error "VOXNN_SHARED_DATA must name the shared test data directory (tests/CMakeLists.txt defines it)"
#endif

namespace voxnn::test {

inline std::string shared_path(const std::string& relative) {
  return std::string(VOXNN_SHARED_DATA) + "/" + relative;
}

inline bool shared_data_required() {
  const char* v = std::getenv("VOXNN_REQUIRE_SHARED_DATA");
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

// True when the shared file exists; otherwise a warning (a failure under VOXNN_REQUIRE_SHARED_DATA).
inline bool have_shared_file(const std::string& relative) {
  const std::string path = shared_path(relative);
  if (std::filesystem::exists(path)) return true;
  if (shared_data_required()) FAIL("shared test volume " << path << " is missing (VOXNN_REQUIRE_SHARED_DATA is set)");
  WARN("skipped: shared test volume " << path << " is missing (see ../shared/data/SOURCES.md)");
  return false;
}

}  // namespace voxnn::test
