// Segments a NIfTI volume with sliding windows and writes the labels on the scan's grid, with the
// scan's affine and header, so that any viewer overlays them on it (docs/io.md shows this file).
//   voxnn_segment_volume IN.nii[.gz] OUT.nii[.gz] [WEIGHTS.safetensors]
// Without weights the network keeps its seeded random initialisation: the labels are then
// meaningless, but every step of the path is exercised (the io tests run it that way).
#include <cstdio>
#include <exception>

#include <voxnn/voxnn.hpp>

using namespace voxnn;

// Any nn::Module<float>, or a function from a Tensor [B, C, X, Y, Z] to one, will do.
struct TinySeg : nn::Module<float> {
  nn::Conv3d<float> enc{this, "enc", {.in_channels = 1, .out_channels = 8, .kernel_size = 3, .padding = 1}};
  nn::Conv3d<float> head{this, "head", {.in_channels = 8, .out_channels = 2, .kernel_size = 1}};
  Var<float> forward(const Var<float>& x) override { return head(relu(enc(x))); }
};

int run(const char* in_path, const char* out_path, const char* weights_path) {
  // 1. The scan: data indexed [i, j, k] as nibabel's arrays, and its voxel-to-world affine.
  io::NiftiHeader header;
  const io::Volume<float> scan = io::read_nifti<float>(in_path, &header);
  const Tensor<float> image = data::channel_first(scan.data).unsqueeze(0);  // [1, C, X, Y, Z]

  // 2. The network, with weights exported from PyTorch by tools/export_pytorch.py.
  manual_seed(0);
  TinySeg net;
  if (weights_path) net.load_state_dict(nn::load_state_dict<float>(weights_path));
  net.eval();

  // 3. 32^3 windows, half overlapping, Gaussian-blended, 4 per forward pass, without autograd.
  const Tensor<float> logits = data::sliding_window_inference(
      image, {32, 32, 32}, /*sw_batch_size=*/4, net, {.overlap = 0.5, .mode = "gaussian"});  // [1, 2, X, Y, Z]

  // 4. Labels on the scan's grid, with its affine and header (codes, units, byte order), as uint8.
  const Tensor<uint8_t> labels = ops::cast<uint8_t>(ops::argmax(logits, 1).select(0, 0));  // [X, Y, Z]
  io::NiftiWriteOptions options = io::write_options_like(header);
  options.datatype = io::nifti_type::uint8;
  options.scl_slope = 1;
  options.scl_inter = 0;
  io::write_nifti(out_path, io::Volume<uint8_t>{labels, scan.affine}, options);

  // The result lies exactly where the scan does.
  const io::NiftiHeader written = io::read_nifti_header(out_path);
  const auto shape = scan.spatial_shape();
  const bool same_grid = written.dims.size() == 3 && written.dims[0] == shape[0] && written.dims[1] == shape[1] &&
                         written.dims[2] == shape[2] && written.affine() == header.affine();
  std::printf("%s: %lld x %lld x %lld voxels, %s, %s; labels written to %s (%s grid)\n", in_path,
              static_cast<long long>(shape[0]), static_cast<long long>(shape[1]), static_cast<long long>(shape[2]),
              io::axcodes_string(scan.affine).c_str(), weights_path ? "trained weights" : "random weights",
              out_path, same_grid ? "same" : "DIFFERENT");
  return same_grid ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s IN.nii[.gz] OUT.nii[.gz] [WEIGHTS.safetensors]\n", argv[0]);
    return 2;
  }
  try {
    return run(argv[1], argv[2], argc == 4 ? argv[3] : nullptr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
