// End-to-end tests of the voxnn tool's io subcommands (ctest io.cli_info, io.cli_slices,
// data.cli_resample, io.cli_errors): run the built binary on the shared test volumes
// (../shared/data, facts from its SOURCES.md hard-coded below) and on the committed safetensors
// fixtures, and check what it prints and writes.
//   voxnn_io_e2e GROUP PATH/TO/voxnn WORKDIR      GROUP: info | slices | resample | errors
// Exit status 0: all checks passed; 1: a check failed; 77: skipped (the shared data is missing).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "voxnn/data/orientation.hpp"
#include "voxnn/io/orientation.hpp"
#include "voxnn/data/resample.hpp"
#include "voxnn/io/nifti.hpp"
#include "voxnn/io/png.hpp"
#include "voxnn/io/safetensors.hpp"
#include "voxnn/viz/colormap.hpp"
#include "voxnn/viz/image.hpp"
#include "voxnn/viz/montage.hpp"

#ifndef VOXNN_SHARED_DATA
#error "VOXNN_SHARED_DATA must name the shared test volumes (tools/CMakeLists.txt defines it)"
#endif
#ifndef VOXNN_TEST_FIXTURES
#error "VOXNN_TEST_FIXTURES must name tests/fixtures (tools/CMakeLists.txt defines it)"
#endif

namespace fs = std::filesystem;
using nlohmann::json;
using namespace voxnn;

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Run {
  int status = -1;  // the exit status (not the raw system() value)
  std::string out, err;
};

std::string tool, workdir;

Run run(const std::string& args) {
  const std::string out = workdir + "/stdout.txt", err = workdir + "/stderr.txt";
  const std::string cmd = "\"" + tool + "\" " + args + " > \"" + out + "\" 2> \"" + err + "\"";
  const int raw = std::system(cmd.c_str());
  Run r;
  r.status = raw == -1 ? -1 : (WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw));
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// Quoted for the shell; appended piece by piece: GCC 12 warns (falsely, -Wrestrict) on "literal" + std::string.
std::string q(const fs::path& p) {
  std::string s = "\"";
  s.append(p.string()).append("\"");
  return s;
}
fs::path shared(const std::string& rel) { return fs::path(VOXNN_SHARED_DATA) / rel; }

// CI sets VOXNN_REQUIRE_SHARED_DATA=1: there a missing shared volume fails instead of skipping.
bool shared_data_required() {
  const char* v = std::getenv("VOXNN_REQUIRE_SHARED_DATA");
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}
fs::path work(const std::string& name) { return fs::path(workdir) / name; }

bool close(double a, double b, double rel = 1e-5) {
  return std::abs(a - b) <= rel * std::max({1e-6 / rel, std::abs(a), std::abs(b)});
}

std::string str(const json& j) { return j.dump(); }

// ---- voxnn info ------------------------------------------------------------------------------------

// SOURCES.md's table: every file of ../shared/data with its header facts.
struct Expected {
  const char* file;
  std::vector<int64_t> dims;
  std::vector<double> voxel;
  const char* datatype;
  const char* endianness;
  const char* orientation;
  int qform, sform;
  double slope, inter, min, max;
  int64_t nans;
  int version;
};

