#pragma once
// NIfTI-1 and NIfTI-2 headers: the fields, their byte layout in either byte order, the header
// extensions, and the voxel-to-world affines they encode (sform, qform quaternion, and nibabel's
// fallback). Reading the voxel data into a Volume is io/nifti.hpp.
//
// Every header is hostile input: sizeof_hdr must be 348 or 540 in one of the two byte orders, the
// magic must be a single-file one (n+1 / n+2), dim[0] must lie in 1..7 and every used extent be at
// least 1, the voxel count times the element size must fit in 63 bits, bitpix must match the
// datatype, vox_offset must lie past the header and its 4-byte extension flag, and each extension
// must have a size that is a positive multiple of 16 and ends at or before vox_offset. Each failure is
// a voxnn::Error starting with "nifti:" (or "gzip:" for a corrupt compressed stream).
//
// Semantics follow nibabel (nifti1.py, analyze.py, quaternions.py):
//  - affine(): the sform when sform_code is 1..5, else the qform when qform_code is 1..5, else the
//    base affine: diag(-pixdim[1], pixdim[2], pixdim[3]) centred on the middle voxel. Codes outside
//    0..5 count as 0 (nibabel resets them to 0 on load).
//  - qform: R(quaternion) * diag(|pixdim[1]|, |pixdim[2]|, qfac |pixdim[3]|) + qoffset, with
//    qfac = -1 when pixdim[0] is -1 and 1 otherwise (nibabel resets other values of pixdim[0] to 1);
//    the quaternion's w is sqrt(1 - b^2 - c^2 - d^2), 0 when that is within 3 float eps of 0.
//  - scaling: data * scl_slope + scl_inter, applied only when the slope is nonzero and finite.
//  - extension contents are returned with trailing NUL bytes removed (the padding to 16 bytes).
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/io/gzip.hpp"
#include "voxnn/io/orientation.hpp"
#include "voxnn/io/volume.hpp"

namespace voxnn::io {

// ---- datatypes -------------------------------------------------------------------------------------

// NIfTI datatype codes (nifti1.h).
namespace nifti_type {
inline constexpr int16_t binary = 1, uint8 = 2, int16 = 4, int32 = 8, float32 = 16, complex64 = 32, float64 = 64,
                         rgb24 = 128, int8 = 256, uint16 = 512, uint32 = 768, int64 = 1024, uint64 = 1280,
                         float128 = 1536, complex128 = 1792, complex256 = 2048, rgba32 = 2304;
}

// "uint8", "int16", "float32", ...; "unknown" for a code NIfTI does not define.
inline std::string_view nifti_datatype_name(int16_t datatype) {
  switch (datatype) {
    case nifti_type::binary: return "binary";
    case nifti_type::uint8: return "uint8";
    case nifti_type::int16: return "int16";
    case nifti_type::int32: return "int32";
    case nifti_type::float32: return "float32";
    case nifti_type::complex64: return "complex64";
    case nifti_type::float64: return "float64";
    case nifti_type::rgb24: return "rgb24";
    case nifti_type::int8: return "int8";
    case nifti_type::uint16: return "uint16";
    case nifti_type::uint32: return "uint32";
    case nifti_type::int64: return "int64";
    case nifti_type::uint64: return "uint64";
    case nifti_type::float128: return "float128";
    case nifti_type::complex128: return "complex128";
    case nifti_type::complex256: return "complex256";
    case nifti_type::rgba32: return "rgba32";
    default: return "unknown";
  }
}

// Bits per voxel of a datatype (the bitpix a header must carry); 0 for an unknown code.
inline int nifti_datatype_bits(int16_t datatype) {
  switch (datatype) {
    case nifti_type::binary: return 1;
    case nifti_type::uint8: case nifti_type::int8: return 8;
    case nifti_type::int16: case nifti_type::uint16: return 16;
    case nifti_type::rgb24: return 24;
    case nifti_type::int32: case nifti_type::uint32: case nifti_type::float32: case nifti_type::rgba32: return 32;
    case nifti_type::int64: case nifti_type::uint64: case nifti_type::float64: case nifti_type::complex64: return 64;
    case nifti_type::float128: case nifti_type::complex128: return 128;
    case nifti_type::complex256: return 256;
    default: return 0;
  }
}

// The datatypes voxnn reads and writes: real scalars of 8 to 64 bits. Complex, RGB, float128 and
// 1-bit data parse as headers but their voxels are refused.
inline bool nifti_datatype_supported(int16_t datatype) {
  switch (datatype) {
    case nifti_type::uint8: case nifti_type::int8: case nifti_type::int16: case nifti_type::uint16:
    case nifti_type::int32: case nifti_type::uint32: case nifti_type::int64: case nifti_type::uint64:
    case nifti_type::float32: case nifti_type::float64: return true;
    default: return false;
  }
}

// ---- the header ------------------------------------------------------------------------------------

struct NiftiExtension {
  int32_t code = 0;           // ecode: 4 AFNI, 6 comment, 2 DICOM, ...
  std::vector<uint8_t> data;  // the content, without esize/ecode and without trailing NUL padding
  friend bool operator==(const NiftiExtension&, const NiftiExtension&) = default;
};

inline constexpr int64_t kNifti1HeaderSize = 348, kNifti2HeaderSize = 540;

namespace detail {
inline bool nifti_xform_code_used(int32_t code) { return code >= 1 && code <= 5; }
inline Affine nifti_qform_affine(double b, double c, double d, const std::array<double, 8>& pixdim,
                                 const std::array<double, 3>& offset, double w2_threshold);
}  // namespace detail

struct NiftiHeader {
  int version = 1;                       // 1 or 2
  bool big_endian = false;               // byte order of the file it came from (or is written in)
  std::vector<int64_t> dims;             // dim[1..dim[0]]
  std::array<double, 8> pixdim{};        // pixdim[0] is qfac
  int16_t datatype = 0;
  int16_t bitpix = 0;
  double scl_slope = 1, scl_inter = 0;   // as stored (0 or NaN slope: no scaling)
  int16_t qform_code = 0, sform_code = 0;
  double quatern_b = 0, quatern_c = 0, quatern_d = 0, qoffset_x = 0, qoffset_y = 0, qoffset_z = 0;
  std::array<std::array<double, 4>, 3> srow{};
  int64_t vox_offset = 0;                // byte offset of the voxel data; 0 when writing: the smallest
  int32_t intent_code = 0;
  double intent_p1 = 0, intent_p2 = 0, intent_p3 = 0;
  std::string intent_name;               // at most 16 bytes
  std::string descrip;                   // at most 80 bytes
  std::string aux_file;                  // at most 24 bytes
  int32_t xyzt_units = 0;                // NIfTI-1 stores it in one byte
  double cal_min = 0, cal_max = 0;
  int32_t slice_code = 0;                // NIfTI-1: one byte
  int64_t slice_start = 0, slice_end = 0;  // NIfTI-1: int16
  double slice_duration = 0, toffset = 0;
  uint8_t dim_info = 0;
  std::vector<NiftiExtension> extensions;

