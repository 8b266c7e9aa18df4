// PNG: encoder -> decoder round trips; the encoder's files checked byte by byte with an independent
// CRC-32 and zlib's own inflate; files written by PIL and matplotlib (tests/fixtures/io_png_*.png,
// made by gen_io_png.py) decoded; every row filter; and hostile input: every malformed file must end
// in a voxnn::Error that starts with "png:", never a crash or an outsized allocation.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <voxnn/io/png.hpp>

#include "support/temp_file.hpp"

using namespace voxnn;
using test::TempFile;
using Catch::Contains;

#ifndef VOXNN_TEST_FIXTURES
#error "VOXNN_TEST_FIXTURES must name the fixtures directory"
#endif

namespace {

// CRC-32 (ISO 3309, reflected 0xEDB88320), bit by bit: independent of zlib's table-driven crc32.
uint32_t crc32_bitwise(const uint8_t* p, std::size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

uint32_t be32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; }
void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

struct Chunk {
  std::string type;
  std::vector<uint8_t> data;
};

// Splits a PNG into chunks, checking each CRC with crc32_bitwise.
std::vector<Chunk> chunks_of(const std::vector<uint8_t>& png) {
  std::vector<Chunk> out;
  REQUIRE(png.size() >= 8);
  std::size_t at = 8;
  while (at < png.size()) {
    REQUIRE(png.size() - at >= 12);
    const uint32_t n = be32(&png[at]);
    REQUIRE(n <= png.size() - at - 12);
    Chunk c{std::string(reinterpret_cast<const char*>(&png[at + 4]), 4),
            std::vector<uint8_t>(png.begin() + static_cast<std::ptrdiff_t>(at + 8),
                                 png.begin() + static_cast<std::ptrdiff_t>(at + 8 + n))};
    INFO("chunk " << c.type);
    CHECK(be32(&png[at + 8 + n]) == crc32_bitwise(&png[at + 4], n + 4));
    out.push_back(std::move(c));
    at += 12 + n;
  }
  return out;
}

std::vector<uint8_t> chunk_bytes(const std::string& type, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out;
  out.reserve(12 + type.size() + data.size());  // also keeps g++ 12 -O3 from a false -Wstringop-overread
  put_be32(out, static_cast<uint32_t>(data.size()));
  out.insert(out.end(), type.begin(), type.end());
  out.insert(out.end(), data.begin(), data.end());
  put_be32(out, crc32_bitwise(out.data() + 4, data.size() + 4));
  return out;
}

std::vector<uint8_t> ihdr(uint32_t w, uint32_t h, int depth, int color, int interlace = 0) {
  std::vector<uint8_t> d;
  put_be32(d, w);
  put_be32(d, h);
  d.insert(d.end(), {static_cast<uint8_t>(depth), static_cast<uint8_t>(color), 0, 0, static_cast<uint8_t>(interlace)});
  return d;
}

const std::vector<uint8_t> kSignature{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

std::vector<uint8_t> file_of(const std::vector<std::vector<uint8_t>>& chunks) {
  std::vector<uint8_t> out = kSignature;
  for (const auto& c : chunks) out.insert(out.end(), c.begin(), c.end());
  return out;
}

std::vector<uint8_t> deflate_bytes(const std::vector<uint8_t>& raw) {
  uLongf n = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> out(n);
  REQUIRE(compress2(out.data(), &n, raw.data(), static_cast<uLong>(raw.size()), 9) == Z_OK);
  out.resize(n);
  return out;
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Filtered scanlines of an image with the given filter for row y: filters[y % filters.size()].
std::vector<uint8_t> filtered(const io::PngImage& img, const std::vector<int>& filters) {
  const std::size_t bpp = img.channels, row = static_cast<std::size_t>(img.width) * bpp;
  std::vector<uint8_t> out;
  for (int y = 0; y < img.height; ++y) {
    const int f = filters[static_cast<std::size_t>(y) % filters.size()];
    out.push_back(static_cast<uint8_t>(f));
    for (std::size_t i = 0; i < row; ++i) {
      auto px = [&](int yy, std::ptrdiff_t ii) -> int {
        return yy < 0 || ii < 0 ? 0 : img.pixels[static_cast<std::size_t>(yy) * row + static_cast<std::size_t>(ii)];
      };
      const auto ii = static_cast<std::ptrdiff_t>(i), b = static_cast<std::ptrdiff_t>(bpp);
      const int x = px(y, ii), a = px(y, ii - b), up = px(y - 1, ii), c = px(y - 1, ii - b);
      const int pred = f == 1 ? a : f == 2 ? up : f == 3 ? (a + up) / 2 : f == 4 ? paeth(a, up, c) : 0;
      out.push_back(static_cast<uint8_t>(x - pred));
    }
  }
  return out;
}

int color_type(int channels) { return channels == 1 ? 0 : channels == 2 ? 4 : channels == 3 ? 2 : 6; }

io::PngImage random_image(int w, int h, int channels, uint64_t seed, bool smooth) {
  std::mt19937_64 rng(seed);
  io::PngImage img{w, h, channels, std::vector<uint8_t>(static_cast<std::size_t>(w) * h * channels)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        img.at(x, y)[c] = smooth ? static_cast<uint8_t>(x * 3 + y * 5 + c * 40 + (rng() % 3)) : static_cast<uint8_t>(rng());
  return img;
}

// The formula gen_io_png.py wrote its pixels with.
uint8_t fixture_value(int x, int y, int c) { return static_cast<uint8_t>((7 * x * x + 13 * y + 91 * c + 3 * x * y) % 256); }

std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

io::PngImage decode(const std::vector<uint8_t>& bytes) { return io::decode_png(bytes); }

}  // namespace

TEST_CASE("png: encode -> decode round trip for every channel count and odd sizes", "[io][png]") {
  for (int channels = 1; channels <= 4; ++channels)
    for (auto [w, h] : {std::pair{1, 1}, {7, 3}, {64, 48}, {1000, 1}, {1, 300}})
      for (bool smooth : {false, true}) {
        INFO(channels << " channels, " << w << "x" << h << (smooth ? " smooth" : " noise"));
        const io::PngImage img = random_image(w, h, channels, static_cast<uint64_t>(w * 31 + h + channels), smooth);
        const io::PngImage back = io::decode_png(io::encode_png(img));
        CHECK(back.width == w);
        CHECK(back.height == h);
        CHECK(back.channels == channels);
        CHECK(back.pixels == img.pixels);
      }
}

TEST_CASE("png: the encoder's file checked independently (chunks, CRCs, zlib stream, filters)", "[io][png]") {
  const io::PngImage img = random_image(37, 23, 3, 5, true);
  const std::vector<uint8_t> png = io::encode_png(img);
  REQUIRE(std::equal(kSignature.begin(), kSignature.end(), png.begin()));
  const auto chunks = chunks_of(png);
  REQUIRE(chunks.size() >= 3);
  CHECK(chunks.front().type == "IHDR");
  CHECK(chunks.front().data == ihdr(37, 23, 8, 2));
  CHECK(chunks.back().type == "IEND");
  CHECK(chunks.back().data.empty());
  std::vector<uint8_t> idat;
  for (std::size_t i = 1; i + 1 < chunks.size(); ++i) {
    CHECK(chunks[i].type == "IDAT");
    idat.insert(idat.end(), chunks[i].data.begin(), chunks[i].data.end());
  }
  // zlib's uncompress checks the zlib header and the Adler-32 trailer
  std::vector<uint8_t> raw(23 * (37 * 3 + 1));
  uLongf n = static_cast<uLongf>(raw.size());
  REQUIRE(uncompress(raw.data(), &n, idat.data(), static_cast<uLong>(idat.size())) == Z_OK);
  REQUIRE(n == raw.size());
  // undo each row's filter with this file's own implementation
  const std::size_t row = 37 * 3;
  std::vector<uint8_t> pixels(row * 23);
  for (std::size_t y = 0; y < 23; ++y) {
    const int f = raw[y * (row + 1)];
    REQUIRE(f <= 4);
    for (std::size_t i = 0; i < row; ++i) {
      const int a = i >= 3 ? pixels[y * row + i - 3] : 0, b = y ? pixels[(y - 1) * row + i] : 0;
      const int c = i >= 3 && y ? pixels[(y - 1) * row + i - 3] : 0;
      const int pred = f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : f == 4 ? paeth(a, b, c) : 0;
      pixels[y * row + i] = static_cast<uint8_t>(raw[y * (row + 1) + 1 + i] + pred);
    }
  }
  CHECK(pixels == img.pixels);
}

TEST_CASE("png: the decoder undoes every filter type and joins split IDAT chunks", "[io][png]") {
  for (int channels = 1; channels <= 4; ++channels)
    for (const std::vector<int>& filters : {std::vector<int>{0}, {1}, {2}, {3}, {4}, {4, 3, 2, 1, 0}}) {
      INFO(channels << " channels, first filter " << filters[0]);
      // values from {0, 60, 120, 180}: many Paeth ties (|b - c| == |a - c| with a != b), so the
      // tie-breaking order a, b, c is exercised
      io::PngImage img = random_image(11, 9, channels, 77, false);
      for (auto& v : img.pixels) v = static_cast<uint8_t>(60 * (v % 4));
      const auto z = deflate_bytes(filtered(img, filters));
      // the compressed stream split over three IDAT chunks (one of them empty)
      const std::size_t third = z.size() / 3;
      const auto bytes = file_of({chunk_bytes("IHDR", ihdr(11, 9, 8, color_type(channels))),
                                  chunk_bytes("IDAT", {z.begin(), z.begin() + static_cast<std::ptrdiff_t>(third)}),
                                  chunk_bytes("IDAT", {}),
                                  chunk_bytes("IDAT", {z.begin() + static_cast<std::ptrdiff_t>(third), z.end()}),
                                  chunk_bytes("IEND", {})});
      const io::PngImage back = decode(bytes);
      CHECK(back.channels == channels);
      CHECK(back.pixels == img.pixels);
    }
}

TEST_CASE("png: files written by PIL and matplotlib decode to their pixels", "[io][png]") {
  const std::string dir = VOXNN_TEST_FIXTURES;
  for (auto [name, channels, w, h] : {std::tuple{"gray", 1, 13, 7}, {"la", 2, 5, 4}, {"rgb", 3, 16, 11}, {"rgba", 4, 9, 6}}) {
    INFO("io_png_" << name << ".png");
    const io::PngImage img = io::read_png(dir + "/io_png_" + name + ".png");
    REQUIRE(img.width == w);
    REQUIRE(img.height == h);
    REQUIRE(img.channels == channels);
    int wrong = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < channels; ++c) wrong += img.at(x, y)[c] != fixture_value(x, y, c);
    CHECK(wrong == 0);
  }
  // matplotlib: a 24x16 RGBA figure, facecolor (0.2, 0.4, 0.6) = (51, 102, 153), white over [6, 18) x [4, 12)
  const io::PngImage fig = io::read_png(dir + "/io_png_matplotlib.png");
  REQUIRE(fig.width == 24);
  REQUIRE(fig.height == 16);
  REQUIRE(fig.channels == 4);
  int wrong = 0;
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 24; ++x) {
      const bool inside = x >= 6 && x < 18 && y >= 4 && y < 12;
      const std::array<uint8_t, 4> expected = inside ? std::array<uint8_t, 4>{255, 255, 255, 255}
                                                     : std::array<uint8_t, 4>{51, 102, 153, 255};
      wrong += !std::equal(expected.begin(), expected.end(), fig.at(x, y));
    }
  CHECK(wrong == 0);
}

TEST_CASE("png: write_png and read_png go through the file system", "[io][png]") {
  TempFile f(".png");
  const io::PngImage img = random_image(20, 10, 4, 3, true);
  io::write_png(f.path, img);
  const io::PngImage back = io::read_png(f.path);
  CHECK(back.pixels == img.pixels);
  CHECK(read_bytes(f.path) == io::encode_png(img));
  REQUIRE_THROWS_WITH(io::read_png(f.path.string() + ".missing"), Contains("png: cannot open"));
  std::ofstream(f.path, std::ios::binary) << "not a png";
  REQUIRE_THROWS_WITH(io::read_png(f.path), Contains("png: not a PNG file") && Contains(f.path.filename().string()));
}

TEST_CASE("png: the encoder refuses inconsistent images", "[io][png]") {
  REQUIRE_THROWS_WITH(io::encode_png({2, 2, 5, std::vector<uint8_t>(20)}), Contains("png: cannot encode an image with 5 channels"));
  REQUIRE_THROWS_WITH(io::encode_png({0, 2, 1, {}}), Contains("both sides must be positive"));
  REQUIRE_THROWS_WITH(io::encode_png({2, 2, 3, std::vector<uint8_t>(11)}), Contains("needs 12 bytes of pixels, got 11"));
}

TEST_CASE("png: hostile headers and chunks give clear errors", "[io][png]") {
  const io::PngImage img = random_image(6, 5, 3, 9, true);
  const auto z = deflate_bytes(filtered(img, {0}));
  const auto good_ihdr = chunk_bytes("IHDR", ihdr(6, 5, 8, 2));
  const auto idat = chunk_bytes("IDAT", z), iend = chunk_bytes("IEND", {});
  REQUIRE(decode(file_of({good_ihdr, idat, iend})).pixels == img.pixels);

  REQUIRE_THROWS_WITH(decode({}), Contains("png: not a PNG file"));
  REQUIRE_THROWS_WITH(decode({0x89, 'P', 'N', 'G'}), Contains("png: not a PNG file"));
  REQUIRE_THROWS_WITH(decode(kSignature), Contains("png: truncated"));
  REQUIRE_THROWS_WITH(decode(file_of({idat, good_ihdr, iend})), Contains("png: the first chunk is IDAT, expected IHDR"));
  REQUIRE_THROWS_WITH(decode(file_of({good_ihdr, good_ihdr, idat, iend})), Contains("png: a second IHDR"));
  REQUIRE_THROWS_WITH(decode(file_of({chunk_bytes("IHDR", {1, 2, 3}), idat, iend})), Contains("IHDR has 3 bytes, expected 13"));
  REQUIRE_THROWS_WITH(decode(file_of({chunk_bytes("IHDR", ihdr(0, 5, 8, 2)), idat, iend})), Contains("png: invalid image size 0x5"));
  REQUIRE_THROWS_WITH(decode(file_of({chunk_bytes("IHDR", ihdr(0x80000000u, 5, 8, 2)), idat, iend})),
                      Contains("png: invalid image size"));
  REQUIRE_THROWS_WITH(decode(file_of({chunk_bytes("IHDR", ihdr(6, 5, 16, 2)), idat, iend})), Contains("bit depth 16 is not supported"));
  REQUIRE_THROWS_WITH(decode(file_of({chunk_bytes("IHDR", ihdr(6, 5, 8, 3)), idat, iend})), Contains("palette images"));
  REQUIRE_THROWS_WITH(decode(file_of({chunk_bytes("IHDR", ihdr(6, 5, 8, 5)), idat, iend})), Contains("invalid colour type 5"));
  REQUIRE_THROWS_WITH(decode(file_of({chunk_bytes("IHDR", ihdr(6, 5, 8, 2, 1)), idat, iend})), Contains("interlaced"));
  REQUIRE_THROWS_WITH(decode(file_of({good_ihdr, iend})), Contains("png: no image data"));
  REQUIRE_THROWS_WITH(decode(file_of({good_ihdr, idat})), Contains("png: truncated"));
  REQUIRE_THROWS_WITH(decode(file_of({good_ihdr, chunk_bytes("IDAT", {z.begin(), z.begin() + 5}), chunk_bytes("tEXt", {'a', 0, 'b'}),
                                      chunk_bytes("IDAT", {z.begin() + 5, z.end()}), iend})),
                      Contains("IDAT chunks are not consecutive"));
  REQUIRE_THROWS_WITH(decode(file_of({good_ihdr, chunk_bytes("ABCD", {1}), idat, iend})), Contains("unsupported critical chunk ABCD"));
  REQUIRE(decode(file_of({good_ihdr, chunk_bytes("abCD", {1}), idat, iend})).pixels == img.pixels);  // ancillary: skipped
  REQUIRE_THROWS_WITH(decode(file_of({good_ihdr, chunk_bytes("I1AT", {}), idat, iend})), Contains("invalid type"));

  // a wrong CRC anywhere
  auto bad_crc = file_of({good_ihdr, idat, iend});
  bad_crc[8 + good_ihdr.size() + idat.size() - 1] ^= 1;
  REQUIRE_THROWS_WITH(decode(bad_crc), Contains("png: CRC mismatch in chunk IDAT"));
  // a chunk length past the end of the file, and one above 2^31 - 1
  auto long_chunk = file_of({good_ihdr, idat, iend});
  long_chunk[8 + good_ihdr.size()] = 0x00;
  long_chunk[8 + good_ihdr.size() + 1] = 0x10;
  REQUIRE_THROWS_WITH(decode(long_chunk), Contains("declares 1048") && Contains("remain"));
  long_chunk[8 + good_ihdr.size()] = 0xFF;
  REQUIRE_THROWS_WITH(decode(long_chunk), Contains("more than PNG's limit"));
}

TEST_CASE("png: hostile image data gives clear errors, and sizes are bounded before allocating", "[io][png]") {
  const io::PngImage img = random_image(6, 5, 1, 4, false);
  const auto good_ihdr = chunk_bytes("IHDR", ihdr(6, 5, 8, 0));
  const auto iend = chunk_bytes("IEND", {});
  auto raw = filtered(img, {1});
  // an unknown filter type
  auto bad_filter = raw;
  bad_filter[7 * 2] = 9;
  REQUIRE_THROWS_WITH(decode(file_of({good_ihdr, chunk_bytes("IDAT", deflate_bytes(bad_filter)), iend})),
                      Contains("png: row 2 has unknown filter type 9"));
  // too little and too much data for the declared size
  std::vector<uint8_t> shorter(raw.begin(), raw.end() - 1), longer = raw;
  longer.push_back(0);
  REQUIRE_THROWS_WITH(decode(file_of({good_ihdr, chunk_bytes("IDAT", deflate_bytes(shorter)), iend})), Contains("png: the image data ends after 34 of 35 bytes"));
  REQUIRE_THROWS_WITH(decode(file_of({good_ihdr, chunk_bytes("IDAT", deflate_bytes(longer)), iend})), Contains("holds more than the 35 bytes"));
  // a truncated zlib stream, garbage instead of zlib
  auto z = deflate_bytes(raw);
  z.resize(z.size() - 6);
  REQUIRE_THROWS_WITH(decode(file_of({good_ihdr, chunk_bytes("IDAT", z), iend})), Contains("png: corrupt or truncated image data"));
  REQUIRE_THROWS_WITH(decode(file_of({good_ihdr, chunk_bytes("IDAT", {1, 2, 3, 4, 5, 6, 7, 8}), iend})),
                      Contains("png: corrupt or truncated image data"));
  // a huge declared image with a few bytes of data is refused before anything is allocated
  REQUIRE_THROWS_WITH(decode(file_of({chunk_bytes("IHDR", ihdr(60000, 60000, 8, 6)), chunk_bytes("IDAT", deflate_bytes(raw)), iend})),
                      Contains("larger than the 4 GiB"));
  REQUIRE_THROWS_WITH(decode(file_of({chunk_bytes("IHDR", ihdr(30000, 30000, 8, 0)), chunk_bytes("IDAT", deflate_bytes(raw)), iend})),
                      Contains("more than") && Contains("compressed bytes can hold"));
}

TEST_CASE("png: every truncation and every single-byte corruption is an Error or a valid image", "[io][png]") {
  const io::PngImage img = random_image(9, 7, 4, 21, true);
  const std::vector<uint8_t> good = io::encode_png(img);
  for (std::size_t n = 0; n < good.size(); ++n) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    INFO("truncated to " << n << " bytes");
    REQUIRE_THROWS_AS(decode(cut), voxnn::Error);
  }
  std::mt19937 rng(8);
  int decoded = 0;
  for (std::size_t i = 0; i < good.size(); ++i)
    for (int trial = 0; trial < 3; ++trial) {
      std::vector<uint8_t> bad = good;
      bad[i] = static_cast<uint8_t>(bad[i] ^ (1u + rng() % 255u));
      try {
        const io::PngImage out = decode(bad);
        CHECK(out.pixels.size() == static_cast<std::size_t>(out.width) * out.height * out.channels);
        ++decoded;
      } catch (const voxnn::Error& e) {
        CHECK_THAT(e.what(), Catch::StartsWith("png:"));
      }
    }
  CHECK(decoded == 0);  // every byte is covered by the signature check, a length check or a CRC
}
