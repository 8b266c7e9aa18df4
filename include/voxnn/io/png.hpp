#pragma once
// PNG images: an encoder (8-bit gray, gray+alpha, RGB, RGBA; deflate with zlib framing through
// io/gzip.hpp for the image data, zlib's crc32 for the chunk checksums) and a small decoder for 8-bit,
// non-interlaced images of the same colour types, enough to read back what voxnn writes and what
// common tools (PIL, matplotlib) write.
// The decoder treats its input as hostile: every chunk length is checked against the bytes left,
// every CRC is verified, the image size is bounded by what the compressed data can expand to
// before anything is allocated, and every failure is a voxnn::Error that starts with "png:".
#include <zlib.h>  // crc32

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "voxnn/core/error.hpp"
#include "voxnn/io/gzip.hpp"

namespace voxnn::io {

// An 8-bit image, rows top to bottom, pixels left to right, `channels` interleaved bytes per pixel:
// 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. pixels.size() == width * height * channels.
struct PngImage {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;

  uint8_t* at(int x, int y) { return pixels.data() + (static_cast<std::size_t>(y) * width + x) * channels; }
  const uint8_t* at(int x, int y) const {
    return pixels.data() + (static_cast<std::size_t>(y) * width + x) * channels;
  }
};

namespace detail::png {

inline constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
// Largest width or height PNG allows (2^31 - 1), and the largest image voxnn will decode.
inline constexpr uint64_t kMaxDimension = 0x7FFFFFFFu;
inline constexpr uint64_t kMaxDecodedBytes = uint64_t{1} << 32;
// Deflate cannot expand data by more than about 1032:1; a larger declared image is a lie.
inline constexpr uint64_t kMaxInflateRatio = 1040;

inline int color_type_of(int channels) {
  switch (channels) {
    case 1: return 0;
    case 2: return 4;
    case 3: return 2;
    case 4: return 6;
    default: return -1;
  }
}
inline int channels_of(int color_type) {
  switch (color_type) {
    case 0: return 1;
    case 4: return 2;
    case 2: return 3;
    case 6: return 4;
    default: return 0;
  }
}

inline void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
inline uint32_t get_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Appends a chunk: length, type, data, CRC-32 of type and data.
inline void put_chunk(std::vector<uint8_t>& out, const char (&type)[5], const uint8_t* data, std::size_t size) {
  put_u32(out, static_cast<uint32_t>(size));
  const std::size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  if (size) out.insert(out.end(), data, data + size);
  uLong crc = crc32(0L, Z_NULL, 0);
  // crc32 takes a uInt length: feed large chunks in pieces
  const uint8_t* p = out.data() + type_at;
  std::size_t left = size + 4;
  while (left) {
    const auto n = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
    crc = crc32(crc, p, n);
    p += n;
    left -= n;
  }
  put_u32(out, static_cast<uint32_t>(crc));
}

inline uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return static_cast<uint8_t>(a);
  return static_cast<uint8_t>(pb <= pc ? b : c);
}

// Filters one row with the given filter type (0..4) into out[0..n); prev is the unfiltered row above
// (all zeros for the first row). bpp: bytes per pixel.
inline void filter_row(int type, const uint8_t* row, const uint8_t* prev, std::size_t n, std::size_t bpp,
                       uint8_t* out) {
  for (std::size_t i = 0; i < n; ++i) {
    const int a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
    int predicted = 0;
    switch (type) {
      case 1: predicted = a; break;
      case 2: predicted = b; break;
      case 3: predicted = (a + b) / 2; break;
      case 4: predicted = paeth(a, b, c); break;
      default: break;
    }
    out[i] = static_cast<uint8_t>(row[i] - predicted);
  }
}

// Reverses filter_row in place: row holds the filtered bytes on entry, the pixels on exit.
inline void unfilter_row(int type, uint8_t* row, const uint8_t* prev, std::size_t n, std::size_t bpp) {
  switch (type) {
    case 0: break;
    case 1:
      for (std::size_t i = bpp; i < n; ++i) row[i] = static_cast<uint8_t>(row[i] + row[i - bpp]);
      break;
    case 2:
      for (std::size_t i = 0; i < n; ++i) row[i] = static_cast<uint8_t>(row[i] + prev[i]);
      break;
    case 3:
      for (std::size_t i = 0; i < n; ++i) {
        const int a = i >= bpp ? row[i - bpp] : 0;
        row[i] = static_cast<uint8_t>(row[i] + (a + prev[i]) / 2);
      }
      break;
    case 4:
      for (std::size_t i = 0; i < n; ++i) {
        const int a = i >= bpp ? row[i - bpp] : 0, c = i >= bpp ? prev[i - bpp] : 0;
        row[i] = static_cast<uint8_t>(row[i] + paeth(a, prev[i], c));
      }
      break;
    default: break;
  }
}

}  // namespace detail::png