  int64_t header_size() const { return version == 2 ? kNifti2HeaderSize : kNifti1HeaderSize; }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
  // Bytes of voxel data that follow vox_offset.
  int64_t data_bytes() const { return (numel() * bitpix + 7) / 8; }

  // The sform rows as a 4x4 affine (whatever sform_code says).
  Affine sform_affine() const {
    Affine a;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) a.m[r][c] = srow[r][c];
    return a;
  }
  // The qform (whatever qform_code says); an error when b^2 + c^2 + d^2 exceeds 1.
  Affine qform_affine() const {
    const double eps = version == 2 ? std::numeric_limits<double>::epsilon() : std::numeric_limits<float>::epsilon();
    return detail::nifti_qform_affine(quatern_b, quatern_c, quatern_d, pixdim, {qoffset_x, qoffset_y, qoffset_z},
                                      3 * eps);
  }
  // nibabel's affine for a header without codes: voxel sizes |pixdim[1..3]| with x flipped, origin at
  // the middle voxel ((dim - 1) / 2).
  Affine base_affine() const {
    Affine a;
    for (int r = 0; r < 3; ++r) {
      const double n = r < static_cast<int>(dims.size()) ? static_cast<double>(dims[r]) : 1.0;
      const double zoom = r < static_cast<int>(dims.size()) ? std::abs(pixdim[r + 1]) : 1.0;
      const double z = r == 0 ? -zoom : zoom;
      a.m[r][r] = z;
      a.m[r][3] = -(n - 1) / 2.0 * z;
    }
    return a;
  }
  // The sform when sform_code is 1..5, else the qform when qform_code is 1..5, else base_affine().
  Affine affine() const {
    if (detail::nifti_xform_code_used(sform_code)) return sform_affine();
    if (detail::nifti_xform_code_used(qform_code)) return qform_affine();
    return base_affine();
  }
  // Whether reading applies data * scl_slope + scl_inter: the slope is nonzero and finite and the
  // pair is not the identity (1, 0).
  bool has_scaling() const {
    return scl_slope != 0 && std::isfinite(scl_slope) && (scl_slope != 1 || scl_inter != 0);
  }

  // Stores an affine as the sform (rows copied) with the given code.
  void set_sform(const Affine& a, int16_t code) {
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) srow[r][c] = a.m[r][c];
    sform_code = code;
  }
  // Stores an affine as the qform the way nibabel's set_qform does: voxel sizes (pixdim[1..3]) are
  // the column lengths, qfac (pixdim[0]) is -1 when the direction matrix has a negative determinant,
  // and the quaternion encodes the closest rotation, so shears are dropped. A linear part with a
  // zero or non-finite column is an error when code > 0; with code 0 it leaves an identity rotation.
  inline void set_qform(const Affine& a, int16_t code);
};

