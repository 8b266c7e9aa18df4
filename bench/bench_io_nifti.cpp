// NIfTI reading and writing (include/voxnn/io/nifti.hpp) on the shared test volumes:
//
//   nifti_read_mni152_t1_gz_f64   read_nifti<double> of the MNI152 2009a T1, 197x233x189 uint8, .nii.gz
//                                 (nibabel: nib.load(p).get_fdata(), float64)
//   nifti_read_mni152_t1_gz_f32   read_nifti<float>, same file (nibabel: get_fdata(dtype=np.float32))
//   nifti_read_avg152_nii_f64     read_nifti<double> of SPM's avg152T1.nii, 91x109x91 uint8 with
//                                 scl_slope, uncompressed
//   nifti_header_mni152_t1_gz     read_nifti_header of the T1 (nibabel: nib.load(p).header)
//   nifti_write_mni152_t1_gz_l1   write_nifti of the T1 as uint8 to a .nii.gz at gzip level 1 (the
//                                 default, as nibabel's nib.save)
//   nifti_write_mni152_t1_gz_l6   the same at gzip level 6
//
// The volumes are read from VOXNN_SHARED_DATA (default /work/shared/data); a missing file skips its
// benchmark. PyTorch's side: bench/pytorch_io_nifti.py (nibabel). Protocol: bench/protocol.hpp.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "voxnn/io/nifti.hpp"

#include "protocol.hpp"

#ifndef VOXNN_SHARED_DATA
#define VOXNN_SHARED_DATA "/work/shared/data"
#endif

namespace {

namespace io = voxnn::io;

std::string shared(const char* rel) {
  const char* env = std::getenv("VOXNN_SHARED_DATA");
  return std::string(env ? env : VOXNN_SHARED_DATA) + "/" + rel;
}

const char* kT1 = "mni152_2009a/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz";
const char* kAvg = "spm12_canonical/avg152T1.nii";

bool present(benchmark::State& state, const std::string& path) {
  if (std::filesystem::exists(path)) return true;
  state.SkipWithError(("missing " + path).c_str());
  return false;
}

template <class T>
void read_case(benchmark::State& state, const char* rel) {
  const std::string path = shared(rel);
  if (!present(state, path)) return;
  int64_t voxels = 0;
  for (auto _ : state) {
    io::Volume<T> v = io::read_nifti<T>(path);
    voxels = v.data.numel();
    benchmark::DoNotOptimize(v.data.data());
  }
  state.counters["Mvoxel/s"] = benchmark::Counter(static_cast<double>(voxels) * 1e-6, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["nthreads"] = voxnn::num_threads();
}

void header_case(benchmark::State& state) {
  const std::string path = shared(kT1);
  if (!present(state, path)) return;
  for (auto _ : state) {
    io::NiftiHeader h = io::read_nifti_header(path);
    benchmark::DoNotOptimize(h.dims.data());
  }
}

void write_case(benchmark::State& state, int level) {
  const std::string path = shared(kT1);
  if (!present(state, path)) return;
  io::NiftiHeader h;
  const io::Volume<uint8_t> v = io::read_nifti<uint8_t>(path, &h);
  io::NiftiWriteOptions o = io::write_options_like(h);
  o.gzip_level = level;
  const auto out = std::filesystem::temp_directory_path() / "voxnn_bench_io_nifti.nii.gz";
  for (auto _ : state) io::write_nifti(out, v, o);
  std::error_code ec;
  std::filesystem::remove(out, ec);
  state.counters["nthreads"] = voxnn::num_threads();
}

void register_all() {
  auto reg = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  reg("nifti_read_mni152_t1_gz_f64", [](benchmark::State& s) { read_case<double>(s, kT1); });
  reg("nifti_read_mni152_t1_gz_f32", [](benchmark::State& s) { read_case<float>(s, kT1); });
  reg("nifti_read_avg152_nii_f64", [](benchmark::State& s) { read_case<double>(s, kAvg); });
  reg("nifti_header_mni152_t1_gz", header_case);
  reg("nifti_write_mni152_t1_gz_l6", [](benchmark::State& s) { write_case(s, 6); });
  reg("nifti_write_mni152_t1_gz_l1", [](benchmark::State& s) { write_case(s, 1); });
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return voxnn::bench::run_main(argc, argv);
}
