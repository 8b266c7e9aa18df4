#pragma once
// Reading and writing NIfTI-1 / NIfTI-2 volumes (.nii, and .nii.gz through zlib) as io::Volume<T>.
// The header, its affines and its checks are io/nifti_header.hpp.
//
// Reading: any real datatype (u8 i8 i16 u16 i32 u32 i64 u64 f32 f64) in either byte order converts to
// the requested T. Volume::data is indexed [i, j, k, t, ...] like nibabel's arrays (the file's
// i-fastest order transposed into voxnn's row-major tensor) and has max(3, dim[0]) dims: a 1-D or 2-D
// image gets trailing extents of 1. The affine is NiftiHeader::affine(). Scaling (data * scl_slope +
// scl_inter, when the slope is nonzero and finite) is applied in double and then cast to a float or
// double T; reading scaled data into an integer or bool T is an error. Float data read into an
// integer T rounds to nearest; NaN or a value out of T's range is an error. NaN voxels stay NaN in a
// float T. A .nii.gz stream must decompress to exactly vox_offset + the voxel data (more or less is
// an error); an uncompressed file may carry trailing bytes, which are ignored, as nibabel does.
// Allocation is bounded by what the input can hold: the voxel bytes are checked against the file size
// (or what the compressed bytes can expand to) before the buffers are made.
//
// Writing: the datatype is T's own (float -> float32, double -> float64, int64 -> int64, int32 ->
// int32, uint8 and bool -> uint8) unless options name another; a scl_slope / scl_inter pair stores
// (value - inter) / slope. Integer datatypes round to nearest; NaN or a value out of range is an error
// (no automatic scaling: pick slope and inter yourself, or write a float datatype). The affine goes
// to the sform and to the qform (its closest rotation, as nibabel's set_qform; shears are dropped
// there), both with code 1 (scanner) unless options say otherwise; nibabel's own images write
// sform code 2 (aligned) and qform code 0.
// NIfTI-1 stores the affine, pixdim and scaling as float32, NIfTI-2 as float64: a write->read round
// trip is exact for the data, codes, datatype, extensions (less trailing NUL bytes, which a reader
// strips as nibabel does) and (NIfTI-2, or float32-exact values) the affine and scaling.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/shape.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/io/gzip.hpp"
#include "voxnn/io/nifti_header.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::io {

// The datatype a Volume<T> is written as by default.
template <Element T>
constexpr int16_t default_nifti_datatype() {
  if constexpr (std::is_same_v<T, float>) return nifti_type::float32;
  else if constexpr (std::is_same_v<T, double>) return nifti_type::float64;
  else if constexpr (std::is_same_v<T, int64_t>) return nifti_type::int64;
  else if constexpr (std::is_same_v<T, int32_t>) return nifti_type::int32;
  else return nifti_type::uint8;  // uint8_t and bool
}

