#pragma once
// gzip streams through zlib: a reader that decompresses exactly as many bytes as its caller asks for
// (from memory or streamed from a file), and one-shot compression for writers. Compressed input is
// hostile: a corrupt or truncated stream is a voxnn::Error starting with "gzip:", and a caller can
// bound what it allocates by what the compressed bytes can possibly expand to (max_expansion()), so a
// small file that declares a huge size fails before anything large is allocated.
//
// Concatenated gzip members are read as one stream (as gzip -d and Python's gzip do); zero bytes
// after the last member are ignored, any other trailing bytes are an error.
//
// The same reader and compressor also speak zlib framing (DeflateFraming::zlib: the 2-byte zlib
// header and Adler-32 trailer instead of gzip's, as PNG's image data uses it); a zlib stream is one
// member, and bytes after its end are left unread. Error messages start with "gzip:" either way.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "voxnn/core/error.hpp"

namespace voxnn::io {

// True when the bytes start with the gzip magic number 1f 8b.
inline bool is_gzip(std::span<const uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

// How the deflate data is wrapped: a gzip member (RFC 1952: .gz files) or a zlib stream (RFC 1950:
// PNG image data). The zlib window bits that select them: 16 + 15 and 15.
enum class DeflateFraming { gzip, zlib };

namespace detail {
inline int window_bits(DeflateFraming framing) { return framing == DeflateFraming::gzip ? 16 + MAX_WBITS : MAX_WBITS; }
}  // namespace detail

// deflate's largest expansion: one 258-byte match per 2 bits of compressed input gives 1032:1.
inline constexpr uint64_t kMaxDeflateRatio = 1032;

// Decompresses a gzip stream (or a zlib stream) on demand. The memory form reads from a span that
// must outlive the reader; the file form reads the file in 256 KiB chunks.
class GzipReader {
 public:
  explicit GzipReader(std::span<const uint8_t> compressed, DeflateFraming framing = DeflateFraming::gzip)
      : compressed_size_(compressed.size()), framing_(framing) {
    init();
    next_in_ = compressed.data();
    avail_in_ = compressed.size();
  }

  explicit GzipReader(const std::filesystem::path& path) : file_(path, std::ios::binary) {
    std::error_code ec;
    compressed_size_ = std::filesystem::file_size(path, ec);
    VOXNN_CHECK(!ec && file_, "gzip: cannot open ", path, ec ? ": " + ec.message() : std::string());
    from_file_ = true;
    buffer_.resize(kChunk);
    init();
  }

  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;
  ~GzipReader() { inflateEnd(&z_); }

  // Decompresses up to n bytes into out; fewer only when the stream has ended. After an error,
  // position() counts the bytes decompressed before it.
  std::size_t read(uint8_t* out, std::size_t n) {
    std::size_t done = 0;
    while (done < n && !finished_) {
      if (avail_in_ == 0 && !refill()) {
        VOXNN_CHECK(!in_member_, "gzip: the compressed stream is truncated (it ends after ", position_,
                    " decompressed bytes)");
        finished_ = true;
        break;
      }
      if (!in_member_) {  // between members: skip zero padding, then expect another member or the end
        if (*next_in_ == 0) {
          ++next_in_;
          --avail_in_;
          continue;
        }
        VOXNN_CHECK(*next_in_ == 0x1f, "gzip: unexpected bytes after the end of the compressed stream");
        VOXNN_CHECK(inflateReset(&z_) == Z_OK, "gzip: cannot reset the decompressor");
        in_member_ = true;
      }
      const std::size_t want = std::min<std::size_t>(n - done, kMaxStep);
      const std::size_t give = std::min<std::size_t>(avail_in_, kMaxStep);
      z_.next_in = const_cast<Bytef*>(next_in_);
      z_.avail_in = static_cast<uInt>(give);
      z_.next_out = out + done;
      z_.avail_out = static_cast<uInt>(want);
      const int rc = inflate(&z_, Z_NO_FLUSH);
      const std::size_t consumed = give - z_.avail_in, produced = want - z_.avail_out;
      next_in_ += consumed;
      avail_in_ -= consumed;
      done += produced;
      position_ += produced;
      if (rc == Z_STREAM_END) {
        in_member_ = false;
        finished_ = framing_ == DeflateFraming::zlib;  // one zlib stream; what follows is not read
      } else if (rc == Z_BUF_ERROR) {
        // No progress possible: only legitimate when the input ran dry mid-stream; the next loop
        // iteration refills or reports the truncation.
        VOXNN_CHECK(consumed == 0 && produced == 0 && avail_in_ == 0, "gzip: corrupt compressed data");
      } else {
        VOXNN_CHECK(rc == Z_OK, "gzip: corrupt compressed data (zlib: ", z_.msg ? z_.msg : "error", ")");
      }
    }
    return done;
  }

  // Exactly n bytes, or an error that names `what` and how many bytes the stream had.
  void read_exact(uint8_t* out, std::size_t n, std::string_view what) {
    const uint64_t start = position_;
    const std::size_t got = read(out, n);
    VOXNN_CHECK(got == n, "gzip: the stream ends after ", start + got, " decompressed bytes, inside ", what,
                " (bytes ", start, " to ", start + n, "; truncated file)");
  }

  // Decompresses and discards n bytes.
  void skip(uint64_t n, std::string_view what) {
    uint8_t scratch[4096];
    while (n > 0) {
      const std::size_t step = static_cast<std::size_t>(std::min<uint64_t>(n, sizeof scratch));
      read_exact(scratch, step, what);
      n -= step;
    }
  }

  // True when no decompressed byte remains; reads to the end of the stream, which also checks its
  // CRC trailer. When it returns false it has consumed one byte: use it only to check for surplus.
  bool at_end() {
    uint8_t probe;
    return read(&probe, 1) == 0;
  }

  uint64_t position() const { return position_; }           // decompressed bytes delivered so far
  uint64_t compressed_size() const { return compressed_size_; }
  // An upper bound on the decompressed bytes that can still follow: what deflate can expand the
  // whole compressed input to, less what was delivered.
  uint64_t max_remaining() const {
    const uint64_t total = compressed_size_ > std::numeric_limits<uint64_t>::max() / kMaxDeflateRatio
                               ? std::numeric_limits<uint64_t>::max()
                               : compressed_size_ * kMaxDeflateRatio;
    return total > position_ ? total - position_ : 0;
  }

 private:
  static constexpr std::size_t kChunk = 256 * 1024;
  static constexpr std::size_t kMaxStep = std::size_t{1} << 30;  // zlib counts in 32-bit uInt

  void init() {
    std::memset(&z_, 0, sizeof z_);
    VOXNN_CHECK(inflateInit2(&z_, detail::window_bits(framing_)) == Z_OK, "gzip: cannot initialise zlib");
  }

  bool refill() {
    if (!from_file_) return false;
    file_.read(reinterpret_cast<char*>(buffer_.data()), static_cast<std::streamsize>(buffer_.size()));
    const auto got = static_cast<std::size_t>(file_.gcount());
    next_in_ = buffer_.data();
    avail_in_ = got;
    return got > 0;
  }

  z_stream z_{};
  std::ifstream file_;
  bool from_file_ = false;
  std::vector<uint8_t> buffer_;
  const uint8_t* next_in_ = nullptr;
  std::size_t avail_in_ = 0;
  uint64_t compressed_size_ = 0;
  uint64_t position_ = 0;
  DeflateFraming framing_ = DeflateFraming::gzip;
  bool in_member_ = true;
  bool finished_ = false;
};

// Decompresses a whole gzip stream, refusing to produce more than max_size bytes.
inline std::vector<uint8_t> gzip_decompress(std::span<const uint8_t> compressed,
                                            std::size_t max_size = std::size_t{1} << 32) {
  GzipReader reader(compressed);
  const uint64_t cap_total = max_size == std::numeric_limits<std::size_t>::max() ? max_size : max_size + 1;
  std::vector<uint8_t> out;
  std::size_t size = 0;
  for (;;) {  // grow geometrically: memory stays within twice what the stream really holds
    const auto cap = static_cast<std::size_t>(
        std::min<uint64_t>(cap_total, std::max<std::size_t>(2 * out.size(), 64 * 1024)));
    out.resize(cap);
    size += reader.read(out.data() + size, cap - size);
    if (size < cap) break;
    VOXNN_CHECK(size <= max_size, "gzip: the stream decompresses to more than ", max_size, " bytes");
  }
  out.resize(size);
  return out;
}

// Compresses bytes into one gzip member, or one zlib stream (level 0..9; 1 is fastest, 9 smallest).
inline std::vector<uint8_t> gzip_compress(std::span<const uint8_t> data, int level = 6,
                                          DeflateFraming framing = DeflateFraming::gzip) {
  VOXNN_CHECK(level >= 0 && level <= 9, "gzip: compression level ", level, " is outside 0..9");
  z_stream z;
  std::memset(&z, 0, sizeof z);
  VOXNN_CHECK(deflateInit2(&z, level, Z_DEFLATED, detail::window_bits(framing), 8, Z_DEFAULT_STRATEGY) == Z_OK,
              "gzip: cannot initialise zlib");
  std::vector<uint8_t> out(deflateBound(&z, static_cast<uLong>(std::min<std::size_t>(data.size(), 1u << 30))) +
                           64);
  std::size_t in_pos = 0, out_pos = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out.size() - out_pos < 64 * 1024) out.resize(out.size() + std::max<std::size_t>(out.size() / 2, 64 * 1024));
    const std::size_t give = std::min<std::size_t>(data.size() - in_pos, std::size_t{1} << 30);
    const std::size_t room = std::min<std::size_t>(out.size() - out_pos, std::size_t{1} << 30);
    z.next_in = const_cast<Bytef*>(data.data() + in_pos);
    z.avail_in = static_cast<uInt>(give);
    z.next_out = out.data() + out_pos;
    z.avail_out = static_cast<uInt>(room);
    const bool last = in_pos + give == data.size();
    rc = deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
    in_pos += give - z.avail_in;
    out_pos += room - z.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      deflateEnd(&z);
      ::voxnn::detail::throw_error("gzip: compression failed (zlib error ", rc, ")");
    }
  }
  deflateEnd(&z);
  out.resize(out_pos);
  return out;
}

}  // namespace voxnn::io
