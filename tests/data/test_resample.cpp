// Resampling onto a grid and to a spacing: scipy.ndimage.map_coordinates (order 1 and 0) for every
// padding, labels kept exact, trailing dims, thin axes, MONAI Spacing's grid and values, nibabel
// vox2out_vox's grid, identity and integer shifts, the field-of-view margin, channel-first tensors, and
// the errors. With the NIfTI reader: SPM12's resampled_anat_moved.nii and reoriented_anat_moved.nii from
// anatomical.nii (the shared data: skipped with a warning when missing, a failure under
// VOXNN_REQUIRE_SHARED_DATA).
// Fixtures: tests/fixtures/gen_data_resample.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <set>
#include <string>

#include "support/fixtures.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/data/resample.hpp"
#include "voxnn/io/nifti.hpp"
#include "support/shared_data.hpp"

using namespace voxnn;
using Catch::Matchers::Contains;
using test::FixtureCase;

namespace {

const char* const kFile = "data_resample.safetensors";

io::Affine affine_from(const Tensor<double>& a) {
  io::Affine out;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) out.m[r][c] = a.at({r, c});
  return out;
}

io::Affine affine_param(const FixtureCase& c, const char* key) {
  const auto& v = c.param(key).array();
  REQUIRE(v.size() == 16);
  io::Affine out;
  for (int i = 0; i < 16; ++i) out.m[i / 4][i % 4] = std::strtod(v[static_cast<std::size_t>(i)].string().c_str(), nullptr);
  return out;
}

std::array<double, 3> reals3(const FixtureCase& c, const char* key) {
  const auto& v = c.param(key).array();
  REQUIRE(v.size() == 3);
  return {std::strtod(v[0].string().c_str(), nullptr), std::strtod(v[1].string().c_str(), nullptr),
          std::strtod(v[2].string().c_str(), nullptr)};
}

void require_affine_close(const io::Affine& a, const io::Affine& b, double tol) {
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      INFO("affine entry (" << r << ", " << c << "): " << a.m[r][c] << " vs " << b.m[r][c]);
      REQUIRE(std::abs(a.m[r][c] - b.m[r][c]) <= tol);
    }
}

data::ResampleOptions options_of(const FixtureCase& c) {
  data::ResampleOptions o;
  o.mode = c.string("mode");
  o.padding = c.string("padding");
  if (c.has("fill_value")) o.fill_value = c.real("fill_value");
  return o;
}

template <class T>
void check_grid_case(const FixtureCase& c) {
  const io::Volume<T> in{c.input<T>(0), affine_param(c, "affine")};
  const auto shape = c.ints("shape");
  const auto out = data::resample_to_grid(in, {shape[0], shape[1], shape[2]}, affine_param(c, "target_affine"),
                                          options_of(c));
  c.check<T>(out.data);
  CHECK(out.affine == affine_param(c, "target_affine"));
  if (c.string("mode") == "nearest") {  // labels: every output value is an input value, bit for bit
    const auto values = in.data.to_vector();
    const std::set<T> allowed(values.begin(), values.end());
    for (T v : out.data.to_vector()) REQUIRE((std::isnan(v) || allowed.count(v) == 1));
  }
}

io::Affine oblique() {
  io::Affine a = io::Affine::from_spacing({1.2, 0.9, 1.5}, {3, -2, 1});
  io::Affine r;
  const double t = 0.35;
  r.m[0][0] = std::cos(t), r.m[0][2] = std::sin(t);
  r.m[2][0] = -std::sin(t), r.m[2][2] = std::cos(t);
  return r * a;
}

Tensor<double> random_volume(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return randn<double>(shape, g);
}

}  // namespace

TEST_CASE("resample_to_grid: scipy map_coordinates order 1 and 0, every padding, 4D, thin axes",
          "[data][resample]") {
  for (const FixtureCase& c : test::fixture_cases(kFile, "resample_to_grid")) {
    SECTION(c.name()) {
      check_grid_case<float>(c);
      check_grid_case<double>(c);
    }
  }
}

