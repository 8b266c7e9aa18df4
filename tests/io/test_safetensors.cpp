// safetensors: round trips for every dtype, files written by PyTorch (tests/fixtures/io_dtypes.safetensors,
// independent of the C++ writer), exact 16-bit float conversions against torch, and hostile input:
// every malformed file must end in a voxnn::Error that names "safetensors" and the problem.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <voxnn/core/factory.hpp>
#include <voxnn/io/json_lite.hpp>
#include <voxnn/io/safetensors.hpp>

#include "support/fixtures.hpp"
#include "support/temp_file.hpp"

using namespace voxnn;
using test::TempFile;
using Catch::Contains;

namespace {

// A file made of an 8-byte length, the header text and the data bytes.
std::vector<uint8_t> file_bytes(const std::string& header, std::vector<uint8_t> data = {}) {
  std::vector<uint8_t> out(8 + header.size() + data.size());
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<std::ptrdiff_t>(header.size()));
  return out;
}

io::TensorFile parse(const std::vector<uint8_t>& bytes) { return io::parse_safetensors(bytes); }

template <class T>
std::vector<uint8_t> raw(std::initializer_list<T> values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

// NaN-aware exact equality of float vectors.
bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  return true;
}

io::TensorFile every_dtype() {
  io::TensorFile f;
  f.metadata = {{"format", "pt"}, {"quote \"and\" \\ backslash", "line\nbreak\ttab \x01 caf\xc3\xa9"}};
  f.add("f64", from_vector<double>({-1.5, 0, 2.25, 1e300, -1e-300, 3}, {2, 3}));
  f.add("f32", from_vector<float>({1.5f, -2, 3e30f, 7}, {4}));
  f.add("i64", from_vector<int64_t>({INT64_MIN, -1, 0, INT64_MAX}, {2, 2}));
  f.add("i32", from_vector<int32_t>({INT32_MIN, 5, INT32_MAX}, {3, 1}));
  f.add("u8", from_vector<uint8_t>({0, 7, 255}));
  f.add("bool", from_vector<bool>({true, false, false, true}, {2, 2}));
  f.add("f16", from_vector<float>({1, -0.5f, 65504, 6e-8f}), io::DType::F16);
  f.add("bf16", from_vector<double>({1, -0.5, 3e38, 1.0 / 3}), io::DType::BF16);
  f.add(io::TensorEntry{"i16", io::DType::I16, Shape{3}, raw<int16_t>({-32768, 1, 32767})});
  f.add(io::TensorEntry{"i8", io::DType::I8, Shape{2}, raw<int8_t>({-128, 127})});
  f.add("scalar", scalar_tensor(4.0f));
  f.add("empty", zeros<double>({0, 3}));
  f.add("rank8", arange<int32_t>(6).reshape({1, 2, 1, 3, 1, 1, 1, 1}));
  f.add("transposed", arange<double>(6).reshape({2, 3}).t());  // written in logical order
  return f;
}

}  // namespace

