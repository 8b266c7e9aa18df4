// The datasets: CsvDataset over NIfTI files written here and over the shared volumes, ListDataset, FunctionDataset, and a CsvDataset feeding
// a DataLoader.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "voxnn/core/factory.hpp"
#include "voxnn/data/dataset.hpp"
#include "voxnn/data/loader.hpp"
#include "voxnn/io/nifti.hpp"

#include "support/shared_data.hpp"

using namespace voxnn;
using data::Sample;
namespace fs = std::filesystem;

namespace {

static_assert(data::Dataset<data::CsvDataset<float>>);
static_assert(data::Dataset<data::ListDataset<double>>);
static_assert(data::Dataset<data::FunctionDataset<float>>);
static_assert(!data::Dataset<std::vector<Sample<float>>>);

// A fresh directory removed with everything in it at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::mt19937_64 rng{std::random_device{}()};
    path = fs::temp_directory_path() / ("voxnn_dataset_" + std::to_string(rng()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
  }
};

// A volume of the given shape whose voxel at flat index n holds n * scale + offset.
io::Volume<float> ramp(const Shape& shape, float scale = 1, float offset = 0, io::Affine affine = {}) {
  io::Volume<float> v;
  v.data = Tensor<float>(shape);
  for (int64_t n = 0; n < v.data.numel(); ++n) v.data.data()[n] = static_cast<float>(n) * scale + offset;
  v.affine = affine;
  return v;
}

io::Affine grid_affine() {  // exact in float32: survives NIfTI-1's float sform
  io::Affine a = io::Affine::from_spacing({2, 1.5, 3}, {-10, 20.5, 4});
  a(0, 1) = 0.25;
  return a;
}

using test::shared_path;

}  // namespace

// ---- CsvDataset ------------------------------------------------------------------------------------------

TEST_CASE("CsvDataset loads images, labels and targets relative to the CSV", "[data][dataset]") {
  TempDir dir;
  fs::create_directories(dir.path / "sub");
  const io::Affine a = grid_affine();
  io::write_nifti(dir.path / "img0.nii.gz", ramp({4, 5, 6}, 1, 0, a));
  io::write_nifti(dir.path / "lab0.nii.gz", ramp({4, 5, 6}, 0, 2, a));
  io::write_nifti(dir.path / "sub" / "img1.nii", ramp({4, 5, 6, 2}, 0.5, 1, a));
  io::write_nifti(dir.path / "sub" / "lab1.nii", ramp({4, 5, 6}, 0, 3, a));
  dir.write("train.csv", "image,label,age,sex\nimg0.nii.gz,lab0.nii.gz,42.5,1\nsub/img1.nii,sub/lab1.nii,-3,0\n");

  data::CsvDataset<float> ds({.csv = dir.path / "train.csv", .target_columns = {"age", "sex"}});
  REQUIRE(ds.size() == 2);
  CHECK(ds.has_label());
  Generator gen(1);
  const Sample<float> s0 = ds.get(0, gen);
  CHECK(s0.id == (dir.path / "img0.nii.gz").string());
  REQUIRE(s0.image.shape() == Shape{1, 4, 5, 6});
  CHECK(s0.image.at({0, 1, 2, 3}) == static_cast<float>((1 * 5 + 2) * 6 + 3));
  REQUIRE(s0.label.has_value());
  CHECK(s0.label->shape() == Shape{1, 4, 5, 6});
  CHECK(s0.label->at({0, 3, 4, 5}) == 2.0f);
  CHECK(s0.target == std::vector<float>{42.5f, 1.0f});
  CHECK(s0.affine == a);

  // A 4D image: its time axis becomes the channels.
  const Sample<float> s1 = ds.get(1, gen);
  REQUIRE(s1.image.shape() == Shape{2, 4, 5, 6});
  for (int64_t t = 0; t < 2; ++t)
    CHECK(s1.image.at({t, 1, 2, 3}) == static_cast<float>((((1 * 5 + 2) * 6 + 3) * 2 + t) * 0.5 + 1));
  CHECK(s1.target == std::vector<float>{-3.0f, 0.0f});
  CHECK(ds.label_path(1).value() == dir.path / "sub/lab1.nii");

  // No label column asked for: no label.
  data::CsvDataset<double> images({.csv = dir.path / "train.csv", .label_column = ""});
  CHECK_FALSE(images.has_label());
  const Sample<double> i0 = images.get(0, gen);
  CHECK_FALSE(i0.label.has_value());
  CHECK(i0.target.empty());
  CHECK(i0.image.at({0, 0, 0, 1}) == 1.0);

  // Through a loader: batches of stacked images and targets.
  data::DataLoader loader(data::CsvDataset<float>({.csv = dir.path / "train.csv", .target_columns = {"age"},
                                                   .transform = [](Sample<float>& s, Generator&) {
                                                     s.image = s.image.narrow(0, 0, 1).contiguous();
                                                   }}),
                          {.batch_size = 2});
  auto epoch = loader.epoch(0);
  auto batch = epoch.next();
  REQUIRE(batch.has_value());
  CHECK(batch->image.shape() == Shape{2, 1, 4, 5, 6});
  CHECK(batch->label->shape() == Shape{2, 1, 4, 5, 6});
  CHECK(batch->target.to_vector() == std::vector<float>{42.5f, -3.0f});
  CHECK(batch->affines[1] == a);
}