TEST_CASE("resample_to_spacing: MONAI Spacing's grid and values", "[data][resample]") {
  for (const FixtureCase& c : test::fixture_cases(kFile, "resample_to_spacing")) {
    SECTION(c.name()) {
      const io::Affine a = affine_param(c, "affine");
      const auto spacing = reals3(c, "spacing");
      data::ResampleOptions o;
      o.mode = c.string("mode");
      o.padding = c.string("padding");
      const auto outd = data::resample_to_spacing(io::Volume<double>{c.input<double>(0), a}, spacing, o);
      const auto outf = data::resample_to_spacing(io::Volume<float>{c.input<float>(0), a}, spacing, o);
      require_affine_close(outd.affine, affine_from(c.expected<double>(1)), 1e-9);
      // MONAI's affine (from a Cholesky factor) and ours (Gram-Schmidt) agree to ~1e-12: the double
      // values to 1e-8 relative, not the usual 1e-10.
      const Tensor<double> want = c.expected<double>(0);
      test::check_close(outd.data, want, 1e-8 * std::max(1.0, test::double_tolerance(want) * 1e10), "double");
      c.check<float>(outf.data, 0);
      const auto sp = outd.affine.spacing();
      for (int d = 0; d < 3; ++d) CHECK(std::abs(sp[d] - spacing[d]) < 1e-12);
    }
  }
}

TEST_CASE("resample: a grid onto itself, integer shifts, flips: exact values, no NaN at the edges",
          "[data][resample]") {
  const Tensor<double> x = random_volume({7, 6, 5}, 3);
  const io::Volume<double> v{x, oblique()};
  const auto same = data::resample_like(v, v);
  test::require_equal(same.data, x, "onto itself");
  const auto same_nearest = data::resample_like(v, v, {.mode = "nearest"});
  test::require_equal(same_nearest.data, x, "onto itself, nearest");

  // The target grid shifted by (1, -2, 0) voxels and flipped along k: out(a, b, c) = x(a + 1, b - 2, 4 - c).
  io::Affine shift = io::Affine::from_spacing({1, 1, -1}, {1, -2, 4});
  const auto moved = data::resample_to_grid(v, {7, 6, 5}, v.affine * shift);
  for (int64_t a = 0; a < 7; ++a)
    for (int64_t b = 0; b < 6; ++b)
      for (int64_t c = 0; c < 5; ++c) {
        const double got = moved.data.at({a, b, c});
        if (a + 1 < 7 && b - 2 >= 0) REQUIRE(std::abs(got - x.at({a + 1, b - 2, 4 - c})) < 1e-12);
        else REQUIRE(std::isnan(got));
      }
}

TEST_CASE("resample: closed forms along one axis; the field-of-view margin mirrors like SPM12",
          "[data][resample]") {
  // Values 10 * i along i; the target samples i = -0.03, 0.25, 3.5, 4.04, 4.6, 5.2 (of 5 voxels).
  Tensor<double> x({5, 1, 1});
  for (int64_t i = 0; i < 5; ++i) x.at({i, 0, 0}) = 10.0 * static_cast<double>(i);
  const io::Volume<double> v{x, io::Affine::identity()};
  const std::array<double, 6> at{-0.03, 0.25, 3.5, 4.04, 4.6, 5.2};
  auto sample = [&](const data::ResampleOptions& o) {
    std::vector<double> out;
    for (double p : at) out.push_back(data::resample_to_grid(v, {1, 1, 1}, io::Affine::from_spacing({1, 1, 1}, {p, 0, 0}), o).data.item());
    return out;
  };
  const auto nan = sample({});
  CHECK(std::isnan(nan[0]));
  CHECK(nan[1] == Approx(2.5));
  CHECK(nan[2] == Approx(35));
  CHECK(std::isnan(nan[3]));
  CHECK(std::isnan(nan[4]));
  const auto spm = sample({.fov_margin = 0.05});  // SPM12: mirrored inside the 0.05 margin
  CHECK(spm[0] == Approx(0.3));
  CHECK(spm[3] == Approx(39.6));
  CHECK(std::isnan(spm[4]));
  const auto border = sample({.padding = "border"});
  CHECK(border[0] == 0);
  CHECK(border[3] == 40);
  CHECK(border[5] == 40);
  const auto value = sample({.padding = "value", .fill_value = -1});
  CHECK(value[0] == -1);
  CHECK(value[5] == -1);
  const auto zeros = sample({.padding = "zeros"});
  CHECK(zeros[4] == 0);
  // Nearest: each voxel owns [i - 0.5, i + 0.5); 4.04 and 4.6 are in voxel 4's cell or past it.
  const auto near = sample({.mode = "nearest"});
  CHECK(near[0] == 0);
  CHECK(near[1] == 0);
  CHECK(near[2] == 40);  // ties round up, as scipy's order 0 does
  CHECK(near[3] == 40);
  CHECK(std::isnan(near[4]));
  CHECK(std::isnan(near[5]));
}

