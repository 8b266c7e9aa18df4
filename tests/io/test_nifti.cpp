// NIfTI-1 / NIfTI-2: every shared test volume against nibabel (tests/fixtures/io_nifti.safetensors,
// made by gen_io_nifti.py) and against the facts in the shared data's SOURCES.md; qform and fallback
// affines against nibabel's set_qform / get_best_affine; write->read round trips over every datatype,
// both byte orders, both versions, 3-D to 5-D, scaling, extensions and .gz; and hostile input (each
// malformed file must end in a voxnn::Error starting with "nifti:" or "gzip:").
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <voxnn/core/factory.hpp>
#include <voxnn/io/gzip.hpp>
#include <voxnn/io/json_lite.hpp>
#include <voxnn/io/nifti.hpp>
#include <voxnn/io/orientation.hpp>

#include "support/fixtures.hpp"
#include "support/temp_file.hpp"
#include "support/shared_data.hpp"


using namespace voxnn;
using test::TempFile;
using Catch::Contains;

namespace {

constexpr const char* kFixture = "io_nifti.safetensors";

std::vector<uint8_t> file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

using test::have_shared_file;
using test::shared_path;

double max_abs_diff(const io::Affine& a, const Tensor<double>& b) {
  double worst = 0;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) worst = std::max(worst, std::abs(a.m[r][c] - b.data()[r * 4 + c]));
  return worst;
}

io::Affine affine_of(const Tensor<double>& t) {
  io::Affine a;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) a.m[r][c] = t.data()[r * 4 + c];
  return a;
}

// Flat row-major offset of a full index into a tensor of shape s.
int64_t flat(const Shape& s, const int64_t* index) {
  int64_t o = 0;
  for (int d = 0; d < s.size(); ++d) o = o * s[d] + index[d];
  return o;
}

// The facts listed in /work/shared/data/SOURCES.md.
struct SourceFacts {
  const char* tag;
  const char* path;
  std::vector<int64_t> dims;
  std::array<double, 3> voxel;
  const char* dtype;
  bool big_endian;
  const char* orient;
  int qform_code, sform_code;
  double slope, inter, lo, hi;  // as printed: 6 significant digits
};

const std::vector<SourceFacts>& source_facts() {
  static const std::vector<SourceFacts> facts = {
      {"mni_gm", "mni152_2009a/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz", {197, 233, 189}, {1, 1, 1}, "uint8",
       false, "RAS", 0, 2, 1, 0, 0, 255},
      {"mni_t1", "mni152_2009a/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz", {197, 233, 189}, {1, 1, 1}, "uint8",
       false, "RAS", 0, 2, 1, 0, 0, 255},
      {"mni_wm", "mni152_2009a/mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz", {197, 233, 189}, {1, 1, 1}, "uint8",
       false, "RAS", 0, 2, 1, 0, 0, 255},
      {"anat_label", "monai/anatomical_label.nii.gz", {33, 41, 25}, {2, 2, 2}, "uint16", false, "LAS", 1, 0, 1, 0, 0, 1},
      {"moved_label", "monai/reoriented_anat_moved_label.nii.gz", {21, 26, 22}, {4, 4, 4}, "uint16", false, "RAS", 1, 0,
       1, 0, 0, 1},
      {"anatomical", "nibabel/anatomical.nii", {33, 41, 25}, {2, 2, 2}, "int16", true, "LAS", 2, 2, 1, 0, -610, 30393},
      {"example4d", "nibabel/example4d.nii.gz", {128, 96, 24, 2}, {2, 2, 2.2}, "int16", false, "LAS", 1, 1, 1, 0, 0,
       1162},
      {"nifti2", "nibabel/example_nifti2.nii.gz", {32, 20, 12, 2}, {2, 2, 2.2}, "int16", false, "LAS", 1, 1, 1, 0, 46,
       757},
      {"functional", "nibabel/functional.nii", {17, 21, 3, 20}, {4, 4, 8}, "int16", false, "LAS", 2, 2, 0.075407,
       3100.76, 629.826, 5571.62},
      {"reoriented", "nibabel/reoriented_anat_moved.nii", {21, 26, 22}, {4, 4, 4}, "float32", true, "RAS", 2, 2, 1, 0, 0,
       21199.9},
      {"resampled", "nibabel/resampled_anat_moved.nii", {17, 21, 3}, {4, 4, 8}, "float32", true, "LAS", 2, 2, 1, 0,
       409.3, 13361},
      {"someones", "nibabel/someones_anatomy.nii.gz", {57, 67, 56}, {2.75, 2.75, 2.75}, "uint8", false, "RAS", 4, 4,
       0.352459, 6.67836, 6.67836, 96.5554},
      {"avg152", "spm12_canonical/avg152T1.nii", {91, 109, 91}, {2, 2, 2}, "uint8", false, "LAS", 4, 4, 0.00392157, 0, 0,
       1},
      {"single_subj", "spm12_canonical/single_subj_T1.nii", {91, 109, 91}, {2, 2, 2}, "uint8", false, "LAS", 2, 2,
       0.00390619, 0, 0, 0.996078},
  };
  return facts;
}

// Six significant digits, as SOURCES.md prints them.
bool printed_equal(double actual, double printed) {
  return std::abs(actual - printed) <= 5e-6 * std::max(std::abs(printed), 1e-300) + 1e-12;
}

// ---- building files by hand ---------------------------------------------------------------------

template <class T>
void poke(std::vector<uint8_t>& b, std::size_t offset, T v) {
  std::memcpy(b.data() + offset, &v, sizeof v);
}

io::Volume<double> ramp_volume(Shape shape, double scale = 1.0, double shift = 0.0) {
  io::Volume<double> v;
  v.data = Tensor<double>(shape);
  for (int64_t i = 0; i < v.data.numel(); ++i) v.data.data()[i] = static_cast<double>(i % 97) * scale + shift;
  v.affine = io::Affine::from_spacing({2, 3, 4}, {-10, 20, 5.5});
  return v;
}

