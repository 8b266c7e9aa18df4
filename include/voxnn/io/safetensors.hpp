#pragma once
// Reading and writing the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}), then the data
// buffer that the offsets point into. Files are treated as hostile: every size is checked before it
// is used to allocate and every offset before it is used to read, and each failure is a voxnn::Error
// that starts with "safetensors:" and names the problem.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/core/shape.hpp"
#include "voxnn/core/tensor.hpp"
#include "voxnn/io/json_lite.hpp"

namespace voxnn::io {

static_assert(std::endian::native == std::endian::little,
              "voxnn::io reads and writes little-endian data by copying bytes; a big-endian host needs byte swaps");

// ---- element types ---------------------------------------------------------------------------------

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

inline constexpr DType kAllDTypes[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                                       DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};

inline constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

inline constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::BOOL: return 1;
  }
  return 0;
}

inline std::optional<DType> parse_dtype(std::string_view name) {
  for (DType t : kAllDTypes)
    if (dtype_name(t) == name) return t;
  return std::nullopt;
}

// The dtype a Tensor<T> is written as.
template <Element T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::F32;
  else if constexpr (std::is_same_v<T, double>) return DType::F64;
  else if constexpr (std::is_same_v<T, int64_t>) return DType::I64;
  else if constexpr (std::is_same_v<T, int32_t>) return DType::I32;
  else if constexpr (std::is_same_v<T, uint8_t>) return DType::U8;
  else return DType::BOOL;
}

// ---- 16-bit floats ---------------------------------------------------------------------------------

// IEEE binary16 to float, exactly (subnormals, infinities and NaN included).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  const uint32_t bits = exponent == 0x1F ? sign | 0x7F800000u | (mantissa << 13)
                                         : sign | ((exponent + 112) << 23) | (mantissa << 13);
  return std::bit_cast<float>(bits);
}

// float to binary16, rounding to nearest even; overflow gives infinity, NaN stays NaN.
inline uint16_t float_to_half(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & 0x7FFFFFFFu;
  if (abs_bits >= 0x7F800000u)  // inf or NaN (a NaN keeps a quiet payload bit)
    return static_cast<uint16_t>(sign | 0x7C00u | (abs_bits > 0x7F800000u ? 0x200u : 0u));
  if (abs_bits >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds above 65504
  if (abs_bits < 0x38800000u) {  // below the smallest normal half: round mantissa * 2^24 to an integer
    const float scaled = std::bit_cast<float>(abs_bits) * 16777216.0f;  // exact: a power-of-two scale
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(scaled)));
  }
  // Normal: rebias the exponent, then round the 13 dropped mantissa bits to nearest even; a carry
  // into the exponent is the correct result.
  const uint32_t rebased = abs_bits - (112u << 23);
  const uint32_t rounded = rebased + 0x0FFFu + ((rebased >> 13) & 1u);
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

inline float bf16_to_float(uint16_t b) { return std::bit_cast<float>(uint32_t{b} << 16); }

// float to bfloat16, rounding to nearest even; NaN stays NaN.
inline uint16_t float_to_bf16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// ---- entries and files -----------------------------------------------------------------------------

// One named tensor as stored: its dtype, shape and little-endian bytes (numel * dtype_size of them).
struct TensorEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  std::vector<uint8_t> bytes;

  int64_t numel() const { return shape.numel(); }
};