namespace detail {

// ---- quaternions and rotations -----------------------------------------------------------------

inline Affine nifti_qform_affine(double b, double c, double d, const std::array<double, 8>& pixdim,
                                 const std::array<double, 3>& offset, double w2_threshold) {
  const double w2 = 1.0 - (b * b + c * c + d * d);
  double w = 0;
  if (!(std::abs(w2) < w2_threshold)) {
    VOXNN_CHECK(w2 > 0, "nifti: the qform quaternion (b, c, d) = (", b, ", ", c, ", ", d,
                ") has b^2 + c^2 + d^2 = ", 1.0 - w2, " above 1");
    w = std::sqrt(w2);
  }
  // Rotation of the unit quaternion (w, b, c, d), normalised by its squared norm.
  const double n = w * w + b * b + c * c + d * d;
  std::array<std::array<double, 3>, 3> r{{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
  if (n >= std::numeric_limits<double>::epsilon()) {
    const double s = 2.0 / n;
    const double x = b * s, y = c * s, z = d * s;
    r = {{{1 - (c * y + d * z), b * y - w * z, b * z + w * y},
          {b * y + w * z, 1 - (b * x + d * z), c * z - w * x},
          {b * z - w * y, c * z + w * x, 1 - (b * x + c * y)}}};
  }
  const double qfac = pixdim[0] == -1 ? -1.0 : 1.0;
  const std::array<double, 3> zoom{std::abs(pixdim[1]), std::abs(pixdim[2]), std::abs(pixdim[3]) * qfac};
  Affine a;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) a.m[i][j] = r[i][j] * zoom[j];
    a.m[i][3] = offset[i];
  }
  return a;
}

using Mat3 = std::array<std::array<double, 3>, 3>;

inline double det3(const Mat3& m) {
  return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
         m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
}

// Unit quaternion (w, x, y, z), w >= 0, of a rotation matrix (Shepperd's method: the largest of the
// four diagonal combinations is the divisor, which keeps it accurate for every angle).
inline std::array<double, 4> rotation_to_quaternion(const Mat3& m) {
  const double t = m[0][0] + m[1][1] + m[2][2];
  std::array<double, 4> q;
  if (t > 0) {
    const double s = 2 * std::sqrt(1 + t);
    q = {s / 4, (m[2][1] - m[1][2]) / s, (m[0][2] - m[2][0]) / s, (m[1][0] - m[0][1]) / s};
  } else if (m[0][0] > m[1][1] && m[0][0] > m[2][2]) {
    const double s = 2 * std::sqrt(1 + m[0][0] - m[1][1] - m[2][2]);
    q = {(m[2][1] - m[1][2]) / s, s / 4, (m[0][1] + m[1][0]) / s, (m[0][2] + m[2][0]) / s};
  } else if (m[1][1] > m[2][2]) {
    const double s = 2 * std::sqrt(1 + m[1][1] - m[0][0] - m[2][2]);
    q = {(m[0][2] - m[2][0]) / s, (m[0][1] + m[1][0]) / s, s / 4, (m[1][2] + m[2][1]) / s};
  } else {
    const double s = 2 * std::sqrt(1 + m[2][2] - m[0][0] - m[1][1]);
    q = {(m[1][0] - m[0][1]) / s, (m[0][2] + m[2][0]) / s, (m[1][2] + m[2][1]) / s, s / 4};
  }
  const double norm = std::sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  const double sign = q[0] < 0 ? -1.0 : 1.0;
  for (double& v : q) v = v * sign / norm;
  return q;
}

}  // namespace detail

inline void NiftiHeader::set_qform(const Affine& a, int16_t code) {
  detail::Mat3 r{};
  std::array<double, 3> zoom{};
  bool ok = true;
  for (int c = 0; c < 3; ++c) {
    zoom[c] = std::hypot(a.m[0][c], a.m[1][c], a.m[2][c]);
    ok = ok && std::isfinite(zoom[c]) && zoom[c] > 0;
    for (int i = 0; i < 3; ++i) r[i][c] = ok ? a.m[i][c] / zoom[c] : 0.0;
  }
  double qfac = 1;
  if (ok) {
    if (!(detail::det3(r) > 0)) {
      qfac = -1;
      for (int i = 0; i < 3; ++i) r[i][2] = -r[i][2];
    }
    ok = std::abs(detail::det3(r)) > 1e-12;
  }
  VOXNN_CHECK(ok || code <= 0, "nifti: cannot store a qform (code ", code,
              ") for an affine whose linear part is singular or not finite; write it with qform_code 0");
  std::array<double, 4> q{1, 0, 0, 0};
  if (ok) q = detail::rotation_to_quaternion(io::closest_orthogonal(r));
  pixdim[0] = qfac;
  for (int c = 0; c < 3; ++c) pixdim[c + 1] = zoom[c];
  quatern_b = q[1];
  quatern_c = q[2];
  quatern_d = q[3];
  qoffset_x = a.m[0][3];
  qoffset_y = a.m[1][3];
  qoffset_z = a.m[2][3];
  qform_code = code;
}

