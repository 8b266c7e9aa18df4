#pragma once
// Reading and writing (depends on core only): NIfTI-1/2 volumes (.nii, .nii.gz), safetensors and the
// JSON subset its header uses, PNG, CSV, and Volume (a tensor with its voxel-to-world affine).
#include "voxnn/io/csv.hpp"
#include "voxnn/io/gzip.hpp"
#include "voxnn/io/json_lite.hpp"
#include "voxnn/io/nifti.hpp"
#include "voxnn/io/nifti_header.hpp"
#include "voxnn/io/orientation.hpp"
#include "voxnn/io/png.hpp"
#include "voxnn/io/safetensors.hpp"
#include "voxnn/io/volume.hpp"