// A small valid NIfTI-1 file: 4x3x2 int16 voxels 0..23 with one extension.
std::vector<uint8_t> small_file(int version = 1) {
  io::Volume<double> v = ramp_volume({4, 3, 2});
  io::NiftiWriteOptions o;
  o.version = version;
  o.datatype = io::nifti_type::int16;
  o.extensions = {{6, {'h', 'i'}}};
  return io::serialize_nifti(v, o);
}

void require_parse_error(const std::vector<uint8_t>& bytes, const std::string& expected) {
  INFO("expected an error containing: " << expected);
  REQUIRE_THROWS_WITH(io::parse_nifti<float>(bytes), Contains(expected));
}

// Either parses or throws a voxnn::Error naming the format; anything else fails the test.
void parse_or_format_error(const std::vector<uint8_t>& bytes) {
  try {
    io::NiftiHeader h;
    const io::Volume<float> v = io::parse_nifti<float>(bytes, &h);
    CHECK(v.data.numel() == h.numel());
  } catch (const Error& e) {
    const std::string m = e.what();
    INFO(m);
    CHECK((m.rfind("nifti:", 0) == 0 || m.rfind("gzip:", 0) == 0));
  }
}

}  // namespace

// ---- the shared volumes ------------------------------------------------------------------------------