TEST_CASE("CsvDataset applies its transform with the generator and caches untransformed volumes",
          "[data][dataset]") {
  TempDir dir;
  io::write_nifti(dir.path / "a.nii", ramp({3, 3, 3}));
  dir.write("m.csv", "image\na.nii\n");
  auto noise = [](Sample<float>& s, Generator& gen) {
    const Tensor<float> n = randn<float>(s.image.shape(), gen);
    for (int64_t i = 0; i < s.image.numel(); ++i) s.image.data()[i] += n.data()[i];
  };
  data::CsvDataset<float> ds({.csv = dir.path / "m.csv", .transform = noise, .cache = true});
  Generator g1(7), g2(7), g3(8);
  const Sample<float> a = ds.get(0, g1);
  fs::remove(dir.path / "a.nii");  // from now on only the cache has it
  const Sample<float> b = ds.get(0, g2);
  const Sample<float> c = ds.get(0, g3);
  CHECK(a.image.to_vector() == b.image.to_vector());  // same seed, and the cache was not changed by a's noise
  CHECK(a.image.to_vector() != c.image.to_vector());
  const data::CsvDataset<float> copy = ds;  // copies share the cache
  CHECK(copy.get(0, g1).image.shape() == Shape{1, 3, 3, 3});
  data::CsvDataset<float> uncached({.csv = dir.path / "m.csv"});
  REQUIRE_THROWS_WITH(uncached.get(0, g1), Catch::Contains("a.nii"));
}

TEST_CASE("CsvDataset reports bad manifests and mismatched labels", "[data][dataset]") {
  TempDir dir;
  const io::Affine a = grid_affine();
  io::Affine shifted = a;
  shifted(1, 3) += 0.5;
  io::write_nifti(dir.path / "img.nii", ramp({4, 5, 6}, 1, 0, a));
  io::write_nifti(dir.path / "small.nii", ramp({4, 5, 5}, 1, 0, a));
  io::write_nifti(dir.path / "moved.nii", ramp({4, 5, 6}, 1, 0, shifted));
  dir.write("shape.csv", "image,label\nimg.nii,small.nii\n");
  dir.write("affine.csv", "image,label\nimg.nii,img.nii\nimg.nii,moved.nii\n");
  dir.write("target.csv", "image,age\nimg.nii,40\nimg.nii,n/a\n");
  dir.write("empty.csv", "image,label\nimg.nii,\n");
  dir.write("noimage.csv", "path,label\nimg.nii,img.nii\n");
  Generator gen(0);

  data::CsvDataset<float> shape({.csv = dir.path / "shape.csv"});
  REQUIRE_THROWS_WITH(shape.get(0, gen), Catch::Contains("label " + (dir.path / "small.nii").string() +
                                                         " has spatial shape [4, 5, 5] but image " +
                                                         (dir.path / "img.nii").string() + " has [4, 5, 6]"));
  data::CsvDataset<float> affine({.csv = dir.path / "affine.csv"});
  CHECK(affine.get(0, gen).label.has_value());
  REQUIRE_THROWS_WITH(affine.get(1, gen), Catch::Contains("label " + (dir.path / "moved.nii").string() +
                                                          " is not on the grid of image " +
                                                          (dir.path / "img.nii").string()) &&
                                              Catch::Contains("differ by up to 0.5") && Catch::Contains("line 3"));
  data::CsvDataset<float> loose({.csv = dir.path / "affine.csv", .affine_tolerance = 0.6});
  CHECK(loose.get(1, gen).label.has_value());
  REQUIRE_THROWS_WITH(data::CsvDataset<float>({.csv = dir.path / "target.csv", .target_columns = {"age"}}),
                      Catch::Contains("line 3, column \"age\": \"n/a\" is not a finite number"));
  REQUIRE_THROWS_WITH(data::CsvDataset<float>({.csv = dir.path / "target.csv", .target_columns = {"weight"}}),
                      Catch::Contains("no column named \"weight\""));
  REQUIRE_THROWS_WITH(data::CsvDataset<float>({.csv = dir.path / "empty.csv"}),
                      Catch::Contains("line 2, column \"label\": empty label path"));
  REQUIRE_THROWS_WITH(data::CsvDataset<float>({.csv = dir.path / "noimage.csv"}),
                      Catch::Contains("no column named \"image\""));
  data::CsvDataset<float> ok({.csv = dir.path / "noimage.csv", .image_column = "path"});
  REQUIRE_THROWS_WITH(ok.get(1, gen), Catch::Contains("index 1 out of range for a dataset of 1 samples"));

  // A loader names the sample whose file failed.
  data::DataLoader loader(shape, {.batch_size = 1, .num_workers = 1});
  auto consume = [&] {
    for (auto& b : loader.epoch(0)) (void)b;
  };
  REQUIRE_THROWS_WITH(consume(), Catch::Contains("[DataLoader: sample " + (dir.path / "img.nii").string() +
                                                 ", dataset index 0, epoch 0, batch 0]"));
}