namespace detail {

[[noreturn]] inline void fail_conversion(std::string_view name, DType from, const char* to, double v) {
  ::voxnn::detail::throw_error("safetensors: tensor \"", name, "\" of dtype ", dtype_name(from), " holds ", v,
                               ", which does not fit ", to);
}

// Converts one stored value to T. Integer targets reject values they cannot hold (and NaN), since a
// silent wrap would hand a model wrong indices.
template <class T, class S>
T convert_value(S v, std::string_view name, DType from) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != S(0);
  } else if constexpr (std::is_floating_point_v<T> || std::is_same_v<S, bool>) {
    return static_cast<T>(v);
  } else if constexpr (std::is_floating_point_v<S>) {
    // The bounds 2^63 and friends are exact in double; NaN fails both comparisons.
    const double d = static_cast<double>(v);
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());
    constexpr double hi = 2.0 * static_cast<double>(std::numeric_limits<T>::max() / 2 + 1);  // max + 1
    if (!(d >= lo && d < hi)) fail_conversion(name, from, element_name<T>(), d);
    return static_cast<T>(v);
  } else {
    if (!std::in_range<T>(v)) fail_conversion(name, from, element_name<T>(), static_cast<double>(v));
    return static_cast<T>(v);
  }
}

template <class T, class S>
void convert_all(const uint8_t* src, int64_t n, T* dst, std::string_view name, DType from) {
  for (int64_t i = 0; i < n; ++i) {
    S v;
    std::memcpy(&v, src + i * static_cast<int64_t>(sizeof(S)), sizeof(S));  // data need not be aligned
    dst[i] = convert_value<T>(v, name, from);
  }
}

// The byte size of a shape, or an error when it overflows. Zero extents do not excuse the others:
// strides are products of the nonzero extents, so those must stay in range too.
inline std::size_t checked_byte_size(const Shape& shape, DType dtype, std::string_view name) {
  uint64_t n = 1, nonzero = 1;
  for (int64_t d : shape) {
    VOXNN_CHECK(d >= 0, "safetensors: tensor \"", name, "\" has a negative extent in shape ", shape);
    const auto u = static_cast<uint64_t>(d);
    VOXNN_CHECK(!__builtin_mul_overflow(nonzero, u > 0 ? u : 1, &nonzero) &&
                    nonzero <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                "safetensors: tensor \"", name, "\" has shape ", shape, " whose element count overflows");
    n *= u;
  }
  uint64_t bytes = 0;
  VOXNN_CHECK(!__builtin_mul_overflow(n, uint64_t{dtype_size(dtype)}, &bytes) &&
                  bytes <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
              "safetensors: tensor \"", name, "\" has shape ", shape, " whose byte size overflows");
  return static_cast<std::size_t>(bytes);
}

}  // namespace detail

// The tensors of one file, in file (or insertion) order, plus the free-form string metadata.
class TensorFile {
 public:
  std::map<std::string, std::string> metadata;