TEST_CASE("nifti: shared volumes match nibabel and SOURCES.md", "[io][nifti][fixtures]") {
  const io::TensorFile& fx = test::fixture_file(kFixture);
  for (const SourceFacts& s : source_facts()) {
    if (!have_shared_file(s.path)) continue;
    const std::string tag = s.tag;
    INFO("file " << s.path);
    io::NiftiHeader h;
    const io::Volume<double> v = io::read_nifti<double>(shared_path(s.path), &h);

    // SOURCES.md
    CHECK(h.dims == s.dims);
    for (int a = 0; a < 3; ++a) CHECK(std::abs(h.pixdim[a + 1] - s.voxel[a]) < 1e-6 * s.voxel[a]);
    CHECK(io::nifti_datatype_name(h.datatype) == s.dtype);
    CHECK(h.big_endian == s.big_endian);
    CHECK(io::axcodes_string(v.affine) == s.orient);
    CHECK(h.qform_code == s.qform_code);
    CHECK(h.sform_code == s.sform_code);
    CHECK(printed_equal(h.scl_slope, s.slope));
    CHECK(printed_equal(h.scl_inter, s.inter));

    // nibabel
    const std::vector<double> head = fx.get<double>(tag + ".header").to_vector();
    CHECK(h.version == head[0]);
    CHECK(h.big_endian == (head[1] != 0));
    CHECK(h.datatype == head[2]);
    CHECK(h.bitpix == head[3]);
    CHECK(h.qform_code == head[4]);
    CHECK(h.sform_code == head[5]);
    CHECK((h.has_scaling() ? h.scl_slope : 1.0) == head[6]);
    CHECK((h.has_scaling() ? h.scl_inter : 0.0) == head[7]);
    CHECK(h.vox_offset == head[8]);
    const std::vector<double> pixdim = fx.get<double>(tag + ".pixdim").to_vector();
    for (int i = 0; i < 8; ++i) CHECK(h.pixdim[i] == pixdim[i]);
    CHECK(max_abs_diff(v.affine, fx.get<double>(tag + ".affine")) < 1e-12);
    CHECK(max_abs_diff(h.qform_affine(), fx.get<double>(tag + ".qform")) < 1e-12);
    CHECK(max_abs_diff(h.sform_affine(), fx.get<double>(tag + ".sform")) < 1e-12);
    CHECK(v.data.shape() == Shape(fx.get<int64_t>(tag + ".shape").to_vector()));

    const Tensor<int64_t> index = fx.get<int64_t>(tag + ".index");
    const std::vector<double> values = fx.get<double>(tag + ".values").to_vector();
    const auto nd = index.size(1);
    for (int64_t r = 0; r < index.size(0); ++r) {
      const double got = v.data.data()[flat(v.data.shape(), index.data() + r * nd)];
      CHECK((got == Approx(values[static_cast<std::size_t>(r)]).epsilon(1e-14).margin(1e-12) ||
             (std::isnan(got) && std::isnan(values[static_cast<std::size_t>(r)]))));
    }
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    int64_t nans = 0;
    for (int64_t i = 0; i < v.data.numel(); ++i) {
      const double x = v.data.data()[i];
      if (std::isnan(x)) {
        ++nans;
        continue;
      }
      sum += x;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    const std::vector<double> stats = fx.get<double>(tag + ".stats").to_vector();
    CHECK(sum == Approx(stats[0]).epsilon(1e-12));
    CHECK(lo == stats[1]);
    CHECK(hi == stats[2]);
    CHECK(nans == stats[3]);
    CHECK(printed_equal(lo, s.lo));
    CHECK(printed_equal(hi, s.hi));

    // Extensions (codes in the metadata, contents as nibabel returns them).
    const io::json::Value codes = io::json::parse(fx.metadata.at(tag + ".extensions"));
    REQUIRE(h.extensions.size() == codes.array().size());
    for (std::size_t k = 0; k < h.extensions.size(); ++k) {
      CHECK(h.extensions[k].code == codes.array()[k].integer());
      CHECK(h.extensions[k].data == fx.get<uint8_t>(tag + ".ext" + std::to_string(k)).to_vector());
    }

    // The header alone reads the same; so do the file's bytes in memory, and float reading.
    const io::NiftiHeader only = io::read_nifti_header(shared_path(s.path));
    CHECK(only.dims == h.dims);
    CHECK(only.vox_offset == h.vox_offset);
    CHECK(only.extensions == h.extensions);
    if (v.data.numel() < 1'000'000) {
      const std::vector<uint8_t> bytes = file_bytes(shared_path(s.path));
      CHECK(io::parse_nifti_header(bytes).srow == h.srow);
      const io::Volume<double> m = io::parse_nifti<double>(bytes);
      test::check_close(m.data, v.data, 0.0, "parse_nifti vs read_nifti");
      const io::Volume<float> f = io::parse_nifti<float>(bytes);
      test::check_close(f.data, v.data, 1e-7 * std::max(std::abs(s.lo), std::abs(s.hi)), "float vs double");
    }
  }
}

TEST_CASE("nifti: labels read into integer and bool tensors", "[io][nifti]") {
  const std::string path = "monai/anatomical_label.nii.gz";
  if (!have_shared_file(path)) return;
  const auto sum_of = [](const auto& t) {
    int64_t s = 0;
    for (const auto x : t.to_vector()) s += static_cast<int64_t>(x);
    return s;
  };
  CHECK(sum_of(io::read_nifti<uint8_t>(shared_path(path)).data) == 330);
  CHECK(sum_of(io::read_nifti<int32_t>(shared_path(path)).data) == 330);
  CHECK(sum_of(io::read_nifti<int64_t>(shared_path(path)).data) == 330);
  CHECK(sum_of(io::read_nifti<bool>(shared_path(path)).data) == 330);
  if (have_shared_file("nibabel/functional.nii"))
    REQUIRE_THROWS_WITH(io::read_nifti<int32_t>(shared_path("nibabel/functional.nii")),
                        Contains("nifti: the data has scaling (scl_slope 0.075407") && Contains("functional.nii"));
  if (have_shared_file("nibabel/resampled_anat_moved.nii"))  // holds NaN outside the field of view
    REQUIRE_THROWS_WITH(io::read_nifti<int32_t>(shared_path("nibabel/resampled_anat_moved.nii")),
                        Contains("which does not fit int32"));
}

TEST_CASE("nifti: a shared file written back reads the same", "[io][nifti]") {
  for (const char* rel : {"nibabel/functional.nii", "nibabel/anatomical.nii", "nibabel/example_nifti2.nii.gz",
                          "nibabel/example4d.nii.gz", "nibabel/someones_anatomy.nii.gz"}) {
    if (!have_shared_file(rel)) continue;
    INFO(rel);
    io::NiftiHeader h;
    const io::Volume<double> v = io::read_nifti<double>(shared_path(rel), &h);
    TempFile out(std::string(rel).find(".gz") != std::string::npos ? ".nii.gz" : ".nii");
    io::write_nifti(out.path, v, io::write_options_like(h));
    io::NiftiHeader h2;
    const io::Volume<double> w = io::read_nifti<double>(out.path, &h2);
    test::check_close(w.data, v.data, 0.0, "data");
    CHECK(w.affine == v.affine);
    CHECK(h2.version == h.version);
    CHECK(h2.big_endian == h.big_endian);
    CHECK(h2.datatype == h.datatype);
    CHECK(h2.dims == h.dims);
    CHECK(h2.scl_slope == h.scl_slope);
    CHECK(h2.scl_inter == h.scl_inter);
    CHECK(h2.qform_code == h.qform_code);
    CHECK(h2.sform_code == h.sform_code);
    CHECK(h2.extensions == h.extensions);
    CHECK(h2.xyzt_units == h.xyzt_units);
    CHECK(h2.descrip == h.descrip);
    for (int i = 4; i < 8; ++i) CHECK(h2.pixdim[i] == h.pixdim[i]);
  }
}

// ---- affines -----------------------------------------------------------------------------------------

TEST_CASE("nifti: qform from an affine matches nibabel's set_qform", "[io][nifti][fixtures]") {
  const io::TensorFile& fx = test::fixture_file(kFixture);
  for (const char* name : {"diag", "las", "rotated", "flipped", "half_turn", "x_half_turn", "sheared"}) {
    const std::string key = std::string("qform.") + name;
    INFO(key);
    io::NiftiHeader h;
    h.version = 2;
    h.set_qform(affine_of(fx.get<double>(key + ".affine")), 1);
    const std::vector<double> q = fx.get<double>(key + ".quatern").to_vector();
    const double w2 = 1 - (q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
    // A half turn (w = 0) has two equal quaternions, q and -q.
    const double sign = std::abs(w2) < 1e-12 && h.quatern_b * q[0] + h.quatern_c * q[1] + h.quatern_d * q[2] < 0 ? -1 : 1;
    CHECK(sign * h.quatern_b == Approx(q[0]).margin(1e-12));
    CHECK(sign * h.quatern_c == Approx(q[1]).margin(1e-12));
    CHECK(sign * h.quatern_d == Approx(q[2]).margin(1e-12));
    const std::vector<double> pixdim = fx.get<double>(key + ".pixdim").to_vector();
    for (int i = 0; i < 4; ++i) CHECK(h.pixdim[i] == Approx(pixdim[i]).epsilon(1e-14));
    CHECK(max_abs_diff(h.qform_affine(), fx.get<double>(key + ".qform")) < 1e-12);
    CHECK(h.affine() == h.qform_affine());
  }
}

TEST_CASE("nifti: the fallback affine matches nibabel's get_best_affine", "[io][nifti][fixtures]") {
  const io::TensorFile& fx = test::fixture_file(kFixture);
  for (const char* name : {"3d", "4d", "2d"}) {
    const std::string key = std::string("base.") + name;
    INFO(key);
    io::NiftiHeader h;
    h.dims = fx.get<int64_t>(key + ".shape").to_vector();
    const std::vector<double> zooms = fx.get<double>(key + ".zooms").to_vector();
    for (std::size_t i = 0; i < zooms.size(); ++i) h.pixdim[i + 1] = zooms[i];
    CHECK(max_abs_diff(h.affine(), fx.get<double>(key + ".affine")) < 1e-12);
  }
}

TEST_CASE("nifti: which affine a header gives", "[io][nifti]") {
  io::NiftiHeader h;
  h.dims = {3, 5, 7};
  h.pixdim = {1, 3, 2, 1, 1, 1, 1, 1};
  const io::Affine s = io::Affine::from_spacing({1, 2, 3}, {4, 5, 6});
  const io::Affine q = io::Affine::from_spacing({3, 2, 1}, {-1, -2, -3});
  h.srow = {{{1, 0, 0, 4}, {0, 2, 0, 5}, {0, 0, 3, 6}}};
  h.qoffset_x = -1;
  h.qoffset_y = -2;
  h.qoffset_z = -3;
  h.sform_code = 2;
  h.qform_code = 1;
  CHECK(h.affine() == s);
  h.sform_code = 0;
  CHECK(h.affine() == q);
  h.sform_code = 7;  // not a NIfTI code: nibabel resets it to 0
  CHECK(h.affine() == q);
  h.pixdim[0] = 0;  // qfac 0 counts as 1
  CHECK(h.affine() == q);
  h.pixdim[0] = -1;  // qfac -1 flips the third axis
  CHECK(h.affine().m[2][2] == -1);
  h.pixdim[0] = 1;
  h.pixdim[2] = -2;  // nibabel uses |pixdim|
  CHECK(h.affine() == q);
  h.qform_code = 0;
  const io::Affine base = h.affine();
  CHECK(base.m[0][0] == -3);
  CHECK(base.m[0][3] == 3);
  CHECK(base.m[1][3] == -4);
  CHECK(base.m[2][3] == -3);
  h.qform_code = 1;
  h.quatern_b = 0.9;
  h.quatern_c = 0.9;
  REQUIRE_THROWS_WITH(h.affine(), Contains("nifti: the qform quaternion"));
}

// ---- round trips -------------------------------------------------------------------------------------

TEST_CASE("nifti: round trip over datatypes, byte orders and versions", "[io][nifti]") {
  struct Kind {
    int16_t code;
    double lo, hi;  // values written: lo, hi and a ramp between them
  };
  const std::vector<Kind> kinds = {
      {io::nifti_type::uint8, 0, 255},           {io::nifti_type::int8, -128, 127},
      {io::nifti_type::int16, -32768, 32767},    {io::nifti_type::uint16, 0, 65535},
      {io::nifti_type::int32, -2147483648.0, 2147483647.0}, {io::nifti_type::uint32, 0, 4294967295.0},
      {io::nifti_type::int64, -9.0e15, 9.0e15},  {io::nifti_type::uint64, 0, 1.8e19},
      {io::nifti_type::float32, -3.0e38, 3.0e38}, {io::nifti_type::float64, -1e300, 1e300},
  };
  for (const Kind& k : kinds)
    for (int version : {1, 2})
      for (bool big : {false, true})
        for (const Shape& shape : {Shape{5, 4, 3}, Shape{3, 2, 4, 2}, Shape{2, 3, 1, 2, 2}}) {
          INFO(io::nifti_datatype_name(k.code) << " v" << version << (big ? " big-endian " : " ") << shape);
          io::Volume<double> v;
          v.data = Tensor<double>(shape);
          const int64_t n = v.data.numel();
          for (int64_t i = 0; i < n; ++i)
            v.data.data()[i] = std::round(k.lo / 4 + (k.hi / 4 - k.lo / 4) * static_cast<double>(i) / static_cast<double>(n));
          v.data.data()[0] = k.lo;
          v.data.data()[n - 1] = k.hi;
          if (k.code == io::nifti_type::float32)  // float32-exact values
            for (int64_t i = 0; i < n; ++i) v.data.data()[i] = static_cast<float>(v.data.data()[i]);
          if (k.code == io::nifti_type::float32 || k.code == io::nifti_type::float64) {
            v.data.data()[1] = std::numeric_limits<double>::quiet_NaN();
            v.data.data()[2] = -INFINITY;
            v.data.data()[3] = 0.375;
          }
          if (k.code == io::nifti_type::uint64) v.data.data()[n - 1] = 18446744073709549568.0;  // below 2^64
          // Float32-exact affine entries so that NIfTI-1 keeps them too.
          v.affine = io::Affine::from_spacing({1.5, 2, 0.75}, {-10.25, 20, 5.5});
          io::NiftiWriteOptions o;
          o.version = version;
          o.big_endian = big;
          o.datatype = k.code;
          o.qform_code = 2;
          o.sform_code = 4;
          const std::vector<uint8_t> bytes = io::serialize_nifti(v, o);
          io::NiftiHeader h;
          const io::Volume<double> w = io::parse_nifti<double>(bytes, &h);
          test::check_close(w.data, v.data, 0.0, "data");
          CHECK(w.affine == v.affine);
          CHECK(h.qform_affine() == v.affine);
          CHECK(h.version == version);
          CHECK(h.big_endian == big);
          CHECK(h.datatype == k.code);
          CHECK(h.qform_code == 2);
          CHECK(h.sform_code == 4);
          CHECK(h.dims == std::vector<int64_t>(shape.begin(), shape.end()));
          CHECK(h.vox_offset == (version == 1 ? 352 : 544));
          CHECK(static_cast<int64_t>(bytes.size()) == h.vox_offset + h.data_bytes());
        }
}

TEST_CASE("nifti: round trip keeps integers exactly in integer tensors", "[io][nifti]") {
  io::Volume<int64_t> v;
  v.data = from_vector<int64_t>({INT64_MIN, -1, 0, 1, INT64_MAX, 42, 7, -9}, {2, 2, 2});
  for (int version : {1, 2}) {
    const io::Volume<int64_t> w = io::parse_nifti<int64_t>(io::serialize_nifti(v, {.version = version}));
    CHECK(w.data.to_vector() == v.data.to_vector());
  }
  io::Volume<bool> mask;
  mask.data = from_vector<bool>({true, false, true, true, false, false, true, false}, {2, 4, 1});
  io::NiftiHeader h;
  const io::Volume<bool> m = io::parse_nifti<bool>(io::serialize_nifti(mask), &h);
  CHECK(h.datatype == io::nifti_type::uint8);
  CHECK(m.data.to_vector() == mask.data.to_vector());
  // int32 into uint8 range-checks; uint16 into int32 widens.
  io::Volume<int32_t> big;
  big.data = from_vector<int32_t>({0, 1, 300}, {3, 1, 1});
  REQUIRE_THROWS_WITH(io::parse_nifti<uint8_t>(io::serialize_nifti(big)),
                      Contains("nifti: voxel (2, 0, 0) holds 300, which does not fit uint8"));
  CHECK(io::parse_nifti<int32_t>(io::serialize_nifti(big, {.datatype = io::nifti_type::uint16})).data.to_vector() ==
        big.data.to_vector());
  // Float data into an integer tensor rounds to nearest.
  io::Volume<float> f;
  f.data = from_vector<float>({0.9f, 2.0f, -1.2f}, {1, 3, 1});
  CHECK(io::parse_nifti<int32_t>(io::serialize_nifti(f)).data.to_vector() == std::vector<int32_t>{1, 2, -1});
}

TEST_CASE("nifti: voxel order is nibabel's [i, j, k, t] indexing", "[io][nifti]") {
  // File order is i fastest: voxel (i, j, k, t) at file index i + I (j + J (k + K t)). Sizes that are
  // not multiples of the 16 x 64 tiles, plus extents of 1.
  for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{
           {37, 5, 70}, {3, 1, 130}, {1, 1, 9}, {17, 3, 2, 66}, {2, 1, 3, 1, 5}, {7}, {5, 3}, {200, 2, 2}}) {
    INFO("dims " << Shape(dims));
    io::NiftiHeader h;
    h.dims = dims;
    h.datatype = io::nifti_type::int32;
    h.set_sform(io::Affine::identity(), 1);
    std::vector<uint8_t> bytes = io::serialize_nifti_header(h);
    const int64_t n = h.numel();
    const std::size_t off = bytes.size();
    bytes.resize(off + static_cast<std::size_t>(4 * n));
    for (int64_t f = 0; f < n; ++f) poke<int32_t>(bytes, off + static_cast<std::size_t>(4 * f), static_cast<int32_t>(f));
    const io::Volume<double> v = io::parse_nifti<double>(bytes);
    REQUIRE(v.data.numel() == n);
    std::vector<int64_t> idx(dims.size(), 0);
    bool ok = true;
    for (int64_t f = 0; f < n; ++f) {  // walk the file order, check the tensor element
      int64_t t = 0;
      for (std::size_t d = 0; d < dims.size(); ++d) t = t * dims[d] + idx[d];
      ok = ok && v.data.data()[t] == static_cast<double>(f);
      for (std::size_t d = 0; d < dims.size(); ++d) {
        if (++idx[d] < dims[d]) break;
        idx[d] = 0;
      }
    }
    CHECK(ok);
    CHECK(v.data.dim() == std::max<int>(3, static_cast<int>(dims.size())));
    // And back: the writer puts every tensor element where it came from.
    const std::vector<uint8_t> again = io::serialize_nifti(v, {.datatype = io::nifti_type::int32, .sform_code = 1});
    CHECK(std::vector<uint8_t>(again.begin() + static_cast<std::ptrdiff_t>(off), again.end()) ==
          std::vector<uint8_t>(bytes.begin() + static_cast<std::ptrdiff_t>(off), bytes.end()));
  }
}

TEST_CASE("nifti: scaling, NaN and float32 on write", "[io][nifti]") {
  // Values raw * slope + inter written as int16 with that scaling read back as the same values.
  const double slope = 0.0754069685935974121, inter = 3100.76171875;  // float32-exact
  io::Volume<double> v = ramp_volume({6, 5, 4});
  for (int64_t i = 0; i < v.data.numel(); ++i) v.data.data()[i] = static_cast<double>(i * 13 % 701 - 300) * slope + inter;
  io::NiftiHeader h;
  const auto bytes = io::serialize_nifti(v, {.datatype = io::nifti_type::int16, .scl_slope = slope, .scl_inter = inter});
  const io::Volume<double> w = io::parse_nifti<double>(bytes, &h);
  CHECK(h.scl_slope == slope);
  CHECK(h.scl_inter == inter);
  CHECK(h.has_scaling());
  test::check_close(w.data, v.data, 1e-9, "scaled int16");
  const io::Volume<float> wf = io::parse_nifti<float>(bytes);
  test::check_close(wf.data, v.data, 1e-3, "scaled int16 as float");
  REQUIRE_THROWS_WITH(io::parse_nifti<int32_t>(bytes), Contains("nifti: the data has scaling"));

  // Slope 0 or NaN means no scaling (nibabel's rule); a valid slope with an infinite intercept is an error.
  std::vector<uint8_t> b = io::serialize_nifti(ramp_volume({2, 2, 2}), {.datatype = io::nifti_type::int16});
  for (float s : {0.0f, std::numeric_limits<float>::quiet_NaN()}) {
    poke<float>(b, 112, s);
    poke<float>(b, 116, 5.0f);
    CHECK(io::parse_nifti<double>(b).data.to_vector() == ramp_volume({2, 2, 2}).data.to_vector());
    CHECK(io::parse_nifti<int32_t>(b).data.numel() == 8);
  }
  poke<float>(b, 112, 2.0f);
  poke<float>(b, 116, INFINITY);
  require_parse_error(b, "nifti: scl_slope 2 is valid but scl_inter inf is not finite");

  // NaN stays NaN in float data; an integer datatype refuses NaN and values out of range.
  io::Volume<float> f;
  f.data = from_vector<float>({1.0f, std::numeric_limits<float>::quiet_NaN(), -2.5f, 40000.0f}, {2, 2, 1});
  const io::Volume<float> g = io::parse_nifti<float>(io::serialize_nifti(f));
  CHECK(std::isnan(g.data.data()[1]));
  CHECK(g.data.data()[3] == 40000.0f);
  REQUIRE_THROWS_WITH(io::parse_nifti<bool>(io::serialize_nifti(f)), Contains("holds nan, which does not fit"));
  REQUIRE_THROWS_WITH(io::serialize_nifti(f, {.datatype = io::nifti_type::int16}),
                      Contains("nifti: value nan at flat index 1 does not fit datatype int16"));
  f.data.data()[1] = 0;
  REQUIRE_THROWS_WITH(io::serialize_nifti(f, {.datatype = io::nifti_type::int16}),
                      Contains("value 40000 at flat index 3 does not fit datatype int16"));
  // With a slope the same values fit: 40000 / 2 = 20000.
  const io::Volume<float> scaled =
      io::parse_nifti<float>(io::serialize_nifti(f, {.datatype = io::nifti_type::int16, .scl_slope = 2}));
  // 1 / 2 and -2.5 / 2 round to the nearest even integers 0 and -1.
  CHECK(scaled.data.to_vector() == std::vector<float>{0.0f, 0.0f, -2.0f, 40000.0f});
  REQUIRE_THROWS_WITH(io::serialize_nifti(f, {.scl_slope = 0}), Contains("nonzero slope"));
}

TEST_CASE("nifti: extensions, header fields and .gz files round trip", "[io][nifti]") {
  io::Volume<float> v;
  v.data = Tensor<float>(Shape{9, 7, 5, 3});
  for (int64_t i = 0; i < v.data.numel(); ++i) v.data.data()[i] = static_cast<float>(i) * 0.5f - 100;
  v.affine.m = {{{0.0, -2.5, 0.0, 10.0}, {1.5, 0.0, 0.0, -4.0}, {0.0, 0.0, 3.0, 7.25}, {0, 0, 0, 1}}};
  io::NiftiWriteOptions o;
  o.descrip = "voxnn test volume: 80 bytes at most";
  for (int len = 0; len < 40; len += 7) {  // contents without trailing NULs come back unchanged
    std::vector<uint8_t> data(static_cast<std::size_t>(len));
    for (int i = 0; i < len; ++i) data[static_cast<std::size_t>(i)] = static_cast<uint8_t>(i * 37 + 1);
    o.extensions.push_back({len + 3, data});
  }
  o.extra_pixdim = {2.5, 1, 1, 1};
  o.xyzt_units = 10;
  o.intent_code = 1002;
  o.intent_p1 = 0.5;
  o.intent_name = "label";
  o.aux_file = "aux.txt";
  o.cal_min = -100;
  o.cal_max = 50;
  o.dim_info = 57;
  o.slice_code = 1;
  o.slice_start = 1;
  o.slice_end = 3;
  o.slice_duration = 0.25;
  o.toffset = 1.5;
  for (int version : {1, 2})
    for (const char* suffix : {".nii", ".nii.gz"}) {
      INFO("version " << version << " " << suffix);
      o.version = version;
      TempFile file(suffix);
      io::write_nifti(file.path, v, o);
      const std::vector<uint8_t> on_disk = file_bytes(file.path);
      CHECK(io::is_gzip(on_disk) == (std::string(suffix) == ".nii.gz"));
      io::NiftiHeader h;
      const io::Volume<float> w = io::read_nifti<float>(file.path, &h);
      test::check_close(w.data, v.data, 0.0, "data");
      CHECK(w.affine == v.affine);
      CHECK(h.extensions == o.extensions);
      CHECK(h.vox_offset % 16 == 0);
      const io::NiftiWriteOptions like = io::write_options_like(h);
      CHECK(like.descrip == o.descrip);
      CHECK(like.extra_pixdim == o.extra_pixdim);
      CHECK(like.xyzt_units == o.xyzt_units);
      CHECK(like.intent_code == o.intent_code);
      CHECK(like.intent_p1 == o.intent_p1);
      CHECK(like.intent_name == o.intent_name);
      CHECK(like.aux_file == o.aux_file);
      CHECK(like.cal_min == o.cal_min);
      CHECK(like.cal_max == o.cal_max);
      CHECK(like.dim_info == o.dim_info);
      CHECK(like.slice_code == o.slice_code);
      CHECK(like.slice_start == o.slice_start);
      CHECK(like.slice_end == o.slice_end);
      CHECK(like.slice_duration == o.slice_duration);
      CHECK(like.toffset == o.toffset);
      CHECK(like.datatype == io::nifti_type::float32);
      // Same file from memory; the header alone.
      CHECK(io::parse_nifti<float>(on_disk).data.to_vector() == w.data.to_vector());
      CHECK(io::read_nifti_header(file.path).extensions == o.extensions);
    }
  // Trailing NULs of an extension are padding: nibabel drops them, so does voxnn.
  const auto bytes = io::serialize_nifti(v, {.extensions = {{6, {'a', 'b', 0, 0}}}});
  CHECK(io::parse_nifti_header(bytes).extensions == std::vector<io::NiftiExtension>{{6, {'a', 'b'}}});
  // An affine with shear keeps its sform; the qform holds the closest rotation.
  v.affine.m[0][1] = 0.4;
  io::NiftiHeader h;
  const io::Volume<float> w = io::parse_nifti<float>(io::serialize_nifti(v, {.version = 2}), &h);
  CHECK(w.affine == v.affine);
  CHECK(h.qform_affine() != v.affine);
  // qform only: the affine comes back from the quaternion, within float32 rounding in NIfTI-1.
  v.affine.m[0][1] = -2.5;
  const io::Volume<float> q = io::parse_nifti<float>(io::serialize_nifti(v, {.qform_code = 1, .sform_code = 0}));
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) CHECK(q.affine.m[r][c] == Approx(v.affine.m[r][c]).margin(1e-6));
}