namespace detail {

// ---- the transposing walk --------------------------------------------------------------------------

// Visits every voxel of an array with extents `dims`, pairing its index in the file (axis 0 fastest)
// with its index in a row-major tensor (last axis fastest), one tile at a time: body(file_index,
// file_stride, tensor_index, tensor_stride, na, nb) covers na x nb voxels (na <= TileA, nb <= TileB),
// voxel (a, b) at file index file_index + a + b * file_stride and tensor index tensor_index +
// a * tensor_stride + b, so the file side is contiguous along a and the tensor side along b. Axes of
// extent 1 are dropped first; tiles are split between threads over the middle axes and the first.
template <int64_t TileA, int64_t TileB, class Body>
void for_each_nifti_tile(const std::vector<int64_t>& dims, Body&& body) {
  std::vector<int64_t> d;  // extents of 1 change neither layout
  for (int64_t x : dims)
    if (x != 1) d.push_back(x);
  while (d.size() < 2) d.push_back(1);
  const int nd = static_cast<int>(d.size());
  const int64_t a_len = d[0], b_len = d[nd - 1];
  int64_t middle = 1;
  std::array<int64_t, kMaxRank> mid_stride{};  // file stride of each middle axis
  int64_t stride = a_len;
  for (int x = 1; x < nd - 1; ++x) {
    mid_stride[x] = stride;
    stride *= d[x];
    middle *= d[x];
  }
  const int64_t file_stride = stride;  // of the last axis: a_len * middle
  const int64_t tensor_stride = middle * b_len;  // of the first axis
  const int64_t a_tiles = (a_len + TileA - 1) / TileA;
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / (TileA * b_len));
  parallel_for(0, middle * a_tiles, grain, [&](int64_t r0, int64_t r1) {
    int64_t q = r0 / a_tiles, ta = r0 % a_tiles;
    std::array<int64_t, kMaxRank> m{};  // middle multi-index of q (row-major, last middle axis fastest)
    int64_t mid_file = 0;
    for (int64_t rest = q, x = nd - 2; x >= 1; --x) {
      m[x] = rest % d[x];
      rest /= d[x];
      mid_file += m[x] * mid_stride[x];
    }
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t a0 = ta * TileA, na = std::min(TileA, a_len - a0);
      for (int64_t b0 = 0; b0 < b_len; b0 += TileB)
        body(a0 + mid_file + b0 * file_stride, file_stride, a0 * tensor_stride + q * b_len + b0, tensor_stride, na,
             std::min(TileB, b_len - b0));
      if (++ta == a_tiles) {
        ta = 0;
        ++q;
        for (int x = nd - 2; x >= 1; --x) {  // odometer step over the middle axes
          mid_file += mid_stride[x];
          if (++m[x] < d[x]) break;
          mid_file -= m[x] * mid_stride[x];
          m[x] = 0;
        }
      }
    }
  });
}

template <class S>
inline S load_voxel(const uint8_t* p) {
  S v;
  std::memcpy(&v, p, sizeof(S));
  return v;
}

template <class S>
inline void store_voxel(uint8_t* p, S v) {
  std::memcpy(p, &v, sizeof(S));
}

// Reverses the bytes of each `size`-byte element in place (a file in the other byte order).
inline void swap_bytes_in_place(uint8_t* p, int64_t count, int size) {
  const auto run = [&]<class U>(U*) {
    parallel_for(0, count, kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        U u;
        std::memcpy(&u, p + i * static_cast<int64_t>(sizeof(U)), sizeof(U));
        u = byteswap_value(u);
        std::memcpy(p + i * static_cast<int64_t>(sizeof(U)), &u, sizeof(U));
      }
    });
  };
  if (size == 2) run(static_cast<uint16_t*>(nullptr));
  else if (size == 4) run(static_cast<uint32_t*>(nullptr));
  else if (size == 8) run(static_cast<uint64_t*>(nullptr));
}

// Rounds a double into integer type I; false when NaN or out of range.
template <class I>
inline bool round_into(double x, I& out) {
  const double r = std::nearbyint(x);
  constexpr double lo = static_cast<double>(std::numeric_limits<I>::min());
  constexpr double hi = 2.0 * static_cast<double>(std::numeric_limits<I>::max() / 2 + 1);  // max + 1, exact
  if (!(r >= lo && r < hi)) {
    out = I{};  // defined even on failure: the tile loops copy every slot before checking
    return false;
  }
  out = static_cast<I>(r);
  return true;
}

// One voxel from file type S to T: returns false when it does not fit (integer T, or NaN into bool).
template <class T, class S, bool Scale>
inline bool voxel_to(S v, double slope, double inter, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if constexpr (std::is_floating_point_v<S>)
      if (std::isnan(v)) {  // NaN is neither true nor false: an error, as for integers
        out = false;        // a bool slot left unset would be copied as an invalid bool
        return false;
      }
    out = v != S(0);
    return true;
  } else if constexpr (std::is_floating_point_v<T>) {
    if constexpr (Scale) out = static_cast<T>(static_cast<double>(v) * slope + inter);
    else out = static_cast<T>(v);
    return true;
  } else if constexpr (std::is_floating_point_v<S>) {
    return round_into<T>(static_cast<double>(v), out);
  } else {
    if (!std::in_range<T>(v)) {
      out = T{};
      return false;
    }
    out = static_cast<T>(v);
    return true;
  }
}

