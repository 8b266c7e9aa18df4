// `voxnn resample IN OUT (--spacing sx,sy,sz | --like OTHER | --reorient CODES) [...]`: a NIfTI volume
// resampled to a voxel size or onto another volume's grid, or reoriented (data/resample.hpp,
// data/orientation.hpp).
#include <cmath>
#include <cstdio>
#include <string>

#include "voxnn/data/orientation.hpp"
#include "voxnn/data/resample.hpp"
#include "voxnn/io/nifti.hpp"

#include "io/common.hpp"
#include "io/io_commands.hpp"

namespace voxnn::tools {

const char* const kResampleUsage =
    "usage: voxnn resample IN OUT (--spacing sx,sy,sz | --like OTHER) [--mode trilinear|nearest]\n"
    "                      [--reorient RAS] [--padding nan|zeros|border] [--fill V] [--datatype NAME]\n"
    "       voxnn resample IN OUT --reorient CODES\n"
    "\n"
    "Resamples the NIfTI volume IN (.nii or .nii.gz) and writes OUT (.nii, or .nii.gz to compress).\n"
    "  --spacing sx,sy,sz  new voxel size in mm along IN's voxel axes; orientation and world extent are\n"
    "                      kept (MONAI Spacing's grid: shape = round(extent / spacing) + 1 per axis)\n"
    "  --like OTHER        OTHER's grid: its spatial shape and affine (OTHER's voxels are not read)\n"
    "  --reorient CODES    first flip/permute IN's axes to the orientation CODES (RAS, LPS, LAS, ...):\n"
    "                      lossless, every voxel keeps its world position; alone it is the whole job;\n"
    "                      with --spacing the spacing then refers to the new axes. Not with --like.\n"
    "  --mode MODE         trilinear (default; images) or nearest (label maps: values are copied)\n"
    "  --padding P         outside IN's field of view: nan, zeros, border (edge values extended) or\n"
    "                      value (--fill). Default: nan for a floating output, zeros for an integer one.\n"
    "  --fill V            the value outside the field of view (implies --padding value)\n"
    "  --datatype NAME     write this NIfTI datatype: uint8 int8 int16 uint16 int32 uint32 int64 uint64\n"
    "                      float32 float64 (integers round to nearest; a value that does not fit is an\n"
    "                      error), or 'same' for IN's datatype and scaling.\n"
    "Output datatype without --datatype:\n"
    "  values copied (--mode nearest, or --reorient alone): IN's datatype and scaling, so a label map\n"
    "    stays integer and unchanged voxels keep their exact stored values;\n"
    "  values interpolated (trilinear): float32, or float64 when IN is float64; no scaling (the values\n"
    "    written are already scaled).\n"
    "Header: IN's version, byte order, q/sform codes (an input with neither gets sform_code 2), units,\n"
    "descrip, intent and extensions; the affine is the new grid's (written to sform and qform). Dims after\n"
    "the third (time) are resampled volume by volume.\n"
    "Exit status: 0; 1 when a file is missing or corrupt or a value does not fit; 2 for bad arguments.\n";

namespace {

namespace cli = io_cli;

std::optional<int16_t> datatype_code(std::string_view name) {
  for (int16_t code : {io::nifti_type::uint8, io::nifti_type::int8, io::nifti_type::int16, io::nifti_type::uint16,
                       io::nifti_type::int32, io::nifti_type::uint32, io::nifti_type::int64, io::nifti_type::uint64,
                       io::nifti_type::float32, io::nifti_type::float64})
    if (io::nifti_datatype_name(code) == name) return code;
  return std::nullopt;
}

bool is_float_type(int16_t code) { return code == io::nifti_type::float32 || code == io::nifti_type::float64; }

bool nifti_path(const std::string& p) { return p.ends_with(".nii") || p.ends_with(".nii.gz"); }

int run(int argc, char** argv) {
  const cli::Args args(argc, argv, {"--spacing", "--like", "--mode", "--reorient", "--padding", "--fill", "--datatype"},
                       {});
  if (args.positional.size() != 2)
    throw cli::UsageError("expected IN and OUT, got " + std::to_string(args.positional.size()) + " file name(s)");
  const std::string in_path = args.positional[0], out_path = args.positional[1];
  const auto spacing_text = args.value("--spacing"), like = args.value("--like"), reorient = args.value("--reorient");
  if (spacing_text && like) throw cli::UsageError("--spacing and --like exclude each other");
  if (!spacing_text && !like && !reorient) throw cli::UsageError("one of --spacing, --like or --reorient is required");
  if (like && reorient)
    throw cli::UsageError("--reorient has no effect with --like: the output takes OTHER's grid");
  if (!nifti_path(out_path)) throw cli::UsageError("OUT '" + out_path + "' must end in .nii or .nii.gz");

  data::ResampleOptions ro;
  const std::string mode = args.value("--mode").value_or("trilinear");
  if (mode != "trilinear" && mode != "nearest")
    throw cli::UsageError("--mode is trilinear or nearest, not '" + mode + "'");
  ro.mode = mode;
  std::optional<std::string> padding = args.value("--padding");
  if (padding && *padding != "nan" && *padding != "zeros" && *padding != "border" && *padding != "value")
    throw cli::UsageError("--padding is nan, zeros, border or value, not '" + *padding + "'");
  if (const auto fill = args.value("--fill")) {
    if (padding && *padding != "value") throw cli::UsageError("--fill goes with --padding value (or alone)");
    ro.fill_value = cli::parse_numbers("--fill", *fill, 1)[0];
    padding = "value";
  }
  std::array<double, 3> spacing{};
  if (spacing_text) {
    const auto v = cli::parse_numbers("--spacing", *spacing_text, 3);
    for (double s : v)
      if (!(s > 0)) throw cli::UsageError("--spacing needs positive voxel sizes");
    spacing = {v[0], v[1], v[2]};
  }
  std::optional<int16_t> forced;
  bool same = false;
  if (const auto d = args.value("--datatype")) {
    same = *d == "same";
    if (!same && !(forced = datatype_code(*d)))
      throw cli::UsageError("--datatype '" + *d + "' is not one of uint8 int8 int16 uint16 int32 uint32 int64 "
                            "uint64 float32 float64 same");
  }

  if (reorient) {
    try {  // checks the codes before any file is read
      (void)data::orientation_transform(io::Affine::identity(), {1, 1, 1}, *reorient);
    } catch (const std::exception& e) {
      throw cli::UsageError("--reorient '" + *reorient + "': " + e.what());
    }
  }

  cli::require_nifti("IN", in_path);
  io::NiftiHeader header;
  io::Volume<double> volume = io::read_nifti<double>(in_path, &header);
  if (reorient) volume = data::reorient(volume, *reorient);

  // Values are copied (exact) unless a trilinear resampling interpolates them.
  const bool interpolated = (spacing_text || like) && mode == "trilinear";
  io::NiftiWriteOptions wo = io::write_options_like(header);
  if (forced) {
    wo.datatype = *forced;
    wo.scl_slope = 1;
    wo.scl_inter = 0;
  } else if (interpolated && !same) {
    wo.datatype = header.datatype == io::nifti_type::float64 ? io::nifti_type::float64 : io::nifti_type::float32;
    wo.scl_slope = 1;
    wo.scl_inter = 0;
  }
  ro.padding = padding.value_or(is_float_type(*wo.datatype) ? "nan" : "zeros");
  if (wo.qform_code <= 0 && wo.sform_code <= 0) wo.sform_code = 2;  // keep the affine this grid was read with

  if (like) {
    cli::require_nifti("OTHER", *like);
    const io::NiftiHeader other = io::read_nifti_header(*like);
    data::Grid grid;
    for (int d = 0; d < 3; ++d) grid.shape[d] = d < static_cast<int>(other.dims.size()) ? other.dims[d] : 1;
    grid.affine = other.affine();
    volume = data::resample_to_grid(volume, grid, ro);
  } else if (spacing_text) {
    volume = data::resample_to_spacing(volume, spacing, ro);
  }
  try {
    io::write_nifti(out_path, volume, wo);
  } catch (const std::exception& e) {
    if (is_float_type(*wo.datatype)) throw;
    throw std::runtime_error(std::string(e.what()) + "\n  the output keeps the integer datatype " +
                             std::string(io::nifti_datatype_name(*wo.datatype)) +
                             (wo.scl_slope != 1 || wo.scl_inter != 0 ? " with IN's scaling" : "") +
                             ", and voxels outside IN's field of view are " +
                             (ro.padding == "value" ? std::to_string(ro.fill_value) : ro.padding) +
                             ": try --datatype float32, --padding border or --fill V");
  }
  return 0;
}

}  // namespace

int resample_command(int argc, char** argv) {
  return cli::run_command("resample", kResampleUsage, argc, argv, [&] { return run(argc, argv); });
}

}  // namespace voxnn::tools