TEST_CASE("nifti: writer errors", "[io][nifti]") {
  io::Volume<float> v;
  v.data = zeros<float>({2, 2, 2});
  REQUIRE_THROWS_WITH(io::serialize_nifti(v, {.version = 3}), Contains("nifti: version 3 is neither 1 nor 2"));
  REQUIRE_THROWS_WITH(io::serialize_nifti(v, {.datatype = io::nifti_type::complex64}),
                      Contains("nifti: cannot write datatype complex64"));
  REQUIRE_THROWS_WITH(io::serialize_nifti(v, {.descrip = std::string(81, 'x')}),
                      Contains("nifti: descrip has 81 bytes; the field holds at most 80"));
  io::Volume<float> wide;
  wide.data = zeros<float>({40000, 1, 1});
  REQUIRE_THROWS_WITH(io::serialize_nifti(wide), Contains("does not fit NIfTI-1's 16-bit field; write NIfTI-2"));
  CHECK(io::parse_nifti<float>(io::serialize_nifti(wide, {.version = 2})).data.size(0) == 40000);
  io::Volume<float> empty;
  empty.data = zeros<float>({2, 0, 2});
  REQUIRE_THROWS_WITH(io::serialize_nifti(empty), Contains("nifti: cannot write an empty volume"));
  io::Volume<float> rank8;
  rank8.data = zeros<float>({1, 1, 1, 1, 1, 1, 1, 2});
  REQUIRE_THROWS_WITH(io::serialize_nifti(rank8), Contains("NIfTI holds 1 to 7"));
  io::Volume<float> flat;
  flat.data = zeros<float>({2, 2, 2});
  flat.affine.m[2][2] = 0;
  REQUIRE_THROWS_WITH(io::serialize_nifti(flat), Contains("nifti: cannot store a qform"));
  CHECK(io::parse_nifti<float>(io::serialize_nifti(flat, {.qform_code = 0})).affine == flat.affine);
}