  const std::vector<TensorEntry>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }
  bool contains(std::string_view name) const { return index_.count(std::string(name)) != 0; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.name);
    return out;
  }

  const TensorEntry& entry(std::string_view name) const {
    const auto it = index_.find(std::string(name));
    VOXNN_CHECK(it != index_.end(), "safetensors: no tensor named \"", name, "\" (the file holds ", size(),
                " tensors)");
    return entries_[it->second];
  }

  // Adds an entry as stored; its byte count must match its shape and dtype and its name must be new.
  void add(TensorEntry e) {
    VOXNN_CHECK(e.name != "__metadata__", "safetensors: \"__metadata__\" is reserved and cannot name a tensor");
    VOXNN_CHECK(!contains(e.name), "safetensors: duplicate tensor name \"", e.name, "\"");
    const std::size_t want = detail::checked_byte_size(e.shape, e.dtype, e.name);
    VOXNN_CHECK(e.bytes.size() == want, "safetensors: tensor \"", e.name, "\" of dtype ", dtype_name(e.dtype),
                " and shape ", e.shape, " needs ", want, " bytes, got ", e.bytes.size());
    index_.emplace(e.name, entries_.size());
    entries_.push_back(std::move(e));
  }

  // Adds a tensor stored with the dtype matching T.
  template <Element T>
  void add(std::string name, const Tensor<T>& t) {
    VOXNN_CHECK(t.defined(), "safetensors: tensor \"", name, "\" is undefined");
    const Tensor<T> c = t.contiguous();
    TensorEntry e{std::move(name), dtype_of<T>(), c.shape(), {}};
    e.bytes.resize(static_cast<std::size_t>(c.numel()) * sizeof(T));
    if (!e.bytes.empty()) std::memcpy(e.bytes.data(), c.data(), e.bytes.size());
    add(std::move(e));
  }

  // Adds a real tensor stored as another floating dtype (F16 and BF16 round to nearest even).
  template <Real T>
  void add(std::string name, const Tensor<T>& t, DType as) {
    if (as == dtype_of<T>()) return add(std::move(name), t);
    VOXNN_CHECK(as == DType::F32 || as == DType::F64 || as == DType::F16 || as == DType::BF16,
                "safetensors: tensor \"", name, "\" cannot be stored as ", dtype_name(as),
                " (floating dtypes only)");
    const std::vector<T> values = t.to_vector();
    TensorEntry e{std::move(name), as, t.shape(), {}};
    e.bytes.resize(values.size() * dtype_size(as));
    uint8_t* out = e.bytes.data();
    for (std::size_t i = 0; i < values.size(); ++i) {
      const auto store = [&](auto v) { std::memcpy(out + i * sizeof(v), &v, sizeof(v)); };
      switch (as) {
        case DType::F64: store(static_cast<double>(values[i])); break;
        case DType::F32: store(static_cast<float>(values[i])); break;
        case DType::F16: store(float_to_half(static_cast<float>(values[i]))); break;
        default: store(float_to_bf16(static_cast<float>(values[i]))); break;
      }
    }
    add(std::move(e));
  }

  // The tensor named `name` as a Tensor<T>, converted from any stored dtype (F16/BF16 exactly
  // widened; integer targets refuse values out of their range).
  template <Element T>
  Tensor<T> get(std::string_view name) const {
    const TensorEntry& e = entry(name);
    Tensor<T> out(e.shape);
    const uint8_t* src = e.bytes.data();
    T* dst = out.data();
    const int64_t n = e.numel();
    switch (e.dtype) {
      case DType::F64: detail::convert_all<T, double>(src, n, dst, name, e.dtype); break;
      case DType::F32: detail::convert_all<T, float>(src, n, dst, name, e.dtype); break;
      case DType::I64: detail::convert_all<T, int64_t>(src, n, dst, name, e.dtype); break;
      case DType::I32: detail::convert_all<T, int32_t>(src, n, dst, name, e.dtype); break;
      case DType::I16: detail::convert_all<T, int16_t>(src, n, dst, name, e.dtype); break;
      case DType::I8: detail::convert_all<T, int8_t>(src, n, dst, name, e.dtype); break;
      case DType::U8: detail::convert_all<T, uint8_t>(src, n, dst, name, e.dtype); break;
      case DType::BOOL:
        // Any nonzero byte is true: copying bytes into bool would be undefined for values above 1.
        for (int64_t i = 0; i < n; ++i) dst[i] = detail::convert_value<T>(src[i] != 0, name, e.dtype);
        break;
      case DType::F16:
      case DType::BF16:
        for (int64_t i = 0; i < n; ++i) {
          uint16_t h;
          std::memcpy(&h, src + 2 * i, 2);
          const float v = e.dtype == DType::F16 ? half_to_float(h) : bf16_to_float(h);
          dst[i] = detail::convert_value<T>(v, name, e.dtype);
        }
        break;
    }
    return out;
  }

 private:
  std::vector<TensorEntry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

// ---- limits ----------------------------------------------------------------------------------------

// The reference implementation's cap on the JSON header; larger values are treated as corruption.
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