// The PNG file for an image. Each row gets the filter (of PNG's five) with the smallest sum of
// absolute filtered bytes, the usual heuristic; the data is deflated at zlib's default level.
inline std::vector<uint8_t> encode_png(const PngImage& image) {
  namespace d = detail::png;
  const int color_type = d::color_type_of(image.channels);
  VOXNN_CHECK(color_type >= 0, "png: cannot encode an image with ", image.channels,
              " channels (expected 1 gray, 2 gray+alpha, 3 RGB or 4 RGBA)");
  VOXNN_CHECK(image.width > 0 && image.height > 0, "png: cannot encode an image of ", image.width, "x",
              image.height, " pixels (both sides must be positive)");
  const std::size_t bpp = static_cast<std::size_t>(image.channels);
  const std::size_t row_bytes = static_cast<std::size_t>(image.width) * bpp;
  VOXNN_CHECK(image.pixels.size() == row_bytes * static_cast<std::size_t>(image.height), "png: a ",
              image.width, "x", image.height, "x", image.channels, " image needs ",
              row_bytes * static_cast<std::size_t>(image.height), " bytes of pixels, got ", image.pixels.size());

  VOXNN_CHECK((row_bytes + 1) * static_cast<std::size_t>(image.height) <= (std::size_t{1} << 31), "png: a ",
              image.width, "x", image.height, "x", image.channels, " image is larger than the 2 GiB voxnn encodes");
  // Filtered scanlines: one filter-type byte, then the row.
  std::vector<uint8_t> raw((row_bytes + 1) * static_cast<std::size_t>(image.height));
  std::vector<uint8_t> zero_row(row_bytes, 0), trial(row_bytes);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* row = image.pixels.data() + static_cast<std::size_t>(y) * row_bytes;
    const uint8_t* prev = y ? row - row_bytes : zero_row.data();
    uint8_t* out = raw.data() + static_cast<std::size_t>(y) * (row_bytes + 1);
    uint64_t best_cost = std::numeric_limits<uint64_t>::max();
    for (int type = 0; type < 5; ++type) {
      d::filter_row(type, row, prev, row_bytes, bpp, trial.data());
      uint64_t cost = 0;
      for (std::size_t i = 0; i < row_bytes; ++i) cost += static_cast<uint64_t>(std::abs(static_cast<int8_t>(trial[i])));
      if (cost < best_cost) {
        best_cost = cost;
        out[0] = static_cast<uint8_t>(type);
        std::copy(trial.begin(), trial.end(), out + 1);
      }
    }
  }

  const std::vector<uint8_t> compressed = gzip_compress(raw, 6, DeflateFraming::zlib);  // zlib's default level
  const std::size_t compressed_size = compressed.size();

  std::vector<uint8_t> out(std::begin(d::kSignature), std::end(d::kSignature));
  out.reserve(8 + 25 + compressed_size + 12 * (compressed_size / (1u << 20) + 1) + 12);
  std::vector<uint8_t> ihdr;
  d::put_u32(ihdr, static_cast<uint32_t>(image.width));
  d::put_u32(ihdr, static_cast<uint32_t>(image.height));
  ihdr.insert(ihdr.end(), {8, static_cast<uint8_t>(color_type), 0, 0, 0});  // depth, colour, deflate, filter, no interlace
  d::put_chunk(out, "IHDR", ihdr.data(), ihdr.size());
  constexpr std::size_t kIdatMax = std::size_t{1} << 20;
  for (std::size_t at = 0; at < compressed_size; at += kIdatMax)
    d::put_chunk(out, "IDAT", compressed.data() + at, std::min(kIdatMax, compressed_size - at));
  d::put_chunk(out, "IEND", nullptr, 0);
  return out;
}

