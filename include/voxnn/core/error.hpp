#pragma once
// voxnn::Error and VOXNN_CHECK: every failure the library reports names the op and the shapes.
#include <sstream>
#include <stdexcept>
#include <string>

namespace voxnn {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
[[noreturn]] void throw_error(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}
}  // namespace detail

}  // namespace voxnn

// VOXNN_CHECK(cond, "op: what went wrong ", shape, ...): the message parts are streamed only on failure.
#define VOXNN_CHECK(cond, ...)                        \
  do {                                                \
    if (!(cond)) [[unlikely]]                         \
      ::voxnn::detail::throw_error(__VA_ARGS__);      \
  } while (0)
