#pragma once
// `voxnn run`: runs a model of the zoo, in eval mode and without gradients, on weights exported from
// its reference implementation, so that a PyTorch user can check voxnn against the model they know.
//
//   voxnn run MODEL --config CONFIG.json --weights W.safetensors --input IN.safetensors --output OUT.safetensors
//   voxnn run --list
//
// CONFIG holds the reference constructor's keyword arguments verbatim, by their reference names:
// every keyword of the reference is accepted, null (or absence) means the reference's default, and
// a value voxnn does not support is an error naming the keyword. W is the reference's state_dict
// (tools/export_pytorch.py writes one); derived buffers such as voxelmorph's `*.grid` may be absent.
// IN holds the forward's tensor arguments under the reference forward's parameter names; the model
// runs in the dtype of the first of them (F64 runs in double, any other floating dtype in float).
// OUT holds the outputs under the names `voxnn run --list` prints.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "voxnn/io/safetensors.hpp"

namespace voxnn::tools {

// One runnable model: its name, where the reference lives, and its arguments by reference name.
struct ModelSignature {
  std::string_view name;                   // "vxm_dense"
  std::string_view reference;              // "voxelmorph/voxelmorph@ca28315 voxelmorph/torch/networks.py:VxmDense"
  std::vector<std::string_view> kwargs;    // every keyword argument of the reference constructor
  std::vector<std::string_view> inputs;    // the forward's tensor parameters, the first one required
  std::vector<std::string_view> outputs;   // the names OUT gets
};

// The registered models, sorted by name.
const std::vector<ModelSignature>& model_signatures();

// Builds model `name` from `config` (a JSON object, or null for all defaults), loads `weights` and
// runs it on `inputs`. Every failure is a voxnn::Error whose message starts with "<name>: ".
io::TensorFile run_model(std::string_view name, const nlohmann::json& config, const io::TensorFile& weights,
                         const io::TensorFile& inputs);

// The `voxnn run` subcommand: argv[0] is "run". Returns the process exit status.
int run_command(int argc, char** argv);

}  // namespace voxnn::tools