TEST_CASE("safetensors round trip", "[io][safetensors]") {
  const io::TensorFile f = every_dtype();

  SECTION("in memory and through a file, every dtype keeps names, order, shapes and bytes") {
    TempFile tmp(".safetensors");
    io::save_safetensors(tmp.path, f);
    for (const io::TensorFile& g : {parse(io::serialize_safetensors(f)), io::load_safetensors(tmp.path)}) {
      CHECK(g.metadata == f.metadata);
      REQUIRE(g.names() == f.names());
      for (std::size_t i = 0; i < f.size(); ++i) {
        const auto& a = f.entries()[i];
        const auto& b = g.entries()[i];
        INFO(a.name);
        CHECK(b.dtype == a.dtype);
        CHECK(b.shape == a.shape);
        CHECK(b.bytes == a.bytes);
      }
    }
  }
  SECTION("values come back in any element type") {
    const io::TensorFile g = parse(io::serialize_safetensors(f));
    CHECK(g.get<double>("f64").to_vector() == std::vector<double>{-1.5, 0, 2.25, 1e300, -1e-300, 3});
    CHECK(g.get<double>("f32").to_vector() == std::vector<double>{1.5, -2, double(3e30f), 7});
    CHECK(g.get<int64_t>("i64").to_vector() == std::vector<int64_t>{INT64_MIN, -1, 0, INT64_MAX});
    CHECK(g.get<int32_t>("i32").to_vector() == std::vector<int32_t>{INT32_MIN, 5, INT32_MAX});
    CHECK(g.get<uint8_t>("u8").to_vector() == std::vector<uint8_t>{0, 7, 255});
    CHECK(g.get<bool>("bool").to_vector() == std::vector<bool>{true, false, false, true});
    CHECK(g.get<float>("bool").to_vector() == std::vector<float>{1, 0, 0, 1});
    CHECK(g.get<float>("f16").to_vector() == std::vector<float>{1, -0.5f, 65504, 5.9604645e-8f});
    CHECK(g.get<double>("bf16").to_vector() == std::vector<double>{1, -0.5, 3.00405527047391e+38, 0.333984375});
    CHECK(g.get<int64_t>("i16").to_vector() == std::vector<int64_t>{-32768, 1, 32767});
    CHECK(g.get<float>("i8").to_vector() == std::vector<float>{-128, 127});
    CHECK(g.get<float>("scalar").dim() == 0);
    CHECK(g.get<float>("scalar").item() == 4.0f);
    CHECK(g.get<double>("empty").shape() == Shape{0, 3});
    CHECK(g.get<int32_t>("rank8").shape() == Shape{1, 2, 1, 3, 1, 1, 1, 1});
    CHECK(g.get<double>("transposed").to_vector() == std::vector<double>{0, 3, 1, 4, 2, 5});
  }
  SECTION("conversions to integers refuse values that do not fit") {
    const io::TensorFile g = parse(io::serialize_safetensors(f));
    REQUIRE_THROWS_WITH(g.get<int64_t>("f64"), Contains("safetensors") && Contains("\"f64\"") && Contains("int64"));
    REQUIRE_THROWS_WITH(g.get<int32_t>("i64"), Contains("safetensors") && Contains("int32"));
    REQUIRE_THROWS_WITH(g.get<uint8_t>("i8"), Contains("safetensors") && Contains("uint8"));
    io::TensorFile h;
    h.add("nan", from_vector<float>({std::nanf("")}));
    h.add("big", from_vector<double>({9.3e18}));
    h.add("edge", from_vector<double>({-9223372036854775808.0, 255.0, -0.75}));
    REQUIRE_THROWS_WITH(h.get<int32_t>("nan"), Contains("nan") && Contains("int32"));
    REQUIRE_THROWS_WITH(h.get<int64_t>("big"), Contains("int64"));
    CHECK(h.get<int64_t>("edge").to_vector() == std::vector<int64_t>{INT64_MIN, 255, 0});
    REQUIRE_THROWS_WITH(h.get<uint8_t>("edge"), Contains("uint8"));
    CHECK(h.get<bool>("edge").to_vector() == std::vector<bool>{true, true, true});
  }
  SECTION("a state dict saves from a vector of pairs or a map, in its order") {
    TempFile tmp(".safetensors");
    std::vector<std::pair<std::string, Tensor<float>>> sd{{"z.weight", ones<float>({2, 3})}, {"a.bias", zeros<float>({3})}};
    io::save_safetensors(tmp.path, sd, {{"epoch", "3"}});
    const auto g = io::load_safetensors(tmp.path);
    CHECK(g.names() == std::vector<std::string>{"z.weight", "a.bias"});
    CHECK(g.metadata.at("epoch") == "3");
    CHECK(g.entry("z.weight").dtype == io::DType::F32);
    std::map<std::string, Tensor<int64_t>> counts{{"b", arange<int64_t>(3)}, {"a", arange<int64_t>(2)}};
    io::save_safetensors(tmp.path, counts);
    const auto h = io::load_safetensors(tmp.path);
    CHECK(h.names() == std::vector<std::string>{"a", "b"});
    CHECK(h.metadata.empty());
    CHECK(h.get<int64_t>("b").to_vector() == std::vector<int64_t>{0, 1, 2});
  }
  SECTION("the header is padded with spaces so the data starts 8-byte aligned") {
    const auto bytes = io::serialize_safetensors(f);
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    CHECK(n % 8 == 0);
    const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
    CHECK(header.rfind("{\"__metadata__\":", 0) == 0);
    CHECK(header.find_last_not_of(' ') + 1 <= header.size());
    CHECK(io::json::parse(header).object().size() == f.size() + 1);
    io::TensorFile small;
    small.add("x", scalar_tensor(1.0));
    const auto b = io::serialize_safetensors(small);
    std::memcpy(&n, b.data(), 8);
    CHECK(n % 8 == 0);
    CHECK(b.size() == 8 + n + 8);
  }
  SECTION("writer errors") {
    io::TensorFile g;
    g.add("x", ones<float>({2}));
    REQUIRE_THROWS_WITH(g.add("x", ones<float>({3})), Contains("safetensors") && Contains("duplicate") && Contains("\"x\""));
    REQUIRE_THROWS_WITH(g.add("__metadata__", ones<float>({3})), Contains("safetensors") && Contains("reserved"));
    REQUIRE_THROWS_WITH(g.add(io::TensorEntry{"y", io::DType::F32, Shape{2, 2}, std::vector<uint8_t>(15)}),
                        Contains("safetensors") && Contains("\"y\"") && Contains("16 bytes"));
    REQUIRE_THROWS_WITH(g.add("u", Tensor<float>()), Contains("safetensors") && Contains("undefined"));
    REQUIRE_THROWS_WITH(g.add("h", ones<double>({2}), io::DType::I32), Contains("safetensors") && Contains("I32"));
    REQUIRE_THROWS_WITH(g.entry("missing"), Contains("safetensors") && Contains("no tensor named \"missing\""));
    REQUIRE_THROWS_WITH(io::save_safetensors("/nonexistent-dir/x.safetensors", g),
                        Contains("safetensors") && Contains("cannot open"));
  }
}

