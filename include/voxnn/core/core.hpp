#pragma once
// The tensor core: shapes, storage, Tensor, factories and random numbers.
#include "voxnn/core/allocator.hpp"
#include "voxnn/core/device.hpp"
#include "voxnn/core/error.hpp"
#include "voxnn/core/expanding_array.hpp"
#include "voxnn/core/factory.hpp"
#include "voxnn/core/parallel.hpp"
#include "voxnn/core/random.hpp"
#include "voxnn/core/shape.hpp"
#include "voxnn/core/storage.hpp"
#include "voxnn/core/tensor.hpp"
