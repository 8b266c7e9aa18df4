// `voxnn info FILE [--json]`: what a NIfTI or safetensors file holds, read from its bytes.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "voxnn/io/orientation.hpp"
#include "voxnn/io/nifti.hpp"
#include "voxnn/io/safetensors.hpp"

#include "io/common.hpp"
#include "io/io_commands.hpp"

namespace voxnn::tools {

const char* const kInfoUsage =
    "usage: voxnn info                 how this binary was built\n"
    "       voxnn info FILE [--json] [--header-only]   what FILE holds\n"
    "\n"
    "FILE is a NIfTI-1 or NIfTI-2 volume (.nii or .nii.gz, either endianness) or a safetensors file; the\n"
    "format is read from the file's first bytes, not its name.\n"
    "  NIfTI:       dims, voxel size (pixdim), datatype and byte order, orientation codes of the affine\n"
    "               (nibabel's aff2axcodes, e.g. LAS), qform/sform codes, the voxel-to-world affine that\n"
    "               voxnn uses (sform if its code is 1..5, else qform, else nibabel's fallback from\n"
    "               pixdim), scl_slope/scl_inter, the value range\n"
    "               after scaling (NaN voxels counted, not ranged), version, vox_offset, extensions.\n"
    "  safetensors: every tensor (name, dtype, shape, bytes) in file order, and the metadata.\n"
    "--json prints one JSON object on one line instead (keys in this order):\n"
    "  {\"format\": \"nifti\", \"dims\", \"voxel_size\", \"datatype\", \"endianness\", \"orientation\",\n"
    "   \"qform_code\", \"sform_code\", \"affine\" (4 rows), \"scl_slope\", \"scl_inter\", \"min\", \"max\",\n"
    "   \"nan_count\", \"version\", \"vox_offset\", \"extensions\", \"descrip\", ...}\n"
    "  {\"format\": \"safetensors\", \"tensors\": [{\"name\", \"dtype\", \"shape\", \"bytes\"}, ...],\n"
    "   \"metadata\": {...}}\n"
    "  (min and max are null when every voxel is NaN.)\n"
    "--header-only skips reading NIfTI voxels: no value range (min, max, nan_count are null).\n"
    "Exit status: 0, or 1 with a message when FILE is missing, of another format or corrupt.\n";

namespace {

using json = nlohmann::ordered_json;  // keys in the order written: "format" first
namespace cli = io_cli;

const char* xform_name(int code) {
  switch (code) {
    case 0: return "unknown";
    case 1: return "scanner_anat";
    case 2: return "aligned_anat";
    case 3: return "talairach";
    case 4: return "mni_152";
    case 5: return "template_other";
    default: return "non-standard";
  }
}

// Header numbers for people: NIfTI-1 stores them as float32, so 7 significant digits show 2.2 where
// the double nearest the stored float is 2.19999909; NIfTI-2's float64 gets 10. --json keeps every digit.
int digits = 10;
std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out.append(i ? sep : "").append(parts[i]);
  return out;
}

struct Range {
  double min = NAN, max = NAN;
  int64_t nan_count = 0, count = 0;
};

template <class T>
Range value_range(const io::Volume<T>& v) {
  Range r;
  const T* p = v.data.data();
  const int64_t n = v.data.numel();
  r.count = n;
  T lo = std::numeric_limits<T>::infinity(), hi = -std::numeric_limits<T>::infinity();
  int64_t nans = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T x = p[i];
    if (std::isnan(x)) {
      ++nans;
      continue;
    }
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  r.nan_count = nans;
  if (nans < n) {
    r.min = static_cast<double>(lo);
    r.max = static_cast<double>(hi);
  }
  return r;
}

// Reads the voxels as float where that is exact for the stored type (after scaling, float's rounding
// is far below what the header's float32 slope carries), as double for 32/64-bit integers and float64.
Range nifti_range(const std::filesystem::path& path, const io::NiftiHeader& h) {
  const std::string_view type = io::nifti_datatype_name(h.datatype);
  const bool wide = type == "float64" || type == "int32" || type == "uint32" || type == "int64" || type == "uint64";
  if (wide) return value_range(io::read_nifti<double>(path));
  return value_range(io::read_nifti<float>(path));
}

json affine_json(const io::Affine& a) {
  json rows = json::array();
  for (int r = 0; r < 4; ++r) rows.push_back({a(r, 0), a(r, 1), a(r, 2), a(r, 3)});
  return rows;
}

json nullable(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

int info_nifti(const std::filesystem::path& path, bool as_json, bool header_only) {
  const io::NiftiHeader h = io::read_nifti_header(path);
  const io::Affine affine = h.affine();
  const std::string orientation = io::axcodes_string(affine);
  const Range range = header_only ? Range{} : nifti_range(path, h);
  const std::size_t ndim = h.dims.size();
  std::vector<double> voxel;
  for (std::size_t d = 0; d < std::min<std::size_t>(ndim, 3); ++d) voxel.push_back(h.pixdim[d + 1]);
  const std::string datatype(io::nifti_datatype_name(h.datatype));
  const char* endianness = h.big_endian ? "big" : "little";
  const std::size_t extensions = h.extensions.size();
  digits = h.version == 1 ? 7 : 10;

  if (as_json) {
    std::vector<double> pixdim;
    for (std::size_t d = 0; d < ndim && d + 1 < h.pixdim.size(); ++d) pixdim.push_back(h.pixdim[d + 1]);
    const json out = {
        {"format", "nifti"},
        {"file", path.string()},
        {"version", h.version},
        {"dims", h.dims},
        {"voxel_size", voxel},
        {"pixdim", pixdim},
        {"datatype", datatype},
        {"datatype_code", h.datatype},
        {"bitpix", h.bitpix},
        {"endianness", endianness},
        {"orientation", orientation},
        {"qform_code", h.qform_code},
        {"sform_code", h.sform_code},
        {"affine", affine_json(affine)},
        {"scl_slope", nullable(h.scl_slope)},
        {"scl_inter", nullable(h.scl_inter)},
        {"scaling_applied", h.has_scaling()},
        {"min", nullable(range.min)},
        {"max", nullable(range.max)},
        {"nan_count", header_only ? json(nullptr) : json(range.nan_count)},
        {"vox_offset", h.vox_offset},
        {"extensions", extensions},
        {"descrip", h.descrip},
    };
    std::printf("%s\n", out.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return 0;
  }

  std::vector<std::string> dims, sizes;
  for (int64_t d : h.dims) dims.push_back(std::to_string(d));
  for (double s : voxel) sizes.push_back(num(s));
  std::printf("file:         %s\n", path.string().c_str());
  std::printf("format:       NIfTI-%d, vox_offset %s\n", static_cast<int>(h.version), num(h.vox_offset).c_str());
  std::printf("dims:         %s\n", join(dims, " x ").c_str());
  std::printf("voxel size:   %s\n", join(sizes, " x ").c_str());
  if (ndim > 3) {
    std::vector<std::string> rest;
    for (std::size_t d = 3; d < ndim && d + 1 < h.pixdim.size(); ++d) rest.push_back(num(h.pixdim[d + 1]));
    std::printf("pixdim 4+:    %s\n", join(rest, " x ").c_str());
  }
  std::printf("datatype:     %s (code %d, %d bits), %s-endian\n", datatype.c_str(), static_cast<int>(h.datatype),
              static_cast<int>(h.bitpix), endianness);
  std::printf("orientation:  %s\n", orientation.c_str());
  std::printf("qform_code:   %d (%s)\n", static_cast<int>(h.qform_code), xform_name(h.qform_code));
  std::printf("sform_code:   %d (%s)\n", static_cast<int>(h.sform_code), xform_name(h.sform_code));
  for (int r = 0; r < 4; ++r) {
    char row[160];
    std::snprintf(row, sizeof row, "[%12.6g %12.6g %12.6g %12.6g ]", affine(r, 0), affine(r, 1), affine(r, 2),
                  affine(r, 3));
    std::printf("%s%s\n", r == 0 ? "affine:       " : "              ", row);
  }
  std::printf("scaling:      slope %s, inter %s (%s)\n", num(h.scl_slope).c_str(), num(h.scl_inter).c_str(),
              h.has_scaling() ? "applied" : "not applied: slope 0 or identity");
  if (header_only)
    std::printf("value range:  not read (--header-only)\n");
  else if (range.nan_count == range.count)
    std::printf("value range:  none: all %" PRId64 " voxels are NaN\n", range.count);
  else
    std::printf("value range:  %s .. %s%s, %" PRId64 " NaN voxel%s\n", num(range.min).c_str(), num(range.max).c_str(),
                h.has_scaling() ? " (scaled)" : "", range.nan_count, range.nan_count == 1 ? "" : "s");
  std::printf("extensions:   %zu\n", extensions);
  if (!h.descrip.empty()) std::printf("descrip:      %s\n", h.descrip.c_str());
  return 0;
}

// The header only: the tensors' bytes are not read.
io::detail::Header safetensors_header(const std::filesystem::path& path) {
  const uint64_t file_size = std::filesystem::file_size(path);
  std::ifstream in(path, std::ios::binary);
  VOXNN_CHECK(in, "safetensors: cannot open ", path);
  VOXNN_CHECK(file_size >= 8, "safetensors: ", path, " has ", file_size, " bytes (truncated file)");
  uint8_t length[8];
  in.read(reinterpret_cast<char*>(length), 8);
  const uint64_t n = io::detail::read_header_length(length);
  io::detail::check_header_length(n, file_size);
  std::string text(static_cast<std::size_t>(n), '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  VOXNN_CHECK(in, "safetensors: cannot read the ", n, "-byte header of ", path);
  return io::detail::parse_header(text, file_size - 8 - n);
}

int info_safetensors(const std::filesystem::path& path, bool as_json) {
  const io::detail::Header h = safetensors_header(path);
  uint64_t total_bytes = 0;
  int64_t total_elements = 0;
  for (const auto& e : h.layout) {
    total_bytes += e.end - e.begin;
    total_elements += e.shape.numel();
  }
  if (as_json) {
    json tensors = json::array();
    for (const auto& e : h.layout) {
      std::vector<int64_t> shape(e.shape.begin(), e.shape.end());
      tensors.push_back({{"name", e.name},
                         {"dtype", std::string(io::dtype_name(e.dtype))},
                         {"shape", shape},
                         {"bytes", e.end - e.begin},
                         {"data_offsets", {e.begin, e.end}}});
    }
    json metadata = json::object();
    for (const auto& [k, v] : h.metadata) metadata[k] = v;
    const json out = {{"format", "safetensors"}, {"file", path.string()},       {"tensors", tensors},
                      {"metadata", metadata},    {"total_bytes", total_bytes}, {"total_elements", total_elements}};
    std::printf("%s\n", out.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("file:         %s\n", path.string().c_str());
  std::printf("format:       safetensors, %zu tensor%s, %" PRIu64 " bytes of data, %" PRId64 " elements\n",
              h.layout.size(), h.layout.size() == 1 ? "" : "s", total_bytes, total_elements);
  bool first = true;
  for (const auto& [k, v] : h.metadata) {
    std::printf("%s%s = %s\n", first ? "metadata:     " : "              ", k.c_str(), v.c_str());
    first = false;
  }
  std::size_t width = 4;
  for (const auto& e : h.layout) width = std::max(width, e.name.size());
  width = std::min<std::size_t>(width, 60);
  std::printf("%-*s  %-5s  %-20s %s\n", static_cast<int>(width), "name", "dtype", "shape", "bytes");
  for (const auto& e : h.layout) {
    std::vector<std::string> dims;
    for (int64_t d : e.shape) dims.push_back(std::to_string(d));
    std::string shape = "[";  // appended: GCC 12 warns (falsely, -Wrestrict) on "literal" + std::string
    shape.append(join(dims, ", ")).append("]");
    std::printf("%-*s  %-5s  %-20s %" PRIu64 "\n", static_cast<int>(width), e.name.c_str(),
                std::string(io::dtype_name(e.dtype)).c_str(), shape.c_str(), e.end - e.begin);
  }
  return 0;
}

}  // namespace

int info_file_command(int argc, char** argv) {
  return cli::run_command("info", kInfoUsage, argc, argv, [&] {
    const cli::Args args(argc, argv, {}, {"--json", "--header-only"});
    if (args.positional.size() != 1)
      throw cli::UsageError(args.positional.empty() ? "no FILE given" : "one FILE at a time");
    const std::filesystem::path path = args.positional[0];
    switch (cli::detect_format(path)) {
      case cli::Format::nifti: return info_nifti(path, args.flag("--json"), args.flag("--header-only"));
      case cli::Format::safetensors: return info_safetensors(path, args.flag("--json"));
      case cli::Format::unknown: break;
    }
    throw std::runtime_error(path.string() + " is neither NIfTI (.nii, .nii.gz) nor safetensors; first bytes: " +
                             cli::first_bytes(path));
  });
}

}  // namespace voxnn::tools
