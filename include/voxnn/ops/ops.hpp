#pragma once
// All tensor-level ops (no autograd).
#include "voxnn/ops/conv.hpp"
#include "voxnn/ops/elementwise.hpp"
#include "voxnn/ops/indexing.hpp"
#include "voxnn/ops/interpolate.hpp"
#include "voxnn/ops/join.hpp"
#include "voxnn/ops/linalg.hpp"
#include "voxnn/ops/norm.hpp"
#include "voxnn/ops/pad.hpp"
#include "voxnn/ops/pool.hpp"
#include "voxnn/ops/reduce.hpp"
#include "voxnn/ops/shuffle.hpp"
#include "voxnn/ops/window.hpp"