// The voxel index (i, j, k, ...) of a file-order linear index, for messages.
inline std::string voxel_text(int64_t linear, const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    s += (i ? ", " : "") + std::to_string(linear % dims[i]);
    linear /= dims[i];
  }
  return s + ")";
}

template <class T, class S, bool Scale>
void convert_from_file(const uint8_t* raw, T* out, const std::vector<int64_t>& dims, double slope, double inter) {
  std::atomic<bool> bad{false};
  constexpr int64_t kA = 16, kB = 16;  // tile sizes measured fastest on the 197x233x189 MNI grid
  for_each_nifti_tile<kA, kB>(dims, [&](int64_t fi, int64_t fs, int64_t ti, int64_t ts, int64_t na, int64_t nb) {
    T tile[kB][kA];  // [b][a]: filled along the file's rows, emptied along the tensor's
    bool ok = true;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* src = raw + (fi + b * fs) * static_cast<int64_t>(sizeof(S));
      for (int64_t a = 0; a < na; ++a)
        ok &= voxel_to<T, S, Scale>(load_voxel<S>(src + a * static_cast<int64_t>(sizeof(S))), slope, inter, tile[b][a]);
    }
    for (int64_t a = 0; a < na; ++a) {
      T* dst = out + ti + a * ts;
      for (int64_t b = 0; b < nb; ++b) dst[b] = tile[b][a];
    }
    if (!ok) bad.store(true, std::memory_order_relaxed);
  });
  if (!bad.load()) return;
  // Rare path: find the first offending voxel in file order for the message.
  int64_t numel = 1;
  for (int64_t x : dims) numel *= x;
  for (int64_t i = 0; i < numel; ++i) {
    const S v = load_voxel<S>(raw + i * static_cast<int64_t>(sizeof(S)));
    T t;
    if (!voxel_to<T, S, Scale>(v, slope, inter, t))
      ::voxnn::detail::throw_error("nifti: voxel ", voxel_text(i, dims), " holds ", +v, ", which does not fit ",
                                   element_name<T>(), " (NaN, out of range)");
  }
}

// Calls f(static_cast<S*>(nullptr)) with S the C++ type of a supported NIfTI datatype.
template <class F>
void visit_nifti_type(int16_t datatype, F&& f) {
  switch (datatype) {
    case nifti_type::uint8: return f(static_cast<uint8_t*>(nullptr));
    case nifti_type::int8: return f(static_cast<int8_t*>(nullptr));
    case nifti_type::int16: return f(static_cast<int16_t*>(nullptr));
    case nifti_type::uint16: return f(static_cast<uint16_t*>(nullptr));
    case nifti_type::int32: return f(static_cast<int32_t*>(nullptr));
    case nifti_type::uint32: return f(static_cast<uint32_t*>(nullptr));
    case nifti_type::int64: return f(static_cast<int64_t*>(nullptr));
    case nifti_type::uint64: return f(static_cast<uint64_t*>(nullptr));
    case nifti_type::float32: return f(static_cast<float*>(nullptr));
    case nifti_type::float64: return f(static_cast<double*>(nullptr));
    default: ::voxnn::detail::throw_error("nifti: datatype ", datatype, " has no converter");
  }
}

template <class T, bool Scale>
void convert_from_file_any(int16_t datatype, const uint8_t* raw, T* out, const std::vector<int64_t>& dims, double slope,
                           double inter) {
  visit_nifti_type(datatype, [&]<class S>(S*) { convert_from_file<T, S, Scale>(raw, out, dims, slope, inter); });
}

