#pragma once
// What the io subcommands of the voxnn tool share (`voxnn info FILE`, `voxnn slices`, `voxnn resample`):
// a small command-line parser, number lists ("2,2,2"), file-format detection by magic bytes, and the
// wrapper that turns errors into exit codes (2: bad arguments, with the usage text; 1: the work failed,
// e.g. a missing or corrupt file; both print one line starting with "voxnn <command>: ").
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace voxnn::tools::io_cli {

// A mistake in the arguments (exit status 2, usage printed), as opposed to a failure of the work.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Options take their value as `--name VALUE` or `--name=VALUE`; flags take none. Arguments that do not
// start with "--" are positional, and "--" ends the options. `multi` options consume every following
// argument up to the next option (`--compare a.nii b.nii`) and may also be repeated.
class Args {
 public:
  Args(int argc, char** argv, std::vector<std::string_view> valued, std::vector<std::string_view> flags,
       std::vector<std::string_view> multi = {}) {
    bool options_done = false;
    for (int i = 1; i < argc; ++i) {
      const std::string_view a = argv[i];
      if (options_done || !a.starts_with("-") || a == "-" || is_number(a)) {
        positional.emplace_back(a);
        continue;
      }
      if (a == "--") {
        options_done = true;
        continue;
      }
      if (a == "-h" || a == "--help") {
        help = true;
        continue;
      }
      std::string_view name = a;
      std::optional<std::string> inline_value;
      if (const auto eq = a.find('='); eq != std::string_view::npos) {
        name = a.substr(0, eq);
        inline_value = std::string(a.substr(eq + 1));
      }
      const auto known = [&](const std::vector<std::string_view>& list) {
        for (std::string_view n : list)
          if (n == name) return true;
        return false;
      };
      if (known(flags)) {
        if (inline_value) throw UsageError(std::string(name) + " takes no value");
        given_.push_back({std::string(name), ""});
      } else if (known(valued)) {
        if (!inline_value && (i + 1 >= argc)) throw UsageError(std::string(name) + " needs a value");
        given_.push_back({std::string(name), inline_value ? *inline_value : std::string(argv[++i])});
      } else if (known(multi)) {
        if (inline_value) given_.push_back({std::string(name), *inline_value});
        bool any = inline_value.has_value();
        while (i + 1 < argc && !(std::string_view(argv[i + 1]).starts_with("-") && !is_number(argv[i + 1]))) {
          given_.push_back({std::string(name), argv[++i]});
          any = true;
        }
        if (!any) throw UsageError(std::string(name) + " needs at least one value");
      } else {
        throw UsageError("unknown option '" + std::string(a) + "'");
      }
    }
  }

  std::vector<std::string> positional;
  bool help = false;

  bool flag(std::string_view name) const {
    for (const auto& g : given_)
      if (g.name == name) return true;
    return false;
  }
  // The last value given for `name`.
  std::optional<std::string> value(std::string_view name) const {
    std::optional<std::string> v;
    for (const auto& g : given_)
      if (g.name == name) v = g.value;
    return v;
  }
  // Every value given for `name`, in order.
  std::vector<std::string> values(std::string_view name) const {
    std::vector<std::string> v;
    for (const auto& g : given_)
      if (g.name == name) v.push_back(g.value);
    return v;
  }

 private:
  struct Given {
    std::string name, value;
  };
  std::vector<Given> given_;

  static bool is_number(std::string_view a) {  // "-1,2" is a value, not an option
    return a.size() > 1 && a[0] == '-' && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.');
  }
};

// "2,2,2.5" -> {2, 2, 2.5}; exactly `count` finite numbers (count 0: any number of them, at least one).
inline std::vector<double> parse_numbers(std::string_view option, std::string_view text, std::size_t count) {
  std::vector<double> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::size_t length = comma == std::string_view::npos ? std::string_view::npos : comma - start;
    const std::string piece(text.substr(start, length));
    char* end = nullptr;
    const double v = piece.empty() ? NAN : std::strtod(piece.c_str(), &end);
    if (piece.empty() || end != piece.c_str() + piece.size() || !std::isfinite(v))
      throw UsageError(std::string(option) + " '" + std::string(text) + "': '" + piece + "' is not a finite number");
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (count != 0 && out.size() != count)
    throw UsageError(std::string(option) + " '" + std::string(text) + "' has " + std::to_string(out.size()) +
                     " numbers; expected " + std::to_string(count) + " (comma-separated, e.g. 2,2,2)");
  return out;
}

// ---- file formats ------------------------------------------------------------------------------------

enum class Format { nifti, safetensors, unknown };

// NIfTI-1 (348-byte header, magic "n+1"/"ni1" at byte 344) or NIfTI-2 (540 bytes, magic "n+2"/"ni2" at
// byte 4), either endianness, plain or gzip-compressed; safetensors (an 8-byte little-endian header
// length that fits the file, followed by '{'). Decided by the bytes, not the file name.
inline Format detect_format(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw std::runtime_error("cannot open " + path.string() + ": " + ec.message());
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    unsigned char head[9] = {};
    in.read(reinterpret_cast<char*>(head), 9);
    if (in.gcount() == 9 && head[8] == '{') {
      uint64_t n = 0;
      for (int i = 7; i >= 0; --i) n = (n << 8) | head[i];
      if (n <= size - 8) return Format::safetensors;
    }
  }
  // gzread reads plain files as they are, so one path serves .nii and .nii.gz.
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) throw std::runtime_error("cannot open " + path.string());
  unsigned char h[544] = {};
  const int got = gzread(gz, h, sizeof h);
  gzclose(gz);
  if (got < 348) return Format::unknown;
  auto sizeof_hdr = [&](bool swap) {
    return swap ? (uint32_t{h[0]} << 24 | uint32_t{h[1]} << 16 | uint32_t{h[2]} << 8 | h[3])
                : (uint32_t{h[3]} << 24 | uint32_t{h[2]} << 16 | uint32_t{h[1]} << 8 | h[0]);
  };
  const bool is348 = sizeof_hdr(false) == 348 || sizeof_hdr(true) == 348;
  const bool is540 = sizeof_hdr(false) == 540 || sizeof_hdr(true) == 540;
  if (is348 && (std::memcmp(h + 344, "n+1\0", 4) == 0 || std::memcmp(h + 344, "ni1\0", 4) == 0)) return Format::nifti;
  if (is540 && got >= 540 && (std::memcmp(h + 4, "n+2\0", 4) == 0 || std::memcmp(h + 4, "ni2\0", 4) == 0))
    return Format::nifti;
  return Format::unknown;
}