TEST_CASE("resample: channel-first tensors, trailing dims, threads, resample_like with a label grid",
          "[data][resample]") {
  const Tensor<double> x4 = random_volume({6, 5, 7, 3}, 11);
  const io::Affine a = oblique();
  io::Affine b = io::Affine::from_spacing({0.8, 1.1, 0.9}, {2.5, -1.5, 0.5});
  const std::array<int64_t, 3> shape{9, 6, 8};
  const Tensor<double> last = data::resample_tensor(x4, a, shape, b);
  const Tensor<double> first = data::resample_tensor(x4.permute({3, 0, 1, 2}), a, shape, b, {}, 1);
  test::require_equal(first, last.permute({3, 0, 1, 2}), "channel first == channel last");
  for (int64_t ch = 0; ch < 3; ++ch) {
    const Tensor<double> one = data::resample_tensor(x4.select(3, ch), a, shape, b);
    test::require_equal(one, last.select(3, ch), "one channel alone");
  }
  const int threads = num_threads();
  set_num_threads(1);
  const Tensor<double> serial = data::resample_tensor(x4, a, shape, b);
  set_num_threads(threads);
  test::require_equal(serial, last, "1 thread == n threads");

  const io::Volume<uint8_t> like{zeros<uint8_t>({9, 6, 8}), b};
  const auto out = data::resample_like(io::Volume<double>{x4, a}, like);
  test::require_equal(out.data, last);
  CHECK(out.affine == b);
}

TEST_CASE("output_grid: nibabel vox2out_vox", "[data][resample]") {
  // anatomical.nii moved by SPM's rigid transform (SOURCES.md) to a 4 mm RAS grid: the grid of
  // reoriented_anat_moved.nii, (21, 26, 22) with origin (-35.29789556, -47.97758666, -27.59940939).
  io::Affine moved;
  moved.m = {{{-1.9503406544, -0.19568679, 0.3973386616, 34.940476978},
              {-0.307583996, 1.889404972, -0.5792589553, -24.2326838621},
              {0.3186901586, 0.6259836516, 1.8725867272, -27.5994093866},
              {0, 0, 0, 1}}};
  const data::Grid g = data::output_grid({33, 41, 25}, moved, {4, 4, 4});
  CHECK(g.shape == std::array<int64_t, 3>{21, 26, 22});
  require_affine_close(g.affine, io::Affine::from_spacing({4, 4, 4}, {-35.29789556, -47.97758666, -27.59940939}), 1e-7);
}

TEST_CASE("resample: errors", "[data][resample]") {
  const io::Volume<float> v{zeros<float>({3, 3, 3}), io::Affine::identity()};
  REQUIRE_THROWS_WITH(data::resample_like(v, v, {.mode = "cubic"}), Contains("mode \"cubic\""));
  REQUIRE_THROWS_WITH(data::resample_like(v, v, {.padding = "reflect"}), Contains("padding \"reflect\""));
  REQUIRE_THROWS_WITH(data::resample_like(v, v, {.fov_margin = -1}), Contains("fov_margin"));
  REQUIRE_THROWS_WITH(data::resample_to_grid(io::Volume<float>{v.data, io::Affine::from_spacing({1, 0, 1})}, {2, 2, 2},
                                             io::Affine::identity()),
                      Contains("singular"));
  REQUIRE_THROWS_WITH(data::resample_to_grid(v, {2, -1, 2}, io::Affine::identity()), Contains("negative size"));
  REQUIRE_THROWS_WITH(data::resample_to_spacing(v, {1, 0, 1}), Contains("must be positive"));
  REQUIRE_THROWS_WITH(data::resample_tensor(v.data, v.affine, {2, 2, 2}, v.affine, {}, 1), Contains("do not exist"));
  const io::Volume<float> empty{zeros<float>({0, 3, 3}), io::Affine::identity()};
  REQUIRE_THROWS_WITH(data::resample_like(empty, v), Contains("empty axis"));
  CHECK(data::resample_to_grid(v, {0, 2, 2}, io::Affine::identity()).data.numel() == 0);
}