inline void require_supported_datatype(const NiftiHeader& h) {
  VOXNN_CHECK(nifti_datatype_supported(h.datatype), "nifti: datatype ", nifti_datatype_name(h.datatype), " (",
              h.datatype, ") is not supported; voxnn reads real scalar voxels (uint8, int8, int16, uint16, int32, "
              "uint32, int64, uint64, float32, float64)");
}

// The tensor shape of a header's dims: at least 3 axes.
inline Shape nifti_tensor_shape(const std::vector<int64_t>& dims) {
  Shape s(dims);
  while (s.size() < 3) s.push_back(1);
  return s;
}

// Converts a header's voxel bytes (file order, native byte order) into a Volume<T>.
template <Element T>
Volume<T> nifti_volume_from_raw(const NiftiHeader& h, const uint8_t* raw) {
  const bool slope_valid = h.scl_slope != 0 && std::isfinite(h.scl_slope);
  VOXNN_CHECK(!slope_valid || std::isfinite(h.scl_inter), "nifti: scl_slope ", h.scl_slope,
              " is valid but scl_inter ", h.scl_inter, " is not finite");
  const bool scale = h.has_scaling();
  if constexpr (!std::is_floating_point_v<T>) {
    VOXNN_CHECK(!scale, "nifti: the data has scaling (scl_slope ", h.scl_slope, ", scl_inter ", h.scl_inter,
                "); read it as float or double, not ", element_name<T>());
  }
  Volume<T> v;
  v.affine = h.affine();
  v.data = Tensor<T>(nifti_tensor_shape(h.dims));
  if constexpr (std::is_floating_point_v<T>) {
    if (scale) {
      convert_from_file_any<T, true>(h.datatype, raw, v.data.data(), h.dims, h.scl_slope, h.scl_inter);
      return v;
    }
  }
  convert_from_file_any<T, false>(h.datatype, raw, v.data.data(), h.dims, 1.0, 0.0);
  return v;
}

// Reads header, extensions and voxel data from a source.
template <Element T, class Source>
Volume<T> read_nifti_from(Source& src, NiftiHeader* header) {
  NiftiHeader h = read_nifti_header_from(src);
  require_supported_datatype(h);
  const uint64_t here = src.position();
  if constexpr (!std::is_same_v<Source, GzipReader>)
    VOXNN_CHECK(static_cast<uint64_t>(h.vox_offset) - here <= src.max_remaining(), "nifti: vox_offset ", h.vox_offset,
                " is beyond the end of the ", here + src.max_remaining(), "-byte file");
  src.skip(static_cast<uint64_t>(h.vox_offset) - here, "the bytes before vox_offset");
  const auto nbytes = static_cast<uint64_t>(h.data_bytes());
  require_available(src, nbytes, "the voxel data");
  const bool swap = h.big_endian != host_is_big_endian();
  const int size = h.bitpix / 8;
  Volume<T> v;
  std::vector<uint8_t> raw;
  if constexpr (std::is_same_v<Source, SpanSource>) {
    const uint8_t* p = src.view(static_cast<std::size_t>(nbytes), "the voxel data");
    if (!swap) {
      v = nifti_volume_from_raw<T>(h, p);
    } else {  // the other byte order: swap a copy
      raw.assign(p, p + nbytes);
      swap_bytes_in_place(raw.data(), h.numel(), size);
      v = nifti_volume_from_raw<T>(h, raw.data());
    }
  } else {
    raw.resize(static_cast<std::size_t>(nbytes));
    src.read_exact(raw.data(), raw.size(), "the voxel data");
    if constexpr (std::is_same_v<Source, GzipReader>)
      VOXNN_CHECK(src.at_end(), "gzip: the stream holds more than the ", h.vox_offset + h.data_bytes(),
                  " bytes the NIfTI header declares (vox_offset ", h.vox_offset, " + ", h.data_bytes(),
                  " bytes of voxels)");
    if (swap) swap_bytes_in_place(raw.data(), h.numel(), size);
    v = nifti_volume_from_raw<T>(h, raw.data());
  }
  if (header) *header = std::move(h);
  return v;
}

}  // namespace detail