// ---- hostile input -----------------------------------------------------------------------------------

TEST_CASE("nifti: malformed headers are errors", "[io][nifti][hostile]") {
  const std::vector<uint8_t> good = small_file();
  REQUIRE_NOTHROW(io::parse_nifti<float>(good));
  auto with = [&](auto edit) {
    std::vector<uint8_t> b = good;
    edit(b);
    return b;
  };
  require_parse_error(with([](auto& b) { poke<int32_t>(b, 0, 349); }), "nifti: sizeof_hdr is 349; expected 348");
  require_parse_error(with([](auto& b) { std::memcpy(b.data() + 344, "ni1\0", 4); }), ".hdr/.img pair");
  require_parse_error(with([](auto& b) { std::memcpy(b.data() + 344, "n+3\0", 4); }), "magic is not \"n+1\"");
  for (int16_t d0 : {0, -1, 8, 300})
    require_parse_error(with([&](auto& b) { poke<int16_t>(b, 40, d0); }),
                        "nifti: dim[0] is " + std::to_string(d0) + "; it must lie in 1..7");
  require_parse_error(with([](auto& b) { poke<int16_t>(b, 44, 0); }), "nifti: dim[2] is 0; every extent");
  require_parse_error(with([](auto& b) { poke<int16_t>(b, 46, -5); }), "nifti: dim[3] is -5");
  require_parse_error(with([](auto& b) { poke<int16_t>(b, 72, 8); }), "nifti: bitpix is 8 but datatype int16 (4) has 16 bits");
  require_parse_error(with([](auto& b) { poke<int16_t>(b, 70, 3); }), "nifti: unknown datatype code 3");
  require_parse_error(with([](auto& b) {
                        poke<int16_t>(b, 70, io::nifti_type::complex64);
                        poke<int16_t>(b, 72, 64);
                      }),
                      "nifti: datatype complex64 (32) is not supported");
  require_parse_error(with([](auto& b) { poke<float>(b, 108, 12); }), "nifti: vox_offset 12 is inside the 348-byte header");
  require_parse_error(with([](auto& b) { poke<float>(b, 108, 348); }), "overlaps the 4-byte extension flag");
  require_parse_error(with([](auto& b) { poke<float>(b, 108, 352.5f); }), "nifti: vox_offset 352.5 is not a non-negative whole");
  require_parse_error(with([](auto& b) { poke<float>(b, 108, -16); }), "is not a non-negative whole");
  require_parse_error(with([](auto& b) { poke<float>(b, 108, NAN); }), "is not a non-negative whole");
  require_parse_error(with([](auto& b) { poke<float>(b, 108, 1e6f); }), "nifti: vox_offset 1000000 is beyond the end of the");
  require_parse_error(with([](auto& b) { poke<float>(b, 108, 1e30f); }), "is not a non-negative whole");
  // The data runs past the end of the file.
  require_parse_error(with([](auto& b) { poke<int16_t>(b, 42, 5); }), "nifti: the file ends after");
  // Extensions: negative, too small, not a multiple of 16, past vox_offset.
  for (int32_t esize : {-16, 0, 8, 20, 33})
    require_parse_error(with([&](auto& b) { poke<int32_t>(b, 352, esize); }),
                        "nifti: extension 0 has esize " + std::to_string(esize) + ", not a positive multiple of 16");
  require_parse_error(with([](auto& b) { poke<int32_t>(b, 352, 64); }), "nifti: extension 0 (esize 64) runs past vox_offset 368");
  // The extension flag off: the same bytes are skipped, not read.
  CHECK(io::parse_nifti_header(with([](auto& b) { b[348] = 0; })).extensions.empty());
  // A qform-only header whose quaternion is not a rotation.
  require_parse_error(with([](auto& b) {
                        poke<int16_t>(b, 254, 0);
                        poke<float>(b, 256, 0.9f);
                        poke<float>(b, 260, 0.9f);
                      }),
                      "nifti: the qform quaternion");
}