namespace detail {

// ---- byte order ----------------------------------------------------------------------------------

template <class V>
inline V byteswap_value(V v) {
  if constexpr (sizeof(V) == 1) {
    return v;
  } else if constexpr (sizeof(V) == 2) {
    uint16_t u;
    std::memcpy(&u, &v, 2);
    u = __builtin_bswap16(u);
    std::memcpy(&v, &u, 2);
    return v;
  } else if constexpr (sizeof(V) == 4) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u = __builtin_bswap32(u);
    std::memcpy(&v, &u, 4);
    return v;
  } else {
    static_assert(sizeof(V) == 8);
    uint64_t u;
    std::memcpy(&u, &v, 8);
    u = __builtin_bswap64(u);
    std::memcpy(&v, &u, 8);
    return v;
  }
}

struct FieldReader {
  const uint8_t* p;
  bool swap;
  template <class V>
  V get(std::size_t offset) const {
    V v;
    std::memcpy(&v, p + offset, sizeof v);
    return swap ? byteswap_value(v) : v;
  }
  // A fixed-size text field, up to its first NUL.
  std::string text(std::size_t offset, std::size_t size) const {
    const char* s = reinterpret_cast<const char*>(p + offset);
    std::size_t n = 0;
    while (n < size && s[n] != '\0') ++n;
    return std::string(s, n);
  }
};

struct FieldWriter {
  uint8_t* p;
  bool swap;
  template <class V>
  void put(std::size_t offset, V v) const {
    if (swap) v = byteswap_value(v);
    std::memcpy(p + offset, &v, sizeof v);
  }
  void text(std::size_t offset, std::size_t size, const std::string& s, const char* field) const {
    VOXNN_CHECK(s.size() <= size, "nifti: ", field, " has ", s.size(), " bytes; the field holds at most ", size);
    std::memcpy(p + offset, s.data(), s.size());
  }
};

// sizeof_hdr in either byte order gives the version and the byte order.
struct NiftiKind {
  int version;
  bool swap;
};
inline NiftiKind nifti_kind(const uint8_t* first4) {
  int32_t n;
  std::memcpy(&n, first4, 4);
  const int32_t s = byteswap_value(n);
  if (n == kNifti1HeaderSize) return {1, false};
  if (n == kNifti2HeaderSize) return {2, false};
  if (s == kNifti1HeaderSize) return {1, true};
  if (s == kNifti2HeaderSize) return {2, true};
  ::voxnn::detail::throw_error("nifti: sizeof_hdr is ", n, "; expected 348 (NIfTI-1) or 540 (NIfTI-2) in either "
                               "byte order (not a NIfTI file?)");
}

inline bool host_is_big_endian() { return std::endian::native == std::endian::big; }

inline std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// Checks what every header must satisfy before its data or extensions are touched.
inline void validate_nifti_header(const NiftiHeader& h, int64_t dim0) {
  VOXNN_CHECK(dim0 >= 1 && dim0 <= 7, "nifti: dim[0] is ", dim0, "; it must lie in 1..7");
  uint64_t n = 1;
  for (std::size_t i = 0; i < h.dims.size(); ++i) {
    VOXNN_CHECK(h.dims[i] >= 1, "nifti: dim[", i + 1, "] is ", h.dims[i], "; every extent in dim[1..", dim0,
                "] must be at least 1");
    VOXNN_CHECK(!__builtin_mul_overflow(n, static_cast<uint64_t>(h.dims[i]), &n) &&
                    n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 256),
                "nifti: the voxel count of dims ", dims_text(h.dims), " overflows");
  }
  const int bits = nifti_datatype_bits(h.datatype);
  VOXNN_CHECK(bits > 0, "nifti: unknown datatype code ", h.datatype);
  VOXNN_CHECK(h.bitpix == bits, "nifti: bitpix is ", h.bitpix, " but datatype ", nifti_datatype_name(h.datatype),
              " (", h.datatype, ") has ", bits, " bits");
  const int64_t hs = h.header_size();
  VOXNN_CHECK(h.vox_offset >= hs, "nifti: vox_offset ", h.vox_offset, " is inside the ", hs, "-byte header");
  VOXNN_CHECK(h.vox_offset >= hs + 4, "nifti: vox_offset ", h.vox_offset, " overlaps the 4-byte extension flag after the ",
              hs, "-byte header");
}

}  // namespace detail

