// libFuzzer target for the NIfTI reader: io::parse_nifti_header and io::parse_nifti<T> on the raw
// bytes, which may be a .nii or a .nii.gz (gzip magic).
//
// Contract checked: hostile bytes give a voxnn::Error or a volume; anything else escaping (another
// exception type, a sanitizer report, an allocation beyond -rss_limit_mb) is a finding. What parses
// must also
//   - have a header that parse_nifti_header accepts,
//   - read the same through read_nifti from a file (a separate, streaming code path),
//   - write back exactly: as float32 with the file's geometry and codes (any file; also gzipped), and with
//     write_options_like(header) (files without scaling whose values a double holds exactly),
//     each parsing back to the same voxels bit for bit and a close affine.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>

#include "voxnn/io/gzip.hpp"
#include "voxnn/io/nifti.hpp"

namespace {

namespace io = voxnn::io;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_nifti: %s\n", what);
  std::abort();
}

template <class T>
bool same_bits(const voxnn::Tensor<T>& a, const voxnn::Tensor<T>& b) {
  if (a.shape() != b.shape()) return false;
  const voxnn::Tensor<T> ca = a.contiguous(), cb = b.contiguous();
  return a.numel() == 0 || std::memcmp(ca.data(), cb.data(), static_cast<std::size_t>(a.numel()) * sizeof(T)) == 0;
}

// Affines agree to the precision a NIfTI-1 header stores them in (float32), when they are finite.
bool close_affine(const io::Affine& a, const io::Affine& b) {
  double scale = 1;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) {
      if (!std::isfinite(a.m[r][c])) return true;  // nothing sensible to compare
      scale = std::max(scale, std::abs(a.m[r][c]));
    }
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      if (!(std::abs(a.m[r][c] - b.m[r][c]) <= 1e-5 * scale)) return false;
  return true;
}

// Writes `v` with `options`, parses it back, and checks voxels and affine. A writer that refuses the
// volume with a voxnn::Error (say, an affine it cannot store) is allowed; output it cannot read is not.
template <class T>
void check_round_trip(const io::Volume<T>& v, const io::NiftiWriteOptions& options, const char* what,
                      bool gzip = false) {
  std::vector<uint8_t> bytes;
  try {
    bytes = io::serialize_nifti(v, options);
  } catch (const voxnn::Error&) {
    return;
  }
  if (gzip) bytes = io::gzip_compress(bytes, 1);  // what write_nifti does for a .nii.gz path
  io::Volume<T> back;
  try {
    back = io::parse_nifti<T>(bytes);
  } catch (const voxnn::Error& e) {
    std::fprintf(stderr, "%s: re-parse error: %s\n", what, e.what());
    finding("a serialized volume does not parse back");
  }
  if (!same_bits(v.data, back.data)) {
    std::fprintf(stderr, "%s\n", what);
    finding("serialize_nifti + parse_nifti changed the voxels");
  }
  if (!close_affine(v.affine, back.affine)) {
    std::fprintf(stderr, "%s\n", what);
    finding("serialize_nifti + parse_nifti changed the affine");
  }
}

// One scratch file per process (libFuzzer's -fork/-jobs run several), removed at exit.
struct ScratchFile {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("voxnn_fuzz_nifti_" + std::to_string(::getpid()) + ".nii");
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};
const std::filesystem::path& scratch_path() {
  static const ScratchFile file;
  return file.path;
}

std::optional<io::Volume<float>> read_via_file(std::span<const uint8_t> bytes) {
  {
    std::ofstream out(scratch_path(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) finding("cannot write the scratch file");
  }
  try {
    return io::read_nifti<float>(scratch_path());
  } catch (const voxnn::Error&) {
    return std::nullopt;
  }
}

template <class T>
void parse_only(std::span<const uint8_t> bytes) {
  try {
    (void)io::parse_nifti<T>(bytes);
  } catch (const voxnn::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  bool header_ok = false;
  try {
    (void)io::parse_nifti_header(bytes);
    header_ok = true;
  } catch (const voxnn::Error&) {
  }

  io::NiftiHeader h;
  std::optional<io::Volume<float>> v;
  try {
    v = io::parse_nifti<float>(bytes, &h);
  } catch (const voxnn::Error&) {
  }
  // Integer targets may refuse (scaled data, values out of range) but must not crash.
  parse_only<int32_t>(bytes);
  parse_only<uint8_t>(bytes);
  parse_only<bool>(bytes);

  const std::optional<io::Volume<float>> from_file = read_via_file(bytes);
  if (v.has_value() != from_file.has_value()) finding("parse_nifti and read_nifti disagree on success");
  if (!v) return 0;
  if (!header_ok) finding("parse_nifti read a volume whose header parse_nifti_header refuses");
  if (!same_bits(v->data, from_file->data) || std::memcmp(&v->affine, &from_file->affine, sizeof(io::Affine)) != 0)
    finding("parse_nifti and read_nifti read different volumes");

  // Exact for every file: float voxels written as float32, geometry and codes kept.
  io::NiftiWriteOptions as_float = io::write_options_like(h);
  as_float.datatype = io::nifti_type::float32;
  as_float.scl_slope = 1;
  as_float.scl_inter = 0;
  check_round_trip(*v, as_float, "as float32");
  check_round_trip(*v, as_float, "as float32, gzip-compressed", true);

  // Exact in the file's own datatype when there is no scaling and double holds every value.
  const bool wide_int = h.datatype == io::nifti_type::int64 || h.datatype == io::nifti_type::uint64;
  if (!h.has_scaling() && !wide_int) {
    io::Volume<double> vd;
    try {
      vd = io::parse_nifti<double>(bytes);
    } catch (const voxnn::Error& e) {
      std::fprintf(stderr, "parse_nifti<double>: %s\n", e.what());
      finding("parse_nifti<float> read a file that parse_nifti<double> refuses");
    }
    check_round_trip(vd, io::write_options_like(h), "like the file");
  }
  return 0;
}