const std::vector<Expected> kShared = {
    {"mni152_2009a/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz", {197, 233, 189}, {1, 1, 1}, "uint8", "little",
     "RAS", 0, 2, 1, 0, 0, 255, 0, 1},
    {"mni152_2009a/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz", {197, 233, 189}, {1, 1, 1}, "uint8", "little",
     "RAS", 0, 2, 1, 0, 0, 255, 0, 1},
    {"mni152_2009a/mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz", {197, 233, 189}, {1, 1, 1}, "uint8", "little",
     "RAS", 0, 2, 1, 0, 0, 255, 0, 1},
    {"monai/anatomical_label.nii.gz", {33, 41, 25}, {2, 2, 2}, "uint16", "little", "LAS", 1, 0, 1, 0, 0, 1, 0, 1},
    {"monai/reoriented_anat_moved_label.nii.gz", {21, 26, 22}, {4, 4, 4}, "uint16", "little", "RAS", 1, 0, 1, 0, 0, 1,
     0, 1},
    {"nibabel/anatomical.nii", {33, 41, 25}, {2, 2, 2}, "int16", "big", "LAS", 2, 2, 1, 0, -610, 30393, 0, 1},
    {"nibabel/example4d.nii.gz", {128, 96, 24, 2}, {2, 2, 2.2}, "int16", "little", "LAS", 1, 1, 1, 0, 0, 1162, 0, 1},
    {"nibabel/example_nifti2.nii.gz", {32, 20, 12, 2}, {2, 2, 2.2}, "int16", "little", "LAS", 1, 1, 1, 0, 46, 757, 0,
     2},
    {"nibabel/functional.nii", {17, 21, 3, 20}, {4, 4, 8}, "int16", "little", "LAS", 2, 2, 0.075407, 3100.76, 629.826,
     5571.62, 0, 1},
    {"nibabel/reoriented_anat_moved.nii", {21, 26, 22}, {4, 4, 4}, "float32", "big", "RAS", 2, 2, 1, 0, 0, 21199.9, 0,
     1},
    {"nibabel/resampled_anat_moved.nii", {17, 21, 3}, {4, 4, 8}, "float32", "big", "LAS", 2, 2, 1, 0, 409.3, 13361,
     153, 1},
    {"nibabel/someones_anatomy.nii.gz", {57, 67, 56}, {2.75, 2.75, 2.75}, "uint8", "little", "RAS", 4, 4, 0.352459,
     6.67836, 6.67836, 96.5554, 0, 1},
    {"spm12_canonical/avg152T1.nii", {91, 109, 91}, {2, 2, 2}, "uint8", "little", "LAS", 4, 4, 0.00392157, 0, 0, 1,
     0, 1},
    {"spm12_canonical/single_subj_T1.nii", {91, 109, 91}, {2, 2, 2}, "uint8", "little", "LAS", 2, 2, 0.00390619, 0, 0,
     0.996078, 0, 1},
};

// SOURCES.md gives 6 significant digits; the tool prints the stored values.
void check_nifti_json(const Expected& e, const json& j) {
  const std::string f = e.file;
  expect(j.value("format", "") == "nifti", f + ": format nifti, got " + str(j["format"]));
  expect(j["dims"] == json(e.dims), f + ": dims " + str(j["dims"]));
  bool voxel_ok = j["voxel_size"].size() == 3;
  for (std::size_t d = 0; voxel_ok && d < 3; ++d) voxel_ok = close(j["voxel_size"][d].get<double>(), e.voxel[d]);
  expect(voxel_ok, f + ": voxel_size " + str(j["voxel_size"]));
  expect(j["datatype"] == e.datatype, f + ": datatype " + str(j["datatype"]));
  expect(j["endianness"] == e.endianness, f + ": endianness " + str(j["endianness"]));
  expect(j["orientation"] == e.orientation, f + ": orientation " + str(j["orientation"]));
  expect(j["qform_code"] == e.qform && j["sform_code"] == e.sform,
         f + ": q/sform codes " + str(j["qform_code"]) + "/" + str(j["sform_code"]));
  expect(close(j["scl_slope"].get<double>(), e.slope) && close(j["scl_inter"].get<double>(), e.inter),
         f + ": scaling " + str(j["scl_slope"]) + "/" + str(j["scl_inter"]));
  expect(j["min"].is_number() && close(j["min"].get<double>(), e.min), f + ": min " + str(j["min"]));
  expect(j["max"].is_number() && close(j["max"].get<double>(), e.max), f + ": max " + str(j["max"]));
  expect(j["nan_count"] == e.nans, f + ": nan_count " + str(j["nan_count"]));
  expect(j["version"] == e.version, f + ": version " + str(j["version"]));
  // the affine: 4 rows of 4, its columns' lengths are the voxel sizes, the last row [0, 0, 0, 1]
  const json& a = j["affine"];
  bool affine_ok = a.is_array() && a.size() == 4 && a[3] == json({0.0, 0.0, 0.0, 1.0});
  for (int c = 0; affine_ok && c < 3; ++c) {
    const double len = std::hypot(a[0][c].get<double>(), a[1][c].get<double>(), a[2][c].get<double>());
    affine_ok = close(len, e.voxel[c], 1e-4);
  }
  expect(affine_ok, f + ": affine " + str(a));
}