// Decodes the fixed-size part of a header (348 or 540 bytes; extensions are not read). Checks
// everything listed at the top of this file except the extensions and the data's presence.
inline NiftiHeader decode_nifti_header(std::span<const uint8_t> bytes) {
  VOXNN_CHECK(bytes.size() >= 4, "nifti: ", bytes.size(), " bytes are too few for a header (truncated file)");
  const detail::NiftiKind kind = detail::nifti_kind(bytes.data());
  NiftiHeader h;
  h.version = kind.version;
  h.big_endian = kind.swap != detail::host_is_big_endian();
  const int64_t hs = h.header_size();
  VOXNN_CHECK(static_cast<int64_t>(bytes.size()) >= hs, "nifti: ", bytes.size(), " bytes are too few for the ", hs,
              "-byte NIfTI-", h.version, " header (truncated file)");
  const detail::FieldReader f{bytes.data(), kind.swap};
  int64_t dim0 = 0;
  if (h.version == 1) {
    const std::string magic(reinterpret_cast<const char*>(bytes.data()) + 344, 4);
    VOXNN_CHECK(magic != std::string("ni1\0", 4), "nifti: the header is half of a .hdr/.img pair (magic \"ni1\"); "
                "voxnn reads single-file .nii only");
    VOXNN_CHECK(magic == std::string("n+1\0", 4), "nifti: the NIfTI-1 magic is not \"n+1\" (not a NIfTI file?)");
    dim0 = f.get<int16_t>(40);
    for (int64_t i = 1; i <= dim0 && i <= 7; ++i) h.dims.push_back(f.get<int16_t>(40 + 2 * i));
    h.intent_p1 = f.get<float>(56);
    h.intent_p2 = f.get<float>(60);
    h.intent_p3 = f.get<float>(64);
    h.intent_code = f.get<int16_t>(68);
    h.datatype = f.get<int16_t>(70);
    h.bitpix = f.get<int16_t>(72);
    h.slice_start = f.get<int16_t>(74);
    for (int i = 0; i < 8; ++i) h.pixdim[i] = f.get<float>(76 + 4 * i);
    const double offset = f.get<float>(108);
    VOXNN_CHECK(std::isfinite(offset) && offset >= 0 && offset <= 9.0e15 && offset == std::floor(offset),
                "nifti: vox_offset ", offset, " is not a non-negative whole number of bytes");
    h.vox_offset = static_cast<int64_t>(offset);
    h.scl_slope = f.get<float>(112);
    h.scl_inter = f.get<float>(116);
    h.slice_end = f.get<int16_t>(120);
    h.slice_code = f.get<uint8_t>(122);
    h.xyzt_units = f.get<uint8_t>(123);
    h.cal_max = f.get<float>(124);
    h.cal_min = f.get<float>(128);
    h.slice_duration = f.get<float>(132);
    h.toffset = f.get<float>(136);
    h.descrip = f.text(148, 80);
    h.aux_file = f.text(228, 24);
    h.qform_code = f.get<int16_t>(252);
    h.sform_code = f.get<int16_t>(254);
    h.quatern_b = f.get<float>(256);
    h.quatern_c = f.get<float>(260);
    h.quatern_d = f.get<float>(264);
    h.qoffset_x = f.get<float>(268);
    h.qoffset_y = f.get<float>(272);
    h.qoffset_z = f.get<float>(276);
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) h.srow[r][c] = f.get<float>(280 + 16 * r + 4 * c);
    h.intent_name = f.text(328, 16);
    h.dim_info = f.get<uint8_t>(39);
  } else {
    const std::string magic(reinterpret_cast<const char*>(bytes.data()) + 4, 4);
    VOXNN_CHECK(magic != std::string("ni2\0", 4), "nifti: the header is half of a .hdr/.img pair (magic \"ni2\"); "
                "voxnn reads single-file .nii only");
    VOXNN_CHECK(magic == std::string("n+2\0", 4), "nifti: the NIfTI-2 magic is not \"n+2\" (not a NIfTI file?)");
    h.datatype = f.get<int16_t>(12);
    h.bitpix = f.get<int16_t>(14);
    dim0 = f.get<int64_t>(16);
    for (int64_t i = 1; i <= dim0 && i <= 7; ++i) h.dims.push_back(f.get<int64_t>(16 + 8 * i));
    h.intent_p1 = f.get<double>(80);
    h.intent_p2 = f.get<double>(88);
    h.intent_p3 = f.get<double>(96);
    for (int i = 0; i < 8; ++i) h.pixdim[i] = f.get<double>(104 + 8 * i);
    h.vox_offset = f.get<int64_t>(168);
    h.scl_slope = f.get<double>(176);
    h.scl_inter = f.get<double>(184);
    h.cal_max = f.get<double>(192);
    h.cal_min = f.get<double>(200);
    h.slice_duration = f.get<double>(208);
    h.toffset = f.get<double>(216);
    h.slice_start = f.get<int64_t>(224);
    h.slice_end = f.get<int64_t>(232);
    h.descrip = f.text(240, 80);
    h.aux_file = f.text(320, 24);
    const int32_t qcode = f.get<int32_t>(344), scode = f.get<int32_t>(348);
    VOXNN_CHECK(qcode >= INT16_MIN && qcode <= INT16_MAX && scode >= INT16_MIN && scode <= INT16_MAX,
                "nifti: qform_code ", qcode, " or sform_code ", scode, " is out of range");
    h.qform_code = static_cast<int16_t>(qcode);
    h.sform_code = static_cast<int16_t>(scode);
    h.quatern_b = f.get<double>(352);
    h.quatern_c = f.get<double>(360);
    h.quatern_d = f.get<double>(368);
    h.qoffset_x = f.get<double>(376);
    h.qoffset_y = f.get<double>(384);
    h.qoffset_z = f.get<double>(392);
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) h.srow[r][c] = f.get<double>(400 + 32 * r + 8 * c);
    h.slice_code = f.get<int32_t>(496);
    h.xyzt_units = f.get<int32_t>(500);
    h.intent_code = f.get<int32_t>(504);
    h.intent_name = f.text(508, 16);
    h.dim_info = f.get<uint8_t>(524);
  }
  detail::validate_nifti_header(h, dim0);
  return h;
}