// The first bytes of a file in hex, for a message about a file of unknown format.
inline std::string first_bytes(const std::filesystem::path& path, int count = 8) {
  std::ifstream in(path, std::ios::binary);
  std::string out;
  char b;
  for (int i = 0; i < count && in.get(b); ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>(b));
    if (i) out += ' ';
    out += hex;
  }
  return out.empty() ? "(empty file)" : out;
}

inline void require_nifti(std::string_view what, const std::filesystem::path& path) {
  if (detect_format(path) != Format::nifti)
    throw std::runtime_error(std::string(what) + " " + path.string() +
                             " is not a NIfTI-1/NIfTI-2 file (.nii or .nii.gz); first bytes: " + first_bytes(path));
}

// Runs a subcommand body: --help prints `usage` to stdout (exit 0); a UsageError prints the message and
// the synopsis (`usage` up to its first blank line) to stderr (exit 2); any other exception prints
// "voxnn <command>: <message>" (exit 1).
template <class Body>
int run_command(const char* command, const char* usage, int argc, char** argv, Body body) {
  try {
    for (int i = 1; i < argc; ++i)
      if (std::string_view(argv[i]) == "--") break;
      else if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
        std::fputs(usage, stdout);
        return 0;
      }
    return body();
  } catch (const UsageError& e) {
    const std::string_view text(usage);  // the synopsis: the usage lines before the first blank line
    const std::string_view synopsis = text.substr(0, std::min(text.size(), text.find("\n\n") + 1));
    std::fprintf(stderr, "voxnn %s: %s\n%.*s(voxnn %s --help for more)\n", command, e.what(),
                 static_cast<int>(synopsis.size()), synopsis.data(), command);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "voxnn %s: %s\n", command, e.what());
    return 1;
  }
}

}  // namespace voxnn::tools::io_cli
