#pragma once
// The umbrella header: everything a CPU user needs. CUDA headers are never included from here.
#include "voxnn/core/core.hpp"
#include "voxnn/ops/ops.hpp"
#include "voxnn/autograd/autograd.hpp"
#include "voxnn/nn/nn.hpp"
#include "voxnn/io/io.hpp"
#include "voxnn/data/data.hpp"
#include "voxnn/losses/losses.hpp"
#include "voxnn/metrics/metrics.hpp"
#include "voxnn/models/models.hpp"
#include "voxnn/optim/optim.hpp"
#include "voxnn/train/train.hpp"
#include "voxnn/viz/viz.hpp"
