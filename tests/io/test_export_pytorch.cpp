// tools/export_pytorch.py: its committed outputs (tests/fixtures/io_export_{raw,stripped,module}.safetensors,
// written by running the tool on checkpoints made by gen_io_export.py) against the state_dict that torch
// holds (io_export_expected.safetensors, written by the generator's own writer): names in state_dict order,
// dtypes, shapes and bytes, the "module." prefix kept or stripped, --dtype float32 on a whole pickled
// nn.Module, tied weights written twice, and a few values known independently of both writers.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <voxnn/io/safetensors.hpp>

#include "support/fixtures.hpp"

using namespace voxnn;

namespace {

const io::TensorFile& expected() { return test::fixture_file("io_export_expected.safetensors"); }

bool is_floating(io::DType t) {
  return t == io::DType::F64 || t == io::DType::F32 || t == io::DType::F16 || t == io::DType::BF16;
}

// Same names (after `prefix`), order, dtype, shape and bytes as the expected state_dict.
void require_identical(const io::TensorFile& got, const std::string& prefix) {
  const io::TensorFile& want = expected();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const io::TensorEntry& w = want.entries()[i];
    const io::TensorEntry& g = got.entries()[i];
    INFO("tensor " << w.name);
    CHECK(g.name == prefix + w.name);
    CHECK(g.dtype == w.dtype);
    CHECK(g.shape == w.shape);
    CHECK(g.bytes == w.bytes);
  }
}

}  // namespace

TEST_CASE("export_pytorch: the state_dict of a wrapped checkpoint, prefix kept and stripped",
          "[io][export_pytorch]") {
  const io::TensorFile& raw = test::fixture_file("io_export_raw.safetensors");
  const io::TensorFile& stripped = test::fixture_file("io_export_stripped.safetensors");
  SECTION("without --prefix-strip every name keeps DataParallel's module. prefix") {
    require_identical(raw, "module.");
  }
  SECTION("--prefix-strip module. gives the model's own names") { require_identical(stripped, ""); }
  SECTION("metadata names the format and the checkpoint file; nothing else of the wrapper is exported") {
    for (const io::TensorFile* f : {&raw, &stripped}) {
      CHECK(f->metadata.at("format") == "pt");
      CHECK(f->metadata.at("source") == "checkpoint.pt");
      CHECK(f->metadata.size() == 2);
      CHECK_FALSE(f->contains("epoch"));
    }
  }
}

TEST_CASE("export_pytorch: dtypes, shapes and values known independently of both writers", "[io][export_pytorch]") {
  const io::TensorFile& f = test::fixture_file("io_export_stripped.safetensors");
  // The dtype of each kind of tensor, as the module declares it.
  const std::vector<std::pair<std::string, io::DType>> dtypes = {
      {"halves", io::DType::F16},      {"brain", io::DType::BF16},     {"counts", io::DType::I32},
      {"small", io::DType::I16},       {"signed", io::DType::I8},      {"octets", io::DType::U8},
      {"mask", io::DType::BOOL},       {"scalar", io::DType::F64},     {"transposed", io::DType::F32},
      {"conv.weight", io::DType::F32}, {"head.weight", io::DType::F64}, {"norm.num_batches_tracked", io::DType::I64}};
  for (const auto& [name, dtype] : dtypes) {
    INFO(name);
    CHECK(f.entry(name).dtype == dtype);
  }
  CHECK(f.entry("conv.weight").shape == Shape({2, 1, 2, 2, 2}));
  CHECK(f.entry("transposed").shape == Shape({4, 3}));  // a transposed view, written contiguous
  CHECK(f.entry("empty").shape == Shape({0, 2}));
  CHECK(f.entry("empty").bytes.empty());
  CHECK(f.entry("scalar").shape == Shape({}));
  CHECK(f.get<double>("scalar").item() == 0.25);
  CHECK(f.get<int64_t>("counts").to_vector() == std::vector<int64_t>{-2, -1, 0, 1, 2, 3});
  CHECK(f.get<int64_t>("small").to_vector() == std::vector<int64_t>{-7, 0, 9});
  CHECK(f.get<int64_t>("signed").to_vector() == std::vector<int64_t>{-128, -1, 127});
  CHECK(f.get<int64_t>("octets").to_vector() == std::vector<int64_t>{0, 200, 255});
  CHECK(f.get<uint8_t>("mask").to_vector() == std::vector<uint8_t>{1, 0, 1, 1});
  CHECK(f.get<int64_t>("norm.num_batches_tracked").item() == 7);
  CHECK(f.get<double>("norm.running_mean").to_vector() == std::vector<double>{0.5, -0.25});
  CHECK(f.get<double>("norm.running_var").to_vector() == std::vector<double>{2.0, 0.75});
  // Tied weights: two names, one storage in torch, two equal copies in the file.
  CHECK(f.entry("tail.weight").bytes == f.entry("head.weight").bytes);
  CHECK(f.entry("tail.weight").shape == Shape({2, 3}));
}

TEST_CASE("export_pytorch: a whole pickled nn.Module with --dtype float32", "[io][export_pytorch]") {
  const io::TensorFile& got = test::fixture_file("io_export_module.safetensors");
  const io::TensorFile& want = expected();
  CHECK(got.metadata.at("format") == "pt");
  CHECK(got.metadata.at("source") == "model.pth");
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const io::TensorEntry& w = want.entries()[i];
    const io::TensorEntry& g = got.entries()[i];
    INFO("tensor " << w.name);
    CHECK(g.name == w.name);
    CHECK(g.shape == w.shape);
    if (!is_floating(w.dtype)) {  // integers and masks keep their dtype and bytes
      CHECK(g.dtype == w.dtype);
      CHECK(g.bytes == w.bytes);
      continue;
    }
    CHECK(g.dtype == io::DType::F32);
    // torch's cast: float64 rounds to nearest, float16/bfloat16 widen exactly; both are what a C++ cast does
    const std::vector<double> source = want.get<double>(w.name).to_vector();
    const std::vector<float> cast = got.get<float>(g.name).to_vector();
    REQUIRE(cast.size() == source.size());
    for (std::size_t k = 0; k < source.size(); ++k) CHECK(cast[k] == static_cast<float>(source[k]));
  }
}