int info_checks() {
  Run r = run("info");
  expect(r.status == 0 && r.out.find("build type:") != std::string::npos, "`voxnn info` alone prints build info");

  for (const Expected& e : kShared) {
    if (!fs::exists(shared(e.file))) {
      expect(!shared_data_required(), shared(e.file).string() + " is missing (VOXNN_REQUIRE_SHARED_DATA is set)");
      std::printf("WARN: %s is missing; its info checks are skipped\n", shared(e.file).c_str());
      continue;
    }
    r = run("info " + q(shared(e.file)) + " --json");
    expect(r.status == 0, std::string(e.file) + ": info --json exits 0 (stderr: " + r.err + ")");
    if (r.status != 0) continue;
    json j;
    try {
      j = json::parse(r.out);  // one JSON object and nothing else
    } catch (const std::exception& ex) {
      expect(false, std::string(e.file) + ": --json output is not one JSON object: " + ex.what());
      continue;
    }
    check_nifti_json(e, j);
  }
  // Details only some files have.
  r = run("info " + q(shared("nibabel/anatomical.nii")) + " --json");
  if (r.status == 0) {
    const json j = json::parse(r.out);
    expect(j["affine"] == json({{-2.0, 0.0, 0.0, 32.0}, {0.0, 2.0, 0.0, -40.0}, {0.0, 0.0, 2.0, -16.0},
                                {0.0, 0.0, 0.0, 1.0}}),
           "anatomical.nii: affine " + str(j["affine"]));
  }
  r = run("info " + q(shared("nibabel/example4d.nii.gz")) + " --json");
  if (r.status == 0) {
    const json j = json::parse(r.out);
    expect(j["extensions"].get<int>() >= 1 && j["vox_offset"] == 416,
           "example4d: extensions and vox_offset 416, got " + str(j["extensions"]) + ", " + str(j["vox_offset"]));
  }

  // --header-only reads no voxels: a file cut short after its header still shows the header.
  std::ofstream(work("cut.nii"), std::ios::binary) << slurp(shared("nibabel/anatomical.nii")).substr(0, 5000);
  r = run("info " + q(work("cut.nii")) + " --json --header-only");
  expect(r.status == 0, "--header-only on a truncated file exits 0 (stderr: " + r.err + ")");
  if (r.status == 0) {
    const json j = json::parse(r.out);
    expect(j["dims"] == json({33, 41, 25}) && j["min"].is_null() && j["nan_count"].is_null(),
           "--header-only: dims, no range: " + r.out);
  }

  // Text mode.
  r = run("info " + q(shared("nibabel/functional.nii")));
  expect(r.status == 0, "info functional.nii (text) exits 0");
  for (const char* line : {"dims:         17 x 21 x 3 x 20", "voxel size:   4 x 4 x 8", "orientation:  LAS",
                           "datatype:     int16", "qform_code:   2 (aligned_anat)", "applied", "(scaled)"})
    expect(r.out.find(line) != std::string::npos,
           std::string("text info of functional.nii shows '") + line + "':\n" + r.out);
  r = run("info " + q(shared("nibabel/resampled_anat_moved.nii")));
  expect(r.out.find("153 NaN voxels") != std::string::npos, "text info counts 153 NaN voxels:\n" + r.out);

  // Format by magic bytes, not by name.
  fs::copy_file(shared("nibabel/anatomical.nii"), work("volume.dat"), fs::copy_options::overwrite_existing);
  fs::copy_file(fs::path(VOXNN_TEST_FIXTURES) / "io_export_stripped.safetensors", work("weights.nii"),
                fs::copy_options::overwrite_existing);
  r = run("info " + q(work("volume.dat")) + " --json");
  expect(r.status == 0 && json::parse(r.out)["format"] == "nifti", "a NIfTI file named .dat is read as NIfTI");
  r = run("info " + q(work("weights.nii")) + " --json");
  expect(r.status == 0 && json::parse(r.out)["format"] == "safetensors",
         "a safetensors file named .nii is read as safetensors");

  // safetensors: the tensor list in file order and the metadata, checked against the library's reader.
  const fs::path st = fs::path(VOXNN_TEST_FIXTURES) / "io_export_stripped.safetensors";
  r = run("info " + q(st) + " --json");
  expect(r.status == 0, "info on a safetensors file exits 0 (stderr: " + r.err + ")");
  if (r.status == 0) {
    const json j = json::parse(r.out);
    const io::TensorFile f = io::load_safetensors(st);
    expect(j["format"] == "safetensors", "format safetensors");
    expect(j["metadata"] == json({{"format", "pt"}, {"source", "checkpoint.pt"}}), "metadata " + str(j["metadata"]));
    expect(j["tensors"].size() == f.size(), "one entry per tensor");
    for (std::size_t i = 0; i < std::min(j["tensors"].size(), f.size()); ++i) {
      const json& t = j["tensors"][i];
      const io::TensorEntry& e = f.entries()[i];
      expect(t["name"] == e.name && t["dtype"] == std::string(io::dtype_name(e.dtype)) &&
                 t["shape"] == json(std::vector<int64_t>(e.shape.begin(), e.shape.end())) &&
                 t["bytes"] == e.bytes.size(),
             "tensor " + std::to_string(i) + " is " + e.name + ": got " + str(t));
    }
  }
  r = run("info " + q(st));
  for (const char* text :
       {"safetensors, 20 tensors", "source = checkpoint.pt", "conv.weight", "[2, 1, 2, 2, 2]", "BF16"})
    expect(r.status == 0 && r.out.find(text) != std::string::npos,
           std::string("text info of the safetensors file shows '") + text + "':\n" + r.out);
  return 0;
}