namespace detail {

// ---- byte sources --------------------------------------------------------------------------------
// Three readers with one interface: read_exact, skip, position, max_remaining (an upper bound on the
// bytes that can still follow, checked before anything is allocated).

class SpanSource {
 public:
  explicit SpanSource(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  void read_exact(uint8_t* out, std::size_t n, std::string_view what) {
    if (n) std::memcpy(out, view(n, what), n);
  }
  // The next n bytes in place (no copy).
  const uint8_t* view(std::size_t n, std::string_view what) {
    check(n, what);
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  void skip(uint64_t n, std::string_view what) {
    check(n, what);
    pos_ += n;
  }
  uint64_t position() const { return pos_; }
  uint64_t max_remaining() const { return bytes_.size() - pos_; }

 private:
  void check(uint64_t n, std::string_view what) const {
    VOXNN_CHECK(n <= bytes_.size() - pos_, "nifti: the file ends after ", bytes_.size(), " bytes, inside ", what,
                " (bytes ", pos_, " to ", pos_ + n, "; truncated file)");
  }
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

class FileSource {
 public:
  explicit FileSource(const std::filesystem::path& path) : in_(path, std::ios::binary) {
    std::error_code ec;
    size_ = std::filesystem::file_size(path, ec);
    VOXNN_CHECK(!ec && in_, "nifti: cannot open ", path, ec ? ": " + ec.message() : std::string());
  }
  void read_exact(uint8_t* out, std::size_t n, std::string_view what) {
    check(n, what);
    in_.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(n));
    VOXNN_CHECK(in_, "nifti: reading ", what, " failed");
    pos_ += n;
  }
  void skip(uint64_t n, std::string_view what) {
    check(n, what);
    pos_ += n;
    in_.seekg(static_cast<std::streamoff>(pos_));
  }
  uint64_t position() const { return pos_; }
  uint64_t max_remaining() const { return size_ - pos_; }

 private:
  void check(uint64_t n, std::string_view what) const {
    VOXNN_CHECK(n <= size_ - pos_, "nifti: the file ends after ", size_, " bytes, inside ", what, " (bytes ", pos_,
                " to ", pos_ + n, "; truncated file)");
  }
  std::ifstream in_;
  uint64_t size_ = 0, pos_ = 0;
};

// Checks that n more bytes can exist before allocating room for them.
template <class Source>
void require_available(const Source& src, uint64_t n, std::string_view what) {
  if constexpr (std::is_same_v<Source, GzipReader>) {
    VOXNN_CHECK(n <= src.max_remaining(), "gzip: ", what, " needs ", n, " bytes from offset ", src.position(),
                ", more than ", src.compressed_size(), " compressed bytes can expand to (corrupt or truncated file)");
  } else {
    VOXNN_CHECK(n <= src.max_remaining(), "nifti: the file ends after ", src.position() + src.max_remaining(),
                " bytes, inside ", what, " (bytes ", src.position(), " to ", src.position() + n, "; truncated file)");
  }
}

// Reads the header and its extensions; the source is left just after the last extension read.
template <class Source>
NiftiHeader read_nifti_header_from(Source& src) {
  uint8_t buf[kNifti2HeaderSize];
  src.read_exact(buf, 4, "the header's sizeof_hdr");
  const int64_t hs = nifti_kind(buf).version == 2 ? kNifti2HeaderSize : kNifti1HeaderSize;
  src.read_exact(buf + 4, static_cast<std::size_t>(hs - 4), "the header");
  NiftiHeader h = decode_nifti_header(std::span<const uint8_t>(buf, static_cast<std::size_t>(hs)));

  uint8_t flag[4];
  src.read_exact(flag, 4, "the extension flag");
  if (flag[0] == 0) return h;
  if constexpr (!std::is_same_v<Source, GzipReader>)
    VOXNN_CHECK(static_cast<uint64_t>(h.vox_offset - hs - 4) <= src.max_remaining(), "nifti: vox_offset ",
                h.vox_offset, " is beyond the end of the ", src.position() + src.max_remaining(), "-byte file");
  const bool swap = h.big_endian != host_is_big_endian();
  int64_t region = h.vox_offset - hs - 4;  // extension bytes; fewer than 16 left over are ignored
  for (int index = 0; region >= 16; ++index) {
    uint8_t eh[8];
    src.read_exact(eh, 8, "an extension's esize and ecode");
    const FieldReader f{eh, swap};
    const int32_t esize = f.get<int32_t>(0), ecode = f.get<int32_t>(4);
    VOXNN_CHECK(esize >= 16 && esize % 16 == 0, "nifti: extension ", index, " has esize ", esize,
                ", not a positive multiple of 16");
    VOXNN_CHECK(esize <= region, "nifti: extension ", index, " (esize ", esize, ") runs past vox_offset ",
                h.vox_offset);
    const auto n = static_cast<std::size_t>(esize - 8);
    require_available(src, n, "an extension");
    NiftiExtension e{ecode, std::vector<uint8_t>(n)};
    src.read_exact(e.data.data(), n, "an extension");
    while (!e.data.empty() && e.data.back() == 0) e.data.pop_back();
    h.extensions.push_back(std::move(e));
    region -= esize;
  }
  return h;
}

// Appends " (path)" to a voxnn::Error raised while reading a file.
template <class F>
auto with_path(const std::filesystem::path& path, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (" + path.string() + ")");
  }
}

inline bool file_is_gzip(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  VOXNN_CHECK(in, "nifti: cannot open ", path);
  uint8_t magic[2] = {0, 0};
  in.read(reinterpret_cast<char*>(magic), 2);
  return in.gcount() == 2 && is_gzip(std::span<const uint8_t>(magic, 2));
}

}  // namespace detail

// The header and extensions of a .nii file held in memory, or of gzip-compressed .nii bytes (magic
// 1f 8b). Only the header and extensions are decoded; the voxel data need not be present.
inline NiftiHeader parse_nifti_header(std::span<const uint8_t> bytes) {
  if (is_gzip(bytes)) {
    GzipReader src(bytes);
    return detail::read_nifti_header_from(src);
  }
  detail::SpanSource src(bytes);
  return detail::read_nifti_header_from(src);
}

// Reads the header and extensions of a .nii or .nii.gz file (gzip is recognised by its magic
// number, not the name); only those bytes are read or decompressed.
inline NiftiHeader read_nifti_header(const std::filesystem::path& path) {
  return detail::with_path(path, [&] {
    if (detail::file_is_gzip(path)) {
      GzipReader src(path);
      return detail::read_nifti_header_from(src);
    }
    detail::FileSource src(path);
    return detail::read_nifti_header_from(src);
  });
}

// ---- writing a header ------------------------------------------------------------------------------

namespace detail {
inline int64_t extension_disk_size(const NiftiExtension& e) {
  return (static_cast<int64_t>(e.data.size()) + 8 + 15) / 16 * 16;
}
}  // namespace detail

// The smallest vox_offset for a header with these extensions: header, flag and extensions, rounded
// up to a multiple of 16.
inline int64_t nifti_min_vox_offset(const NiftiHeader& h) {
  int64_t n = h.header_size() + 4;
  for (const auto& e : h.extensions) n += detail::extension_disk_size(e);
  return (n + 15) / 16 * 16;
}

// The bytes before the voxel data: header, extension flag, extensions, zero padding up to vox_offset
// (h.vox_offset, or nifti_min_vox_offset(h) when it is 0), in h's version and byte order. bitpix
// is set from the datatype.
inline std::vector<uint8_t> serialize_nifti_header(const NiftiHeader& h) {
  VOXNN_CHECK(h.version == 1 || h.version == 2, "nifti: version ", h.version, " is neither 1 nor 2");
  const int64_t min_offset = nifti_min_vox_offset(h);
  const int64_t vox_offset = h.vox_offset == 0 ? min_offset : h.vox_offset;
  VOXNN_CHECK(vox_offset >= min_offset, "nifti: vox_offset ", vox_offset, " leaves no room for the header and its ",
              h.extensions.size(), " extensions (", min_offset, " bytes)");
  NiftiHeader c = h;
  c.vox_offset = vox_offset;
  c.bitpix = static_cast<int16_t>(nifti_datatype_bits(h.datatype));
  detail::validate_nifti_header(c, static_cast<int64_t>(h.dims.size()));
  VOXNN_CHECK(h.dims.size() <= 7, "nifti: ", h.dims.size(), " dims; NIfTI holds at most 7");
  for (const auto& e : h.extensions)
    VOXNN_CHECK(e.data.size() <= static_cast<std::size_t>(INT32_MAX - 24), "nifti: an extension of ", e.data.size(),
                " bytes does not fit esize");

  std::vector<uint8_t> out(static_cast<std::size_t>(vox_offset), 0);
  const bool swap = h.big_endian != detail::host_is_big_endian();
  const detail::FieldWriter w{out.data(), swap};
  const auto fits16 = [](int64_t v, const char* field) {
    VOXNN_CHECK(v >= INT16_MIN && v <= INT16_MAX, "nifti: ", field, " ", v,
                " does not fit NIfTI-1's 16-bit field; write NIfTI-2 (version 2)");
    return static_cast<int16_t>(v);
  };
  const auto fits8 = [](int64_t v, const char* field) {
    VOXNN_CHECK(v >= 0 && v <= 255, "nifti: ", field, " ", v, " does not fit NIfTI-1's one-byte field");
    return static_cast<uint8_t>(v);
  };
  if (h.version == 1) {
    w.put<int32_t>(0, static_cast<int32_t>(kNifti1HeaderSize));
    out[38] = 'r';
    w.put<uint8_t>(39, h.dim_info);
    w.put<int16_t>(40, static_cast<int16_t>(h.dims.size()));
    for (int i = 1; i <= 7; ++i)
      w.put<int16_t>(40 + 2 * i, i <= static_cast<int>(h.dims.size()) ? fits16(h.dims[i - 1], "a dim") : int16_t{1});
    w.put<float>(56, static_cast<float>(h.intent_p1));
    w.put<float>(60, static_cast<float>(h.intent_p2));
    w.put<float>(64, static_cast<float>(h.intent_p3));
    w.put<int16_t>(68, fits16(h.intent_code, "intent_code"));
    w.put<int16_t>(70, h.datatype);
    w.put<int16_t>(72, c.bitpix);
    w.put<int16_t>(74, fits16(h.slice_start, "slice_start"));
    for (int i = 0; i < 8; ++i) w.put<float>(76 + 4 * i, static_cast<float>(h.pixdim[i]));
    VOXNN_CHECK(vox_offset <= (int64_t{1} << 24), "nifti: vox_offset ", vox_offset,
                " is not exact in NIfTI-1's float field; write NIfTI-2");
    w.put<float>(108, static_cast<float>(vox_offset));
    w.put<float>(112, static_cast<float>(h.scl_slope));
    w.put<float>(116, static_cast<float>(h.scl_inter));
    w.put<int16_t>(120, fits16(h.slice_end, "slice_end"));
    w.put<uint8_t>(122, fits8(h.slice_code, "slice_code"));
    w.put<uint8_t>(123, fits8(h.xyzt_units, "xyzt_units"));
    w.put<float>(124, static_cast<float>(h.cal_max));
    w.put<float>(128, static_cast<float>(h.cal_min));
    w.put<float>(132, static_cast<float>(h.slice_duration));
    w.put<float>(136, static_cast<float>(h.toffset));
    w.text(148, 80, h.descrip, "descrip");
    w.text(228, 24, h.aux_file, "aux_file");
    w.put<int16_t>(252, h.qform_code);
    w.put<int16_t>(254, h.sform_code);
    w.put<float>(256, static_cast<float>(h.quatern_b));
    w.put<float>(260, static_cast<float>(h.quatern_c));
    w.put<float>(264, static_cast<float>(h.quatern_d));
    w.put<float>(268, static_cast<float>(h.qoffset_x));
    w.put<float>(272, static_cast<float>(h.qoffset_y));
    w.put<float>(276, static_cast<float>(h.qoffset_z));
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 4; ++k) w.put<float>(280 + 16 * r + 4 * k, static_cast<float>(h.srow[r][k]));
    w.text(328, 16, h.intent_name, "intent_name");
    std::memcpy(out.data() + 344, "n+1\0", 4);
  } else {
    w.put<int32_t>(0, static_cast<int32_t>(kNifti2HeaderSize));
    std::memcpy(out.data() + 4, "n+2\0\r\n\032\n", 8);
    w.put<int16_t>(12, h.datatype);
    w.put<int16_t>(14, c.bitpix);
    w.put<int64_t>(16, static_cast<int64_t>(h.dims.size()));
    for (int i = 1; i <= 7; ++i) w.put<int64_t>(16 + 8 * i, i <= static_cast<int>(h.dims.size()) ? h.dims[i - 1] : 1);
    w.put<double>(80, h.intent_p1);
    w.put<double>(88, h.intent_p2);
    w.put<double>(96, h.intent_p3);
    for (int i = 0; i < 8; ++i) w.put<double>(104 + 8 * i, h.pixdim[i]);
    w.put<int64_t>(168, vox_offset);
    w.put<double>(176, h.scl_slope);
    w.put<double>(184, h.scl_inter);
    w.put<double>(192, h.cal_max);
    w.put<double>(200, h.cal_min);
    w.put<double>(208, h.slice_duration);
    w.put<double>(216, h.toffset);
    w.put<int64_t>(224, h.slice_start);
    w.put<int64_t>(232, h.slice_end);
    w.text(240, 80, h.descrip, "descrip");
    w.text(320, 24, h.aux_file, "aux_file");
    w.put<int32_t>(344, h.qform_code);
    w.put<int32_t>(348, h.sform_code);
    w.put<double>(352, h.quatern_b);
    w.put<double>(360, h.quatern_c);
    w.put<double>(368, h.quatern_d);
    w.put<double>(376, h.qoffset_x);
    w.put<double>(384, h.qoffset_y);
    w.put<double>(392, h.qoffset_z);
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 4; ++k) w.put<double>(400 + 32 * r + 8 * k, h.srow[r][k]);
    w.put<int32_t>(496, h.slice_code);
    w.put<int32_t>(500, h.xyzt_units);
    w.put<int32_t>(504, h.intent_code);
    w.text(508, 16, h.intent_name, "intent_name");
    w.put<uint8_t>(524, h.dim_info);
  }
  const int64_t hs = h.header_size();
  if (!h.extensions.empty()) {
    out[static_cast<std::size_t>(hs)] = 1;
    int64_t pos = hs + 4;
    for (const auto& e : h.extensions) {
      const int64_t esize = detail::extension_disk_size(e);
      w.put<int32_t>(static_cast<std::size_t>(pos), static_cast<int32_t>(esize));
      w.put<int32_t>(static_cast<std::size_t>(pos + 4), e.code);
      if (!e.data.empty()) std::memcpy(out.data() + pos + 8, e.data.data(), e.data.size());
      pos += esize;
    }
  }
  return out;
}

}  // namespace voxnn::io