// ---- reading ---------------------------------------------------------------------------------------

// A volume from the bytes of a .nii file, or of a .nii.gz (gzip magic 1f 8b). `header`, when given,
// receives the header with its extensions.
template <Element T>
Volume<T> parse_nifti(std::span<const uint8_t> bytes, NiftiHeader* header = nullptr) {
  if (is_gzip(bytes)) {
    GzipReader src(bytes);
    return detail::read_nifti_from<T>(src, header);
  }
  detail::SpanSource src(bytes);
  return detail::read_nifti_from<T>(src, header);
}

// A volume from a .nii or .nii.gz file (gzip is recognised by its magic number). Reads the header,
// the extensions and the voxel bytes, nothing after them. Errors name the path.
template <Element T>
Volume<T> read_nifti(const std::filesystem::path& path, NiftiHeader* header = nullptr) {
  return detail::with_path(path, [&] {
    if (detail::file_is_gzip(path)) {
      GzipReader src(path);
      return detail::read_nifti_from<T>(src, header);
    }
    detail::FileSource src(path);
    return detail::read_nifti_from<T>(src, header);
  });
}

// ---- writing ---------------------------------------------------------------------------------------

struct NiftiWriteOptions {
  int version = 1;                  // 1 (348-byte header, float32 fields) or 2 (540 bytes, float64)
  std::optional<int16_t> datatype{};  // a nifti_type code; default: default_nifti_datatype<T>()
  double scl_slope = 1, scl_inter = 0;  // stored voxel = (value - scl_inter) / scl_slope
  int16_t qform_code = 1, sform_code = 1;
  std::string descrip{};
  std::vector<NiftiExtension> extensions{};
  bool big_endian = false;          // byte order of the file
  std::array<double, 4> extra_pixdim{1, 1, 1, 1};  // pixdim[4..7]: time step, ...
  int32_t xyzt_units = 0;
  int32_t intent_code = 0;
  double intent_p1 = 0, intent_p2 = 0, intent_p3 = 0;
  std::string intent_name{}, aux_file{};
  double cal_min = 0, cal_max = 0;
  uint8_t dim_info = 0;
  int32_t slice_code = 0;
  int64_t slice_start = 0, slice_end = 0;
  double slice_duration = 0, toffset = 0;
  int gzip_level = 1;               // for write_nifti to a .gz path (0..9; 1 is nibabel's default)
};

// Options that write a volume the way `h` describes its file: version, byte order, datatype,
// scaling, codes, extensions and the other fields (the affine comes from the Volume).
inline NiftiWriteOptions write_options_like(const NiftiHeader& h) {
  NiftiWriteOptions o;
  o.version = h.version;
  o.datatype = h.datatype;
  if (h.has_scaling()) {
    o.scl_slope = h.scl_slope;
    o.scl_inter = h.scl_inter;
  }
  o.qform_code = h.qform_code;
  o.sform_code = h.sform_code;
  o.descrip = h.descrip;
  o.extensions = h.extensions;
  o.big_endian = h.big_endian;
  for (int i = 0; i < 4; ++i) o.extra_pixdim[i] = h.pixdim[4 + i];
  o.xyzt_units = h.xyzt_units;
  o.intent_code = h.intent_code;
  o.intent_p1 = h.intent_p1;
  o.intent_p2 = h.intent_p2;
  o.intent_p3 = h.intent_p3;
  o.intent_name = h.intent_name;
  o.aux_file = h.aux_file;
  o.cal_min = h.cal_min;
  o.cal_max = h.cal_max;
  o.dim_info = h.dim_info;
  o.slice_code = h.slice_code;
  o.slice_start = h.slice_start;
  o.slice_end = h.slice_end;
  o.slice_duration = h.slice_duration;
  o.toffset = h.toffset;
  return o;
}