// ---- voxnn slices ----------------------------------------------------------------------------------

bool same_image(const io::PngImage& a, const io::PngImage& b) {
  return a.width == b.width && a.height == b.height && a.channels == b.channels && a.pixels == b.pixels;
}

std::string size_of(const io::PngImage& p) {
  return std::to_string(p.width) + "x" + std::to_string(p.height) + "x" + std::to_string(p.channels);
}

int slices_checks() {
  const fs::path anat = shared("nibabel/anatomical.nii"), label = shared("monai/anatomical_label.nii.gz");
  const io::Volume<float> volume = io::read_nifti<float>(anat);
  const io::Volume<float> mask = io::read_nifti<float>(label);

  // Plain montage: the same picture the library draws.
  Run r = run("slices " + q(anat) + " -o " + q(work("plain.png")));
  expect(r.status == 0, "slices exits 0 (stderr: " + r.err + ")");
  const io::PngImage want_plain = viz::montage(volume);
  if (r.status == 0) {
    const io::PngImage got = io::read_png(work("plain.png"));
    expect(same_image(got, want_plain), "slices writes viz::montage's picture: " + size_of(got) + " vs " +
                                            size_of(want_plain));
  }

  // With the label: same size; every pixel that changed is the gray one blended with label 1's colour.
  r = run("slices " + q(anat) + " --overlay " + q(label) + " -o " + q(work("overlay.png")));
  expect(r.status == 0, "slices --overlay exits 0 (stderr: " + r.err + ")");
  if (r.status == 0) {
    const io::PngImage got = io::read_png(work("overlay.png"));
    expect(same_image(got, viz::montage(volume, mask)), "slices --overlay writes viz::montage(volume, label)");
    expect(got.width == want_plain.width && got.height == want_plain.height && got.channels == 3,
           "overlay montage has the plain one's size: " + size_of(got));
    if (got.width == want_plain.width && got.height == want_plain.height && got.channels == 3) {
      const viz::Rgb colour = viz::label_color(1);
      int64_t changed = 0, tinted = 0;
      for (int y = 0; y < got.height; ++y)
        for (int x = 0; x < got.width; ++x) {
          const uint8_t* a = want_plain.at(x, y);
          const uint8_t* b = got.at(x, y);
          if (a[0] == b[0] && a[1] == b[1] && a[2] == b[2]) continue;
          ++changed;
          const viz::Rgb expect_rgb = viz::mix({a[0], a[1], a[2]}, colour, 0.4);
          if (viz::Rgb{b[0], b[1], b[2]} == expect_rgb) ++tinted;
        }
      // The label's 330 voxels cross the three mid planes; at this scale each voxel is several pixels.
      expect(changed > 330, "the overlay colours some pixels: " + std::to_string(changed));
      expect(tinted == changed, "every changed pixel is gray blended 40% with label 1's colour: " +
                                    std::to_string(tinted) + " of " + std::to_string(changed));
    }
  }

  // Options reach the montage: slices, window, title, scale.
  r = run("slices " + q(anat) + " -o " + q(work("options.png")) +
          " --slices 10,20,8 --window -100,20000 --title 'T1 crop' --scale 3");
  expect(r.status == 0, "slices with options exits 0 (stderr: " + r.err + ")");
  if (r.status == 0) {
    const io::PngImage got = io::read_png(work("options.png"));
    const io::PngImage want = viz::montage(
        volume, {.slices = std::array<int64_t, 3>{10, 20, 8}, .window = std::pair{-100.0, 20000.0}, .scale = 3,
                 .title = "T1 crop"});
    expect(same_image(got, want), "--slices/--window/--title/--scale: " + size_of(got) + " vs " + size_of(want));
  }

  // Side by side: the volume and a copy of itself on its own grid (no resampling), with the label.
  r = run("slices " + q(anat) + " --compare " + q(anat) + " --overlay " + q(label) + " -o " + q(work("compare.png")));
  expect(r.status == 0, "slices --compare exits 0 (stderr: " + r.err + ")");
  if (r.status == 0) {
    const io::PngImage got = io::read_png(work("compare.png"));
    const io::PngImage want = viz::comparison<float>({{"anatomical", volume}, {"anatomical", volume}}, {}, mask);
    expect(same_image(got, want), "--compare writes viz::comparison's picture: " + size_of(got) + " vs " +
                                      size_of(want));
  }
  // A label on another grid is resampled onto the volume's grid (nearest), with a note.
  r = run("slices " + q(shared("nibabel/reoriented_anat_moved.nii")) + " --overlay " + q(label) + " -o " +
          q(work("regrid.png")));
  expect(r.status == 0 && r.err.find("resampled onto it (nearest)") != std::string::npos,
         "a label on another grid is resampled, with a note (stderr: " + r.err + ")");
  return 0;
}