TEST_CASE("safetensors files written by PyTorch", "[io][safetensors][fixtures]") {
  const io::TensorFile& f = test::fixture_file("io_dtypes.safetensors");

  SECTION("every dtype, unaligned after a 3-byte tensor") {
    const std::vector<double> expected{-3, -2, -1, 0, 1, 2, 3, 4};
    for (const char* name : {"values.float64", "values.float32", "values.float16", "values.bfloat16", "values.int64",
                             "values.int32", "values.int16", "values.int8"}) {
      INFO(name);
      CHECK(f.get<double>(name).shape() == Shape{2, 4});
      CHECK(f.get<double>(name).to_vector() == expected);
      CHECK(f.get<int64_t>(name).to_vector() == std::vector<int64_t>(expected.begin(), expected.end()));
    }
    CHECK(f.entry("values.bfloat16").dtype == io::DType::BF16);
    CHECK(f.entry("values.int8").dtype == io::DType::I8);
    CHECK(f.get<int32_t>("values.uint8").to_vector() == std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7});
    CHECK(f.get<bool>("values.bool").to_vector() ==
          std::vector<bool>{true, false, false, true, false, false, true, false});
    CHECK(f.get<uint8_t>("u8_first").to_vector() == std::vector<uint8_t>{0, 1, 2});
    CHECK(f.get<double>("scalar").dim() == 0);
    CHECK(f.get<double>("scalar").item() == 2.5);
    CHECK(f.get<float>("empty").shape() == Shape{0, 3});
    CHECK(f.get<int64_t>("rank8").to_vector() == arange<int64_t>(24).to_vector());
    CHECK(f.get<int64_t>("name with \"quotes\" and \xc3\xa9").to_vector() == std::vector<int64_t>{1, 1});
    CHECK(f.metadata.at("note") == "caf\xc3\xa9 \xe2\x9c\x93");
    CHECK(f.metadata.at("format") == "pt");
  }
  SECTION("float16 and bfloat16 widen exactly as torch does") {
    for (const char* tag : {"f16", "bf16"}) {
      INFO(tag);
      const std::string t(tag);
      CHECK(same_floats(f.get<float>(t + ".widen.values").to_vector(), f.get<float>(t + ".widen.expected").to_vector()));
      // and to double through the same exact path
      const auto d = f.get<double>(t + ".widen.values").to_vector();
      const auto w = f.get<float>(t + ".widen.expected").to_vector();
      for (std::size_t i = 0; i < d.size(); ++i)
        if (!std::isnan(w[i])) REQUIRE(d[i] == double(w[i]));
    }
  }
  SECTION("float32 narrows to float16 and bfloat16 exactly as torch does (round to nearest even)") {
    for (const auto& [tag, dtype] : {std::pair{"f16", io::DType::F16}, std::pair{"bf16", io::DType::BF16}}) {
      INFO(tag);
      const std::string t(tag);
      io::TensorFile mine;
      mine.add("x", f.get<float>(t + ".narrow.input"), dtype);
      const auto ours = mine.get<float>("x").to_vector();
      const auto torch = f.get<float>(t + ".narrow.expected").to_vector();
      REQUIRE(ours.size() == torch.size());
      std::size_t mismatches = 0, first = 0;
      for (std::size_t i = 0; i < ours.size(); ++i)
        if (!(ours[i] == torch[i] || (std::isnan(ours[i]) && std::isnan(torch[i])))) {
          if (mismatches++ == 0) first = i;
        }
      INFO("first mismatch at " << first << ": input " << f.get<float>(t + ".narrow.input").to_vector()[first]
                                << ", ours " << ours[first] << ", torch " << torch[first]);
      CHECK(mismatches == 0);
    }
  }
}