namespace detail {

// Where one tensor's bytes lie in the data buffer, after validation.
struct EntryLayout {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

struct Header {
  std::vector<EntryLayout> layout;
  std::map<std::string, std::string> metadata;
};

inline uint64_t read_header_length(const uint8_t* p) {
  uint64_t n;
  std::memcpy(&n, p, 8);
  return n;
}

inline void check_header_length(uint64_t n, uint64_t file_size) {
  VOXNN_CHECK(n <= kMaxSafetensorsHeader, "safetensors: header length ", n, " exceeds the limit of ",
              kMaxSafetensorsHeader, " bytes");
  VOXNN_CHECK(n <= file_size - 8, "safetensors: header length ", n, " exceeds the ", file_size - 8,
              " bytes that follow the length field (truncated or corrupted file)");
}

// Reads one tensor's {"dtype", "shape", "data_offsets"} and checks it against the data buffer.
// Unknown fields are skipped (as the reference reader does); duplicates are JSON errors.
inline EntryLayout read_entry(json::Reader& r, std::string name, uint64_t buffer_size) {
  VOXNN_CHECK(r.peek_kind() == json::Kind::object, "safetensors: entry \"", name, "\" is not an object");
  std::optional<DType> dtype;
  std::optional<Shape> shape;
  std::vector<uint64_t> offsets;
  bool has_offsets = false;
  r.begin_object();
  std::string field;
  while (r.next_member(field)) {
    if (field == "dtype") {
      VOXNN_CHECK(r.peek_kind() == json::Kind::string, "safetensors: tensor \"", name,
                  "\" has a dtype that is not a string");
      const std::string d = r.read_string();
      dtype = parse_dtype(d);
      VOXNN_CHECK(dtype.has_value(), "safetensors: tensor \"", name, "\" has unknown dtype \"", d, "\"");
    } else if (field == "shape") {
      VOXNN_CHECK(r.peek_kind() == json::Kind::array, "safetensors: tensor \"", name,
                  "\" has a shape that is not an array");
      shape.emplace();
      int rank = 0;
      for (r.begin_array(); r.next_element(); ++rank) {
        VOXNN_CHECK(rank < kMaxRank, "safetensors: tensor \"", name, "\" has rank above ", kMaxRank,
                    ", the most voxnn supports");
        const bool is_int = r.peek_kind() == json::Kind::integer;
        const int64_t d = is_int ? r.read_integer() : -1;
        VOXNN_CHECK(d >= 0, "safetensors: tensor \"", name, "\" has a shape entry that is not a non-negative integer");
        shape->push_back(d);
      }
    } else if (field == "data_offsets") {
      VOXNN_CHECK(r.peek_kind() == json::Kind::array, "safetensors: tensor \"", name,
                  "\" needs data_offsets [begin, end]");
      has_offsets = true;
      for (r.begin_array(); r.next_element();) {
        VOXNN_CHECK(offsets.size() < 2, "safetensors: tensor \"", name, "\" needs data_offsets [begin, end]");
        const bool is_int = r.peek_kind() == json::Kind::integer;
        const int64_t o = is_int ? r.read_integer() : -1;
        VOXNN_CHECK(o >= 0, "safetensors: tensor \"", name, "\" has a data offset that is not a non-negative integer");
        offsets.push_back(static_cast<uint64_t>(o));
      }
      VOXNN_CHECK(offsets.size() == 2, "safetensors: tensor \"", name, "\" needs data_offsets [begin, end]");
    } else {
      r.skip_value();
    }
  }
  VOXNN_CHECK(dtype && shape && has_offsets, "safetensors: tensor \"", name,
              "\" lacks one of \"dtype\", \"shape\", \"data_offsets\"");

  const uint64_t begin = offsets[0], end = offsets[1];
  VOXNN_CHECK(begin <= end, "safetensors: tensor \"", name, "\" has data_offsets [", begin, ", ", end,
              "] with begin after end");
  VOXNN_CHECK(end <= buffer_size, "safetensors: tensor \"", name, "\" has data_offsets [", begin, ", ", end,
              "] beyond the ", buffer_size, "-byte data buffer (truncated or corrupted file)");
  const std::size_t bytes = checked_byte_size(*shape, *dtype, name);
  VOXNN_CHECK(end - begin == bytes, "safetensors: tensor \"", name, "\" of dtype ", dtype_name(*dtype),
              " and shape ", *shape, " needs ", bytes, " bytes but data_offsets [", begin, ", ", end, "] span ",
              end - begin);
  return {std::move(name), *dtype, *shape, begin, end};
}

// Validates the header against a data buffer of `buffer_size` bytes. The header is read as a stream,
// keeping only what the file describes, so junk in it costs no memory.
inline Header parse_header(std::string_view text, uint64_t buffer_size) {
  Header h;
  try {
    json::Reader r(text);
    const json::Kind top = r.peek_kind();
    VOXNN_CHECK(top == json::Kind::object, "safetensors: the header is ", json::kind_name(top), ", not an object");
    r.begin_object();
    std::string name;
    while (r.next_member(name)) {
      if (name != "__metadata__") {
        h.layout.push_back(read_entry(r, std::move(name), buffer_size));
        continue;
      }
      VOXNN_CHECK(r.peek_kind() == json::Kind::object, "safetensors: __metadata__ is not an object");
      r.begin_object();
      std::string key;
      while (r.next_member(key)) {
        VOXNN_CHECK(r.peek_kind() == json::Kind::string, "safetensors: metadata value of \"", key,
                    "\" is not a string");
        h.metadata.emplace(std::move(key), r.read_string());
      }
    }
    r.finish();
  } catch (const json::ParseError& e) {
    ::voxnn::detail::throw_error("safetensors: invalid header JSON: ", e.what());
  }

  // Tensors must not share bytes: overlapping ranges would let a small file expand into huge allocations.
  std::vector<const EntryLayout*> by_offset;
  for (const auto& e : h.layout) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const EntryLayout* a, const EntryLayout* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    VOXNN_CHECK(by_offset[i]->begin >= by_offset[i - 1]->end, "safetensors: tensors \"", by_offset[i - 1]->name,
                "\" and \"", by_offset[i]->name, "\" have overlapping data_offsets");
  return h;
}

}  // namespace detail

// Parses a complete safetensors file held in memory.
inline TensorFile parse_safetensors(std::span<const uint8_t> bytes) {
  VOXNN_CHECK(bytes.size() >= 8, "safetensors: ", bytes.size(),
              " bytes are too few for the 8-byte header length (truncated file)");
  const uint64_t n = detail::read_header_length(bytes.data());
  detail::check_header_length(n, bytes.size());
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), static_cast<std::size_t>(n));
  const std::span<const uint8_t> buffer = bytes.subspan(8 + static_cast<std::size_t>(n));
  detail::Header h = detail::parse_header(text, buffer.size());

  TensorFile file;
  file.metadata = std::move(h.metadata);
  for (auto& e : h.layout)
    file.add(TensorEntry{std::move(e.name), e.dtype, e.shape,
                         std::vector<uint8_t>(buffer.begin() + static_cast<std::ptrdiff_t>(e.begin),
                                              buffer.begin() + static_cast<std::ptrdiff_t>(e.end))});
  return file;
}