TEST_CASE("nifti: NIfTI-2 and big-endian headers are checked the same way", "[io][nifti][hostile]") {
  std::vector<uint8_t> v2 = small_file(2);
  REQUIRE_NOTHROW(io::parse_nifti<float>(v2));
  auto b = v2;
  poke<int64_t>(b, 16, 9);
  require_parse_error(b, "nifti: dim[0] is 9");
  b = v2;
  for (int i = 1; i <= 3; ++i) poke<int64_t>(b, 16 + 8 * i, int64_t{1} << 40);  // 2^120 voxels
  require_parse_error(b, "nifti: the voxel count of dims [1099511627776, 1099511627776, 1099511627776] overflows");
  b = v2;
  poke<int64_t>(b, 24, int64_t{1} << 40);  // 2^40 x 3 x 2 int16 voxels: far more than the file holds
  require_parse_error(b, "nifti: the file ends after");
  b = v2;
  poke<int64_t>(b, 168, -1);
  require_parse_error(b, "nifti: vox_offset -1 is inside the 540-byte header");
  b = v2;
  poke<int64_t>(b, 168, INT64_MAX);
  require_parse_error(b, "is beyond the end of the");
  b = v2;
  poke<int32_t>(b, 344, 70000);
  require_parse_error(b, "nifti: qform_code 70000 or sform_code 1 is out of range");

  const auto big = io::serialize_nifti(ramp_volume({3, 3, 3}), {.datatype = io::nifti_type::int16, .big_endian = true});
  CHECK(big[0] == 0);
  CHECK(big[3] == 92);  // 348 big-endian
  b = big;
  b[40] = 0;
  b[41] = 9;  // dim[0] = 9 big-endian
  require_parse_error(b, "nifti: dim[0] is 9");
}