TEST_CASE("safetensors rejects hostile input with a clear error", "[io][safetensors][errors]") {
  const std::vector<uint8_t> good = io::serialize_safetensors(every_dtype());
  const std::string ok_entry = R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::vector<uint8_t> eight(8);

  SECTION("too short for the length field") {
    REQUIRE_THROWS_WITH(parse({1, 2, 3}), Contains("safetensors") && Contains("too few"));
    REQUIRE_THROWS_WITH(parse({}), Contains("safetensors") && Contains("too few"));
  }
  SECTION("header length beyond the limit or the file") {
    std::vector<uint8_t> bytes(64, ' ');
    const uint64_t huge = 200'000'000;
    std::memcpy(bytes.data(), &huge, 8);
    REQUIRE_THROWS_WITH(parse(bytes), Contains("safetensors") && Contains("header length 200000000") &&
                                          Contains("limit"));
    const uint64_t too_long = 57;
    std::memcpy(bytes.data(), &too_long, 8);
    REQUIRE_THROWS_WITH(parse(bytes), Contains("safetensors") && Contains("header length 57") && Contains("56"));
    const uint64_t wraps = ~uint64_t{0} - 4;  // would wrap 8 + n around
    std::memcpy(bytes.data(), &wraps, 8);
    REQUIRE_THROWS_WITH(parse(bytes), Contains("safetensors") && Contains("header length"));
  }
  SECTION("every truncation of a valid file fails cleanly") {
    for (std::size_t cut = 0; cut < good.size(); ++cut) {
      const std::vector<uint8_t> part(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
      INFO("cut at " << cut);
      REQUIRE_THROWS_AS(parse(part), Error);
    }
    REQUIRE_NOTHROW(parse(good));
    // a truncated data buffer is reported as such
    const std::vector<uint8_t> short_data(good.begin(), good.end() - 1);
    REQUIRE_THROWS_WITH(parse(short_data), Contains("safetensors") && Contains("data buffer"));
  }
  SECTION("truncated file on disk") {
    TempFile tmp(".safetensors");
    {
      std::ofstream out(tmp.path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(good.data()), static_cast<std::streamsize>(good.size() / 2));
    }
    REQUIRE_THROWS_WITH(io::load_safetensors(tmp.path), Contains("safetensors"));
    REQUIRE_THROWS_WITH(io::load_safetensors(tmp.path.string() + ".missing"),
                        Contains("safetensors") && Contains("cannot open"));
  }
  SECTION("offsets") {
    REQUIRE_NOTHROW(parse(file_bytes("{" + ok_entry + "}", eight)));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", eight)),
                        Contains("safetensors") && Contains("\"x\"") && Contains("beyond the 8-byte data buffer"));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", eight)),
                        Contains("safetensors") && Contains("begin after end"));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", eight)),
                        Contains("safetensors") && Contains("non-negative"));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", eight)),
                        Contains("safetensors") && Contains("[begin, end]"));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight)),
                        Contains("safetensors") && Contains("needs 12 bytes") && Contains("span 8"));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                         R"("y":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}})",
                                         eight)),
                        Contains("safetensors") && Contains("overlapping"));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}})",
                                         eight)),
                        Contains("safetensors") && Contains("64-bit"));
  }
  SECTION("shapes") {
    REQUIRE_THROWS_WITH(
        parse(file_bytes(R"({"x":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", eight)),
        Contains("safetensors") && Contains("overflows"));
    REQUIRE_THROWS_WITH(
        parse(file_bytes(R"({"x":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", eight)),
        Contains("safetensors") && Contains("overflows"));
    REQUIRE_THROWS_WITH(
        parse(file_bytes(R"({"x":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}})", eight)),
        Contains("safetensors") && Contains("overflows"));
    // empty, but with extents whose strides would overflow
    REQUIRE_THROWS_WITH(
        parse(file_bytes(R"({"x":{"dtype":"F64","shape":[0,4611686018427387904,4],"data_offsets":[0,0]}})")),
        Contains("safetensors") && Contains("overflows"));
    REQUIRE_NOTHROW(parse(file_bytes(R"({"x":{"dtype":"F64","shape":[0,4611686018427387904],"data_offsets":[0,0]}})")));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight)),
                        Contains("safetensors") && Contains("non-negative"));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})",
                                         eight)),
                        Contains("safetensors") && Contains("rank above 8"));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", eight)),
                        Contains("safetensors") && Contains("shape"));
  }
  SECTION("entries") {
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", eight)),
                        Contains("safetensors") && Contains("unknown dtype \"F8\""));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", eight)),
                        Contains("safetensors") && Contains("dtype"));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"dtype":"F32","data_offsets":[0,8]}})", eight)),
                        Contains("safetensors") && Contains("lacks"));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":[1,2]})", eight)),
                        Contains("safetensors") && Contains("\"x\" is not an object"));
    REQUIRE_THROWS_WITH(parse(file_bytes("{" + ok_entry + "," + ok_entry + "}", eight)),
                        Contains("safetensors") && Contains("duplicate key \"x\""));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"__metadata__":{"a":1}})")),
                        Contains("safetensors") && Contains("metadata") && Contains("\"a\""));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"__metadata__":[]})")), Contains("safetensors") && Contains("__metadata__"));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"([1,2])")), Contains("safetensors") && Contains("not an object"));
    // unknown fields are ignored, as the reference reader does
    REQUIRE_NOTHROW(parse(file_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":"y"}})", eight)));
    REQUIRE_NOTHROW(parse(file_bytes("{}")));
  }
  SECTION("bad JSON") {
    const std::pair<std::string, std::string> cases[] = {
        {R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", "expected '}'"},
        {R"({"x":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", "only integers"},
        {R"({"x":{"dtype":"F32","shape":[1e1],"data_offsets":[0,8]}})", "only integers"},
        {R"({"x":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}})", "leading zero"},
        {R"({"x":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}})", "64-bit"},
        {R"({"x":null})", "unsupported value"},
        {R"({"x":true})", "unsupported value"},
        {R"({"x":{"dtype":"F32",}})", "expected a string key"},
        {R"({"x":{"dtype":"F32","shape":[2,],"data_offsets":[0,8]}})", "unsupported value"},
        {R"({"x":{"dtype":"F\q"}})", "unknown escape"},
        {R"({"x":{"dtype":"\ud800"}})", "surrogate"},
        {R"({"x":{"dtype":"\udc00"}})", "surrogate"},
        {R"({"x":{"dtype":"\u12G4"}})", "hex digit"},
        {"{\"x\":{\"dtype\":\"F\x01\"}}", "control character"},
        {"{\"x\":{\"dtype\":\"F\xff\"}}", "UTF-8"},
        {"{\"x\":{\"dtype\":\"\xc0\xaf\"}}", "UTF-8"},
        {"{\"x\":{\"dtype\":\"\xed\xa0\x80\"}}", "UTF-8"},
        {"{\"x\":{\"dtype\":\"\xe2\x9c\"}}", "UTF-8"},
        {R"({"x":{"dtype":"F32)", "unterminated string"},
        {R"({"x" {})", "expected ':'"},
        {R"({} x)", "unexpected text"},
        {"", "unexpected end"},
    };
    for (const auto& [header, message] : cases) {
      INFO(header);
      REQUIRE_THROWS_WITH(parse(file_bytes(header, eight)),
                          Contains("safetensors: invalid header JSON") && Contains(message));
    }
    // nesting deeper than the limit stops before the stack does
    const std::string deep = R"({"x":{"junk":)" + std::string(100000, '[') + std::string(100000, ']') + "}}";
    REQUIRE_THROWS_WITH(parse(file_bytes(deep)), Contains("safetensors") && Contains("nesting deeper"));
    // unknown fields are still validated as JSON
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"junk":[1,null]}})")), Contains("unsupported value"));
    REQUIRE_THROWS_WITH(parse(file_bytes(R"({"x":{"junk":{"a":1,"a":2}}})")), Contains("duplicate key \"a\""));
  }
  SECTION("random corruption never crashes: every outcome is a file or a voxnn::Error") {
    std::mt19937 rng(1234);
    int parsed = 0, rejected = 0;
    for (int trial = 0; trial < 3000; ++trial) {
      std::vector<uint8_t> bytes = good;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) {
        // mostly hit the length field and the header, where the structure is
        const std::size_t limit = rng() % 4 == 0 ? bytes.size() : std::min<std::size_t>(bytes.size(), 400);
        bytes[rng() % limit] = static_cast<uint8_t>(rng());
      }
      try {
        const io::TensorFile g = parse(bytes);
        for (const auto& e : g.entries()) (void)g.get<double>(e.name);  // integer conversions cannot fail here
        ++parsed;
      } catch (const Error& e) {
        CHECK(std::string(e.what()).rfind("safetensors:", 0) == 0);
        ++rejected;
      }
    }
    CHECK(parsed + rejected == 3000);
    CHECK(rejected > 1000);
  }
}