inline void write_png(const std::filesystem::path& path, const PngImage& image) {
  const std::vector<uint8_t> bytes = encode_png(image);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  VOXNN_CHECK(f.good(), "png: cannot open ", path, " for writing");
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  f.flush();
  VOXNN_CHECK(f.good(), "png: writing ", path, " failed");
}

// Decodes an 8-bit, non-interlaced PNG of colour type 0 (gray), 2 (RGB), 4 (gray+alpha) or 6 (RGBA).
// Ancillary chunks (gAMA, pHYs, tEXt, ...) are skipped after their CRC is checked; palette, 16-bit
// and interlaced images are refused with an error that says so.
inline PngImage decode_png(std::span<const uint8_t> bytes) {
  namespace d = detail::png;
  VOXNN_CHECK(bytes.size() >= 8 && std::equal(bytes.begin(), bytes.begin() + 8, std::begin(d::kSignature)),
              "png: not a PNG file (the 8-byte signature is missing; ", bytes.size(), " bytes)");
  std::size_t at = 8;
  bool have_header = false, have_end = false, idat_done = false;
  PngImage image;
  std::vector<uint8_t> idat;
  for (int chunk_index = 0; !have_end; ++chunk_index) {
    VOXNN_CHECK(bytes.size() - at >= 12, "png: truncated: chunk ", chunk_index, " at byte ", at,
                " needs 12 bytes of length, type and CRC, ", bytes.size() - at, " left");
    const uint32_t length = d::get_u32(bytes.data() + at);
    const uint8_t* type = bytes.data() + at + 4;
    const std::string type_name(reinterpret_cast<const char*>(type), 4);
    for (int i = 0; i < 4; ++i)
      VOXNN_CHECK((type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z'),
                  "png: chunk ", chunk_index, " at byte ", at, " has an invalid type (byte ", int{type[i]}, ")");
    VOXNN_CHECK(length <= d::kMaxDimension, "png: chunk ", type_name, " declares length ", length,
                ", more than PNG's limit of 2^31 - 1");
    VOXNN_CHECK(uint64_t{length} <= bytes.size() - at - 12, "png: truncated: chunk ", type_name, " at byte ", at,
                " declares ", length, " bytes of data but only ", bytes.size() - at - 12, " remain");
    const uint8_t* data = type + 4;
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, type, static_cast<uInt>(length + 4));
    const uint32_t stored_crc = d::get_u32(data + length);
    VOXNN_CHECK(static_cast<uint32_t>(crc) == stored_crc, "png: CRC mismatch in chunk ", type_name, " at byte ",
                at, " (stored ", stored_crc, ", computed ", static_cast<uint32_t>(crc), ")");
    at += 12 + std::size_t{length};

    if (chunk_index == 0)
      VOXNN_CHECK(type_name == "IHDR", "png: the first chunk is ", type_name, ", expected IHDR");
    if (type_name == "IHDR") {
      VOXNN_CHECK(chunk_index == 0, "png: a second IHDR chunk at chunk ", chunk_index);
      VOXNN_CHECK(length == 13, "png: IHDR has ", length, " bytes, expected 13");
      const uint32_t w = d::get_u32(data), h = d::get_u32(data + 4);
      const int depth = data[8], color = data[9], compression = data[10], filter = data[11], interlace = data[12];
      VOXNN_CHECK(w > 0 && h > 0 && w <= d::kMaxDimension && h <= d::kMaxDimension, "png: invalid image size ",
                  w, "x", h);
      VOXNN_CHECK(compression == 0 && filter == 0, "png: unknown compression method ", compression,
                  " or filter method ", filter, " (both must be 0)");
      VOXNN_CHECK(interlace == 0, "png: interlaced (Adam7) images are not supported");
      VOXNN_CHECK(color != 3, "png: palette images (colour type 3) are not supported");
      const int channels = d::channels_of(color);
      VOXNN_CHECK(channels > 0, "png: invalid colour type ", color);
      VOXNN_CHECK(depth == 8, "png: bit depth ", depth, " is not supported (only 8-bit images)");
      VOXNN_CHECK(uint64_t{w} * h * static_cast<uint64_t>(channels) <= d::kMaxDecodedBytes, "png: a ", w, "x", h,
                  "x", channels, " image is larger than the 4 GiB voxnn decodes");
      image.width = static_cast<int>(w);
      image.height = static_cast<int>(h);
      image.channels = channels;
      have_header = true;
    } else if (type_name == "IDAT") {
      VOXNN_CHECK(!idat_done, "png: IDAT chunks are not consecutive (another IDAT at chunk ", chunk_index, ")");
      idat.insert(idat.end(), data, data + length);
    } else if (type_name == "IEND") {
      have_end = true;
    } else {
      VOXNN_CHECK((type[0] & 0x20) != 0, "png: unsupported critical chunk ", type_name);
    }
    if (!idat.empty() && type_name != "IDAT") idat_done = true;
  }
  VOXNN_CHECK(have_header, "png: no IHDR chunk");
  VOXNN_CHECK(!idat.empty(), "png: no image data (IDAT chunk)");

  const std::size_t bpp = static_cast<std::size_t>(image.channels);
  const uint64_t row_bytes = uint64_t(image.width) * bpp;
  const uint64_t raw_size = (row_bytes + 1) * static_cast<uint64_t>(image.height);
  VOXNN_CHECK(raw_size <= d::kMaxInflateRatio * idat.size() + 1024, "png: a ", image.width, "x", image.height,
              "x", image.channels, " image needs ", raw_size, " bytes of filtered data, more than ", idat.size(),
              " compressed bytes can hold");
  std::vector<uint8_t> raw(static_cast<std::size_t>(raw_size));
  // One zlib stream over the concatenated IDAT data. Once the image is full, a 1-byte probe tells a
  // finished stream (its Adler-32 checked) from one that holds more data than the header declares.
  GzipReader stream(idat, DeflateFraming::zlib);
  std::size_t decoded = 0;
  bool surplus = false;
  try {
    decoded = stream.read(raw.data(), raw.size());
    surplus = decoded == raw.size() && !stream.at_end();
  } catch (const Error& e) {
    std::string why = e.what();
    if (why.rfind("gzip: ", 0) == 0) why.erase(0, 6);
    ::voxnn::detail::throw_error("png: corrupt or truncated image data (", why, "; ",
                                 std::min<uint64_t>(stream.position(), raw_size), " of ", raw_size,
                                 " bytes decoded)");
  }
  VOXNN_CHECK(!surplus, "png: the compressed data holds more than the ", raw_size, " bytes a ", image.width, "x",
              image.height, "x", image.channels, " image needs");
  VOXNN_CHECK(decoded == raw.size(), "png: the image data ends after ", decoded, " of ", raw_size, " bytes");

  image.pixels.resize(static_cast<std::size_t>(row_bytes) * static_cast<std::size_t>(image.height));
  const std::vector<uint8_t> zero_row(static_cast<std::size_t>(row_bytes), 0);
  for (int y = 0; y < image.height; ++y) {
    uint8_t* src = raw.data() + static_cast<std::size_t>(y) * (row_bytes + 1);
    const int filter = src[0];
    VOXNN_CHECK(filter <= 4, "png: row ", y, " has unknown filter type ", filter);
    uint8_t* row = image.pixels.data() + static_cast<std::size_t>(y) * row_bytes;
    std::memcpy(row, src + 1, static_cast<std::size_t>(row_bytes));
    d::unfilter_row(filter, row, y ? row - row_bytes : zero_row.data(), static_cast<std::size_t>(row_bytes), bpp);
  }
  return image;
}

inline PngImage read_png(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  VOXNN_CHECK(f.good(), "png: cannot open ", path);
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  VOXNN_CHECK(size >= 0, "png: cannot determine the size of ", path);
  f.seekg(0);
  std::vector<uint8_t> bytes(static_cast<std::size_t>(size));
  f.read(reinterpret_cast<char*>(bytes.data()), size);
  VOXNN_CHECK(f.gcount() == size, "png: reading ", path, " failed");
  try {
    return decode_png(bytes);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (" + path.string() + ")");
  }
}

}  // namespace voxnn::io