// The header serialize_nifti writes for a volume (vox_offset 0: the smallest).
template <Element T>
NiftiHeader make_nifti_header(const Volume<T>& v, const NiftiWriteOptions& o = {}) {
  VOXNN_CHECK(v.data.defined(), "nifti: cannot write an undefined volume");
  VOXNN_CHECK(o.version == 1 || o.version == 2, "nifti: version ", o.version, " is neither 1 nor 2");
  const int nd = v.data.dim();
  VOXNN_CHECK(nd >= 1 && nd <= 7, "nifti: a volume of shape ", v.data.shape(), " has ", nd,
              " dims; NIfTI holds 1 to 7");
  NiftiHeader h;
  h.version = o.version;
  h.big_endian = o.big_endian;
  for (int i = 0; i < nd; ++i) {
    VOXNN_CHECK(v.data.size(i) >= 1, "nifti: cannot write an empty volume (shape ", v.data.shape(), ")");
    h.dims.push_back(v.data.size(i));
  }
  h.datatype = o.datatype.value_or(default_nifti_datatype<T>());
  VOXNN_CHECK(nifti_datatype_supported(h.datatype), "nifti: cannot write datatype ", nifti_datatype_name(h.datatype),
              " (", h.datatype, "); voxnn writes real scalar voxels (uint8, int8, int16, uint16, int32, uint32, "
              "int64, uint64, float32, float64)");
  h.bitpix = static_cast<int16_t>(nifti_datatype_bits(h.datatype));
  VOXNN_CHECK(std::isfinite(o.scl_slope) && o.scl_slope != 0 && std::isfinite(o.scl_inter), "nifti: scl_slope ",
              o.scl_slope, " and scl_inter ", o.scl_inter, " must be finite with a nonzero slope");
  // What the reader will use: NIfTI-1 keeps float32.
  h.scl_slope = o.version == 1 ? static_cast<double>(static_cast<float>(o.scl_slope)) : o.scl_slope;
  h.scl_inter = o.version == 1 ? static_cast<double>(static_cast<float>(o.scl_inter)) : o.scl_inter;
  h.set_sform(v.affine, o.sform_code);
  h.set_qform(v.affine, o.qform_code);
  for (int i = 0; i < 4; ++i) h.pixdim[4 + i] = o.extra_pixdim[i];
  h.descrip = o.descrip;
  h.extensions = o.extensions;
  h.xyzt_units = o.xyzt_units;
  h.intent_code = o.intent_code;
  h.intent_p1 = o.intent_p1;
  h.intent_p2 = o.intent_p2;
  h.intent_p3 = o.intent_p3;
  h.intent_name = o.intent_name;
  h.aux_file = o.aux_file;
  h.cal_min = o.cal_min;
  h.cal_max = o.cal_max;
  h.dim_info = o.dim_info;
  h.slice_code = o.slice_code;
  h.slice_start = o.slice_start;
  h.slice_end = o.slice_end;
  h.slice_duration = o.slice_duration;
  h.toffset = o.toffset;
  return h;
}