TEST_CASE("nifti: every truncation of a file is an error", "[io][nifti][hostile]") {
  for (int version : {1, 2}) {
    const std::vector<uint8_t> full = small_file(version);
    const std::vector<uint8_t> gz = io::gzip_compress(full);
    REQUIRE(io::parse_nifti<float>(gz).data.numel() == 24);
    for (std::size_t n = 0; n < full.size(); ++n) {
      INFO("version " << version << ", first " << n << " bytes");
      REQUIRE_THROWS_WITH(io::parse_nifti<float>(std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n))),
                          Contains("nifti:"));
    }
    for (std::size_t n = 0; n < gz.size(); ++n) {
      INFO("version " << version << ", first " << n << " compressed bytes");
      const std::vector<uint8_t> part(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(n));
      if (n < 2) REQUIRE_THROWS_WITH(io::parse_nifti<float>(part), Contains("nifti:"));
      else REQUIRE_THROWS_WITH(io::parse_nifti<float>(part), Contains("gzip:"));
    }
  }
}

TEST_CASE("nifti: gzip streams that lie about their size are errors", "[io][nifti][hostile]") {
  const std::vector<uint8_t> full = small_file();
  // More bytes than the header declares.
  std::vector<uint8_t> longer = full;
  longer.insert(longer.end(), 10, 7);
  CHECK(io::parse_nifti<float>(longer).data.numel() == 24);  // uncompressed trailing bytes are ignored
  REQUIRE_THROWS_WITH(io::parse_nifti<float>(io::gzip_compress(longer)),
                      Contains("gzip: the stream holds more than the 416 bytes the NIfTI header declares"));
  // Fewer.
  const std::vector<uint8_t> shorter(full.begin(), full.end() - 1);
  REQUIRE_THROWS_WITH(io::parse_nifti<float>(io::gzip_compress(shorter)), Contains("gzip: the stream ends after 415"));
  // A huge declared volume in a tiny stream fails before anything is allocated.
  std::vector<uint8_t> huge = full;
  for (int i = 1; i <= 3; ++i) poke<int16_t>(huge, 40 + 2 * static_cast<std::size_t>(i), 30000);
  REQUIRE_THROWS_WITH(io::parse_nifti<float>(io::gzip_compress(huge)),
                      Contains("gzip: the voxel data needs 54000000000000 bytes") && Contains("compressed bytes can expand to"));
  // Corrupt deflate data and a corrupt CRC.
  std::vector<uint8_t> gz = io::gzip_compress(full);
  std::vector<uint8_t> bad = gz;
  for (std::size_t i = 12; i < 20; ++i) bad[i] ^= 0xA5;
  REQUIRE_THROWS_WITH(io::parse_nifti<float>(bad), Contains("gzip:"));
  bad = gz;
  bad[bad.size() - 6] ^= 1;  // CRC32 in the trailer
  REQUIRE_THROWS_WITH(io::parse_nifti<float>(bad), Contains("gzip: corrupt compressed data (zlib: incorrect data check)"));
  // Concatenated members are one stream; zero padding after the end is fine, other bytes are not.
  const std::size_t half = full.size() / 2;
  std::vector<uint8_t> two = io::gzip_compress(std::span<const uint8_t>(full.data(), half));
  const std::vector<uint8_t> rest = io::gzip_compress(std::span<const uint8_t>(full.data() + half, full.size() - half));
  two.insert(two.end(), rest.begin(), rest.end());
  CHECK(io::parse_nifti<float>(two).data.to_vector() == io::parse_nifti<float>(full).data.to_vector());
  two.insert(two.end(), 5, 0);
  CHECK(io::parse_nifti<float>(two).data.numel() == 24);
  two.push_back(9);
  REQUIRE_THROWS_WITH(io::parse_nifti<float>(two), Contains("gzip: unexpected bytes after the end of the compressed stream"));
  // gzip_decompress on its own.
  CHECK(io::gzip_decompress(gz) == full);
  REQUIRE_THROWS_WITH(io::gzip_decompress(gz, 100), Contains("gzip: the stream decompresses to more than 100 bytes"));
  // A file path: the error names it.
  TempFile file(".nii.gz");
  {
    std::ofstream out(file.path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(shorter.data()), 0);
    const auto z = io::gzip_compress(shorter);
    out.write(reinterpret_cast<const char*>(z.data()), static_cast<std::streamsize>(z.size()));
  }
  REQUIRE_THROWS_WITH(io::read_nifti<float>(file.path), Contains("gzip: the stream ends after 415") &&
                                                            Contains(file.path.filename().string()));
}

TEST_CASE("nifti: random corruption never crashes", "[io][nifti][hostile]") {
  std::mt19937 rng(12345);
  const std::vector<uint8_t> plain = small_file(1), plain2 = small_file(2);
  const std::vector<uint8_t> gz = io::gzip_compress(plain);
  for (int iter = 0; iter < 3000; ++iter) {
    const std::vector<uint8_t>& base = iter % 3 == 0 ? plain : iter % 3 == 1 ? plain2 : gz;
    std::vector<uint8_t> b = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      // Aim most edits at the header and extension, where the sizes and offsets live.
      const std::size_t limit = (rng() % 4 != 0) ? std::min<std::size_t>(b.size(), 560) : b.size();
      const std::size_t at = rng() % limit;
      switch (rng() % 3) {
        case 0: b[at] = static_cast<uint8_t>(rng()); break;
        case 1: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        default: b[at] = (rng() % 2) ? 0xFF : 0x00; break;
      }
    }
    if (rng() % 8 == 0) b.resize(rng() % b.size());
    parse_or_format_error(b);
  }
}
