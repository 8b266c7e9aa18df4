// `voxnn slices VOLUME -o out.png [...]`: a PNG of the three orthogonal planes through a volume,
// optionally with a label map on top or beside other volumes (viz/montage.hpp does the drawing).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "voxnn/data/resample.hpp"
#include "voxnn/io/nifti.hpp"
#include "voxnn/io/png.hpp"
#include "voxnn/viz/montage.hpp"

#include "io/common.hpp"
#include "io/io_commands.hpp"

namespace voxnn::tools {

const char* const kSlicesUsage =
    "usage: voxnn slices VOLUME -o OUT.png [--overlay LABEL] [--slices i,j,k] [--window lo,hi]\n"
    "                    [--compare B.nii ...] [options]\n"
    "\n"
    "Writes a PNG of the sagittal, coronal and axial planes through voxel (i, j, k) of VOLUME (NIfTI,\n"
    ".nii or .nii.gz), in world orientation (neurological: the subject's left on the left), labelled\n"
    "with direction letters and plane coordinates, voxels at their physical aspect ratio.\n"
    "  -o, --output OUT.png   the picture to write (required)\n"
    "  --overlay LABEL        a label map blended on top: 0 is background, every other (rounded) value\n"
    "                         gets its own colour. A label on another grid is resampled onto VOLUME's\n"
    "                         grid first (nearest neighbour; outside its field of view: background).\n"
    "  --slices i,j,k         voxel indices where the planes cross (default: the middle voxel, n/2)\n"
    "  --window lo,hi         intensity window mapped to black..white (default: percentiles)\n"
    "  --percentiles lo,hi    percentiles (0..100) that make the window (default: 0.5,99.5)\n"
    "  --compare B.nii ...    also show these volumes, one column each beside VOLUME, named by file;\n"
    "                         each column gets its own window unless --window or --shared-window.\n"
    "                         A volume on another grid is resampled onto VOLUME's (trilinear).\n"
    "  --shared-window        one window from all columns' voxels together\n"
    "  --frame N              which 3D volume of a 4D file to show (default 0)\n"
    "  --alpha A              overlay opacity, 0..1 (default 0.4)\n"
    "  --outline              draw label boundaries only\n"
    "  --scale N              display pixels per smallest voxel spacing (default: fit 256 pixels)\n"
    "  --title TEXT           a title line above the picture\n"
    "  --colormap NAME        gray (default) or viridis\n"
    "  --radiological         the subject's right on the screen's left\n"
    "  --no-annotate          no direction letters or coordinates\n"
    "Exit status: 0; 1 when a file is missing, corrupt or does not fit; 2 for bad arguments.\n";

namespace {

namespace cli = io_cli;

std::string display_name(const std::filesystem::path& p) {
  std::string name = p.filename().string();
  for (const char* suffix : {".nii.gz", ".nii"})
    if (name.size() > std::strlen(suffix) && name.ends_with(suffix))
      return name.substr(0, name.size() - std::strlen(suffix));
  return name;
}

io::Volume<float> load(std::string_view role, const std::filesystem::path& path, int64_t frame) {
  cli::require_nifti(role, path);
  io::Volume<float> v = io::read_nifti<float>(path);
  if (frame != 0) {
    if (v.data.dim() < 4 || frame >= v.data.size(3))
      throw std::runtime_error("--frame " + std::to_string(frame) + ": " + path.string() + " has " +
                               (v.data.dim() < 4 ? std::string("no 4th dimension") :
                                                   std::to_string(v.data.size(3)) + " frames"));
    v.data = v.data.select(3, frame).contiguous();
  }
  return v;
}

bool same_grid(const io::Volume<float>& a, const io::Volume<float>& b, double tol) {
  if (a.spatial_shape() != b.spatial_shape()) return false;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      if (std::abs(a.affine(r, c) - b.affine(r, c)) > tol) return false;
  return true;
}

int64_t to_index(double v) {
  if (v < 0 || v != std::floor(v)) throw cli::UsageError("--slices takes non-negative integer voxel indices");
  return static_cast<int64_t>(v);
}

int run(int argc, char** argv) {
  const cli::Args args(argc, argv,
                       {"-o", "--output", "--overlay", "--slices", "--window", "--percentiles", "--frame", "--alpha",
                        "--scale", "--title", "--colormap"},
                       {"--outline", "--radiological", "--no-annotate", "--shared-window"}, {"--compare"});
  if (args.positional.size() != 1)
    throw cli::UsageError(args.positional.empty() ? "no VOLUME given" : "one VOLUME only (use --compare for more)");
  auto output = args.value("--output");
  if (const auto o = args.value("-o")) output = o;
  if (!output) throw cli::UsageError("-o OUT.png is required");

  viz::MontageOptions o;
  if (const auto s = args.value("--slices")) {
    const auto v = cli::parse_numbers("--slices", *s, 3);
    o.slices = std::array<int64_t, 3>{to_index(v[0]), to_index(v[1]), to_index(v[2])};
  }
  if (const auto s = args.value("--window")) {
    const auto v = cli::parse_numbers("--window", *s, 2);
    if (!(v[0] < v[1])) throw cli::UsageError("--window lo,hi needs lo < hi");
    o.window = std::pair{v[0], v[1]};
  }
  if (const auto s = args.value("--percentiles")) {
    const auto v = cli::parse_numbers("--percentiles", *s, 2);
    if (!(0 <= v[0] && v[0] < v[1] && v[1] <= 100))
      throw cli::UsageError("--percentiles lo,hi needs 0 <= lo < hi <= 100");
    o.lower_percentile = v[0];
    o.upper_percentile = v[1];
  }
  if (const auto s = args.value("--alpha")) {
    const double a = cli::parse_numbers("--alpha", *s, 1)[0];
    if (a < 0 || a > 1) throw cli::UsageError("--alpha must lie in 0..1");
    o.overlay_alpha = a;
  }
  if (const auto s = args.value("--scale")) {
    const double v = cli::parse_numbers("--scale", *s, 1)[0];
    if (v < 1 || v > 64 || v != std::floor(v)) throw cli::UsageError("--scale takes an integer in 1..64");
    o.scale = static_cast<int>(v);
  }
  int64_t frame = 0;
  if (const auto s = args.value("--frame")) {
    const double v = cli::parse_numbers("--frame", *s, 1)[0];
    if (v < 0 || v != std::floor(v)) throw cli::UsageError("--frame takes a non-negative integer");
    frame = static_cast<int64_t>(v);
  }
  if (const auto s = args.value("--colormap")) {
    if (*s != "gray" && *s != "viridis") throw cli::UsageError("--colormap is gray or viridis, not '" + *s + "'");
    o.colormap = *s;
  }
  if (const auto s = args.value("--title")) o.title = *s;
  o.outline = args.flag("--outline");
  o.radiological = args.flag("--radiological");
  o.annotate = !args.flag("--no-annotate");
  o.shared_window = args.flag("--shared-window");

  const std::filesystem::path volume_path = args.positional[0];
  const io::Volume<float> volume = load("VOLUME", volume_path, frame);

  std::optional<io::Volume<float>> label;
  if (const auto path = args.value("--overlay")) {
    io::Volume<float> l = load("LABEL", *path, frame);
    if (!same_grid(l, volume, 0.01)) {
      std::fprintf(stderr, "voxnn slices: note: %s is not on the grid of %s; resampled onto it (nearest)\n",
                   path->c_str(), volume_path.string().c_str());
      l = data::resample_like(l, volume, {.mode = "nearest", .padding = "zeros"});
    }
    label = std::move(l);
  }

  io::PngImage picture;
  const std::vector<std::string> others = args.values("--compare");
  if (others.empty()) {
    picture = label ? viz::montage(volume, *label, o) : viz::montage(volume, o);
  } else {
    std::vector<std::pair<std::string, io::Volume<float>>> columns;
    columns.emplace_back(display_name(volume_path), volume);
    for (const std::string& p : others) {
      io::Volume<float> v = load("--compare volume", p, frame);
      if (!same_grid(v, volume, 1e-4)) {
        std::fprintf(stderr, "voxnn slices: note: %s is not on the grid of %s; resampled onto it (trilinear)\n",
                     p.c_str(), volume_path.string().c_str());
        v = data::resample_like(v, volume);
      }
      columns.emplace_back(display_name(p), std::move(v));
    }
    picture = viz::comparison(columns, o, label);
  }
  io::write_png(*output, picture);
  return 0;
}

}  // namespace

int slices_command(int argc, char** argv) {
  return cli::run_command("slices", kSlicesUsage, argc, argv, [&] { return run(argc, argv); });
}

}  // namespace voxnn::tools