// Reads a safetensors file; only the header and the bytes its tensors name are read.
inline TensorFile load_safetensors(const std::filesystem::path& path) {
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  VOXNN_CHECK(!ec, "safetensors: cannot open ", path, ": ", ec.message());
  std::ifstream in(path, std::ios::binary);
  VOXNN_CHECK(in, "safetensors: cannot open ", path);
  VOXNN_CHECK(file_size >= 8, "safetensors: ", path, " has ", file_size,
              " bytes, too few for the 8-byte header length (truncated file)");
  uint8_t length_bytes[8];
  in.read(reinterpret_cast<char*>(length_bytes), 8);
  VOXNN_CHECK(in, "safetensors: cannot read the header length of ", path);
  const uint64_t n = detail::read_header_length(length_bytes);
  detail::check_header_length(n, file_size);

  std::string text(static_cast<std::size_t>(n), '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  VOXNN_CHECK(in, "safetensors: cannot read the ", n, "-byte header of ", path);
  const uint64_t buffer_start = 8 + n;
  detail::Header h = detail::parse_header(text, file_size - buffer_start);

  TensorFile file;
  file.metadata = std::move(h.metadata);
  for (auto& e : h.layout) {
    std::vector<uint8_t> bytes(static_cast<std::size_t>(e.end - e.begin));
    in.seekg(static_cast<std::streamoff>(buffer_start + e.begin));
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    VOXNN_CHECK(in, "safetensors: cannot read the data of tensor \"", e.name, "\" from ", path);
    file.add(TensorEntry{std::move(e.name), e.dtype, e.shape, std::move(bytes)});
  }
  return file;
}

// ---- writing ---------------------------------------------------------------------------------------

// The file's bytes: metadata first, then tensors in the file's order, packed without gaps; the header
// is padded with spaces so that the data buffer starts 8-byte aligned, as the reference writer does.
inline std::vector<uint8_t> serialize_safetensors(const TensorFile& file) {
  // Built by appending pieces: GCC 12 warns (falsely, -Wrestrict) on "literal" + std::string chains.
  std::string header = "{";
  if (!file.metadata.empty()) {
    header += "\"__metadata__\":{";
    for (const auto& [k, v] : file.metadata) {
      if (header.back() != '{') header += ',';
      header.append(json::quote(k)).append(":").append(json::quote(v));
    }
    header += '}';
  }
  uint64_t offset = 0;
  for (const TensorEntry& e : file.entries()) {
    if (header.size() > 1) header += ',';
    header.append(json::quote(e.name)).append(":{\"dtype\":\"").append(dtype_name(e.dtype)).append("\",\"shape\":[");
    for (int d = 0; d < e.shape.size(); ++d) {
      if (d) header += ',';
      header.append(std::to_string(e.shape[d]));
    }
    header.append("],\"data_offsets\":[").append(std::to_string(offset)).append(",");
    offset += e.bytes.size();
    header.append(std::to_string(offset)).append("]}");
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');
  VOXNN_CHECK(header.size() <= kMaxSafetensorsHeader, "safetensors: header of ", header.size(),
              " bytes exceeds the limit of ", kMaxSafetensorsHeader);

  std::vector<uint8_t> out(8 + header.size() + offset);
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  uint8_t* data = out.data() + 8 + header.size();
  for (const TensorEntry& e : file.entries()) {
    if (!e.bytes.empty()) std::memcpy(data, e.bytes.data(), e.bytes.size());
    data += e.bytes.size();
  }
  return out;
}

inline void save_safetensors(const std::filesystem::path& path, const TensorFile& file) {
  const std::vector<uint8_t> bytes = serialize_safetensors(file);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  VOXNN_CHECK(out, "safetensors: cannot open ", path, " for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  VOXNN_CHECK(out, "safetensors: writing ", path, " failed");
}

namespace detail {
template <class X>
struct is_cpu_tensor : std::false_type {};
template <class T>
struct is_cpu_tensor<Tensor<T, Cpu>> : std::true_type {};
}  // namespace detail

// A range of (name, Tensor<T>) pairs: a state dict as a vector of pairs, a std::map, ...
template <class R>
concept NamedTensorRange =
    std::ranges::input_range<const R> && requires(std::ranges::range_reference_t<const R> item) {
      { item.first } -> std::convertible_to<std::string_view>;
      requires detail::is_cpu_tensor<std::remove_cvref_t<decltype(item.second)>>::value;
    };

// Writes named tensors in the range's order, each with the dtype matching its element type.
template <NamedTensorRange R>
void save_safetensors(const std::filesystem::path& path, const R& tensors,
                      const std::map<std::string, std::string>& metadata = {}) {
  TensorFile file;
  file.metadata = metadata;
  for (const auto& [name, t] : tensors) file.add(std::string(name), t);
  save_safetensors(path, file);
}

}  // namespace voxnn::io
