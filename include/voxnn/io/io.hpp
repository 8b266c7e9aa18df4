#pragma once
// Reading and writing tensors (depends on core only): safetensors, and the JSON subset its header uses.
#include "voxnn/io/json_lite.hpp"
#include "voxnn/io/safetensors.hpp"