TEST_CASE("CsvDataset reads the shared volumes", "[data][dataset]") {
  for (const char* f : {"nibabel/anatomical.nii", "monai/anatomical_label.nii.gz", "nibabel/example4d.nii.gz"})
    if (!test::have_shared_file(f)) return;
  const std::string anat = shared_path("nibabel/anatomical.nii"), label = shared_path("monai/anatomical_label.nii.gz"),
                    func4d = shared_path("nibabel/example4d.nii.gz");
  TempDir dir;
  dir.write("m.csv", "image,label,score\n\"" + anat + "\",\"" + label + "\",1.5\n");
  data::CsvDataset<float> ds({.csv = dir.path / "m.csv", .target_columns = {"score"}});
  Generator gen(0);
  const Sample<float> s = ds.get(0, gen);
  REQUIRE(s.image.shape() == Shape{1, 33, 41, 25});  // SOURCES.md: 33x41x25, 2 mm, LAS
  CHECK(s.image.at({0, 10, 20, 12}) == 10872.0f);    // nibabel's get_fdata()[10, 20, 12]
  REQUIRE(s.label->shape() == Shape{1, 33, 41, 25});
  double ones = 0;
  for (float v : s.label->to_vector()) ones += v;
  CHECK(ones == 330.0);  // nibabel: the label map sums to 330
  CHECK(s.affine(0, 0) == -2.0);
  CHECK(s.affine(1, 3) == -40.0);
  CHECK(s.target == std::vector<float>{1.5f});

  dir.write("f.csv", "image\n" + func4d + "\n");
  data::CsvDataset<float> fd({.csv = dir.path / "f.csv"});
  const Sample<float> f = fd.get(0, gen);
  REQUIRE(f.image.shape() == Shape{2, 128, 96, 24});  // 128x96x24x2: two channels
  CHECK(f.image.at({0, 64, 48, 12}) == 265.0f);
  CHECK(f.image.at({1, 64, 48, 12}) == 266.0f);
}

// ---- in-memory datasets ----------------------------------------------------------------------------------

TEST_CASE("ListDataset hands out transformed copies; FunctionDataset calls its function", "[data][dataset]") {
  Sample<float> s;
  s.image = full<float>({1, 2, 2, 2}, 1.0f);
  s.label = zeros<float>({1, 2, 2, 2});
  s.target = {3};
  data::ListDataset<float> ds({s, s}, [](Sample<float>& x, Generator&) { x.image.data()[0] = 9; });
  Generator gen(0);
  const Sample<float> a = ds.get(1, gen);
  CHECK(a.image.data()[0] == 9.0f);
  CHECK(s.image.data()[0] == 1.0f);  // the stored sample is untouched
  CHECK(a.id == "#1");
  CHECK(ds.id(0) == "#0");
  REQUIRE_THROWS_WITH(ds.get(2, gen), Catch::Contains("ListDataset: index 2 out of range for a dataset of 2"));

  data::FunctionDataset<double> fn(3, [](int64_t i, Generator& g) {
    Sample<double> x;
    x.image = randn<double>({1, 1, 1, 2}, g);
    x.target = {static_cast<double>(i)};
    return x;
  });
  Generator g1(4), g2(4);
  CHECK(fn.get(2, g1).image.to_vector() == fn.get(2, g2).image.to_vector());
  CHECK(fn.get(2, g1).id == "#2");
  REQUIRE_THROWS_WITH(fn.get(-1, g1), Catch::Contains("FunctionDataset: index -1 out of range"));
  REQUIRE_THROWS_WITH(data::FunctionDataset<float>(-1, [](int64_t, Generator&) { return Sample<float>{}; }),
                      Catch::Contains("negative size"));
}

TEST_CASE("channel_first moves trailing NIfTI dims to the front", "[data][dataset]") {
  const Tensor<float> v = ramp({2, 3, 4, 2, 3}).data;  // [X, Y, Z, T, U]
  const Tensor<float> c = data::channel_first(v);
  REQUIRE(c.shape() == Shape{6, 2, 3, 4});
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t u = 0; u < 3; ++u) CHECK(c.at({t * 3 + u, 1, 2, 3}) == v.at({1, 2, 3, t, u}));
  CHECK(data::channel_first(ramp({2, 3, 4}).data).shape() == Shape{1, 2, 3, 4});
  REQUIRE_THROWS_WITH(data::channel_first(Tensor<float>({2, 3})), Catch::Contains("fewer than 3 spatial dims"));
}
