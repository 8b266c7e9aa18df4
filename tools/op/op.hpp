#pragma once
// `voxnn op`: runs one torch.nn.functional operator on named tensors, so that any op can be checked
// against PyTorch, or timed, from outside C++.
//
//   voxnn op NAME --config CONFIG.json --input IN.safetensors --output OUT.safetensors [--backward]
//   voxnn op --list
//
// NAME is torch.nn.functional's name (plus voxnn's voxel_shuffle / voxel_unshuffle), or for imaging
// operators without one the reference's function name (fft2c, vec_int, radon, ...). CONFIG holds the
// function's other arguments by their PyTorch names ({"stride": 2, "padding": "same"}); a key the
// function does not take is an error. IN holds the tensor arguments by their PyTorch names (input,
// weight, bias, running_mean, running_var, indices; `data`, `x`, `theta`, `query` where the reference
// names its first argument so); the op runs in the dtype of that first tensor (F32 or F64).
// OUT holds `out`, or `out_<name>` for further outputs (out_indices with return_indices,
// new_running_mean / new_running_var when batch_norm or instance_norm update running statistics).
// With --backward, IN also holds `gout` (the gradient of `out`) and OUT gets grad_<name> for every
// differentiable tensor argument given (grad_input, grad_weight, grad_bias).
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "voxnn/io/safetensors.hpp"

namespace voxnn::tools {

// One registered operator: its name and the arguments it takes, by PyTorch name.
struct OpSignature {
  std::string_view name;
  std::vector<std::string_view> tensors;  // tensor arguments, `input` first
  std::vector<std::string_view> config;   // every other argument
};

// The registered operators, sorted by name.
const std::vector<OpSignature>& op_signatures();
std::vector<std::string> op_names();

// Runs operator `name` with `config` (a JSON object) on `inputs`; with `backward`, also returns the
// gradients (see above). Every failure is a voxnn::Error whose message starts with "<name>: ".
io::TensorFile run_op(std::string_view name, const nlohmann::json& config, const io::TensorFile& inputs,
                      bool backward);

// The `voxnn op` subcommand: argv[0] is "op". Returns the process exit status.
int op_command(int argc, char** argv);

}  // namespace voxnn::tools