TEST_CASE("json_lite parses the header subset", "[io][json]") {
  using io::json::parse;
  SECTION("values, in order") {
    const auto v = parse(R"( {"b": [1, -2, 9223372036854775807, -9223372036854775808], "a": {"s": "x\"y\\z\/\n"}, "e": {}, "f": []} )");
    REQUIRE(v.is_object());
    REQUIRE(v.object().size() == 4);
    CHECK(v.object()[0].first == "b");
    CHECK(v.object()[1].first == "a");
    const auto& b = v.find("b")->array();
    CHECK(b[0].integer() == 1);
    CHECK(b[1].integer() == -2);
    CHECK(b[2].integer() == INT64_MAX);
    CHECK(b[3].integer() == INT64_MIN);
    CHECK(v.find("a")->find("s")->string() == "x\"y\\z/\n");
    CHECK(v.find("e")->object().empty());
    CHECK(v.find("f")->array().empty());
    CHECK(v.find("missing") == nullptr);
    REQUIRE_THROWS_WITH(v.find("b")->string(), Contains("json") && Contains("expected a string"));
  }
  SECTION("\\u escapes, surrogate pairs and raw UTF-8 become UTF-8") {
    CHECK(parse(R"("\u0041\u00e9\u2713\ud83d\ude00")").string() == "A\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80");
    CHECK(parse("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"").string() == "caf\xc3\xa9 \xf0\x9f\x98\x80");
    CHECK(parse(R"("\u0000")").string() == std::string(1, '\0'));
  }
  SECTION("errors give the byte position") {
    REQUIRE_THROWS_WITH(parse(R"({"a": 1.5})"), Contains("json") && Contains("at byte 7"));
    REQUIRE_THROWS_WITH(parse(R"({"a": 1, "a": 2})"), Contains("duplicate key \"a\"") && Contains("at byte 9"));
    REQUIRE_THROWS_WITH(parse("[[[1]]]", 2), Contains("nesting deeper than 2"));
    REQUIRE_THROWS_WITH(parse("-"), Contains("expected a digit"));
    REQUIRE_THROWS_WITH(parse("-9223372036854775809"), Contains("64-bit"));
    REQUIRE_THROWS_WITH(parse("9223372036854775808"), Contains("64-bit"));
  }
  SECTION("quote escapes what JSON requires and round-trips") {
    const std::string s = std::string("a\"b\\c\n\t\r\x01\x1f ") + "\xc3\xa9" + std::string(1, '\0');
    CHECK(io::json::quote("plain") == "\"plain\"");
    CHECK(io::json::quote("\x01") == "\"\\u0001\"");
    CHECK(parse(io::json::quote(s)).string() == s);
  }
}