// ---- voxnn resample --------------------------------------------------------------------------------

bool same_values(const Tensor<float>& a, const Tensor<float>& b) {
  if (!(a.shape() == b.shape())) return false;
  const auto x = a.to_vector(), y = b.to_vector();
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i])))) return false;
  return true;
}

bool affine_close(const io::Affine& a, const io::Affine& b, double tol) {
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      if (std::abs(a(r, c) - b(r, c)) > tol) return false;
  return true;
}

int resample_checks() {
  const fs::path anat = shared("nibabel/anatomical.nii");
  const io::Volume<double> volume = io::read_nifti<double>(anat);

  // --spacing 4,4,4: MONAI Spacing's grid over the 64 x 80 x 48 mm extent: 17 x 21 x 13 voxels, LAS kept.
  Run r = run("resample " + q(anat) + " " + q(work("anat4.nii")) + " --spacing 4,4,4");
  expect(r.status == 0, "resample --spacing exits 0 (stderr: " + r.err + ")");
  if (r.status == 0) {
    io::NiftiHeader h;
    const io::Volume<float> got = io::read_nifti<float>(work("anat4.nii"), &h);
    expect(h.dims == std::vector<int64_t>{17, 21, 13}, "--spacing 4,4,4 gives 17 x 21 x 13");
    io::Affine want;
    want.m = {{{-4, 0, 0, 32}, {0, 4, 0, -40}, {0, 0, 4, -16}, {0, 0, 0, 1}}};
    expect(affine_close(got.affine, want, 1e-6), "--spacing 4,4,4 affine diag(-4, 4, 4) at (32, -40, -16)");
    expect(h.datatype == io::nifti_type::float32 && !h.has_scaling(), "trilinear output of int16 is unscaled float32");
    expect(h.qform_code == 2 && h.sform_code == 2 && h.big_endian && h.descrip == "spm - 3D normalized",
           "codes, byte order and descrip are the input's");
  }
  // Off the input's voxel centres (4 mm from 2 mm lands on them): interpolated values, NaN beyond the
  // last input voxel centre.
  r = run("resample " + q(anat) + " " + q(work("anat3.nii.gz")) + " --spacing 3,2.5,3.5");
  expect(r.status == 0, "resample --spacing 3,2.5,3.5 exits 0 (stderr: " + r.err + ")");
  if (r.status == 0) {
    const io::Volume<float> got = io::read_nifti<float>(work("anat3.nii.gz"));
    const io::Volume<double> ref = data::resample_to_spacing(volume, {3, 2.5, 3.5});
    Tensor<float> ref32(ref.data.shape());
    const auto v = ref.data.to_vector();
    for (std::size_t i = 0; i < v.size(); ++i) ref32.data()[i] = static_cast<float>(v[i]);
    expect(same_values(got.data, ref32), "values are data::resample_to_spacing's, stored as float32");
    int64_t fractional = 0;
    for (float x : got.data.to_vector()) fractional += std::isfinite(x) && x != std::round(x);
    expect(fractional > 1000, "trilinear values are interpolated: " + std::to_string(fractional) + " non-integers");
    expect(affine_close(got.affine, ref.affine, 1e-5), "--spacing 3,2.5,3.5 affine is data::spacing_grid's");
  }

  // --like functional.nii: the grid of SPM's resampled_anat_moved.nii (volume 0 of functional.nii).
  r = run("resample " + q(anat) + " " + q(work("like.nii.gz")) + " --like " + q(shared("nibabel/functional.nii")));
  expect(r.status == 0, "resample --like exits 0 (stderr: " + r.err + ")");
  if (r.status == 0) {
    const io::NiftiHeader h = io::read_nifti_header(work("like.nii.gz"));
    const io::NiftiHeader spm = io::read_nifti_header(shared("nibabel/resampled_anat_moved.nii"));
    expect(h.dims == spm.dims, "--like functional.nii: dims of resampled_anat_moved.nii (17 x 21 x 3)");
    expect(affine_close(h.affine(), spm.affine(), 1e-5), "--like functional.nii: affine of resampled_anat_moved.nii");
    const io::Volume<float> got = io::read_nifti<float>(work("like.nii.gz"));
    const io::Volume<double> ref = data::resample_like(volume, io::read_nifti<float>(shared("nibabel/functional.nii")));
    bool ok = got.data.shape() == ref.data.shape();
    const auto a = got.data.to_vector();
    const auto b = ref.data.to_vector();
    for (std::size_t i = 0; ok && i < a.size(); ++i)
      ok = a[i] == static_cast<float>(b[i]) || (std::isnan(a[i]) && std::isnan(b[i]));
    expect(ok, "--like values are data::resample_like's");
  }

  // Labels with nearest stay integer (uint16) and keep only their values.
  const fs::path label = shared("monai/anatomical_label.nii.gz");
  r = run("resample " + q(label) + " " + q(work("label4.nii.gz")) + " --spacing 4,4,4 --mode nearest");
  expect(r.status == 0, "resample --mode nearest exits 0 (stderr: " + r.err + ")");
  if (r.status == 0) {
    io::NiftiHeader h;
    const io::Volume<float> got = io::read_nifti<float>(work("label4.nii.gz"), &h);
    expect(h.datatype == io::nifti_type::uint16, "a uint16 label resampled with nearest stays uint16");
    std::set<float> values;
    for (float v : got.data.to_vector()) values.insert(v);
    expect(values == std::set<float>{0.0f, 1.0f}, "nearest keeps the label values {0, 1}");
  }

  // --reorient RAS alone: lossless; same datatype, the same voxels flipped.
  r = run("resample " + q(anat) + " " + q(work("ras.nii")) + " --reorient RAS");
  expect(r.status == 0, "resample --reorient exits 0 (stderr: " + r.err + ")");
  if (r.status == 0) {
    io::NiftiHeader h;
    const io::Volume<double> got = io::read_nifti<double>(work("ras.nii"), &h);
    expect(h.datatype == io::nifti_type::int16, "--reorient alone keeps int16");
    expect(io::axcodes_string(got.affine) == "RAS", "--reorient RAS gives RAS");
    expect(got.data.at({0, 0, 0}) == volume.data.at({32, 0, 0}) && got.data.at({5, 7, 9}) == volume.data.at({27, 7, 9}),
           "LAS -> RAS flips i only");
  }
  // --reorient then --spacing, and --datatype.
  r = run("resample " + q(anat) + " " + q(work("ras4.nii")) + " --reorient RAS --spacing 4,4,4 --datatype int16");
  expect(r.status == 0, "--reorient RAS --spacing 4,4,4 --datatype int16 exits 0 (stderr: " + r.err + ")");
  if (r.status == 0) {
    const io::NiftiHeader h = io::read_nifti_header(work("ras4.nii"));
    expect(h.datatype == io::nifti_type::int16 && io::axcodes_string(h.affine()) == "RAS" &&
               h.dims == std::vector<int64_t>{17, 21, 13},
           "reoriented, resampled and stored as int16");
  }
  return 0;
}

