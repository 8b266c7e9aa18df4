#pragma once
// Reading and writing tensors (depends on core only): safetensors, the JSON subset its header uses,
// PNG, and Volume (a tensor with its voxel-to-world affine).
#include "voxnn/io/json_lite.hpp"
#include "voxnn/io/png.hpp"
#include "voxnn/io/safetensors.hpp"
#include "voxnn/io/volume.hpp"
