// Writes the NIfTI fuzz seeds into a folder at test time, so that no volume file is committed:
// valid files made by voxnn's own writer (NIfTI-1 and -2, both byte orders, several datatypes,
// scaling, an extension, 4-D and 5-D, gzip) and hostile ones made from them by editing header bytes
// (the offsets are NIfTI-1's: dim at 40, datatype 70, bitpix 72, vox_offset 108, magic 344).
//   make_nifti_seeds OUT_DIR
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <voxnn/core/factory.hpp>
#include <voxnn/io/gzip.hpp>
#include <voxnn/io/nifti.hpp>

using namespace voxnn;
using Bytes = std::vector<uint8_t>;

namespace {

std::filesystem::path out_dir;

void save(const std::string& name, const Bytes& b) {
  std::ofstream f(out_dir / name, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

template <class V>
Bytes poke(Bytes b, std::size_t offset, V value) {
  std::memcpy(b.data() + offset, &value, sizeof value);
  return b;
}

template <class T>
io::Volume<T> volume(const Shape& shape) {
  const int64_t n = shape.numel();
  std::vector<T> values(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = static_cast<T>((i * 37) % 23) - T(7 * (i % 2));
  io::Affine a = io::Affine::from_spacing({2, 2.5, 3}, {-10, 4, 7});
  a(0, 1) = 0.3;  // oblique: the sform and the closest-rotation qform differ
  return {from_vector<T>(values, shape), a};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_nifti_seeds OUT_DIR\n");
    return 2;
  }
  out_dir = argv[1];
  std::filesystem::create_directories(out_dir);
  const auto f32 = volume<float>({3, 4, 2});
  const auto f64 = volume<double>({2, 3, 2, 2});
  const Bytes v1 = io::serialize_nifti(f32);
  save("n1_f32.nii", v1);
  save("n2_f64_4d.nii", io::serialize_nifti(f64, {.version = 2}));
  save("n1_i16_scaled_big.nii", io::serialize_nifti(f32, {.datatype = io::nifti_type::int16, .scl_slope = 0.5,
                                                          .scl_inter = 1, .big_endian = true}));
  save("n2_u8_big.nii", io::serialize_nifti(volume<uint8_t>({2, 2, 3}), {.version = 2, .big_endian = true}));
  save("n1_i64_5d.nii", io::serialize_nifti(volume<int64_t>({2, 2, 1, 1, 2})));
  save("n1_u16.nii", io::serialize_nifti(f32, {.datatype = io::nifti_type::uint16, .scl_inter = -20}));
  const Bytes with_ext = io::serialize_nifti(f32, {.extensions = {{6, {'s', 'e', 'e', 'd'}}}});
  save("n1_extension.nii", with_ext);
  save("n1_f32.nii.gz", io::gzip_compress(v1, 1));
  save("n2_ext_big.nii.gz", io::gzip_compress(io::serialize_nifti(f32, {.version = 2, .extensions = {{4, {1, 2, 3}}},
                                                                        .big_endian = true}), 6));

  save("hostile_empty.nii", {});
  save("hostile_truncated_header.nii", Bytes(v1.begin(), v1.begin() + 200));
  save("hostile_truncated_data.nii", Bytes(v1.begin(), v1.end() - 5));
  save("hostile_bad_magic.nii", poke(v1, 344, 'x'));
  save("hostile_dim0_zero.nii", poke(v1, 40, int16_t{0}));
  save("hostile_dim0_eight.nii", poke(v1, 40, int16_t{8}));
  save("hostile_dims_negative.nii", poke(v1, 42, int16_t{-3}));
  save("hostile_dims_huge.nii", poke(poke(poke(v1, 42, int16_t{32767}), 44, int16_t{32767}), 46, int16_t{32767}));
  save("hostile_datatype_unknown.nii", poke(v1, 70, int16_t{999}));
  save("hostile_datatype_complex64.nii", poke(poke(v1, 70, int16_t{32}), 72, int16_t{64}));
  save("hostile_bitpix_mismatch.nii", poke(v1, 72, int16_t{8}));
  save("hostile_vox_offset_in_header.nii", poke(v1, 108, 12.0f));
  save("hostile_vox_offset_beyond.nii", poke(v1, 108, 1e9f));
  save("hostile_vox_offset_nan.nii", poke(v1, 108, std::numeric_limits<float>::quiet_NaN()));
  save("hostile_ext_esize_negative.nii", poke(with_ext, 352, int32_t{-16}));
  save("hostile_ext_esize_past_offset.nii", poke(with_ext, 352, int32_t{4096}));
  save("hostile_scl_inter_inf.nii", poke(poke(v1, 112, 2.0f), 116, std::numeric_limits<float>::infinity()));
  const Bytes gz = io::gzip_compress(v1, 1);
  save("hostile_gz_truncated.nii.gz", Bytes(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2)));
  save("hostile_gz_bad_crc.nii.gz", poke(gz, gz.size() - 8, uint32_t{0xdeadbeef}));
  // A small stream whose header declares far more voxels than it holds: must fail before allocating.
  save("hostile_gz_bomb_declared.nii.gz",
       io::gzip_compress(poke(poke(poke(v1, 42, int16_t{30000}), 44, int16_t{30000}), 46, int16_t{30000}), 9));
  return 0;
}