// ---- failures --------------------------------------------------------------------------------------

int error_checks() {
  const fs::path anat = shared("nibabel/anatomical.nii");
  const std::string raw = slurp(anat);
  std::ofstream(work("truncated_header.nii"), std::ios::binary) << raw.substr(0, 200);
  std::ofstream(work("truncated_data.nii"), std::ios::binary) << raw.substr(0, 5000);
  std::ofstream(work("text.txt")) << "not a volume\n";
  {  // a safetensors header length beyond the file
    std::string bad(8, '\0');
    bad[0] = static_cast<char>(0xF0);
    bad[1] = 0x01;
    bad += "{\"a\":{}}";
    std::ofstream(work("bad.safetensors"), std::ios::binary) << bad;
  }
  {  // valid length, hostile entry
    const std::string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1000000000],\"data_offsets\":[0,4]}}";
    std::string bytes(8, '\0');
    bytes[0] = static_cast<char>(header.size());
    std::ofstream(work("lie.safetensors"), std::ios::binary) << bytes << header << "abcd";
  }
  const std::string missing = q(work("absent.nii"));
  struct Bad {
    std::string args;
    int status;
    std::string must_contain;
  };
  const std::string out = " " + q(work("out.nii"));
  const Bad bad[] = {
      {"info " + missing, 1, "voxnn info: cannot open"},
      {"info " + q(work("text.txt")), 1, "neither NIfTI"},
      {"info " + q(work("truncated_header.nii")), 1, "neither NIfTI"},
      {"info " + q(work("truncated_data.nii")), 1, "nifti:"},
      {"info " + q(work("bad.safetensors")) + " --json", 1, "voxnn info: "},
      {"info " + q(work("lie.safetensors")), 1, "safetensors:"},
      {"info " + q(anat) + " --jsn", 2, "unknown option '--jsn'"},
      {"info " + q(anat) + " " + q(anat), 2, "one FILE at a time"},
      {"slices " + q(anat), 2, "-o OUT.png is required"},
      {"slices " + missing + " -o " + q(work("x.png")), 1, "cannot open"},
      {"slices " + q(anat) + " -o " + q(work("x.png")) + " --slices 1,2", 2, "expected 3"},
      {"slices " + q(anat) + " -o " + q(work("x.png")) + " --slices 99,0,0", 1, "voxnn slices: "},
      {"slices " + q(anat) + " -o " + q(work("x.png")) + " --window 5,1", 2, "lo < hi"},
      {"slices " + q(anat) + " -o " + q(work("x.png")) + " --overlay " + q(work("truncated_data.nii")), 1, "nifti:"},
      {"slices " + q(anat) + " -o " + q(work("x.png")) + " --frame 2", 1, "no 4th dimension"},
      {"resample " + q(anat) + out, 2, "one of --spacing, --like or --reorient is required"},
      {"resample " + q(anat) + out + " --spacing 4,4", 2, "expected 3"},
      {"resample " + q(anat) + out + " --spacing 4,0,4", 2, "positive"},
      {"resample " + q(anat) + out + " --spacing 4,4,4 --like " + q(anat), 2, "exclude each other"},
      {"resample " + q(anat) + out + " --like " + q(anat) + " --reorient RAS", 2, "no effect with --like"},
      {"resample " + q(anat) + out + " --reorient XYZ", 2, "--reorient 'XYZ'"},
      {"resample " + q(anat) + out + " --spacing 4,4,4 --mode cubic", 2, "trilinear or nearest"},
      {"resample " + q(anat) + " " + q(work("out.img")) + " --spacing 4,4,4", 2, ".nii or .nii.gz"},
      {"resample " + missing + out + " --spacing 4,4,4", 1, "cannot open"},
      {"resample " + q(work("truncated_header.nii")) + out + " --spacing 4,4,4", 1, "not a NIfTI"},
      {"resample " + q(anat) + out + " --like " + q(work("text.txt")), 1, "OTHER"},
      {"resample " + q(anat) + out + " --spacing 4,4,4 --datatype uint8", 1, "voxnn resample: "},
      {"resample " + q(anat) + out + " --spacing 4,4,4 --datatype float16", 2, "--datatype 'float16'"},
  };
  for (const Bad& c : bad) {
    const Run r = run(c.args);
    expect(r.status == c.status, "exit status " + std::to_string(c.status) + " for `" + c.args + "`, got " +
                                     std::to_string(r.status) + " (stderr: " + r.err + ")");
    expect(r.err.find(c.must_contain) != std::string::npos,
           "stderr of `" + c.args + "` contains \"" + c.must_contain + "\"; got: " + r.err);
  }
  // Help texts.
  for (const char* command : {"info", "slices", "resample"}) {
    const Run r = run(std::string(command) + " --help");
    expect(r.status == 0 && r.out.starts_with("usage: voxnn"), std::string(command) + " --help prints its usage");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: voxnn_io_e2e info|slices|resample|errors PATH/TO/voxnn WORKDIR\n");
    return 2;
  }
  const std::string group = argv[1];
  tool = argv[2];
  workdir = argv[3];
  // The files every group reads (info checks the others one by one).
  for (const char* needed : {"nibabel/anatomical.nii", "nibabel/functional.nii", "nibabel/example4d.nii.gz",
                             "nibabel/resampled_anat_moved.nii", "nibabel/reoriented_anat_moved.nii",
                             "monai/anatomical_label.nii.gz"})
    if (!fs::exists(shared(needed))) {
      std::printf("%s: %s is missing (the shared test volumes, ../shared/data); voxnn %s end-to-end test %s\n",
                  shared_data_required() ? "FAIL" : "WARN", shared(needed).c_str(), group.c_str(),
                  shared_data_required() ? "cannot run (VOXNN_REQUIRE_SHARED_DATA is set)" : "skipped");
      return shared_data_required() ? 1 : 77;
    }
  try {
    fs::create_directories(workdir);
    if (group == "info") info_checks();
    else if (group == "slices") slices_checks();
    else if (group == "resample") resample_checks();
    else if (group == "errors") error_checks();
    else {
      std::fprintf(stderr, "voxnn_io_e2e: unknown group '%s'\n", group.c_str());
      return 2;
    }
  } catch (const std::exception& e) {  // an output file that is missing or unreadable, a JSON parse error
    std::fprintf(stderr, "FAILED: %s\n", e.what());
    return 1;
  }
  if (failures == 0) std::printf("voxnn %s end-to-end: all checks passed\n", group.c_str());
  return failures == 0 ? 0 : 1;
}