namespace {

// Label volumes of integer type: nearest copies the values bit for bit. The source voxel of every
// target voxel comes from resampling the voxels' linear indices (exact in double) the same way.
template <class L>
void check_integer_labels(L (*label_of)(int64_t)) {
  INFO(element_name<L>());
  const std::array<int64_t, 3> n{7, 6, 5}, shape{9, 6, 8};
  const io::Affine a = oblique(), b = io::Affine::from_spacing({0.8, 1.1, 0.9}, {2.5, -1.5, 0.5});
  Tensor<double> index({n[0], n[1], n[2]});
  Tensor<L> labels({n[0], n[1], n[2]});
  for (int64_t i = 0; i < index.numel(); ++i) index.data()[i] = static_cast<double>(i), labels.data()[i] = label_of(i);
  const data::ResampleOptions o{.mode = "nearest", .padding = "value", .fill_value = 3};
  const Tensor<double> source = data::resample_tensor(index, a, shape, b, {.mode = "nearest", .padding = "value", .fill_value = -1});
  const auto out = data::resample_to_grid(io::Volume<L>{labels, a}, shape, b, o);
  REQUIRE(out.data.shape() == Shape{9, 6, 8});
  int64_t inside = 0;
  for (int64_t i = 0; i < out.data.numel(); ++i) {
    const double src = source.data()[i];
    const L want = src < 0 ? L(3) : labels.data()[static_cast<int64_t>(src)];
    inside += src >= 0;
    REQUIRE(out.data.data()[i] == want);
  }
  CHECK(inside > 100);
  CHECK(inside < out.data.numel());
  // The other entry points take integer data too.
  const auto like = data::resample_like(io::Volume<L>{labels, a}, io::Volume<float>{zeros<float>({9, 6, 8}), b}, o);
  test::require_equal(like.data, out.data, "resample_like");
  const auto sp = data::resample_to_spacing(io::Volume<L>{labels, a}, {0.7, 0.7, 0.7}, {.mode = "nearest", .padding = "border"});
  const auto op = data::resample_to_output(io::Volume<L>{labels, a}, {1, 1, 1}, {.mode = "nearest", .padding = "zeros"});
  const auto channel_first = data::resample_tensor(labels.unsqueeze(0), a, shape, b, o, 1);
  test::require_equal(channel_first.squeeze(0), out.data, "channel first");
  const auto all = labels.to_vector();
  const std::set<L> allowed(all.begin(), all.end());
  for (L v : sp.data.to_vector()) REQUIRE(allowed.count(v) == 1);
  for (L v : op.data.to_vector()) REQUIRE((v == L(0) || allowed.count(v) == 1));
}

// SOURCES.md: the rigid transform times anatomical.nii's affine.
io::Affine moved_anatomy_affine() {
  io::Affine m;
  m.m = {{{-1.9503406544, -0.19568679, 0.3973386616, 34.940476978},
          {-0.307583996, 1.889404972, -0.5792589553, -24.2326838621},
          {0.3186901586, 0.6259836516, 1.8725867272, -27.5994093866},
          {0, 0, 0, 1}}};
  return m;
}

struct Comparison {
  double max_diff = 0, range = 0;
  int64_t compared = 0, nan_mismatch = 0, ref_nan = 0;
};

Comparison compare_inside(const Tensor<double>& got, const Tensor<double>& ref) {
  Comparison c;
  const auto g = got.to_vector(), r = ref.to_vector();
  double lo = INFINITY, hi = -INFINITY;
  for (double v : r)
    if (!std::isnan(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  c.range = hi - lo;
  for (std::size_t i = 0; i < g.size(); ++i) {
    c.ref_nan += std::isnan(r[i]);
    if (std::isnan(g[i]) != std::isnan(r[i])) ++c.nan_mismatch;
    if (!std::isnan(g[i]) && !std::isnan(r[i])) {
      c.max_diff = std::max(c.max_diff, std::abs(g[i] - r[i]));
      ++c.compared;
    }
  }
  return c;
}

}  // namespace

TEST_CASE("resample: SPM12 resampled_anat_moved.nii (trilinear onto functional.nii's grid)", "[data][resample][spm]") {
  if (!test::have_shared_file("nibabel/anatomical.nii") || !test::have_shared_file("nibabel/resampled_anat_moved.nii"))
    return;
  const std::string dir = test::shared_path("nibabel/");
  io::Volume<double> anat = io::read_nifti<double>(dir + "anatomical.nii");
  anat.affine = moved_anatomy_affine();
  const io::Volume<double> ref = io::read_nifti<double>(dir + "resampled_anat_moved.nii");
  REQUIRE(ref.data.shape() == Shape{17, 21, 3});

  // SPM's field of view has a 0.05-voxel margin, mirrored inside it: the NaN masks agree exactly
  // and every other voxel agrees to 1e-4 of the intensity range (about 1e-6 in fact).
  const auto spm = data::resample_like(anat, ref, {.fov_margin = 0.05});
  const Comparison c = compare_inside(spm.data, ref.data);
  INFO("max |voxnn - SPM| " << c.max_diff << " over " << c.compared << " voxels; range " << c.range);
  CHECK(c.ref_nan == 153);
  CHECK(c.nan_mismatch == 0);
  CHECK(c.compared == 17 * 21 * 3 - 153);
  CHECK(c.max_diff <= 1e-4 * c.range);

  // The strict field of view [0, n-1]: the same values, and NaN at exactly two more voxels, whose source
  // coordinates lie 0.032 and 0.047 voxels outside the edge (SPM's margin keeps them).
  const auto strict = data::resample_like(anat, ref);
  const Comparison s = compare_inside(strict.data, ref.data);
  CHECK(s.nan_mismatch == 2);
  CHECK(s.max_diff <= 1e-4 * s.range);
  const auto sd = strict.data.to_vector(), rd = ref.data.to_vector();
  int64_t extra = 0, missing = 0;
  for (std::size_t i = 0; i < sd.size(); ++i) {
    extra += std::isnan(sd[i]) && !std::isnan(rd[i]);
    missing += !std::isnan(sd[i]) && std::isnan(rd[i]);
  }
  CHECK(extra == 2);
  CHECK(missing == 0);

  // float gives the same answer.
  io::Volume<float> anatf = io::read_nifti<float>(dir + "anatomical.nii");
  anatf.affine = anat.affine;
  const auto f = data::resample_like(anatf, ref, {.fov_margin = 0.05});
  Tensor<double> fd(f.data.shape());
  const auto fv = f.data.to_vector();
  std::copy(fv.begin(), fv.end(), fd.data());
  const Comparison cf = compare_inside(fd, ref.data);
  CHECK(cf.nan_mismatch == 0);
  CHECK(cf.max_diff <= 1e-4 * cf.range);
}

TEST_CASE("resample: SPM reoriented_anat_moved.nii (trilinear onto a 4 mm RAS grid)", "[data][resample][spm]") {
  if (!test::have_shared_file("nibabel/anatomical.nii") || !test::have_shared_file("nibabel/reoriented_anat_moved.nii"))
    return;
  const std::string dir = test::shared_path("nibabel/");
  io::Volume<double> anat = io::read_nifti<double>(dir + "anatomical.nii");
  anat.affine = moved_anatomy_affine();
  const io::Volume<double> ref = io::read_nifti<double>(dir + "reoriented_anat_moved.nii");
  REQUIRE(ref.data.shape() == Shape{21, 26, 22});

  // Its grid is nibabel's resample_to_output grid at 4 mm (the header stores it in float32).
  const data::Grid g = data::output_grid(anat.spatial_shape(), anat.affine, {4, 4, 4});
  CHECK(g.shape == std::array<int64_t, 3>{21, 26, 22});
  require_affine_close(g.affine, ref.affine, 1e-5);

  // This file has zeros, not NaN, outside the field of view. Inside [0, n-1] the values agree to 1e-4
  // of the range (about 1e-6 in fact); outside, the reference is 0 except at 33 voxels less than 0.05
  // voxel beyond the edge, where this SPM sampler clamps onto the edge.
  const auto out = data::resample_to_output(anat, {4, 4, 4});
  REQUIRE(out.data.shape() == ref.data.shape());
  const auto o = out.data.to_vector(), r = ref.data.to_vector();
  double max_diff = 0, lo = INFINITY, hi = -INFINITY;
  int64_t band = 0, inside = 0;
  for (std::size_t i = 0; i < o.size(); ++i) {
    lo = std::min(lo, r[i]), hi = std::max(hi, r[i]);
    if (std::isnan(o[i])) {
      band += r[i] != 0;
    } else {
      ++inside;
      max_diff = std::max(max_diff, std::abs(o[i] - r[i]));
    }
  }
  INFO("max |voxnn - SPM| " << max_diff << " over " << inside << " voxels; range " << hi - lo);
  CHECK(inside == 3841);
  CHECK(band == 33);
  CHECK(max_diff <= 1e-4 * (hi - lo));
  // With SPM's 0.05-voxel margin and zero padding, the zero voxels agree exactly.
  const auto zeros = data::resample_to_output(anat, {4, 4, 4}, {.padding = "zeros", .fov_margin = 0.05});
  const auto z = zeros.data.to_vector();
  for (std::size_t i = 0; i < z.size(); ++i) REQUIRE((z[i] == 0) == (r[i] == 0));
}

TEST_CASE("resample: integer label volumes (uint8, int32, int64) keep their values exactly", "[data][resample]") {
  check_integer_labels<uint8_t>([](int64_t i) { return static_cast<uint8_t>((i * 37) % 251); });
  check_integer_labels<int32_t>([](int64_t i) { return static_cast<int32_t>(i * 1000003 - 70000000); });
  // Above 2^53: a detour through double would round these.
  check_integer_labels<int64_t>([](int64_t i) { return (int64_t{1} << 60) + 2 * i + 1; });

  const io::Volume<uint8_t> v{zeros<uint8_t>({3, 3, 3}), io::Affine::identity()};
  REQUIRE_THROWS_WITH(data::resample_like(v, v, {.padding = "zeros"}),
                      Contains("resample: trilinear interpolation of uint8 data is not defined; use mode \"nearest\""));
  REQUIRE_THROWS_WITH(data::resample_like(v, v, {.mode = "nearest"}),
                      Contains("padding \"nan\" needs floating-point data, not uint8"));
  REQUIRE_THROWS_WITH(data::resample_like(v, v, {.mode = "nearest", .padding = "value", .fill_value = 256}),
                      Contains("fill_value 256 is not a uint8 value"));
  REQUIRE_THROWS_WITH(data::resample_like(v, v, {.mode = "nearest", .padding = "value", .fill_value = 0.5}),
                      Contains("fill_value 0.5 is not a uint8 value"));
  const io::Volume<int64_t> w{zeros<int64_t>({3, 3, 3}), io::Affine::identity()};
  REQUIRE_THROWS_WITH(data::resample_like(w, w, {.mode = "nearest", .padding = "value", .fill_value = 9.3e18}),
                      Contains("is not a int64 value"));
  CHECK(data::resample_like(w, w, {.mode = "nearest", .padding = "value", .fill_value = -9.2e18}).data.numel() == 27);
}

TEST_CASE("resample: hostile spacings and affines give errors, not huge or undefined shapes", "[data][resample]") {
  const io::Volume<float> v{zeros<float>({3, 3, 3}), io::Affine::identity()};
  REQUIRE_THROWS_WITH(data::resample_to_spacing(v, {1e-10, 1e-10, 1e-10}),
                      Contains("resample_to_spacing: spacing (1e-10, 1e-10, 1e-10) gives") &&
                          Contains("voxels along axis 0; the shape is too large"));
  REQUIRE_THROWS_AS(data::resample_to_spacing(v, {1e-300, 1, 1}), Error);  // the new grid's affine is singular
  REQUIRE_THROWS_WITH(data::resample_to_output(v, {1, 1e-300, 1}), Contains("resample_to_output: spacing (1, 1e-300, 1)"));
  REQUIRE_THROWS_WITH(data::spacing_grid({3, 3, 3}, io::Affine::identity(), {1e-5, 1e-5, 1e-5}), Contains("too large"));
  REQUIRE_THROWS_WITH(data::output_grid({3, 3, 3}, io::Affine::identity(), {1e-5, 1e-5, 1e-5}), Contains("too large"));
  REQUIRE_THROWS_WITH(data::resample_to_spacing(v, {1, NAN, 1}), Contains("must be positive and finite"));
  REQUIRE_THROWS_WITH(data::resample_to_output(v, {1, 1, -INFINITY}), Contains("must be positive and finite"));
  // A huge but finite affine: the extent overflows to infinity.
  const io::Volume<float> far{v.data, io::Affine::from_spacing({1e308, 1e308, 1})};
  REQUIRE_THROWS_WITH(data::resample_to_output(far, {1, 1, 1}), Contains("too large"));
  REQUIRE_THROWS_WITH(data::resample_to_spacing(far, {1e-10, 1, 1}), Contains("too large"));
  // Target grids far outside or with huge steps only pad: no overflowing index casts.
  for (double big : {1e300, -1e300, 1e18}) {
    for (const char* mode : {"trilinear", "nearest"})
      for (const char* pad : {"nan", "border", "zeros"}) {
        const data::ResampleOptions o{.mode = mode, .padding = pad};
        const auto shifted = data::resample_to_grid(v, {2, 2, 2}, io::Affine::from_spacing({1, 1, 1}, {big, 0, 0}), o);
        const auto stretched = data::resample_to_grid(v, {2, 2, 2}, io::Affine::from_spacing({big, big, big}), o);
        CHECK(shifted.data.numel() == 8);
        CHECK(stretched.data.numel() == 8);
      }
  }
}
