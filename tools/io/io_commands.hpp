#pragma once
// The voxnn tool's subcommands for medical volumes and weight files (tools/io/*.cpp). Each takes
// argv[0] = its own name and returns the process exit status: 0 success, 1 the work failed (a missing
// or corrupt file, an impossible request), 2 bad arguments. Usage texts: k*Usage below, also printed
// by `voxnn <command> --help`.
namespace voxnn::tools {

// `voxnn info FILE [--json]`: the header facts of a NIfTI or safetensors file (info.cpp).
int info_file_command(int argc, char** argv);
// `voxnn slices VOLUME -o out.png [...]`: a PNG montage of three orthogonal slices (slices.cpp).
int slices_command(int argc, char** argv);
// `voxnn resample IN OUT (--spacing sx,sy,sz | --like OTHER) [...]` (resample.cpp).
int resample_command(int argc, char** argv);

extern const char* const kInfoUsage;
extern const char* const kSlicesUsage;
extern const char* const kResampleUsage;

}  // namespace voxnn::tools