namespace detail {

// One value to file type S: returns false when it does not fit (integer S only).
template <class S, class T, bool Scale>
inline bool voxel_from(T v, double slope, double inter, S& out) {
  if constexpr (std::is_integral_v<T> && std::is_integral_v<S> && !Scale) {
    if constexpr (std::is_same_v<T, bool>) {
      out = static_cast<S>(v ? 1 : 0);
      return true;
    } else {
      if (!std::in_range<S>(v)) {
        out = S{};
        return false;
      }
      out = static_cast<S>(v);
      return true;
    }
  } else {
    double x = static_cast<double>(v);
    if constexpr (Scale) x = (x - inter) / slope;
    if constexpr (std::is_floating_point_v<S>) {
      out = static_cast<S>(x);
      return true;
    } else {
      return round_into<S>(x, out);
    }
  }
}

template <class S, bool Scale, class T>
void convert_to_file(const T* in, uint8_t* raw, const std::vector<int64_t>& dims, double slope, double inter,
                     std::string_view type_name) {
  std::atomic<bool> bad{false};
  constexpr int64_t kA = 64, kB = 64;  // tile sizes measured fastest on the 197x233x189 MNI grid
  for_each_nifti_tile<kA, kB>(dims, [&](int64_t fi, int64_t fs, int64_t ti, int64_t ts, int64_t na, int64_t nb) {
    S tile[kA][kB];  // [a][b]: filled along the tensor's rows, emptied along the file's
    bool ok = true;
    for (int64_t a = 0; a < na; ++a) {
      const T* src = in + ti + a * ts;
      for (int64_t b = 0; b < nb; ++b) ok &= voxel_from<S, T, Scale>(src[b], slope, inter, tile[a][b]);
    }
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* dst = raw + (fi + b * fs) * static_cast<int64_t>(sizeof(S));
      for (int64_t a = 0; a < na; ++a) store_voxel<S>(dst + a * static_cast<int64_t>(sizeof(S)), tile[a][b]);
    }
    if (!ok) bad.store(true, std::memory_order_relaxed);
  });
  if (!bad.load()) return;
  // Rare path: the first offending value in tensor order, for the message.
  int64_t numel = 1;
  for (int64_t x : dims) numel *= x;
  for (int64_t i = 0; i < numel; ++i) {
    S s;
    if (!voxel_from<S, T, Scale>(in[i], slope, inter, s))
      ::voxnn::detail::throw_error("nifti: value ", +in[i], " at flat index ", i, " does not fit datatype ", type_name,
                                   Scale ? " after scaling" : "", " (NaN, out of range); choose scl_slope / "
                                   "scl_inter or a wider datatype");
  }
}

template <bool Scale, class T>
void convert_to_file_any(int16_t datatype, const T* in, uint8_t* raw, const std::vector<int64_t>& dims, double slope,
                         double inter) {
  const std::string_view name = nifti_datatype_name(datatype);
  visit_nifti_type(datatype, [&]<class S>(S*) { convert_to_file<S, Scale>(in, raw, dims, slope, inter, name); });
}

}  // namespace detail

// The bytes of an uncompressed .nii file holding the volume.
template <Element T>
std::vector<uint8_t> serialize_nifti(const Volume<T>& v, const NiftiWriteOptions& o = {}) {
  const NiftiHeader h = make_nifti_header(v, o);
  std::vector<uint8_t> out = serialize_nifti_header(h);
  const std::size_t offset = out.size();
  out.resize(offset + static_cast<std::size_t>(h.data_bytes()));
  const Tensor<T> data = v.data.contiguous();
  if (h.has_scaling())
    detail::convert_to_file_any<true>(h.datatype, data.data(), out.data() + offset, h.dims, h.scl_slope, h.scl_inter);
  else
    detail::convert_to_file_any<false>(h.datatype, data.data(), out.data() + offset, h.dims, 1.0, 0.0);
  if (h.big_endian != detail::host_is_big_endian())
    detail::swap_bytes_in_place(out.data() + offset, h.numel(), h.bitpix / 8);
  return out;
}

// Writes a .nii file, or a gzip-compressed one when the path ends in ".gz".
template <Element T>
void write_nifti(const std::filesystem::path& path, const Volume<T>& v, const NiftiWriteOptions& o = {}) {
  detail::with_path(path, [&] {
    std::vector<uint8_t> bytes = serialize_nifti(v, o);
    const std::string name = path.filename().string();
    if (name.size() >= 3 && name.compare(name.size() - 3, 3, ".gz") == 0) bytes = gzip_compress(bytes, o.gzip_level);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    VOXNN_CHECK(out, "nifti: cannot open the file for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    VOXNN_CHECK(out, "nifti: writing the file failed");
  });
}

}  // namespace voxnn::io
